//! Table shaping: filter, map, keep, drop, rename, group, sort, limit, tail, pivot, unique,
//! distinct, duplicate, fill (docs/flux.md §5.2, §5.5).
//!
//! Owns: row and column rules of each function, regrouping (`regroup`: rows of all tables
//! partitioned by the values of the key columns, tables ordered by key), group-key upkeep when
//! columns change.

use std::sync::Arc;

use super::group::{key_cols, key_row, regroup};
use super::{Call, stream};
use crate::query::flux::FluxError;
use crate::query::flux::table::{Col, Stream, Table, Type};
use crate::query::flux::value::{Function, Record, Value};

pub fn call(c: &mut Call<'_, '_>) -> Result<Value, FluxError> {
    match c.name {
        "filter" => filter(c),
        "map" => map(c),
        "keep" | "drop" => keep_drop(c),
        "rename" => rename(c),
        "group" => {
            c.allow(&["columns", "mode", "tables"])?;
            let cols = c.strings("columns")?.unwrap_or_default();
            let mode = c.string("mode")?.unwrap_or_else(|| "by".to_owned());
            if mode != "by" && mode != "except" {
                return Err(c.err(format!("mode must be \"by\" or \"except\", got {mode:?}")));
            }
            if mode == "by"
                && let Some(lazy) = c.defer(&[])
            {
                return Ok(lazy);
            }
            let tables = c.tables()?;
            let key_of = |t: &Table| -> Vec<String> {
                if mode == "by" {
                    cols.iter()
                        .filter(|k| t.idx(k).is_some())
                        .cloned()
                        .collect()
                } else {
                    t.cols
                        .iter()
                        .map(|c| c.name.clone())
                        .filter(|n| !cols.contains(n))
                        .collect()
                }
            };
            Ok(stream(regroup(tables, &key_of).map_err(|m| c.err(m))?))
        }
        "sort" => {
            c.allow(&["columns", "desc", "tables"])?;
            let cols = c
                .strings("columns")?
                .unwrap_or_else(|| vec!["_value".to_owned()]);
            let desc = c.bool("desc", false)?;
            let mut tables = c.tables()?;
            for t in &mut tables {
                let idx: Vec<Option<usize>> = cols.iter().map(|k| t.idx(k)).collect();
                t.rows.sort_by(|a, b| {
                    let o = idx
                        .iter()
                        .flatten()
                        .map(|&i| a[i].sort_cmp(&b[i]))
                        .find(|o| o.is_ne())
                        .unwrap_or(std::cmp::Ordering::Equal);
                    if desc { o.reverse() } else { o }
                });
            }
            Ok(stream(tables))
        }
        "limit" | "tail" => {
            c.allow(&["n", "offset", "tables"])?;
            let n = c
                .int("n")?
                .ok_or_else(|| c.err("missing required argument n"))?;
            let offset = c.int("offset")?.unwrap_or(0);
            let (n, offset) = (
                usize::try_from(n).unwrap_or(0),
                usize::try_from(offset).unwrap_or(0),
            );
            let mut tables = c.tables()?;
            for t in &mut tables {
                let len = t.rows.len();
                if c.name == "limit" {
                    t.rows = t.rows.drain(..).skip(offset).take(n).collect();
                } else {
                    let end = len.saturating_sub(offset);
                    let start = end.saturating_sub(n);
                    t.rows = t.rows.drain(..).skip(start).take(end - start).collect();
                }
            }
            Ok(stream(tables))
        }
        "pivot" => super::group::pivot(c),
        "unique" | "distinct" => {
            c.allow(&["column", "tables"])?;
            let col = c.string("column")?.unwrap_or_else(|| "_value".to_owned());
            let distinct = c.name == "distinct";
            let mut out = Vec::new();
            for t in c.tables()? {
                let Some(i) = t.idx(&col) else {
                    if distinct || t.rows.is_empty() {
                        continue;
                    }
                    return Err(c.err(format!("column {col:?} does not exist")));
                };
                let mut seen: Vec<Value> = Vec::new();
                let mut rows = Vec::new();
                for row in &t.rows {
                    if !seen.contains(&row[i]) {
                        seen.push(row[i].clone());
                        rows.push(row.clone());
                    }
                }
                if distinct {
                    let rows = seen
                        .into_iter()
                        .map(|v| {
                            let mut r: Vec<(String, Value)> = key_row(&t);
                            r.push(("_value".to_owned(), v));
                            r
                        })
                        .collect();
                    let order: Vec<Col> = key_cols(&t)
                        .into_iter()
                        .chain([Col {
                            name: "_value".into(),
                            ty: t.cols[i].ty,
                        }])
                        .collect();
                    out.push(Table::from_rows(t.key.clone(), &order, rows).map_err(|m| c.err(m))?);
                } else {
                    out.push(Table { rows, ..t });
                }
            }
            Ok(stream(out))
        }
        "duplicate" => {
            c.allow(&["column", "as", "tables"])?;
            let (from, to) = (c.req_string("column")?, c.req_string("as")?);
            let mut tables = c.tables()?;
            for t in &mut tables {
                duplicate(t, &from, &to).map_err(|m| c.err(m))?;
            }
            Ok(stream(tables))
        }
        _ => fill(c),
    }
}

