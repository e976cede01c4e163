//! The network-device dashboards in `grafana/dashboards/` against a real sluice (the sluice
//! dashboard itself: `sluice_dashboard.rs`).
//!
//! - Every InfluxQL panel query, with Grafana's macros and variables substituted as Grafana
//!   does (wire.md §2.3), is sent as Grafana sends it to a sluice loaded with `sluice-bench`
//!   data and its rollups, and must answer non-empty, well-formed InfluxQL JSON (the shape
//!   Grafana parses, wire.md §2.4). The variable queries run first and pick the devices.
//! - The macro substitution itself is checked against wire.md's golden strings.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::grafana::{self, FluxSettings, VarValue};
use crate::support::influxdb::{InfluxOpts, InfluxV1};
use crate::support::sluice::{Sluice, SluiceConfig};
use crate::support::telegraf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn dashboard(name: &str) -> Value {
    let path = repo().join("grafana/dashboards").join(name);
    let text = std::fs::read_to_string(&path).expect("read dashboard");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The device dashboards and the bucket their `${tenant}` datasource reads
/// (grafana/provisioning/datasources/sluice.yaml: `sluice (InfluxQL)` → SLUICE_BUCKET,
/// `sluice rollups (InfluxQL)` → SLUICE_ROLLUP_BUCKET; the variable's regex picks one).
const DEVICE_DASHBOARDS: [(&str, &str); 2] = [
    ("network-devices.json", "telegraf"),
    ("network-devices-long-range.json", "telegraf_5m"),
];

#[test]
fn influxql_macros_match_grafanas_golden_strings() {
    // wire.md §2.3, models/query_test.go: $timeFilter and time($__interval).
    let q = grafana::influxql(
        r#"SELECT mean("value") FROM "cpu" WHERE $timeFilter GROUP BY time($__interval) fill(null)"#,
        1_596_240_000_000,
        1_596_240_300_000,
        Duration::from_secs(10),
        &BTreeMap::new(),
    );
    assert_eq!(
        q,
        r#"SELECT mean("value") FROM "cpu" WHERE time >= 1596240000000ms and time <= 1596240300000ms GROUP BY time(10s) fill(null)"#
    );
    // wire.md §2.12 example 3: multi-value variables inside regex literals.
    let mut vars = BTreeMap::new();
    vars.insert(
        "device".to_owned(),
        VarValue::Values(vec!["10.0.0.1".into()]),
    );
    vars.insert(
        "interface".to_owned(),
        VarValue::Values(vec!["Gi1/0/1".into(), "Gi1/0/2".into()]),
    );
    let q = grafana::influxql(
        r#"SELECT non_negative_derivative(mean("ifHCInOctets"), 1s) *8 AS "in" FROM "interface" WHERE ("agent_host" =~ /^$device$/ AND "ifName" =~ /^$interface$/) AND $timeFilter GROUP BY time($__interval), "ifName" fill(null)"#,
        1_717_236_000_000,
        1_717_239_600_000,
        Duration::from_secs(30),
        &vars,
    );
    assert_eq!(
        q,
        r#"SELECT non_negative_derivative(mean("ifHCInOctets"), 1s) *8 AS "in" FROM "interface" WHERE ("agent_host" =~ /^(10\.0\.0\.1)$/ AND "ifName" =~ /^(Gi1\/0\/1|Gi1\/0\/2)$/) AND time >= 1717236000000ms and time <= 1717239600000ms GROUP BY time(30s), "ifName" fill(null)"#
    );
    assert_eq!(
        grafana::format_interval(Duration::from_millis(200)),
        "200ms"
    );
    assert_eq!(grafana::format_interval(Duration::from_secs(90)), "1m");
    assert_eq!(grafana::format_interval(Duration::from_secs(3600)), "1h");
    assert_eq!(grafana::format_interval(Duration::from_secs(86_400)), "1d");
    assert_eq!(
        grafana::panel_interval(Duration::from_secs(6 * 3600), Duration::from_secs(10)),
        Duration::from_secs(20)
    );
    assert_eq!(
        grafana::panel_interval(Duration::from_secs(3600), Duration::from_secs(300)),
        Duration::from_secs(300)
    );
}

#[test]
fn flux_macros_match_grafanas_golden_string() {
    // wire.md §2.7, flux/macros_test.go.
    let ds = FluxSettings {
        bucket: "grafana2".into(),
        default_bucket: "grafana3".into(),
        organization: "grafana1".into(),
    };
    let q = grafana::flux(
        "v.timeRangeStart, something.timeRangeStop, XYZ.bucket, uuUUu.defaultBucket, aBcDefG.organization, window.windowPeriod",
        0,
        0,
        Duration::from_secs(1),
        &ds,
    );
    assert_eq!(
        q,
        r#"1970-01-01T00:00:00Z, 1970-01-01T00:00:00Z, "grafana2", "grafana3", "grafana1", 1s"#
    );
    // Not macros: a digit before the dot, an underscore after it.
    assert_eq!(
        grafana::flux(
            "v1.measurements r._measurement",
            0,
            0,
            Duration::from_secs(1),
            &ds
        ),
        "v1.measurements r._measurement"
    );
    assert_eq!(
        grafana::rfc3339_nano(1_717_236_000_123_000_000),
        "2024-06-01T10:00:00.123Z"
    );
    assert_eq!(grafana::go_duration(Duration::from_secs(120)), "2m0s");
    assert_eq!(grafana::go_duration(Duration::from_secs(150)), "2m30s");
    assert_eq!(grafana::go_duration(Duration::from_secs(3600)), "1h0m0s");
    assert_eq!(grafana::go_duration(Duration::from_millis(200)), "200ms");
}

/// Every panel of the device dashboards has an InfluxQL query whose macros all get
/// substituted: what remains parses as one statement with a time range.
#[test]
fn device_dashboard_queries_substitute_completely() {
    let mut vars = BTreeMap::new();
    vars.insert(
        "device".to_owned(),
        VarValue::Values(vec!["10.0.0.1".into(), "10.0.0.2".into()]),
    );
    vars.insert("interface".to_owned(), VarValue::All(".*".into()));
    let left = regex::Regex::new(r"\$\{?\w").expect("static regex");
    let mut n = 0;
    for (name, _) in DEVICE_DASHBOARDS {
        let d = dashboard(name);
        for pq in grafana::panel_queries(&d) {
            assert_eq!(pq.datasource, "${tenant}", "{name} {}", pq.panel);
            assert!(
                pq.text.starts_with("SELECT "),
                "{name} {}: {}",
                pq.panel,
                pq.text
            );
            let q = grafana::influxql(
                &pq.text,
                1_717_236_000_000,
                1_717_239_600_000,
                Duration::from_secs(10),
                &vars,
            );
            assert!(!left.is_match(&q), "{name} {}: macro left in {q}", pq.panel);
            assert!(!q.contains(';'), "{name} {}: one statement only", pq.panel);
            assert!(
                q.contains("time >= 1717236000000ms and time <= 1717239600000ms"),
                "{q}"
            );
            n += 1;
        }
    }
    assert!(n >= 14, "only {n} panel queries found");
}

/// The data every dashboard check loads: ~3 h of `sluice-bench` SNMP + ping lines for
/// 4 devices × 4 interfaces (24 lines per 10 s round), ending now.
const ROUNDS: i64 = 1080;
const LINES_PER_ROUND: i64 = 24;

/// `[from_ms, to_ms]` of the data, and runs `sluice-bench` against `url` (v1 or v2 API).
fn load_bench_data(url: &str, tenant: &str, api: &str) -> (i64, i64) {
    let now_ns = telegraf::now_ns() / 10_000_000_000 * 10_000_000_000;
    let start_ns = now_ns - ROUNDS * 10_000_000_000;
    let out = Command::new(env!("CARGO_BIN_EXE_sluice-bench"))
        .args(["run", "--url", url, "--tenant", tenant, "--api", api])
        .args(["--devices", "4", "--interfaces", "4", "--batch", "1000"])
        .arg(format!("--start-ns={start_ns}"))
        .arg(format!("--lines={}", ROUNDS * LINES_PER_ROUND))
        .args(["-c", "2", "--quiet"])
        .output()
        .expect("run sluice-bench");
    assert!(
        out.status.success(),
        "sluice-bench: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("sluice-bench JSON");
    assert_eq!(
        v["lines_accepted"].as_i64(),
        Some(ROUNDS * LINES_PER_ROUND),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (start_ns / 1_000_000, now_ns / 1_000_000)
}

/// Sends Grafana's InfluxQL request; asserts 200 and returns the JSON.
fn grafana_query(base: &str, token: &str, db: &str, q: &str) -> Value {
    let resp = grafana::influxql_request(base, db, token, q)
        .send()
        .expect("GET /query");
    assert_eq!(resp.status, 200, "{q}\n{}", resp.text());
    resp.json()
}

/// The series of `results[0]`, after checking the answer is what Grafana parses: one result,
/// no error, `columns[0] == "time"` with epoch-ms numbers (time series), and no column that
/// is null in every row of a series.
fn series_of(answer: &Value, what: &str, time_series: bool) -> Vec<Value> {
    let results = answer["results"].as_array().expect("results array");
    assert_eq!(results.len(), 1, "{what}: {answer}");
    assert!(results[0]["error"].is_null(), "{what}: {answer}");
    let series = results[0]["series"].as_array().cloned().unwrap_or_default();
    assert!(!series.is_empty(), "{what}: no series: {answer}");
    for s in &series {
        let values = s["values"].as_array().expect("values");
        assert!(!values.is_empty(), "{what}: empty series {s}");
        if time_series {
            assert_eq!(s["columns"][0], "time", "{what}: {s}");
            assert!(
                values.iter().all(|r| r[0].is_i64() || r[0].is_u64()),
                "{what}: time is not epoch ms: {s}"
            );
            // Every column (each field or alias of the SELECT) has a value somewhere.
            let columns = s["columns"].as_array().expect("columns").len();
            for c in 1..columns {
                assert!(
                    values.iter().any(|r| !r[c].is_null()),
                    "{what}: column {} is null in every row: {s}",
                    s["columns"][c]
                );
            }
        }
    }
    series
}

/// Runs every device dashboard as Grafana would over `[from_ms, to_ms]`: the variable queries
/// (the first two devices and interfaces they return become the selection), then every panel
/// query with that selection, then the first panel with "All". Returns the queries sent.
fn run_device_dashboards(
    dashboards: &[(&str, &str)],
    from_ms: i64,
    to_ms: i64,
    send: &dyn Fn(&str, &str) -> Value,
) -> usize {
    let range = Duration::from_millis(u64::try_from(to_ms - from_ms).expect("positive"));
    let mut sent = 0;
    for &(name, db) in dashboards {
        let d = dashboard(name);
        let mut vars = BTreeMap::new();
        let vlist = d["templating"]["list"].as_array().expect("templating");
        for v in vlist.iter().filter(|v| v["type"] == "query") {
            let vname = v["name"].as_str().expect("name").to_owned();
            let q = grafana::influxql(
                v["query"].as_str().expect("variable query"),
                from_ms,
                to_ms,
                Duration::from_secs(10),
                &vars,
            );
            let a = send(db, &q);
            let series = series_of(&a, &format!("{name} variable {vname}: {q}"), false);
            // SHOW TAG VALUES: columns ["key", "value"], Grafana takes values[i][1].
            let mut values: Vec<String> = series
                .iter()
                .flat_map(|s| s["values"].as_array().cloned().unwrap_or_default())
                .filter_map(|r| r[1].as_str().map(str::to_owned))
                .collect();
            values.sort();
            values.dedup();
            values.truncate(2);
            assert!(!values.is_empty(), "{name} variable {vname}: no values");
            vars.insert(vname, VarValue::Values(values));
            sent += 1;
        }
        for pq in grafana::panel_queries(&d) {
            let min = pq.min_interval.unwrap_or(Duration::from_secs(10));
            let interval = grafana::panel_interval(range, min);
            let q = grafana::influxql(&pq.text, from_ms, to_ms, interval, &vars);
            series_of(
                &send(db, &q),
                &format!("{name} panel {:?}: {q}", pq.panel),
                true,
            );
            sent += 1;
        }
        vars.insert("interface".into(), VarValue::All(".*".into()));
        vars.insert("device".into(), VarValue::All(".*".into()));
        let first = &grafana::panel_queries(&d)[0];
        let q = grafana::influxql(&first.text, from_ms, to_ms, Duration::from_secs(300), &vars);
        series_of(
            &send(db, &q),
            &format!("{name} (All) {:?}: {q}", first.panel),
            true,
        );
        sent += 1;
    }
    sent
}

/// The rollup fields the long-range dashboard reads (`<field>_<mean|max|rate>`), as
/// `(measurement, field, aggregate)`.
fn rollup_fields() -> BTreeSet<(String, String, String)> {
    let re = regex::Regex::new(r#""(\w+)_(mean|max|rate)""#).expect("static regex");
    let from = regex::Regex::new(r#"FROM "(\w+)""#).expect("static regex");
    let d = dashboard("network-devices-long-range.json");
    let mut out = BTreeSet::new();
    for pq in grafana::panel_queries(&d) {
        let m = from.captures(&pq.text).expect("FROM")[1].to_owned();
        for c in re.captures_iter(&pq.text) {
            out.insert((m.clone(), c[1].to_owned(), c[2].to_owned()));
        }
    }
    out
}

/// The dashboards' queries are right InfluxQL for this data: InfluxDB 1.6.7 (the reference for
/// InfluxQL answers) loaded with the same `sluice-bench` data answers every one, non-empty. Its
/// rollups are made with `SELECT ... INTO`: mean/max, and `rate` as the downsampler defines it,
/// `non_negative_derivative(last(x), 1s)` per 5-minute window (issue 7).
#[test]
fn every_device_dashboard_query_answers_from_influxdb_1_6_7() {
    let Some(db) = InfluxV1::try_start(InfluxOpts::default()) else {
        return;
    };
    db.create_db("telegraf");
    db.create_db("telegraf_5m");
    let (from_ms, to_ms) = load_bench_data(&db.url(), "acme:unused:telegraf", "v1");
    for (m, field, agg) in rollup_fields() {
        let expr = match agg.as_str() {
            "rate" => format!(r#"non_negative_derivative(last("{field}"), 1s)"#),
            other => format!(r#"{other}("{field}")"#),
        };
        db.query(
            "telegraf",
            &format!(
                r#"SELECT {expr} AS "{field}_{agg}" INTO "telegraf_5m"."autogen"."{m}" FROM "{m}" WHERE time >= {from_ms}ms AND time <= {to_ms}ms GROUP BY time(5m), *"#
            ),
        );
    }
    let base = db.url();
    let sent = run_device_dashboards(&DEVICE_DASHBOARDS, from_ms, to_ms, &|d, q| {
        grafana_query(&base, "unused", d, q)
    });
    assert!(sent >= 20, "only {sent} queries sent");
}

/// A sluice in embedded mode (with `extra` config appended) loaded with the bench data.
fn loaded_sluice(token: &str, extra: &str) -> (Sluice, i64, i64) {
    let cfg = format!(
        "{}\n[store]\nenabled = true\n\n{extra}",
        SluiceConfig::new()
            .simple_tenant("acme", token, &["telegraf", "telegraf_5m"])
            .to_toml(),
    );
    let s = Sluice::start(&cfg);
    let (from_ms, to_ms) = load_bench_data(&s.url(), &format!("acme:{token}:telegraf"), "v2");
    (s, from_ms, to_ms)
}

/// The raw-data dashboard against sluice in embedded mode, as against InfluxDB above.
#[test]
fn every_device_dashboard_query_answers_from_a_loaded_sluice() {
    let token = "tok-dash";
    let (s, from_ms, to_ms) = loaded_sluice(token, "");
    let base = s.url();
    let sent = run_device_dashboards(&DEVICE_DASHBOARDS[..1], from_ms, to_ms, &|d, q| {
        grafana_query(&base, token, d, q)
    });
    assert!(sent >= 12, "only {sent} queries sent");
}

/// The long-range dashboard against sluice's own rollups (deploy/'s rules).
#[test]
fn long_range_dashboard_answers_from_sluice_rollups() {
    let token = "tok-dash";
    let (s, from_ms, to_ms) = loaded_sluice(token, DOWNSAMPLE_RULES);
    // Rollup windows close at end + grace as the data streams in.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let a = grafana_query(
            &s.url(),
            token,
            "telegraf_5m",
            r#"SELECT count("ifHCInOctets_rate") FROM "interface""#,
        );
        if a["results"][0]["series"].is_array() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no rollups in telegraf_5m after 60 s: {a}\n{}",
            s.stderr()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let base = s.url();
    let sent = run_device_dashboards(&DEVICE_DASHBOARDS[1..], from_ms, to_ms, &|d, q| {
        grafana_query(&base, token, d, q)
    });
    assert!(sent >= 10, "only {sent} queries sent");
}

/// deploy/overlays/*/sluice.toml's rules.
const DOWNSAMPLE_RULES: &str = r#"
[[downsample]]
tenant = "*"
from = { bucket = "telegraf", measurements = ["interface"] }
every = "5m"
aggregates = ["mean", "max", "rate"]
to = { bucket = "telegraf_5m" }
grace = "1m"

[[downsample]]
tenant = "*"
from = { bucket = "telegraf", measurements = ["ping", "snmp"] }
every = "5m"
aggregates = ["mean", "max"]
to = { bucket = "telegraf_5m" }
grace = "1m"
"#;
