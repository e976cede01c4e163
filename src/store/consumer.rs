//! The store's WAL consumer: records → buffers → Parquet, then the cursor.
//!
//! Owns: the consumer thread (one OS thread; it blocks on the WAL reader through the tokio
//! handle), the flush policy (a generation of buffers is flushed once it holds `flush_bytes` or
//! its oldest record is `flush_interval` old; reading pauses while active + flushing buffers hold
//! `max_buffer_bytes`), the flush itself (one file per (bucket, measurement, UTC day), named by
//! the generation's WAL range, written durably by `write_parquet` on a flush thread, retried until
//! it succeeds), and the cursor: committed to the WAL only after every file of the generation is
//! durable and in the catalog. So the WAL keeps every segment the store may still need, and a
//! crash at any point replays exactly the records whose rows are not yet in durable files.
//!
//! Shutdown leaves the active buffers to the WAL (they are replayed at the next start); a flush
//! in flight is finished and its cursor committed first. Start-up replay is the same loop: the
//! reader starts after the store's cursor.
//!
//! Does not own: decoding a record into buffers (`Store::apply`), the catalog (`catalog`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::TimestampNanosecondType;
use tokio::runtime::Handle;
use tokio::time::Instant;

use super::StoreError;
use super::batch::{MeasurementBuffer, TIME_COLUMN};
use super::catalog::{FileInfo, FileMeta};
use super::files::FileName;
use super::layout::{PartitionKey, split_by_day};
use super::parquet_file::write_parquet;
use super::read::{MeasurementSchema, SeriesKey};
use super::runtime::{STORE_CONSUMER, Store, buffer_schema};
use crate::model::WalSeq;
use crate::wal::{Wal, WalError};

/// A generation of buffers being written (visible to scans until its files are in the catalog).
#[derive(Debug)]
pub struct Flushing {
    pub first: WalSeq,
    pub last: WalSeq,
    pub bytes: usize,
    pub parts: std::collections::BTreeMap<(super::catalog::BucketKey, String), FlushPart>,
}

/// One (bucket, measurement) of a generation.
#[derive(Debug)]
pub struct FlushPart {
    buffer: MeasurementBuffer,
    batch: OnceLock<RecordBatch>,
    pub series: Vec<SeriesKey>,
    pub schema: MeasurementSchema,
}

impl FlushPart {
    fn new(buffer: MeasurementBuffer) -> Self {
        Self {
            series: buffer.series().map(<[(String, String)]>::to_vec).collect(),
            schema: buffer_schema(&buffer),
            buffer,
            batch: OnceLock::new(),
        }
    }

    /// The sorted, deduplicated batch (computed once, by whoever needs it first).
    pub fn batch(&self) -> Result<RecordBatch, StoreError> {
        if let Some(b) = self.batch.get() {
            return Ok(b.clone());
        }
        let b = self.buffer.to_record_batch()?;
        Ok(self.batch.get_or_init(|| b).clone())
    }
}

/// The running consumer.
#[derive(Debug)]
pub struct StoreTask {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl StoreTask {
    /// Finishes a flush in flight, then stops (the active buffers are left to the WAL).
    pub async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

/// Starts the consumer after the store's cursor `after` (which `Store::open` got).
pub fn start(store: Arc<Store>, wal: Wal, after: WalSeq) -> Result<StoreTask, StoreError> {
    let stop = Arc::new(AtomicBool::new(false));
    let handle = Handle::current();
    let flag = stop.clone();
    let thread = std::thread::Builder::new()
        .name("sluice-store".into())
        .spawn(move || Consumer::new(store, wal, handle, flag).run(after))
        .map_err(|source| StoreError::Io {
            op: "spawn store consumer",
            path: String::new(),
            source,
        })?;
    Ok(StoreTask { stop, thread })
}

/// How long the consumer waits for a record before it looks at its timers again.
const TICK: Duration = Duration::from_millis(100);
/// Pause before a failed flush is tried again.
const FLUSH_RETRY: Duration = Duration::from_secs(5);

struct Consumer {
    store: Arc<Store>,
    wal: Wal,
    handle: Handle,
    stop: Arc<AtomicBool>,
    /// When the active generation got its first record.
    opened: Option<Instant>,
    flush: Option<Receiver<Vec<FileInfo>>>,
}

impl Consumer {
    fn new(store: Arc<Store>, wal: Wal, handle: Handle, stop: Arc<AtomicBool>) -> Self {
        Self {
            store,
            wal,
            handle,
            stop,
            opened: None,
            flush: None,
        }
    }

