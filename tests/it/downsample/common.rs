//! Helpers of the downsampling checks: rules, reading rollups and reference answers.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

pub const TOKEN: &str = "tok-ds";

/// Rules at 1m, 5m and 1h over interface, ping and wrap, every aggregate.
pub fn rules(grace: &str, late: &str) -> String {
    let mut s = String::new();
    for (every, to) in [
        ("1m", "telegraf_1m"),
        ("5m", "telegraf_5m"),
        ("1h", "telegraf_1h"),
    ] {
        s += &format!(
            "\n[[downsample]]\nname = \"{to}\"\ntenant = \"acme\"\n\
             from = {{ bucket = \"telegraf\", measurements = [\"interface\", \"ping\", \"wrap\"] }}\n\
             every = \"{every}\"\naggregates = [\"mean\", \"min\", \"max\", \"sum\", \"count\", \"first\", \"last\", \"rate\"]\n\
             to = {{ bucket = \"{to}\" }}\ngrace = \"{grace}\"\nlate_window = \"{late}\"\n"
        );
    }
    s
}

/// `(sorted tags, time ns)` → column → value, from an InfluxQL answer with `GROUP BY *`.
pub type Rows = BTreeMap<(String, i64), BTreeMap<String, f64>>;

pub fn rows(answer: &Value) -> Rows {
    let mut out = Rows::new();
    let result = &answer["results"][0];
    assert!(result["error"].is_null(), "{answer}");
    assert!(
        result["partial"].as_bool() != Some(true),
        "a partial answer (row limit?)"
    );
    for s in result["series"].as_array().into_iter().flatten() {
        let tags = s["tags"]
            .as_object()
            .map(|t| {
                t.iter()
                    .filter(|(_, v)| v.as_str().is_some_and(|v| !v.is_empty()))
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        let cols: Vec<String> = s["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .map(|c| c.as_str().unwrap_or_default().to_owned())
            .collect();
        for row in s["values"].as_array().expect("values") {
            let t = row[0].as_i64().expect("epoch ns time");
            let mut m = BTreeMap::new();
            for (c, v) in cols.iter().zip(row.as_array().expect("row")).skip(1) {
                if let Some(f) = v.as_f64() {
                    m.insert(c.clone(), f);
                }
            }
            if !m.is_empty() {
                out.insert((tags.clone(), t), m);
            }
        }
    }
    out
}

/// The number of rows of an InfluxQL answer, over all its series.
pub fn row_count(answer: &Value) -> usize {
    let result = &answer["results"][0];
    assert!(result["error"].is_null(), "{answer}");
    result["series"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s["values"].as_array().map_or(0, Vec::len))
        .sum()
}

pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()) + 1e-9
}

/// `GET /query` of sluice (embedded mode), times in ns, as tenant `acme`. A 503 (the store has
/// not applied the newest WAL records yet: a debug build ingesting a day of data lags) is asked
/// again, for up to 2 minutes.
pub fn sluice_query(base: &str, db: &str, q: &str) -> Value {
    let url = format!(
        "{base}/query?{}",
        crate::support::http::form_encode(&[("db", db), ("epoch", "ns"), ("q", q)])
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let r = crate::support::http::Request::new("GET", &url)
            .header("Authorization", &format!("Token {TOKEN}"))
            .send_within(Duration::from_secs(120))
            .expect("GET /query");
        if r.status == 503 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        assert_eq!(r.status, 200, "{q}: {}", r.text());
        return r.json();
    }
}

/// The value of `name{tenant="acme"}` in sluice's `/metrics`.
pub fn metric(admin: &str, name: &str) -> Option<f64> {
    let text = crate::support::http::get(&format!("{admin}/metrics"))
        .expect("GET /metrics")
        .text();
    let prefix = format!("{name}{{tenant=\"acme\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
}

/// Embedded sluice with `telegraf` and rollup buckets for tenant `acme`, plus `extra`.
pub fn embedded_config(extra: &str) -> String {
    format!(
        "{}\n[store]\nenabled = true\n{extra}",
        crate::support::sluice::SluiceConfig::new()
            .simple_tenant(
                "acme",
                TOKEN,
                &["telegraf", "telegraf_1m", "telegraf_5m", "telegraf_1h"]
            )
            .to_toml()
    )
}

/// Prints a result line to the real stderr (libtest captures `eprintln!` of passing tests).
pub fn report(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "[downsample] {line}");
}
