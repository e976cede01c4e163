//! Reading the store: `from`, `range`, `buckets()`, `schema.*` (docs/flux.md §5.1, §5.7).
//!
//! Owns: the lazy `from |> range |> filter` stream and its reading (measurements and fields
//! pruned by evaluating the filters with only `_measurement`/`_field` known, the rest
//! `Unknown`), the table per series × field with Flux's columns and group key, table order
//! (measurement, tags, field), the row bound; the metadata tables. Does not own: store scans
//! (`store::ReadStore`).

use std::sync::Arc;

use super::{Call, stream};
use crate::query::flux::FluxError;
use crate::query::flux::columns::Tables;
use crate::query::flux::interp::Runtime;
use crate::query::flux::lexer::Pos;
use crate::query::flux::table::{Col, Stream, Table, Type};
use crate::query::flux::value::{Function, Record, Value};
use crate::store::ScanRequest;

pub fn call(c: &mut Call<'_, '_>) -> Result<Value, FluxError> {
    match c.name {
        "from" => {
            c.allow(&["bucket", "bucketID", "host", "org", "token"])?;
            if c.get("bucketID").is_some() || c.get("host").is_some() {
                return Err(c.err("only from(bucket:) is supported (not bucketID or host)"));
            }
            let name = c.req_string("bucket")?;
            let bucket = (c.rt.ctx.resolve)(&name).ok_or_else(|| {
                FluxError::not_found(format!(
                    "failed to initialize execute state: could not find bucket {name:?}"
                ))
            })?;
            Ok(Value::Stream(Arc::new(Stream::From(bucket))))
        }
        "range" => {
            c.allow(&["start", "stop", "tables"])?;
            let now = c.rt.ctx.now_ns;
            let start = time_arg(c, "start", now)?
                .ok_or_else(|| c.err("missing required argument start"))?;
            let stop = time_arg(c, "stop", now)?.unwrap_or(now);
            match c.stream()? {
                Stream::From(bucket) => Ok(Value::Stream(Arc::new(Stream::Ranged {
                    bucket,
                    start,
                    stop,
                    filters: Vec::new(),
                    deferred: Vec::new(),
                }))),
                s => {
                    let tables = super::materialize(c.rt, s, c.args.pos)?;
                    Ok(stream(range_tables(tables, start, stop)))
                }
            }
        }
        "buckets" => {
            c.allow(&["org", "orgID", "host", "token"])?;
            Ok(stream(vec![buckets_table(c.rt)]))
        }
        _ => super::scalar::schema(c),
    }
}

/// A `start`/`stop` argument: a time, a duration relative to now, or unix seconds.
pub fn time_arg(c: &Call<'_, '_>, k: &str, now: i64) -> Result<Option<i64>, FluxError> {
    Ok(match c.get(k) {
        None => None,
        Some(Value::Time(t)) => Some(*t),
        Some(Value::Duration(m, n)) => {
            Some(add_duration(now, *m, *n).ok_or_else(|| c.err("time out of range"))?)
        }
        Some(Value::Int(s)) => Some(s.saturating_mul(1_000_000_000)),
        Some(v) => {
            return Err(c.err(format!(
                "argument {k} must be a time or a duration, got {}",
                v.type_name()
            )));
        }
    })
}

/// `t + (months, ns)`, months on the UTC calendar.
pub fn add_duration(t: i64, months: i64, ns: i64) -> Option<i64> {
    let mut t = t;
    if months != 0 {
        let dt = chrono::DateTime::from_timestamp_nanos(t);
        let m = chrono::Months::new(u32::try_from(months.unsigned_abs()).ok()?);
        let moved = if months > 0 {
            dt.checked_add_months(m)?
        } else {
            dt.checked_sub_months(m)?
        };
        t = moved.timestamp_nanos_opt()?;
    }
    t.checked_add(ns)
}

