//! Lowering Flux reads onto the shared series plan (DESIGN.md decision 7): `from |> range |>
//! filter`, optionally followed by `group(columns:)` and `aggregateWindow`, becomes one
//! `SelectPlan` per measurement × field, run by `query::exec`; its series become the tables the
//! interpreter would have built, byte for byte (a window's kept as `columns`). The calls after
//! the read run in the interpreter on those (few) tables.
//!
//! Owns: which reads lower and their plans (`read`), which `aggregateWindow` calls may be
//! deferred onto a read (`window_lowers`). A read that does not lower answers `None` and is
//! read row by row by `builtins::source` instead, as is one whose plan fails (the interpreter
//! then gives its own answer or error). Does not own: the filter's lowering (`filter`), the
//! tables (`tables`), running plans (`query::exec`).
//!
//! What lowers:
//! - filters: see `filter` (string comparisons and regex matches of `_measurement`, `_field`
//!   and tags, under `and`, `or`, `not`);
//! - `aggregateWindow(every:, offset:, fn:, createEmpty:)` with `fn` one of `mean sum count
//!   median spread stddev min max first last` (`period` equal to `every`, the default
//!   `column`, `timeSrc`, `timeDst`);
//! - before it, `group(columns: [...])` or `group()` (not `_time`, `_value`) when `fn` is not a
//!   selector: a group may then hold several series (reduced in Flux's row order,
//!   `plan::Dialect::Flux`), but not several measurements or fields;
//! - a `group` not followed by `aggregateWindow`: the read lowers, `group` is interpreted;
//! - after `aggregateWindow`, `derivative` and a `map` scaling `_value` by a literal: see `post`.

pub(super) mod filter;
mod post;
mod tables;

use std::collections::BTreeSet;
use std::sync::Arc;

use self::post::Post;
use self::tables::{Read, SortKey};
use crate::model::BucketName;
use crate::query::exec::{self, Limits};
use crate::query::flux::columns::{Tables, WindowTable};
use crate::query::flux::interp::Runtime;
use crate::query::flux::table::{Deferred, Table, key_cmp};
use crate::query::flux::value::{Function, Value};
use crate::query::influxql::lower::tag_hints;
use crate::query::plan::{
    Call, Dialect, Expr, Fill, Func, Interval, OutputField, SelectPlan, Source, VarKind, VarRef,
};

/// Most windows the interpreter cuts one table into with `createEmpty` (an error past it).
const MAX_WINDOWS: i64 = 1_000_000;

/// An `aggregateWindow` the plan computes.
#[derive(Debug, Clone)]
pub struct Window {
    pub every: i64,
    /// Reduced into `[0, every)`.
    pub offset: i64,
    pub func: Func,
    pub create_empty: bool,
}

/// Whether `aggregateWindow` with these (checked) arguments can run on the plan.
pub fn window_lowers(named: &[(String, Value)]) -> bool {
    window(named).is_some()
}

fn window(named: &[(String, Value)]) -> Option<Window> {
    let fixed = |v: &Value| match v {
        Value::Duration(0, n) => Some(*n),
        _ => None,
    };
    let (mut every, mut period, mut offset) = (None, None, 0);
    let (mut func, mut create_empty) = (None, true);
    for (k, v) in named {
        match (k.as_str(), v) {
            ("every", v) => every = Some(fixed(v)?),
            ("period", v) => period = Some(fixed(v)?),
            ("offset", v) => offset = fixed(v)?,
            ("createEmpty", Value::Bool(b)) => create_empty = *b,
            ("column", Value::Str(s)) if &**s == "_value" => {}
            ("timeSrc", Value::Str(s)) if &**s == "_stop" => {}
            ("timeDst", Value::Str(s)) if &**s == "_time" => {}
            ("fn", Value::Func(f)) => match f.as_ref() {
                Function::Builtin(name) => func = Some(aggregate(name)?),
                Function::Lit(..) => return None,
            },
            _ => return None,
        }
    }
    let every = every.filter(|e| *e > 0)?;
    if period.is_some_and(|p| p != every) {
        return None;
    }
    Some(Window {
        every,
        offset: offset.rem_euclid(every),
        func: func?,
        create_empty,
    })
}

