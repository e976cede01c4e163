//! `filter(fn: (r) => …)` predicates → the plan's row filter, for the series of one
//! measurement × field.
//!
//! Owns: which predicates lower (`and`, `or`, `not` over `r.k` / `r["k"]` compared with a
//! string literal by `==` / `!=`, or matched by `=~` / `!~` with a regex literal, `k` being
//! `_measurement`, `_field` or a tag) and their exact meaning under the interpreter's rules:
//! a tag the series lacks is null, a comparison with null is null, `not null` is null, `and` /
//! `or` treat null as false, a row passes only when the result is true. Does not own: running
//! filters the interpreter's way (`builtins::source`).
//!
//! The plan's conditions follow InfluxQL (a missing tag reads as `""`; tag values are never
//! empty), so "`r.k` exists" is `k != ""` there. Each node lowers to the condition under which
//! it is true, false, not true or not false; `_measurement` and `_field` are known constants.

use std::sync::Arc;

use regex::Regex;

use crate::query::flux::ast::{Expr, ExprKind, FuncBody, StrPart};
use crate::query::flux::value::Function;
use crate::query::plan::{CmpOp, Cond, Expr as PExpr, VarKind, VarRef};

/// One lowerable filter function.
#[derive(Debug, Clone)]
pub enum Node {
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    /// `r.col == "s"` (`negated`: `!=`).
    Equals {
        col: String,
        value: String,
        negated: bool,
    },
    /// `r.col =~ /re/` (`negated`: `!~`).
    Matches {
        col: String,
        re: Arc<Regex>,
        negated: bool,
    },
}

/// The filters as nodes, when every one lowers.
pub fn parse(filters: &[Arc<Function>]) -> Option<Vec<Node>> {
    filters
        .iter()
        .map(|f| match f.as_ref() {
            Function::Lit(lit, _) => {
                let [(param, None)] = lit.params.as_slice() else {
                    return None;
                };
                match (&lit.body, &lit.pipe) {
                    (FuncBody::Expr(e), None) => node(e, param),
                    _ => None,
                }
            }
            Function::Builtin(_) => None,
        })
        .collect()
}

fn node(e: &Expr, param: &str) -> Option<Node> {
    match &e.kind {
        ExprKind::Binary(op @ ("and" | "or"), l, r) => {
            let (l, r) = (Box::new(node(l, param)?), Box::new(node(r, param)?));
            Some(if *op == "and" {
                Node::And(l, r)
            } else {
                Node::Or(l, r)
            })
        }
        ExprKind::Unary("not", x) => Some(Node::Not(Box::new(node(x, param)?))),
        ExprKind::Binary(op @ ("==" | "!="), l, r) => {
            let (col, value) = match (column(l, param), column(r, param)) {
                (Some(c), None) => (c, string(r)?),
                (None, Some(c)) => (c, string(l)?),
                _ => return None,
            };
            Some(Node::Equals {
                col,
                value,
                negated: *op == "!=",
            })
        }
        ExprKind::Binary(op @ ("=~" | "!~"), l, r) => match &r.kind {
            ExprKind::Regex(re) => Some(Node::Matches {
                col: column(l, param)?,
                re: re.0.clone(),
                negated: *op == "!~",
            }),
            _ => None,
        },
        _ => None,
    }
}

/// `r.k` or `r["k"]`, for a column known per series (not `_time`, `_value`, `_start`, `_stop`).
fn column(e: &Expr, param: &str) -> Option<String> {
    let (obj, name) = match &e.kind {
        ExprKind::Member(obj, name) => (obj, name.clone()),
        ExprKind::Index(obj, idx) => (obj, string(idx)?),
        _ => return None,
    };
    let is_param = matches!(&obj.kind, ExprKind::Ident(p) if p == param);
    let per_series = !matches!(name.as_str(), "_time" | "_value" | "_start" | "_stop");
    (is_param && per_series).then_some(name)
}

/// A string literal without interpolation.
fn string(e: &Expr) -> Option<String> {
    let ExprKind::Str(parts) = &e.kind else {
        return None;
    };
    parts
        .iter()
        .map(|p| match p {
            StrPart::Text(t) => Some(t.as_str()),
            StrPart::Expr(_) => None,
        })
        .collect()
}

/// Which outcome a condition selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    True,
    False,
    NotTrue,
    NotFalse,
}

impl Want {
    fn flip(self) -> Self {
        match self {
            Self::True => Self::False,
            Self::False => Self::True,
            Self::NotTrue => Self::NotFalse,
            Self::NotFalse => Self::NotTrue,
        }
    }
}

