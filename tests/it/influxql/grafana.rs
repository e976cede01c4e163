//! Grafana's InfluxQL requests (wire.md §2.5, §2.11, §2.12 #1–#5) against sluice in embedded
//! mode, each answer held to the exact shape Grafana's parsers need (§2.4) and compared with
//! InfluxDB 1.6.7's on the same (small) data set.
//!
//! Owns: the shape rules (non-empty `results`, `statement_id`, `time` as epoch-ms numbers in
//! `columns[0]`, key order `name, tags, columns, values`, the exact empty answer) and the
//! request list. The shape rules are also applied to InfluxDB's answers, so a wrong rule fails
//! here rather than passing vacuously.

use serde_json::Value;

use super::compare::{diff, key_orders};
use super::dataset::{self, TenantData};
use super::load;
use super::request::{Answer, Check, Stmt, ms, s, tf, w};
use super::{report, require_query_engine, sluice_config};
use crate::support::influxdb::{InfluxOpts, InfluxV1};
use crate::support::sluice::Sluice;

/// What Grafana does with an answer.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// A time series panel: `time` first, epoch-ms numbers in `[from, to]`.
    Series { from_ms: i64, to_ms: i64 },
    /// A variable / metadata query: these columns; values taken from `col` (strings).
    Show {
        columns: &'static [&'static str],
        col: usize,
    },
    /// No data: exactly `{"results":[{"statement_id":0}]}`.
    Empty,
}

