//! Disk quota: with `[wal] max_disk = "4MiB"`, `segment_size = "1MiB"` and the upstream down,
//! writes fill the WAL until sluice answers 503 with `Retry-After` (an integer ≥ 1) in both
//! dialects, storing nothing of a refused request. When the upstream returns, the WAL drains,
//! writes are accepted again, and exactly the acknowledged lines arrive.

use std::time::{Duration, Instant};

use super::common::{
    Dialect, diff_points, influx_behind_sluice, poll, report, request, wait_influx_count,
};
use crate::support::http::Response;
use crate::support::point::Point;
use crate::support::sluice::Sluice;
use crate::support::telegraf::InterfaceLines;

const MAX_DISK: u64 = 4 << 20;
const SEGMENT: u64 = 1 << 20;
/// Lines per request (≈ 300 kB each, uncompressed in the WAL).
const BATCH: u64 = 1000;

fn retry_after(r: &Response) -> u64 {
    let v = r
        .header("Retry-After")
        .unwrap_or_else(|| panic!("503 without Retry-After: {:?} {}", r.headers, r.text()));
    let secs: u64 = v
        .parse()
        .unwrap_or_else(|e| panic!("Retry-After {v:?} is not an integer: {e}"));
    assert!(secs >= 1, "Retry-After {secs}");
    secs
}

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(std::fs::Metadata::is_file)
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn full_wal_answers_503_with_retry_after_then_recovers() {
    let wal: [(&str, toml::Value); 3] = [
        ("max_disk", "4MiB".into()),
        ("segment_size", "1MiB".into()),
        ("compression", "none".into()),
    ];
    let Some((mut influx, ts, cfg)) = influx_behind_sluice("quota", 1, &wal) else {
        return;
    };
    let t = &ts[0];
    influx.stop();
    let sluice = Sluice::start(&cfg);
    let url = sluice.url();
    let g = InterfaceLines::near_now(2_000);
    let lines = |k: u64| k * BATCH..(k + 1) * BATCH;

    let mut acked: Vec<u64> = Vec::new();
    let mut refused: [Option<Response>; 2] = [None, None];
    let mut k = 0;
    while refused.iter().any(Option::is_none) {
        assert!(k < 60, "no 503 after {k} requests of {BATCH} lines");
        let d = Dialect::alternate(usize::try_from(k).expect("fits"));
        let r = request(&url, t, d, &g.batch(lines(k)))
            .send()
            .expect("write");
        match r.status {
            204 => {
                assert!(
                    refused.iter().all(Option::is_none),
                    "204 after a 503 while down"
                );
                acked.push(k);
            }
            503 => refused[usize::from(d == Dialect::V1)] = Some(r),
            s => panic!("batch {k}: {s} {}", r.text()),
        }
        k += 1;
    }
    let wal_bytes = dir_size(&sluice.dir().join("data").join("wal"));
    let [Some(v2), Some(v1)] = &refused else {
        unreachable!("loop ends when both are set")
    };
    let (ra2, ra1) = (retry_after(v2), retry_after(v1));
    let body2 = v2.json();
    assert_eq!(body2["code"], "unavailable", "v2 503 body: {body2}");
    assert!(
        body2["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body2}"
    );
    let body1 = v1.json();
    assert!(
        body1["error"].as_str().is_some_and(|m| !m.is_empty()),
        "v1 503 body: {body1}"
    );
    assert!(body1.get("code").is_none(), "v1 dialect: {body1}");
    report(&format!(
        "quota: {} batches of {BATCH} lines acknowledged, then 503 (v2 Retry-After {ra2}: \
         {body2}; v1 Retry-After {ra1}: {body1}); WAL dir {wal_bytes} bytes",
        acked.len()
    ));
    assert!(!acked.is_empty(), "nothing fit in the WAL");
    // The quota counts record bytes; preallocated zeros of the newest segment and of the one
    // being prepared come on top (wal module docs, "Quota").
    assert!(
        wal_bytes <= MAX_DISK + 2 * SEGMENT,
        "WAL dir {wal_bytes} bytes > max_disk {MAX_DISK} + 2 segments"
    );

    influx.restart();
    let up = Instant::now();
    // Both dialects are accepted again once the WAL drained.
    for d in [Dialect::V2, Dialect::V1] {
        let (ack, _) = poll(
            &format!("{d:?} accepted again"),
            Duration::from_secs(90),
            || {
                let r = request(&url, t, d, &g.batch(lines(k)))
                    .send()
                    .map_err(|e| e.to_string())?;
                let k_sent = k;
                k += 1;
                match r.status {
                    204 => Ok(k_sent),
                    503 => {
                        std::thread::sleep(Duration::from_secs(retry_after(&r).min(2)));
                        Err(format!("503 {}", r.text()))
                    }
                    s => panic!("{s} {}", r.text()),
                }
            },
        );
        acked.push(ack);
    }
    report(&format!(
        "quota: writes accepted again {:.1?} after the upstream restarted",
        up.elapsed()
    ));

    let want_n = acked.len() as u64 * BATCH;
    let waited = wait_influx_count(
        &influx,
        &t.bucket,
        "interface",
        want_n,
        Duration::from_secs(120),
    );
    let mut want: Vec<Point> = acked.iter().flat_map(|&k| g.points(lines(k))).collect();
    crate::support::point::sort_points(&mut want);
    let got = influx.select_all(&t.bucket, "interface");
    if let Some(d) = diff_points(&want, &got) {
        panic!("after the quota: {d}");
    }
    report(&format!(
        "quota: acknowledged={want_n} found={} lost=0 (exact; no line of a 503'd request \
         stored), {waited:.1?} to arrive",
        got.len()
    ));
}
