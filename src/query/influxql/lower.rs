//! Lowering an InfluxQL SELECT to the query plan, with InfluxDB 1.6.7's compile-time checks
//! and errors (`query/compile.go`): sources resolved to the tenant's buckets, wildcards and
//! regexes expanded against the store's schemas, output columns named and deduplicated as
//! InfluxDB does (`mean`, `mean_1`, aliases), the WHERE clause split into a time range and a
//! row filter.
//!
//! Owns: `execute_select` (lower, then run) and `lower_select`. Does not own: parsing
//! (`parser`), running the plan (`query::exec`).

mod check;
mod cond;

use check::Check;
pub(crate) use cond::tag_hints;

use std::collections::BTreeSet;

use super::ast::{self, BinaryOp, DataType, Dimension, Expr, MeasurementName, WildcardKind};
use crate::lineproto::FieldType;
use crate::query::exec::{self, Limits, QueryError};
use crate::query::plan::{
    self, BinOp, Fill, Interval, MAX_TIME, MIN_TIME, OutputField, SelectPlan, Source, VarKind,
    VarRef,
};
use crate::query::result::{QueryContext, Series};
use crate::store::{MeasurementSchema, ReadStore};

/// Runs one SELECT statement: lowering, then execution under the context's limits.
pub fn execute_select(
    stmt: &ast::SelectStatement,
    ctx: &QueryContext<'_>,
    store: &dyn ReadStore,
) -> Result<Vec<Series>, QueryError> {
    let plan = match lower_select(stmt, ctx, store) {
        Ok(p) => p,
        // `SELECT * FROM absent`: InfluxDB answers nothing rather than an error.
        Err(QueryError::NoField) if !has_any_schema(stmt, ctx, store)? => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    exec::execute(
        &plan,
        ctx.tenant,
        store,
        Limits {
            max_scan_bytes: ctx.max_scan_bytes,
            max_rows: ctx.max_rows,
        },
    )
}

/// Whether any source of `stmt` names a measurement that exists.
fn has_any_schema(
    stmt: &ast::SelectStatement,
    ctx: &QueryContext<'_>,
    store: &dyn ReadStore,
) -> Result<bool, QueryError> {
    let sources = resolve_sources(stmt, ctx, store)?;
    Ok(sources.iter().any(|s| {
        store
            .schema(ctx.tenant, &s.bucket, &s.measurement)
            .is_some()
    }))
}

/// The field types a wildcard argument of `func` expands to (InfluxDB's compiler): every type
/// for `count first last distinct elapsed mode sample`, all but strings for `min max`, numbers
/// otherwise.
fn wildcard_takes(func: &str, t: FieldType) -> bool {
    match func {
        "count" | "first" | "last" | "distinct" | "elapsed" | "mode" | "sample" => true,
        "min" | "max" => t != FieldType::String,
        _ => matches!(
            t,
            FieldType::Float | FieldType::Integer | FieldType::Unsigned
        ),
    }
}

/// Builds the plan of one SELECT (reads the store's catalog for regex sources and wildcards).
pub fn lower_select(
    stmt: &ast::SelectStatement,
    ctx: &QueryContext<'_>,
    store: &dyn ReadStore,
) -> Result<SelectPlan, QueryError> {
    if stmt.into.is_some() {
        return Err(QueryError::Unsupported {
            what: "SELECT INTO".into(),
        });
    }
    let tz = match &stmt.tz {
        Some(name) => Some(
            name.parse::<chrono_tz::Tz>()
                .map_err(|_| QueryError::Invalid {
                    message: format!("unable to find time zone {name}"),
                })?,
        ),
        None => None,
    };
    let sources = resolve_sources(stmt, ctx, store)?;
    let schemas: Vec<MeasurementSchema> = sources
        .iter()
        .filter_map(|s| store.schema(ctx.tenant, &s.bucket, &s.measurement))
        .collect();
    let all_fields: BTreeSet<(String, bool)> = schemas
        .iter()
        .flat_map(|s| s.fields.iter().map(|(k, _)| (k.clone(), true)))
        .collect();
    let all_tags: BTreeSet<String> = schemas.iter().flat_map(|s| s.tags.clone()).collect();
    let field_types: std::collections::BTreeMap<&str, FieldType> = schemas
        .iter()
        .flat_map(|s| s.fields.iter().map(|(k, t)| (k.as_str(), *t)))
        .collect();

    // GROUP BY.
    let mut interval: Option<Interval> = None;
    let mut group_by: BTreeSet<String> = BTreeSet::new();
    let mut dim_wildcard = false;
    for d in &stmt.group_by {
        match d {
            Dimension::Time {
                interval: i,
                offset,
            } => {
                if interval.is_some() {
                    return Err(invalid("multiple time dimensions not allowed"));
                }
                if i.nanos <= 0 {
                    return Err(invalid("time dimension must have duration argument"));
                }
                interval = Some(Interval {
                    every: i.nanos,
                    offset: offset.as_ref().map_or(0, |o| o.nanos % i.nanos),
                });
            }
            Dimension::Tag(k) => {
                group_by.insert(k.clone());
            }
            Dimension::Wildcard => {
                dim_wildcard = true;
                group_by.extend(all_tags.iter().cloned());
            }
            Dimension::Regex(re) => {
                let re = re.regex();
                group_by.extend(all_tags.iter().filter(|t| re.is_match(t)).cloned());
            }
            Dimension::Other(Expr::VarRef { name, .. }) if name.eq_ignore_ascii_case("time") => {
                return Err(invalid(
                    "time() is a function and expects at least one argument",
                ));
            }
            Dimension::Other(Expr::Call { .. }) => {
                return Err(invalid("only time() calls allowed in dimensions"));
            }
            Dimension::Other(_) => return Err(invalid("only time and tag dimensions allowed")),
        }
    }

    // SELECT list: expand wildcards, lower, name.
    let mut time_column = "time".to_string();
    let mut fields: Vec<(Option<String>, String, ast::Expr)> = Vec::new();
    for f in &stmt.fields {
        match strip(&f.expr) {
            Expr::VarRef { name, .. } if name.eq_ignore_ascii_case("time") => {
                if let Some(a) = &f.alias {
                    time_column = a.clone();
                }
            }
            Expr::Wildcard(kind) => {
                for (name, is_field) in expand(&all_fields, &all_tags, &group_by, dim_wildcard) {
                    let keep = match kind {
                        Some(WildcardKind::Field) => is_field,
                        Some(WildcardKind::Tag) => !is_field,
                        None => true,
                    };
                    if keep {
                        fields.push((None, name.clone(), typed_var(&name, is_field)));
                    }
                }
            }
            Expr::Regex(re) => {
                let re = re.regex();
                for (name, is_field) in expand(&all_fields, &all_tags, &group_by, dim_wildcard) {
                    if re.is_match(&name) {
                        fields.push((None, name.clone(), typed_var(&name, is_field)));
                    }
                }
            }
            Expr::Call { name, args }
                if matches!(
                    args.first().map(strip),
                    Some(Expr::Wildcard(_) | Expr::Regex(_))
                ) =>
            {
                let re = match args.first().map(strip) {
                    Some(Expr::Regex(r)) => Some(r.regex()),
                    _ => None,
                };
                let base = f.alias.clone().unwrap_or_else(|| name.clone());
                for (fname, _) in all_fields
                    .iter()
                    .filter(|(n, _)| re.as_ref().is_none_or(|r| r.is_match(n)))
                    .filter(|(n, _)| {
                        field_types
                            .get(n.as_str())
                            .is_none_or(|t| wildcard_takes(name, *t))
                    })
                {
                    let mut a = args.clone();
                    a[0] = Expr::VarRef {
                        name: fname.clone(),
                        data_type: Some(DataType::Field),
                    };
                    let e = Expr::Call {
                        name: name.clone(),
                        args: a,
                    };
                    fields.push((Some(format!("{base}_{fname}")), String::new(), e));
                }
            }
            e => fields.push((f.alias.clone(), field_name(e), f.expr.clone())),
        }
    }
    if fields.is_empty() {
        return Err(QueryError::NoField);
    }
    let mut check = Check::with_limit(stmt.limit);
    let mut lowered = Vec::with_capacity(fields.len());
    for (_, _, e) in &fields {
        lowered.push(check.expr(e, interval.is_some())?);
    }
    check.validate(stmt, interval.is_some())?;
    let names = column_names(&fields);
    let fields: Vec<OutputField> = names
        .into_iter()
        .zip(lowered)
        .map(|(name, expr)| OutputField { name, expr })
        .collect();

    // WHERE.
    let (condition, bounds) = match &stmt.condition {
        Some(c) => cond::split(c, ctx.now_ns, tz)?,
        None => (None, cond::TimeBounds::default()),
    };
    let is_tag = |v: &VarRef| {
        v.kind != VarKind::Field
            && !schemas.is_empty()
            && schemas
                .iter()
                .all(|s| s.tags.contains(&v.name) && !s.fields.iter().any(|(k, _)| *k == v.name))
    };
    let tag_hints = condition
        .as_ref()
        .map(|c| cond::tag_hints(c, &is_tag))
        .unwrap_or_default();
    let start = bounds.min.unwrap_or(MIN_TIME);
    let end = bounds.max.unwrap_or(if interval.is_some() {
        ctx.now_ns
    } else {
        MAX_TIME
    });

    let fill = match &stmt.fill {
        None | Some(ast::Fill::Null) => Fill::Null,
        Some(ast::Fill::None) => Fill::None,
        Some(ast::Fill::Previous) => Fill::Previous,
        Some(ast::Fill::Linear) => Fill::Linear,
        Some(ast::Fill::Integer(i)) => Fill::Integer(*i),
        Some(ast::Fill::Float(f)) => Fill::Number(*f),
    };
    let us = |v: Option<u64>| v.map_or(0, |v| usize::try_from(v).unwrap_or(usize::MAX));
    Ok(SelectPlan {
        sources,
        time_column,
        fields,
        condition,
        tag_hints,
        start,
        end,
        interval,
        group_by: group_by.into_iter().collect(),
        fill,
        tz,
        ascending: stmt.order_by != Some(ast::SortOrder::Desc),
        limit: us(stmt.limit),
        offset: us(stmt.offset),
        slimit: us(stmt.slimit),
        soffset: us(stmt.soffset),
        dialect: plan::Dialect::InfluxQl,
    })
}

fn invalid(message: &str) -> QueryError {
    QueryError::Invalid {
        message: message.to_owned(),
    }
}

fn strip(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(i) => strip(i),
        e => e,
    }
}

