//! Compaction: merging the live files of a closed partition into fewer, larger files.
//!
//! Owns: `CompactOptions` (trigger, grace, byte budget), the planner (`partitions_to_compact`,
//! and the runs of files one partition is cut into), `compact_partition`, and
//! `merged_partition`, which reads a partition's live files as one last-write-wins batch.
//! The rules and the crash argument are in the `maintain` module docs. Does not own the
//! schedule (the runtime's background task) nor the merge rule itself (`MeasurementBuffer`).

use std::fs::File;
use std::path::Path;
use std::time::Duration;

use arrow::array::RecordBatch;
use parquet::file::reader::{FileReader, SerializedFileReader};

use super::Step;
use super::rows::push_batch;
use super::walk::{DirListing, io_err, list_partition, remove_file, sync_dir, walk};
use crate::store::{
    Day, FileName, MeasurementBuffer, PartitionKey, StoreError, WriteOptions, live_files,
    read_parquet, write_parquet,
};

/// When and how much to compact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactOptions {
    /// A day's partition is closed once the day ended this long ago.
    pub grace: Duration,
    /// Compact a closed partition holding at least this many live files...
    pub min_files: usize,
    /// ...or at least this many live files smaller than `small_file_bytes` on disk.
    pub min_small_files: usize,
    pub small_file_bytes: u64,
    /// Most uncompressed input bytes (from the Parquet footers) merged into one output.
    pub max_input_bytes: u64,
    /// Writer settings of the output (the same as a flush's).
    pub write: WriteOptions,
}

impl Default for CompactOptions {
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(3600),
            min_files: 4,
            min_small_files: 2,
            small_file_bytes: 16 << 20,
            max_input_bytes: 256 << 20,
            write: WriteOptions::default(),
        }
    }
}

/// One output file and the inputs it replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedRun {
    pub output: FileName,
    pub inputs: Vec<FileName>,
    /// Rows read from the inputs, and rows written (fewer when points were written twice).
    pub rows_in: usize,
    pub rows_out: usize,
    /// Bytes on disk before and after.
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// What `compact_partition` did to one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactOutcome {
    pub key: PartitionKey,
    pub runs: Vec<MergedRun>,
    /// Superseded files (left by an interrupted compaction) deleted first.
    pub removed_superseded: Vec<FileName>,
    /// Live files bigger than the budget on their own, left as they are.
    pub over_budget: Vec<FileName>,
}

/// True when partition `day` may be compacted at `now_ns` (its day ended `grace` ago).
pub fn is_closed(day: Day, now_ns: i64, grace: Duration) -> bool {
    let grace = i64::try_from(grace.as_nanos()).unwrap_or(i64::MAX);
    Day(day.0.saturating_add(1))
        .start_nanos()
        .saturating_add(grace)
        <= now_ns
}

/// True when the live files of a closed partition call for a compaction.
fn triggered(listing: &DirListing, live: &[FileName], opts: &CompactOptions) -> bool {
    let small = live
        .iter()
        .filter(|n| listing.size_of(n) < opts.small_file_bytes)
        .count();
    live.len() >= 2 && (live.len() >= opts.min_files || small >= opts.min_small_files)
}

/// The closed partitions under `root` whose files call for a compaction (cheap: listings and
/// sizes only; the budget is applied by `compact_partition`).
pub fn partitions_to_compact(
    root: &Path,
    now_ns: i64,
    opts: &CompactOptions,
) -> Result<Vec<PartitionKey>, StoreError> {
    let mut out = Vec::new();
    for p in walk(root)?.partitions {
        if !is_closed(p.key.day, now_ns, opts.grace) {
            continue;
        }
        let listing = list_partition(&p.dir)?;
        if triggered(&listing, &live_files(listing.names()), opts) {
            out.push(p.key);
        }
    }
    Ok(out)
}

/// Rows and uncompressed column bytes of a Parquet file, from its footer.
pub(crate) fn footer_stats(path: &Path) -> Result<(usize, u64), StoreError> {
    let file = File::open(path).map_err(io_err("open", path))?;
    let reader = SerializedFileReader::new(file)?;
    let meta = reader.metadata();
    let rows = meta.file_metadata().num_rows();
    let bytes: i64 = meta
        .row_groups()
        .iter()
        .map(|rg| rg.total_byte_size())
        .sum();
    Ok((
        usize::try_from(rows).unwrap_or(0),
        u64::try_from(bytes).unwrap_or(0),
    ))
}

/// Cuts `live` (in `last` order, with uncompressed sizes) into runs of at least two consecutive
/// files whose sizes sum to at most `budget`; returns the runs and the files over the budget.
pub(crate) fn plan_runs(
    live: &[(FileName, u64)],
    all: &[FileName],
    budget: u64,
) -> (Vec<Vec<FileName>>, Vec<FileName>) {
    let mut runs: Vec<Vec<FileName>> = Vec::new();
    let mut over = Vec::new();
    let mut cur: Vec<FileName> = Vec::new();
    let mut sum = 0u64;
    for &(name, size) in live {
        if size > budget {
            over.push(name);
            runs.push(std::mem::take(&mut cur));
            sum = 0;
            continue;
        }
        if sum.saturating_add(size) > budget {
            runs.push(std::mem::take(&mut cur));
            sum = 0;
        }
        cur.push(name);
        sum += size;
    }
    runs.push(cur);
    runs.retain(|run| {
        if run.len() < 2 {
            return false;
        }
        // The output must not hide (supersede) or replace a file that is not one of its inputs.
        let out = output_name(run);
        !all.iter()
            .any(|f| !run.contains(f) && (f.superseded_by(&out) || *f == out))
    });
    (runs, over)
}

