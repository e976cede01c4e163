//! `Wal`: the handle the rest of sluice holds.
//!
//! Owns: open (replay, then starting the writer thread), quota admission of appends,
//! consumer registration and cursor commits, stats and close. Does not own the record
//! format (`format`), group commit (`writer`) or reading (`reader`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};

use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use super::cursor::{collect_garbage, load_cursors, remove_cursor, store_cursor, validate_name};
use super::format;
use super::io::{StdFs, WalFs, zero_fill};
use super::reader::WalReader;
use super::replay::{ReplayReport, replay};
use super::state::{SegMeta, Shared, State, WalObservations};
use super::writer::{Cmd, PREALLOC_PREFIX, Writer, spawn_prepare};
use super::{Compression, WalConfig, WalError};
use crate::model::{Entry, WalSeq};

/// The write-ahead log. Cheap to clone; the writer thread stops when the last clone
/// is dropped or `close` is called.
#[derive(Clone, Debug)]
pub struct Wal {
    inner: Arc<Handle>,
}

#[derive(Debug)]
struct Handle {
    shared: Arc<Shared>,
    tx: Mutex<Option<Sender<Cmd>>>,
}

/// A snapshot of the WAL's numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalStats {
    /// Bytes of records in segment files (preallocated zeros not counted).
    pub disk_bytes: u64,
    /// `disk_bytes` plus bytes of appends not yet written (what the quota counts).
    pub used_bytes: u64,
    pub max_disk: u64,
    pub segments: usize,
    /// Oldest record still on disk, if any.
    pub first_seq: Option<WalSeq>,
    /// Newest durable record, if any.
    pub last_seq: Option<WalSeq>,
    pub cursors: Vec<(String, WalSeq)>,
    /// fdatasyncs of segment data so far (one per group commit).
    pub fsyncs: u64,
}

impl Wal {
    /// Opens (creating the dir), replays, truncates a torn tail. Blocking.
    pub fn open(cfg: WalConfig) -> Result<(Wal, ReplayReport), WalError> {
        Self::open_with_fs(cfg, Arc::new(StdFs))
    }