/// Resolves every FROM item to (bucket, measurement), sorted by measurement.
fn resolve_sources(
    stmt: &ast::SelectStatement,
    ctx: &QueryContext<'_>,
    store: &dyn ReadStore,
) -> Result<Vec<Source>, QueryError> {
    let mut out: Vec<Source> = Vec::new();
    for s in &stmt.sources {
        let ast::Source::Measurement(m) = s else {
            return Err(QueryError::Unsupported {
                what: "subquery".into(),
            });
        };
        let db = m.database.as_deref().unwrap_or(ctx.db);
        if db.is_empty() {
            return Err(QueryError::DatabaseRequired);
        }
        let rp = m.retention_policy.as_deref().or(ctx.rp);
        let bucket = (ctx.resolve)(db, rp)
            .ok_or_else(|| QueryError::DatabaseNotFound { db: db.to_owned() })?;
        match &m.name {
            MeasurementName::Name(n) => out.push(Source {
                bucket,
                measurement: n.clone(),
            }),
            MeasurementName::Regex(re) => {
                let re = re.regex();
                for n in store.measurements(ctx.tenant, &bucket) {
                    if re.is_match(&n) {
                        out.push(Source {
                            bucket: bucket.clone(),
                            measurement: n,
                        });
                    }
                }
            }
        }
    }
    out.sort_by(|a, b| {
        (a.measurement.as_str(), a.bucket.as_str())
            .cmp(&(b.measurement.as_str(), b.bucket.as_str()))
    });
    out.dedup();
    Ok(out)
}

