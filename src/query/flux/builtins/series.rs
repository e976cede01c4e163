//! Per-table series transforms: derivative, difference, increase, movingAverage,
//! cumulativeSum, elapsed (docs/flux.md §5.4).
//!
//! Owns: each transform's row rules. Rows are taken in table order; null values are skipped
//! (they neither produce a row nor become the previous value), as Flux does.

use rayon::prelude::*;

use super::{Call, stream};
use crate::query::flux::FluxError;
use crate::query::flux::table::{Col, Table, Type};
use crate::query::flux::value::Value;

pub fn call(c: &mut Call<'_, '_>) -> Result<Value, FluxError> {
    match c.name {
        "derivative" => {
            c.allow(&[
                "unit",
                "nonNegative",
                "columns",
                "timeColumn",
                "initialZero",
                "tables",
            ])?;
            let unit = c.duration("unit")?.unwrap_or(1_000_000_000);
            let non_neg = c.bool("nonNegative", false)?;
            let initial_zero = c.bool("initialZero", false)?;
            let cols = c
                .strings("columns")?
                .unwrap_or_else(|| vec!["_value".to_owned()]);
            let time_col = c
                .string("timeColumn")?
                .unwrap_or_else(|| "_time".to_owned());
            // After a lowered window, computed with it (`lower::post`) when it can be.
            if c.deferred_last() == Some("aggregateWindow")
                && let Some(lazy) = c.defer(&["group", "aggregateWindow"])
            {
                return Ok(lazy);
            }
            // Tables are independent: derived side by side on rayon's pool, kept in order.
            let tables = c.tables()?;
            let out: Result<Vec<Table>, String> = tables
                .into_par_iter()
                .map(|t| {
                    pairwise(t, &cols, &time_col, Type::Float, |dt, prev, cur| {
                        let (Some(p), Some(v)) = (prev.as_f64(), cur.as_f64()) else {
                            return Err("derivative needs numeric values".to_owned());
                        };
                        Ok(derivative_step(dt, p, v, unit, non_neg, initial_zero))
                    })
                })
                .collect();
            Ok(stream(out.map_err(|m| c.err(m))?))
        }
        "difference" | "increase" => {
            let increase = c.name == "increase";
            if increase {
                c.allow(&["columns", "tables"])?;
            } else {
                c.allow(&[
                    "nonNegative",
                    "columns",
                    "keepFirst",
                    "initialZero",
                    "tables",
                ])?;
            }
            let non_neg = increase || c.bool("nonNegative", false)?;
            let initial_zero = increase || c.bool("initialZero", false)?;
            let keep_first = c.bool("keepFirst", false)?;
            let cols = c
                .strings("columns")?
                .unwrap_or_else(|| vec!["_value".to_owned()]);
            let mut out = Vec::new();
            for t in c.tables()? {
                // The first row with its columns null, before `pairwise` takes the table.
                let first = t.rows.first().filter(|_| keep_first).map(|r| {
                    let mut first = r.clone();
                    for col in &cols {
                        if let Some(i) = t.idx(col) {
                            first[i] = Value::Null;
                        }
                    }
                    first
                });
                let mut d = pairwise(t, &cols, "_time", Type::Int, |_, prev, cur| {
                    let v = match (prev, cur) {
                        (Value::Int(p), Value::Int(v)) => Value::Int(if *v < *p && non_neg {
                            if initial_zero {
                                *v
                            } else {
                                return Ok(Some(Value::Null));
                            }
                        } else {
                            v.wrapping_sub(*p)
                        }),
                        (Value::UInt(p), Value::UInt(v)) => {
                            if v < p {
                                if non_neg {
                                    if initial_zero {
                                        Value::Int(*v as i64)
                                    } else {
                                        Value::Null
                                    }
                                } else {
                                    Value::Int(-((p - v) as i64))
                                }
                            } else {
                                Value::Int((v - p) as i64)
                            }
                        }
                        (Value::Float(p), Value::Float(v)) => Value::Float(if v < p && non_neg {
                            if initial_zero {
                                *v
                            } else {
                                return Ok(Some(Value::Null));
                            }
                        } else {
                            v - p
                        }),
                        _ => return Err("difference needs int, uint or float values".to_owned()),
                    };
                    Ok(Some(v))
                })
                .map_err(|m| c.err(m))?;
                if let Some(first) = first {
                    d.rows.insert(0, first);
                }
                if increase {
                    cumulative(&mut d, &cols);
                }
                out.push(d);
            }
            Ok(stream(out))
        }
        "cumulativeSum" => {
            c.allow(&["columns", "tables"])?;
            let cols = c
                .strings("columns")?
                .unwrap_or_else(|| vec!["_value".to_owned()]);
            let mut tables = c.tables()?;
            for t in &mut tables {
                cumulative(t, &cols);
            }
            Ok(stream(tables))
        }
        "movingAverage" => {
            c.allow(&["n", "column", "tables"])?;
            let n = c
                .int("n")?
                .ok_or_else(|| c.err("missing required argument n"))?;
            let n = usize::try_from(n)
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| c.err("n must be positive"))?;
            let col = c.string("column")?.unwrap_or_else(|| "_value".to_owned());
            let mut out = Vec::new();
            for mut t in c.tables()? {
                let Some(i) = t.idx(&col) else {
                    out.push(t);
                    continue;
                };
                let rows: Vec<Vec<Value>> =
                    t.rows.iter().filter(|r| !r[i].is_null()).cloned().collect();
                let mut res = Vec::new();
                for k in n.saturating_sub(1)..rows.len() {
                    let win = &rows[k + 1 - n..=k];
                    let sum: f64 = win.iter().filter_map(|r| r[i].as_f64()).sum();
                    let mut row = rows[k].clone();
                    row[i] = Value::Float(sum / n as f64);
                    res.push(row);
                }
                t.cols[i].ty = Type::Float;
                t.rows = res;
                out.push(t);
            }
            Ok(stream(out))
        }
        _ => {
            c.allow(&["unit", "timeColumn", "columnName", "tables"])?;
            let unit = c.duration("unit")?.unwrap_or(1_000_000_000).max(1);
            let time_col = c
                .string("timeColumn")?
                .unwrap_or_else(|| "_time".to_owned());
            let name = c
                .string("columnName")?
                .unwrap_or_else(|| "elapsed".to_owned());
            let mut out = Vec::new();
            for mut t in c.tables()? {
                let Some(ti) = t.idx(&time_col) else {
                    return Err(c.err(format!("column {time_col:?} does not exist")));
                };
                let mut prev = None;
                let mut rows = Vec::new();
                for mut r in std::mem::take(&mut t.rows) {
                    let Value::Time(x) = r[ti] else { continue };
                    if let Some(p) = prev {
                        r.push(Value::Int((x - p) / unit));
                        rows.push(r);
                    }
                    prev = Some(x);
                }
                t.cols.push(Col {
                    name: name.clone(),
                    ty: Type::Int,
                });
                t.rows = rows;
                out.push(t);
            }
            Ok(stream(out))
        }
    }
}