fn aggregate(name: &str) -> Option<Func> {
    Some(match name {
        "mean" => Func::Mean,
        "sum" => Func::Sum,
        "count" => Func::Count,
        "median" => Func::Median,
        "spread" => Func::Spread,
        "stddev" => Func::Stddev,
        "min" => Func::Min,
        "max" => Func::Max,
        "first" => Func::First,
        "last" => Func::Last,
        _ => return None,
    })
}

/// What the plan computes of a read's deferred calls, and how many of them.
struct Shape {
    /// `Some(columns)` after `group(columns:)`, `None` without a regroup.
    group: Option<Vec<String>>,
    window: Option<Window>,
    /// The calls after the window computed with it.
    post: Option<Post>,
    done: usize,
}

fn shape(deferred: &[Deferred]) -> Shape {
    let raw = Shape {
        group: None,
        window: None,
        post: None,
        done: 0,
    };
    let group_cols = |d: &Deferred| -> Option<Vec<String>> {
        let mut cols = Vec::new();
        for (k, v) in &d.named {
            match (k.as_str(), v) {
                ("columns", Value::Array(a)) => {
                    for c in a.iter() {
                        let Value::Str(s) = c else { return None };
                        cols.push(s.to_string());
                    }
                }
                ("mode", Value::Str(s)) if &**s == "by" => {}
                _ => return None,
            }
        }
        let unique = cols.iter().collect::<BTreeSet<_>>().len() == cols.len();
        let per_series = !cols.iter().any(|c| c == "_time" || c == "_value");
        (unique && per_series).then_some(cols)
    };
    let windowed = match deferred {
        [w, ..] if w.name == "aggregateWindow" => match window(&w.named) {
            Some(w) => Shape {
                group: None,
                window: Some(w),
                post: None,
                done: 1,
            },
            None => raw,
        },
        [g, w, ..] if g.name == "group" && w.name == "aggregateWindow" => {
            match (group_cols(g), window(&w.named)) {
                (Some(cols), Some(w)) if !w.func.is_selector() => Shape {
                    group: Some(cols),
                    window: Some(w),
                    post: None,
                    done: 2,
                },
                _ => raw,
            }
        }
        _ => raw,
    };
    match Post::of(&deferred[windowed.done..]) {
        Some((post, n)) if windowed.window.is_some() => Shape {
            post: Some(post),
            done: windowed.done + n,
            ..windowed
        },
        _ => windowed,
    }
}

