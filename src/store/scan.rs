//! Query-time reads: the rows of one measurement from its files and buffers, merged.
//!
//! Owns: pruning files and row groups by time and by the `tag_equals` hint (column statistics:
//! a row group is skipped when no listed value lies within its min/max, and, for the empty value,
//! it has no nulls), reading only the needed columns, casting each source to the answer's schema
//! (a tag or field a source lacks is null: schema evolution), and the merge: sources in order
//! (files by day then `last`, then the buffers, oldest first), merged k-way by series then
//! time, one row per (series, time), last write wins field by field; rows of series the
//! `tag_equals` hint excludes or the `series_filter` rejects dropped before the merge (the
//! masks: `mask`); the `max_bytes` bound; a scan's snapshot of the store's files and buffers
//! (`Store::scan_with_stats`, retried when a file it picked was compacted away). Reading the
//! files: `files`.
//! Does not own: which files and buffers exist (`catalog`, `Store`), the answer's contract
//! (`read`).

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use arrow::array::{ArrayRef, BooleanArray, RecordBatch, new_null_array};
use arrow::compute::{and, cast, concat_batches, filter_record_batch, is_not_null, or};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

mod files;
mod mask;
mod merge;
mod runs;
use files::{file_wanted, read_files};
pub use mask::tag_key_changes;
use mask::{hint_mask, in_range, series_mask};
pub(in crate::store) use merge::merge;

use super::StoreError;
use super::batch::{ROLE, ROLE_FIELD, ROLE_KEY, ROLE_TAG, ROLE_TIME, TIME_COLUMN, tag_column_name};
use super::catalog::FileMeta;
use super::read::{MeasurementSchema, ScanRequest};
use super::runtime::Store;
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

/// Which of a request's row filters a source applied already (see [`conform`]).
#[derive(Debug, Clone, Copy, Default)]
pub(in crate::store) struct Applied {
    /// The time range and the `tag_equals` hint (a file read with a row filter).
    pub range_and_hint: bool,
    /// `series_filter` (a buffer's select).
    pub series: bool,
}

/// Casts `batch` (any source's schema) to `out`: columns matched by role and key, missing
/// ones null, rows outside `[req.min_time, req.max_time]` dropped, and rows of series the
/// `req.tag_equals` hint excludes, and of series `req.series_filter` rejects (unless the source
/// applied them already: `applied`).
pub(in crate::store) fn conform(
    batch: &RecordBatch,
    out: &SchemaRef,
    req: &ScanRequest<'_>,
    applied: Applied,
) -> Result<RecordBatch, StoreError> {
    let (min, max) = (req.min_time, req.max_time);
    let src = batch.schema();
    let find = |role: &str, key: Option<&str>| {
        src.fields()
            .iter()
            .position(|f| role_of(f) == (Some(role), key))
    };
    let Some(ti) = find(ROLE_TIME, None) else {
        return Err(StoreError::NoTimeColumn);
    };
    let time = cast(
        batch.column(ti),
        &DataType::Timestamp(TimeUnit::Nanosecond, None),
    )?;
    let mask = (!applied.range_and_hint)
        .then(|| in_range(&time, min, max))
        .transpose()?;
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
    let hint = if applied.range_and_hint {
        None
    } else {
        hint_mask(&conformed, req.tag_equals)?
    };
    let series = req
        .series_filter
        .filter(|_| !applied.series)
        .map(|pred| series_mask(&conformed, pred));
    let mut mask = mask;
    for m in [hint, series].into_iter().flatten() {
        mask = Some(match mask {
            Some(all) => and(&all, &m)?,
            None => m,
        });
    }
    match mask {
        Some(m) if m.true_count() < batch.num_rows() => Ok(filter_record_batch(&conformed, &m)?),
        _ => Ok(conformed),
    }
}

