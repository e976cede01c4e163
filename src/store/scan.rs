//! Query-time reads: the rows of one measurement from its files and buffers, merged.
//!
//! Owns: pruning files and row groups by time and by the `tag_equals` hint (column statistics:
//! a row group is skipped when no listed value lies within its min/max, and, for the empty value,
//! it has no nulls), reading only the needed columns, casting each source to the answer's schema
//! (a tag or field a source lacks is null: schema evolution), and the merge: sources in order
//! (files by day then `last`, then the buffers, oldest first), sorted by series then time, one
//! row per (series, time), last write wins field by field; the `max_bytes` bound.
//! Does not own: which files and buffers exist (`catalog`, `Store`), the answer's contract
//! (`read`).

use std::fs::File;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, UInt32Array, new_null_array};
use arrow::compute::kernels::cmp::{gt_eq, lt_eq};
use arrow::compute::{
    SortColumn, SortOptions, and, cast, concat_batches, filter_record_batch, is_not_null,
    lexsort_to_indices, or, take,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use parquet::file::metadata::RowGroupMetaData;
use parquet::file::statistics::Statistics;

use super::StoreError;
use super::batch::{ROLE, ROLE_FIELD, ROLE_KEY, ROLE_TAG, ROLE_TIME, TIME_COLUMN, tag_column_name};
use super::catalog::{FileMeta, roles};
use super::read::{MeasurementSchema, ScanRequest};
use crate::lineproto::FieldType;

/// What a scan did (for metrics and tests).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanStats {
    pub files: usize,
    pub row_groups_read: usize,
    pub row_groups_skipped: usize,
    pub rows_read: usize,
}

/// The answer's Arrow schema: every tag of the measurement, the requested fields it has.
pub fn output_schema(schema: &MeasurementSchema, fields: Option<&[String]>) -> SchemaRef {
    let all_fields: std::collections::BTreeMap<String, ()> =
        schema.fields.iter().map(|(k, _)| (k.clone(), ())).collect();
    let tag_keys: Vec<&str> = schema.tags.iter().map(String::as_str).collect();
    let mut out = Vec::new();
    for key in &schema.tags {
        let name = tag_column_name(key, &all_fields, &tag_keys);
        out.push(
            Field::new(
                name,
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                true,
            )
            .with_metadata(meta(ROLE_TAG, Some(key))),
        );
    }
    for (key, ty) in &schema.fields {
        if fields.is_some_and(|want| !want.iter().any(|w| w == key)) {
            continue;
        }
        out.push(Field::new(key, arrow_type(*ty), true).with_metadata(meta(ROLE_FIELD, Some(key))));
    }
    out.push(
        Field::new(
            TIME_COLUMN,
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            false,
        )
        .with_metadata(meta(ROLE_TIME, None)),
    );
    Arc::new(Schema::new(out))
}

fn meta(role: &str, key: Option<&str>) -> std::collections::HashMap<String, String> {
    let mut m = std::collections::HashMap::from([(ROLE.to_owned(), role.to_owned())]);
    if let Some(k) = key {
        m.insert(ROLE_KEY.to_owned(), k.to_owned());
    }
    m
}

fn arrow_type(ty: FieldType) -> DataType {
    match ty {
        FieldType::Float => DataType::Float64,
        FieldType::Integer => DataType::Int64,
        FieldType::Unsigned => DataType::UInt64,
        FieldType::Boolean => DataType::Boolean,
        FieldType::String => DataType::Utf8,
    }
}

/// (role, key) of a column.
fn role_of(f: &Field) -> (Option<&str>, Option<&str>) {
    (
        f.metadata().get(ROLE).map(String::as_str),
        f.metadata().get(ROLE_KEY).map(String::as_str),
    )
}

