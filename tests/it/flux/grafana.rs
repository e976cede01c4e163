//! Grafana's Flux requests (wire.md §2.6–2.9, §2.11–2.12) byte for byte, and the answers'
//! shape Grafana and influxdb-client-go need (§2.8, §3.3); the HTTP errors before any answer
//! byte; hostile queries.

use std::time::{Duration, Instant};

use serde_json::json;

use super::data::{self, OTHER_TOKEN, TOKEN, at};
use crate::support::http::{Body, Request, Response};

const GRAFANA_DIALECT: &str =
    r#"{"annotations":["datatype","group","default"],"delimiter":",","header":true}"#;

/// The body Grafana sends: Go's json.Marshal of `queryBody` (HTML-escaped `<`, `>`, `&`).
pub fn grafana_body(flux: &str) -> String {
    let q = serde_json::to_string(flux)
        .expect("json")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    format!(r#"{{"dialect":{GRAFANA_DIALECT},"query":{q},"type":"flux"}}"#)
}

pub fn post(base: &str, token: &str, ctype: &str, body: &str) -> Response {
    Request::new("POST", &format!("{base}/api/v2/query?org=acme"))
        .header("Authorization", &format!("Token {token}"))
        .header("User-Agent", "influxdb-client-go/2.14.0 (linux; amd64)")
        .header("Content-Type", ctype)
        .header("Accept-Encoding", "gzip")
        .body(Body::Fixed(body.as_bytes().to_vec()))
        .send()
        .expect("sluice answers")
}

/// Checks the annotated CSV rules Grafana's client applies; returns the data rows.
fn csv_shape(name: &str, r: &Response) -> Vec<Vec<String>> {
    let text = r.text();
    assert_eq!(r.status, 200, "{name}: {text}");
    assert_eq!(
        r.header("content-type"),
        Some("text/csv; charset=utf-8"),
        "{name}"
    );
    assert!(
        text.ends_with("\r\n\r\n"),
        "{name}: the body ends with an empty line: {text:?}"
    );
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "{name}: every line ends with CRLF"
    );
    let mut rows = Vec::new();
    let mut header: Option<Vec<String>> = None;
    let mut in_block = false;
    for line in text.split("\r\n") {
        if line.is_empty() {
            header = None;
            in_block = false;
            continue;
        }
        let cells: Vec<String> = line.split(',').map(str::to_owned).collect();
        if cells[0].starts_with('#') {
            if !in_block {
                assert_eq!(
                    cells[0], "#datatype",
                    "{name}: a block starts with #datatype"
                );
            }
            in_block = true;
            continue;
        }
        in_block = false;
        match &header {
            None => {
                assert_eq!(cells[..3], ["", "result", "table"], "{name}: header {line}");
                header = Some(cells);
            }
            Some(h) => {
                assert_eq!(cells.len(), h.len(), "{name}: row {line} vs header {h:?}");
                assert!(
                    cells[0].is_empty() && cells[2].parse::<i64>().is_ok(),
                    "{name}: {line}"
                );
                rows.push(cells);
            }
        }
    }
    rows
}

