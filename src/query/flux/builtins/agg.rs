//! Aggregates, selectors, `window`, `aggregateWindow`, `top`/`bottom` (docs/flux.md §5.3).
//!
//! Owns: the value rules of each aggregate (types, nulls ignored, empty tables), window
//! boundaries (aligned to the Unix epoch plus `offset`, clipped to the table's `_start`/`_stop`),
//! `createEmpty`, and aggregateWindow's stamping (`timeSrc` → `timeDst`, `_stop` by default).

use super::group::{key_cols, key_row};
use super::{Call, stream};
use crate::query::flux::FluxError;
use crate::query::flux::table::{Col, Table, Type};
use crate::query::flux::value::Value;

pub const SELECTORS: &[&str] = &["first", "last", "min", "max"];

pub fn call(c: &mut Call<'_, '_>) -> Result<Value, FluxError> {
    match c.name {
        "window" => super::window::window_fn(c),
        "aggregateWindow" => super::window::aggregate_window(c),
        "top" | "bottom" => {
            c.allow(&["n", "columns", "tables"])?;
            let n = c
                .int("n")?
                .ok_or_else(|| c.err("missing required argument n"))?;
            let cols = c
                .strings("columns")?
                .unwrap_or_else(|| vec!["_value".to_owned()]);
            let mut tables = c.tables()?;
            for t in &mut tables {
                let idx: Vec<usize> = cols.iter().filter_map(|k| t.idx(k)).collect();
                t.rows.sort_by(|a, b| {
                    let o = idx
                        .iter()
                        .map(|&i| a[i].sort_cmp(&b[i]))
                        .find(|o| o.is_ne())
                        .unwrap_or(std::cmp::Ordering::Equal);
                    if c.name == "top" { o.reverse() } else { o }
                });
                t.rows.truncate(usize::try_from(n).unwrap_or(0));
            }
            Ok(stream(tables))
        }
        name => {
            c.allow(&["column", "q", "method", "mode", "tables"])?;
            let spec = Spec::from_call(c, name)?;
            let tables = c.tables()?;
            let mut out = Vec::with_capacity(tables.len());
            for t in tables {
                out.extend(spec.apply(&t).map_err(|m| c.err(m))?);
            }
            Ok(stream(out))
        }
    }
}

/// One aggregate or selector with its arguments.
#[derive(Clone)]
pub struct Spec {
    pub name: &'static str,
    pub column: String,
    pub q: f64,
    pub method: String,
    pub sample: bool,
}

impl Spec {
    fn from_call(c: &Call<'_, '_>, name: &'static str) -> Result<Spec, FluxError> {
        let q = match name {
            "quantile" => c
                .float("q")?
                .ok_or_else(|| c.err("missing required argument q"))?,
            _ => 0.5,
        };
        if !(0.0..=1.0).contains(&q) {
            return Err(c.err("q must be between 0 and 1"));
        }
        let method = c
            .string("method")?
            .unwrap_or_else(|| "estimate_tdigest".to_owned());
        if !matches!(
            method.as_str(),
            "estimate_tdigest" | "exact_mean" | "exact_selector"
        ) {
            return Err(c.err(format!("unknown method {method:?}")));
        }
        let sample = match c.string("mode")?.as_deref() {
            None | Some("sample") => true,
            Some("population") => false,
            Some(m) => return Err(c.err(format!("unknown mode {m:?}"))),
        };
        Ok(Spec {
            name,
            column: c.string("column")?.unwrap_or_else(|| "_value".to_owned()),
            q,
            method,
            sample,
        })
    }

    pub fn is_selector(&self) -> bool {
        SELECTORS.contains(&self.name) || self.method == "exact_selector"
    }

    /// The aggregate of one table: one table (selectors: the selected row, or no row).
    pub fn apply(&self, t: &Table) -> Result<Option<Table>, String> {
        let Some(ci) = t.idx(&self.column) else {
            if t.rows.is_empty() {
                return Ok(None);
            }
            return Err(format!("column {:?} does not exist", self.column));
        };
        let idx: Vec<usize> = (0..t.rows.len())
            .filter(|&r| !t.rows[r][ci].is_null())
            .collect();
        if self.is_selector() {
            let pick = select(self, t, ci, &idx)?;
            return Ok(Some(Table {
                cols: t.cols.clone(),
                key: t.key.clone(),
                rows: pick.map(|r| vec![t.rows[r].clone()]).unwrap_or_default(),
            }));
        }
        let vals: Vec<&Value> = idx.iter().map(|&r| &t.rows[r][ci]).collect();
        let ty = t.cols[ci].ty;
        let v = self.reduce(&vals, ty)?;
        let out_ty = Type::of(&v).unwrap_or(match self.name {
            "sum" | "spread" | "mode" => ty,
            _ => Type::Float,
        });
        let mut cols = key_cols(t);
        cols.retain(|c| c.name != self.column);
        cols.push(Col {
            name: self.column.clone(),
            ty: out_ty,
        });
        let mut row: Vec<Value> = key_row(t)
            .into_iter()
            .filter(|(k, _)| *k != self.column)
            .map(|(_, v)| v)
            .collect();
        row.push(v);
        Ok(Some(Table {
            cols,
            key: t.key.clone(),
            rows: vec![row],
        }))
    }

