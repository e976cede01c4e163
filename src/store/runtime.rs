//! `Store`: the embedded store at run time — buffers, catalog, field types, read-your-writes.
//!
//! Owns: the in-memory state every part shares (the active buffers being filled from the WAL,
//! the batch being flushed, the catalog, the bucket field types, the applied WAL sequence), its
//! start-up (load the catalog, replay the WAL from the store's cursor, rebuild the field types)
//! and the `ReadStore` implementation over files + buffers. The consumer thread that fills and
//! flushes is in `consumer`; a scan's snapshot of files and buffers is `scan`'s
//! (`Store::scan_with_stats`), the cached series indexes `series_cache`'s.
//!
//! Consistency: one lock (`state`) guards the buffers; the catalog has its own, always taken
//! after `state` when both are needed. A flush's files enter the catalog and its batch leaves
//! `flushing` under both locks, so a scan (which snapshots both under the same order) sees every
//! row exactly once or twice (identical rows, merged), never zero times.
//!
//! Read-your-writes: `applied` is the highest WAL seq whose rows are in the buffers (or files).
//! A query that must see every acknowledged write calls [`Store::wait_applied`] with the WAL's
//! last durable seq (`Wal::last_durable`) taken when the query starts.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use arrow::record_batch::RecordBatch;
use tokio::sync::watch;

use super::StoreError;
use super::batch::{FxBuild, MeasurementBuffer};
use super::catalog::{BucketKey, Catalog, LoadReport};
use super::consumer::Flushing;
use super::maintain::RetentionPolicy;
use super::parquet_file::WriteOptions;
use super::read::{MeasurementSchema, ReadStore, ScanRequest, SeriesIndex, SeriesKey};
use super::series_cache::SeriesCache;
use super::types::FieldTypes;
use crate::lineproto::{self, FieldType, ParseOptions};
use crate::model::{BucketName, Record, TenantId, WalSeq};

/// How the store runs (from `[store]`).
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub dir: PathBuf,
    /// Flush the buffers once the oldest unflushed record is this old.
    pub flush_interval: Duration,
    /// Flush once the buffers hold this many (estimated) bytes.
    pub flush_bytes: usize,
    /// Stop reading the WAL while buffers (active + flushing) hold this many bytes.
    pub max_buffer_bytes: usize,
    pub write: WriteOptions,
}

impl StoreOptions {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            flush_interval: Duration::from_secs(300),
            flush_bytes: 64 << 20,
            max_buffer_bytes: 256 << 20,
            write: WriteOptions::default(),
        }
    }
}

/// The WAL consumer name of the store.
pub const STORE_CONSUMER: &str = "store";

/// Buffers of one bucket, by unescaped measurement.
pub(super) type BucketBuffers = HashMap<Vec<u8>, MeasurementBuffer, FxBuild>;

/// What the consumer fills and scans read.
#[derive(Debug, Default)]
pub(super) struct State {
    pub active: HashMap<BucketKey, BucketBuffers>,
    /// WAL range of the records applied to `active` (`first` unset while none).
    pub first: Option<WalSeq>,
    pub last: WalSeq,
    pub active_bytes: usize,
    pub flushing: Option<Arc<Flushing>>,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct StoreCounters {
    pub flushes: AtomicU64,
    pub flush_failures: AtomicU64,
    pub flush_seconds_micros: AtomicU64,
    pub rows_written: AtomicU64,
    pub files_written: AtomicU64,
    pub points_refused: AtomicU64,
    pub scans: AtomicU64,
    pub row_groups_read: AtomicU64,
    pub row_groups_skipped: AtomicU64,
}

/// A snapshot of the store's numbers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoreStats {
    pub buffered_rows: u64,
    pub buffered_bytes: u64,
    pub files: u64,
    pub file_bytes: u64,
    pub applied_seq: u64,
    pub committed_seq: u64,
    pub flushes: u64,
    pub flush_failures: u64,
    pub flush_seconds: f64,
    pub rows_written: u64,
    pub files_written: u64,
    pub points_refused: u64,
    pub row_groups_read: u64,
    pub row_groups_skipped: u64,
}