    fn run(mut self, after: WalSeq) {
        let mut reader = self.wal.reader(after);
        let opts = self.store.options().clone();
        loop {
            self.poll_flush(Duration::ZERO);
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            let (active, pending, flushing) = {
                let st = self.store.lock();
                (
                    st.active_bytes,
                    st.first.is_some(),
                    st.flushing.as_ref().map_or(0, |f| f.bytes),
                )
            };
            let age = self.opened.map(|t| t.elapsed()).unwrap_or_default();
            if self.flush.is_none()
                && pending
                && (active >= opts.flush_bytes
                    || age >= opts.flush_interval
                    || self.store.flush_requested.swap(false, Ordering::Relaxed))
            {
                self.start_flush();
                continue;
            }
            if active + flushing >= opts.max_buffer_bytes {
                self.poll_flush(TICK);
                continue;
            }
            let wait = if pending {
                opts.flush_interval.saturating_sub(age).min(TICK)
            } else {
                TICK
            };
            let next = self
                .handle
                .block_on(async { tokio::time::timeout(wait, reader.next()).await });
            match next {
                Ok(Ok(rec)) => {
                    self.store.apply(&rec);
                    self.opened.get_or_insert_with(Instant::now);
                    // Take what is already durable without waiting (bounded by the flush size).
                    while self.store.lock().active_bytes < opts.flush_bytes {
                        match reader.try_next() {
                            Ok(Some(rec)) => self.store.apply(&rec),
                            _ => break,
                        }
                    }
                }
                Ok(Err(WalError::Closed)) => break,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "store: reading the WAL failed");
                    std::thread::sleep(FLUSH_RETRY);
                }
                Err(_) => {}
            }
        }
        // A flush in flight is finished so its cursor is committed.
        while self.flush.is_some() {
            self.poll_flush(TICK);
        }
    }

    /// Moves the active buffers into a generation and writes it on a flush thread.
    fn start_flush(&mut self) {
        let generation = {
            let mut st = self.store.lock();
            let Some(first) = st.first.take() else { return };
            let mut parts = std::collections::BTreeMap::new();
            for (bk, bufs) in std::mem::take(&mut st.active) {
                for (_, buf) in bufs {
                    if !buf.is_empty() {
                        parts.insert(
                            (bk.clone(), buf.measurement().to_owned()),
                            FlushPart::new(buf),
                        );
                    }
                }
            }
            let generation = Arc::new(Flushing {
                first,
                last: st.last,
                bytes: std::mem::take(&mut st.active_bytes),
                parts,
            });
            st.flushing = Some(generation.clone());
            generation
        };
        self.opened = None;
        let (tx, rx) = mpsc::channel();
        let store = self.store.clone();
        let stop = self.stop.clone();
        let spawned = std::thread::Builder::new()
            .name("sluice-store-flush".into())
            .spawn(move || {
                loop {
                    let started = Instant::now();
                    match write_generation(&store, &generation) {
                        Ok(files) => {
                            let c = &store.counters;
                            c.flush_seconds_micros
                                .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                            let _ = tx.send(files);
                            return;
                        }
                        Err(e) => {
                            store.counters.flush_failures.fetch_add(1, Ordering::Relaxed);
                            tracing::error!(error = %e, first = generation.first.0, last = generation.last.0, "store flush failed; retrying");
                            if stop.load(Ordering::Relaxed) {
                                return;
                            }
                            std::thread::sleep(FLUSH_RETRY);
                        }
                    }
                }
            });
        match spawned {
            Ok(_) => self.flush = Some(rx),
            Err(e) => tracing::error!(error = %e, "cannot start a store flush thread"),
        }
    }

