//! The executor's driver: per measurement, scan, filter, group; per group, raw rows or the
//! call streams joined into rows; then ordering and limits.

use std::collections::BTreeMap;

use super::points::{Points, group_rows, points};
use super::scan::{FieldCol, Measured, Resolved, SeriesRun};
use super::stream::{FillSpec, Reducing, SPoint, Windows, fill, integral, transform, windowed};
use super::value::{arith, nan_to_null};
use super::{Limits, QueryError, Stats};
use crate::lineproto::FieldType;
use crate::model::TenantId;
use crate::query::plan::{Call, Dialect, Expr, Fill, Func, MIN_TIME, SelectPlan, VarKind};
use crate::query::result::{Datum, Series};
use crate::store::{ReadStore, ScanRequest, SeriesPredicate};
use rayon::prelude::*;

const SECOND: i64 = 1_000_000_000;

/// Everything a group's computation reads.
struct Group<'a> {
    plan: &'a SelectPlan,
    m: &'a Measured,
    rows: Vec<u32>,
    windows: Option<Windows>,
    /// A lone selector keeps its point's time when there is no GROUP BY time.
    selector_mode: bool,
    limits: Limits,
    /// Flux's rank of each series of `m` (by tag list), when this group holds several series
    /// and the plan follows Flux's rules: windows are reduced series by series.
    rank: Option<&'a [u32]>,
}

/// One group's rows, and the points it read (for `Stats`).
type GroupAnswer = (Vec<Vec<Datum>>, usize);

