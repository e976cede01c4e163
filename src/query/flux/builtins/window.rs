//! Windows (docs/flux.md §5.3): `window` and `aggregateWindow`.
//!
//! Owns: window boundaries (aligned to the Unix epoch plus `offset`, clipped to the table's
//! `_start`/`_stop`), `createEmpty`, and aggregateWindow's stamping (`timeSrc` → `timeDst`,
//! `_stop` by default) and reassembly into one table per input table.

use std::sync::Arc;

use super::agg::{SELECTORS, Spec};
use super::shape::duplicate;
use super::{Args, Call, stream};
use crate::query::flux::FluxError;
use crate::query::flux::table::{Col, Stream, Table, Type};
use crate::query::flux::value::{Function, Value};

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
        if period / every > MAX_OVERLAP {
            return Err(c.err(format!(
                "period may be at most {MAX_OVERLAP} times every (each row would be in more windows)"
            )));
        }
        Ok(Windows {
            every,
            period,
            offset,
        })
    }

    /// Window starts (unclipped) covering `[lo, hi)`, and those holding time `t`.
    fn first_start(&self, t: i64) -> i64 {
        // In i128: `t - offset` and the steps back may leave the i64 range near its ends.
        let (t, every, period) = (
            i128::from(t),
            i128::from(self.every),
            i128::from(self.period),
        );
        let offset = i128::from(self.offset).rem_euclid(every);
        let mut s = t - (t - offset).rem_euclid(every);
        // The earliest window still holding t when period > every.
        while s - every + period > t {
            s -= every;
        }
        i64::try_from(s).unwrap_or(i64::MIN)
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
        // The range's bounds: from the group key, else (after `group()`) from the `_start` and
        // `_stop` columns range() gave every row, else from the rows' times.
        let column = |name: &str| -> Vec<i64> {
            t.idx(name).map_or_else(Vec::new, |i| {
                t.rows
                    .iter()
                    .filter_map(|r| match &r[i] {
                        Value::Time(x) => Some(*x),
                        _ => None,
                    })
                    .collect()
            })
        };
        let lo = match t.key_value("_start") {
            Some(Value::Time(s)) => Some(*s),
            _ => column("_start")
                .into_iter()
                .min()
                .or_else(|| times.iter().flatten().min().copied()),
        };
        let hi = match t.key_value("_stop") {
            Some(Value::Time(s)) => Some(*s),
            _ => column("_stop")
                .into_iter()
                .max()
                .or_else(|| times.iter().flatten().max().map(|x| x + 1)),
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
                if s == i64::MAX {
                    break;
                }
                s = s.saturating_add(self.every);
            }
        }
        if !create_empty {
            return Ok(by_start
                .into_iter()
                .map(|(s, rows)| (s.max(lo), s.saturating_add(self.period).min(hi), rows))
                .collect());
        }
        let mut out = Vec::new();
        let mut s = self.first_start(lo);
        while s < hi && out.len() < MAX_WINDOWS {
            let rows = by_start.remove(&s).unwrap_or_default();
            out.push((s.max(lo), s.saturating_add(self.period).min(hi), rows));
            s = s.saturating_add(self.every);
        }
        if s < hi {
            return Err(format!(
                "createEmpty would make more than {MAX_WINDOWS} windows per table"
            ));
        }
        Ok(out)
    }
}

/// Most windows one row may fall into (`period / every`).
const MAX_OVERLAP: i64 = 1000;

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

pub fn window_fn(c: &mut Call<'_, '_>) -> Result<Value, FluxError> {
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

pub fn aggregate_window(c: &mut Call<'_, '_>) -> Result<Value, FluxError> {
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
    if crate::query::flux::lower::window_lowers(&c.args.named)
        && let Some(lazy) = c.defer(&["group"])
    {
        return Ok(lazy);
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