/// `*` over fields and tags, sorted by name; tags named in GROUP BY are left out, and every
/// tag is with `GROUP BY *`.
fn expand(
    fields: &BTreeSet<(String, bool)>,
    tags: &BTreeSet<String>,
    group_by: &BTreeSet<String>,
    dim_wildcard: bool,
) -> Vec<(String, bool)> {
    let mut v: Vec<(String, bool)> = fields.iter().cloned().collect();
    if !dim_wildcard {
        v.extend(
            tags.iter()
                .filter(|t| !group_by.contains(*t) && !fields.contains(&((*t).clone(), true)))
                .map(|t| (t.clone(), false)),
        );
    }
    v.sort();
    v
}

fn typed_var(name: &str, is_field: bool) -> Expr {
    Expr::VarRef {
        name: name.to_owned(),
        data_type: Some(if is_field {
            DataType::Field
        } else {
            DataType::Tag
        }),
    }
}

/// InfluxQL's default column name of an expression (`Field.Name()`).
fn field_name(e: &Expr) -> String {
    match e {
        Expr::Call { name, .. } => name.clone(),
        Expr::Distinct(_) => "distinct".into(),
        Expr::Paren(i) => field_name(i),
        Expr::VarRef { name, .. } => name.clone(),
        Expr::Binary { .. } => {
            let mut names = Vec::new();
            binary_names(e, &mut names);
            names.join("_")
        }
        _ => String::new(),
    }
}