/// Whether any of `nodes` reads column `col`.
pub fn reads(nodes: &[Node], col: &str) -> bool {
    nodes.iter().any(|n| n.reads(col))
}

impl Node {
    fn reads(&self, col: &str) -> bool {
        match self {
            Self::And(a, b) | Self::Or(a, b) => a.reads(col) || b.reads(col),
            Self::Not(x) => x.reads(col),
            Self::Equals { col: c, .. } | Self::Matches { col: c, .. } => c == col,
        }
    }
}

/// The condition on a series of `measurement` under which every filter passes for `field`
/// (`Cond::True`, `Cond::False` when decided without the tags). `field` may be `None` when
/// no node [`reads`] `_field`.
pub fn condition(nodes: &[Node], measurement: &str, field: Option<&str>) -> Cond {
    nodes.iter().fold(Cond::True, |acc, n| {
        and(acc, lower(n, Want::True, measurement, field))
    })
}

fn lower(n: &Node, want: Want, m: &str, f: Option<&str>) -> Cond {
    match n {
        // `and` / `or` answer a bool (null counts as false): false is "not true".
        Node::And(a, b) | Node::Or(a, b) => {
            let is_and = matches!(n, Node::And(..));
            let positive = matches!(want, Want::True | Want::NotFalse);
            let (x, y) = if positive {
                (lower(a, Want::True, m, f), lower(b, Want::True, m, f))
            } else {
                (lower(a, Want::NotTrue, m, f), lower(b, Want::NotTrue, m, f))
            };
            if is_and == positive {
                and(x, y)
            } else {
                or(x, y)
            }
        }
        Node::Not(x) => lower(x, want.flip(), m, f),
        Node::Equals {
            col,
            value,
            negated,
        } => leaf(
            col,
            want,
            *negated,
            m,
            f,
            |v| v == value,
            |var, eq| {
                Cond::Cmp(
                    PExpr::Var(var),
                    if eq { CmpOp::Eq } else { CmpOp::Neq },
                    PExpr::String(value.clone()),
                )
            },
        ),
        Node::Matches { col, re, negated } => leaf(
            col,
            want,
            *negated,
            m,
            f,
            |v| re.is_match(v),
            |var, hit| Cond::Regex {
                var,
                re: (**re).clone(),
                negated: !hit,
            },
        ),
    }
}

/// A comparison of column `col`: `holds(v)` on a known value, `cond(var, positive)` the plan's
/// test of a tag (`positive`: the comparison holds). `negated` flips the comparison.
fn leaf(
    col: &str,
    want: Want,
    negated: bool,
    m: &str,
    f: Option<&str>,
    holds: impl Fn(&str) -> bool,
    cond: impl Fn(VarRef, bool) -> Cond,
) -> Cond {
    let known = match col {
        "_measurement" => Some(m),
        "_field" => f,
        _ => None,
    };
    let (sense, absent) = match want {
        Want::True => (true, false),
        Want::False => (false, false),
        Want::NotTrue => (false, true),
        Want::NotFalse => (true, true),
    };
    // True: exists ∧ P; false: exists ∧ ¬P; not true: ¬exists ∨ ¬P; not false: ¬exists ∨ P.
    let positive = sense != negated;
    if let Some(v) = known {
        return constant(holds(v) == positive);
    }
    let var = || VarRef {
        name: col.to_owned(),
        kind: VarKind::Tag,
    };
    let empty = |op| Cond::Cmp(PExpr::Var(var()), op, PExpr::String(String::new()));
    if absent {
        or(empty(CmpOp::Eq), cond(var(), positive))
    } else {
        and(empty(CmpOp::Neq), cond(var(), positive))
    }
}

fn constant(b: bool) -> Cond {
    if b { Cond::True } else { Cond::False }
}

fn and(a: Cond, b: Cond) -> Cond {
    match (a, b) {
        (Cond::False, _) | (_, Cond::False) => Cond::False,
        (Cond::True, x) | (x, Cond::True) => x,
        (a, b) => Cond::And(Box::new(a), Box::new(b)),
    }
}

fn or(a: Cond, b: Cond) -> Cond {
    match (a, b) {
        (Cond::True, _) | (_, Cond::True) => Cond::True,
        (Cond::False, x) | (x, Cond::False) => x,
        (a, b) => Cond::Or(Box::new(a), Box::new(b)),
    }
}
