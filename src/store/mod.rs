//! The embedded store: WAL records → Arrow buffers → Parquet partitions, read by queries.
//!
//! Owns: turning parsed line-protocol points of one (tenant, bucket, measurement) into a sorted,
//! deduplicated Arrow `RecordBatch` (`batch`), writing such a batch durably to a Parquet file and
//! reading it back (`parquet_file`), where partitions and files live on disk, including the
//! split of a batch into UTC-day partitions (`layout`) and file names by WAL range (`files`).
//! At run time (`runtime::Store`): the WAL consumer with its own cursor and the flush policy
//! (`consumer`), the catalog of files, schemas and series (`catalog`), the bucket field types
//! ingest checks writes against (`types`), query-time reads (`scan`, behind the `read`
//! contract), read-your-writes (`Store::wait_applied`) and the background maintenance task
//! (`maintenance`) over retention, compaction and `store inspect`, which work on the files
//! alone (`maintain`).
//! Does not own: parsing (see `lineproto`), the ingest verdicts (see `ingest`), what queries
//! compute (`query`).
//!
//! An open store holds the lock on its root (`dirlock`, the file `.lock`): a second open, in
//! this process or another, waits up to 2 s and then fails with `StoreError::Locked`. Opening
//! sweeps away what a crashed writer left half-made, which would be another live process's
//! files if two shared a root (the WAL's own lock does not cover a store root configured apart
//! from it). `store inspect` only reads, and takes no lock.
//!
//! # Arrow schema of a measurement batch
//!
//! One column per tag key, one per field key, and `time`, in that order:
//!
//! - tags, sorted by key (byte order): `Dictionary(Int32, Utf8)`, nullable (a row whose series
//!   lacks the tag is null). Metadata `sluice.role = "tag"`, `sluice.key = <tag key>`.
//! - fields, sorted by key: `Float64` | `Int64` | `UInt64` | `Boolean` | `Utf8` (InfluxDB's float,
//!   integer, unsigned, boolean, string), nullable. Metadata `sluice.role = "field"`,
//!   `sluice.key = <field key>`.
//! - `time`: `Timestamp(Nanosecond, None)`, not null, ns since the Unix epoch (UTC). Metadata
//!   `sluice.role = "time"`.
//!
//! Column names are for humans and tools; readers must go by the `sluice.role`/`sluice.key`
//! metadata. Names are the keys, except on a clash: InfluxDB allows a tag and a field with the
//! same key in one measurement and InfluxQL then shows the second column as `key_1` (its result
//! columns are deduplicated with `_1`, `_2`, ... suffixes). We do the same in the Arrow schema: the
//! field keeps its key as name, and the tag becomes `key_1` (or the first of `key_2`, `key_3`, ...
//! that is free). A tag or field keyed `time` is refused (`ReservedKey`): the ingest layer drops or
//! refuses them before they reach the store, as InfluxDB does.
//!
//! Rows are sorted by series, then time: the series order is the lexicographic order of the tag
//! columns in schema order (a null sorts before any value), which, the measurement being the same
//! for the whole batch, is "tag values, then measurement". Two points with the same series and
//! time are merged into one row, last write wins field by field: a later non-null field value
//! overwrites, a null does not erase.

pub mod batch;
pub mod catalog;
pub mod consumer;
pub mod files;
pub mod layout;
pub mod maintain;
pub mod maintenance;
pub mod parquet_file;
pub mod read;
pub mod runtime;
pub mod scan;
mod series_cache;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_index;
#[cfg(test)]
mod tests_lock;
#[cfg(test)]
mod tests_model;
#[cfg(test)]
mod tests_runtime;
pub mod types;

pub use batch::{
    MeasurementBuffer, ROLE, ROLE_FIELD, ROLE_KEY, ROLE_TAG, ROLE_TIME, TIME_COLUMN, Value,
};
pub use consumer::StoreTask;
pub use files::{FileName, live_files};
pub use layout::{Day, PartitionKey, split_by_day};
pub use parquet_file::{WriteOptions, read_parquet, write_parquet};
pub use read::{
    MeasurementSchema, ReadStore, ScanRequest, SeriesIndex, SeriesKey, SeriesPredicate,
};
pub use runtime::{STORE_CONSUMER, Store, StoreOptions, StoreStats};
pub use scan::{ScanStats, tag_key_changes};
pub use types::FieldTypes;

use crate::error::{ErrorCode, HasErrorCode};
use crate::lineproto::FieldType;

/// Why the store refused a point or failed to write or read a file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "field type conflict: input field {field:?} on measurement {measurement:?} is type {input}, already exists as type {existing}"
    )]
    FieldTypeConflict {
        field: String,
        measurement: String,
        input: FieldType,
        existing: FieldType,
    },
    #[error("{what} key {key:?} is reserved")]
    ReservedKey { what: &'static str, key: String },
    #[error("{what} is not valid utf-8")]
    NotUtf8 { what: &'static str },
    #[error("timestamp {value} in precision {precision} is out of range")]
    TimeOutOfRange { value: i64, precision: &'static str },
    #[error("a path component must not be empty")]
    EmptyName,
    #[error("encoded path component {name:?} is {len} bytes, more than the {max} allowed")]
    NameTooLong {
        name: String,
        len: usize,
        max: usize,
    },
    #[error("path {path:?} is not a partition file under the store root: {why}")]
    BadPath { path: String, why: &'static str },
    #[error("batch has no nanosecond `time` column")]
    NoTimeColumn,
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("query needs more than {limit} bytes of data; narrow the time range or the series")]
    ScanTooLarge { limit: usize },
    #[error("the store has applied the WAL up to {applied}, not yet {seq}")]
    NotApplied { seq: u64, applied: u64 },
    #[error(
        "store directory {dir} is in use by another sluice process ({holder}): one store takes one process, or its start-up sweep could delete the other's files"
    )]
    Locked { dir: String, holder: String },
    #[error("{op} {path:?}: {source}")]
    Io {
        op: &'static str,
        path: String,
        source: std::io::Error,
    },
}

impl HasErrorCode for StoreError {
    fn error_code(&self) -> ErrorCode {
        match self {
            Self::FieldTypeConflict { .. } | Self::ReservedKey { .. } => {
                ErrorCode::UnprocessableEntity
            }
            Self::NotUtf8 { .. } | Self::TimeOutOfRange { .. } => ErrorCode::Invalid,
            Self::ScanTooLarge { .. } => ErrorCode::Invalid,
            Self::NotApplied { .. } => ErrorCode::Unavailable,
            Self::EmptyName
            | Self::NameTooLong { .. }
            | Self::BadPath { .. }
            | Self::NoTimeColumn
            | Self::Arrow(_)
            | Self::Parquet(_)
            | Self::Locked { .. }
            | Self::Io { .. } => ErrorCode::Internal,
        }
    }
}
