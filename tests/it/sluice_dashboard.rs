//! The sluice dashboard (`grafana/dashboards/sluice.json`, Prometheus) against a real sluice:
//! every metric its PromQL names exists in a real `/metrics` scrape, and every PromQL query, with
//! Grafana's variables substituted, answers non-empty from VictoriaMetrics holding three real
//! scrapes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::grafana::{self, VarValue};
use crate::support::http;
use crate::support::influxdb::{InfluxOpts, InfluxV1};
use crate::support::sluice::{Sluice, SluiceConfig};
use crate::support::telegraf;
use crate::support::victoria::VictoriaMetrics;

fn dashboard() -> Value {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("grafana/dashboards/sluice.json");
    let text = std::fs::read_to_string(&path).expect("read dashboard");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One InfluxQL query as Grafana sends it, answered from the store (feeds `sluice_query_*`).
fn query(s: &Sluice) {
    let url = format!(
        "{}/query?{}",
        s.url(),
        http::form_encode(&[
            ("db", "telegraf"),
            ("epoch", "ms"),
            ("q", "SELECT last(\"ifHCInOctets\") FROM \"interface\""),
        ])
    );
    let r = http::Request::new("GET", &url)
        .header("Authorization", "Token tok-acme")
        .send()
        .expect("query sluice");
    assert_eq!(r.status, 200, "{}", r.text());
}

fn promql_metrics(d: &Value) -> BTreeSet<String> {
    let re = regex::Regex::new(r"\bsluice_[a-z0-9_]+").expect("static regex");
    let mut names = BTreeSet::new();
    for pq in grafana::panel_queries(d) {
        for m in re.find_iter(&pq.text) {
            let n = m.as_str();
            let n = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|s| n.strip_suffix(s))
                .unwrap_or(n);
            names.insert(n.to_owned());
        }
    }
    names
}

/// Metric names in a Prometheus text exposition (samples, histogram suffixes folded).
fn exposed(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let name = line
            .split(['{', ' '])
            .next()
            .expect("a sample line has a name");
        let name = ["_bucket", "_count", "_sum"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        names.insert(name.to_owned());
    }
    names
}

/// A rollup rule, so that the downsampler's metrics exist.
const DOWNSAMPLE: &str = r#"
[[downsample]]
tenant = "*"
from = { bucket = "telegraf", measurements = ["interface"] }
every = "5m"
aggregates = ["mean"]
to = { bucket = "telegraf_5m" }
"#;

#[test]
fn sluice_dashboard_queries_answer_from_real_scrapes() {
    let d = dashboard();
    let wanted = promql_metrics(&d);
    assert!(wanted.len() >= 15, "{wanted:?}");
    // One of each refusal.
    let Some(db) = InfluxV1::try_start(InfluxOpts::default()) else {
        return;
    };
    // Fronting mode with the store as a local copy: forwarder and store metrics both exist.
    let cfg = format!(
        "{}\n[store]\nenabled = true\n{DOWNSAMPLE}",
        SluiceConfig::new()
            .upstream(&db.url(), "v1")
            .simple_tenant("acme", "tok-acme", &["telegraf", "telegraf_5m"])
            .to_toml()
    );
    let s = Sluice::start(&cfg);
    let lines = "interface,agent_host=10.0.0.1,ifName=Gi1/0/1 ifHCInOctets=1i,ifHCOutOctets=2i 1717236000000000000\n";
    let r = telegraf::v2_write(&s.url(), "telegraf", "acme", "tok-acme", lines);
    assert_eq!(r.status, 204, "{}", r.text());
    let r = telegraf::v2_write(&s.url(), "telegraf", "acme", "wrong", lines);
    assert_eq!(r.status, 401);
    let r = telegraf::v2_write(&s.url(), "telegraf", "acme", "tok-acme", "bad line\n");
    assert_eq!(r.status, 400);
    query(&s);
    let deadline = Instant::now() + Duration::from_secs(20);
    let names = loop {
        let m = http::get(&format!("{}/metrics", s.admin_url()))
            .expect("scrape")
            .text();
        let names = exposed(&m);
        let missing: Vec<&String> = wanted.iter().filter(|w| !names.contains(*w)).collect();
        if missing.is_empty() || Instant::now() > deadline {
            break names;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    let missing: Vec<&String> = wanted.iter().filter(|w| !names.contains(*w)).collect();
    assert!(
        missing.is_empty(),
        "grafana/dashboards/sluice.json queries metrics sluice does not export: {missing:?}\nexported: {names:?}"
    );
    // Every PromQL query of the dashboard answers from a Prometheus-compatible store holding
    // real scrapes: VictoriaMetrics, fed three scrapes of this sluice 15 s apart.
    promql_answers_from_victoriametrics(&d, &s);
}

/// Imports three scrapes of `s` into VictoriaMetrics (timestamps 15 s apart, label
/// `instance="sluice-0"`) and runs every PromQL query of `d` over them as Grafana would (All
/// selected): each must answer `status: success` with at least one series.
fn promql_answers_from_victoriametrics(d: &Value, s: &Sluice) {
    let Some(vm) = VictoriaMetrics::try_start() else {
        return;
    };
    let t0_ms = telegraf::now_ns() / 1_000_000 - 120_000;
    let lines =
        "interface,agent_host=10.0.0.2,ifName=Gi1/0/2 ifHCInOctets=5i 1717236000000000000\n";
    for i in 0..3_i64 {
        let r = telegraf::v2_write(&s.url(), "telegraf", "acme", "tok-acme", lines);
        assert_eq!(r.status, 204);
        query(s);
        let text = http::get(&format!("{}/metrics", s.admin_url()))
            .expect("scrape")
            .text();
        let url = format!(
            "{}/api/v1/import/prometheus?timestamp={}&extra_label=instance%3Dsluice-0",
            vm.url(),
            t0_ms + i * 15_000
        );
        let r = http::Request::new("POST", &url)
            .body(http::Body::Fixed(text.into_bytes()))
            .send()
            .expect("import into VictoriaMetrics");
        assert!(r.status / 100 == 2, "import: {} {}", r.status, r.text());
    }
    vm.flush();
    let mut vars = BTreeMap::new();
    vars.insert("instance".to_owned(), VarValue::All(".*".into()));
    vars.insert("tenant".to_owned(), VarValue::All(".*".into()));
    let mut checked = 0;
    for pq in grafana::panel_queries(d) {
        let q = grafana::promql(
            &pq.text,
            Duration::from_secs(15),
            Duration::from_secs(15),
            &vars,
        );
        let url = format!(
            "{}/api/v1/query_range?{}",
            vm.url(),
            http::form_encode(&[
                ("query", &q),
                ("start", &((t0_ms + 30_000) / 1000).to_string()),
                ("end", &((t0_ms + 45_000) / 1000).to_string()),
                ("step", "15"),
            ])
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let a = http::get(&url).expect("query VictoriaMetrics").json();
            assert_eq!(a["status"], "success", "{:?} {q}: {a}", pq.panel);
            let n = a["data"]["result"].as_array().map_or(0, Vec::len);
            if n > 0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "sluice dashboard panel {:?}: no series for {q}: {a}",
                pq.panel
            );
            vm.flush();
            std::thread::sleep(Duration::from_millis(300));
        }
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} PromQL queries checked");
}
