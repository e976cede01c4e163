//! One Arrow batch ⇄ one Parquet file, written durably.
//!
//! Owns: the Parquet writer settings (snappy, but 64-bit integer columns delta-encoded and not
//! compressed; column chunk and page statistics, hence the page index; bounded row groups; the
//! sort order recorded as `sorting_columns`) and the durable publish: write `<file>.tmp`, fsync
//! it, rename it to `<file>`, fsync the directory (and the parents of any directory it had to
//! create). A crash leaves either no file or the whole file (plus perhaps a stale `.tmp`, which
//! readers ignore and a later sweep may delete).
//! Does not own: file naming or the partition layout (see `layout`), which files exist (the
//! catalog, to come). IO is direct `std::fs` for now; fault injection (torn writes, ENOSPC)
//! needs the small file trait of `wal::io` and is left to the session that adds the consumer.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::DataType;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, Encoding};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use super::StoreError;
use super::batch::{ROLE, ROLE_TAG, ROLE_TIME};

/// Writer settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// Most rows per row group (the unit a query prunes by statistics and reads).
    pub max_row_group_rows: usize,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self {
            max_row_group_rows: 64 * 1024,
        }
    }
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.display().to_string();
    move |source| StoreError::Io { op, path, source }
}

/// Writes `batch` to `path` durably (see the module docs). Creates missing directories.
pub fn write_parquet(
    path: &Path,
    batch: &RecordBatch,
    opts: &WriteOptions,
) -> Result<(), StoreError> {
    let dir = path.parent().ok_or_else(|| StoreError::BadPath {
        path: path.display().to_string(),
        why: "no parent directory",
    })?;
    let created = create_dirs(dir)?;

    // Sorting columns: the tags in schema order, then time (see `store` docs).
    let schema = batch.schema();
    let sorting = schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            matches!(
                f.metadata().get(ROLE).map(String::as_str),
                Some(ROLE_TAG | ROLE_TIME)
            )
        })
        .map(|(i, _)| SortingColumn {
            column_idx: i as i32,
            descending: false,
            nulls_first: true,
        })
        .collect::<Vec<_>>();
    let mut props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(opts.max_row_group_rows.max(1)))
        .set_sorting_columns(Some(sorting));
    // 64-bit integer columns (time, integer and unsigned fields) as deltas, bit-packed, not
    // compressed: a series' times step evenly and its counters grow by small amounts, so this
    // is several times smaller than a dictionary or plain values under snappy, and decodes
    // faster (a query's Parquet time was mostly snappy and dictionary lookups).
    for f in schema.fields() {
        if matches!(
            f.data_type(),
            DataType::Int64 | DataType::UInt64 | DataType::Timestamp(_, _)
        ) {
            let col = ColumnPath::from(f.name().as_str());
            props = props
                .set_column_dictionary_enabled(col.clone(), false)
                .set_column_encoding(col.clone(), Encoding::DELTA_BINARY_PACKED)
                .set_column_compression(col, Compression::UNCOMPRESSED);
        }
    }
    let props = props.build();

    let tmp = tmp_path(path);
    let file = File::create(&tmp).map_err(io("create", &tmp))?;
    let mut writer = ArrowWriter::try_new(file, schema, Some(props))?;
    writer.write(batch)?;
    let file = writer.into_inner()?;
    file.sync_all().map_err(io("fsync", &tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io("rename", path))?;
    sync_dir(dir)?;
    for d in created {
        if let Some(parent) = d.parent() {
            sync_dir(parent)?;
        }
    }
    Ok(())
}

/// Reads a whole file back as batches (one per row group or smaller).
pub fn read_parquet(path: &Path) -> Result<Vec<RecordBatch>, StoreError> {
    let file = File::open(path).map_err(io("open", path))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)?.build()?;
    Ok(reader.collect::<Result<Vec<_>, _>>()?)
}

/// `<path>.tmp`: where a file is written before it is renamed into place.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// Creates `dir` and its missing ancestors; returns the directories created, deepest last.
fn create_dirs(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let mut missing = Vec::new();
    let mut d = dir;
    while !d.as_os_str().is_empty() && !d.exists() {
        missing.push(d.to_path_buf());
        match d.parent() {
            Some(p) => d = p,
            None => break,
        }
    }
    fs::create_dir_all(dir).map_err(io("create dir", dir))?;
    missing.reverse();
    Ok(missing)
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("fsync dir", dir))
}
