//! Annotated CSV as InfluxDB 2 writes it (wire.md §3.3): the answer encoder.
//!
//! Owns: the dialect (annotations in request order, header, delimiter), when a table starts a
//! new header block (first table, schema change, empty table), the `result`/`table` columns,
//! cell formats (RFC3339Nano times, Go's shortest floats without exponent, RFC 4180 quoting),
//! CRLF line ends, the blank line after each result, and the error table.
//! Does not own: computing tables.

use std::sync::Arc;

use rayon::prelude::*;

use super::columns::{Tables, ValuesTable, WindowTable};
use super::table::{Col, Table};
use super::value::Value;
use super::{FluxAnswer, FluxResult};
use crate::query::numfmt::{push_int, push_plain_float};

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

/// Rows from which a result's tables are written in parallel (rayon's pool).
const PARALLEL_ROWS: usize = 8192;

/// Pieces of an answer smaller than this are joined to the one before.
pub const PIECE_BYTES: usize = 64 * 1024;

/// Encodes every result.
pub fn encode(results: &[FluxResult], d: &Dialect) -> String {
    let mut pieces = Vec::new();
    for r in results {
        encode_result(&mut pieces, &r.name, &r.tables, d);
    }
    pieces.concat()
}

/// Encodes every answer (a lowered window's tables from their columns), in pieces to be sent
/// one after the other: a large answer's tables are written side by side, and joining them
/// would copy the answer once more. A piece is at least `PIECE_BYTES` long, but the last.
pub fn encode_answers(answers: &[FluxAnswer], d: &Dialect) -> Vec<String> {
    let mut pieces = Vec::new();
    for a in answers {
        match &a.tables {
            Tables::Rows(t) => encode_result(&mut pieces, &a.name, t, d),
            Tables::Windows(w) => encode_result(&mut pieces, &a.name, w, d),
            Tables::Values(v) => encode_result(&mut pieces, &a.name, v, d),
        }
    }
    pieces
}

/// What the writer needs of a table: its schema, how many rows, the rows written out.
trait CsvTable: Sync {
    fn cols(&self) -> &[Col];
    fn key(&self) -> &[(String, Value)];
    fn len(&self) -> usize;
    /// Every row (the cells of `prefix` first), each ending in CRLF.
    fn write_rows(&self, out: &mut String, sep: char, prefix: &str);

    fn in_key(&self, name: &str) -> bool {
        self.key().iter().any(|(k, _)| k == name)
    }
}

/// One result's tables, then the blank line that ends it (nothing for a result of no table),
/// onto `pieces`.
fn encode_result<T: CsvTable>(pieces: &mut Vec<String>, name: &str, tables: &[T], d: &Dialect) {
    let result_cell = if d.annotations.contains(&Annotation::Default) {
        ""
    } else {
        name
    };
    // Each table is written after the header block it starts, if any: a table starts one when
    // it is the first, empty, after an empty one, or of a different schema than the one before.
    let part = |(i, t): (usize, &T)| {
        let prefix = row_prefix(d.delimiter, result_cell, i);
        let prev = i.checked_sub(1).map(|p| &tables[p]);
        let new_block = match prev {
            None => true,
            Some(p) => p.len() == 0 || t.len() == 0 || !same_schema(p, t),
        };
        let mut part = String::new();
        if new_block {
            if prev.is_some() {
                part.push_str("\r\n");
            }
            header(&mut part, name, t, d);
        }
        if t.len() == 0 {
            let cells: Vec<Value> = t
                .cols()
                .iter()
                .map(|c| {
                    let v = t.key().iter().find(|(k, _)| *k == c.name);
                    v.map_or(Value::Null, |(_, v)| v.clone())
                })
                .collect();
            row(&mut part, d.delimiter, &prefix, &cells, &mut Above::new(0));
        }
        t.write_rows(&mut part, d.delimiter, &prefix);
        part
    };
    // A large answer's tables are written side by side on rayon's pool; a small one here (a
    // hand-off to the pool and back costs more than writing it).
    let rows: usize = tables.iter().map(T::len).sum();
    let parts: Vec<String> = if rows >= PARALLEL_ROWS && tables.len() > 1 {
        tables.par_iter().enumerate().map(part).collect()
    } else {
        tables.iter().enumerate().map(part).collect()
    };
    for p in parts {
        match pieces.last_mut() {
            Some(last) if last.len() < PIECE_BYTES => last.push_str(&p),
            _ => pieces.push(p),
        }
    }
    if let Some(last) = pieces.last_mut().filter(|_| !tables.is_empty()) {
        last.push_str("\r\n");
    }
}