/// Casts `batch` (any source's schema) to `out`: columns matched by role and key, missing
/// ones null, rows outside `[min, max]` dropped.
fn conform(
    batch: &RecordBatch,
    out: &SchemaRef,
    min: i64,
    max: i64,
) -> Result<RecordBatch, StoreError> {
    let src = batch.schema();
    let find = |role: &str, key: Option<&str>| {
        src.fields()
            .iter()
            .position(|f| role_of(f) == (Some(role), key))
    };
    let Some(ti) = find(ROLE_TIME, None) else {
        return Err(StoreError::NoTimeColumn);
    };
    let time = batch.column(ti);
    let time = cast(time, &DataType::Timestamp(TimeUnit::Nanosecond, None))?;
    let lo = arrow::array::TimestampNanosecondArray::new_scalar(min);
    let hi = arrow::array::TimestampNanosecondArray::new_scalar(max);
    let mask = and(&gt_eq(&time, &lo)?, &lt_eq(&time, &hi)?)?;
    let mut cols: Vec<ArrayRef> = Vec::with_capacity(out.fields().len());
    for f in out.fields() {
        let (role, key) = role_of(f);
        let col = match role {
            Some(ROLE_TIME) => time.clone(),
            Some(r) => match find(r, key) {
                Some(i) => cast(batch.column(i), f.data_type())
                    .unwrap_or_else(|_| new_null_array(f.data_type(), batch.num_rows())),
                None => new_null_array(f.data_type(), batch.num_rows()),
            },
            None => new_null_array(f.data_type(), batch.num_rows()),
        };
        cols.push(col);
    }
    let conformed = RecordBatch::try_new(out.clone(), cols)?;
    if mask.true_count() == batch.num_rows() {
        Ok(conformed)
    } else {
        Ok(filter_record_batch(&conformed, &mask)?)
    }
}

/// Whether a row group may hold rows the request wants.
fn row_group_wanted(
    rg: &RowGroupMetaData,
    time_idx: Option<usize>,
    tag_idx: &[(usize, String)],
    req: &ScanRequest<'_>,
) -> bool {
    if let Some(ti) = time_idx {
        if let Some(Statistics::Int64(s)) = rg.column(ti).statistics() {
            if let (Some(lo), Some(hi)) = (s.min_opt(), s.max_opt()) {
                if *hi < req.min_time || *lo > req.max_time {
                    return false;
                }
            }
        }
    }
    for (key, values) in req.tag_equals {
        let Some((ci, _)) = tag_idx.iter().find(|(_, k)| k == key) else {
            // The file lacks the tag: every row has the empty value.
            if values.iter().any(String::is_empty) {
                continue;
            }
            return false;
        };
        let Some(Statistics::ByteArray(s)) = rg.column(*ci).statistics() else {
            continue;
        };
        let nulls = s.null_count_opt().is_none_or(|n| n > 0);
        let (Some(lo), Some(hi)) = (s.min_opt(), s.max_opt()) else {
            continue;
        };
        let hit = values.iter().any(|v| {
            (v.is_empty() && nulls) || (lo.data() <= v.as_bytes() && v.as_bytes() <= hi.data())
        });
        if !hit {
            return false;
        }
    }
    true
}

/// Whether a whole file may hold rows for the request, by its catalog entry.
fn file_wanted(f: &FileMeta, req: &ScanRequest<'_>) -> bool {
    f.max_time >= req.min_time && f.min_time <= req.max_time
}

/// Reads the wanted row groups and columns of one file, conformed to `out`.
fn read_file(
    f: &FileMeta,
    req: &ScanRequest<'_>,
    out: &SchemaRef,
    stats: &mut ScanStats,
) -> Result<Vec<RecordBatch>, StoreError> {
    let path = &f.path;
    let io = |op: &'static str| {
        let path = path.display().to_string();
        move |source| StoreError::Io { op, path, source }
    };
    let file = File::open(path).map_err(io("open"))?;
    let meta = ArrowReaderMetadata::load(&file, Default::default())?;
    let schema = meta.schema().clone();
    let (tags, _, time_idx) = roles(&schema);
    let pq = meta.metadata().clone();
    let mut groups = Vec::new();
    for (i, rg) in pq.row_groups().iter().enumerate() {
        if row_group_wanted(rg, time_idx, &tags, req) {
            groups.push(i);
        } else {
            stats.row_groups_skipped += 1;
        }
    }
    stats.files += 1;
    stats.row_groups_read += groups.len();
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let wanted: Vec<usize> = schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| match role_of(f) {
            (Some(ROLE_FIELD), Some(k)) => out
                .fields()
                .iter()
                .any(|o| role_of(o) == (Some(ROLE_FIELD), Some(k))),
            (Some(ROLE_TAG | ROLE_TIME), _) => true,
            _ => false,
        })
        .map(|(i, _)| i)
        .collect();
    let mask = ProjectionMask::roots(pq.file_metadata().schema_descr(), wanted);
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, meta)
        .with_projection(mask)
        .with_row_groups(groups)
        .build()?;
    let mut batches = Vec::new();
    for b in reader {
        let b = b?;
        stats.rows_read += b.num_rows();
        let c = conform(&b, out, req.min_time, req.max_time)?;
        if c.num_rows() > 0 {
            batches.push(c);
        }
    }
    Ok(batches)
}

