//! Flux tables (docs/flux.md §4): typed columns, a group key, rows; streams of tables.
//!
//! Owns: the table model (column order, group key with its values, one type per column),
//! building tables from rows, regrouping, and the stream value (`Stream`), which is lazy
//! between `from()` and the first transformation that needs rows (so `range` and `filter`
//! prune what is read). Does not own: reading the store (`source`) or encoding (`csv`).

use std::sync::Arc;

use super::columns::{ValuesTable, WindowTable};
use super::lexer::Pos;
use super::value::{Function, Value};
use crate::model::BucketName;

/// A column type as annotated CSV names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Bool,
    Int,
    UInt,
    Float,
    Str,
    Time,
}

impl Type {
    pub fn csv_name(self) -> &'static str {
        match self {
            Type::Bool => "boolean",
            Type::Int => "long",
            Type::UInt => "unsignedLong",
            Type::Float => "double",
            Type::Str => "string",
            Type::Time => "dateTime:RFC3339",
        }
    }

    /// The column type of a value; `None` for null and non-column values.
    pub fn of(v: &Value) -> Option<Type> {
        Some(match v {
            Value::Bool(_) => Type::Bool,
            Value::Int(_) => Type::Int,
            Value::UInt(_) => Type::UInt,
            Value::Float(_) => Type::Float,
            Value::Str(_) => Type::Str,
            Value::Time(_) => Type::Time,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Col {
    pub name: String,
    pub ty: Type,
}

/// One table: columns in order, the group key (sorted by column name, with its values), rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub cols: Vec<Col>,
    pub key: Vec<(String, Value)>,
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    pub fn idx(&self, name: &str) -> Option<usize> {
        self.cols.iter().position(|c| c.name == name)
    }

    pub fn in_key(&self, name: &str) -> bool {
        self.key.iter().any(|(k, _)| k == name)
    }

    pub fn key_value(&self, name: &str) -> Option<&Value> {
        self.key.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// Rebuilds the table from named rows: column order is the first appearance order in
    /// `order`, then new columns as they appear; types from the first non-null value
    /// (`default` types for all-null columns: string).
    pub fn from_rows(
        key: Vec<(String, Value)>,
        order: &[Col],
        rows: Vec<Vec<(String, Value)>>,
    ) -> Result<Table, String> {
        let mut cols: Vec<Col> = Vec::new();
        let mut has_value: Vec<bool> = Vec::new();
        let mut names: Vec<String> = order.iter().map(|c| c.name.clone()).collect();
        for r in &rows {
            for (k, _) in r {
                if !names.contains(k) {
                    names.push(k.clone());
                }
            }
        }
        for (k, _) in &key {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
        let present = |n: &str| {
            rows.iter().any(|r| r.iter().any(|(k, _)| k == n))
                || key.iter().any(|(k, _)| k == n)
                || (rows.is_empty() && order.iter().any(|c| c.name == n))
        };
        for n in names {
            if !present(&n) {
                continue;
            }
            let fallback = order
                .iter()
                .find(|c| c.name == n)
                .map_or(Type::Str, |c| c.ty);
            cols.push(Col {
                name: n,
                ty: fallback,
            });
            has_value.push(false);
        }
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut row = vec![Value::Null; cols.len()];
            for (k, v) in r {
                let Some(i) = cols.iter().position(|c| c.name == k) else {
                    continue;
                };
                if let Some(t) = Type::of(&v) {
                    if !has_value[i] {
                        cols[i].ty = t;
                        has_value[i] = true;
                    } else if cols[i].ty != t {
                        return Err(format!(
                            "column {} has conflicting types {} and {}",
                            cols[i].name,
                            cols[i].ty.csv_name(),
                            t.csv_name()
                        ));
                    }
                } else if !v.is_null() {
                    return Err(format!(
                        "column {} cannot hold a {} value",
                        cols[i].name,
                        v.type_name()
                    ));
                }
                row[i] = v;
            }
            out.push(row);
        }
        for (k, v) in &key {
            if let (Some(i), Some(t)) = (cols.iter().position(|c| c.name == *k), Type::of(v)) {
                cols[i].ty = t;
            }
        }
        Ok(Table {
            cols,
            key,
            rows: out,
        })
    }

    /// A row as (label, value) pairs.
    pub fn named_row(&self, r: usize) -> Vec<(String, Value)> {
        self.cols
            .iter()
            .zip(&self.rows[r])
            .map(|(c, v)| (c.name.clone(), v.clone()))
            .collect()
    }
}

/// Compares two group keys for table ordering (labels, then values).
pub fn key_cmp(a: &[(String, Value)], b: &[(String, Value)]) -> std::cmp::Ordering {
    for ((ka, va), (kb, vb)) in a.iter().zip(b) {
        let o = ka.cmp(kb).then_with(|| va.sort_cmp(vb));
        if o.is_ne() {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// A stream of tables, lazy until rows are needed.
#[derive(Clone)]
pub enum Stream {
    Tables(Vec<Table>),
    /// A lowered window's tables as columns (`columns`): rows are built when a call needs them.
    Windows(Vec<WindowTable>),
    /// A `schema.*` answer's values (`columns`): rows are built when a call needs them.
    Values(Vec<ValuesTable>),
    /// `from(bucket:)` not yet bounded by `range`.
    From(BucketName),
    /// `from |> range |> filter*`, then the `deferred` calls, not yet read.
    Ranged {
        bucket: BucketName,
        start: i64,
        stop: i64,
        filters: Vec<Arc<Function>>,
        deferred: Vec<Deferred>,
    },
}

/// A call on a lazy read kept for later (`group`, `aggregateWindow`): computed with the read
/// on the shared plan when it lowers, else replayed by the interpreter on the read's tables.
/// Its arguments were checked when it was called.
#[derive(Clone)]
pub struct Deferred {
    pub name: &'static str,
    pub named: Vec<(String, Value)>,
    pub pos: Pos,
}
