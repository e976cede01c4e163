//! One group's computation: its raw rows, or its call streams (windows, fills, transformations)
//! joined into rows.

use super::points::{Points, points};
use super::run::collect_vars;
use super::scan::{FieldCol, Measured, Resolved, SeriesRun};
use super::stream::{FillSpec, Reducing, SPoint, Windows, fill, integral, transform, windowed};
use super::value::{arith, nan_to_null};
use super::{Limits, QueryError};
use crate::query::Rows;
use crate::query::plan::{Call, Dialect, Expr, Fill, Func, MIN_TIME, SelectPlan};
use crate::query::result::Datum;

const SECOND: i64 = 1_000_000_000;

/// Everything a group's computation reads.
pub(super) struct Group<'a> {
    pub(super) plan: &'a SelectPlan,
    pub(super) m: &'a Measured,
    pub(super) rows: Vec<u32>,
    pub(super) windows: Option<Windows>,
    /// A lone selector keeps its point's time when there is no GROUP BY time.
    pub(super) selector_mode: bool,
    pub(super) limits: Limits,
    /// Flux's rank of each series of `m` (by tag list), when this group holds several series
    /// and the plan follows Flux's rules: windows are reduced series by series.
    pub(super) rank: Option<&'a [u32]>,
}

impl Group<'_> {
    fn series_index(&self, row: u32) -> usize {
        let r = row as usize;
        self.m
            .series
            .partition_point(|s| s.start <= r)
            .saturating_sub(1)
    }

    /// The series rank of each of `rows`: a row is most often in the run of the row before,
    /// else found by binary search.
    fn ranks_by_search(&self, rows: &[u32], rank: &[u32]) -> Vec<u32> {
        let mut run = (0usize, 0usize, 0u32);
        rows.iter()
            .map(|&row| {
                let r = row as usize;
                if r < run.0 || r >= run.1 {
                    let i = self.series_index(row);
                    let s = &self.m.series[i];
                    run = (s.start, s.end, rank[i]);
                }
                run.2
            })
            .collect()
    }

    /// The series rank of each of `rows`, read from a table of the ranks of the rows they
    /// span: series merged by time take turns row by row, so the run of the row before rarely
    /// holds the next one. `None` when the rows are too sparse in their span for a table to pay.
    fn ranks_by_table(&self, rows: &[u32], rank: &[u32]) -> Option<Vec<u32>> {
        let (lo, hi) = rows
            .iter()
            .fold((u32::MAX, 0), |(lo, hi), &r| (lo.min(r), hi.max(r)));
        if rows.len() < 2 || hi < lo {
            return None;
        }
        let (lo, hi) = (lo as usize, hi as usize);
        let span = hi - lo + 1;
        if span > rows.len().saturating_mul(4) {
            return None;
        }
        let mut table = vec![0u32; span];
        let mut i = self.series_index(lo as u32);
        while let Some(s) = self.m.series.get(i).filter(|s| s.start <= hi) {
            let (from, to) = (s.start.max(lo), s.end.min(hi + 1));
            if from < to {
                table[from - lo..to - lo].fill(rank[i]);
            }
            i += 1;
        }
        Some(rows.iter().map(|&r| table[r as usize - lo]).collect())
    }

    fn series_of(&self, row: u32) -> &SeriesRun {
        &self.m.series[self.series_index(row)]
    }

    /// The columns of the fields the output expressions read.
    fn selected_columns(&self) -> Vec<&FieldCol> {
        let mut vars = Vec::new();
        for f in &self.plan.fields {
            collect_vars(&f.expr, &mut vars);
        }
        vars.iter()
            .filter_map(|v| match self.m.resolve(v) {
                Resolved::Field(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    /// Rows of the group inside the plan's range holding one of the selected fields.
    pub(super) fn points_in_range(&self) -> usize {
        let cols = self.selected_columns();
        let (start, end) = (self.plan.start, self.plan.end);
        self.rows
            .iter()
            .filter(|&&r| {
                let (r, t) = (r as usize, self.m.times[r as usize]);
                t >= start && t <= end && cols.iter().any(|c| c.is_valid(r))
            })
            .count()
    }

    /// NaN is null in InfluxQL's answers and stays NaN in Flux's.
    fn shown(&self, d: Datum) -> Datum {
        match self.plan.dialect {
            Dialect::InfluxQl => nan_to_null(d),
            Dialect::Flux => d,
        }
    }

    /// How the windows of `p` are reduced: the plan's rules, in Flux's series order for
    /// several series.
    fn with_reducing<T>(&self, p: &Points, f: impl FnOnce(Reducing<'_>) -> T) -> T {
        let ranks: Option<Vec<u32>> = self.rank.map(|rank| {
            let Some(ranks) = self.ranks_by_table(&p.rows, rank) else {
                return self.ranks_by_search(&p.rows, rank);
            };
            debug_assert_eq!(ranks, self.ranks_by_search(&p.rows, rank));
            ranks
        });
        f(Reducing {
            dialect: self.plan.dialect,
            ranks: ranks.as_deref(),
        })
    }

    /// One row per point that holds at least one selected field.
    pub(super) fn raw_rows(&self) -> Rows {
        let cols = self.selected_columns();
        let raw_fill = match self.plan.fill {
            Fill::Number(f) => Some(f),
            Fill::Integer(i) => Some(i as f64),
            _ => None,
        };
        let mut rows = Rows::new(self.plan.fields.len() + 1);
        let mut emit = |r: u32| {
            let ri = r as usize;
            if !cols.iter().any(|c| c.is_valid(ri)) {
                return;
            }
            let s = self.series_of(r);
            rows.push(
                std::iter::once(Datum::Time(self.m.times[ri])).chain(
                    self.plan
                        .fields
                        .iter()
                        .map(|f| self.shown(self.m.eval_filled(&f.expr, s, ri, raw_fill))),
                ),
            );
        };
        if self.plan.ascending {
            self.rows.iter().copied().for_each(&mut emit);
        } else {
            self.rows.iter().rev().copied().for_each(&mut emit);
        }
        rows
    }

    /// The points of `v` in `[start, end]` (ascending), or `None` when it is not a field here.
    fn field_points(&self, v: &crate::query::plan::VarRef, start: i64, end: i64) -> Option<Points> {
        let Resolved::Field(col) = self.m.resolve(v) else {
            return None;
        };
        let lo = self
            .rows
            .partition_point(|&r| self.m.times[r as usize] < start);
        let hi = self
            .rows
            .partition_point(|&r| self.m.times[r as usize] <= end);
        Some(points(self.m, col, &self.rows[lo..hi.max(lo)]))
    }

    /// The stream of one call over `[start, end]`, in processing order.
    fn call_stream(&self, c: &Call, start: i64, end: i64) -> Result<Vec<SPoint>, QueryError> {
        let plan = self.plan;
        let asc = plan.ascending;
        if c.func.is_transform() {
            let (mut s, mut e) = (start, end);
            if let (Some(i), false) = (plan.interval, matches!(c.func, Func::CumulativeSum)) {
                if asc {
                    // Without a lower bound there is no window before the first one.
                    if s != MIN_TIME {
                        s = s.saturating_sub(i.every);
                    }
                } else {
                    e = e.saturating_add(i.every);
                }
            }
            let input = match &c.arg {
                Expr::Call(inner) => self.call_stream(inner, s, e)?,
                Expr::Var(v) => match self.field_points(v, s, e) {
                    Some(p) => raw_stream(&p, asc),
                    None => Vec::new(),
                },
                _ => Vec::new(),
            };
            let unit = plan.interval.map_or(SECOND, |i| i.every);
            return transform(&c.func, &input, unit, asc);
        }
        let untimed = if start == MIN_TIME { 0 } else { start };
        let (v, distinct_count) = match &c.arg {
            Expr::Var(v) => (v, false),
            // count(distinct(x)): the distinct values of each window, counted.
            Expr::Call(inner) if c.func == Func::Count && inner.func == Func::Distinct => {
                match &inner.arg {
                    Expr::Var(v) => (v, true),
                    _ => return Ok(Vec::new()),
                }
            }
            _ => {
                return Err(QueryError::Internal {
                    what: "aggregate over a nested call",
                });
            }
        };
        let Some(p) = self.field_points(v, start, end) else {
            return Ok(Vec::new());
        };
        if let Func::Integral(unit) = c.func {
            let mut s = integral(&p, unit, self.windows.as_ref())?;
            if !asc {
                s.reverse();
            }
            return Ok(s);
        }
        let s = if distinct_count {
            let d = windowed(
                &Func::Distinct,
                &p,
                self.windows.as_ref(),
                untimed,
                false,
                Reducing::INFLUXQL,
            )?;
            let mut counted: Vec<SPoint> = Vec::new();
            for q in d {
                match counted.last_mut() {
                    Some(last) if last.time == q.time => {
                        if let Datum::Integer(n) = &mut last.value {
                            *n += 1;
                        }
                    }
                    _ => counted.push(SPoint {
                        time: q.time,
                        value: Datum::Integer(1),
                        row: None,
                    }),
                }
            }
            counted
        } else {
            self.with_reducing(&p, |how| {
                windowed(
                    &c.func,
                    &p,
                    self.windows.as_ref(),
                    untimed,
                    self.selector_mode,
                    how,
                )
            })?
        };
        match &self.windows {
            Some(w) if !matches!(c.func, Func::Top(_) | Func::Bottom(_)) => fill(
                s,
                w,
                FillSpec {
                    mode: plan.fill,
                    start,
                    end,
                    ascending: asc,
                    count_like: c.func == Func::Count,
                    max_points: self.limits.max_rows,
                },
            ),
            _ => Ok(if asc {
                s
            } else {
                s.into_iter().rev().collect()
            }),
        }
    }

    /// Rows of an aggregate plan: the union of the call streams' times, joined.
    pub(super) fn aggregate_rows(
        &self,
        calls: &[&Call],
        slots: &[(usize, usize)],
    ) -> Result<Rows, QueryError> {
        let plan = self.plan;
        let streams = calls
            .iter()
            .map(|c| self.call_stream(c, plan.start, plan.end))
            .collect::<Result<Vec<_>, _>>()?;
        let mut heads = vec![0usize; streams.len()];
        let mut last: Vec<Datum> = vec![Datum::Null; streams.len()];
        let mut rows = Rows::new(plan.fields.len() + 1);
        let mut n = 0usize;
        let mut vals: Vec<Datum> = Vec::with_capacity(streams.len());
        loop {
            let mut t: Option<i64> = None;
            for (s, &h) in streams.iter().zip(&heads) {
                if let Some(p) = s.get(h) {
                    t = Some(match t {
                        None => p.time,
                        Some(t) if plan.ascending => t.min(p.time),
                        Some(t) => t.max(p.time),
                    });
                }
            }
            let Some(t) = t else { break };
            vals.clear();
            let mut aux_row: Option<u32> = None;
            for (k, s) in streams.iter().enumerate() {
                match s.get(heads[k]) {
                    Some(p) if p.time == t => {
                        heads[k] += 1;
                        aux_row = aux_row.or(p.row);
                        let v = match (&p.value, plan.fill) {
                            (Datum::Null, Fill::Number(f)) => Datum::Float(f),
                            (Datum::Null, Fill::Integer(i)) => Datum::Integer(i),
                            (Datum::Null, Fill::Previous) => last[k].clone(),
                            (v, _) => v.clone(),
                        };
                        last[k] = v.clone();
                        vals.push(v);
                    }
                    _ => {
                        let v = match plan.fill {
                            Fill::Number(f) => cast_like(&last[k], Datum::Float(f)),
                            Fill::Integer(i) => cast_like(&last[k], Datum::Integer(i)),
                            Fill::Previous => last[k].clone(),
                            _ => Datum::Null,
                        };
                        vals.push(v);
                    }
                }
            }
            let aux = aux_row.map(|r| (self.series_of(r), r as usize));
            rows.push(
                std::iter::once(Datum::Time(t)).chain(
                    plan.fields
                        .iter()
                        .map(|f| self.shown(self.eval(&f.expr, slots, &vals, aux))),
                ),
            );
            n += 1;
            if n > self.limits.max_rows {
                return Err(QueryError::TooManyRows {
                    limit: self.limits.max_rows,
                });
            }
        }
        Ok(rows)
    }

    fn eval(
        &self,
        e: &Expr,
        slots: &[(usize, usize)],
        vals: &[Datum],
        aux: Option<(&SeriesRun, usize)>,
    ) -> Datum {
        match e {
            Expr::Call(c) => {
                let addr = c.as_ref() as *const Call as usize;
                slots
                    .iter()
                    .find(|(a, _)| *a == addr)
                    .map_or(Datum::Null, |(_, i)| vals[*i].clone())
            }
            Expr::Binary(l, op, r) => arith(
                &self.eval(l, slots, vals, aux),
                *op,
                &self.eval(r, slots, vals, aux),
            ),
            Expr::Var(_) => match aux {
                Some((s, r)) => self.m.eval(e, s, r),
                None => Datum::Null,
            },
            other => self.m.eval(other, &EMPTY_RUN, 0),
        }
    }
}

static EMPTY_RUN: SeriesRun = SeriesRun {
    tags: Vec::new(),
    start: 0,
    end: 0,
};

/// A fill number in the type of the stream's last value (InfluxDB casts to the call's type).
fn cast_like(sample: &Datum, fill: Datum) -> Datum {
    let f = match fill {
        Datum::Float(f) => f,
        Datum::Integer(i) => i as f64,
        other => return other,
    };
    match sample {
        Datum::Integer(_) => Datum::Integer(f as i64),
        Datum::Unsigned(_) => Datum::Unsigned(f as u64),
        Datum::Float(_) => Datum::Float(f),
        _ => fill,
    }
}

/// Raw points as a stream, in processing order.
fn raw_stream(p: &Points, ascending: bool) -> Vec<SPoint> {
    let n = p.times.len();
    let mut s: Vec<SPoint> = (0..n)
        .map(|i| SPoint {
            time: p.times[i],
            value: p.vals.get(i),
            row: Some(p.rows[i]),
        })
        .collect();
    if !ascending {
        s.reverse();
    }
    s
}
