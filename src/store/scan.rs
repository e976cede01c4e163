//! Query-time reads: the rows of one measurement from its files and buffers, merged.
//!
//! Owns: pruning files and row groups by time and by the `tag_equals` hint (column statistics:
//! a row group is skipped when no listed value lies within its min/max, and, for the empty value,
//! it has no nulls), reading only the needed columns, casting each source to the answer's schema
//! (a tag or field a source lacks is null: schema evolution), and the merge: sources in order
//! (files by day then `last`, then the buffers, oldest first), merged k-way by series then
//! time, one row per (series, time), last write wins field by field; rows of series the
//! `tag_equals` hint excludes or the `series_filter` rejects dropped before the merge (the
//! masks: `mask`); the `max_bytes` bound.
//! Does not own: which files and buffers exist (`catalog`, `Store`), the answer's contract
//! (`read`).

use std::fs::File;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, DictionaryArray, RecordBatch, StringArray, UInt32Array,
    new_null_array,
};
use arrow::compute::{and, cast, concat_batches, filter_record_batch, is_not_null, or, take};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowPredicateFn, ArrowReaderMetadata, ParquetRecordBatchReaderBuilder, RowFilter,
};
use parquet::file::metadata::RowGroupMetaData;
use parquet::file::statistics::Statistics;
use rayon::prelude::*;

mod mask;
mod runs;
pub use mask::tag_key_changes;
use mask::{hint_mask, in_range, series_mask};
use runs::merge_runs;

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
/// ones null, rows outside `[req.min_time, req.max_time]` dropped, and rows of series the
/// `req.tag_equals` hint excludes, and of series `req.series_filter` rejects (unless the source
/// applied it already: `series_filtered`).
fn conform(
    batch: &RecordBatch,
    out: &SchemaRef,
    req: &ScanRequest<'_>,
    series_filtered: bool,
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
    let mask = in_range(&time, min, max)?;
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
    let mask = match hint_mask(&conformed, req.tag_equals)? {
        Some(tags) => and(&mask, &tags)?,
        None => mask,
    };
    let mask = match req.series_filter.filter(|_| !series_filtered) {
        Some(pred) => and(&mask, &series_mask(&conformed, pred))?,
        None => mask,
    };
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
    let descr = pq.file_metadata().schema_descr_ptr();
    let mask = ProjectionMask::roots(&descr, wanted);
    let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, meta)
        .with_projection(mask)
        .with_row_groups(groups)
        // Whole row groups per batch: fewer, larger batches to conform and merge.
        .with_batch_size(64 * 1024);
    if !req.tag_equals.is_empty() {
        // The hint and the time range, decided on the time and hinted tag columns first: the
        // other columns are decoded only for the rows that pass (a row group holds several
        // series; `conform` then has nothing left to drop).
        let mut cols: Vec<usize> = time_idx.into_iter().collect();
        cols.extend(
            tags.iter()
                .filter(|(_, k)| req.tag_equals.iter().any(|(h, _)| h == k))
                .map(|(i, _)| *i),
        );
        let hint = req.tag_equals.to_vec();
        let (min, max) = (req.min_time, req.max_time);
        let predicate = ArrowPredicateFn::new(ProjectionMask::roots(&descr, cols), move |b| {
            let time_mask = match b
                .schema()
                .fields()
                .iter()
                .position(|f| role_of(f).0 == Some(ROLE_TIME))
            {
                Some(ti) => Some(in_range(b.column(ti), min, max)?),
                None => None,
            };
            let tags = hint_mask(&b, &hint)
                .map_err(|e| arrow::error::ArrowError::ExternalError(Box::new(e)))?;
            Ok(match (time_mask, tags) {
                (Some(t), Some(h)) => and(&t, &h)?,
                (Some(m), None) | (None, Some(m)) => m,
                (None, None) => BooleanArray::from(vec![true; b.num_rows()]),
            })
        });
        builder = builder.with_row_filter(RowFilter::new(vec![Box::new(predicate)]));
    }
    let reader = builder.build()?;
    let mut batches = Vec::new();
    for b in reader {
        let b = b?;
        stats.rows_read += b.num_rows();
        let c = conform(&b, out, req, false)?;
        if c.num_rows() > 0 {
            batches.push(c);
        }
    }
    Ok(batches)
}