    /// Publishes a finished flush (files into the catalog, generation out, cursor committed).
    fn poll_flush(&mut self, wait: Duration) {
        let Some(rx) = &self.flush else { return };
        let files = match rx.recv_timeout(wait) {
            Ok(files) => files,
            Err(RecvTimeoutError::Timeout) => return,
            Err(RecvTimeoutError::Disconnected) => {
                // Abandoned at shutdown: the WAL still holds the records.
                self.flush = None;
                return;
            }
        };
        self.flush = None;
        let last = {
            let mut st = self.store.lock();
            let mut cat = self.store.catalog_write_flushed();
            let mut gone: Vec<Arc<FileMeta>> = Vec::new();
            let mut rows = 0u64;
            let n = files.len() as u64;
            for info in files {
                rows += info.meta.rows;
                for (k, ty) in &info.fields {
                    let m = &info.meta.key;
                    self.store.types.record(
                        &m.tenant,
                        &m.bucket,
                        m.measurement.as_bytes(),
                        k.as_bytes(),
                        *ty,
                    );
                }
                gone.extend(cat.add_file(info));
            }
            let last = st.flushing.take().map(|f| f.last);
            drop(cat);
            drop(st);
            // Not under a scan that picked them (scans hold `files` for reading).
            let _files = (!gone.is_empty()).then(|| self.store.files_write());
            for f in gone {
                if let Err(e) = std::fs::remove_file(&f.path) {
                    tracing::warn!(path = %f.path.display(), error = %e, "removing a superseded file failed");
                }
            }
            let c = &self.store.counters;
            c.flushes.fetch_add(1, Ordering::Relaxed);
            c.rows_written.fetch_add(rows, Ordering::Relaxed);
            c.files_written.fetch_add(n, Ordering::Relaxed);
            last
        };
        let Some(last) = last else { return };
        let wal = self.wal.clone();
        match self
            .handle
            .block_on(async move { wal.commit_cursor(STORE_CONSUMER, last).await })
        {
            Ok(()) => self.store.committed.store(last.0, Ordering::Relaxed),
            Err(e) => tracing::error!(error = %e, "store: committing the WAL cursor failed"),
        }
    }
}

/// Writes every part of `generation` durably, one file per UTC day, and describes the files.
fn write_generation(store: &Store, generation: &Flushing) -> Result<Vec<FileInfo>, StoreError> {
    let opts = store.options();
    let name = FileName {
        first: generation.first,
        last: generation.last,
    };
    let mut out = Vec::new();
    for ((bk, measurement), part) in &generation.parts {
        let batch = part.batch()?;
        for (day, b) in split_by_day(&batch)? {
            let key = PartitionKey {
                tenant: bk.0.clone(),
                bucket: bk.1.clone(),
                measurement: measurement.clone(),
                day,
            };
            let path = key.dir(&opts.dir)?.join(name.to_string());
            write_parquet(&path, &b, &opts.write)?;
            let bytes = std::fs::metadata(&path)
                .map_err(|source| StoreError::Io {
                    op: "stat",
                    path: path.display().to_string(),
                    source,
                })?
                .len();
            let (min_time, max_time) = time_range(&b)?;
            out.push(FileInfo {
                meta: FileMeta {
                    key,
                    name,
                    path,
                    min_time,
                    max_time,
                    rows: b.num_rows() as u64,
                    bytes,
                },
                tags: part.schema.tags.clone(),
                fields: part.schema.fields.clone(),
                series: part.series.clone(),
            });
        }
    }
    Ok(out)
}

fn time_range(b: &RecordBatch) -> Result<(i64, i64), StoreError> {
    let t = b
        .column_by_name(TIME_COLUMN)
        .and_then(|c| c.as_primitive_opt::<TimestampNanosecondType>())
        .ok_or(StoreError::NoTimeColumn)?;
    let lo = t.values().iter().min().copied().unwrap_or(0);
    let hi = t.values().iter().max().copied().unwrap_or(0);
    Ok((lo, hi))
}
