//! `map(fn: (r) => ({r with _value: r._value OP literal}))` (and `literal OP r._value`) without
//! a record per row: the unit conversions Grafana queries end with (`* 8.0`, `/ 1024.0`).
//!
//! Owns: recognizing that shape and computing it exactly as `shape::map` would (the operator
//! by `ops::binary`, `_value` replaced in place, then each column typed by its first non-null
//! value, a column without one typed string, key columns by their key value). Declines
//! (`None`, the general `map` runs) for anything else: another shape, `_value` in the group
//! key, a row whose key cells differ from the key, an operator error or a column of two types.

use super::super::ast::{Expr, ExprKind, FuncBody};
use super::super::ops;
use super::super::table::{Table, Type};
use super::super::value::{Function, Value};

/// The mapped tables, when `f` has the shape and every row maps cleanly.
pub fn map(f: &Function, tables: &[Table]) -> Option<Vec<Table>> {
    let (op, literal, value_first) = shape(f)?;
    let mut out = Vec::with_capacity(tables.len());
    for t in tables {
        if t.rows.is_empty() {
            out.push(t.clone());
            continue;
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
        let mut rows = Vec::with_capacity(t.rows.len());
        for row in &t.rows {
            if key_idx.iter().any(|(i, v)| row[*i] != **v) {
                return None;
            }
            let (l, r) = if value_first {
                (row[vi].clone(), literal.clone())
            } else {
                (literal.clone(), row[vi].clone())
            };
            let mut row = row.clone();
            row[vi] = ops::binary(op, l, r).ok()?;
            rows.push(row);
        }
        let mut cols = t.cols.clone();
        for (i, c) in cols.iter_mut().enumerate() {
            let mut types = rows.iter().filter_map(|r| Type::of(&r[i]));
            let first = types.next();
            if rows
                .iter()
                .any(|r| !r[i].is_null() && Type::of(&r[i]).is_none())
                || types.any(|ty| Some(ty) != first)
            {
                return None;
            }
            c.ty = first.unwrap_or(Type::Str);
            if let Some(ty) = t.key_value(&c.name).and_then(Type::of) {
                c.ty = ty;
            }
        }
        out.push(Table {
            cols,
            key: t.key.clone(),
            rows,
        });
    }
    Some(out)
}

/// (operator, literal, whether `r._value` is the left operand).
fn shape(f: &Function) -> Option<(&'static str, Value, bool)> {
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