/// [`read_file`] for each of `files`, in order. Files are decoded in parallel on rayon's pool
/// (decoding is most of a large scan); a failure is the first file's in order. Each file's
/// rows are charged against the bound only after all are read, so a scan may briefly hold one
/// file more per core than `max_bytes`.
fn read_files(
    files: &[&Arc<FileMeta>],
    req: &ScanRequest<'_>,
    out: &SchemaRef,
    stats: &mut ScanStats,
) -> Result<Vec<Vec<RecordBatch>>, StoreError> {
    let results: Vec<(Result<Vec<RecordBatch>, StoreError>, ScanStats)> = files
        .par_iter()
        .map(|f| {
            let mut st = ScanStats::default();
            (read_file(f, req, out, &mut st), st)
        })
        .collect();
    let mut all = Vec::with_capacity(results.len());
    for (r, st) in results {
        stats.files += st.files;
        stats.row_groups_read += st.row_groups_read;
        stats.row_groups_skipped += st.row_groups_skipped;
        stats.rows_read += st.rows_read;
        all.push(r?);
    }
    Ok(all)
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
        let c = conform(b, out, req, *series_filtered)?;
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

/// Merges the sources' rows by series, time, source order and keeps one row per (series,
/// time): per field, the value of the last row that has one.
///
/// Each source is sorted by series (tag values in column order, a null first) then time, with
/// one row per (series, time). Series are ranked once (by their tag values, compared only
/// where a run of rows changes series); then the merge works on runs (one series in one
/// source): a series found in one source, or in sources whose times do not overlap, is copied
/// run by run; only overlapping runs are merged row by row (by time, then source order).
fn merge(out: &SchemaRef, sources: &[Vec<RecordBatch>]) -> Result<RecordBatch, StoreError> {
    let mut ranges: Vec<std::ops::Range<usize>> = Vec::with_capacity(sources.len());
    let mut all = Vec::new();
    let mut at = 0;
    for batches in sources {
        let n: usize = batches.iter().map(RecordBatch::num_rows).sum();
        ranges.push(at..at + n);
        at += n;
        all.extend(batches.iter().cloned());
    }
    let batch = concat_batches(out, &all)?;
    let fields: Vec<(usize, &Field)> = out
        .fields()
        .iter()
        .map(|f| f.as_ref())
        .enumerate()
        .collect();
    let tag_cols: Vec<&DictionaryArray<Int32Type>> = fields
        .iter()
        .filter(|(_, f)| role_of(f).0 == Some(ROLE_TAG))
        .filter_map(|(i, _)| batch.column(*i).as_dictionary_opt::<Int32Type>())
        .collect();
    let time_col = fields
        .iter()
        .find(|(_, f)| role_of(f).0 == Some(ROLE_TIME))
        .and_then(|(i, _)| {
            batch
                .column(*i)
                .as_primitive_opt::<arrow::datatypes::TimestampNanosecondType>()
        })
        .ok_or(StoreError::NoTimeColumn)?;
    let times = time_col.values();
    let rank = series_ranks(&tag_cols, batch.num_rows());

    // Runs (rank, source, rows), by rank then source.
    let mut runs: Vec<(u32, usize, std::ops::Range<usize>)> = Vec::new();
    for (src, r) in ranges.iter().enumerate() {
        let mut start = r.start;
        for row in r.clone() {
            if row + 1 == r.end || rank[row + 1] != rank[row] {
                runs.push((rank[row], src, start..row + 1));
                start = row + 1;
            }
        }
    }
    runs.sort_unstable_by_key(|(rank, src, _)| (*rank, *src));
    // `first[j]`: the row giving output row j its tags and time; `dups`: output rows made of
    // several rows (in source order), whose fields take the last non-null.
    let mut first: Vec<u32> = Vec::with_capacity(batch.num_rows());
    let mut dups: Vec<(usize, Vec<u32>)> = Vec::new();
    let mut g = 0;
    while g < runs.len() {
        let mut h = g + 1;
        while h < runs.len() && runs[h].0 == runs[g].0 {
            h += 1;
        }
        let mut group: Vec<&std::ops::Range<usize>> =
            runs[g..h].iter().map(|(_, _, r)| r).collect();
        // Sources ordered by their first time; disjoint in time, they concatenate.
        group.sort_by_key(|r| times[r.start]);
        let disjoint = group
            .windows(2)
            .all(|w| times[w[0].end - 1] < times[w[1].start]);
        if disjoint {
            for r in group {
                first.extend(r.clone().map(|row| row as u32));
            }
        } else {
            // Row by row: a merge of the runs (each sorted by time) by time, then source
            // order (runs[g..h] are in source order).
            let heads: Vec<std::ops::Range<usize>> =
                runs[g..h].iter().map(|(_, _, r)| r.clone()).collect();
            let rows = merge_runs(times, heads);
            let mut k = 0;
            while k < rows.len() {
                let mut e = k + 1;
                while e < rows.len() && rows[e].0 == rows[k].0 {
                    e += 1;
                }
                if e - k > 1 {
                    dups.push((first.len(), rows[k..e].iter().map(|r| r.1).collect()));
                }
                first.push(rows[k].1);
                k = e;
            }
        }
        g = h;
    }
    let first_idx = UInt32Array::from(first);
    let mut cols = Vec::with_capacity(fields.len());
    for (i, f) in &fields {
        let col = batch.column(*i);
        let taken = if role_of(f).0 == Some(ROLE_FIELD) && !dups.is_empty() {
            let mut idx: Vec<Option<u32>> = first_idx.values().iter().map(|&r| Some(r)).collect();
            for (j, rows) in &dups {
                idx[*j] = rows
                    .iter()
                    .rev()
                    .find(|&&r| col.is_valid(r as usize))
                    .copied();
            }
            take(col.as_ref(), &UInt32Array::from(idx), None)?
        } else {
            take(col.as_ref(), &first_idx, None)?
        };
        cols.push(taken);
    }
    Ok(RecordBatch::try_new(out.clone(), cols)?)
}

/// The rank of each row's series among the series of `tags` (tag values in column order, a
/// null first, byte order): equal for rows of one series, ordered like the store's sort.
fn series_ranks(tags: &[&DictionaryArray<Int32Type>], rows: usize) -> Vec<u32> {
    let values: Vec<Option<&StringArray>> = tags
        .iter()
        .map(|d| d.values().as_string_opt::<i32>())
        .collect();
    let tuple = |row: usize| -> Vec<Option<&str>> {
        tags.iter()
            .zip(&values)
            .map(|(d, v)| {
                let keys = d.keys();
                if keys.is_null(row) {
                    return None;
                }
                v.map(|v| v.value(keys.value(row) as usize))
            })
            .collect()
    };
    let changed = tag_key_changes(tags, rows);
    let mut ids: std::collections::HashMap<Vec<Option<&str>>, u32> =
        std::collections::HashMap::new();
    let mut id_of_row: Vec<u32> = Vec::with_capacity(rows);
    for row in 0..rows {
        if !changed[row] {
            let prev = id_of_row[row - 1];
            id_of_row.push(prev);
            continue;
        }
        let next = ids.len() as u32;
        id_of_row.push(*ids.entry(tuple(row)).or_insert(next));
    }
    let mut by_tuple: Vec<(Vec<Option<&str>>, u32)> = ids.into_iter().collect();
    by_tuple.sort_unstable();
    let mut rank_of_id = vec![0u32; by_tuple.len()];
    for (rank, (_, id)) in by_tuple.iter().enumerate() {
        rank_of_id[*id as usize] = rank as u32;
    }
    id_of_row
        .iter()
        .map(|&id| rank_of_id[id as usize])
        .collect()
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