impl CsvTable for Table {
    fn cols(&self) -> &[Col] {
        &self.cols
    }
    fn key(&self) -> &[(String, Value)] {
        &self.key
    }
    fn len(&self) -> usize {
        self.rows.len()
    }
    fn write_rows(&self, out: &mut String, sep: char, prefix: &str) {
        // Most columns hold one value down a table (its group key, and `_start`, `_stop`,
        // tags outside the key): a cell equal to the one above is copied, not formatted.
        let mut above = Above::new(self.cols.len());
        for (k, values) in self.rows.iter().enumerate() {
            let before = out.len();
            row(out, sep, prefix, values, &mut above);
            if k == 0 {
                // Rows of a table are about as long as its first.
                out.reserve((out.len() - before + 8) * self.rows.len());
            }
        }
    }
}

impl CsvTable for ValuesTable {
    fn cols(&self) -> &[Col] {
        &self.cols
    }
    fn key(&self) -> &[(String, Value)] {
        &[]
    }
    fn len(&self) -> usize {
        self.values.len()
    }
    fn write_rows(&self, out: &mut String, sep: char, prefix: &str) {
        // A row is the prefix and one string cell, as `row` writes it.
        let cells: usize = self.values.iter().map(|v| v.len()).sum();
        out.reserve(cells + self.values.len() * (prefix.len() + 3));
        for v in &self.values {
            out.push_str(prefix);
            out.push(sep);
            cell(out, sep, v);
            out.push_str("\r\n");
        }
    }
}

impl CsvTable for WindowTable {
    fn cols(&self) -> &[Col] {
        &self.cols
    }
    fn key(&self) -> &[(String, Value)] {
        &self.key
    }
    fn len(&self) -> usize {
        WindowTable::len(self)
    }
    fn write_rows(&self, out: &mut String, sep: char, prefix: &str) {
        // The cells after `_value` are the same in every row: written once.
        let mut tail = String::new();
        for v in &self.tail {
            tail.push(sep);
            push_cell(&mut tail, sep, v);
        }
        let mut times = TimeCells::default();
        // A value equal to the one above (a steady rate) is copied, not formatted.
        let (mut above, mut above_text): (Option<&Value>, String) = (None, String::new());
        for (k, v) in self.value.iter().enumerate() {
            let before = out.len();
            out.push_str(prefix);
            for (j, t) in [self.start.at(k), self.stop.at(k), self.time[k]]
                .into_iter()
                .enumerate()
            {
                out.push(sep);
                out.push_str(times.text(j, t, sep));
            }
            out.push(sep);
            if matches!(v, Value::Str(_)) {
                push_cell(out, sep, v);
            } else {
                if !above.is_some_and(|p| same_cell(p, v)) {
                    above_text.clear();
                    push_cell(&mut above_text, sep, v);
                    above = Some(v);
                }
                out.push_str(&above_text);
            }
            out.push_str(&tail);
            out.push_str("\r\n");
            if k == 0 {
                out.reserve((out.len() - before + 8) * self.len());
            }
        }
    }
}

/// The last cell of each time column (`_start _stop _time`) and its text. A time is often
/// another column's, in this row or the one above (`_time` is the window's `_stop`, `_start`
/// the `_stop` above): its text is then copied, not formatted again.
#[derive(Default)]
struct TimeCells {
    times: [Option<i64>; 3],
    texts: [String; 3],
}

