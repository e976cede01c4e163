//! Aggregates, selectors, `window`, `aggregateWindow`, `top`/`bottom` (docs/flux.md §5.3).
//!
//! Owns: the value rules of each aggregate (types, nulls ignored, empty tables), window
//! boundaries (aligned to the Unix epoch plus `offset`, clipped to the table's `_start`/`_stop`),
//! `createEmpty`, and aggregateWindow's stamping (`timeSrc` → `timeDst`, `_stop` by default).

use std::sync::Arc;

use super::shape::{duplicate, key_cols, key_row};
use super::{Args, Call, stream};
use crate::query::flux::FluxError;
use crate::query::flux::table::{Col, Stream, Table, Type};
use crate::query::flux::value::{Function, Value};

const SELECTORS: &[&str] = &["first", "last", "min", "max"];

pub fn call(c: &mut Call<'_, '_>) -> Result<Value, FluxError> {
    match c.name {
        "window" => window_fn(c),
        "aggregateWindow" => aggregate_window(c),
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
struct Spec {
    name: &'static str,
    column: String,
    q: f64,
    method: String,
    sample: bool,
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

    fn is_selector(&self) -> bool {
        SELECTORS.contains(&self.name) || self.method == "exact_selector"
    }

    /// The aggregate of one table: one table (selectors: the selected row, or no row).
    fn apply(&self, t: &Table) -> Result<Option<Table>, String> {
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

/// Window geometry.
struct Windows {
    every: i64,
    period: i64,
    offset: i64,
}

impl Windows {
    fn from_call(c: &Call<'_, '_>) -> Result<Windows, FluxError> {
        let every = c
            .duration("every")?
            .ok_or_else(|| c.err("missing required argument every"))?;
        let period = c.duration("period")?.unwrap_or(every);
        let offset = c.duration("offset")?.unwrap_or(0);
        if every <= 0 || period <= 0 {
            return Err(c.err("every and period must be positive"));
        }
        Ok(Windows {
            every,
            period,
            offset,
        })
    }

    /// Window starts (unclipped) covering `[lo, hi)`, and those holding time `t`.
    fn first_start(&self, t: i64) -> i64 {
        let s = t - (t - self.offset).rem_euclid(self.every);
        // The earliest window still holding t when period > every.
        let mut s = s;
        while s - self.every + self.period > t {
            s -= self.every;
        }
        s
    }

    /// Windows (start, stop, rows) of one table within its bounds.
    fn split(&self, t: &Table, create_empty: bool) -> Result<Vec<(i64, i64, Vec<usize>)>, String> {
        let ti = t.idx("_time");
        let times: Vec<Option<i64>> = t
            .rows
            .iter()
            .map(|r| match ti.map(|i| &r[i]) {
                Some(Value::Time(x)) => Some(*x),
                _ => None,
            })
            .collect();
        let lo = match t.key_value("_start") {
            Some(Value::Time(s)) => Some(*s),
            _ => times.iter().flatten().min().copied(),
        };
        let hi = match t.key_value("_stop") {
            Some(Value::Time(s)) => Some(*s),
            _ => times.iter().flatten().max().map(|x| x + 1),
        };
        let (Some(lo), Some(hi)) = (lo, hi) else {
            return Ok(Vec::new());
        };
        let mut by_start: std::collections::BTreeMap<i64, Vec<usize>> =
            std::collections::BTreeMap::new();
        for (r, x) in times.iter().enumerate() {
            let Some(x) = *x else { continue };
            if x < lo || x >= hi {
                continue;
            }
            let mut s = self.first_start(x);
            while s <= x {
                by_start.entry(s).or_default().push(r);
                s += self.every;
            }
        }
        if !create_empty {
            return Ok(by_start
                .into_iter()
                .map(|(s, rows)| (s.max(lo), (s + self.period).min(hi), rows))
                .collect());
        }
        let mut out = Vec::new();
        let mut s = self.first_start(lo);
        while s < hi && out.len() < MAX_WINDOWS {
            let rows = by_start.remove(&s).unwrap_or_default();
            out.push((s.max(lo), (s + self.period).min(hi), rows));
            s += self.every;
        }
        if s < hi {
            return Err(format!(
                "createEmpty would make more than {MAX_WINDOWS} windows per table"
            ));
        }
        Ok(out)
    }
}

/// Most windows one table may be cut into with `createEmpty`.
const MAX_WINDOWS: usize = 1_000_000;

fn sub_table(t: &Table, start: i64, stop: i64, rows: &[usize]) -> Table {
    let mut sub = Table {
        cols: t.cols.clone(),
        key: t.key.clone(),
        rows: rows.iter().map(|&r| t.rows[r].clone()).collect(),
    };
    for (name, v) in [("_start", start), ("_stop", stop)] {
        if let Some(i) = sub.idx(name) {
            for r in &mut sub.rows {
                r[i] = Value::Time(v);
            }
        } else {
            sub.cols.push(Col {
                name: name.to_owned(),
                ty: Type::Time,
            });
            for r in &mut sub.rows {
                r.push(Value::Time(v));
            }
        }
        sub.key.retain(|(k, _)| k != name);
        sub.key.push((name.to_owned(), Value::Time(v)));
    }
    sub.key.sort_by(|a, b| a.0.cmp(&b.0));
    sub
}

fn window_fn(c: &mut Call<'_, '_>) -> Result<Value, FluxError> {
    c.allow(&[
        "every",
        "period",
        "offset",
        "createEmpty",
        "timeColumn",
        "startColumn",
        "stopColumn",
        "location",
        "tables",
    ])?;
    let w = Windows::from_call(c)?;
    let create_empty = c.bool("createEmpty", false)?;
    let mut out = Vec::new();
    for t in c.tables()? {
        for (s, e, rows) in w.split(&t, create_empty).map_err(|m| c.err(m))? {
            out.push(sub_table(&t, s, e, &rows));
        }
    }
    Ok(stream(out))
}

fn aggregate_window(c: &mut Call<'_, '_>) -> Result<Value, FluxError> {
    c.allow(&[
        "every",
        "period",
        "offset",
        "fn",
        "column",
        "timeSrc",
        "timeDst",
        "createEmpty",
        "location",
        "tables",
    ])?;
    let w = Windows::from_call(c)?;
    let f = c.func("fn")?;
    let column = c.string("column")?.unwrap_or_else(|| "_value".to_owned());
    let time_src = c.string("timeSrc")?.unwrap_or_else(|| "_stop".to_owned());
    let time_dst = c.string("timeDst")?.unwrap_or_else(|| "_time".to_owned());
    let create_empty = c.bool("createEmpty", true)?;
    let builtin = match f.as_ref() {
        Function::Builtin(name)
            if !matches!(*name, "top" | "bottom")
                && (SELECTORS.contains(name)
                    || [
                        "mean", "sum", "count", "median", "spread", "stddev", "mode", "quantile",
                    ]
                    .contains(name)) =>
        {
            Some(Spec {
                name,
                column: column.clone(),
                q: 0.5,
                method: "estimate_tdigest".into(),
                sample: true,
            })
        }
        Function::Builtin(name) => {
            return Err(c.err(format!("{name} cannot be used as an aggregateWindow fn")));
        }
        Function::Lit(..) => None,
    };
    if builtin.as_ref().is_some_and(|s| s.name == "quantile") {
        return Err(c.err(
            "quantile needs q: use fn: (column, tables=<-) => tables |> quantile(q: 0.99, column)",
        ));
    }
    let mut out = Vec::new();
    for t in c.tables()? {
        let mut pieces: Vec<Table> = Vec::new();
        for (s, e, rows) in w.split(&t, create_empty).map_err(|m| c.err(m))? {
            let sub = sub_table(&t, s, e, &rows);
            let agg: Vec<Table> = match &builtin {
                Some(spec) if rows.is_empty() && spec.is_selector() => {
                    // Storage answers an empty window with a null row, selectors included.
                    let null = Spec {
                        name: "mean",
                        ..spec.clone()
                    };
                    null.apply(&sub)
                        .map_err(|m| c.err(m))?
                        .into_iter()
                        .collect()
                }
                Some(spec) => spec
                    .apply(&sub)
                    .map_err(|m| c.err(m))?
                    .into_iter()
                    .collect(),
                None => {
                    let v = c.rt.call(
                        &f,
                        Args {
                            named: vec![("column".to_owned(), Value::str(&column))],
                            pipe: Some(Value::Stream(Arc::new(Stream::Tables(vec![sub])))),
                            pos: c.args.pos,
                        },
                    )?;
                    match v {
                        Value::Stream(st) => super::materialize(c.rt, (*st).clone(), c.args.pos)?,
                        other => {
                            return Err(c.err(format!(
                                "fn must return a stream, got {}",
                                other.type_name()
                            )));
                        }
                    }
                }
            };
            for mut a in agg {
                if a.idx(&time_src).is_none() {
                    return Err(c.err(format!("timeSrc column {time_src:?} does not exist")));
                }
                duplicate(&mut a, &time_src, &time_dst).map_err(|m| c.err(m))?;
                pieces.push(a);
            }
        }
        out.push(reassemble(&t, pieces).map_err(|m| c.err(m))?);
    }
    Ok(stream(out))
}

/// Window pieces of one input table → one table with the input's key, columns in input order.
fn reassemble(t: &Table, pieces: Vec<Table>) -> Result<Table, String> {
    let mut order: Vec<Col> = Vec::new();
    for p in &pieces {
        for col in &p.cols {
            if !order.iter().any(|c| c.name == col.name) {
                order.push(col.clone());
            }
        }
    }
    order.sort_by_key(|c| t.idx(&c.name).unwrap_or(usize::MAX));
    if pieces.is_empty() {
        order = t.cols.clone();
    }
    let mut rows = Vec::new();
    for p in pieces {
        for r in 0..p.rows.len() {
            let mut row = p.named_row(r);
            for (k, v) in &t.key {
                if let Some(cell) = row.iter_mut().find(|(n, _)| n == k) {
                    cell.1 = v.clone();
                }
            }
            rows.push(row);
        }
    }
    let mut out = Table::from_rows(t.key.clone(), &order, rows)?;
    if out.rows.is_empty() {
        out.cols
            .retain(|c| t.in_key(&c.name) || c.name == "_time" || c.name == "_value");
    }
    Ok(out)
}