/// Copies column `from` into `to` (replacing it in place if it exists).
pub fn duplicate(t: &mut Table, from: &str, to: &str) -> Result<(), String> {
    let Some(i) = t.idx(from) else {
        return Err(format!("column {from:?} does not exist"));
    };
    let ty = t.cols[i].ty;
    match t.idx(to) {
        Some(j) => {
            t.cols[j].ty = ty;
            for r in &mut t.rows {
                r[j] = r[i].clone();
            }
        }
        None => {
            t.cols.push(Col {
                name: to.to_owned(),
                ty,
            });
            for r in &mut t.rows {
                let v = r[i].clone();
                r.push(v);
            }
        }
    }
    if let Some(v) = t.key_value(from).cloned() {
        t.key.retain(|(k, _)| k != to);
        t.key.push((to.to_owned(), v));
        t.key.sort_by(|a, b| a.0.cmp(&b.0));
    } else {
        t.key.retain(|(k, _)| k != to);
    }
    Ok(())
}

fn fill(c: &mut Call<'_, '_>) -> Result<Value, FluxError> {
    c.allow(&["column", "value", "usePrevious", "tables"])?;
    let col = c.string("column")?.unwrap_or_else(|| "_value".to_owned());
    let use_prev = c.bool("usePrevious", false)?;
    let value = c.get("value").cloned();
    if use_prev == value.is_some() {
        return Err(c.err("give exactly one of value and usePrevious"));
    }
    let mut tables = c.tables()?;
    for t in &mut tables {
        let Some(i) = t.idx(&col) else { continue };
        if let Some(v) = &value
            && !v.is_null()
            && Type::of(v) != Some(t.cols[i].ty)
            && t.rows.iter().any(|r| !r[i].is_null())
        {
            return Err(c.err(format!(
                "fill value of type {} does not match column {col:?} of type {}",
                v.type_name(),
                t.cols[i].ty.csv_name()
            )));
        }
        let mut prev = Value::Null;
        for r in &mut t.rows {
            if r[i].is_null() {
                r[i] = match &value {
                    Some(v) => v.clone(),
                    None => prev.clone(),
                };
            } else {
                prev = r[i].clone();
            }
        }
        if let Some(ty) = value.as_ref().and_then(Type::of) {
            t.cols[i].ty = ty;
        }
    }
    Ok(stream(tables))
}

fn filter(c: &mut Call<'_, '_>) -> Result<Value, FluxError> {
    c.allow(&["fn", "onEmpty", "tables"])?;
    let f = c.func("fn")?;
    let keep_empty = match c.string("onEmpty")?.as_deref() {
        None | Some("drop") => false,
        Some("keep") => true,
        Some(o) => return Err(c.err(format!("onEmpty must be \"drop\" or \"keep\", got {o:?}"))),
    };
    let s = c.stream()?;
    match s {
        Stream::Ranged {
            bucket,
            start,
            stop,
            mut filters,
            deferred,
        } if deferred.is_empty() && !keep_empty => {
            filters.push(f);
            Ok(Value::Stream(Arc::new(Stream::Ranged {
                bucket,
                start,
                stop,
                filters,
                deferred,
            })))
        }
        s => {
            let tables = super::materialize(c.rt, s, c.args.pos)?;
            filter_tables(c, tables, &f, keep_empty)
        }
    }
}

fn filter_tables(
    c: &Call<'_, '_>,
    tables: Vec<Table>,
    f: &Function,
    keep_empty: bool,
) -> Result<Value, FluxError> {
    let mut out = Vec::new();
    for mut t in tables {
        let names: Vec<String> = t.cols.iter().map(|c| c.name.clone()).collect();
        let mut rows = Vec::new();
        for row in std::mem::take(&mut t.rows) {
            let rec = Record {
                fields: names.iter().cloned().zip(row.iter().cloned()).collect(),
                open: false,
            };
            match c.rt.call_row(f, rec, c.args.pos)? {
                Value::Bool(true) => rows.push(row),
                Value::Bool(false) | Value::Null => {}
                v => return Err(c.err(format!("fn must return a bool, got {}", v.type_name()))),
            }
        }
        if rows.is_empty() && !keep_empty {
            continue;
        }
        t.rows = rows;
        out.push(t);
    }
    Ok(stream(out))
}

