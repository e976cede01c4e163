//! The one logical plan every query front-end lowers to: a series-oriented SELECT.
//!
//! Owns: the plan types (`SelectPlan` and its expressions, conditions, windows, fill) and what
//! each part means. Does not own: building a plan from InfluxQL (`influxql::lower`) or running
//! it (`exec`).
//!
//! # Model
//!
//! A plan reads rows of one or more measurements (`sources`) inside an inclusive time range,
//! keeps those matching `condition`, and splits them into *groups*: one per measurement and
//! value of the `group_by` tags (a series without a tag counts as the empty value). Each
//! group becomes one output series.
//!
//! - A *raw* plan (no `Call` in any output expression) answers one row per stored point of
//!   the group, ordered by time, with each output expression evaluated on that point.
//! - An *aggregate* plan computes every distinct `Call` of the output expressions as a stream
//!   of `(time, value)` points per group: an aggregate or selector reduces each window (the
//!   `interval` windows, or the whole range without one), `fill` fills windows without
//!   points, and a transformation (`derivative`, `moving_average`, ...) maps a stream (raw
//!   points or a nested aggregate) to another. Rows are the union of the streams' times; the
//!   output expressions combine the streams' values at each time.
//!
//! Then come the shaping steps: order (`ascending`), `limit`/`offset` rows per series,
//! `slimit`/`soffset` series per measurement.
//!
//! Times are nanoseconds since the Unix epoch, UTC. `MIN_TIME`/`MAX_TIME` stand for "no bound"
//! exactly as InfluxDB's `influxql.MinTime`/`MaxTime` do.

use std::fmt;

use arrow::buffer::BooleanBuffer;
use regex::Regex;

use crate::model::BucketName;
use crate::store::SeriesIndex;

/// "No lower time bound" (InfluxDB's `influxql.MinTime`).
pub const MIN_TIME: i64 = i64::MIN + 2;
/// "No upper time bound" (InfluxDB's `influxql.MaxTime`).
pub const MAX_TIME: i64 = i64::MAX - 1;

/// A SELECT over the embedded store.
#[derive(Debug, Clone)]
pub struct SelectPlan {
    /// Measurements to read, in output order (sorted by name, then bucket).
    pub sources: Vec<Source>,
    /// Name of the first column (`time`, or the alias of `time` in the select list).
    pub time_column: String,
    /// Output columns after the time column, names already deduplicated (`mean`, `mean_1`).
    pub fields: Vec<OutputField>,
    /// Row filter on tags and fields (time conditions are in `start`/`end`).
    pub condition: Option<Cond>,
    /// Pruning hints for the store: (tag key, values one of which a matching series holds).
    pub tag_hints: Vec<(String, Vec<String>)>,
    /// Inclusive time range. `start == MIN_TIME` means unbounded.
    pub start: i64,
    pub end: i64,
    /// `GROUP BY time(every, offset)`.
    pub interval: Option<Interval>,
    /// Tag keys to group by (after `*`/regex expansion), sorted.
    pub group_by: Vec<String>,
    pub fill: Fill,
    /// `tz('...')`: windows are aligned to local midnight of this zone.
    pub tz: Option<chrono_tz::Tz>,
    pub ascending: bool,
    /// Rows per series (0: no limit) and rows skipped first.
    pub limit: usize,
    pub offset: usize,
    /// Series per statement (0: no limit) and series skipped first.
    pub slimit: usize,
    pub soffset: usize,
    /// Whose rules apply where InfluxQL and Flux compute differently.
    pub dialect: Dialect,
}

/// Whose rules the executor follows where InfluxQL (InfluxDB 1.6.7) and Flux (docs/flux.md)
/// compute the same plan differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    #[default]
    InfluxQl,
    /// For the plans the Flux front-end lowers to (`flux::lower`):
    /// - a window of a group of several series is reduced in Flux's row order after
    ///   `group()`: series by their tag list (present tags sorted by key), then time (float
    ///   sums depend on the order);
    /// - `stddev` is `sqrt(Σ(x − mean)² / (n − 1))` with `mean = Σx / n`, null under two
    ///   points; `median` is `quantile(q: 0.5)`'s interpolation;
    /// - a NaN result stays NaN (InfluxQL answers null).
    Flux,
}

