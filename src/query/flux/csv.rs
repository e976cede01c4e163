//! Annotated CSV as InfluxDB 2 writes it (wire.md §3.3): the answer encoder.
//!
//! Owns: the dialect (annotations in request order, header, delimiter), when a table starts a
//! new header block (first table, schema change, empty table), the `result`/`table` columns,
//! cell formats (RFC3339Nano times, Go's shortest floats without exponent, RFC 4180 quoting),
//! CRLF line ends, the blank line after each result, and the error table.
//! Does not own: computing tables.

use super::FluxResult;
use super::table::{Col, Table};
use super::value::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Annotation {
    Datatype,
    Group,
    Default,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialect {
    pub header: bool,
    pub delimiter: char,
    pub annotations: Vec<Annotation>,
}

impl Default for Dialect {
    /// InfluxDB 2's defaults: a header, commas, no annotations.
    fn default() -> Self {
        Dialect {
            header: true,
            delimiter: ',',
            annotations: Vec::new(),
        }
    }
}

/// Encodes every result.
pub fn encode(results: &[FluxResult], d: &Dialect) -> String {
    let mut out = String::new();
    for r in results {
        let before = out.len();
        encode_result(&mut out, r, d);
        if out.len() > before {
            out.push_str("\r\n");
        }
    }
    out
}

fn encode_result(out: &mut String, r: &FluxResult, d: &Dialect) {
    let mut prev: Option<&Table> = None;
    for (i, t) in r.tables.iter().enumerate() {
        let new_block = match prev {
            None => true,
            Some(p) => p.rows.is_empty() || t.rows.is_empty() || !same_schema(p, t),
        };
        if new_block {
            if prev.is_some() {
                out.push_str("\r\n");
            }
            header(out, r, t, d);
        }
        let result_cell = if d.annotations.contains(&Annotation::Default) {
            ""
        } else {
            r.name.as_str()
        };
        if t.rows.is_empty() {
            let cells: Vec<String> = t
                .cols
                .iter()
                .map(|c| t.key_value(&c.name).map(format_value).unwrap_or_default())
                .collect();
            row(out, d, result_cell, i, &cells);
        }
        for values in &t.rows {
            let cells: Vec<String> = values.iter().map(format_value).collect();
            row(out, d, result_cell, i, &cells);
        }
        prev = Some(t);
    }
}

fn same_schema(a: &Table, b: &Table) -> bool {
    a.cols == b.cols
        && a.cols
            .iter()
            .all(|c| a.in_key(&c.name) == b.in_key(&c.name))
}

fn header(out: &mut String, r: &FluxResult, t: &Table, d: &Dialect) {
    let sep = d.delimiter;
    for a in &d.annotations {
        let cells: Vec<String> = match a {
            Annotation::Datatype => ["#datatype", "string", "long"]
                .into_iter()
                .map(str::to_owned)
                .chain(t.cols.iter().map(|c| c.ty.csv_name().to_owned()))
                .collect(),
            Annotation::Group => ["#group", "false", "false"]
                .into_iter()
                .map(str::to_owned)
                .chain(t.cols.iter().map(|c: &Col| t.in_key(&c.name).to_string()))
                .collect(),
            Annotation::Default => ["#default".to_owned(), r.name.clone(), String::new()]
                .into_iter()
                .chain(t.cols.iter().map(|_| String::new()))
                .collect(),
        };
        line(out, sep, &cells);
    }
    if d.header {
        let cells: Vec<String> = ["", "result", "table"]
            .into_iter()
            .map(str::to_owned)
            .chain(t.cols.iter().map(|c| c.name.clone()))
            .collect();
        line(out, sep, &cells);
    }
}

fn row(out: &mut String, d: &Dialect, result: &str, table: usize, cells: &[String]) {
    let mut all = Vec::with_capacity(cells.len() + 3);
    all.push(String::new());
    all.push(result.to_owned());
    all.push(table.to_string());
    all.extend(cells.iter().cloned());
    line(out, d.delimiter, &all);
}

fn line(out: &mut String, sep: char, cells: &[String]) {
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push(sep);
        }
        if needs_quotes(c, sep) {
            out.push('"');
            out.push_str(&c.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(c);
        }
    }
    out.push_str("\r\n");
}

/// Go `encoding/csv`'s rule.
fn needs_quotes(c: &str, sep: char) -> bool {
    if c.is_empty() {
        return false;
    }
    c == "\\."
        || c.contains(sep)
        || c.contains(['"', '\r', '\n'])
        || c.chars().next().is_some_and(char::is_whitespace)
}

pub fn format_value(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Float(f) => format_float(*f),
        Value::Time(t) => format_time(*t),
        other => super::interp::display(other),
    }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_owned()
    } else if f.is_infinite() {
        if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{f}")
    }
}

/// Go's `time.RFC3339Nano` in UTC (trailing zeros of the fraction dropped).
pub fn format_time(ns: i64) -> String {
    let dt = chrono::DateTime::from_timestamp_nanos(ns);
    let mut s = dt.format("%Y-%m-%dT%H:%M:%S").to_string();
    let frac = ns.rem_euclid(1_000_000_000);
    if frac > 0 {
        let f = format!("{frac:09}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// An error after the answer started (or for clients that asked for it): the error table.
pub fn encode_error(message: &str, d: &Dialect, after_output: bool) -> String {
    let mut out = String::new();
    if after_output {
        out.push_str("\r\n");
    }
    for a in &d.annotations {
        let cells: &[&str] = match a {
            Annotation::Datatype => &["#datatype", "string", "string"],
            Annotation::Group => &["#group", "true", "true"],
            Annotation::Default => &["#default", "", ""],
        };
        line(
            &mut out,
            d.delimiter,
            &cells.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
        );
    }
    if d.header {
        line(
            &mut out,
            d.delimiter,
            &["".into(), "error".into(), "reference".into()],
        );
    }
    line(
        &mut out,
        d.delimiter,
        &["".into(), message.to_owned(), String::new()],
    );
    out
}
