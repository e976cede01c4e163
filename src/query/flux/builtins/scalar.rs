//! Scalar builtins (`contains`, conversions, `now`, `strings.*`, `date.*`, `math.*`) and the
//! metadata functions of `influxdata/influxdb/schema` (docs/flux.md §5.6–5.7).
//!
//! Schema functions answer one table with a string `_value` column and an empty group key,
//! sorted and distinct, over all retained data (the store keeps no per-range index of series).

use std::sync::Arc;

use arrow::buffer::BooleanBuffer;

use super::Call;
use crate::lineproto::FieldType;
use crate::query::flux::FluxError;
use crate::query::flux::columns::ValuesTable;
use crate::query::flux::interp::display;
use crate::query::flux::lower::filter::{self, Node};
use crate::query::flux::table::Stream;
use crate::query::flux::value::{Function, Record, Value};
use crate::store::{MeasurementSchema, SeriesIndex};

pub fn call(c: &mut Call<'_, '_>) -> Result<Value, FluxError> {
    let v = |c: &Call<'_, '_>| c.req("v").cloned();
    Ok(match c.name {
        "now" => {
            c.allow(&[])?;
            Value::Time(c.rt.ctx.now_ns)
        }
        "contains" => {
            c.allow(&["value", "set"])?;
            let value = c.req("value")?;
            let Value::Array(set) = c.req("set")? else {
                return Err(c.err("argument set must be an array"));
            };
            if value.is_null() {
                return Ok(Value::Bool(false));
            }
            Value::Bool(set.iter().any(|x| value.equals(x) == Some(true)))
        }
        "length" => {
            c.allow(&["arr"])?;
            match c.req("arr")? {
                Value::Array(a) => Value::Int(a.len() as i64),
                other => {
                    return Err(c.err(format!("arr must be an array, got {}", other.type_name())));
                }
            }
        }
        "float" | "int" | "uint" | "string" | "bool" => {
            c.allow(&["v"])?;
            convert(c, &v(c)?)?
        }
        "strings.hasPrefix" | "strings.hasSuffix" => {
            c.allow(&["v", "prefix", "suffix"])?;
            let s = str_arg(c, "v")?;
            match s {
                None => Value::Null,
                Some(s) if c.name == "strings.hasPrefix" => {
                    Value::Bool(s.starts_with(&c.req_string("prefix")?))
                }
                Some(s) => Value::Bool(s.ends_with(&c.req_string("suffix")?)),
            }
        }
        "strings.containsStr" => {
            c.allow(&["v", "substr"])?;
            match str_arg(c, "v")? {
                None => Value::Null,
                Some(s) => Value::Bool(s.contains(&c.req_string("substr")?)),
            }
        }
        "strings.toLower" | "strings.toUpper" | "strings.trimSpace" | "strings.strlen" => {
            c.allow(&["v"])?;
            match str_arg(c, "v")? {
                None => Value::Null,
                Some(s) => match c.name {
                    "strings.toLower" => Value::str(&s.to_lowercase()),
                    "strings.toUpper" => Value::str(&s.to_uppercase()),
                    "strings.trimSpace" => Value::str(s.trim()),
                    _ => Value::Int(s.chars().count() as i64),
                },
            }
        }
        "date.truncate" => {
            c.allow(&["t", "unit"])?;
            let Value::Time(t) = c.req("t")? else {
                return Err(c.err("argument t must be a time"));
            };
            let unit = c
                .duration("unit")?
                .ok_or_else(|| c.err("missing required argument unit"))?;
            if unit <= 0 {
                return Err(c.err("unit must be positive"));
            }
            Value::Time(t - t.rem_euclid(unit))
        }
        "date.hour" | "date.minute" | "date.weekDay" | "date.monthDay" | "date.month"
        | "date.year" => {
            use chrono::{Datelike as _, Timelike as _};
            c.allow(&["t"])?;
            let Value::Time(t) = c.req("t")? else {
                return Err(c.err("argument t must be a time"));
            };
            let d = chrono::DateTime::from_timestamp_nanos(*t);
            Value::Int(i64::from(match c.name {
                "date.hour" => d.hour(),
                "date.minute" => d.minute(),
                "date.weekDay" => d.weekday().num_days_from_sunday(),
                "date.monthDay" => d.day(),
                "date.month" => d.month(),
                _ => return Ok(Value::Int(i64::from(d.year()))),
            }))
        }
        "math.abs" | "math.floor" | "math.ceil" | "math.round" | "math.sqrt" => {
            c.allow(&["x"])?;
            let x = match c.req("x")? {
                Value::Float(x) => *x,
                Value::Null => return Ok(Value::Null),
                v => {
                    return Err(c.err(format!("argument x must be a float, got {}", v.type_name())));
                }
            };
            Value::Float(match c.name {
                "math.abs" => x.abs(),
                "math.floor" => x.floor(),
                "math.ceil" => x.ceil(),
                "math.round" => x.round(),
                _ => x.sqrt(),
            })
        }
        "math.pow" => {
            c.allow(&["x", "y"])?;
            match (c.float("x")?, c.float("y")?) {
                (Some(x), Some(y)) => Value::Float(x.powf(y)),
                _ => return Err(c.err("arguments x and y must be floats")),
            }
        }
        other => {
            return Err(c.err(format!(
                "function {other} is not supported by sluice's Flux engine"
            )));
        }
    })
}

