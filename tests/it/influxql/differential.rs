//! The differential test: the same data set through sluice's write API and into InfluxDB
//! 1.6.7, then every statement of `statements` asked of both; the answers must be the same
//! apart from float rounding and the documented differences (docs/influxql-differences.md).
//!
//! Owns: running the statement list against both servers, applying a statement's documented
//! difference, and the failure report. Does not own: the list, the data, the comparison rule.

use std::fmt::Write as _;

use serde_json::Value;

use super::compare::{Mismatch, diff};
use super::dataset::{TenantData, tenant_names};
use super::request::{Answer, Check, Stmt};

/// One statement that did not match.
#[derive(Debug)]
pub struct Failure {
    pub stmt: Stmt,
    pub why: String,
    pub mismatches: Vec<Mismatch>,
    pub total: usize,
}

/// Statements whose InfluxDB answer is not what the statement expects (a broken statement
/// or data set, not a sluice bug): each with InfluxDB's answer.
pub fn bad_references(stmts: &[Stmt], influx: &str) -> Vec<String> {
    stmts
        .iter()
        .filter_map(|st| {
            let swap = match &st.check {
                Check::AsAbsent { foreign, absent } => Some((foreign.as_str(), absent.as_str())),
                _ => None,
            };
            let a = match Answer::send(&st.request(influx, None, swap)) {
                Ok(a) => a,
                Err(e) => return Some(format!("{}: {e}", st.name)),
            };
            (!a.meets(st.expect)).then(|| {
                format!(
                    "{} (expects {:?}): {} {}",
                    st.name,
                    st.expect,
                    a.status,
                    cut(&a.text, 300)
                )
            })
        })
        .collect()
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() > n {
        format!("{}…", s.chars().take(n).collect::<String>())
    } else {
        s.to_owned()
    }
}

/// Asks both servers every statement; returns those that differ.
pub fn run(stmts: &[Stmt], influx: &str, sluice: &str, data: &[TenantData]) -> Vec<Failure> {
    stmts
        .iter()
        .filter_map(|st| one(st, influx, sluice, data).err().map(|f| *f))
        .collect()
}

fn one(st: &Stmt, influx: &str, sluice: &str, data: &[TenantData]) -> Result<(), Box<Failure>> {
    let fail = |why: String, mismatches: Vec<Mismatch>, total: usize| {
        Box::new(Failure {
            stmt: st.clone(),
            why,
            mismatches,
            total,
        })
    };
    let token = &data[st.tenant].token;
    let swap = match &st.check {
        Check::AsAbsent { foreign, absent } => Some((foreign.as_str(), absent.as_str())),
        _ => None,
    };
    let want = Answer::send(&st.request(influx, None, swap)).map_err(|e| fail(e, vec![], 0))?;
    let got =
        Answer::send(&st.request(sluice, Some(token), None)).map_err(|e| fail(e, vec![], 0))?;
    let mut want_json = want.json.clone();
    let mut got_json = got.json.clone();
    match &st.check {
        Check::Same => {}
        Check::TiesUnordered => {
            sort_ties(&mut want_json);
            sort_ties(&mut got_json);
        }
        Check::AsAbsent { foreign, absent } => {
            let text = want.text.replace(absent.as_str(), foreign.as_str());
            want_json = serde_json::from_str(&text).unwrap_or(Value::Null);
        }
        Check::OwnDatabases => {
            let own: Vec<String> = vec![tenant_names(st.tenant).2];
            filter_databases(&mut want_json, &own);
        }
    }
    if got.status != want.status {
        return Err(fail(
            format!(
                "status: influxdb {}, sluice {} (sluice body: {})",
                want.status,
                got.status,
                cut(&got.text, 400)
            ),
            vec![],
            1,
        ));
    }
    // Grafana asks for gzip: InfluxDB gzips a 200 answer and nothing else.
    if got.content_encoding != want.content_encoding {
        return Err(fail(
            format!(
                "Content-Encoding: influxdb {:?}, sluice {:?}",
                want.content_encoding, got.content_encoding
            ),
            vec![],
            1,
        ));
    }
    if !got.content_type.starts_with("application/json") {
        return Err(fail(
            format!(
                "sluice Content-Type {:?}, want application/json",
                got.content_type
            ),
            vec![],
            1,
        ));
    }
    if got_json.is_null() {
        return Err(fail(
            format!("sluice body is not JSON: {}", cut(&got.text, 400)),
            vec![],
            1,
        ));
    }
    let (m, total) = diff(&want_json, &got_json);
    if total > 0 {
        return Err(fail("answers differ".into(), m, total));
    }
    Ok(())
}

/// Sorts the rows of every series that share a `time` by their JSON text.
fn sort_ties(v: &mut Value) {
    let Some(results) = v["results"].as_array_mut() else {
        return;
    };
    for r in results {
        let Some(series) = r["series"].as_array_mut() else {
            continue;
        };
        for s in series {
            let Some(rows) = s["values"].as_array_mut() else {
                continue;
            };
            // Stable sort by time only, then each run of equal times by text.
            let mut start = 0;
            while start < rows.len() {
                let t = rows[start][0].clone();
                let end = start + rows[start..].iter().take_while(|r| r[0] == t).count();
                rows[start..end].sort_by_key(Value::to_string);
                start = end;
            }
        }
    }
}

/// Keeps only `own` in a `SHOW DATABASES` answer.
fn filter_databases(v: &mut Value, own: &[String]) {
    let Some(series) = v["results"][0]["series"].as_array_mut() else {
        return;
    };
    for s in series {
        if let Some(values) = s["values"].as_array_mut() {
            values.retain(|row| row[0].as_str().is_some_and(|n| own.iter().any(|o| o == n)));
        }
        if s["values"].as_array().is_some_and(Vec::is_empty) {
            // InfluxDB omits `values` of an empty series.
            if let Some(o) = s.as_object_mut() {
                o.remove("values");
            }
        }
    }
}

/// The failure report: every failing statement with its request and first mismatches.
pub fn report(failures: &[Failure], asked: usize) -> String {
    let mut out = format!(
        "{} of {asked} statements differ from InfluxDB 1.6.7:\n",
        failures.len()
    );
    for f in failures {
        let st = &f.stmt;
        let _ = writeln!(
            out,
            "\n--- {} (tenant {}, {:?}, db={:?} rp={:?} epoch={:?})\n    q: {}\n    {}{}",
            st.name,
            st.tenant,
            st.method,
            st.db,
            st.rp,
            st.epoch,
            st.q,
            f.why,
            if f.total > f.mismatches.len() {
                format!(" ({} differences, first {}:)", f.total, f.mismatches.len())
            } else {
                String::new()
            }
        );
        for m in &f.mismatches {
            let _ = writeln!(
                out,
                "    at {}\n       influxdb: {}\n       sluice:   {}",
                m.path, m.influx, m.sluice
            );
        }
    }
    let names: Vec<&str> = failures.iter().map(|f| f.stmt.name.as_str()).collect();
    let _ = writeln!(out, "\nmismatching statements: {names:?}");
    out
}
