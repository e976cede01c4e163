//! Grafana's InfluxDB datasource, replayed (wire.md §2.2–2.3, §2.6–2.7): the dashboard JSON's
//! panel queries, Grafana's macros and template variables substituted the way Grafana does
//! before sending, and the requests it then sends.
//!
//! Owns: reading panel queries out of dashboard JSON (rows included), the interval Grafana
//! computes for a panel (`roundInterval` of range / max data points, floored by the panel's
//! and the datasource's minimum), `gtime.FormatInterval`, InfluxQL macros (`$timeFilter`,
//! `$__interval`, `$interval`, `$__interval_ms`), dashboard variables (multi-value regex
//! format with `escapeRegex`), Flux macros (`v.timeRangeStart`... by the `([a-zA-Z]+)\.([a-zA-Z]+)`
//! rule), and the GET `/query` / POST `/api/v2/query` requests.
//! Does not own: checking the answers (the tests do).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use super::http::{Body, Request, form_encode};

/// The User-Agent of Grafana's InfluxQL requests.
pub const USER_AGENT: &str = "Grafana/12.2.0";

/// Grafana's default max data points for a panel about 1000 px wide.
pub const MAX_DATA_POINTS: i64 = 1000;

/// One query of one panel, as stored in the dashboard.
#[derive(Debug, Clone)]
pub struct PanelQuery {
    pub dashboard: String,
    pub panel: String,
    pub ref_id: String,
    /// The target's (or the panel's) datasource uid, e.g. `${tenant}` or `sluice-influxql`.
    pub datasource: String,
    /// `influxdb` or `prometheus`.
    pub datasource_type: String,
    /// InfluxQL (`query` with `rawQuery`), Flux (`query`), or PromQL (`expr`).
    pub text: String,
    /// The panel's minimum interval (`interval`, e.g. `5m`), if set.
    pub min_interval: Option<Duration>,
}