fn binary_names(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::VarRef { name, .. } => out.push(name.clone()),
        Expr::Call { name, .. } => out.push(name.clone()),
        Expr::Binary { lhs, rhs, .. } => {
            binary_names(lhs, out);
            binary_names(rhs, out);
        }
        Expr::Paren(i) => binary_names(i, out),
        _ => {}
    }
}

/// Column names as `SelectStatement.ColumnNames` gives them: aliases first, then generated
/// names deduplicated with `_1`, `_2`, ...
fn column_names(fields: &[(Option<String>, String, Expr)]) -> Vec<String> {
    let mut names: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut out: Vec<Option<String>> = fields.iter().map(|(a, _, _)| a.clone()).collect();
    for n in out.iter().flatten() {
        names.insert(n.clone(), 1);
    }
    for (i, (_, base, _)) in fields.iter().enumerate() {
        if out[i].is_some() {
            continue;
        }
        let mut name = base.clone();
        if let Some(&count) = names.get(&name) {
            let mut c = count;
            loop {
                let candidate = format!("{base}_{c}");
                if !names.contains_key(&candidate) {
                    names.insert(base.clone(), c + 1);
                    name = candidate;
                    break;
                }
                c += 1;
            }
        }
        *names.entry(name.clone()).or_insert(0) += 1;
        out[i] = Some(name);
    }
    out.into_iter().map(Option::unwrap_or_default).collect()
}

pub(crate) fn var_ref(e: &Expr) -> Option<VarRef> {
    match e {
        Expr::VarRef { name, data_type } => Some(VarRef {
            name: name.clone(),
            kind: match data_type {
                None => VarKind::Any,
                Some(DataType::Tag) => VarKind::Tag,
                Some(_) => VarKind::Field,
            },
        }),
        _ => None,
    }
}

fn bin_op(op: BinaryOp) -> Option<BinOp> {
    Some(match op {
        BinaryOp::Add => BinOp::Add,
        BinaryOp::Sub => BinOp::Sub,
        BinaryOp::Mul => BinOp::Mul,
        BinaryOp::Div => BinOp::Div,
        BinaryOp::Mod => BinOp::Mod,
        BinaryOp::BitAnd => BinOp::BitAnd,
        BinaryOp::BitOr => BinOp::BitOr,
        BinaryOp::BitXor => BinOp::BitXor,
        _ => return None,
    })
}

/// A value expression without calls (conditions).
pub(crate) fn lower_value(e: &Expr) -> Result<plan::Expr, QueryError> {
    Check::default().value(e, false, false)
}

#[cfg(test)]
mod tests;