impl TimeCells {
    fn text(&mut self, j: usize, t: i64, sep: char) -> &str {
        if self.times[j] != Some(t) {
            let mut text = std::mem::take(&mut self.texts[j]);
            text.clear();
            match self.times.iter().position(|x| *x == Some(t)) {
                Some(i) => text.push_str(&self.texts[i]),
                None => push_cell(&mut text, sep, &Value::Time(t)),
            }
            self.texts[j] = text;
            self.times[j] = Some(t);
        }
        &self.texts[j]
    }
}

fn same_schema<T: CsvTable>(a: &T, b: &T) -> bool {
    a.cols() == b.cols()
        && a.cols()
            .iter()
            .all(|c| a.in_key(&c.name) == b.in_key(&c.name))
}

fn header<T: CsvTable>(out: &mut String, name: &str, t: &T, d: &Dialect) {
    let sep = d.delimiter;
    for a in &d.annotations {
        let cells: Vec<String> = match a {
            Annotation::Datatype => ["#datatype", "string", "long"]
                .into_iter()
                .map(str::to_owned)
                .chain(t.cols().iter().map(|c| c.ty.csv_name().to_owned()))
                .collect(),
            Annotation::Group => ["#group", "false", "false"]
                .into_iter()
                .map(str::to_owned)
                .chain(t.cols().iter().map(|c: &Col| t.in_key(&c.name).to_string()))
                .collect(),
            Annotation::Default => ["#default".to_owned(), name.to_owned(), String::new()]
                .into_iter()
                .chain(t.cols().iter().map(|_| String::new()))
                .collect(),
        };
        line(out, sep, &cells);
    }
    if d.header {
        let cells: Vec<String> = ["", "result", "table"]
            .into_iter()
            .map(str::to_owned)
            .chain(t.cols().iter().map(|c| c.name.clone()))
            .collect();
        line(out, sep, &cells);
    }
}

/// The cells of the row above: each column's value and its text.
struct Above<'a> {
    values: Vec<Option<&'a Value>>,
    texts: Vec<String>,
}

impl<'a> Above<'a> {
    fn new(cols: usize) -> Self {
        Self {
            values: vec![None; cols],
            texts: vec![String::new(); cols],
        }
    }
}

/// The first cells of every row of table `table` of result `result`: `""`, `result`, `table`.
fn row_prefix(sep: char, result: &str, table: usize) -> String {
    let mut p = String::new();
    p.push(sep);
    cell(&mut p, sep, result);
    p.push(sep);
    push_int(&mut p, table);
    p
}

/// `line` of the cells of `prefix` (`row_prefix`), then `values` formatted (a value equal to
/// the one above it is copied from `above`).
fn row<'a>(out: &mut String, sep: char, prefix: &str, values: &'a [Value], above: &mut Above<'a>) {
    out.push_str(prefix);
    for (j, v) in values.iter().enumerate() {
        out.push(sep);
        if j >= above.values.len() || matches!(v, Value::Str(_)) {
            // A string is copied as it is (quoted if it must be): as cheap as a copy from above.
            push_cell(out, sep, v);
            continue;
        }
        if !above.values[j].is_some_and(|p| same_cell(p, v)) {
            // A time is often another column's, in this row or the one above (`_time` is the
            // window's `_stop`, `_start` the `_stop` above): its text is copied from there.
            let twin = match v {
                Value::Time(t) => above
                    .values
                    .iter()
                    .position(|p| matches!(p, Some(Value::Time(x)) if x == t)),
                _ => None,
            };
            let mut text = std::mem::take(&mut above.texts[j]);
            text.clear();
            match twin {
                Some(k) => text.push_str(&above.texts[k]),
                None => push_cell(&mut text, sep, v),
            }
            above.texts[j] = text;
            above.values[j] = Some(v);
        }
        out.push_str(&above.texts[j]);
    }
    out.push_str("\r\n");
}