#[test]
fn grafana_flux_requests_succeed() {
    let sluice = data::sluice_loaded();
    let url = sluice.url();
    let json = "application/json";
    // Save & test: buckets() must list at least one bucket (wire.md §2.9).
    let r = post(&url, TOKEN, json, &grafana_body("buckets()"));
    let rows = csv_shape("buckets()", &r);
    assert!(r.text().starts_with("#datatype,string,long,string,string,string,string,long\r\n#group,false,false,false,false,true,false,false\r\n#default,_result,,,,,,\r\n,result,table,name,id,organizationID,retentionPolicy,retentionPeriod\r\n"), "{}", r.text());
    assert_eq!(
        rows.iter().map(|r| r[3].as_str()).collect::<Vec<_>>(),
        ["telegraf"],
        "only the tenant's own bucket"
    );
    // Variable queries (§2.11).
    let schema = "import \"influxdata/influxdb/schema\"\n";
    for (q, want) in [
        (
            format!("{schema}schema.measurements(bucket: \"telegraf\")"),
            vec!["cpu", "interface", "ping"],
        ),
        (
            format!("{schema}schema.tagValues(bucket: \"telegraf\", tag: \"host\")"),
            vec!["web01", "web02"],
        ),
        (
            format!(
                "{schema}schema.measurementTagValues(bucket: \"telegraf\", measurement: \"interface\", tag: \"agent_host\")"
            ),
            vec!["10.0.0.1"],
        ),
        (
            format!(
                "{schema}schema.measurementTagValues(bucket: \"telegraf\", measurement: \"ping\", tag: \"url\")"
            ),
            vec!["1.1.1.1", "8.8.8.8"],
        ),
        (
            format!(
                "{schema}schema.fieldKeys(bucket: \"telegraf\", predicate: (r) => r._measurement == \"ping\")"
            ),
            vec!["average_response_ms", "percent_packet_loss"],
        ),
    ] {
        let r = post(&url, TOKEN, json, &grafana_body(&q));
        let rows = csv_shape(&q, &r);
        assert_eq!(
            rows.iter().map(|r| r[3].as_str()).collect::<Vec<_>>(),
            want,
            "{q}"
        );
    }
    // Dashboard queries (§2.12 #6–#8), with this data set's hour.
    let (start, stop) = (at(0), at(60));
    let dash = [
        format!(
            "from(bucket: \"telegraf\")\n  |> range(start: {start}, stop: {stop})\n  |> filter(fn: (r) => r[\"_measurement\"] == \"cpu\")\n  |> filter(fn: (r) => r[\"_field\"] == \"usage_idle\")\n  |> filter(fn: (r) => r[\"cpu\"] == \"cpu-total\")\n  |> aggregateWindow(every: 10s, fn: mean, createEmpty: false)\n  |> yield(name: \"mean\")"
        ),
        format!(
            "from(bucket: \"telegraf\")\n  |> range(start: {start}, stop: {stop})\n  |> filter(fn: (r) => r._measurement == \"interface\" and r.agent_host == \"10.0.0.1\")\n  |> filter(fn: (r) => r._field == \"ifHCInOctets\" or r._field == \"ifHCOutOctets\")\n  |> derivative(unit: 1s, nonNegative: true)\n  |> map(fn: (r) => ({{ r with _value: r._value * 8.0 }}))\n  |> aggregateWindow(every: 2m0s, fn: mean, createEmpty: false)"
        ),
        format!(
            "from(bucket: \"telegraf\")\n  |> range(start: {start}, stop: {stop})\n  |> filter(fn: (r) => r._measurement == \"ping\" and r._field == \"average_response_ms\")\n  |> filter(fn: (r) => contains(value: r.url, set: [\"8.8.8.8\",\"1.1.1.1\"]))\n  |> aggregateWindow(every: 10s, fn: mean, createEmpty: false)"
        ),
    ];
    let want_rows = [2 * 360, 4 * 30, 360 + 360 - 51];
    for (q, n) in dash.iter().zip(want_rows) {
        let body = grafana_body(q);
        assert!(body.contains("|\\u003e"), "the body carries Go's escapes");
        let r = post(&url, TOKEN, json, &body);
        let rows = csv_shape(q, &r);
        assert_eq!(rows.len(), n, "{q}");
    }
    // Answers of at least 1400 bytes are gzipped for a client that accepts it (InfluxDB 2's
    // gziphandler); decoded, they are the plain answer. `buckets()` is shorter: plain.
    let gz = post(&url, TOKEN, json, &grafana_body(&dash[0]));
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    let plain = Request::new("POST", &format!("{url}/api/v2/query?org=acme"))
        .header("Authorization", &format!("Token {TOKEN}"))
        .header("Content-Type", json)
        .body(Body::Fixed(grafana_body(&dash[0]).into_bytes()))
        .send()
        .expect("sluice answers");
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(gz.text(), plain.text());
    let small = post(&url, TOKEN, json, &grafana_body("buckets()"));
    assert_eq!(small.header("content-encoding"), None, "{}", small.text());
    let text = gz.text();
    assert!(text.starts_with("#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string,string,string\r\n#group,false,false,true,true,false,false,true,true,true,true\r\n#default,mean,,,,,,,,,\r\n,result,table,_start,_stop,_time,_value,_field,_measurement,cpu,host\r\n"), "{}", &text[..400.min(text.len())]);
    // application/vnd.flux, and the python client's dialect (no annotations: plain CSV).
    let r = post(&url, TOKEN, "application/vnd.flux", "buckets()");
    assert!(r.text().starts_with(",result,table,name,id,organizationID,retentionPolicy,retentionPeriod\r\n,_result,0,telegraf,"), "{}", r.text());
    let body = json!({"query": "buckets()", "type": "flux", "dialect": {"header": true, "delimiter": ",", "commentPrefix": "#", "annotations": ["datatype", "group", "default"], "dateTimeFormat": "RFC3339"}, "now": "2024-06-01T00:00:00Z"});
    csv_shape(
        "python dialect",
        &post(&url, TOKEN, json, &body.to_string()),
    );
}

fn error(r: &Response) -> (u16, String, String) {
    let v = r.json();
    (
        r.status,
        v["code"].as_str().unwrap_or("").to_owned(),
        v["message"].as_str().unwrap_or("").to_owned(),
    )
}