fn shape(a: &Answer, kind: Kind) -> Result<(), String> {
    if a.status != 200 {
        return Err(format!("status {}", a.status));
    }
    if !a.content_type.starts_with("application/json") {
        return Err(format!("Content-Type {:?}", a.content_type));
    }
    if let Kind::Empty = kind {
        let compact: String = a.text.split_whitespace().collect();
        return (compact == r#"{"results":[{"statement_id":0}]}"#)
            .then_some(())
            .ok_or_else(|| {
                format!(
                    "empty answer must be exactly {{\"results\":[{{\"statement_id\":0}}]}}, got {}",
                    a.text.trim()
                )
            });
    }
    let results = a.json["results"]
        .as_array()
        .filter(|r| !r.is_empty())
        .ok_or("`results` must be a non-empty array")?;
    let r0 = &results[0];
    if r0["statement_id"] != 0 {
        return Err(format!("results[0].statement_id is {}", r0["statement_id"]));
    }
    if let Some(e) = r0.get("error") {
        return Err(format!("results[0].error: {e}"));
    }
    let series = r0["series"]
        .as_array()
        .filter(|s| !s.is_empty())
        .ok_or("results[0].series must be a non-empty array")?;
    let orders = key_orders(&a.text)?;
    for (i, s) in series.iter().enumerate() {
        let path = format!("$.results[0].series[{i}]");
        let keys = &orders
            .iter()
            .find(|(p, _)| *p == path)
            .ok_or_else(|| format!("{path}: no object"))?
            .1;
        let want: Vec<&str> = ["name", "tags", "columns", "values", "partial"]
            .into_iter()
            .filter(|k| keys.iter().any(|x| x == k))
            .collect();
        if keys.iter().map(String::as_str).collect::<Vec<_>>() != want {
            return Err(format!(
                "{path}: keys {keys:?}, want in order name, tags, columns, values"
            ));
        }
        let cols: Vec<&str> = s["columns"]
            .as_array()
            .ok_or(format!("{path}.columns missing"))?
            .iter()
            .map(|c| c.as_str().unwrap_or("?"))
            .collect();
        let values = s["values"]
            .as_array()
            .filter(|v| !v.is_empty())
            .ok_or(format!("{path}.values must be non-empty"))?;
        for row in values {
            let row = row
                .as_array()
                .ok_or(format!("{path}: row {row} is not an array"))?;
            if row.len() != cols.len() {
                return Err(format!("{path}: row {row:?} has not {} cells", cols.len()));
            }
        }
        match kind {
            Kind::Series { from_ms, to_ms } => {
                if cols.first() != Some(&"time") {
                    return Err(format!(
                        "{path}: columns[0] is {:?}, want \"time\"",
                        cols.first()
                    ));
                }
                for row in values {
                    let t = row[0].as_i64().ok_or(format!(
                        "{path}: time {} is not an integer (epoch=ms)",
                        row[0]
                    ))?;
                    // A GROUP BY time window may start before `from` (it is aligned).
                    if t < from_ms - 3_600_000 || t > to_ms {
                        return Err(format!("{path}: time {t} is outside the asked range"));
                    }
                }
            }
            Kind::Show { columns, col } => {
                if cols != columns {
                    return Err(format!("{path}: columns {cols:?}, want {columns:?}"));
                }
                if let Some(bad) = values.iter().find(|r| !r[col].is_string()) {
                    return Err(format!("{path}: row {bad} has no string in column {col}"));
                }
            }
            Kind::Empty => unreachable!("handled above"),
        }
    }
    Ok(())
}

fn requests() -> Vec<(Stmt, Kind)> {
    let win = w();
    let series = Kind::Series {
        from_ms: ms(10, 0),
        to_ms: ms(11, 0),
    };
    let names = Kind::Show {
        columns: &["name"],
        col: 0,
    };
    let tag_values = Kind::Show {
        columns: &["key", "value"],
        col: 1,
    };
    vec![
        // §2.5 / §2.12 #5: the health check, GET and POST.
        (s("health GET", "SHOW measurements"), names),
        (s("health POST", "SHOW measurements").post(), names),
        // §2.11 variable and metadata queries.
        (s("var databases", "SHOW DATABASES").check(Check::OwnDatabases), names),
        (s("var measurements", "SHOW MEASUREMENTS"), names),
        (s("var measurements limit", "SHOW MEASUREMENTS LIMIT 100"), names),
        (s("var measurements regex", "SHOW MEASUREMENTS WITH MEASUREMENT =~ /(?i)cp/ LIMIT 100"), names),
        (s("var tag keys", "SHOW TAG KEYS FROM \"cpu\""), Kind::Show { columns: &["tagKey"], col: 0 }),
        (s("var tag values", "SHOW TAG VALUES WITH KEY = \"host\""), tag_values),
        (s("var tag values from", "SHOW TAG VALUES FROM \"cpu\" WITH KEY = \"host\""), tag_values),
        (s("var tag values where", "SHOW TAG VALUES FROM \"interface\" WITH KEY = \"ifName\" WHERE \"agent_host\" =~ /^(10\\.0\\.0\\.1)$/"), tag_values),
        (s("var tag values time", format!("SHOW TAG VALUES FROM \"ping\" WITH KEY = \"url\" WHERE {win}")), tag_values),
        (s("var tag values cpu-total", "SHOW TAG VALUES FROM \"cpu\" WITH KEY = \"host\" WHERE \"cpu\" = 'cpu-total'"), tag_values),
        (s("var field keys", "SHOW FIELD KEYS FROM \"cpu\""), Kind::Show { columns: &["fieldKey", "fieldType"], col: 0 }),
        (s("var field keys rp", "SHOW FIELD KEYS FROM \"autogen\".\"cpu\""), Kind::Show { columns: &["fieldKey", "fieldType"], col: 0 }),
        (s("var retention policies", format!("SHOW RETENTION POLICIES on \"{}\"", dataset::tenant_names(0).2)), Kind::Show { columns: &["name", "duration", "shardGroupDuration", "replicaN", "default"], col: 0 }),
        // §2.12 #1–#4: dashboard panels.
        (s("panel ping latency", format!("SELECT mean(\"average_response_ms\") FROM \"ping\" WHERE \"url\" =~ /^(8\\.8\\.8\\.8|1\\.1\\.1\\.1)$/ AND {win} GROUP BY time(10s), \"url\" fill(null)")), series),
        (s("panel ping loss", format!("SELECT max(\"percent_packet_loss\") AS \"loss\" FROM \"ping\" WHERE \"url\" =~ /^(8\\.8\\.8\\.8)$/ AND {win} GROUP BY time(1m), \"url\" fill(none)")), series),
        (s("panel interface bits/s", format!("SELECT non_negative_derivative(mean(\"ifHCInOctets\"), 1s) *8 AS \"in\", non_negative_derivative(mean(\"ifHCOutOctets\"), 1s) *8 AS \"out\" FROM \"interface\" WHERE (\"agent_host\" =~ /^(10\\.0\\.0\\.1)$/ AND \"ifName\" =~ /^(Gi1\\/0\\/1|Gi1\\/0\\/2)$/) AND {win} GROUP BY time(30s), \"ifName\" fill(null)")), series),
        (s("panel cpu rp", format!("SELECT mean(\"usage_idle\") FROM \"autogen\".\"cpu\" WHERE (\"host\" = 'web01' AND \"cpu\" = 'cpu-total') AND {win} GROUP BY time(10s) fill(null)")).rp("autogen"), series),
        (s("panel cpu POST", format!("SELECT mean(\"usage_idle\") FROM \"cpu\" WHERE (\"host\" = 'web01' AND \"cpu\" = 'cpu-total') AND {win} GROUP BY time(1m) fill(null)")).post().token_auth(), series),
        (s("panel empty range", format!("SELECT mean(\"usage_idle\") FROM \"cpu\" WHERE {} GROUP BY time(10s) fill(null)", tf(-30, 0, -29, 0))).empty(), Kind::Empty),
    ]
}

#[test]
fn grafana_requests_have_grafanas_shape() {
    let data = dataset::generate(&dataset::Spec::small());
    let Some(influx) = InfluxV1::try_start(InfluxOpts::default()) else {
        return;
    };
    load::into_influx(&influx, &data);
    let mut sluice = Sluice::start(&sluice_config(&data));
    let st = load::into_sluice(&mut sluice, &data, &[]);
    report(&format!("grafana: {} lines loaded into both", st.lines));
    let reqs = requests();
    // The rules hold for InfluxDB's answers (else the rule, not sluice, is wrong).
    for (stmt, kind) in &reqs {
        let a = Answer::send(&stmt.request(&influx.url(), None, None)).expect("influxd answers");
        if let Err(e) = shape(&a, *kind) {
            panic!(
                "{}: InfluxDB's own answer breaks the shape rule: {e}\n{}",
                stmt.name, a.text
            );
        }
    }
    let _ = require_query_engine(&sluice, &data);
    let mut problems = Vec::new();
    for (stmt, kind) in &reqs {
        let token = &data[stmt.tenant].token;
        let got = match Answer::send(&stmt.request(&sluice.url(), Some(token), None)) {
            Ok(a) => a,
            Err(e) => {
                problems.push(format!("{}: {e}", stmt.name));
                continue;
            }
        };
        if let Err(e) = shape(&got, *kind) {
            problems.push(format!(
                "{} ({}): {e}\n    sluice: {}",
                stmt.name,
                stmt.q,
                cut(&got.text)
            ));
            continue;
        }
        let want = Answer::send(&stmt.request(&influx.url(), None, None)).expect("influxd answers");
        let mut want_json = want.json.clone();
        if stmt.check == Check::OwnDatabases {
            own_databases_only(&mut want_json, &data[stmt.tenant]);
        }
        if got.content_encoding != want.content_encoding {
            problems.push(format!(
                "{}: Content-Encoding: influxdb {:?}, sluice {:?}",
                stmt.name, want.content_encoding, got.content_encoding
            ));
        }
        let (m, n) = diff(&want_json, &got.json);
        if n > 0 {
            problems.push(format!(
                "{} ({}): {n} differences from InfluxDB, first at {}: influxdb {} sluice {}",
                stmt.name, stmt.q, m[0].path, m[0].influx, m[0].sluice
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} Grafana requests fail:\n{}",
        problems.len(),
        reqs.len(),
        problems.join("\n")
    );
}

fn own_databases_only(v: &mut Value, t: &TenantData) {
    if let Some(rows) = v["results"][0]["series"][0]["values"].as_array_mut() {
        rows.retain(|r| r[0] == t.bucket.as_str());
    }
}

fn cut(s: &str) -> String {
    s.chars().take(400).collect()
}

#[test]
fn shape_rules_reject_what_grafana_cannot_parse() {
    let answer = |text: &str| Answer {
        status: 200,
        content_type: "application/json".into(),
        content_encoding: None,
        text: text.into(),
        json: serde_json::from_str(text).unwrap_or(Value::Null),
    };
    let k = Kind::Series {
        from_ms: 1000,
        to_ms: 5000,
    };
    let good = r#"{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"a"},"columns":["time","mean"],"values":[[2000,1.5],[3000,null]]}]}]}"#;
    assert_eq!(shape(&answer(good), k), Ok(()));
    let bad = [
        r#"{"results":[]}"#,
        r#"{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","mean"],"values":[["1970-01-01T00:00:02Z",1.5]]}]}]}"#,
        r#"{"results":[{"statement_id":0,"series":[{"name":"cpu","values":[[2000,1.5]],"columns":["time","mean"]}]}]}"#,
        r#"{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["mean","time"],"values":[[1.5,2000]]}]}]}"#,
        r#"{"results":[{"statement_id":0,"error":"database not found: x"}]}"#,
    ];
    for b in bad {
        assert!(shape(&answer(b), k).is_err(), "accepted {b}");
    }
    assert!(shape(&answer(r#"{"results":[{"statement_id":0}]}"#), Kind::Empty).is_ok());
    assert!(
        shape(
            &answer(r#"{"results":[{"statement_id":0,"series":[]}]}"#),
            Kind::Empty
        )
        .is_err()
    );
}
