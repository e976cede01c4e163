//! The InfluxDB 1.x `/query` JSON answer (wire.md §2.4, §3.5).
//!
//! Owns: encoding statement results (`Series`, statement errors, messages) as InfluxDB 1.x
//! writes them: `{"results":[{"statement_id":0,"series":[{"name","tags","columns","values",
//! "partial"}],"messages":[…],"partial","error"}]}` + `\n`, keys in that order, empty parts
//! omitted; times as epoch integers (`epoch=`) or RFC3339Nano strings; chunked answers as one
//! JSON document per chunk. Does not own: computing the results.

use std::fmt;
use std::fmt::Write as _;
use std::sync::Arc;

use rayon::prelude::*;
use serde_json::{Value, json};

use crate::query::numfmt::{push_int, push_json_float};
use crate::query::{Datum, Series};

/// How `time` values are written (`epoch` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Epoch {
    /// No `epoch`: RFC3339Nano strings.
    Rfc3339,
    /// Integers: nanoseconds divided by this.
    Divisor(i64),
}

impl Epoch {
    /// InfluxDB's `convertToEpoch`: `u`/`µ` µs, `ms`, `s`, `m`, `h`; anything else (`n`, `ns`,
    /// and also `us`, which 1.x does not know) nanoseconds. Absent or empty: RFC3339.
    pub fn from_param(p: Option<&str>) -> Self {
        match p {
            None | Some("") => Self::Rfc3339,
            Some("u" | "µ") => Self::Divisor(1_000),
            Some("ms") => Self::Divisor(1_000_000),
            Some("s") => Self::Divisor(1_000_000_000),
            Some("m") => Self::Divisor(60_000_000_000),
            Some("h") => Self::Divisor(3_600_000_000_000),
            Some(_) => Self::Divisor(1),
        }
    }
}

/// One statement's outcome.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatementResult {
    pub statement_id: usize,
    pub series: Vec<Series>,
    /// `(level, text)` messages, e.g. InfluxDB's read-only-context warning.
    pub messages: Vec<(String, String)>,
    pub error: Option<String>,
    pub partial: bool,
    /// The statement's `tz()`: RFC3339 times are written in that zone's offset.
    pub tz: Option<chrono_tz::Tz>,
    /// The series already written as JSON, comma-separated (`show_values::tag_values_json`);
    /// when set, `series` is empty and this is written in its place.
    pub series_json: Option<String>,
}

impl StatementResult {
    pub fn ok(statement_id: usize, series: Vec<Series>) -> Self {
        Self {
            statement_id,
            series,
            ..Self::default()
        }
    }

    pub fn error(statement_id: usize, message: impl Into<String>) -> Self {
        Self {
            statement_id,
            error: Some(message.into()),
            ..Self::default()
        }
    }
}

/// RFC3339 with nanoseconds, trailing zeros trimmed (Go's `time.RFC3339Nano`), in UTC.
pub fn rfc3339_nano(ns: i64) -> String {
    rfc3339_nano_in(ns, None)
}

/// RFC3339Nano in `tz` (`Z` when its offset is zero, else `+01:00`), as Go writes a time
/// carrying a location.
pub fn rfc3339_nano_in(ns: i64, tz: Option<chrono_tz::Tz>) -> String {
    use chrono::{Offset, TimeZone};
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    let Some(dt) = chrono::DateTime::from_timestamp(secs, 0) else {
        return ns.to_string();
    };
    let (mut out, offset) = match tz {
        Some(tz) => {
            let local = tz.from_utc_datetime(&dt.naive_utc());
            let off = local.offset().fix().local_minus_utc();
            (local.format("%Y-%m-%dT%H:%M:%S").to_string(), off)
        }
        None => (dt.format("%Y-%m-%dT%H:%M:%S").to_string(), 0),
    };
    if frac != 0 {
        let digits = format!("{frac:09}");
        let _ = write!(out, ".{}", digits.trim_end_matches('0'));
    }
    if offset == 0 {
        out.push('Z');
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let a = offset.abs();
        let _ = write!(out, "{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60);
    }
    out
}

/// A float as Go's `encoding/json` writes it: shortest round-trip digits, no `.0` on integral
/// values, exponent form (`1e+21`, `1e-7`) outside `[1e-6, 1e21)`. NaN and infinities
/// (which InfluxDB cannot store) are null.
pub fn go_float(f: f64) -> String {
    let mut out = String::new();
    push_json_float(&mut out, f);
    out
}

fn datum(d: &Datum, epoch: Epoch, tz: Option<chrono_tz::Tz>) -> Value {
    match d {
        Datum::Null => Value::Null,
        Datum::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Datum::Integer(i) => json!(i),
        Datum::Unsigned(u) => json!(u),
        Datum::Boolean(b) => json!(b),
        Datum::String(s) => json!(&**s),
        Datum::Time(ns) => match epoch {
            Epoch::Rfc3339 => json!(rfc3339_nano_in(*ns, tz)),
            // Go's integer division truncates toward zero.
            Epoch::Divisor(d) => json!(ns / d),
        },
    }
}

/// A JSON string literal, written where it is formatted (no intermediate `String`).
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        if needs_no_escape(s) {
            f.write_char('"')?;
            f.write_str(s)?;
            return f.write_char('"');
        }
        f.write_str(&Value::String(s.to_owned()).to_string())
    }
}