/// `range` over tables already read: rows with `start <= _time < stop`, `_start`/`_stop` set.
fn range_tables(tables: Vec<Table>, start: i64, stop: i64) -> Vec<Table> {
    let mut out = Vec::new();
    for t in tables {
        let ti = t.idx("_time");
        let mut key: Vec<(String, Value)> = t
            .key
            .iter()
            .filter(|(k, _)| k != "_start" && k != "_stop")
            .cloned()
            .collect();
        key.push(("_start".to_owned(), Value::Time(start)));
        key.push(("_stop".to_owned(), Value::Time(stop)));
        key.sort_by(|a, b| a.0.cmp(&b.0));
        let mut order = vec![
            Col {
                name: "_start".to_owned(),
                ty: Type::Time,
            },
            Col {
                name: "_stop".to_owned(),
                ty: Type::Time,
            },
        ];
        order.extend(
            t.cols
                .iter()
                .filter(|c| c.name != "_start" && c.name != "_stop")
                .cloned(),
        );
        let rows = (0..t.rows.len())
            .filter(|&r| match ti.map(|i| &t.rows[r][i]) {
                Some(Value::Time(x)) => *x >= start && *x < stop,
                _ => false,
            })
            .map(|r| {
                let mut row = t.named_row(r);
                row.retain(|(k, _)| k != "_start" && k != "_stop");
                row.insert(0, ("_stop".to_owned(), Value::Time(stop)));
                row.insert(0, ("_start".to_owned(), Value::Time(start)));
                row
            })
            .collect::<Vec<_>>();
        if let Ok(t) = Table::from_rows(key, &order, rows) {
            out.push(t);
        }
    }
    out
}

/// Whether a row with these known columns may pass every filter (`Unknown` for the rest).
fn may_pass(
    rt: &Runtime<'_>,
    filters: &[Arc<Function>],
    known: &[(String, Value)],
    pos: Pos,
) -> bool {
    filters.iter().all(|f| {
        let rec = Record {
            fields: known.to_vec(),
            open: true,
        };
        !matches!(rt.call_row(f, rec, pos), Ok(Value::Bool(false)))
    })
}

/// Reads a lazy stream: on the shared plan when it lowers, else row by row, then its deferred
/// calls.
pub fn materialize(rt: &Runtime<'_>, s: Stream, pos: Pos) -> Result<Vec<Table>, FluxError> {
    Ok(read_tables(rt, s, pos)?.into_rows())
}

/// Reads a stream as `materialize` does, but a lowered window's tables stay columns when no
/// deferred call is left to run on them.
pub fn read_tables(rt: &Runtime<'_>, s: Stream, pos: Pos) -> Result<Tables, FluxError> {
    let Stream::Ranged {
        bucket,
        start,
        stop,
        filters,
        deferred,
    } = s
    else {
        return match s {
            Stream::Windows(w) => Ok(Tables::Windows(w)),
            Stream::Values(v) => Ok(Tables::Values(v)),
            s => read(rt, s, pos).map(Tables::Rows),
        };
    };
    let read_on_plan = match rt.lower {
        true => crate::query::flux::lower::read(rt, &bucket, start, stop, &filters, &deferred),
        false => None,
    };
    let (tables, done) = match read_on_plan {
        Some(lowered) => {
            rt.lowered.set(rt.lowered.get() + 1);
            lowered
        }
        None => {
            let s = Stream::Ranged {
                bucket,
                start,
                stop,
                filters,
                deferred: Vec::new(),
            };
            (Tables::Rows(read(rt, s, pos)?), 0)
        }
    };
    if done == deferred.len() {
        return Ok(tables);
    }
    let mut tables = tables.into_rows();
    for d in &deferred[done..] {
        let args = super::Args {
            named: d.named.clone(),
            pipe: Some(stream(tables)),
            pos: d.pos,
        };
        tables = match super::call(rt, d.name, args)? {
            Value::Stream(s) => read(rt, Arc::try_unwrap(s).unwrap_or_else(|s| (*s).clone()), pos)?,
            v => {
                return Err(FluxError::internal(format!(
                    "{} answered a {}, not tables",
                    d.name,
                    v.type_name()
                )));
            }
        };
    }
    Ok(Tables::Rows(tables))
}

