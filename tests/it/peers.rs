//! Smoke tests of the harness itself against the real peer servers: what the Telegraf replay
//! writes straight into InfluxDB 1.x / VictoriaMetrics is read back exactly, and stop/restart
//! keeps data. If these fail, the harness (or the peer install) is broken, not sluice.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::support::http::{Body, Request};
use crate::support::influxdb::{ADMIN_PASSWORD, ADMIN_USER, InfluxOpts, InfluxV1};
use crate::support::point::{FieldVal, Point};
use crate::support::telegraf::{self, InterfaceLines};
use crate::support::victoria::{ExportedSeries, VictoriaMetrics};

const ADMIN: Option<(&str, &str)> = Some((ADMIN_USER, ADMIN_PASSWORD));

#[test]
fn influxdb_takes_telegraf_v1_replay_and_reads_it_back_exactly() {
    let Some(db) = InfluxV1::try_start(InfluxOpts::default()) else {
        return;
    };
    eprintln!("influxd start-up: {:?}", db.startup);
    let created = telegraf::v1_create_database(&db.url(), "telegraf", None);
    assert_eq!(created.status, 200, "{}", created.text());
    assert_eq!(created.json()["results"][0]["statement_id"], 0);

    let lines = InterfaceLines::near_now(3);
    let n = 3 * lines.series();
    let r = telegraf::v1_write(&db.url(), "telegraf", None, &lines.batch(0..n));
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(
        r.header("X-Influxdb-Version")
            .is_some_and(|v| v.starts_with("1."))
    );

    assert_eq!(db.select_all("telegraf", "interface"), lines.points(0..n));
    assert_eq!(db.count("telegraf", "interface"), n);
    assert!(db.select_all("telegraf", "nothing_here").is_empty());
}

#[test]
fn influxdb_select_all_keeps_field_types() {
    let Some(db) = InfluxV1::try_start(InfluxOpts::default()) else {
        return;
    };
    db.create_db("t");
    let p = Point {
        measurement: "m".into(),
        tags: [("host".to_string(), "a b".to_string())].into(),
        fields: [
            ("whole_float".to_string(), FieldVal::Float(42.0)),
            ("float".to_string(), FieldVal::Float(0.1)),
            ("int".to_string(), FieldVal::Int(9_007_199_254_740_993)),
            ("neg".to_string(), FieldVal::Int(-5)),
            ("s".to_string(), FieldVal::Str("x \"y\" \\z".into())),
            ("b".to_string(), FieldVal::Bool(true)),
        ]
        .into(),
        time_ns: 1_717_236_000_123_456_789,
    };
    let r = db.write("t", &p.to_line());
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(db.select_all("t", "m"), vec![p]);
}

#[test]
fn influxdb_auth_and_body_limit_are_enforced() {
    let opts = InfluxOpts {
        auth_enabled: true,
        max_body_size: Some(2_000),
    };
    let Some(db) = InfluxV1::try_start(opts) else {
        return;
    };
    let denied = telegraf::v1_create_database(&db.url(), "telegraf", None);
    assert_eq!(denied.status, 401, "{}", denied.text());
    let created = telegraf::v1_create_database(&db.url(), "telegraf", ADMIN);
    assert_eq!(created.status, 200, "{}", created.text());

    let lines = InterfaceLines::near_now(1);
    let one = lines.batch(0..1);
    assert_eq!(
        telegraf::v1_write(&db.url(), "telegraf", None, &one).status,
        401
    );
    let r = telegraf::v1_write(&db.url(), "telegraf", ADMIN, &one);
    assert_eq!(r.status, 204, "{}", r.text());
    // max-body-size counts identity bodies: 32 lines are ~10 kB.
    let body = lines.batch(0..32);
    let plain = Request::new("POST", &format!("{}/write?db=telegraf", db.url()))
        .basic_auth(ADMIN_USER, ADMIN_PASSWORD)
        .body(Body::Fixed(body.clone().into_bytes()))
        .send()
        .expect("identity write");
    assert_eq!(plain.status, 413, "{}", plain.text());
    // Quirk of 1.6.7: a gzip body bypasses max-body-size entirely (the gzip reader wraps the
    // raw body, not the size-limited one), so Telegraf's default gzip writes are not limited.
    let gz = telegraf::v1_write(&db.url(), "telegraf", ADMIN, &body);
    assert_eq!(gz.status, 204, "{}", gz.text());
    assert_eq!(db.select_all("telegraf", "interface"), lines.points(0..32));
}

