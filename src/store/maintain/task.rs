//! The store's maintenance thread: retention and compaction passes on a timer, with the
//! runtime's catalog kept in step so that scans never plan on a file about to disappear.
//!
//! Owns: `MaintainTask` (one OS thread; a pass every `interval`, at most
//! `max_compactions_per_pass` partitions compacted per pass, so IO per pass is bounded) and
//! `run_pass`. Order inside a pass: (1) expired partitions leave the catalog (scans stop seeing
//! them), (2) `enforce_retention` removes them from disk, (3) each compaction's output enters
//! the catalog right after its rename (it supersedes its inputs there, as on disk), then the
//! inputs are deleted. A scan that snapshotted the catalog before a change and opens a deleted
//! file gets `NotFound` and looks again (`Store::scan_with_stats`).
//! Does not own: the rules (`retention`, `compact`), the policy's source (config, reload).

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use super::compact::{compact_partition_with, partitions_to_compact};
use super::retention::{RetentionPolicy, enforce_retention};
use super::{CompactOptions, Step};
use crate::clock::Clock;
use crate::store::catalog::describe_file;
use crate::store::{Store, StoreError};

/// How often and how much.
#[derive(Debug, Clone)]
pub struct MaintainSettings {
    /// Time between the end of one pass and the start of the next.
    pub interval: Duration,
    pub compact: CompactOptions,
    /// Partitions compacted per pass at most (the rest wait for the next pass).
    pub max_compactions_per_pass: usize,
}

impl Default for MaintainSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(60),
            compact: CompactOptions::default(),
            max_compactions_per_pass: 8,
        }
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PassReport {
    pub partitions_dropped: usize,
    pub bytes_dropped: u64,
    pub partitions_compacted: usize,
    pub files_merged: usize,
    pub files_written: usize,
    /// Partitions whose removal or compaction failed (logged; tried again next pass).
    pub failures: usize,
}

/// The retention policy the task reads at every pass (a config reload replaces it).
pub type SharedPolicy = Arc<RwLock<RetentionPolicy>>;

/// One pass over the store at `now_ns` (blocking).
pub fn run_pass(
    store: &Store,
    policy: &RetentionPolicy,
    now_ns: i64,
    settings: &MaintainSettings,
) -> Result<PassReport, StoreError> {
    let root = store.options().dir.clone();
    let mut report = PassReport::default();
    {
        let mut cat = store.catalog_write();
        for ((tenant, bucket), measurements) in cat.buckets.iter_mut() {
            for entry in measurements.values_mut() {
                entry
                    .partitions
                    .retain(|day, _| !policy.expired(tenant, bucket, *day, now_ns));
            }
        }
    }
    let r = enforce_retention(&root, policy, now_ns)?;
    for rm in &r.removed {
        tracing::info!(
            tenant = %rm.key.tenant, bucket = %rm.key.bucket, measurement = %rm.key.measurement,
            day = %rm.key.day, files = rm.files, bytes = rm.bytes, "retention dropped a partition"
        );
    }
    for (key, e) in &r.failed {
        tracing::warn!(partition = ?key, error = %e, "retention could not drop a partition");
    }
    report.partitions_dropped = r.removed.len();
    report.bytes_dropped = r.bytes_removed();
    report.failures += r.failed.len();

    let plan = partitions_to_compact(&root, now_ns, &settings.compact)?;
    for key in plan.into_iter().take(settings.max_compactions_per_pass) {
        let mut publish = |step: Step| -> Result<(), StoreError> {
            if let Step::AfterRename(output) = step {
                let path = key.dir(&root)?.join(output.to_string());
                let info = describe_file(key.clone(), output, path)?;
                // The inputs leave the catalog as the output enters (it supersedes them).
                let _superseded = store.catalog_write().add_file(info);
            }
            Ok(())
        };
        match compact_partition_with(&root, &key, now_ns, &settings.compact, &mut publish) {
            Ok(Some(out)) => {
                for run in &out.runs {
                    tracing::info!(
                        partition = ?key, output = %run.output, inputs = run.inputs.len(),
                        rows_in = run.rows_in, rows_out = run.rows_out,
                        bytes_in = run.bytes_in, bytes_out = run.bytes_out, "compacted"
                    );
                    report.files_merged += run.inputs.len();
                    report.files_written += 1;
                }
                report.partitions_compacted += usize::from(!out.runs.is_empty());
            }
            Ok(None) => {}
            Err(e) => {
                report.failures += 1;
                tracing::warn!(partition = ?key, error = %e, "compaction failed");
            }
        }
    }
    Ok(report)
}

/// The running maintenance thread.
#[derive(Debug)]
pub struct MaintainTask {
    stop: Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl MaintainTask {
    /// Starts passes every `settings.interval`, the first one at once.
    pub fn start(
        store: Arc<Store>,
        policy: SharedPolicy,
        clock: Arc<dyn Clock>,
        settings: MaintainSettings,
    ) -> Result<Self, StoreError> {
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("sluice-store-maintain".into())
            .spawn(move || run(&store, &policy, clock.as_ref(), &settings, &stopped))
            .map_err(|source| StoreError::Io {
                op: "spawn store maintenance",
                path: String::new(),
                source,
            })?;
        Ok(Self { stop, thread })
    }

    /// Lets a pass in progress finish (bounded by `max_compactions_per_pass`), then stops.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

fn run(
    store: &Store,
    policy: &SharedPolicy,
    clock: &dyn Clock,
    settings: &MaintainSettings,
    stopped: &Receiver<()>,
) {
    loop {
        let policy = policy
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match run_pass(store, &policy, clock.now_ns(), settings) {
            Ok(r) if r != PassReport::default() => tracing::debug!(?r, "store maintenance pass"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "store maintenance pass failed"),
        }
        match stopped.recv_timeout(settings.interval) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}