fn needs_no_escape(s: &str) -> bool {
    // Without an early exit: the loop is vectorised, and cells are short.
    !s.bytes().fold(false, |bad, b| {
        bad | (b < 0x20) | (b == b'"') | (b == b'\\')
    })
}

fn quoted(s: &str) -> Quoted<'_> {
    Quoted(s)
}

/// `quoted(s)` appended to `out`; the common case (nothing to escape) without formatting.
fn push_quoted(out: &mut String, s: &str) {
    if needs_no_escape(s) {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        let _ = write!(out, "{}", Quoted(s));
    }
}

/// Appends to `out` (series separated by commas) a `SHOW TAG VALUES` series as
/// `write_series` writes it: `name`, columns `key` and `value`, and a row per value of each
/// `(key, values)` page, without building the rows. Nothing when the pages hold no value,
/// as a series without rows is left out.
pub(crate) fn push_key_values(out: &mut String, name: &str, pages: &[(&str, &[Arc<str>])]) {
    if pages.iter().all(|(_, values)| values.is_empty()) {
        return;
    }
    if !out.is_empty() {
        out.push(',');
    }
    out.push('{');
    if !name.is_empty() {
        out.push_str("\"name\":");
        push_quoted(out, name);
        out.push(',');
    }
    out.push_str("\"columns\":[\"key\",\"value\"],\"values\":[");
    let mut first = true;
    for (key, values) in pages {
        let mut quoted_key = String::new();
        push_quoted(&mut quoted_key, key);
        out.reserve(values.iter().map(|v| v.len() + quoted_key.len() + 6).sum());
        for v in *values {
            if !first {
                out.push(',');
            }
            first = false;
            out.push('[');
            out.push_str(&quoted_key);
            out.push(',');
            push_quoted(out, v);
            out.push(']');
        }
    }
    out.push_str("]}");
}

/// Rows from which a statement's series are written in parallel (rayon's pool).
const PARALLEL_ROWS: usize = 8192;

// Objects are written by hand: InfluxDB's key order (`name, tags, columns, values`) is what
// Grafana's streaming parser relies on, and serde_json's map sorts keys.
fn write_series(out: &mut String, s: &Series, epoch: Epoch, tz: Option<chrono_tz::Tz>) {
    out.push('{');
    if !s.name.is_empty() {
        let _ = write!(out, "\"name\":{},", quoted(&s.name));
    }
    if !s.tags.is_empty() {
        out.push_str("\"tags\":{");
        for (i, (k, v)) in s.tags.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{}:{}", quoted(k), quoted(v));
        }
        out.push_str("},");
    }
    let _ = write!(out, "\"columns\":{}", json!(s.columns));
    if !s.values.is_empty() {
        out.push_str(",\"values\":[");
        let rows_start = out.len();
        for (i, row) in s.values.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            if i == 1 {
                // Rows of a series are about as long as its first.
                out.reserve((out.len() - rows_start + 8) * (s.values.len() - 1));
            }
            out.push('[');
            for (j, d) in row.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                // The common cells are written in place; the rest through serde_json.
                match d {
                    Datum::Float(f) => push_json_float(out, *f),
                    Datum::Null => out.push_str("null"),
                    Datum::Integer(i) => push_int(out, *i),
                    Datum::Unsigned(u) => push_int(out, *u),
                    Datum::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
                    Datum::Time(ns) => match epoch {
                        // Go's integer division truncates toward zero.
                        Epoch::Divisor(div) => push_int(out, ns / div),
                        Epoch::Rfc3339 => {
                            let _ = write!(out, "{}", datum(d, epoch, tz));
                        }
                    },
                    Datum::String(s) => push_quoted(out, s),
                }
            }
            out.push(']');
        }
        out.push(']');
    }
    if s.partial {
        out.push_str(",\"partial\":true");
    }
    out.push('}');
}