/// The rows `req` asks for, from `files` (merge order) then `buffers` (each one sorted and
/// deduplicated, oldest first), conformed to `out`.
pub fn scan_sources(
    req: &ScanRequest<'_>,
    out: &SchemaRef,
    files: &[Arc<FileMeta>],
    buffers: &[RecordBatch],
    stats: &mut ScanStats,
) -> Result<RecordBatch, StoreError> {
    let mut sources: Vec<Vec<RecordBatch>> = Vec::new();
    let mut bytes = 0usize;
    let mut charge = |batches: &[RecordBatch]| -> Result<(), StoreError> {
        bytes += batches
            .iter()
            .map(RecordBatch::get_array_memory_size)
            .sum::<usize>();
        if bytes > req.max_bytes {
            return Err(StoreError::ScanTooLarge {
                limit: req.max_bytes,
            });
        }
        Ok(())
    };
    for f in files.iter().filter(|f| file_wanted(f, req)) {
        let batches = read_file(f, req, out, stats)?;
        charge(&batches)?;
        if !batches.is_empty() {
            sources.push(batches);
        }
    }
    for b in buffers {
        let c = conform(b, out, req.min_time, req.max_time)?;
        if c.num_rows() > 0 {
            charge(std::slice::from_ref(&c))?;
            sources.push(vec![c]);
        }
    }
    let merged = match sources.len() {
        0 => RecordBatch::new_empty(out.clone()),
        // One source is sorted and has one row per (series, time) already.
        1 => concat_batches(out, &sources[0])?,
        _ => merge(out, &sources)?,
    };
    drop_empty_rows(&merged)
}

/// Sorts the sources' rows by series, time, source order and keeps one row per (series,
/// time): per field, the value of the last row that has one.
fn merge(out: &SchemaRef, sources: &[Vec<RecordBatch>]) -> Result<RecordBatch, StoreError> {
    let mut ordinal: Vec<u32> = Vec::new();
    let mut all = Vec::new();
    for (i, batches) in sources.iter().enumerate() {
        for b in batches {
            ordinal.extend(std::iter::repeat_n(i as u32, b.num_rows()));
            all.push(b.clone());
        }
    }
    let batch = concat_batches(out, &all)?;
    let ordinal: ArrayRef = Arc::new(UInt32Array::from(ordinal));
    let key_idx: Vec<usize> = out
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| matches!(role_of(f).0, Some(ROLE_TAG | ROLE_TIME)))
        .map(|(i, _)| i)
        .collect();
    let opts = SortOptions {
        descending: false,
        nulls_first: true,
    };
    let mut sort_cols: Vec<SortColumn> = key_idx
        .iter()
        .map(|&i| SortColumn {
            values: batch.column(i).clone(),
            options: Some(opts),
        })
        .collect();
    sort_cols.push(SortColumn {
        values: ordinal,
        options: Some(opts),
    });
    let order = lexsort_to_indices(&sort_cols, None)?;
    let sorted: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|c| take(c.as_ref(), &order, None))
        .collect::<Result<_, _>>()?;
    let keys: Vec<ArrayRef> = key_idx.iter().map(|&i| sorted[i].clone()).collect();
    let runs = arrow::compute::partition(&keys)?.ranges();
    let first: UInt32Array = runs.iter().map(|r| Some(r.start as u32)).collect();
    let mut cols = Vec::with_capacity(sorted.len());
    for (i, f) in out.fields().iter().enumerate() {
        let col = &sorted[i];
        let idx = if role_of(f).0 == Some(ROLE_FIELD) {
            runs.iter()
                .map(|r| r.clone().rev().find(|&j| col.is_valid(j)).map(|j| j as u32))
                .collect::<UInt32Array>()
        } else {
            first.clone()
        };
        cols.push(take(col.as_ref(), &idx, None)?);
    }
    Ok(RecordBatch::try_new(out.clone(), cols)?)
}

/// Drops rows where every field column is null (all rows when there is no field column).
fn drop_empty_rows(batch: &RecordBatch) -> Result<RecordBatch, StoreError> {
    let schema = batch.schema();
    let mut mask: Option<BooleanArray> = None;
    for (i, f) in schema.fields().iter().enumerate() {
        if role_of(f).0 != Some(ROLE_FIELD) {
            continue;
        }
        let valid = is_not_null(batch.column(i))?;
        mask = Some(match mask {
            None => valid,
            Some(m) => or(&m, &valid)?,
        });
    }
    let Some(mask) = mask else {
        return Ok(RecordBatch::new_empty(schema));
    };
    if mask.true_count() == batch.num_rows() {
        return Ok(batch.clone());
    }
    Ok(filter_record_batch(batch, &mask)?)
}