    /// `open` on a given file system (tests inject faults through it).
    pub fn open_with_fs(
        cfg: WalConfig,
        fs: Arc<dyn WalFs>,
    ) -> Result<(Wal, ReplayReport), WalError> {
        let dir = cfg.dir.clone();
        fs.create_dir_all(&dir)
            .map_err(|e| WalError::io("create dir", &dir, e))?;
        let dir_lock = lock_dir(&*fs, &dir)?;
        let replayed = replay(&*fs, &dir, true)?;
        let report = replayed.report();
        let cursors = load_cursors(&*fs, &dir)?;
        let mut segments = replayed.metas();
        let next_seq = match replayed.next_seq() {
            Some(n) => n,
            // No segment at all: continue after every cursor, so none points past the data.
            None => cursors.values().max().copied().unwrap_or(0) + 1,
        };
        for (name, seq) in &cursors {
            if *seq >= next_seq {
                tracing::warn!(consumer = %name, cursor = seq, next_seq, "wal cursor is past the end of the log");
            }
        }
        let seg_first = segments.keys().next_back().copied().unwrap_or(next_seq);
        let path = dir.join(super::segment::segment_name(seg_first));
        let mut file = fs
            .open_write(&path)
            .map_err(|e| WalError::io("open", &path, e))?;
        remove_stale_preallocations(&*fs, &dir);
        let file_len = file
            .file_len()
            .map_err(|e| WalError::io("stat", &path, e))?;
        if cfg.preallocate && file_len < cfg.segment_bytes {
            zero_fill(&mut *file, file_len, cfg.segment_bytes)
                .map_err(|e| WalError::io("preallocate", &path, e))?;
        }
        if let std::collections::btree_map::Entry::Vacant(v) = segments.entry(seg_first) {
            fs.sync_dir(&dir)
                .map_err(|e| WalError::io("sync dir", &dir, e))?;
            v.insert(SegMeta {
                size: 0,
                last_seq: None,
            });
        }
        let seg_size = segments.get(&seg_first).map_or(0, |m| m.size);
        let used = segments.values().map(|m| m.size).sum();
        let state = State {
            segments,
            used,
            cursors,
            drained: VecDeque::new(),
            closed: false,
            poisoned: false,
        };
        let (durable, _) = watch::channel(report.last_seq.0);
        let shared = Arc::new(Shared {
            cfg,
            fs,
            state: Mutex::new(state),
            durable,
            fsyncs: AtomicU64::new(0),
            obs: WalObservations::default(),
            gc_lock: Mutex::new(()),
            recent: super::recent::Recent::new(
                super::recent::RECENT_BYTES,
                super::recent::RECENT_LAGGING_BYTES,
            ),
            dir_lock: Mutex::new(Some(dir_lock)),
        });
        let (tx, rx) = mpsc::channel();
        let prepared = spawn_prepare(&shared);
        let writer = Writer {
            prepared,
            shared: Arc::clone(&shared),
            rx,
            file,
            seg_first,
            seg_size,
            next_seq,
        };
        std::thread::Builder::new()
            .name("sluice-wal-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| WalError::io("spawn writer", &dir, e))?;
        let wal = Wal {
            inner: Arc::new(Handle {
                shared,
                tx: Mutex::new(Some(tx)),
            }),
        };
        Ok((wal, report))
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    /// Appends `entry`; resolves once it is durable (after the fdatasync covering it).
    /// Fails fast with `Full` when the quota would be exceeded.
    pub async fn append(&self, entry: Entry) -> Result<WalSeq, WalError> {
        self.append_with_gzip(entry, None).await
    }

    /// Appends `entry`, storing `gzip` — a gzip stream that decompresses to exactly
    /// `entry.lines`, such as the client's request body — instead of compressing the lines
    /// again, unless compression is off. Readers get the decompressed lines either way.
    pub async fn append_with_gzip(
        &self,
        entry: Entry,
        gzip: Option<bytes::Bytes>,
    ) -> Result<WalSeq, WalError> {
        let shared = self.shared();
        let lz4 = shared.cfg.compression == Compression::Lz4;
        let gzip = gzip.filter(|_| lz4);
        let enc = format::encode_with(&entry, lz4, gzip.as_deref()).ok_or(WalError::TooLarge {
            len: entry.lines.len(),
        })?;
        let len = enc.encoded_len() as u64;
        let (reply, rx) = oneshot::channel();
        {
            let mut st = shared.lock();
            if st.closed {
                return Err(WalError::Closed);
            }
            if st.poisoned {
                return Err(WalError::Poisoned);
            }
            let limit = shared.cfg.max_disk;
            if st.used + len > limit {
                let used = st.used;
                let retry_after_secs = st.retry_after_secs(used + len - limit, Instant::now());
                return Err(WalError::Full {
                    used,
                    limit,
                    retry_after_secs,
                });
            }
            let tx = self
                .inner
                .tx
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let sent = tx
                .as_ref()
                .map(|tx| tx.send(Cmd::Append(enc, entry, reply)));
            if !matches!(sent, Some(Ok(()))) {
                return Err(WalError::Closed);
            }
            st.used += len;
        }
        rx.await.map_err(|_| WalError::Closed)?
    }

    /// Registers consumer `name` (durably; blocking: it fsyncs) and returns its cursor.
    /// A new consumer starts before the oldest record on disk (`WalSeq(0)` on a fresh WAL).
    pub fn register_consumer(&self, name: &str) -> Result<WalSeq, WalError> {
        validate_name(name)?;
        let shared = self.shared();
        let _gc = gc_guard(shared)?;
        let start = {
            let st = shared.lock();
            if let Some(seq) = st.cursors.get(name) {
                return Ok(WalSeq(*seq));
            }
            st.segments.keys().next().map_or(0, |first| first - 1)
        };
        store_cursor(shared, name, start)?;
        shared.lock().cursors.insert(name.to_owned(), start);
        Ok(WalSeq(start))
    }

    /// A reader of the durable records with seq > `after`.
    pub fn reader(&self, after: WalSeq) -> WalReader {
        WalReader::new(Arc::clone(self.shared()), after.0)
    }

    /// Makes `upto` the durable cursor of consumer `name`, then deletes the segments
    /// every consumer has passed.
    pub async fn commit_cursor(&self, name: &str, upto: WalSeq) -> Result<(), WalError> {
        let shared = Arc::clone(self.shared());
        let name = name.to_owned();
        let now = Instant::now();
        let task = tokio::task::spawn_blocking(move || {
            let _gc = gc_guard(&shared)?;
            {
                let st = shared.lock();
                let current = *st
                    .cursors
                    .get(&name)
                    .ok_or_else(|| WalError::UnknownConsumer { name: name.clone() })?;
                let last = *shared.durable.borrow();
                if upto.0 > last {
                    return Err(WalError::CursorAhead {
                        name,
                        upto: upto.0,
                        last,
                    });
                }
                if upto.0 < current {
                    return Err(WalError::CursorBehind {
                        name,
                        upto: upto.0,
                        current,
                    });
                }
                if upto.0 == current {
                    return Ok(());
                }
            }
            store_cursor(&shared, &name, upto.0)?;
            shared.lock().cursors.insert(name, upto.0);
            collect_garbage(&shared, now).map(|_| ())
        });
        task.await.map_err(|_| WalError::Closed)?
    }

    /// Forgets consumer `name` (deletes its cursor file), then deletes the segments the
    /// remaining consumers have passed. A consumer that is gone for good must be removed,
    /// or its cursor keeps every later segment on disk.
    pub async fn remove_consumer(&self, name: &str) -> Result<(), WalError> {
        validate_name(name)?;
        let shared = Arc::clone(self.shared());
        let name = name.to_owned();
        let now = Instant::now();
        let task = tokio::task::spawn_blocking(move || {
            let _gc = gc_guard(&shared)?;
            if !shared.lock().cursors.contains_key(&name) {
                return Err(WalError::UnknownConsumer { name });
            }
            remove_cursor(&shared, &name)?;
            shared.lock().cursors.remove(&name);
            collect_garbage(&shared, now).map(|_| ())
        });
        task.await.map_err(|_| WalError::Closed)?
    }

    /// The newest durable record's seq (`WalSeq(0)` when there is none): every append that
    /// has resolved is at or below it. Cheap (no lock): read-your-writes takes it per query.
    pub fn last_durable(&self) -> WalSeq {
        WalSeq(*self.shared().durable.borrow())
    }

    pub fn stats(&self) -> WalStats {
        let shared = self.shared();
        let st = shared.lock();
        let durable = *shared.durable.borrow();
        WalStats {
            disk_bytes: st.disk_bytes(),
            used_bytes: st.used,
            max_disk: shared.cfg.max_disk,
            segments: st.segments.len(),
            first_seq: st.first_seq().map(WalSeq),
            last_seq: (durable > 0).then_some(WalSeq(durable)),
            cursors: st
                .cursors
                .iter()
                .map(|(n, s)| (n.clone(), WalSeq(*s)))
                .collect(),
            fsyncs: shared.fsyncs.load(Ordering::Relaxed),
        }
    }

    /// The writer thread's histograms (fsync latency, records per group commit).
    pub fn observations(&self) -> WalObservations {
        self.shared().obs.clone()
    }

    /// Writes and fsyncs everything accepted, stops the writer thread. Later appends
    /// fail with `Closed`; readers still get every durable record, then `Closed`.
    pub async fn close(&self) -> Result<(), WalError> {
        let tx = self
            .inner
            .tx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let Some(tx) = tx else { return Ok(()) };
        let (reply, rx) = oneshot::channel();
        if tx.send(Cmd::Close(reply)).is_err() {
            // The writer is gone already.
            self.free_dir();
            return Ok(());
        }
        drop(tx);
        let closed = rx.await.unwrap_or(Ok(()));
        self.free_dir();
        closed
    }

    /// Frees the directory for the next opener: the writer is done, and no cursor commit or
    /// segment deletion is under way or can start (`gc_guard`).
    fn free_dir(&self) {
        let shared = self.shared();
        let _gc = shared
            .gc_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        shared
            .dir_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
    }
}

/// `gc_lock`, taken for a cursor commit or a segment deletion; `Closed` once `close` freed
/// the directory (its cursor files and segments are then the next opener's).
fn gc_guard(shared: &Shared) -> Result<std::sync::MutexGuard<'_, ()>, WalError> {
    let gc = shared
        .gc_lock
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let held = shared
        .dir_lock
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .is_some();
    if held { Ok(gc) } else { Err(WalError::Closed) }
}

/// Takes `dir`'s lock, waiting up to `dirlock::WAIT` for this process's previous handle of the
/// same directory to free it.
fn lock_dir(fs: &dyn WalFs, dir: &std::path::Path) -> Result<super::io::DirLock, WalError> {
    crate::dirlock::waiting(|| fs.lock_dir(dir)).map_err(|e| {
        if e.kind() == std::io::ErrorKind::WouldBlock {
            WalError::Locked {
                dir: dir.to_owned(),
                holder: e.to_string(),
            }
        } else {
            WalError::io("lock", dir, e)
        }
    })
}

/// Removes zero-filled files a previous process prepared and never used.
fn remove_stale_preallocations(fs: &dyn WalFs, dir: &std::path::Path) {
    for name in fs.list(dir).unwrap_or_default() {
        if name.starts_with(PREALLOC_PREFIX) && name.ends_with(".tmp") {
            let _ = fs.remove(&dir.join(name));
        }
    }
}
