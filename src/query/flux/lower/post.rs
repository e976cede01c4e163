//! The series calls after a lowered `aggregateWindow` that run with the read's conversion:
//! `derivative(unit:, nonNegative:)`, then optionally a `map` of `_value` by a literal
//! (`{r with _value: r._value * 8.0}`), as Grafana's rate panels end.
//!
//! Owns: which of those calls lower (`Post::of`) and their row rules, exactly the
//! interpreter's (`builtins::series`' derivative, `builtins::map_fast`): a null value is
//! skipped, the first value gives no row, a fall under `nonNegative` gives a null value, the
//! map's operator is `ops::binary`'s; `_value` is typed float, or string when a map leaves a
//! table with rows but no value (`map` types such a column string). Anything else
//! (`initialZero: true`, `columns`, `timeColumn`, another `map`) stays with the interpreter, as
//! does a read whose values the interpreter would refuse (`apply` answers `None`).
//! Does not own: the windows (`tables`), which reads lower (`lower`).

use crate::query::flux::builtins::{derivative_step, scale_shape};
use crate::query::flux::ops;
use crate::query::flux::table::{Deferred, Type};
use crate::query::flux::value::Value;

/// `derivative` (and a scaling `map`) after a lowered `aggregateWindow`.
#[derive(Debug, Clone)]
pub struct Post {
    /// ns.
    unit: i64,
    non_negative: bool,
    scale: Option<Scale>,
}

/// `r._value OP literal` (or `literal OP r._value`).
#[derive(Debug, Clone)]
struct Scale {
    op: &'static str,
    /// `op` on two floats (`ops::float_op`).
    float_op: Option<fn(f64, f64) -> f64>,
    literal: Value,
    value_first: bool,
}

impl Scale {
    /// `ops::binary`'s answer for the value `d` (`None`: an error); a float by a float literal
    /// without dispatching on the operator again.
    fn apply(&self, d: Value) -> Option<Value> {
        match (&d, &self.literal, self.float_op) {
            (Value::Float(x), Value::Float(y), Some(f)) if self.value_first => {
                Some(Value::Float(f(*x, *y)))
            }
            (Value::Float(x), Value::Float(y), Some(f)) => Some(Value::Float(f(*y, *x))),
            _ if self.value_first => ops::binary(self.op, d, self.literal.clone()).ok(),
            _ => ops::binary(self.op, self.literal.clone(), d).ok(),
        }
    }
}

/// A window's (start, stop, value): its row before the post calls.
pub type Cell = (i64, i64, Value);

impl Post {
    /// The calls of `deferred` (those after `aggregateWindow`) that lower, and how many; `None`
    /// when the first does not.
    pub fn of(deferred: &[Deferred]) -> Option<(Post, usize)> {
        let (d, rest) = deferred.split_first()?;
        let mut post = derivative(d)?;
        let Some(m) = rest.first() else {
            return Some((post, 1));
        };
        match scale(m) {
            Some(s) => {
                post.scale = Some(s);
                Some((post, 2))
            }
            None => Some((post, 1)),
        }
    }

    /// The rows left of a table's windows, in order, with their new values; `None` for a value
    /// the interpreter refuses (not a number, an operator error).
    pub fn apply(&self, cells: impl Iterator<Item = Cell>) -> Option<Vec<Cell>> {
        let mut out = Vec::with_capacity(cells.size_hint().0);
        let mut prev: Option<(i64, f64)> = None;
        for (start, stop, v) in cells {
            if v.is_null() {
                continue;
            }
            let cur = v.as_f64()?;
            let Some((pt, p)) = prev else {
                prev = Some((stop, cur));
                continue;
            };
            let Some(d) = derivative_step(stop - pt, p, cur, self.unit, self.non_negative, false)
            else {
                continue;
            };
            prev = Some((stop, cur));
            let d = match &self.scale {
                None => d,
                Some(s) => s.apply(d)?,
            };
            out.push((start, stop, d));
        }
        Some(out)
    }

    /// `_value`'s type for a table of these rows.
    pub fn value_type(&self, rows: &[Cell]) -> Type {
        if self.scale.is_none() || rows.is_empty() {
            return Type::Float;
        }
        rows.iter()
            .find_map(|(_, _, v)| Type::of(v))
            .unwrap_or(Type::Str)
    }
}

/// `derivative(unit: <fixed, positive>, nonNegative: <bool>, initialZero: false)`.
fn derivative(d: &Deferred) -> Option<Post> {
    if d.name != "derivative" {
        return None;
    }
    let mut post = Post {
        unit: 1_000_000_000,
        non_negative: false,
        scale: None,
    };
    for (k, v) in &d.named {
        match (k.as_str(), v) {
            ("unit", Value::Duration(0, n)) if *n > 0 => post.unit = *n,
            ("nonNegative", Value::Bool(b)) => post.non_negative = *b,
            ("initialZero", Value::Bool(false)) => {}
            _ => return None,
        }
    }
    Some(post)
}

/// `map(fn: (r) => ({r with _value: r._value OP literal}))`.
fn scale(d: &Deferred) -> Option<Scale> {
    if d.name != "map" {
        return None;
    }
    let [(k, Value::Func(f))] = d.named.as_slice() else {
        return None;
    };
    if k != "fn" {
        return None;
    }
    let (op, literal, value_first) = scale_shape(f)?;
    Some(Scale {
        op,
        float_op: ops::float_op(op),
        literal,
        value_first,
    })
}