/// One measurement of one bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub bucket: BucketName,
    pub measurement: String,
}

/// One output column.
#[derive(Debug, Clone)]
pub struct OutputField {
    pub name: String,
    pub expr: Expr,
}

/// `GROUP BY time(every, offset)`; `offset` is already reduced modulo `every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub every: i64,
    pub offset: i64,
}

/// What a window (or a missing stream value) becomes when it holds no point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fill {
    Null,
    None,
    Previous,
    Linear,
    Number(f64),
    Integer(i64),
}

/// A value expression of the select list.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Float(f64),
    Integer(i64),
    String(String),
    Boolean(bool),
    /// A field or tag of the current point.
    Var(VarRef),
    Call(Box<Call>),
    Binary(Box<Expr>, BinOp, Box<Expr>),
}

/// A reference to a field or tag; which one is decided per measurement unless `kind` says.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VarRef {
    pub name: String,
    pub kind: VarKind,
}

/// `x`, `x::field` or `x::tag`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VarKind {
    Any,
    Field,
    Tag,
}

/// Arithmetic between values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    BitAnd,
    BitOr,
    BitXor,
}

/// A function applied to a field (`arg` is a `Var`) or to a nested call (`arg` is a `Call`).
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub func: Func,
    pub arg: Expr,
}

/// Aggregates, selectors and transformations.
#[derive(Debug, Clone, PartialEq)]
pub enum Func {
    Count,
    Sum,
    Mean,
    Median,
    Mode,
    Spread,
    Stddev,
    Min,
    Max,
    First,
    Last,
    /// Percentile in 0..=100.
    Percentile(f64),
    Distinct,
    /// Unit in ns.
    Integral(i64),
    Top(usize),
    Bottom(usize),
    /// `unit`: ns per derivative unit; `None` uses the GROUP BY interval, or 1s.
    Derivative {
        unit: Option<i64>,
        non_negative: bool,
    },
    Difference {
        non_negative: bool,
    },
    MovingAverage(usize),
    CumulativeSum,
    /// Unit in ns (default 1ns).
    Elapsed(i64),
}

impl Func {
    /// InfluxQL's name of the function (the default output column name).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Count => "count",
            Self::Sum => "sum",
            Self::Mean => "mean",
            Self::Median => "median",
            Self::Mode => "mode",
            Self::Spread => "spread",
            Self::Stddev => "stddev",
            Self::Min => "min",
            Self::Max => "max",
            Self::First => "first",
            Self::Last => "last",
            Self::Percentile(_) => "percentile",
            Self::Distinct => "distinct",
            Self::Integral(_) => "integral",
            Self::Top(_) => "top",
            Self::Bottom(_) => "bottom",
            Self::Derivative {
                non_negative: false,
                ..
            } => "derivative",
            Self::Derivative {
                non_negative: true, ..
            } => "non_negative_derivative",
            Self::Difference {
                non_negative: false,
            } => "difference",
            Self::Difference { non_negative: true } => "non_negative_difference",
            Self::MovingAverage(_) => "moving_average",
            Self::CumulativeSum => "cumulative_sum",
            Self::Elapsed(_) => "elapsed",
        }
    }

    /// A selector picks one stored point and may keep its time (InfluxDB's `IsSelector`).
    pub fn is_selector(&self) -> bool {
        matches!(
            self,
            Self::Min
                | Self::Max
                | Self::First
                | Self::Last
                | Self::Percentile(_)
                | Self::Top(_)
                | Self::Bottom(_)
        )
    }

    /// A transformation maps a stream of points to another (it does not reduce windows).
    pub fn is_transform(&self) -> bool {
        matches!(
            self,
            Self::Derivative { .. }
                | Self::Difference { .. }
                | Self::MovingAverage(_)
                | Self::CumulativeSum
                | Self::Elapsed(_)
        )
    }
}