fn write_result(out: &mut String, r: &StatementResult, epoch: Epoch) {
    let _ = write!(out, "{{\"statement_id\":{}", r.statement_id);
    if let Some(json) = r.series_json.as_deref().filter(|j| !j.is_empty()) {
        out.push_str(",\"series\":[");
        out.push_str(json);
        out.push(']');
    } else if !r.series.is_empty() {
        out.push_str(",\"series\":[");
        let rows: usize = r.series.iter().map(|s| s.values.len()).sum();
        if rows >= PARALLEL_ROWS && r.series.len() > 1 {
            // A large answer of several series: written in parallel, then joined.
            let parts: Vec<String> = r
                .series
                .par_iter()
                .map(|s| {
                    let mut part = String::with_capacity(s.values.len() * 24 + 64);
                    write_series(&mut part, s, epoch, r.tz);
                    part
                })
                .collect();
            out.reserve(parts.iter().map(|p| p.len() + 1).sum());
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(part);
            }
        } else {
            for (i, s) in r.series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_series(out, s, epoch, r.tz);
            }
        }
        out.push(']');
    }
    if !r.messages.is_empty() {
        out.push_str(",\"messages\":[");
        for (i, (level, text)) in r.messages.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(
                out,
                "{{\"level\":{},\"text\":{}}}",
                quoted(level),
                quoted(text)
            );
        }
        out.push(']');
    }
    if r.partial {
        out.push_str(",\"partial\":true");
    }
    if let Some(e) = &r.error {
        let _ = write!(out, ",\"error\":{}", quoted(e));
    }
    out.push('}');
}

/// The whole non-chunked answer, with its trailing newline.
pub fn encode(results: &[StatementResult], epoch: Epoch) -> String {
    let mut out = String::from("{\"results\":[");
    for (i, r) in results.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_result(&mut out, r, epoch);
    }
    out.push_str("]}\n");
    out
}

