//! The executor's series → the Flux tables the interpreter would have built for the same read.
//!
//! Owns: the columns, key, column types and cell values of the tables of a lowered read: one
//! table per series × field for a raw read (as `builtins::rows` builds them), and per group for
//! `aggregateWindow`, kept as columns (`columns::WindowTable`), as `builtins::window`
//! reassembles them: `_time` is the window's stop clipped to the range; `_start`/`_stop` are the
//! range's when they are in the group key and the window's otherwise; an empty window has a
//! null value, 0 for `count`. Does not own:
//! which reads lower (`lower`), the plan's computation (`query::exec`).

use std::sync::Arc;

use rayon::prelude::*;

use super::Window;
use super::post::Post;
use crate::lineproto::FieldType;
use crate::query::flux::builtins::new_table;
use crate::query::flux::columns::{Times, WindowTable};
use crate::query::flux::table::{Col, Table, Type};
use crate::query::flux::value::Value;
use crate::query::plan::Func;
use crate::query::result::{Datum, Series};

/// (measurement, tags, field): the order tables leave a read in.
pub type SortKey = (String, Vec<(String, String)>, String);

/// What one plan read: a measurement × field over `[start, stop)`.
pub struct Read<'a> {
    pub measurement: &'a str,
    pub field: &'a str,
    pub field_type: FieldType,
    pub start: i64,
    pub stop: i64,
}

impl Read<'_> {
    fn tags(s: &Series) -> Vec<(String, String)> {
        s.tags
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .cloned()
            .collect()
    }

    /// One table per series (a group per series), with its points.
    pub fn raw(&self, series: Vec<Series>) -> Vec<(SortKey, Table)> {
        let (m, f) = (arc(self.measurement), arc(self.field));
        let mut out = Vec::with_capacity(series.len());
        for s in series {
            let tags = Self::tags(&s);
            let ty = s
                .values
                .iter()
                .next()
                .and_then(|r| r.get(1))
                .and_then(|d| Type::of(&value(d.clone())))
                .unwrap_or(Type::Str);
            let mut t = new_table(
                self.measurement,
                &tags,
                self.field,
                ty,
                self.start,
                self.stop,
            );
            let tag_values: Vec<Value> = tags.iter().map(|(_, v)| Value::str(v)).collect();
            t.rows = s
                .values
                .iter()
                .map(|r| {
                    let mut r = r.iter().cloned();
                    let time = r.next().map_or(Value::Null, value);
                    let v = r.next().map_or(Value::Null, value);
                    let mut row = Vec::with_capacity(6 + tag_values.len());
                    row.extend([Value::Time(self.start), Value::Time(self.stop), time, v]);
                    row.extend([Value::Str(f.clone()), Value::Str(m.clone())]);
                    row.extend(tag_values.iter().cloned());
                    row
                })
                .collect();
            out.push((
                (self.measurement.to_owned(), tags, self.field.to_owned()),
                t,
            ));
        }
        out
    }

    /// One table per group of `aggregateWindow`: `key_cols` are the group's columns, `None`
    /// for a read not regrouped (every column but `_time` and `_value` is in the key); with
    /// `post`, the calls after it computed too (`None` when the interpreter must run them).
    pub fn windowed(
        &self,
        series: Vec<Series>,
        w: &Window,
        key_cols: Option<&[String]>,
        post: Option<&Post>,
    ) -> Option<Vec<(SortKey, WindowTable)>> {
        let in_key = |c: &str| key_cols.is_none_or(|k| k.iter().any(|x| x == c));
        let (start_keyed, stop_keyed) = (in_key("_start"), in_key("_stop"));
        // Series side by side on rayon's pool (one table each), kept in order.
        series
            .into_par_iter()
            .map(|s| {
                let tags = Self::tags(&s);
                // Key columns after `_start _stop _time _value`, in the read's column order.
                let mut named: Vec<(String, Value)> = Vec::new();
                for (c, v) in [("_field", self.field), ("_measurement", self.measurement)] {
                    if in_key(c) {
                        named.push((c.to_owned(), Value::str(v)));
                    }
                }
                for (k, v) in &tags {
                    if in_key(k) {
                        named.push((k.clone(), Value::str(v)));
                    }
                }
                let mut key = named.clone();
                if start_keyed {
                    key.push(("_start".to_owned(), Value::Time(self.start)));
                }
                if stop_keyed {
                    key.push(("_stop".to_owned(), Value::Time(self.stop)));
                }
                key.sort_by(|a, b| a.0.cmp(&b.0));
                // Each window's (start, stop, value): `_time` is its stop, clipped to the range.
                let cells = s.values.iter().map(|r| {
                    let mut r = r.iter().cloned();
                    let ws = match r.next() {
                        Some(Datum::Time(t)) => t,
                        _ => self.start,
                    };
                    let v = r.next().map_or(Value::Null, value);
                    (ws, ws.saturating_add(w.every).min(self.stop), v)
                });
                let (cells, post_type) = match post {
                    Some(p) => {
                        let cells = p.apply(cells)?;
                        let ty = p.value_type(&cells);
                        (cells, Some(ty))
                    }
                    None => (cells.collect::<Vec<_>>(), None),
                };
                let n = cells.len();
                let (mut starts, mut time, mut value) = (
                    Vec::with_capacity(n),
                    Vec::with_capacity(n),
                    Vec::with_capacity(n),
                );
                for (ws, stop, v) in cells {
                    starts.push(ws.max(self.start));
                    time.push(stop);
                    value.push(v);
                }
                let value_type = post_type.unwrap_or_else(|| {
                    value.iter().find_map(Type::of).unwrap_or(match w.func {
                        Func::Sum | Func::Spread => flux_type(self.field_type),
                        _ => Type::Float,
                    })
                });
                let mut cols = vec![
                    col("_start", Type::Time),
                    col("_stop", Type::Time),
                    col("_time", Type::Time),
                    col("_value", value_type),
                ];
                cols.extend(named.iter().map(|(k, _)| col(k, Type::Str)));
                let table = WindowTable {
                    cols,
                    key,
                    start: match start_keyed {
                        true => Times::Same(self.start),
                        false => Times::Each(starts),
                    },
                    stop: match stop_keyed {
                        true => Times::Same(self.stop),
                        false => Times::Each(time.clone()),
                    },
                    time,
                    value,
                    tail: named.into_iter().map(|(_, v)| v).collect(),
                };
                Some((
                    (self.measurement.to_owned(), tags, self.field.to_owned()),
                    table,
                ))
            })
            .collect()
    }
}

fn col(name: &str, ty: Type) -> Col {
    Col {
        name: name.to_owned(),
        ty,
    }
}

fn arc(s: &str) -> Arc<str> {
    Arc::from(s)
}

fn flux_type(t: FieldType) -> Type {
    match t {
        FieldType::Float => Type::Float,
        FieldType::Integer => Type::Int,
        FieldType::Unsigned => Type::UInt,
        FieldType::String => Type::Str,
        FieldType::Boolean => Type::Bool,
    }
}

/// An executor value as a Flux cell.
fn value(d: Datum) -> Value {
    match d {
        Datum::Null => Value::Null,
        Datum::Float(f) => Value::Float(f),
        Datum::Integer(i) => Value::Int(i),
        Datum::Unsigned(u) => Value::UInt(u),
        Datum::Boolean(b) => Value::Bool(b),
        Datum::String(s) => Value::Str(s),
        Datum::Time(t) => Value::Time(t),
    }
}