/// A row filter.
#[derive(Debug, Clone)]
pub enum Cond {
    True,
    False,
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    /// `lhs op rhs` on values (tags compare as strings, a missing tag is `""`).
    Cmp(Expr, CmpOp, Expr),
    /// `var =~ /re/` (or `!~` when `negated`).
    Regex {
        var: VarRef,
        re: Regex,
        negated: bool,
    },
}

/// Comparison operators of conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
}

impl Expr {
    /// Every call of the expression that is not nested in another call, in order.
    pub fn top_calls<'a>(&'a self, out: &mut Vec<&'a Call>) {
        match self {
            Self::Call(c) => out.push(c),
            Self::Binary(l, _, r) => {
                l.top_calls(out);
                r.top_calls(out);
            }
            _ => {}
        }
    }

    /// Every variable the expression reads outside of calls.
    pub fn vars<'a>(&'a self, out: &mut Vec<&'a VarRef>) {
        match self {
            Self::Var(v) => out.push(v),
            Self::Binary(l, _, r) => {
                l.vars(out);
                r.vars(out);
            }
            _ => {}
        }
    }

    /// True when the expression holds a call.
    pub fn has_call(&self) -> bool {
        match self {
            Self::Call(_) => true,
            Self::Binary(l, _, r) => l.has_call() || r.has_call(),
            _ => false,
        }
    }
}

impl Call {
    /// The field this call finally reads (through nested calls).
    pub fn field(&self) -> Option<&VarRef> {
        match &self.arg {
            Expr::Var(v) => Some(v),
            Expr::Call(c) => c.field(),
            _ => None,
        }
    }
}

impl Cond {
    /// Every variable the condition reads.
    pub fn vars<'a>(&'a self, out: &mut Vec<&'a VarRef>) {
        match self {
            Self::True | Self::False => {}
            Self::And(a, b) | Self::Or(a, b) => {
                a.vars(out);
                b.vars(out);
            }
            Self::Cmp(l, _, r) => {
                l.vars(out);
                r.vars(out);
            }
            Self::Regex { var, .. } => out.push(var),
        }
    }

    /// The series of `index` the condition passes, as a bitmap over its positions, each
    /// comparison decided once per distinct value of its tag (`SeriesIndex::select`). `None`
    /// when a part of it is not `==` / `!=` of a tag with a string, or a regex match of a tag.
    pub fn select_series(&self, index: &SeriesIndex) -> Option<BooleanBuffer> {
        Some(match self {
            Self::True => BooleanBuffer::new_set(index.series().len()),
            Self::False => BooleanBuffer::new_unset(index.series().len()),
            Self::And(a, b) => &a.select_series(index)? & &b.select_series(index)?,
            Self::Or(a, b) => &a.select_series(index)? | &b.select_series(index)?,
            Self::Cmp(Expr::Var(var), op @ (CmpOp::Eq | CmpOp::Neq), Expr::String(value))
                if var.kind == VarKind::Tag =>
            {
                let eq = *op == CmpOp::Eq;
                index.select(&var.name, |v| (v == value) == eq)
            }
            Self::Regex { var, re, negated } if var.kind == VarKind::Tag => {
                index.select(&var.name, |v| re.is_match(v) != *negated)
            }
            _ => return None,
        })
    }
}

/// A stable text form of a call, to find equal calls in several output expressions.
impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}(", self.func)?;
        match &self.arg {
            Expr::Var(v) => write!(f, "{}::{:?}", v.name, v.kind)?,
            Expr::Call(c) => write!(f, "{c}")?,
            other => write!(f, "{other:?}")?,
        }
        write!(f, ")")
    }
}