/// Reads a lazy stream row by row (its deferred calls are the caller's).
fn read(rt: &Runtime<'_>, s: Stream, pos: Pos) -> Result<Vec<Table>, FluxError> {
    let (bucket, start, stop, filters) = match s {
        Stream::Tables(t) => return Ok(t),
        Stream::Windows(w) => return Ok(Tables::Windows(w).into_rows()),
        Stream::Values(v) => return Ok(Tables::Values(v).into_rows()),
        Stream::From(b) => {
            return Err(FluxError::at(
                pos,
                format!(
                    "cannot submit unbounded read to {:?}; try bounding 'from' with a call to 'range'",
                    b.as_str()
                ),
            ));
        }
        Stream::Ranged {
            bucket,
            start,
            stop,
            filters,
            ..
        } => (bucket, start, stop, filters),
    };
    let ctx = rt.ctx;
    let Some(store) = ctx.store else {
        return Ok(Vec::new());
    };
    if stop <= start {
        return Ok(Vec::new());
    }
    let mut sorted: Vec<(super::rows::SortKey, Table)> = Vec::new();
    let mut rows_total = 0usize;
    for m in store.measurements(ctx.tenant, &bucket) {
        let mut known = vec![
            ("_start".to_owned(), Value::Time(start)),
            ("_stop".to_owned(), Value::Time(stop)),
            ("_measurement".to_owned(), Value::str(&m)),
        ];
        if !may_pass(rt, &filters, &known, pos) {
            continue;
        }
        let Some(schema) = store.schema(ctx.tenant, &bucket, &m) else {
            continue;
        };
        let mut fields = Vec::new();
        for (f, _) in &schema.fields {
            known.push(("_field".to_owned(), Value::str(f)));
            if may_pass(rt, &filters, &known, pos) {
                fields.push(f.clone());
            }
            known.pop();
        }
        if fields.is_empty() {
            continue;
        }
        let batch = store
            .scan(&ScanRequest {
                tenant: ctx.tenant,
                bucket: &bucket,
                measurement: &m,
                min_time: start,
                max_time: stop - 1,
                tag_equals: &[],
                series_filter: None,
                fields: Some(&fields),
                max_bytes: ctx.max_scan_bytes,
            })
            .map_err(|e| FluxError::internal(format!("reading {m:?}: {e}")))?;
        for (k, t) in super::rows::series_tables(&batch, &m, start, stop)? {
            let t = apply_filters(rt, &filters, t, pos)?;
            if t.rows.is_empty() {
                continue;
            }
            rows_total += t.rows.len();
            if rows_total > ctx.max_rows {
                return Err(FluxError::invalid(format!(
                    "query reads more than {} rows; narrow the range or filter",
                    ctx.max_rows
                )));
            }
            sorted.push((k, t));
        }
    }
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(sorted.into_iter().map(|(_, t)| t).collect())
}

fn apply_filters(
    rt: &Runtime<'_>,
    filters: &[Arc<Function>],
    mut t: Table,
    pos: Pos,
) -> Result<Table, FluxError> {
    if filters.is_empty() {
        return Ok(t);
    }
    let names: Vec<String> = t.cols.iter().map(|c| c.name.clone()).collect();
    let mut keep = Vec::with_capacity(t.rows.len());
    for row in std::mem::take(&mut t.rows) {
        let mut pass = true;
        for f in filters {
            let rec = Record {
                fields: names.iter().cloned().zip(row.iter().cloned()).collect(),
                open: false,
            };
            match rt.call_row(f, rec, pos)? {
                Value::Bool(true) => {}
                Value::Bool(false) | Value::Null => {
                    pass = false;
                    break;
                }
                v => {
                    return Err(FluxError::at(
                        pos,
                        format!("filter function must return a bool, got {}", v.type_name()),
                    ));
                }
            }
        }
        if pass {
            keep.push(row);
        }
    }
    t.rows = keep;
    Ok(t)
}

/// `buckets()`: the tenant's buckets, as InfluxDB 2 lists them (wire.md §2.9).
fn buckets_table(rt: &Runtime<'_>) -> Table {
    let ctx = rt.ctx;
    let org = hex_id(ctx.tenant.as_str(), "");
    let cols = vec![
        Col {
            name: "name".into(),
            ty: Type::Str,
        },
        Col {
            name: "id".into(),
            ty: Type::Str,
        },
        Col {
            name: "organizationID".into(),
            ty: Type::Str,
        },
        Col {
            name: "retentionPolicy".into(),
            ty: Type::Str,
        },
        Col {
            name: "retentionPeriod".into(),
            ty: Type::Int,
        },
    ];
    let rows = ctx
        .buckets
        .iter()
        .map(|b| {
            vec![
                Value::str(b.as_str()),
                Value::str(&hex_id(ctx.tenant.as_str(), b.as_str())),
                Value::str(&org),
                Value::str(""),
                Value::Int(ctx.retention_ns),
            ]
        })
        .collect();
    Table {
        cols,
        key: vec![("organizationID".to_owned(), Value::str(&org))],
        rows,
    }
}

/// A stable 16-hex-digit ID (InfluxDB 2's ID shape) for a tenant or bucket.
fn hex_id(tenant: &str, bucket: &str) -> String {
    use sha2::Digest as _;
    let d = sha2::Sha256::digest(format!("{tenant}\0{bucket}").as_bytes());
    hex::encode(&d[..8])
}