/// The embedded store. Shared as `Arc<Store>`; see the module docs.
#[derive(Debug)]
pub struct Store {
    /// The root's `dirlock`, held while the store is open: the start-up sweep deletes the
    /// files a writer left half-made, so two processes on one root would delete each other's.
    _dir_lock: std::fs::File,
    pub(super) opts: StoreOptions,
    pub(super) state: Mutex<State>,
    pub(super) catalog: RwLock<Catalog>,
    pub(super) types: FieldTypes,
    pub(super) applied: watch::Sender<u64>,
    pub(super) committed: AtomicU64,
    pub(super) counters: StoreCounters,
    /// Set by [`Store::flush_soon`]; the consumer flushes at its next look.
    pub(super) flush_requested: std::sync::atomic::AtomicBool,
    /// Held for reading by a scan from picking its files until it has read them; for writing
    /// by maintenance while it deletes files (see `maintenance`).
    pub(super) files: RwLock<()>,
    /// How long each bucket keeps its rows: read by maintenance at each pass and by
    /// `SHOW RETENTION POLICIES`; replaced on reload.
    pub(super) retention: RwLock<RetentionPolicy>,
    /// Changes whenever the catalog may have lost or gained series of any measurement
    /// (`resync_catalog`, when maintenance changed files); tags `series_cache` entries.
    pub(super) series_gen: AtomicU64,
    /// Series indexes built by `series_index`, and the per-measurement generations that say
    /// when one went stale.
    pub(super) series_cache: Mutex<SeriesCache>,
}

/// Takes the lock on the store's `root` (creating it), waiting up to `dirlock::WAIT` for this
/// process's previous store on it to be dropped.
fn lock_root(root: &std::path::Path) -> Result<std::fs::File, StoreError> {
    use super::maintain::walk::io_err;
    std::fs::create_dir_all(root).map_err(io_err("create dir", root))?;
    crate::dirlock::waiting(|| crate::dirlock::try_lock(root, crate::dirlock::STORE_LOCK)).map_err(
        |e| {
            if e.kind() == std::io::ErrorKind::WouldBlock {
                StoreError::Locked {
                    dir: root.display().to_string(),
                    holder: e.to_string(),
                }
            } else {
                io_err("lock", root)(e)
            }
        },
    )
}

impl Store {
    /// Loads the catalog from `opts.dir` (blocking: reads every footer and tag column). The
    /// store holds nothing of the WAL yet: call [`Store::apply`] for the records after
    /// `committed` (start-up replay), then run the consumer.
    pub fn open(opts: StoreOptions, committed: WalSeq) -> Result<(Self, LoadReport), StoreError> {
        let dir_lock = lock_root(&opts.dir)?;
        // What crashes left (tmp files, superseded files, interrupted retention drops).
        let swept = super::maintain::startup_sweep(&opts.dir)?;
        let (catalog, mut report) = Catalog::load(&opts.dir)?;
        report.tmp_deleted += swept.tmp_files.len();
        report.superseded_deleted += swept.superseded_files.len();
        let types = FieldTypes::new();
        for ((tenant, bucket), measurements) in &catalog.buckets {
            for (m, entry) in measurements {
                for (f, ty) in &entry.fields {
                    types.record(tenant, bucket, m.as_bytes(), f.as_bytes(), *ty);
                }
            }
        }
        let (applied, _) = watch::channel(committed.0);
        let store = Self {
            _dir_lock: dir_lock,
            opts,
            state: Mutex::new(State {
                last: committed,
                ..State::default()
            }),
            catalog: RwLock::new(catalog),
            types,
            applied,
            committed: AtomicU64::new(committed.0),
            counters: StoreCounters::default(),
            flush_requested: std::sync::atomic::AtomicBool::new(false),
            files: RwLock::new(()),
            retention: RwLock::new(RetentionPolicy::default()),
            series_gen: AtomicU64::new(0),
            series_cache: Mutex::new(SeriesCache::default()),
        };
        Ok((store, report))
    }