/// `derivative`'s value for `cur` after `prev`, `dt` ns apart, per `unit` ns: `None` drops the
/// row (no time passed), a fall under `non_negative` is null (or, with `initial_zero`, counted
/// from zero). Shared with the lowered derivative (`lower::post`).
pub fn derivative_step(
    dt: i64,
    prev: f64,
    cur: f64,
    unit: i64,
    non_negative: bool,
    initial_zero: bool,
) -> Option<Value> {
    if dt <= 0 {
        return None;
    }
    let d = if cur < prev && non_negative {
        if !initial_zero {
            return Some(Value::Null);
        }
        cur
    } else {
        cur - prev
    };
    Some(Value::Float(d / (dt as f64 / unit as f64)))
}

type PairFn<'a> = dyn Fn(i64, &Value, &Value) -> Result<Option<Value>, String> + 'a;

/// Each row (after the first non-null one) with `f(dt, previous, current)` in each column;
/// `None` drops the row. The column type becomes `ty` (Int keeps a float input float).
fn pairwise(
    t: Table,
    cols: &[String],
    time_col: &str,
    ty: Type,
    f: impl Fn(i64, &Value, &Value) -> Result<Option<Value>, String>,
) -> Result<Table, String> {
    let f: &PairFn<'_> = &f;
    let ti = t.idx(time_col);
    let mut ci: Vec<usize> = Vec::new();
    for i in cols.iter().filter_map(|k| t.idx(k)) {
        // A column named twice is computed once (rows are changed in place below).
        if !ci.contains(&i) {
            ci.push(i);
        }
    }
    let Table { cols, key, rows } = t;
    let mut out = Table {
        cols,
        key,
        rows: Vec::with_capacity(rows.len()),
    };
    for &i in &ci {
        out.cols[i].ty = match (ty, out.cols[i].ty) {
            (Type::Int, Type::Float) => Type::Float,
            (Type::Int, Type::UInt) => Type::Int,
            (ty, _) => ty,
        };
    }
    let mut prev: Vec<Option<(i64, Value)>> = vec![None; ci.len()];
    // Rows are changed in place: a kept row is the input row with its columns replaced.
    for mut row in rows {
        let x = match ti.map(|i| &row[i]) {
            Some(Value::Time(x)) => *x,
            _ => 0,
        };
        let mut keep = true;
        for (j, &i) in ci.iter().enumerate() {
            if row[i].is_null() {
                keep = false;
                continue;
            }
            let cur = row[i].clone();
            match &prev[j] {
                None => keep = false,
                Some((pt, pv)) => match f(x - pt, pv, &cur)? {
                    Some(v) => row[i] = v,
                    None => {
                        keep = false;
                        continue;
                    }
                },
            }
            prev[j] = Some((x, cur));
        }
        if keep {
            out.rows.push(row);
        }
    }
    Ok(out)
}

fn cumulative(t: &mut Table, cols: &[String]) {
    for col in cols {
        let Some(i) = t.idx(col) else { continue };
        let mut acc: Option<Value> = None;
        for r in &mut t.rows {
            if r[i].is_null() {
                continue;
            }
            let next = match (&acc, &r[i]) {
                (None, v) => v.clone(),
                (Some(Value::Int(a)), Value::Int(b)) => Value::Int(a.wrapping_add(*b)),
                (Some(Value::UInt(a)), Value::UInt(b)) => Value::UInt(a.wrapping_add(*b)),
                (Some(a), b) => Value::Float(a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0)),
            };
            r[i] = next.clone();
            acc = Some(next);
        }
    }
}