fn str_arg(c: &Call<'_, '_>, k: &str) -> Result<Option<String>, FluxError> {
    match c.req(k)? {
        Value::Str(s) => Ok(Some(s.to_string())),
        Value::Null => Ok(None),
        v => Err(c.err(format!(
            "argument {k} must be a string, got {}",
            v.type_name()
        ))),
    }
}

/// `float()`, `int()`, `uint()`, `string()`, `bool()` as Flux converts.
fn convert(c: &Call<'_, '_>, v: &Value) -> Result<Value, FluxError> {
    use Value::*;
    let bad = || {
        c.err(format!(
            "cannot convert {} {v:?} to {}",
            v.type_name(),
            c.name
        ))
    };
    if v.is_null() {
        return Ok(Null);
    }
    Ok(match c.name {
        "float" => Float(match v {
            Float(f) => *f,
            Int(n) => *n as f64,
            UInt(n) => *n as f64,
            Bool(b) => f64::from(u8::from(*b)),
            Str(s) => s.parse().map_err(|_| bad())?,
            _ => return Err(bad()),
        }),
        "int" => Int(match v {
            Float(f) if f.is_finite() => f.trunc() as i64,
            Int(n) => *n,
            UInt(n) => i64::try_from(*n).map_err(|_| bad())?,
            Bool(b) => i64::from(*b),
            Str(s) => s.parse().map_err(|_| bad())?,
            Time(t) => *t,
            Duration(0, n) => *n,
            _ => return Err(bad()),
        }),
        "uint" => UInt(match v {
            Float(f) if *f >= 0.0 && f.is_finite() => f.trunc() as u64,
            Int(n) => u64::try_from(*n).map_err(|_| bad())?,
            UInt(n) => *n,
            Bool(b) => u64::from(*b),
            Str(s) => s.parse().map_err(|_| bad())?,
            Time(t) => u64::try_from(*t).map_err(|_| bad())?,
            _ => return Err(bad()),
        }),
        "bool" => Bool(match v {
            Bool(b) => *b,
            Str(s) if &**s == "true" => true,
            Str(s) if &**s == "false" => false,
            Int(n) if *n == 0 || *n == 1 => *n == 1,
            Float(f) if *f == 0.0 || *f == 1.0 => *f == 1.0,
            _ => return Err(bad()),
        }),
        _ => match v {
            Str(_) | Int(_) | UInt(_) | Float(_) | Bool(_) | Time(_) | Duration(..) => {
                Value::str(&display(v))
            }
            _ => return Err(bad()),
        },
    })
}