/// Every target of every panel (rows' nested panels included), in dashboard order.
pub fn panel_queries(dashboard: &Value) -> Vec<PanelQuery> {
    fn walk(panels: &Value, uid: &str, out: &mut Vec<PanelQuery>) {
        for p in panels.as_array().into_iter().flatten() {
            walk(&p["panels"], uid, out);
            let panel_ds = &p["datasource"];
            for t in p["targets"].as_array().into_iter().flatten() {
                let ds = if t["datasource"].is_object() {
                    &t["datasource"]
                } else {
                    panel_ds
                };
                let text = t["query"].as_str().or_else(|| t["expr"].as_str());
                out.push(PanelQuery {
                    dashboard: uid.to_owned(),
                    panel: p["title"].as_str().unwrap_or("").to_owned(),
                    ref_id: t["refId"].as_str().unwrap_or("").to_owned(),
                    datasource: ds["uid"].as_str().unwrap_or("").to_owned(),
                    datasource_type: ds["type"].as_str().unwrap_or("").to_owned(),
                    text: text.unwrap_or("").to_owned(),
                    min_interval: p["interval"].as_str().map(|s| {
                        humantime::parse_duration(s).expect("panel interval is a duration")
                    }),
                });
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &dashboard["panels"],
        dashboard["uid"].as_str().unwrap_or(""),
        &mut out,
    );
    out
}

/// Grafana's `gtime.RoundInterval`: a raw interval rounded to a "nice" one.
pub fn round_interval(d: Duration) -> Duration {
    let ms = d.as_millis();
    let table: [(u128, u64); 27] = [
        (10, 1),
        (15, 10),
        (35, 20),
        (75, 50),
        (150, 100),
        (350, 200),
        (750, 500),
        (1_500, 1_000),
        (3_500, 2_000),
        (7_500, 5_000),
        (12_500, 10_000),
        (17_500, 15_000),
        (25_000, 20_000),
        (45_000, 30_000),
        (90_000, 60_000),
        (210_000, 120_000),
        (450_000, 300_000),
        (750_000, 600_000),
        (1_050_000, 900_000),
        (1_500_000, 1_200_000),
        (2_700_000, 1_800_000),
        (5_400_000, 3_600_000),
        (9_000_000, 7_200_000),
        (16_200_000, 10_800_000),
        (32_400_000, 21_600_000),
        (86_400_000, 43_200_000),
        (604_800_000, 86_400_000),
    ];
    for (upto, nice) in table {
        if ms <= upto {
            return Duration::from_millis(nice);
        }
    }
    if ms <= 1_814_400_000 {
        return Duration::from_millis(604_800_000);
    }
    Duration::from_millis(2_592_000_000)
}

/// The interval of a panel: range / max data points, rounded, at least `min` (the panel's
/// `interval`, else the datasource's `timeInterval`).
pub fn panel_interval(range: Duration, min: Duration) -> Duration {
    let raw = range / u32::try_from(MAX_DATA_POINTS).expect("small");
    round_interval(raw).max(min)
}

/// Grafana's `gtime.FormatInterval`: the largest whole unit only (`10s`, `1m`, `5m`, `1h`, `1d`).
pub fn format_interval(d: Duration) -> String {
    let ms = d.as_millis();
    let units: [(u128, &str); 5] = [
        (31_536_000_000, "y"),
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
    ];
    for (size, unit) in units {
        if ms >= size {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// The frontend's `escapeRegex` for a variable value inside a regex literal: `\ ^ $ * + ? .
/// ( ) | [ ] { } /` are escaped; a value that parses as a number is left as is.
pub fn escape_regex(v: &str) -> String {
    if v.parse::<f64>().is_ok() {
        return v.to_owned();
    }
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        if "\\^$*+?.()|[]{}/".contains(c) {
            s.push('\\');
        }
        s.push(c);
    }
    s
}

/// A multi-value dashboard variable's selection as Grafana interpolates it into an InfluxQL
/// regex (wire.md §2.3, §2.12 examples 1–3): `(a|b)`, one value → `(a)`, each escaped;
/// "All" with an `allValue` → that value as is.
#[derive(Debug, Clone)]
pub enum VarValue {
    Values(Vec<String>),
    All(String),
}

impl VarValue {
    fn regex_format(&self) -> String {
        match self {
            VarValue::All(all) => all.clone(),
            VarValue::Values(v) => format!(
                "({})",
                v.iter()
                    .map(|x| escape_regex(x))
                    .collect::<Vec<_>>()
                    .join("|")
            ),
        }
    }
}

/// An InfluxQL panel query as Grafana sends it (wire.md §2.3): variables first (frontend), then
/// `$timeFilter`, `$__interval_ms`, `$__interval`, `$interval` (backend). The sluice dashboards
/// use variables only inside regex literals, where Grafana applies the regex format.
pub fn influxql(
    text: &str,
    from_ms: i64,
    to_ms: i64,
    interval: Duration,
    vars: &BTreeMap<String, VarValue>,
) -> String {
    let mut q = text.to_owned();
    // Longest names first, so `$device` cannot eat part of `$devices`.
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    for name in names {
        let v = vars[name].regex_format();
        q = q.replace(&format!("${{{name}}}"), &v);
        q = q.replace(&format!("${name}"), &v);
    }
    q = q.replace(
        "$timeFilter",
        &format!("time >= {from_ms}ms and time <= {to_ms}ms"),
    );
    q = q.replace("$__interval_ms", &interval.as_millis().to_string());
    q = q.replace("$__interval", &format_interval(interval));
    q = q.replace("$interval", &format_interval(interval));
    q
}

/// `GET /query?db=<db>&epoch=ms&q=<q>` with the datasource's custom `Authorization: Token`.
pub fn influxql_request(base: &str, db: &str, token: &str, q: &str) -> Request {
    let url = format!(
        "{base}/query?{}",
        form_encode(&[("db", db), ("epoch", "ms"), ("q", q)])
    );
    Request::new("GET", &url)
        .header("User-Agent", USER_AGENT)
        .header("Authorization", &format!("Token {token}"))
        .header("Accept-Encoding", "gzip")
}

/// Go's `time.Time.Format(time.RFC3339Nano)` of a UTC instant in ns (trailing zeros trimmed).
pub fn rfc3339_nano(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    let t = chrono::DateTime::from_timestamp(secs, 0).expect("time in range");
    let mut s = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    if frac != 0 {
        let f = format!("{frac:09}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Go's `time.Duration.String()`: `10s`, `1m0s`, `2m30s`, `1h0m0s`, `200ms`.
pub fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let s = d.as_secs();
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    let frac = d.subsec_millis();
    let secs = if frac == 0 {
        format!("{sec}s")
    } else {
        format!("{sec}.{}s", format!("{frac:03}").trim_end_matches('0'))
    };
    match (h, m) {
        (0, 0) => secs,
        (0, m) => format!("{m}m{secs}"),
        (h, m) => format!("{h}h{m}m{secs}"),
    }
}

/// The datasource settings the Flux macros read.
#[derive(Debug, Clone)]
pub struct FluxSettings {
    pub bucket: String,
    pub default_bucket: String,
    pub organization: String,
}

/// A Flux query as Grafana sends it (wire.md §2.7): every `<word>.<word>` whose second word is
/// a macro name is replaced; `$__interval` / `$__interval_ms` too.
pub fn flux(text: &str, from_ns: i64, to_ns: i64, window: Duration, ds: &FluxSettings) -> String {
    let re = regex::Regex::new(r"([a-zA-Z]+)\.([a-zA-Z]+)").expect("static regex");
    let q = re.replace_all(text, |c: &regex::Captures<'_>| match &c[2] {
        "timeRangeStart" => rfc3339_nano(from_ns),
        "timeRangeStop" => rfc3339_nano(to_ns),
        "windowPeriod" => go_duration(window),
        "bucket" => format!("\"{}\"", ds.bucket),
        "defaultBucket" => format!("\"{}\"", ds.default_bucket),
        "organization" => format!("\"{}\"", ds.organization),
        _ => c[0].to_owned(),
    });
    q.replace("$__interval_ms", &window.as_millis().to_string())
        .replace("$__interval", &format_interval(window))
}

/// `POST /api/v2/query?org=<org>` as influxdb-client-go sends it (Go's json.Marshal escapes
/// `<`, `>`, `&`).
pub fn flux_request(base: &str, org: &str, token: &str, flux: &str) -> Request {
    let body = serde_json::json!({
        "dialect": {"annotations": ["datatype", "group", "default"], "delimiter": ",", "header": true},
        "query": flux,
        "type": "flux",
    })
    .to_string()
    .replace('<', "\\u003c")
    .replace('>', "\\u003e")
    .replace('&', "\\u0026");
    Request::new(
        "POST",
        &format!("{base}/api/v2/query?{}", form_encode(&[("org", org)])),
    )
    .header("User-Agent", "influxdb-client-go/2.14.0 (linux; amd64)")
    .header("Authorization", &format!("Token {token}"))
    .header("Content-Type", "application/json")
    .header("Accept-Encoding", "gzip")
    .body(Body::Fixed(body.into_bytes()))
}

/// A Prometheus panel query as Grafana sends it: `$__rate_interval` (max(interval + scrape
/// interval, 4 × scrape interval)), `$__interval`, and variables (`=~"$x"`: All → `.*`,
/// several → `a|b` regex-escaped).
pub fn promql(
    text: &str,
    interval: Duration,
    scrape: Duration,
    vars: &BTreeMap<String, VarValue>,
) -> String {
    let rate = (interval + scrape).max(scrape * 4);
    let mut q = text.replace("$__rate_interval", &format_interval(rate));
    q = q.replace("$__interval", &format_interval(interval));
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    for name in names {
        let v = match &vars[name] {
            VarValue::All(all) => all.clone(),
            VarValue::Values(v) => v
                .iter()
                .map(|x| escape_regex(x))
                .collect::<Vec<_>>()
                .join("|"),
        };
        q = q
            .replace(&format!("${{{name}}}"), &v)
            .replace(&format!("${name}"), &v);
    }
    q
}