/// The chunked answer: one JSON document (+ `\n`) per chunk of at most `chunk_size` rows of one
/// series. A series cut in several chunks is `partial` in all but its last chunk; a statement
/// whose answer continues in a later document is `partial` in all but its last one.
pub fn encode_chunked(results: &[StatementResult], epoch: Epoch, chunk_size: usize) -> Vec<String> {
    let chunk_size = chunk_size.max(1);
    let mut docs = Vec::new();
    for r in results {
        if r.series_json.is_some() {
            // Written already, and not cut (callers ask for it only unchunked).
            docs.push(encode(std::slice::from_ref(r), epoch));
            continue;
        }
        let mut pieces: Vec<Series> = Vec::new();
        for s in &r.series {
            if s.values.len() <= chunk_size {
                pieces.push(s.clone());
                continue;
            }
            let n = s.values.len().div_ceil(chunk_size);
            for i in 0..n {
                pieces.push(Series {
                    name: s.name.clone(),
                    tags: s.tags.clone(),
                    columns: s.columns.clone(),
                    values: s.values.slice(i * chunk_size, (i + 1) * chunk_size),
                    partial: i + 1 < n,
                });
            }
        }
        if pieces.is_empty() {
            docs.push(encode(std::slice::from_ref(r), epoch));
            continue;
        }
        let n = pieces.len();
        for (i, piece) in pieces.into_iter().enumerate() {
            let last = i + 1 == n;
            let part = StatementResult {
                statement_id: r.statement_id,
                series: vec![piece],
                messages: if last { r.messages.clone() } else { Vec::new() },
                error: if last { r.error.clone() } else { None },
                partial: !last,
                tz: r.tz,
                series_json: None,
            };
            docs.push(encode(&[part], epoch));
        }
    }
    docs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Rows;

    fn cpu() -> Series {
        Series {
            name: "cpu".into(),
            tags: vec![("host".into(), "web01".into())],
            columns: vec!["time".into(), "mean".into()],
            values: Rows::from_vecs(
                2,
                vec![
                    vec![Datum::Time(1_717_236_000_000_000_000), Datum::Float(97.53)],
                    vec![Datum::Time(1_717_236_010_000_000_000), Datum::Null],
                ],
            ),
            partial: false,
        }
    }

    #[test]
    fn grafana_shape_with_epoch_ms() {
        let out = encode(
            &[StatementResult::ok(0, vec![cpu()])],
            Epoch::from_param(Some("ms")),
        );
        assert_eq!(
            out,
            "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"web01\"},\"columns\":[\"time\",\"mean\"],\"values\":[[1717236000000,97.53],[1717236010000,null]]}]}]}\n"
        );
    }

    #[test]
    fn empty_answer_and_errors() {
        assert_eq!(
            encode(&[StatementResult::ok(0, vec![])], Epoch::Rfc3339),
            "{\"results\":[{\"statement_id\":0}]}\n"
        );
        assert_eq!(
            encode(
                &[StatementResult::error(1, "database not found: x")],
                Epoch::Rfc3339
            ),
            "{\"results\":[{\"statement_id\":1,\"error\":\"database not found: x\"}]}\n"
        );
    }

    /// A large answer of several series is written in parallel: the same text as one by one.
    #[test]
    fn a_large_answer_is_written_as_a_small_one_is() {
        let series: Vec<Series> = (0..3)
            .map(|k| Series {
                name: "interface".into(),
                tags: vec![("ifName".into(), format!("Gi0/{k}"))],
                columns: vec!["time".into(), "v".into()],
                values: Rows::from_vecs(
                    2,
                    (0..PARALLEL_ROWS as i64)
                        .map(|i| vec![Datum::Time(i * 1_000_000), Datum::Float(i as f64 / 3.0)])
                        .collect(),
                ),
                partial: false,
            })
            .collect();
        let whole = encode(
            &[StatementResult::ok(0, series.clone())],
            Epoch::Divisor(1_000_000),
        );
        let one_by_one: Vec<String> = series
            .iter()
            .map(|s| {
                encode(
                    &[StatementResult::ok(0, vec![s.clone()])],
                    Epoch::Divisor(1_000_000),
                )
            })
            .collect();
        let inner = |doc: &str| {
            let start = doc.find("\"series\":[").expect("series") + 10;
            doc[start..doc.len() - 5].to_owned()
        };
        let joined: Vec<String> = one_by_one.iter().map(|d| inner(d)).collect();
        assert_eq!(inner(&whole), joined.join(","));
        assert!(whole.starts_with("{\"results\":[{\"statement_id\":0,\"series\":[{"));
    }

    #[test]
    fn floats_are_written_as_go_writes_them() {
        assert_eq!(go_float(90.0), "90");
        assert_eq!(go_float(-0.5), "-0.5");
        assert_eq!(go_float(97.53), "97.53");
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(go_float(1.5e-7), "1.5e-7");
        assert_eq!(go_float(0.000001), "0.000001");
        assert_eq!(go_float(123456789012345680000.0), "123456789012345680000");
        assert_eq!(go_float(f64::NAN), "null");
    }

    #[test]
    fn times_without_epoch_are_rfc3339_nano() {
        assert_eq!(
            rfc3339_nano(1_717_236_010_000_000_000),
            "2024-06-01T10:00:10Z"
        );
        assert_eq!(
            rfc3339_nano(1_717_236_010_500_000_000),
            "2024-06-01T10:00:10.5Z"
        );
        assert_eq!(rfc3339_nano(1), "1970-01-01T00:00:00.000000001Z");
        assert_eq!(rfc3339_nano(-1), "1969-12-31T23:59:59.999999999Z");
    }

    #[test]
    fn tz_times_carry_the_zone_offset() {
        let paris: chrono_tz::Tz = "Europe/Paris".parse().expect("zone");
        assert_eq!(
            rfc3339_nano_in(1_717_236_000_000_000_000, Some(paris)),
            "2024-06-01T12:00:00+02:00"
        );
        assert_eq!(
            rfc3339_nano_in(1_704_103_200_500_000_000, Some(paris)),
            "2024-01-01T11:00:00.5+01:00"
        );
        let utc: chrono_tz::Tz = "UTC".parse().expect("zone");
        assert_eq!(rfc3339_nano_in(0, Some(utc)), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn epochs_divide_like_influxdb() {
        let t = 1_717_236_010_123_456_789;
        let enc = |p| datum(&Datum::Time(t), Epoch::from_param(Some(p)), None);
        assert_eq!(enc("ns"), json!(t));
        assert_eq!(enc("us"), json!(t), "1.x does not know `us`: nanoseconds");
        assert_eq!(enc("u"), json!(t / 1_000));
        assert_eq!(enc("ms"), json!(1_717_236_010_123_i64));
        assert_eq!(enc("s"), json!(1_717_236_010_i64));
        assert_eq!(enc("h"), json!(t / 3_600_000_000_000));
    }

    #[test]
    fn chunks_mark_partial_series_and_results() {
        let docs = encode_chunked(
            &[StatementResult::ok(0, vec![cpu(), cpu()])],
            Epoch::Divisor(1),
            1,
        );
        assert_eq!(docs.len(), 4);
        let first: Value = serde_json::from_str(&docs[0]).expect("json");
        assert_eq!(first["results"][0]["partial"], json!(true));
        assert_eq!(first["results"][0]["series"][0]["partial"], json!(true));
        let second: Value = serde_json::from_str(&docs[1]).expect("json");
        assert_eq!(second["results"][0]["series"][0].get("partial"), None);
        let last: Value = serde_json::from_str(&docs[3]).expect("json");
        assert_eq!(last["results"][0].get("partial"), None);
    }
}
