//! A scan's reads of Parquet files: which files and row groups may hold wanted rows (by the
//! catalog and the row groups' statistics), and decoding them in parallel.

use std::fs::File;
use std::sync::Arc;

use arrow::array::{BooleanArray, RecordBatch};
use arrow::compute::and;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowPredicateFn, ArrowReaderMetadata, ParquetRecordBatchReaderBuilder, RowFilter,
};
use parquet::file::metadata::RowGroupMetaData;
use parquet::file::statistics::Statistics;
use rayon::prelude::*;

use super::mask::{hint_mask, in_range};
use super::{Applied, ScanStats, conform, role_of};
use crate::store::StoreError;
use crate::store::batch::{ROLE_FIELD, ROLE_TAG, ROLE_TIME};
use crate::store::catalog::{FileMeta, roles};
use crate::store::read::ScanRequest;

/// Whether a row group may hold rows the request wants.
fn row_group_wanted(
    rg: &RowGroupMetaData,
    time_idx: Option<usize>,
    tag_idx: &[(usize, String)],
    req: &ScanRequest<'_>,
) -> bool {
    if let Some((lo, hi)) = time_bounds(rg, time_idx)
        && (hi < req.min_time || lo > req.max_time)
    {
        return false;
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

/// The (min, max) time of a row group's rows, by its statistics.
fn time_bounds(rg: &RowGroupMetaData, time_idx: Option<usize>) -> Option<(i64, i64)> {
    match rg.column(time_idx?).statistics() {
        Some(Statistics::Int64(s)) => Some((*s.min_opt()?, *s.max_opt()?)),
        _ => None,
    }
}

/// Whether every row of a row group is inside the request's time range, by its statistics.
fn within(rg: &RowGroupMetaData, time_idx: Option<usize>, req: &ScanRequest<'_>) -> bool {
    match time_bounds(rg, time_idx) {
        Some((lo, hi)) => lo >= req.min_time && hi <= req.max_time,
        None => time_idx.is_none(),
    }
}

/// Whether a whole file may hold rows for the request, by its catalog entry.
pub(super) fn file_wanted(f: &FileMeta, req: &ScanRequest<'_>) -> bool {
    f.max_time >= req.min_time && f.min_time <= req.max_time
}

/// One file's part of a scan: its metadata (read once), the row groups that may hold wanted
/// rows, and the columns to decode.
struct FilePlan {
    meta: ArrowReaderMetadata,
    groups: Vec<usize>,
    columns: Vec<usize>,
    /// The file's tag columns (index, key) and its time column.
    tags: Vec<(usize, String)>,
    time_idx: Option<usize>,
}

/// Reads `f`'s footer and picks its row groups (by their statistics) and columns for `req`;
/// `None` when no row group is wanted.
fn plan_file(
    f: &FileMeta,
    req: &ScanRequest<'_>,
    out: &SchemaRef,
    stats: &mut ScanStats,
) -> Result<Option<FilePlan>, StoreError> {
    let file = open(f)?;
    let meta = ArrowReaderMetadata::load(&file, Default::default())?;
    let schema = meta.schema().clone();
    let (tags, _, time_idx) = roles(&schema);
    let mut groups = Vec::new();
    for (i, rg) in meta.metadata().row_groups().iter().enumerate() {
        if row_group_wanted(rg, time_idx, &tags, req) {
            groups.push(i);
        } else {
            stats.row_groups_skipped += 1;
        }
    }
    stats.files += 1;
    stats.row_groups_read += groups.len();
    if groups.is_empty() {
        return Ok(None);
    }
    let columns: Vec<usize> = schema
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
    Ok(Some(FilePlan {
        meta,
        groups,
        columns,
        tags,
        time_idx,
    }))
}

fn open(f: &FileMeta) -> Result<File, StoreError> {
    File::open(&f.path).map_err(|source| StoreError::Io {
        op: "open",
        path: f.path.display().to_string(),
        source,
    })
}

/// Reads row group `group` of `f` (planned in `plan`), conformed to `out`; with the number of
/// rows decoded.
fn read_row_group(
    f: &FileMeta,
    plan: &FilePlan,
    group: usize,
    req: &ScanRequest<'_>,
    out: &SchemaRef,
) -> Result<(Vec<RecordBatch>, usize), StoreError> {
    let (tags, time_idx) = (&plan.tags, plan.time_idx);
    let descr = plan.meta.metadata().file_metadata().schema_descr_ptr();
    let mask = ProjectionMask::roots(&descr, plan.columns.iter().copied());
    let mut builder =
        ParquetRecordBatchReaderBuilder::new_with_metadata(open(f)?, plan.meta.clone())
            .with_projection(mask)
            .with_row_groups(vec![group])
            // A whole row group per batch: fewer, larger batches to conform and merge.
            .with_batch_size(64 * 1024);
    let rg = plan.meta.metadata().row_group(group);
    let filtered = !req.tag_equals.is_empty() || !within(rg, time_idx, req);
    if filtered {
        // The hint and the time range, decided on the time and hinted tag columns first: the
        // other columns are decoded only for the rows that pass (a row group holds several
        // series, each over the whole file's time span; `conform` then has nothing left to
        // drop).
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
    let mut batches = Vec::new();
    let mut rows = 0;
    for b in builder.build()? {
        let b = b?;
        rows += b.num_rows();
        let applied = Applied {
            range_and_hint: filtered,
            series: false,
        };
        let c = conform(&b, out, req, applied)?;
        if c.num_rows() > 0 {
            batches.push(c);
        }
    }
    Ok((batches, rows))
}

/// The wanted rows of each of `files`, in order. Footers are read, then row groups decoded,
/// in parallel on rayon's pool (decoding is most of a large scan, and most of a day is one
/// file); a failure is the first file's in order. Each file's rows are charged against the
/// bound only after all are read, so a scan may briefly hold one row group more per core than
/// `max_bytes`.
pub(super) fn read_files(
    files: &[&Arc<FileMeta>],
    req: &ScanRequest<'_>,
    out: &SchemaRef,
    stats: &mut ScanStats,
) -> Result<Vec<Vec<RecordBatch>>, StoreError> {
    let plans: Vec<(Result<Option<FilePlan>, StoreError>, ScanStats)> = files
        .par_iter()
        .map(|f| {
            let mut st = ScanStats::default();
            (plan_file(f, req, out, &mut st), st)
        })
        .collect();
    let mut planned: Vec<Result<Option<FilePlan>, StoreError>> = Vec::with_capacity(plans.len());
    for (p, st) in plans {
        stats.files += st.files;
        stats.row_groups_read += st.row_groups_read;
        stats.row_groups_skipped += st.row_groups_skipped;
        planned.push(p);
    }
    let tasks: Vec<(usize, usize)> = planned
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.as_ref().ok().and_then(Option::as_ref).map(|p| (i, p)))
        .flat_map(|(i, p)| p.groups.iter().map(move |&g| (i, g)))
        .collect();
    let read: Vec<Result<(Vec<RecordBatch>, usize), StoreError>> = tasks
        .par_iter()
        .map(|&(i, g)| match &planned[i] {
            Ok(Some(plan)) => read_row_group(files[i], plan, g, req, out),
            _ => Ok((Vec::new(), 0)),
        })
        .collect();
    let mut read = tasks.iter().map(|(i, _)| *i).zip(read).peekable();
    let mut all = Vec::with_capacity(files.len());
    for (i, p) in planned.into_iter().enumerate() {
        p?;
        let mut batches = Vec::new();
        while let Some((_, r)) = read.next_if(|(j, _)| *j == i) {
            let (b, rows) = r?;
            stats.rows_read += rows;
            batches.extend(b);
        }
        all.push(batches);
    }
    Ok(all)
}