#[test]
fn influxdb_stop_kill_and_restart_keep_data_and_port() {
    let Some(mut db) = InfluxV1::try_start(InfluxOpts::default()) else {
        return;
    };
    db.create_db("telegraf");
    let lines = InterfaceLines::near_now(2);
    let n = lines.series();
    assert_eq!(db.write("telegraf", &lines.batch(0..n)).status, 204);
    let url = db.url();
    let t = std::time::Instant::now();
    db.stop();
    eprintln!("influxd graceful stop: {:?}", t.elapsed());
    assert!(
        crate::support::http::get(&format!("{url}/ping")).is_err(),
        "stopped influxd still answers"
    );
    db.restart();
    eprintln!("influxd restart: {:?}", db.startup);
    assert_eq!(db.url(), url);
    assert_eq!(db.write("telegraf", &lines.batch(n..2 * n)).status, 204);
    db.kill9();
    db.restart();
    assert_eq!(
        db.select_all("telegraf", "interface"),
        lines.points(0..2 * n)
    );
}

/// What VictoriaMetrics should hold for `points` written over InfluxDB line protocol:
/// one series `<measurement>_<field>` per field, labels = tags + `extra`, ms timestamps.
fn vm_expected(points: &[Point], extra: &[(&str, &str)]) -> Vec<ExportedSeries> {
    let mut by_series: BTreeMap<BTreeMap<String, String>, Vec<(i64, f64)>> = BTreeMap::new();
    for p in points {
        for (f, v) in &p.fields {
            let mut metric = p.tags.clone();
            metric.extend(
                extra
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            );
            metric.insert("__name__".into(), format!("{}_{f}", p.measurement));
            let value = match v {
                FieldVal::Int(i) => *i as f64,
                FieldVal::Float(x) => *x,
                other => panic!("vm_expected: unsupported field {other:?}"),
            };
            by_series
                .entry(metric)
                .or_default()
                .push((p.time_ns / 1_000_000, value));
        }
    }
    by_series
        .into_iter()
        .map(|(metric, mut samples)| {
            samples.sort_by_key(|s| s.0);
            ExportedSeries {
                metric,
                timestamps: samples.iter().map(|s| s.0).collect(),
                values: samples.iter().map(|s| s.1).collect(),
            }
        })
        .collect()
}

#[test]
fn victoria_metrics_takes_telegraf_v2_replay_and_exports_it() {
    let Some(vm) = VictoriaMetrics::try_start() else {
        return;
    };
    eprintln!("victoria-metrics start-up: {:?}", vm.startup);
    let lines = InterfaceLines::near_now(2);
    let n = 2 * lines.series();
    let r = telegraf::v2_write(&vm.url(), "bucket-a", "org-a", "tok", &lines.batch(0..n));
    assert_eq!(r.status, 204, "{}", r.text());
    let samples = (n as usize) * telegraf::INTERFACE_FIELDS.len();
    let t = std::time::Instant::now();
    let got = vm.export_until(
        r#"{__name__=~"interface_.*"}"#,
        samples,
        Duration::from_secs(15),
    );
    eprintln!(
        "victoria-metrics write->searchable (flush+poll): {:?}",
        t.elapsed()
    );
    // /api/v2/write: no label for bucket or org.
    assert_eq!(got, vm_expected(&lines.points(0..n), &[]));

    // /write?db=D (v1) adds a `db` label.
    let v1 = InterfaceLines {
        start_ns: lines.start_ns,
        interval_ns: lines.interval_ns,
        agents: 1,
        ifaces: 1,
    };
    let r = telegraf::v1_write(&vm.url(), "telegraf", None, &v1.batch(0..1));
    assert_eq!(r.status, 204, "{}", r.text());
    let got = vm.export_until(r#"{db="telegraf"}"#, 10, Duration::from_secs(15));
    assert_eq!(got, vm_expected(&v1.points(0..1), &[("db", "telegraf")]));
}

#[test]
fn victoria_metrics_restart_keeps_data_and_port() {
    let Some(mut vm) = VictoriaMetrics::try_start() else {
        return;
    };
    let lines = InterfaceLines {
        agents: 1,
        ifaces: 2,
        ..InterfaceLines::near_now(1)
    };
    let r = telegraf::v2_write(&vm.url(), "b", "o", "t", &lines.batch(0..2));
    assert_eq!(r.status, 204, "{}", r.text());
    let url = vm.url();
    let t = std::time::Instant::now();
    vm.stop();
    eprintln!("victoria-metrics graceful stop: {:?}", t.elapsed());
    vm.restart();
    eprintln!("victoria-metrics restart: {:?}", vm.startup);
    assert_eq!(vm.url(), url);
    // After a graceful stop everything acknowledged is searchable at once.
    assert_eq!(
        vm.export(r#"{__name__=~"interface_.*"}"#),
        vm_expected(&lines.points(0..2), &[])
    );
}