pub fn execute(
    plan: &SelectPlan,
    tenant: &TenantId,
    store: &dyn ReadStore,
    limits: Limits,
    mut stats: Option<&mut Stats>,
) -> Result<Vec<Series>, QueryError> {
    let mut calls: Vec<&Call> = Vec::new();
    for f in &plan.fields {
        f.expr.top_calls(&mut calls);
    }
    let mut keys: Vec<String> = Vec::new();
    let mut uniq: Vec<&Call> = Vec::new();
    for c in calls {
        let k = c.to_string();
        if !keys.contains(&k) {
            keys.push(k);
            uniq.push(c);
        }
    }
    // Every top-level call (duplicates included) → index of its stream in `uniq`.
    let mut all_calls: Vec<&Call> = Vec::new();
    for f in &plan.fields {
        f.expr.top_calls(&mut all_calls);
    }
    let slots: Vec<(usize, usize)> = all_calls
        .iter()
        .map(|c| {
            let k = c.to_string();
            let i = keys.iter().position(|x| *x == k).unwrap_or(0);
            (*c as *const Call as usize, i)
        })
        .collect();
    let selector_mode = uniq.len() == 1 && uniq[0].func.is_selector();
    let windows = plan.interval.map(|interval| Windows {
        interval,
        tz: plan.tz,
    });
    // Transformations over windows read one window before the range (after it, descending).
    let extend = plan.interval.is_some() && uniq.iter().any(|c| needs_extra_window(c));
    let (mut scan_start, mut scan_end) = (plan.start, plan.end);
    if let (true, Some(i)) = (extend, plan.interval) {
        if plan.ascending {
            if scan_start != MIN_TIME {
                scan_start = scan_start.saturating_sub(i.every);
            }
        } else {
            scan_end = scan_end.saturating_add(i.every);
        }
    }

    let mut columns = vec![plan.time_column.clone()];
    columns.extend(plan.fields.iter().map(|f| f.name.clone()));
    let mut out: Vec<Series> = Vec::new();
    let mut total_rows = 0usize;
    for source in &plan.sources {
        let Some(schema) = store.schema(tenant, &source.bucket, &source.measurement) else {
            continue;
        };
        let is_field = |name: &str, kind: VarKind| {
            kind != VarKind::Tag && schema.fields.iter().any(|(k, _)| k == name)
        };
        let mut out_vars = Vec::new();
        for f in &plan.fields {
            collect_vars(&f.expr, &mut out_vars);
        }
        if !out_vars.iter().any(|v| is_field(&v.name, v.kind)) {
            // Nothing selected exists as a field here: InfluxDB answers no series.
            continue;
        }
        let mut all_vars = out_vars.clone();
        if let Some(c) = &plan.condition {
            c.vars(&mut all_vars);
        }
        let mut needed: Vec<String> = schema
            .fields
            .iter()
            .filter(|(k, _): &&(String, FieldType)| {
                all_vars
                    .iter()
                    .any(|v| &v.name == k && v.kind != VarKind::Tag)
            })
            .map(|(k, _)| k.clone())
            .collect();
        needed.dedup();
        // A condition on tags alone is decided per series: the store may leave out the rows
        // of series it rejects before merging them (the same decision as below).
        let by_tags = plan.condition.as_ref().filter(|c| {
            let mut vars = Vec::new();
            c.vars(&mut vars);
            !vars.iter().any(|v| is_field(&v.name, v.kind))
        });
        let wanted = by_tags.map(|c| {
            let probe = Measured::probe(&schema.tags);
            move |tags: &[(String, String)]| probe.matches_tags(c, tags)
        });
        let batch = store.scan(&ScanRequest {
            tenant,
            bucket: &source.bucket,
            measurement: &source.measurement,
            min_time: scan_start,
            max_time: scan_end,
            tag_equals: &plan.tag_hints,
            series_filter: wanted.as_ref().map(|w| SeriesPredicate(w)),
            fields: Some(&needed),
            max_bytes: limits.max_scan_bytes,
        })?;
        let m = Measured::from_batch(&source.measurement, &batch)?;
        let cond = plan.condition.as_ref();
        let row_level = cond.is_some_and(|c| m.cond_reads_fields(c));
        // Group the series that may match, by their values of the GROUP BY tags.
        let mut groups: BTreeMap<Vec<String>, Vec<usize>> = BTreeMap::new();
        for (i, s) in m.series.iter().enumerate() {
            if let (Some(c), false) = (cond, row_level)
                && !m.matches(c, s, s.start)
            {
                continue;
            }
            let key = plan
                .group_by
                .iter()
                .map(|k| {
                    m.tag_keys
                        .binary_search(k)
                        .ok()
                        .and_then(|t| s.tags[t].clone())
                        .unwrap_or_default()
                })
                .collect();
            groups.entry(key).or_default().push(i);
        }
        let rank = (plan.dialect == Dialect::Flux && groups.values().any(|g| g.len() > 1))
            .then(|| flux_rank(&m, groups.values().filter(|g| g.len() > 1).flatten()));
        // Groups are independent: computed in parallel on rayon's pool, kept in key order.
        let groups: Vec<(Vec<String>, Vec<usize>)> = groups.into_iter().collect();
        let count_points = stats.is_some();
        let computed: Vec<Result<GroupAnswer, QueryError>> = groups
            .par_iter()
            .map(|(_, series)| {
                let keep = |s: &SeriesRun, r: usize| match (cond, row_level) {
                    (Some(c), true) => m.matches(c, s, r),
                    _ => true,
                };
                let rows = group_rows(&m, series, &keep);
                let g = Group {
                    plan,
                    m: &m,
                    rows,
                    windows,
                    selector_mode,
                    limits,
                    rank: rank.as_deref().filter(|_| series.len() > 1),
                };
                let points = if count_points { g.points_in_range() } else { 0 };
                let values = if uniq.is_empty() {
                    g.raw_rows()
                } else {
                    g.aggregate_rows(&uniq, &slots)?
                };
                let values = values
                    .into_iter()
                    .skip(plan.offset)
                    .take(if plan.limit == 0 {
                        usize::MAX
                    } else {
                        plan.limit
                    })
                    .collect();
                Ok((values, points))
            })
            .collect();
        let mut series_here: Vec<Series> = Vec::new();
        for ((key, _), computed) in groups.into_iter().zip(computed) {
            let (values, points) = computed?;
            if let Some(stats) = stats.as_deref_mut() {
                stats.points += points;
            }
            if values.is_empty() {
                continue;
            }
            total_rows += values.len();
            if total_rows > limits.max_rows {
                return Err(QueryError::TooManyRows {
                    limit: limits.max_rows,
                });
            }
            series_here.push(Series {
                name: source.measurement.clone(),
                tags: plan.group_by.iter().cloned().zip(key).collect(),
                columns: columns.clone(),
                values,
                partial: false,
            });
        }
        let limit = if plan.slimit == 0 {
            usize::MAX
        } else {
            plan.slimit
        };
        out.extend(series_here.into_iter().skip(plan.soffset).take(limit));
    }
    if !plan.ascending {
        out.reverse();
    }
    Ok(out)
}

