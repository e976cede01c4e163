//! Store maintenance and inspection over the on-disk layout: retention, compaction, `store inspect`.
//!
//! Owns: dropping expired partitions (`retention`), merging the files of closed partitions
//! (`compact`), removing what crashes left at start-up (`sweep`), the read-only report behind
//! `sluice store inspect` (`inspect`), and walking the
//! directory tree `<root>/<tenant>/<bucket>/<measurement>/<YYYY-MM-DD>/` they share (`walk`).
//! Every function here is a standalone, blocking function of the store root and an injected
//! `now` (ns since the epoch): no state, no catalog, no clock. Does not own: the WAL consumer,
//! buffers, flushes, the catalog, query-time reads, or when these run (`store::maintenance`
//! calls them from the runtime's background thread), nor the layout and file-name rules they
//! follow (`layout`, `files`).
//!
//! # Retention
//!
//! Granularity is the partition: a whole UTC day of one measurement. A bucket's retention `r`
//! (per bucket, else per tenant, else the default; `None` keeps forever) drops day `D` once
//! every row it could hold is older than `now - r`, i.e. when `start(D + 1) <= now - r`. Rows
//! older than `now - r` in a partition that also covers newer instants stay until the whole day
//! has expired (so up to one day longer than `r`), as InfluxDB keeps whole shard groups.
//!
//! Removal is atomic for readers: the day directory is renamed to `.drop-<YYYY-MM-DD>` in the
//! same measurement directory (one `rename`, then an fsync of that directory), then its files
//! are unlinked, the directory removed and the parent fsynced again. A name starting with `.`
//! is never a partition (see `layout`: encoded names never start with `.`), so after the rename
//! readers no longer see the partition; a crash after it leaves a `.drop-*` directory that the
//! next retention pass removes. Before the rename the partition is whole. No file is ever
//! rewritten, so no crash leaves a torn file. A measurement directory left empty by a pass is
//! removed too. Writers should drop rows that are already past retention before flushing: a
//! flush racing with the removal of its partition may fail (and must be retried) or lose rows
//! that had expired anyway.
//!
//! # Compaction
//!
//! Trigger: a partition is closed when its day ended at least `grace` ago
//! (`start(D + 1) + grace <= now`); today's partition, and any day not yet closed, is never
//! touched. A closed partition is compacted when it has at least two live files and either at
//! least `min_files` live files or at least `min_small_files` live files smaller than
//! `small_file_bytes` on disk.
//!
//! Budget: the merge holds the inputs' rows in memory, so inputs are bounded by `max_input_bytes`,
//! counted as the uncompressed column bytes the Parquet footers record (a proxy for the Arrow
//! memory of the rows; the merge peaks at a small multiple of it: the merge buffer keeps an
//! `Option` slot per field per row, about twice the Arrow bytes, then the output batch). A partition over the budget is split, not refused: its live files, in `last` order,
//! are cut into runs of consecutive files whose sum fits, and each run of at least two files
//! becomes one output file. A single file over the budget is left alone. Runs of consecutive
//! files keep last-write-wins: no file outside a run has a `last` between the run's first and
//! last file, and a run whose output range would supersede a file outside it is not merged.
//!
//! Merge: the inputs are read in `last` order and every row is pushed, in that order, into one
//! `MeasurementBuffer`, which unions the schemas (tags and fields appearing over time; a field
//! keeps its type, a file disagreeing on it fails the compaction with `FieldTypeConflict`),
//! sorts by series then time and merges duplicates last-write-wins field by field: exactly the
//! rule a flush applies. The output is written with `write_parquet` (same writer options as a
//! flush: statistics, page index, bounded row groups) as `<min first>-<max last>.parquet`.
//!
//! Crash safety: (1) until the output's rename, only `<output>.tmp` exists beside the inputs;
//! readers ignore `.tmp` files and the next attempt overwrites it. (2) After the rename the
//! output supersedes every input (`files::FileName::superseded_by`), so readers that apply
//! `live_files` see the output only, which holds exactly the merged rows of the inputs.
//! (3) The inputs are then unlinked one by one, and the directory fsynced; any subset of them
//! left by a crash is still superseded, and the next compaction of the partition (or the
//! runtime's start-up) deletes them. Compaction never touches `.tmp` files (a flush may be
//! writing one) and never deletes a file it did not read or that is not superseded.
//!
//! Concurrency: safe beside flushes, which only add files with new WAL ranges (never
//! superseded by an output made of older files). Not safe to run two maintenance passes over
//! the same root at once (the runtime runs one background task). A reader that listed a
//! partition before a compaction and opens an input after its deletion gets `NotFound` and
//! must list again (or, as the runtime does, hold a lock that maintenance takes to delete).

pub mod compact;
pub mod inspect;
pub mod retention;
mod rows;
pub mod sweep;
pub mod walk;

#[cfg(test)]
mod tests_compact;
#[cfg(test)]
mod tests_inspect;
#[cfg(test)]
mod tests_retention;
#[cfg(test)]
mod tests_soak;
#[cfg(test)]
mod tests_task;
#[cfg(test)]
mod testutil;

pub use compact::{
    CompactOptions, CompactOutcome, compact_partition, merged_partition, partitions_to_compact,
};
pub use inspect::{StoreReport, inspect};
pub use retention::{RemovedPartition, RetentionOutcome, RetentionPolicy, enforce_retention};
pub use sweep::{SweepOutcome, startup_sweep};
pub use walk::{DirListing, Partition, list_partition, walk};

use crate::store::FileName;

/// The points of a crash-sensitive sequence where a hook runs: tests stop the operation there
/// (a simulated crash); the runtime puts a compaction's output into its catalog at
/// `AfterRename`, before the inputs go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Compaction: inputs read and merged, output not yet written.
    BeforeWrite,
    /// Compaction: this output renamed into place, no input deleted yet.
    AfterRename(FileName),
    /// Compaction: the `n`-th input (0-based) deleted. Retention: the `n`-th file deleted.
    AfterDelete(usize),
    /// Retention: the day directory renamed to `.drop-<day>`, nothing deleted yet.
    AfterDropRename,
}