#[test]
fn flux_errors_come_before_the_answer_as_json() {
    let sluice = data::sluice_loaded();
    let url = sluice.url();
    let json = "application/json";
    let q = |s: &str| grafana_body(s);
    let r = Request::new("POST", &format!("{url}/api/v2/query?org=acme"))
        .header("Content-Type", json)
        .body(Body::Fixed(q("buckets()").into_bytes()))
        .send()
        .expect("answer");
    assert_eq!(r.status, 401);
    let r = Request::new("POST", &format!("{url}/api/v2/query"))
        .header("Authorization", &format!("Token {TOKEN}"))
        .body(Body::Fixed(q("buckets()").into_bytes()))
        .send()
        .expect("answer");
    assert_eq!(error(&r).0, 400, "org is required");
    assert!(error(&r).2.contains("Please provide either orgID or org"));
    let (status, code, msg) = error(&post(
        &url,
        TOKEN,
        json,
        &q("from(bucket: \"telegraf\") |> range(start: -1h) |> bogus()"),
    ));
    assert_eq!((status, code.as_str()), (400, "invalid"));
    assert!(
        msg.starts_with("compilation failed: ") && msg.contains("\"bogus\""),
        "{msg}"
    );
    for bucket in ["secret", "nope"] {
        let (status, code, msg) = error(&post(
            &url,
            TOKEN,
            json,
            &q(&format!("from(bucket: \"{bucket}\") |> range(start: -1h)")),
        ));
        assert_eq!((status, code.as_str()), (404, "not found"), "{msg}");
        assert_eq!(
            msg,
            format!("failed to initialize execute state: could not find bucket \"{bucket}\"")
        );
    }
    // The other tenant sees its own bucket and not acme's.
    let r = post(&url, OTHER_TOKEN, json, &q("buckets()"));
    assert!(
        r.text().contains(",secret,") && !r.text().contains("telegraf"),
        "{}",
        r.text()
    );
    let (status, ..) = error(&post(
        &url,
        TOKEN,
        json,
        r#"{"query": "buckets()", "dialect": {"annotations": ["bogus"]}}"#,
    ));
    assert_eq!(status, 400);
    let (status, ..) = error(&post(&url, TOKEN, json, "{not json"));
    assert_eq!(status, 400);
    let (status, ..) = error(&post(
        &url,
        TOKEN,
        json,
        r#"{"query": "buckets()", "type": "influxql"}"#,
    ));
    assert_eq!(status, 400);
    let r = Request::new("GET", &format!("{url}/api/v2/query?org=acme"))
        .header("Authorization", &format!("Token {TOKEN}"))
        .send()
        .expect("answer");
    assert_eq!(r.status, 405);
    // Hostile queries: each a clean error, quickly.
    let started = Instant::now();
    let big = format!("x = \"{}\"\nbuckets()", "a".repeat(1 << 20));
    let (status, ..) = error(&post(&url, TOKEN, "application/vnd.flux", &big));
    assert_eq!(status, 413, "1 MB of query text");
    let deep = format!(
        "x = {}1{}\nbuckets()",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    let (status, _, msg) = error(&post(&url, TOKEN, "application/vnd.flux", &deep));
    assert_eq!(status, 400);
    assert!(msg.contains("nested deeper"), "{msg}");
    let bomb = format!(
        "from(bucket: \"telegraf\") |> range(start: {}, stop: {}) |> filter(fn: (r) => r.host =~ /((a{{100}}){{100}}){{100}}/)",
        at(0),
        at(60)
    );
    let (status, _, msg) = error(&post(&url, TOKEN, "application/vnd.flux", &bomb));
    assert_eq!(status, 400);
    assert!(msg.contains("too large"), "{msg}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "hostile queries took {:?}",
        started.elapsed()
    );
}

/// Fronting mode: `buckets()` (Grafana's Save & test) is answered by sluice itself from the
/// tenant's configured buckets, without asking the upstream (here, nothing listens).
#[test]
fn fronting_mode_lists_the_tenants_buckets_itself() {
    let config = crate::support::sluice::SluiceConfig::new()
        .upstream("http://127.0.0.1:9", "v2")
        .simple_tenant("acme", TOKEN, &["telegraf"])
        .to_toml();
    let sluice = crate::support::sluice::Sluice::start(&config);
    let r = post(
        &sluice.url(),
        TOKEN,
        "application/json",
        &grafana_body("buckets()"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    let rows: Vec<&str> = text.lines().map(str::trim_end).collect();
    assert!(
        rows.iter().any(|l| l.starts_with(",,0,telegraf,")),
        "{rows:?}"
    );
    assert_eq!(
        rows.iter().filter(|l| l.starts_with(",,0,")).count(),
        1,
        "{rows:?}"
    );
}
