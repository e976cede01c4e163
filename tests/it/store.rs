//! The embedded store against a real sluice process: acknowledged points reach Parquet through
//! kill -9 and restart, embedded mode no longer fills the WAL, and a field type conflict across
//! requests is refused with InfluxDB's words in both dialects.
//!
//! Points are checked in the Parquet files themselves (`sluice::store::read_parquet`), after
//! sluice flushed everything (`sluice_store_cursor_lag_records` 0) and stopped.

use std::collections::BTreeSet;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, Int32Type, TimestampNanosecondType};

use crate::support::http::{self, Body, Request};
use crate::support::sluice::{Sluice, SluiceConfig};

const TOKEN: &str = "store-it-token";

fn config(wal: &[(&str, toml::Value)], flush_interval: &str) -> String {
    let mut c = SluiceConfig::new().simple_tenant("acme", TOKEN, &["telegraf"]);
    for (k, v) in wal {
        c = c.wal(k, v.clone());
    }
    format!(
        "{}\n[store]\nflush_interval = \"{flush_interval}\"\n",
        c.to_toml()
    )
}

fn write(s: &Sluice, v2: bool, body: &str) -> http::Response {
    let url = if v2 {
        format!(
            "{}/api/v2/write?org=acme&bucket=telegraf&precision=ns",
            s.url()
        )
    } else {
        format!("{}/write?db=telegraf&precision=ns", s.url())
    };
    Request::new("POST", &url)
        .header("Authorization", &format!("Token {TOKEN}"))
        .body(Body::Fixed(body.as_bytes().to_vec()))
        .send()
        .expect("write")
}

/// The value of an unlabelled sample on `/metrics`.
fn metric(s: &Sluice, name: &str) -> Option<f64> {
    let text = http::get(&format!("{}/metrics", s.admin_url()))
        .ok()?
        .text();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Waits until the store has everything it applied in Parquet files.
fn wait_flushed(s: &Sluice) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let lag = metric(s, "sluice_store_cursor_lag_records");
        let buffered = metric(s, "sluice_store_buffered_rows");
        if lag == Some(0.0) && buffered == Some(0.0) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "store never flushed (lag {lag:?}, buffered {buffered:?}):\n{}",
            s.stderr()
        );
        thread::sleep(Duration::from_millis(100));
    }
}

/// Every (host, time, value) in the Parquet files of measurement `cpu`.
fn parquet_points(store: &Path) -> BTreeSet<(String, i64, u64)> {
    let mut out = BTreeSet::new();
    let mut stack = vec![store.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                for b in sluice::store::read_parquet(&p).expect("read parquet") {
                    let host = b.column_by_name("host").expect("host column");
                    let host = host.as_dictionary::<Int32Type>();
                    let names = host.values().as_string::<i32>();
                    let v = b.column_by_name("v").expect("v column");
                    let v = v.as_primitive::<Float64Type>();
                    let t = b.column_by_name("time").expect("time column");
                    let t = t.as_primitive::<TimestampNanosecondType>();
                    for r in 0..b.num_rows() {
                        if v.is_null(r) {
                            continue;
                        }
                        let h = names.value(host.keys().value(r) as usize).to_owned();
                        out.insert((h, t.value(r), v.value(r).to_bits()));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn acknowledged_points_are_in_parquet_after_kill9_and_restart() {
    let mut s = Sluice::start(&config(&[], "500ms"));
    let mut acked = BTreeSet::new();
    let t0 = 1_764_000_000_000_000_000i64;
    for req in 0..40 {
        let mut body = String::new();
        let mut points = Vec::new();
        for i in 0..250 {
            let host = format!("h{}", i % 25);
            let t = t0 + (req * 250 + i) * 1_000_000_000;
            let v = (req * 1000 + i) as f64 + 0.5;
            body.push_str(&format!("cpu,host={host} v={v} {t}\n"));
            points.push((host, t, v.to_bits()));
        }
        let r = write(&s, req % 2 == 0, &body);
        assert_eq!(r.status, 204, "{}", r.text());
        acked.extend(points);
        if req == 25 {
            // Some data flushed, the rest only in the WAL and the buffers.
            thread::sleep(Duration::from_millis(800));
        }
    }
    s.kill9();
    s.restart();
    wait_flushed(&s);
    s.terminate();
    s.wait_exit(Duration::from_secs(20));
    let stored = parquet_points(&s.dir().join("data/store"));
    let missing: Vec<_> = acked.difference(&stored).take(5).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged points are not in Parquet, e.g. {missing:?}",
        acked.difference(&stored).count(),
        acked.len()
    );
    assert_eq!(stored.len(), acked.len(), "nothing else either");
}

#[test]
fn embedded_mode_drains_the_wal_into_parquet() {
    let wal = [
        ("max_disk", toml::Value::from("1MiB")),
        ("segment_size", toml::Value::from("128KiB")),
        ("compression", toml::Value::from("none")),
    ];
    let s = Sluice::start(&config(&wal, "200ms"));
    let line_len = "cpu,host=h00 v=123456.5 1764000000000000000\n".len();
    let per_req = 2000;
    let mut sent = 0usize;
    let mut retries = 0;
    let t0 = 1_764_000_000_000_000_000i64;
    let mut req = 0i64;
    // 4 MiB through a 1 MiB WAL: only possible when the store's cursor frees segments.
    while sent < 4 << 20 {
        let body: String = (0..per_req)
            .map(|i| {
                let t = t0 + (req * per_req + i) * 1_000_000;
                format!("cpu,host=h{:02} v={}.5 {t}\n", i % 50, 100_000 + i)
            })
            .collect();
        let r = write(&s, true, &body);
        match r.status {
            204 => {
                sent += per_req as usize * line_len;
                req += 1;
            }
            503 => {
                retries += 1;
                assert!(retries < 200, "the WAL does not drain: {}", r.text());
                thread::sleep(Duration::from_millis(100));
            }
            other => panic!("unexpected {other}: {}", r.text()),
        }
    }
    wait_flushed(&s);
    let disk = metric(&s, "sluice_wal_disk_bytes").expect("wal metric");
    assert!(
        disk < (1 << 20) as f64,
        "the WAL should hold little once flushed, has {disk} bytes"
    );
    let files = metric(&s, "sluice_store_files").expect("store metric");
    assert!(files >= 1.0);
}

#[test]
fn field_type_conflict_across_requests_is_refused_like_influxdb() {
    let mut s = Sluice::start(&config(&[], "1h"));
    let r = write(&s, false, "cpu,host=a value=1.5 1\n");
    assert_eq!(r.status, 204, "{}", r.text());
    let check = |s: &Sluice| {
        let r = write(s, false, "cpu,host=a value=2i 2\ncpu,host=a other=1i 3\n");
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(
            r.json()["error"],
            "partial write: field type conflict: input field \"value\" on measurement \"cpu\" is type integer, already exists as type float dropped=1"
        );
        let r = write(s, true, "cpu,host=a value=3i 4\n");
        assert_eq!(r.status, 422, "{}", r.text());
        let j = r.json();
        assert_eq!(j["code"], "unprocessable entity", "{j}");
        assert_eq!(
            j["message"],
            "failure writing points to database: partial write: field type conflict: input field \"value\" on measurement \"cpu\" is type integer, already exists as type float dropped=1"
        );
    };
    check(&s);
    // The types survive a restart (rebuilt from the WAL replay here: nothing was flushed).
    s.restart();
    check(&s);
    // And the same field as a float is still fine.
    let r = write(&s, true, "cpu,host=a value=4.5 5\n");
    assert_eq!(r.status, 204, "{}", r.text());
}