/// One value's cell. Numbers and times never need quotes unless the delimiter is one of
/// their characters.
fn push_cell(out: &mut String, sep: char, v: &Value) {
    let plain = !sep.is_alphanumeric() && !"-+.:".contains(sep);
    match v {
        Value::Null => {}
        Value::Time(t) if plain => push_time(out, *t),
        Value::Int(n) if plain => push_int(out, *n),
        Value::Float(f) if plain && f.is_finite() => push_plain_float(out, *f),
        Value::Str(s) => cell(out, sep, s),
        v => cell(out, sep, &format_value(v)),
    }
}

/// Whether `a` and `b` are written as the same cell: the same type and value (floats bit for
/// bit: `-0` is not `0`).
#[inline]
fn same_cell(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::Time(x), Value::Time(y)) | (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => Arc::ptr_eq(x, y) || x == y,
        (Value::Null, Value::Null) => true,
        _ => std::mem::discriminant(a) == std::mem::discriminant(b) && a == b,
    }
}

fn line(out: &mut String, sep: char, cells: &[String]) {
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push(sep);
        }
        cell(out, sep, c);
    }
    out.push_str("\r\n");
}

fn cell(out: &mut String, sep: char, c: &str) {
    if needs_quotes(c, sep) {
        out.push('"');
        out.push_str(&c.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(c);
    }
}

/// Go `encoding/csv`'s rule.
fn needs_quotes(c: &str, sep: char) -> bool {
    if c.is_empty() {
        return false;
    }
    // One pass over the bytes (an ASCII delimiter, as it always is in practice).
    let special = |b: u8| matches!(b, b'"' | b'\r' | b'\n');
    let has = match u8::try_from(sep).ok().filter(u8::is_ascii) {
        Some(s) => c.bytes().any(|b| b == s || special(b)),
        None => c.contains(sep) || c.bytes().any(special),
    };
    has || c == "\\." || c.chars().next().is_some_and(char::is_whitespace)
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
        let mut s = String::new();
        push_plain_float(&mut s, f);
        s
    }
}

/// Go's `time.RFC3339Nano` in UTC (trailing zeros of the fraction dropped).
pub fn format_time(ns: i64) -> String {
    let mut s = String::with_capacity(30);
    push_time(&mut s, ns);
    s
}

/// `format_time` onto `s`. Every i64 of ns falls in the years 1677–2262, so the year always
/// has four digits.
fn push_time(s: &mut String, ns: i64) {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let mut b = *b"0000-00-00T00:00:00.000000000Z";
    // The date of the last time written on this thread: an answer's times mostly share it.
    thread_local! {
        static DAY: std::cell::Cell<(i64, [u8; 10])> = const { std::cell::Cell::new((i64::MIN, [0; 10])) };
    }
    let (day, date) = DAY.get();
    if day == days {
        b[..10].copy_from_slice(&date);
    } else {
        let (y, m, d) = civil_from_days(days);
        fill_digits(&mut b[0..4], y);
        fill_digits(&mut b[5..7], m);
        fill_digits(&mut b[8..10], d);
        let mut date = [0; 10];
        date.copy_from_slice(&b[..10]);
        DAY.set((days, date));
    }
    fill_digits(&mut b[11..13], sod / 3600);
    fill_digits(&mut b[14..16], sod / 60 % 60);
    fill_digits(&mut b[17..19], sod % 60);
    let mut end = 19;
    if frac > 0 {
        fill_digits(&mut b[20..29], frac);
        end = 29;
        while b[end - 1] == b'0' {
            end -= 1;
        }
    }
    b[end] = b'Z';
    if let Ok(t) = std::str::from_utf8(&b[..=end]) {
        s.push_str(t);
    }
}

/// `n` (non-negative) as the decimal digits of `out`, zero-padded.
fn fill_digits(out: &mut [u8], mut n: i64) {
    for b in out.iter_mut().rev() {
        *b = b'0' + u8::try_from(n % 10).unwrap_or(0);
        n /= 10;
    }
}

/// (year, month, day) of a count of days since 1970-01-01 (proleptic Gregorian calendar;
/// H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
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
