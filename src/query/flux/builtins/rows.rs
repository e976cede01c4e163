//! Store rows → Flux tables (docs/flux.md §4): one table per series × field.
//!
//! Owns: the columns and key of a table read from the store (`_start _stop _time _value
//! _field _measurement` + the series' tags), skipping null field values, and the order key
//! (measurement, tags, field).

use arrow::array::{
    Array, BooleanArray, Float64Array, Int64Array, StringArray, TimestampNanosecondArray,
    UInt64Array,
};
use arrow::datatypes::DataType;

use crate::query::flux::FluxError;
use crate::query::flux::table::{Col, Table, Type};
use crate::query::flux::value::Value;
use crate::store::{ROLE, ROLE_FIELD, ROLE_KEY, ROLE_TAG};

/// (measurement, tags, field): the order tables leave the store in.
pub type SortKey = (String, Vec<(String, String)>, String);

/// One store batch → one table per series × field (rows with a null field value skipped).
pub fn series_tables(
    batch: &arrow::record_batch::RecordBatch,
    m: &str,
    start: i64,
    stop: i64,
) -> Result<Vec<(SortKey, Table)>, FluxError> {
    let schema = batch.schema();
    let mut tags: Vec<(String, StringArray)> = Vec::new();
    let mut fields: Vec<(String, &dyn Array)> = Vec::new();
    let mut times: Option<&TimestampNanosecondArray> = None;
    let internal = |e: arrow::error::ArrowError| FluxError::internal(e.to_string());
    for (i, f) in schema.fields().iter().enumerate() {
        let role = f.metadata().get(ROLE).map(String::as_str);
        let key = f
            .metadata()
            .get(ROLE_KEY)
            .cloned()
            .unwrap_or_else(|| f.name().clone());
        let col = batch.column(i);
        match role {
            Some(ROLE_TAG) => {
                let s = arrow::compute::cast(col, &DataType::Utf8).map_err(internal)?;
                let s = s
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .cloned()
                    .ok_or_else(|| FluxError::internal("tag column is not text"))?;
                tags.push((key, s));
            }
            Some(ROLE_FIELD) => fields.push((key, col.as_ref())),
            _ if matches!(col.data_type(), DataType::Timestamp(..)) => {
                times = col.as_any().downcast_ref::<TimestampNanosecondArray>();
            }
            _ => {}
        }
    }
    tags.sort_by(|a, b| a.0.cmp(&b.0));
    let Some(times) = times else {
        return Ok(Vec::new());
    };
    let mut out: Vec<(SortKey, Table)> = Vec::new();
    let mut current: Vec<Option<usize>> = vec![None; fields.len()];
    let mut prev: Option<Vec<(String, String)>> = None;
    for r in 0..batch.num_rows() {
        let series: Vec<(String, String)> = tags
            .iter()
            .filter(|(_, a)| a.is_valid(r) && !a.value(r).is_empty())
            .map(|(k, a)| (k.clone(), a.value(r).to_owned()))
            .collect();
        if prev.as_ref() != Some(&series) {
            current = vec![None; fields.len()];
            prev = Some(series.clone());
        }
        for (fi, (fname, arr)) in fields.iter().enumerate() {
            let Some(v) = cell(*arr, r) else { continue };
            let ti = match current[fi] {
                Some(ti) => ti,
                None => {
                    out.push((
                        (m.to_owned(), series.clone(), fname.clone()),
                        new_table(
                            m,
                            &series,
                            fname,
                            Type::of(&v).unwrap_or(Type::Str),
                            start,
                            stop,
                        ),
                    ));
                    current[fi] = Some(out.len() - 1);
                    out.len() - 1
                }
            };
            let t = &mut out[ti].1;
            let mut row = Vec::with_capacity(t.cols.len());
            row.push(Value::Time(start));
            row.push(Value::Time(stop));
            row.push(Value::Time(times.value(r)));
            row.push(v);
            row.push(Value::str(fname));
            row.push(Value::str(m));
            for (_, tv) in &series {
                row.push(Value::str(tv));
            }
            t.rows.push(row);
        }
    }
    Ok(out)
}

/// An empty table of one series × field, with the columns and key a read gives it.
pub fn new_table(
    m: &str,
    series: &[(String, String)],
    field: &str,
    ty: Type,
    start: i64,
    stop: i64,
) -> Table {
    let mut cols = vec![
        Col {
            name: "_start".into(),
            ty: Type::Time,
        },
        Col {
            name: "_stop".into(),
            ty: Type::Time,
        },
        Col {
            name: "_time".into(),
            ty: Type::Time,
        },
        Col {
            name: "_value".into(),
            ty,
        },
        Col {
            name: "_field".into(),
            ty: Type::Str,
        },
        Col {
            name: "_measurement".into(),
            ty: Type::Str,
        },
    ];
    let mut key = vec![
        ("_field".to_owned(), Value::str(field)),
        ("_measurement".to_owned(), Value::str(m)),
        ("_start".to_owned(), Value::Time(start)),
        ("_stop".to_owned(), Value::Time(stop)),
    ];
    for (k, v) in series {
        cols.push(Col {
            name: k.clone(),
            ty: Type::Str,
        });
        key.push((k.clone(), Value::str(v)));
    }
    key.sort_by(|a, b| a.0.cmp(&b.0));
    Table {
        cols,
        key,
        rows: Vec::new(),
    }
}

fn cell(a: &dyn Array, r: usize) -> Option<Value> {
    if !a.is_valid(r) {
        return None;
    }
    let any = a.as_any();
    if let Some(x) = any.downcast_ref::<Float64Array>() {
        return Some(Value::Float(x.value(r)));
    }
    if let Some(x) = any.downcast_ref::<Int64Array>() {
        return Some(Value::Int(x.value(r)));
    }
    if let Some(x) = any.downcast_ref::<UInt64Array>() {
        return Some(Value::UInt(x.value(r)));
    }
    if let Some(x) = any.downcast_ref::<BooleanArray>() {
        return Some(Value::Bool(x.value(r)));
    }
    if let Some(x) = any.downcast_ref::<StringArray>() {
        return Some(Value::str(x.value(r)));
    }
    None
}
