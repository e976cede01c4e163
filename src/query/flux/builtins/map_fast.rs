//! `map(fn: (r) => ({r with _value: r._value OP literal}))` (and `literal OP r._value`) without
//! a record per row: the unit conversions Grafana queries end with (`* 8.0`, `/ 1024.0`).
//!
//! Owns: recognizing that shape and computing it exactly as `shape::map` would (the operator
//! by `ops::binary`, `_value` replaced in place, then each column typed by its first non-null
//! value, a column without one typed string, key columns by their key value). Declines
//! (`None`, the general `map` runs) for anything else: another shape, `_value` in the group
//! key, a row whose key cells differ from the key, an operator error or a column of two types.

use rayon::prelude::*;

use super::super::ast::{Expr, ExprKind, FuncBody};
use super::super::ops;
use super::super::table::{Table, Type};
use super::super::value::{Function, Value};

/// Maps `tables` in place and answers true when `f` has the shape and every row maps
/// cleanly; leaves them untouched and answers false otherwise.
pub fn map(f: &Function, tables: &mut [Table]) -> bool {
    let Some((op, literal, value_first)) = shape(f) else {
        return false;
    };
    // Tables side by side on rayon's pool; any table the fast path cannot map leaves them all
    // to the interpreter.
    let mapped: Option<Vec<(Vec<Value>, Vec<Type>)>> = tables
        .par_iter()
        .map(|t| map_table(t, op, &literal, value_first))
        .collect();
    let Some(mapped) = mapped else {
        return false;
    };
    for (t, (values, types)) in tables.iter_mut().zip(mapped) {
        let Some(vi) = t.idx("_value") else { continue };
        for (row, v) in t.rows.iter_mut().zip(values) {
            row[vi] = v;
        }
        for (c, ty) in t.cols.iter_mut().zip(types) {
            c.ty = ty;
        }
    }
    true
}

/// The new `_value` of each row and the new type of each column of `t` (nothing for a table
/// without rows, which `map` leaves as it is).
fn map_table(
    t: &Table,
    op: &'static str,
    literal: &Value,
    value_first: bool,
) -> Option<(Vec<Value>, Vec<Type>)> {
    if t.rows.is_empty() {
        return Some((Vec::new(), t.cols.iter().map(|c| c.ty).collect()));
    }
    let vi = t.idx("_value")?;
    if t.in_key("_value") {
        return None;
    }
    let key_idx: Vec<(usize, &Value)> = t
        .key
        .iter()
        .map(|(k, v)| Some((t.idx(k)?, v)))
        .collect::<Option<_>>()?;
    let mut values = Vec::with_capacity(t.rows.len());
    for row in &t.rows {
        if key_idx.iter().any(|(i, v)| row[*i] != **v) {
            return None;
        }
        let (l, r) = if value_first {
            (row[vi].clone(), literal.clone())
        } else {
            (literal.clone(), row[vi].clone())
        };
        values.push(ops::binary(op, l, r).ok()?);
    }
    let mut types = Vec::with_capacity(t.cols.len());
    for (i, c) in t.cols.iter().enumerate() {
        let mut first = None;
        for (r, row) in t.rows.iter().enumerate() {
            let v = if i == vi { &values[r] } else { &row[i] };
            match (Type::of(v), first) {
                (None, _) if !v.is_null() => return None,
                (Some(ty), None) => first = Some(ty),
                (Some(ty), Some(f)) if ty != f => return None,
                _ => {}
            }
        }
        let keyed = t.key_value(&c.name).and_then(Type::of);
        types.push(keyed.or(first).unwrap_or(Type::Str));
    }
    Some((values, types))
}

/// (operator, literal, whether `r._value` is the left operand).
pub fn shape(f: &Function) -> Option<(&'static str, Value, bool)> {
    let Function::Lit(lit, _) = f else {
        return None;
    };
    let [(param, None)] = lit.params.as_slice() else {
        return None;
    };
    let FuncBody::Expr(body) = &lit.body else {
        return None;
    };
    let ExprKind::Record(Some(base), props) = &body.kind else {
        return None;
    };
    let [(name, e)] = props.as_slice() else {
        return None;
    };
    let ExprKind::Binary(op @ ("+" | "-" | "*" | "/"), l, r) = &e.kind else {
        return None;
    };
    let is_r = |x: &Expr| matches!(&x.kind, ExprKind::Ident(p) if p == param);
    let is_value = |x: &Expr| matches!(&x.kind, ExprKind::Member(o, k) if is_r(o) && k == "_value");
    let literal = |x: &Expr| match &x.kind {
        ExprKind::Int(n) => Some(Value::Int(*n)),
        ExprKind::Float(v) => Some(Value::Float(*v)),
        _ => None,
    };
    if !is_r(base) || name != "_value" || lit.pipe.is_some() {
        return None;
    }
    match (is_value(l), is_value(r)) {
        (true, false) => Some((op, literal(r)?, true)),
        (false, true) => Some((op, literal(l)?, false)),
        _ => None,
    }
}