    fn reduce(&self, vals: &[&Value], ty: Type) -> Result<Value, String> {
        if self.name == "count" {
            return Ok(Value::Int(vals.len() as i64));
        }
        let numeric = matches!(ty, Type::Int | Type::UInt | Type::Float);
        if self.name == "mode" {
            let mut sorted: Vec<&Value> = vals.to_vec();
            sorted.sort_by(|a, b| a.sort_cmp(b));
            let (mut best, mut best_n, mut i) = (Value::Null, 0, 0);
            while i < sorted.len() {
                let j = (i..sorted.len())
                    .find(|&j| sorted[j] != sorted[i])
                    .unwrap_or(sorted.len());
                if j - i > best_n {
                    best_n = j - i;
                    best = sorted[i].clone();
                }
                i = j;
            }
            return Ok(best);
        }
        if vals.is_empty() {
            return Ok(Value::Null);
        }
        if !numeric {
            return Err(format!(
                "{} cannot aggregate a {} column",
                self.name,
                ty.csv_name()
            ));
        }
        let f: Vec<f64> = vals.iter().filter_map(|v| v.as_f64()).collect();
        Ok(match self.name {
            "sum" => match ty {
                Type::Int => Value::Int(
                    vals.iter()
                        .map(|v| if let Value::Int(n) = v { *n } else { 0 })
                        .fold(0i64, i64::wrapping_add),
                ),
                Type::UInt => Value::UInt(
                    vals.iter()
                        .map(|v| if let Value::UInt(n) = v { *n } else { 0 })
                        .fold(0u64, u64::wrapping_add),
                ),
                _ => Value::Float(f.iter().sum()),
            },
            "mean" => Value::Float(f.iter().sum::<f64>() / f.len() as f64),
            "spread" => {
                let (lo, hi) = vals.iter().fold((vals[0], vals[0]), |(lo, hi), v| {
                    (
                        if v.sort_cmp(lo).is_lt() { v } else { lo },
                        if v.sort_cmp(hi).is_gt() { v } else { hi },
                    )
                });
                match (lo, hi) {
                    (Value::Int(a), Value::Int(b)) => Value::Int(b - a),
                    (Value::UInt(a), Value::UInt(b)) => Value::UInt(b - a),
                    _ => Value::Float(hi.as_f64().unwrap_or(0.0) - lo.as_f64().unwrap_or(0.0)),
                }
            }
            "stddev" => {
                let n = f.len() as f64;
                let d = if self.sample { n - 1.0 } else { n };
                if d <= 0.0 {
                    return Ok(Value::Null);
                }
                let mean = f.iter().sum::<f64>() / n;
                Value::Float((f.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / d).sqrt())
            }
            _ => {
                let mut s = f;
                s.sort_by(|a, b| a.total_cmp(b));
                let x = self.q * (s.len() - 1) as f64;
                let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
                Value::Float(if self.method == "exact_mean" {
                    if lo == hi {
                        s[lo]
                    } else {
                        (s[lo] + s[hi]) / 2.0
                    }
                } else {
                    s[lo] + (x - lo as f64) * (s[hi] - s[lo])
                })
            }
        })
    }
}

/// The row a selector picks among non-null rows `idx`.
fn select(spec: &Spec, t: &Table, ci: usize, idx: &[usize]) -> Result<Option<usize>, String> {
    if idx.is_empty() {
        return Ok(None);
    }
    Ok(Some(match spec.name {
        "first" => idx[0],
        "last" => idx[idx.len() - 1],
        "min" | "max" => {
            let mut best = idx[0];
            for &r in &idx[1..] {
                let o = t.rows[r][ci].sort_cmp(&t.rows[best][ci]);
                if (spec.name == "min" && o.is_lt()) || (spec.name == "max" && o.is_gt()) {
                    best = r;
                }
            }
            best
        }
        _ => {
            let mut s = idx.to_vec();
            s.sort_by(|a, b| t.rows[*a][ci].sort_cmp(&t.rows[*b][ci]));
            let k = ((spec.q * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1;
            s[k]
        }
    }))
}
