//! The executor's driver: per measurement, scan, filter, group; per group, raw rows or the
//! call streams joined into rows (`group`); then ordering and limits.

use std::collections::BTreeMap;

use super::group::Group;
use super::points::group_rows;
use super::scan::{Measured, SeriesRun};
use super::stream::Windows;
use super::{Limits, QueryError, Stats};
use crate::lineproto::FieldType;
use crate::model::TenantId;
use crate::query::Rows;
use crate::query::plan::{Call, Dialect, Expr, Func, MIN_TIME, SelectPlan, VarKind};
use crate::query::result::Series;
use crate::store::{ReadStore, ScanRequest, SeriesPredicate};
use rayon::prelude::*;

/// One group's rows, and the points it read (for `Stats`).
type GroupAnswer = (Rows, usize);

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
                let mut values = if uniq.is_empty() {
                    g.raw_rows()
                } else {
                    g.aggregate_rows(&uniq, &slots)?
                };
                values.page(
                    plan.offset,
                    if plan.limit == 0 {
                        usize::MAX
                    } else {
                        plan.limit
                    },
                );
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
pub(super) fn collect_vars<'a>(e: &'a Expr, out: &mut Vec<&'a crate::query::plan::VarRef>) {
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