/// `schema.*`.
pub fn schema(c: &mut Call<'_, '_>) -> Result<Value, FluxError> {
    c.allow(&[
        "bucket",
        "measurement",
        "tag",
        "predicate",
        "start",
        "stop",
        "org",
    ])?;
    let name = c.req_string("bucket")?;
    let ctx = c.rt.ctx;
    let bucket = (ctx.resolve)(&name).ok_or_else(|| {
        FluxError::not_found(format!(
            "failed to initialize execute state: could not find bucket {name:?}"
        ))
    })?;
    let only_m = match c.name {
        "schema.measurementTagValues"
        | "schema.measurementFieldKeys"
        | "schema.measurementTagKeys" => Some(c.req_string("measurement")?),
        _ => None,
    };
    let predicate = match c.get("predicate") {
        Some(Value::Func(f)) => Some(f.clone()),
        Some(v) => {
            return Err(c.err(format!(
                "predicate must be a function, got {}",
                v.type_name()
            )));
        }
        None => None,
    };
    let lowered = predicate
        .as_ref()
        .filter(|_| c.rt.lower)
        .and_then(|f| filter::parse(std::slice::from_ref(f)));
    // Collected, then sorted and deduplicated once (the index's values come sorted already).
    let mut out: Vec<Arc<str>> = Vec::new();
    // Whether `out` is one index's list of a tag's values (sorted and distinct) and nothing else:
    // set when that list is added to an empty `out`, with its length.
    let mut only_index: Option<usize> = None;
    let Some(store) = ctx.store else {
        return Ok(values_stream(out));
    };
    let pass = |known: Vec<(String, Value)>| -> Result<bool, FluxError> {
        let Some(f) = &predicate else { return Ok(true) };
        let r = c.rt.call_row(
            f,
            Record {
                fields: known,
                open: true,
            },
            c.args.pos,
        )?;
        Ok(!matches!(r, Value::Bool(false) | Value::Null))
    };
    let tag = match c.name {
        "schema.tagValues" | "schema.measurementTagValues" => Some(c.req_string("tag")?),
        "schema.measurements" => Some("_measurement".to_owned()),
        _ => None,
    };
    for m in store.measurements(ctx.tenant, &bucket) {
        if only_m.as_ref().is_some_and(|o| *o != m) {
            continue;
        }
        let mv = ("_measurement".to_owned(), Value::str(&m));
        if !pass(vec![mv.clone()])? {
            continue;
        }
        let Some(sch) = store.schema(ctx.tenant, &bucket, &m) else {
            continue;
        };
        match (c.name, tag.as_deref()) {
            ("schema.fieldKeys" | "schema.measurementFieldKeys", _) => {
                for (f, _) in &sch.fields {
                    if pass(vec![mv.clone(), ("_field".to_owned(), Value::str(f))])? {
                        out.push(Arc::from(f.as_str()));
                    }
                }
            }
            (_, Some("_measurement")) => {
                out.push(Arc::from(m.as_str()));
            }
            (_, Some("_field")) => {
                out.extend(sch.fields.iter().map(|(f, _)| Arc::from(f.as_str())))
            }
            (_, Some(tag)) => {
                if !sch.tags.iter().any(|t| t == tag) {
                    continue;
                }
                // The store's cached series index: no scan, no copy of every series key.
                let index = store.series_index(ctx.tenant, &bucket, &m);
                if predicate.is_none() {
                    let empty = out.is_empty();
                    out.extend(index.tag_values().get(tag).into_iter().flatten().cloned());
                    only_index = empty.then_some(out.len());
                    continue;
                }
                // A predicate `filter` would push down is decided by the index, once per
                // distinct value of each tag it compares, not called once per series.
                if let Some(hits) = lowered
                    .as_ref()
                    .and_then(|n| index_hits(n, &m, &sch, &index))
                {
                    c.rt.lowered.set(c.rt.lowered.get() + 1);
                    out.extend(index.values_held(tag, &hits));
                    continue;
                }
                if let Some(f) = &predicate {
                    for series in index.series() {
                        let Some((_, v)) = series.iter().find(|(k, _)| k == tag) else {
                            continue;
                        };
                        if series_passes(c, f, &m, series, &sch.fields)? {
                            out.push(Arc::from(v.as_str()));
                        }
                    }
                }
            }
            (_, None) => {
                out.extend(["_field", "_measurement", "_start", "_stop"].map(Arc::from));
                out.extend(sch.tags.iter().map(|t| Arc::from(t.as_str())));
            }
        }
    }
    if only_index != Some(out.len()) {
        out.sort_unstable();
        out.dedup();
    }
    Ok(values_stream(out))
}

/// The series of `index` (of measurement `m`) for which some row could pass the lowered
/// predicate `nodes`, as [`series_passes`] decides it; `None` when a condition does not
/// select on the index.
fn index_hits(
    nodes: &[Node],
    m: &str,
    schema: &MeasurementSchema,
    index: &SeriesIndex,
) -> Option<BooleanBuffer> {
    if !filter::reads(nodes, "_field") {
        return filter::condition(nodes, m, None).select_series(index);
    }
    let mut hits = BooleanBuffer::new_unset(index.series().len());
    for (f, _) in &schema.fields {
        hits = &hits | &filter::condition(nodes, m, Some(f)).select_series(index)?;
    }
    Some(hits)
}

/// Whether some row of one series could pass a `schema.*` predicate, as `filter` would pass
/// it: the predicate sees the series' measurement and tags (a tag the series lacks is null)
/// and one of the measurement's fields as `_field`; `_value`, `_time`, `_start` and `_stop`,
/// which vary by row, are unknown, and a result that depends on them counts as passing.
fn series_passes(
    c: &Call<'_, '_>,
    f: &Function,
    m: &str,
    series: &[(String, String)],
    fields: &[(String, FieldType)],
) -> Result<bool, FluxError> {
    let call = |field: Value| {
        let mut known = Vec::with_capacity(series.len() + 6);
        known.push(("_measurement".to_owned(), Value::str(m)));
        known.extend(series.iter().map(|(k, v)| (k.clone(), Value::str(v))));
        known.push(("_field".to_owned(), field));
        known
            .extend(["_value", "_time", "_start", "_stop"].map(|k| (k.to_owned(), Value::Unknown)));
        let rec = Record {
            fields: known,
            open: false,
        };
        c.rt.call_row(f, rec, c.args.pos)
    };
    let passes = |v: &Value| !matches!(v, Value::Bool(false) | Value::Null);
    // Decided without `_field` when the predicate does not depend on it; else field by field.
    match call(Value::Unknown)? {
        Value::Unknown => {
            for (field, _) in fields {
                if passes(&call(Value::str(field))?) {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        v => Ok(passes(&v)),
    }
}

/// A stream of one table, one `_value` column of `values` (distinct and sorted), kept as
/// the vector until rows are needed (`columns::ValuesTable`).
fn values_stream(values: Vec<Arc<str>>) -> Value {
    Value::Stream(Arc::new(Stream::Values(vec![ValuesTable::new(values)])))
}
