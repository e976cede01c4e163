//! A lowered `aggregateWindow`'s tables kept column by column (`WindowTable`), a `schema.*`
//! answer's one column of values (`ValuesTable`), and the tables a stream is read into
//! (`Tables`: rows, or such columns).
//!
//! Owns: the columnar form of one table of a lowered window (`_start`, `_stop`, `_time`,
//! `_value`, then cells that are the same in every row) and its rows as the interpreter holds
//! them (`into_table`), built only when a call after the read needs rows. The answer is written
//! from the columns (`csv`) without a row being built.
//! Does not own: computing the windows (`lower::tables`), writing them (`csv`).

use std::sync::Arc;

use super::table::{Col, Table, Type};
use super::value::Value;

/// `_start` or `_stop` down a table: one time for every row, or one per row.
#[derive(Debug, Clone, PartialEq)]
pub enum Times {
    Same(i64),
    Each(Vec<i64>),
}

impl Times {
    pub fn at(&self, row: usize) -> i64 {
        match self {
            Times::Same(t) => *t,
            Times::Each(ts) => ts[row],
        }
    }
}

/// One table of a lowered `aggregateWindow`: row `k` is `start.at(k), stop.at(k), time[k],
/// value[k]`, then `tail`.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowTable {
    /// `_start _stop _time _value`, then the columns of `tail`.
    pub cols: Vec<Col>,
    pub key: Vec<(String, Value)>,
    pub start: Times,
    pub stop: Times,
    pub time: Vec<i64>,
    pub value: Vec<Value>,
    /// The cells after `_value` (group key columns), the same in every row.
    pub tail: Vec<Value>,
}

impl WindowTable {
    pub fn len(&self) -> usize {
        self.time.len()
    }

    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }

    /// The table with its rows, as the interpreter holds it.
    pub fn into_table(self) -> Table {
        let WindowTable {
            cols,
            key,
            start,
            stop,
            time,
            value,
            tail,
        } = self;
        let rows = time
            .into_iter()
            .zip(value)
            .enumerate()
            .map(|(k, (t, v))| {
                let mut row = Vec::with_capacity(4 + tail.len());
                row.push(Value::Time(start.at(k)));
                row.push(Value::Time(stop.at(k)));
                row.push(Value::Time(t));
                row.push(v);
                row.extend(tail.iter().cloned());
                row
            })
            .collect();
        Table { cols, key, rows }
    }
}

/// The tables of a stream once read: rows, or a lowered window's columns.
#[derive(Debug, Clone, PartialEq)]
pub enum Tables {
    Rows(Vec<Table>),
    Windows(Vec<WindowTable>),
    Values(Vec<ValuesTable>),
}

/// A table of one string column, `_value`, and an empty group key, as `schema.*` answer (a
/// tag's values, measurements, field keys): the values stay one vector, shared with the
/// series index, until a call after it needs rows (`into_table`). A variable query over
/// 50 000 series answers from it without a row per value.
#[derive(Debug, Clone, PartialEq)]
pub struct ValuesTable {
    /// The one column.
    pub cols: Vec<Col>,
    pub values: Vec<Arc<str>>,
}

impl ValuesTable {
    pub fn new(values: Vec<Arc<str>>) -> Self {
        Self {
            cols: vec![Col {
                name: "_value".into(),
                ty: Type::Str,
            }],
            values,
        }
    }

    /// The table with its rows, as the interpreter holds it.
    pub fn into_table(self) -> Table {
        Table {
            cols: self.cols,
            key: Vec::new(),
            rows: self
                .values
                .into_iter()
                .map(|v| vec![Value::Str(v)])
                .collect(),
        }
    }
}

impl Tables {
    /// Cells held in rows, each row an allocation of its own (what freeing them costs); a
    /// window's columns are a few allocations whatever their length.
    pub fn row_cells(&self) -> usize {
        match self {
            Tables::Rows(t) => t.iter().map(|t| t.rows.len() * t.cols.len()).sum(),
            Tables::Windows(_) | Tables::Values(_) => 0,
        }
    }

    /// The tables with their rows.
    pub fn into_rows(self) -> Vec<Table> {
        match self {
            Tables::Rows(t) => t,
            Tables::Windows(w) => w.into_iter().map(WindowTable::into_table).collect(),
            Tables::Values(v) => v.into_iter().map(ValuesTable::into_table).collect(),
        }
    }
}