/// The tables of `from(bucket) |> range(start, stop) |> filter(filters)` and of the first
/// `done` deferred calls, computed on the plan; `None` when the read does not lower or its
/// plan fails.
pub fn read(
    rt: &Runtime<'_>,
    bucket: &BucketName,
    start: i64,
    stop: i64,
    filters: &[Arc<Function>],
    deferred: &[Deferred],
) -> Option<(Tables, usize)> {
    let ctx = rt.ctx;
    let store = ctx.store?;
    if stop <= start {
        return None;
    }
    let nodes = filter::parse(filters)?;
    let shape = shape(deferred);
    if let Some(w) = shape.window.as_ref().filter(|w| w.create_empty) {
        let first = window_start(start, w);
        let last = window_start(stop - 1, w);
        if (last - first) / w.every >= MAX_WINDOWS {
            return None;
        }
    }
    let limits = Limits {
        max_scan_bytes: ctx.max_scan_bytes,
        max_rows: usize::MAX,
    };
    let mut points = 0usize;
    let mut raw: Vec<(SortKey, Table)> = Vec::new();
    let mut windows: Vec<(SortKey, WindowTable)> = Vec::new();
    for m in store.measurements(ctx.tenant, bucket) {
        let Some(schema) = store.schema(ctx.tenant, bucket, &m) else {
            continue;
        };
        for (f, field_type) in &schema.fields {
            let condition = match filter::condition(&nodes, &m, Some(f)) {
                crate::query::plan::Cond::False => continue,
                crate::query::plan::Cond::True => None,
                c => Some(c),
            };
            let group_by: Vec<String> = match &shape.group {
                None => {
                    let mut g = schema.tags.clone();
                    g.sort();
                    g
                }
                Some(cols) => {
                    let mut g: Vec<String> = cols
                        .iter()
                        .filter(|c| {
                            !matches!(c.as_str(), "_start" | "_stop" | "_field" | "_measurement")
                        })
                        .cloned()
                        .collect();
                    g.sort();
                    g
                }
            };
            let field = Expr::Var(VarRef {
                name: f.clone(),
                kind: VarKind::Field,
            });
            let plan = SelectPlan {
                sources: vec![Source {
                    bucket: bucket.clone(),
                    measurement: m.clone(),
                }],
                time_column: "time".to_owned(),
                fields: vec![OutputField {
                    name: f.clone(),
                    expr: match &shape.window {
                        Some(w) => Expr::Call(Box::new(Call {
                            func: w.func.clone(),
                            arg: field,
                        })),
                        None => field,
                    },
                }],
                tag_hints: condition
                    .as_ref()
                    .map(|c| tag_hints(c, &|v| v.kind == VarKind::Tag))
                    .unwrap_or_default(),
                condition,
                start,
                end: stop - 1,
                interval: shape.window.as_ref().map(|w| Interval {
                    every: w.every,
                    offset: w.offset,
                }),
                group_by,
                fill: match &shape.window {
                    Some(w) if w.create_empty => Fill::Null,
                    _ => Fill::None,
                },
                tz: None,
                ascending: true,
                limit: 0,
                offset: 0,
                slimit: 0,
                soffset: 0,
                dialect: Dialect::Flux,
            };
            let (series, stats) = exec::execute_counted(&plan, ctx.tenant, store, limits).ok()?;
            points += stats.points;
            if points > ctx.max_rows {
                return None;
            }
            let read = Read {
                measurement: &m,
                field: f,
                field_type: *field_type,
                start,
                stop,
            };
            match &shape.window {
                None => raw.extend(read.raw(series)),
                Some(w) => windows.extend(read.windowed(
                    series,
                    w,
                    shape.group.as_deref(),
                    shape.post.as_ref(),
                )?),
            }
        }
    }
    let regrouped = shape.group.is_some();
    let tables = match shape.window {
        None => Tables::Rows(in_order(raw, regrouped, |t| &t.key)?),
        Some(_) => Tables::Windows(in_order(windows, regrouped, |t| &t.key)?),
    };
    Some((tables, shape.done))
}

/// A read's tables in the order the interpreter leaves them: by group key after a regroup
/// (`None` when two plans made groups with one key: they would have been one table), else by
/// measurement, tags, field.
fn in_order<T>(
    mut out: Vec<(SortKey, T)>,
    regrouped: bool,
    key: impl Fn(&T) -> &[(String, Value)],
) -> Option<Vec<T>> {
    if regrouped {
        out.sort_by(|a, b| key_cmp(key(&a.1), key(&b.1)));
        if out.windows(2).any(|p| key(&p[0].1) == key(&p[1].1)) {
            return None;
        }
    } else {
        out.sort_by(|a, b| a.0.cmp(&b.0));
    }
    Some(out.into_iter().map(|(_, t)| t).collect())
}

/// Start of the window holding `t` (Flux's and the executor's alignment).
fn window_start(t: i64, w: &Window) -> i64 {
    let (t, every, offset) = (i128::from(t), i128::from(w.every), i128::from(w.offset));
    i64::try_from(t - (t - offset).rem_euclid(every)).unwrap_or(i64::MIN)
}