/// The rows `req` asks for, from `files` (merge order) then `buffers` (each one sorted and
/// deduplicated, oldest first; each with whether `req.series_filter` was applied to it
/// already), conformed to `out`.
pub fn scan_sources(
    req: &ScanRequest<'_>,
    out: &SchemaRef,
    files: &[Arc<FileMeta>],
    buffers: &[(RecordBatch, bool)],
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
    let wanted: Vec<&Arc<FileMeta>> = files.iter().filter(|f| file_wanted(f, req)).collect();
    for batches in read_files(&wanted, req, out, stats)? {
        charge(&batches)?;
        if !batches.is_empty() {
            sources.push(batches);
        }
    }
    for (b, series_filtered) in buffers {
        let applied = Applied {
            range_and_hint: false,
            series: *series_filtered,
        };
        let c = conform(b, out, req, applied)?;
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

impl Store {
    /// [`ReadStore::scan`] with what it did.
    pub fn scan_with_stats(
        &self,
        req: &ScanRequest<'_>,
    ) -> Result<(RecordBatch, ScanStats), StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.scan_once(req) {
                // A file compacted or dropped between the snapshot and its open: look again.
                Err(StoreError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound && attempt < 4 => {}
                other => return other,
            }
        }
    }

    fn scan_once(&self, req: &ScanRequest<'_>) -> Result<(RecordBatch, ScanStats), StoreError> {
        let key = (req.tenant.clone(), req.bucket.clone());
        // No file this scan picks is deleted before it is read.
        let _files = self.files.read().unwrap_or_else(PoisonError::into_inner);
        let (schema, files, buffers) = {
            let st = self.lock();
            let cat = self.catalog_read();
            let Some(schema) = self.schema_of(&st, &cat, &key, req.measurement) else {
                return Ok((
                    RecordBatch::new_empty(output_schema(&MeasurementSchema::default(), Some(&[]))),
                    ScanStats::default(),
                ));
            };
            let files = cat
                .measurement(req.tenant, req.bucket, req.measurement)
                .map(|e| e.files_between(req.min_time, req.max_time))
                .unwrap_or_default();
            let mut buffers = Vec::new();
            let flushing = st.flushing.clone();
            if let Some(buf) = st
                .active
                .get(&key)
                .and_then(|b| b.get(req.measurement.as_bytes()))
                .filter(|b| !b.is_empty())
            {
                let overlaps = buf
                    .time_range()
                    .is_some_and(|(lo, hi)| hi >= req.min_time && lo <= req.max_time);
                if overlaps {
                    // Only the rows of the range, of the series the hints allow, of the
                    // fields asked for.
                    let hint = |tags: &[(String, String)]| {
                        series_may_match(tags, req.tag_equals)
                            && req.series_filter.is_none_or(|f| (f.0)(tags))
                    };
                    let keep: Option<&super::batch::SeriesFilter<'_>> =
                        (!req.tag_equals.is_empty() || req.series_filter.is_some())
                            .then_some(&hint);
                    buffers.push((
                        buf.select(req.min_time, req.max_time, keep, req.fields)?,
                        true,
                    ));
                }
            }
            (schema, files, (flushing, buffers))
        };
        // The generation being flushed is older than the active buffer: it merges first.
        let (flushing, active) = buffers;
        let mut buffers = Vec::with_capacity(2);
        if let Some(p) = flushing
            .as_ref()
            .and_then(|f| f.parts.get(&(key.clone(), req.measurement.to_owned())))
        {
            buffers.push((p.batch()?, false));
        }
        buffers.extend(active);
        let out = output_schema(&schema, req.fields);
        let mut stats = ScanStats::default();
        let batch = scan_sources(req, &out, &files, &buffers, &mut stats)?;
        let c = &self.counters;
        c.scans.fetch_add(1, Ordering::Relaxed);
        c.row_groups_read
            .fetch_add(stats.row_groups_read as u64, Ordering::Relaxed);
        c.row_groups_skipped
            .fetch_add(stats.row_groups_skipped as u64, Ordering::Relaxed);
        Ok((batch, stats))
    }
}

/// Whether a series (tags sorted by key) holds, for every hinted key, one of its values (a
/// missing tag counts as `""`): `ScanRequest::tag_equals`.
pub(super) fn series_may_match(tags: &[(String, String)], hint: &[(String, Vec<String>)]) -> bool {
    hint.iter().all(|(key, values)| {
        let v = tags
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .map_or("", |i| tags[i].1.as_str());
        values.iter().any(|w| w == v)
    })
}
