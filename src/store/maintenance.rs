//! The background maintenance task: retention and compaction (`maintain`) beside live scans.
//!
//! Owns: running `enforce_retention` and, partition by partition, `compact_partition` every
//! `every` on one thread (so IO and memory are bounded by what one call takes:
//! `CompactOptions::max_input_bytes`), and keeping the catalog in step. Each call runs under the
//! store's files lock taken for writing; a scan holds it for reading from the moment it picks
//! its files until it has read them, so no file a scan picked is deleted under it, and the
//! catalog is resynchronised from disk before the lock is released.
//! Does not own: what retention and compaction do on disk (`maintain`), the policy values
//! (`config`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::StoreError;
use super::maintain::{
    CompactOptions, RetentionPolicy, compact_partition, enforce_retention, partitions_to_compact,
};
use super::runtime::Store;
use crate::clock::Clock;

/// What the task does and how often.
#[derive(Debug, Clone)]
pub struct MaintenanceOptions {
    pub every: Duration,
    pub retention: RetentionPolicy,
    pub compact: CompactOptions,
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PassReport {
    pub partitions_dropped: usize,
    pub bytes_dropped: u64,
    pub partitions_compacted: usize,
    pub files_merged: usize,
    pub failures: usize,
}

/// One pass: retention, then compaction of every closed partition that calls for it.
pub fn run_pass(
    store: &Store,
    opts: &MaintenanceOptions,
    now_ns: i64,
) -> Result<PassReport, StoreError> {
    let root = store.options().dir.clone();
    let mut report = PassReport::default();
    {
        let _files = store.files_write();
        let out = enforce_retention(&root, &opts.retention, now_ns);
        store.resync_catalog()?;
        let out = out?;
        report.partitions_dropped = out.removed.len();
        report.bytes_dropped = out.bytes_removed();
        report.failures += out.failed.len();
        for (key, e) in &out.failed {
            tracing::warn!(?key, error = %e, "retention could not drop a partition");
        }
    }
    for key in partitions_to_compact(&root, now_ns, &opts.compact)? {
        let _files = store.files_write();
        let out = compact_partition(&root, &key, now_ns, &opts.compact);
        store.resync_catalog()?;
        match out {
            Ok(Some(o)) => {
                report.partitions_compacted += 1;
                report.files_merged += o.runs.iter().map(|r| r.inputs.len()).sum::<usize>();
            }
            Ok(None) => {}
            Err(e) => {
                report.failures += 1;
                tracing::warn!(?key, error = %e, "compaction failed");
            }
        }
    }
    Ok(report)
}

/// The running task.
#[derive(Debug)]
pub struct MaintenanceTask {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl MaintenanceTask {
    /// Stops after the call in progress (a partition's compaction at most).
    pub async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

/// Starts the task: a pass every `opts.every` (the first one after `every`).
pub fn start(
    store: Arc<Store>,
    opts: MaintenanceOptions,
    clock: Arc<dyn Clock>,
) -> Result<MaintenanceTask, StoreError> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::Builder::new()
        .name("sluice-store-maint".into())
        .spawn(move || {
            let tick = Duration::from_millis(200);
            let mut waited = Duration::ZERO;
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                waited += tick;
                if waited < opts.every {
                    continue;
                }
                waited = Duration::ZERO;
                // The store's policy follows config reloads.
                let opts = MaintenanceOptions {
                    retention: store.retention_policy(),
                    ..opts.clone()
                };
                match run_pass(&store, &opts, clock.now_ns()) {
                    Ok(r) if r != PassReport::default() => {
                        tracing::info!(?r, "store maintenance pass");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "store maintenance pass failed"),
                }
            }
        })
        .map_err(|source| StoreError::Io {
            op: "spawn store maintenance",
            path: String::new(),
            source,
        })?;
    Ok(MaintenanceTask { stop, thread })
}