fn map(c: &mut Call<'_, '_>) -> Result<Value, FluxError> {
    c.allow(&["fn", "mergeKey", "tables"])?;
    let f = c.func("fn")?;
    // After a lowered window's derivative, computed with it (`lower::post`) when it can be.
    if c.deferred_last() == Some("derivative")
        && super::map_fast::shape(&f).is_some()
        && let Some(lazy) = c.defer(&["group", "aggregateWindow", "derivative"])
    {
        return Ok(lazy);
    }
    let mut tables = c.tables()?;
    // The fast path is an optimization like lowering: off when the interpreter runs alone.
    if c.rt.lower && super::map_fast::map(&f, &mut tables) {
        return Ok(stream(tables));
    }
    let mut out = Vec::new();
    for t in tables {
        let names: Vec<String> = t.cols.iter().map(|c| c.name.clone()).collect();
        let mut rows = Vec::with_capacity(t.rows.len());
        for row in &t.rows {
            let rec = Record {
                fields: names.iter().cloned().zip(row.iter().cloned()).collect(),
                open: false,
            };
            match c.rt.call_row(&f, rec, c.args.pos)? {
                Value::Record(r) => {
                    rows.push(Arc::try_unwrap(r).unwrap_or_else(|r| (*r).clone()).fields)
                }
                v => return Err(c.err(format!("fn must return a record, got {}", v.type_name()))),
            }
        }
        if rows.is_empty() {
            out.push(t);
            continue;
        }
        let key_names: Vec<String> = t
            .key
            .iter()
            .map(|(k, _)| k.clone())
            .filter(|k| rows[0].iter().any(|(n, _)| n == k))
            .collect();
        let order: Vec<Col> = Vec::new();
        let mapped = Table::from_rows(Vec::new(), &order, rows).map_err(|m| c.err(m))?;
        out.extend(regroup(vec![mapped], &|_| key_names.clone()).map_err(|m| c.err(m))?);
    }
    Ok(stream(out))
}

fn keep_drop(c: &mut Call<'_, '_>) -> Result<Value, FluxError> {
    c.allow(&["columns", "fn", "tables"])?;
    let cols = c.strings("columns")?;
    let f = match c.get("fn") {
        Some(Value::Func(f)) => Some(f.clone()),
        _ => None,
    };
    if cols.is_none() == f.is_none() {
        return Err(c.err("give exactly one of columns and fn"));
    }
    let keep = c.name == "keep";
    let mut tables = c.tables()?;
    for t in &mut tables {
        let mut chosen = Vec::new();
        for (i, col) in t.cols.iter().enumerate() {
            let hit = match (&cols, &f) {
                (Some(cols), _) => cols.contains(&col.name),
                (_, Some(f)) => {
                    let r = c.rt.call(
                        f,
                        super::Args {
                            named: vec![("column".to_owned(), Value::str(&col.name))],
                            pipe: None,
                            pos: c.args.pos,
                        },
                    )?;
                    matches!(r, Value::Bool(true))
                }
                _ => false,
            };
            if hit == keep {
                chosen.push(i);
            }
        }
        t.cols = chosen.iter().map(|&i| t.cols[i].clone()).collect();
        for r in &mut t.rows {
            *r = chosen.iter().map(|&i| r[i].clone()).collect();
        }
        let names: Vec<String> = t.cols.iter().map(|c| c.name.clone()).collect();
        t.key.retain(|(k, _)| names.contains(k));
    }
    Ok(stream(tables))
}

fn rename(c: &mut Call<'_, '_>) -> Result<Value, FluxError> {
    c.allow(&["columns", "fn", "tables"])?;
    let map: Vec<(String, String)> = match c.get("columns") {
        Some(Value::Record(r)) => r
            .fields
            .iter()
            .map(|(k, v)| match v {
                Value::Str(s) => Ok((k.clone(), s.to_string())),
                _ => Err(c.err("columns must map names to strings")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(c.err("columns must be a record")),
        None => Vec::new(),
    };
    let f = match c.get("fn") {
        Some(Value::Func(f)) => Some(f.clone()),
        _ => None,
    };
    let mut tables = c.tables()?;
    for t in &mut tables {
        for col in &mut t.cols {
            let new = if let Some((_, n)) = map.iter().find(|(o, _)| *o == col.name) {
                Some(n.clone())
            } else if let Some(f) = &f {
                match c.rt.call(
                    f,
                    super::Args {
                        named: vec![("column".to_owned(), Value::str(&col.name))],
                        pipe: None,
                        pos: c.args.pos,
                    },
                )? {
                    Value::Str(s) => Some(s.to_string()),
                    _ => return Err(c.err("fn must return a string")),
                }
            } else {
                None
            };
            if let Some(new) = new {
                for (k, _) in &mut t.key {
                    if *k == col.name {
                        k.clone_from(&new);
                    }
                }
                col.name = new;
            }
        }
        t.key.sort_by(|a, b| a.0.cmp(&b.0));
    }
    Ok(stream(tables))
}