    /// Replaces the retention policy (start-up and config reload).
    pub fn set_retention(&self, policy: RetentionPolicy) {
        *self
            .retention
            .write()
            .unwrap_or_else(PoisonError::into_inner) = policy;
    }

    /// The retention policy in force.
    pub fn retention_policy(&self) -> RetentionPolicy {
        self.retention
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn options(&self) -> &StoreOptions {
        &self.opts
    }

    /// The bucket field types ingest checks writes against.
    pub fn field_types(&self) -> &FieldTypes {
        &self.types
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn catalog_read(&self) -> std::sync::RwLockReadGuard<'_, Catalog> {
        self.catalog.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The catalog for adding the files of a flush (with `state` held): their series are the
    /// flushing parts' series, which every index built since already holds, so no index goes
    /// stale.
    pub(super) fn catalog_write_flushed(&self) -> std::sync::RwLockWriteGuard<'_, Catalog> {
        self.catalog.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Exclusive use of the files (maintenance deletes files only while holding it).
    pub(super) fn files_write(&self) -> std::sync::RwLockWriteGuard<'_, ()> {
        self.files.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Re-reads which files exist after maintenance changed them (blocking: directory
    /// listings, and the footers of new files).
    pub fn resync_catalog(&self) -> Result<(), StoreError> {
        let _st = self.lock();
        let mut cat = self.catalog.write().unwrap_or_else(PoisonError::into_inner);
        let changed = cat.resync(&self.opts.dir);
        // Only a change of the files can change the series: a maintenance pass that changed
        // nothing (most of them) leaves the cached series indexes current. Bumped while the
        // write lock is held: an index built under the read lock sees the change or is stale.
        if !matches!(changed, Ok(false)) {
            self.series_gen.fetch_add(1, Ordering::AcqRel);
        }
        changed.map(|_| ())
    }

    /// Asks the consumer to flush what it buffered now (whatever the policy says).
    pub fn flush_soon(&self) {
        self.flush_requested.store(true, Ordering::Relaxed);
    }

    /// The highest WAL seq whose rows queries see.
    pub fn applied(&self) -> WalSeq {
        WalSeq(*self.applied.borrow())
    }

    /// The store's durable WAL cursor (every record up to it is in Parquet files).
    pub fn committed(&self) -> WalSeq {
        WalSeq(self.committed.load(Ordering::Relaxed))
    }

    /// Waits until every record up to `seq` is visible to queries; `Err(NotApplied)` after
    /// `timeout`. Call it at query start with `Wal::last_durable()`: every write acknowledged
    /// before the query began is then in the answer.
    pub async fn wait_applied(&self, seq: WalSeq, timeout: Duration) -> Result<(), StoreError> {
        let mut rx = self.applied.subscribe();
        if *rx.borrow_and_update() >= seq.0 {
            return Ok(());
        }
        match tokio::time::timeout(timeout, rx.wait_for(|a| *a >= seq.0)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(StoreError::NotApplied {
                seq: seq.0,
                applied: *self.applied.borrow(),
            }),
        }
    }

    /// Decodes one WAL record into the active buffers and publishes it as applied. Points the
    /// buffer refuses (a type conflict that slipped past ingest, a reserved key) are counted
    /// and skipped; the record is still applied.
    pub fn apply(&self, rec: &Record) {
        let entry = &rec.entry;
        let opts = ParseOptions {
            precision: entry.precision,
            allow_unsigned: true,
        };
        let mut refused = 0u64;
        {
            let mut st = self.lock();
            let key = (entry.tenant.clone(), entry.bucket.clone());
            let mut added = 0usize;
            let bufs = st.active.entry(key).or_default();
            for raw in lineproto::split_lines(&entry.lines) {
                let Ok(line) = lineproto::parse_line(raw, &opts) else {
                    refused += 1;
                    continue;
                };
                let m = lineproto::unescape_measurement(line.measurement());
                let buf = match bufs.get_mut(m.as_ref()) {
                    Some(b) => b,
                    None => {
                        let name = String::from_utf8_lossy(&m).into_owned();
                        bufs.entry(m.to_vec())
                            .or_insert_with(|| MeasurementBuffer::new(&name))
                    }
                };
                let before = buf.estimated_bytes();
                let columns = buf.field_count();
                let series = buf.series_count();
                match buf.push_line(&line, entry.precision, 0) {
                    Ok(()) => {
                        added += buf.estimated_bytes() - before;
                        if buf.series_count() != series
                            && let Some(new) = buf.series().last()
                        {
                            let name = String::from_utf8_lossy(&m).into_owned();
                            let cache_key = ((entry.tenant.clone(), entry.bucket.clone()), name);
                            self.series_cache
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .interned(cache_key, new, self.series_gen.load(Ordering::Acquire));
                        }
                        if buf.field_count() != columns {
                            // New fields: ingest must know them (start-up replay).
                            for (k, ty) in buf.field_types() {
                                self.types.record(
                                    &entry.tenant,
                                    &entry.bucket,
                                    &m,
                                    k.as_bytes(),
                                    ty,
                                );
                            }
                        }
                    }
                    Err(e) => {
                        refused += 1;
                        tracing::warn!(seq = rec.seq.0, error = %e, "store refused a point from the WAL");
                    }
                }
            }
            st.active_bytes += added;
            st.first.get_or_insert(rec.seq);
            st.last = rec.seq;
        }
        if refused > 0 {
            self.counters
                .points_refused
                .fetch_add(refused, Ordering::Relaxed);
        }
        self.applied.send_replace(rec.seq.0);
    }

    pub fn stats(&self) -> StoreStats {
        let (buffered_rows, buffered_bytes) = {
            let st = self.lock();
            let rows: usize = st
                .active
                .values()
                .flat_map(|b| b.values())
                .map(MeasurementBuffer::len)
                .sum();
            let flushing = st.flushing.as_ref().map_or(0, |f| f.bytes);
            (rows as u64, (st.active_bytes + flushing) as u64)
        };
        let (files, file_bytes) = {
            let cat = self.catalog_read();
            let mut n = 0u64;
            let mut bytes = 0u64;
            for f in cat
                .buckets
                .values()
                .flat_map(|m| m.values())
                .flat_map(|e| e.partitions.values())
                .flatten()
            {
                n += 1;
                bytes += f.bytes;
            }
            (n, bytes)
        };
        let c = &self.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StoreStats {
            buffered_rows,
            buffered_bytes,
            files,
            file_bytes,
            applied_seq: *self.applied.borrow(),
            committed_seq: self.committed.load(Ordering::Relaxed),
            flushes: load(&c.flushes),
            flush_failures: load(&c.flush_failures),
            flush_seconds: load(&c.flush_seconds_micros) as f64 / 1e6,
            rows_written: load(&c.rows_written),
            files_written: load(&c.files_written),
            points_refused: load(&c.points_refused),
            row_groups_read: load(&c.row_groups_read),
            row_groups_skipped: load(&c.row_groups_skipped),
        }
    }

    /// The schema over files, the batch being flushed and the active buffer.
    pub(super) fn schema_of(
        &self,
        st: &State,
        cat: &Catalog,
        key: &BucketKey,
        measurement: &str,
    ) -> Option<MeasurementSchema> {
        let mut tags: BTreeSet<String> = BTreeSet::new();
        let mut fields: BTreeMap<String, FieldType> = BTreeMap::new();
        let mut found = false;
        if let Some(e) = cat.measurement(&key.0, &key.1, measurement)
            && e.file_count() > 0
        {
            found = true;
            tags.extend(e.tags.iter().cloned());
            fields.extend(e.fields.iter().map(|(k, t)| (k.clone(), *t)));
        }
        if let Some(f) = &st.flushing
            && let Some(p) = f.parts.get(&(key.clone(), measurement.to_owned()))
        {
            found = true;
            tags.extend(p.schema.tags.iter().cloned());
            for (k, t) in &p.schema.fields {
                fields.entry(k.clone()).or_insert(*t);
            }
        }
        if let Some(buf) = st
            .active
            .get(key)
            .and_then(|b| b.get(measurement.as_bytes()))
            .filter(|b| !b.is_empty())
        {
            found = true;
            let s = buffer_schema(buf);
            tags.extend(s.tags);
            for (k, t) in s.fields {
                fields.entry(k).or_insert(t);
            }
        }
        found.then(|| MeasurementSchema {
            tags: tags.into_iter().collect(),
            fields: fields.into_iter().collect(),
        })
    }
}

/// Tag keys and field types of one buffer.
pub(super) fn buffer_schema(buf: &MeasurementBuffer) -> MeasurementSchema {
    MeasurementSchema {
        tags: buf.tag_keys().map(str::to_owned).collect(),
        fields: buf.field_types().map(|(k, t)| (k.to_owned(), t)).collect(),
    }
}

impl ReadStore for Store {
    fn buckets(&self, tenant: &TenantId) -> Vec<BucketName> {
        let st = self.lock();
        let cat = self.catalog_read();
        let mut out: BTreeSet<BucketName> = BTreeSet::new();
        for ((t, b), ms) in &cat.buckets {
            if t == tenant && ms.values().any(|e| e.file_count() > 0) {
                out.insert(b.clone());
            }
        }
        if let Some(f) = &st.flushing {
            out.extend(
                f.parts
                    .keys()
                    .filter(|((t, _), _)| t == tenant)
                    .map(|((_, b), _)| b.clone()),
            );
        }
        for ((t, b), bufs) in &st.active {
            if t == tenant && bufs.values().any(|b| !b.is_empty()) {
                out.insert(b.clone());
            }
        }
        out.into_iter().collect()
    }

    fn measurements(&self, tenant: &TenantId, bucket: &BucketName) -> Vec<String> {
        let key = (tenant.clone(), bucket.clone());
        let st = self.lock();
        let cat = self.catalog_read();
        let mut out: BTreeSet<String> = BTreeSet::new();
        if let Some(ms) = cat.buckets.get(&key) {
            out.extend(
                ms.iter()
                    .filter(|(_, e)| e.file_count() > 0)
                    .map(|(m, _)| m.clone()),
            );
        }
        if let Some(f) = &st.flushing {
            out.extend(
                f.parts
                    .keys()
                    .filter(|(k, _)| *k == key)
                    .map(|(_, m)| m.clone()),
            );
        }
        if let Some(bufs) = st.active.get(&key) {
            out.extend(
                bufs.values()
                    .filter(|b| !b.is_empty())
                    .map(|b| b.measurement().to_owned()),
            );
        }
        out.into_iter().collect()
    }

    fn schema(
        &self,
        tenant: &TenantId,
        bucket: &BucketName,
        measurement: &str,
    ) -> Option<MeasurementSchema> {
        let st = self.lock();
        let cat = self.catalog_read();
        self.schema_of(&st, &cat, &(tenant.clone(), bucket.clone()), measurement)
    }

    fn series(&self, tenant: &TenantId, bucket: &BucketName, measurement: &str) -> Vec<SeriesKey> {
        self.series_index(tenant, bucket, measurement)
            .series()
            .to_vec()
    }

    fn series_indexes_current(&self, tenant: &TenantId) -> bool {
        self.indexes_current(tenant)
    }

    fn series_index(
        &self,
        tenant: &TenantId,
        bucket: &BucketName,
        measurement: &str,
    ) -> Arc<SeriesIndex> {
        self.index_of(tenant, bucket, measurement)
    }

    fn scan(&self, request: &ScanRequest<'_>) -> Result<RecordBatch, StoreError> {
        self.scan_with_stats(request).map(|(b, _)| b)
    }

    fn retention(&self, tenant: &TenantId, bucket: &BucketName) -> Option<Duration> {
        self.retention
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .retention(tenant, bucket)
    }
}