fn output_name(run: &[FileName]) -> FileName {
    FileName {
        first: run.iter().map(|f| f.first).min().unwrap_or_default(),
        last: run.iter().map(|f| f.last).max().unwrap_or_default(),
    }
}

/// Merges the live files of partition `key` when it is closed at `now_ns` and its files call
/// for it (see the `maintain` docs). `Ok(None)`: nothing to do.
pub fn compact_partition(
    root: &Path,
    key: &PartitionKey,
    now_ns: i64,
    opts: &CompactOptions,
) -> Result<Option<CompactOutcome>, StoreError> {
    compact_partition_with(root, key, now_ns, opts, &mut |_| Ok(()))
}

pub(crate) fn compact_partition_with(
    root: &Path,
    key: &PartitionKey,
    now_ns: i64,
    opts: &CompactOptions,
    hook: &mut dyn FnMut(Step) -> Result<(), StoreError>,
) -> Result<Option<CompactOutcome>, StoreError> {
    if !is_closed(key.day, now_ns, opts.grace) {
        return Ok(None);
    }
    let dir = key.dir(root)?;
    let listing = list_partition(&dir)?;
    let all = listing.names();
    let live = live_files(all.clone());
    let mut outcome = CompactOutcome {
        key: key.clone(),
        runs: Vec::new(),
        removed_superseded: Vec::new(),
        over_budget: Vec::new(),
    };
    for name in all.iter().filter(|n| !live.contains(n)) {
        remove_file(&dir.join(name.to_string()))?;
        outcome.removed_superseded.push(*name);
    }
    if !outcome.removed_superseded.is_empty() {
        sync_dir(&dir)?;
    }
    if !triggered(&listing, &live, opts) {
        return Ok((!outcome.removed_superseded.is_empty()).then_some(outcome));
    }
    let sized = live
        .iter()
        .map(|n| Ok((*n, footer_stats(&dir.join(n.to_string()))?.1)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    let (runs, over) = plan_runs(&sized, &live, opts.max_input_bytes);
    outcome.over_budget = over;
    for run in runs {
        let merged = merge_run(&dir, key, &listing, &run, opts, hook)?;
        outcome.runs.push(merged);
    }
    Ok(Some(outcome))
}

/// Merges one run into its output file, then deletes the inputs.
fn merge_run(
    dir: &Path,
    key: &PartitionKey,
    listing: &DirListing,
    run: &[FileName],
    opts: &CompactOptions,
    hook: &mut dyn FnMut(Step) -> Result<(), StoreError>,
) -> Result<MergedRun, StoreError> {
    let (batch, rows_in) = merge_files(dir, &key.measurement, run)?;
    hook(Step::BeforeWrite)?;
    let output = output_name(run);
    let out_path = dir.join(output.to_string());
    write_parquet(&out_path, &batch, &opts.write)?;
    hook(Step::AfterRename(output))?;
    for (i, name) in run.iter().enumerate() {
        remove_file(&dir.join(name.to_string()))?;
        hook(Step::AfterDelete(i))?;
    }
    sync_dir(dir)?;
    let bytes_out = std::fs::metadata(&out_path)
        .map_err(io_err("stat", &out_path))?
        .len();
    Ok(MergedRun {
        output,
        inputs: run.to_vec(),
        rows_in,
        rows_out: batch.num_rows(),
        bytes_in: run.iter().map(|n| listing.size_of(n)).sum(),
        bytes_out,
    })
}

/// Reads `files` (in the order given, oldest writes first) into one sorted, last-write-wins
/// batch; returns it and the number of rows read.
fn merge_files(
    dir: &Path,
    measurement: &str,
    files: &[FileName],
) -> Result<(RecordBatch, usize), StoreError> {
    let mut buf = MeasurementBuffer::new(measurement);
    let mut rows = 0;
    for name in files {
        let path = dir.join(name.to_string());
        for batch in read_parquet(&path)? {
            rows += batch.num_rows();
            push_batch(&mut buf, &batch, &path)?;
        }
    }
    Ok((buf.to_record_batch()?, rows))
}

/// The rows of partition `key` as readers see them: its live files merged in `last` order,
/// sorted by series then time, last write wins. `None` when the partition has no files.
/// Holds the whole partition in memory: for tests, tools and small partitions.
pub fn merged_partition(
    root: &Path,
    key: &PartitionKey,
) -> Result<Option<RecordBatch>, StoreError> {
    let dir = key.dir(root)?;
    let live = live_files(list_partition(&dir)?.names());
    if live.is_empty() {
        return Ok(None);
    }
    Ok(Some(merge_files(&dir, &key.measurement, &live)?.0))
}