/// Flux's order of the series `of` `m`: by their tag lists (present tags, sorted by key), as
/// Flux orders the tables a read answers. `rank[i]` is series `i`'s place (0 for the others).
fn flux_rank<'a>(m: &Measured, of: impl Iterator<Item = &'a usize>) -> Vec<u32> {
    let list = |i: usize| -> Vec<(&str, &str)> {
        m.tag_keys
            .iter()
            .zip(&m.series[i].tags)
            .filter_map(|(k, v)| match v.as_deref() {
                Some(v) if !v.is_empty() => Some((k.as_str(), v)),
                _ => None,
            })
            .collect()
    };
    let mut order: Vec<usize> = of.copied().collect();
    order.sort_by_cached_key(|&i| list(i));
    let mut rank = vec![0u32; m.series.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = u32::try_from(r).unwrap_or(u32::MAX);
    }
    rank
}

/// Whether the call reads one window before the range (InfluxDB widens the input of these
/// transformations by one interval).
fn needs_extra_window(c: &Call) -> bool {
    match &c.arg {
        Expr::Call(inner) => {
            matches!(
                c.func,
                Func::Derivative { .. }
                    | Func::Difference { .. }
                    | Func::MovingAverage(_)
                    | Func::Elapsed(_)
            ) || needs_extra_window(inner)
        }
        _ => false,
    }
}

/// Variables of an expression, inside calls too.
fn collect_vars<'a>(e: &'a Expr, out: &mut Vec<&'a crate::query::plan::VarRef>) {
    match e {
        Expr::Var(v) => out.push(v),
        Expr::Call(c) => collect_vars(&c.arg, out),
        Expr::Binary(l, _, r) => {
            collect_vars(l, out);
            collect_vars(r, out);
        }
        _ => {}
    }
}

impl Group<'_> {
    fn series_index(&self, row: u32) -> usize {
        let r = row as usize;
        self.m
            .series
            .partition_point(|s| s.start <= r)
            .saturating_sub(1)
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
    fn points_in_range(&self) -> usize {
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

    /// How windows are reduced: the plan's rules, in Flux's series order for several series.
    fn with_reducing<T>(&self, f: impl FnOnce(Reducing<'_>) -> T) -> T {
        match self.rank {
            Some(rank) => {
                let by_series = |row: u32| rank[self.series_index(row)];
                f(Reducing {
                    dialect: self.plan.dialect,
                    rank: Some(&by_series),
                })
            }
            None => f(Reducing {
                dialect: self.plan.dialect,
                rank: None,
            }),
        }
    }

    /// One row per point that holds at least one selected field.
    fn raw_rows(&self) -> Vec<Vec<Datum>> {
        let cols = self.selected_columns();
        let raw_fill = match self.plan.fill {
            Fill::Number(f) => Some(f),
            Fill::Integer(i) => Some(i as f64),
            _ => None,
        };
        let mut rows: Vec<Vec<Datum>> = Vec::new();
        let mut emit = |r: u32| {
            let ri = r as usize;
            if !cols.iter().any(|c| c.is_valid(ri)) {
                return;
            }
            let s = self.series_of(r);
            let mut row = Vec::with_capacity(self.plan.fields.len() + 1);
            row.push(Datum::Time(self.m.times[ri]));
            for f in &self.plan.fields {
                row.push(self.shown(self.m.eval_filled(&f.expr, s, ri, raw_fill)));
            }
            rows.push(row);
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
            self.with_reducing(|how| {
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
    fn aggregate_rows(
        &self,
        calls: &[&Call],
        slots: &[(usize, usize)],
    ) -> Result<Vec<Vec<Datum>>, QueryError> {
        let plan = self.plan;
        let streams = calls
            .iter()
            .map(|c| self.call_stream(c, plan.start, plan.end))
            .collect::<Result<Vec<_>, _>>()?;
        let mut heads = vec![0usize; streams.len()];
        let mut last: Vec<Datum> = vec![Datum::Null; streams.len()];
        let mut rows = Vec::new();
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
            let mut vals: Vec<Datum> = Vec::with_capacity(streams.len());
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
            let mut row = Vec::with_capacity(plan.fields.len() + 1);
            row.push(Datum::Time(t));
            for f in &plan.fields {
                row.push(self.shown(self.eval(&f.expr, slots, &vals, aux)));
            }
            rows.push(row);
            if rows.len() > self.limits.max_rows {
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
