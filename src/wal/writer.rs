//! The writer thread: group commit.
//!
//! Owns: the open newest segment, seq assignment, rotation, and answering each append
//! through its oneshot once the write and fdatasync covering it are done. Everything
//! pending when the thread wakes goes out in one write and one fdatasync.
//! Does not own: quota admission (see `handle`), replay (see `replay`).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::format::Encoded;
use super::io::{WalFile, zero_fill};
use super::state::{SegMeta, Shared};
use super::{SyncMode, WalError};
use crate::model::{Entry, WalSeq};

/// Bound on the bytes gathered into one group (more waits for the next group).
const MAX_GROUP_BYTES: usize = 64 * 1024 * 1024;

pub type AppendReply = oneshot::Sender<Result<WalSeq, WalError>>;

pub enum Cmd {
    /// A record and its entry, decoded (for `recent`).
    Append(Encoded, Entry, AppendReply),
    Close(oneshot::Sender<Result<(), WalError>>),
}

pub struct Writer {
    pub shared: Arc<Shared>,
    pub rx: Receiver<Cmd>,
    pub file: Box<dyn WalFile>,
    /// First seq (name) of the open segment and its size.
    pub seg_first: u64,
    pub seg_size: u64,
    pub next_seq: u64,
    /// The next segment file, being zero-filled in the background.
    pub prepared: Option<JoinHandle<std::io::Result<Prepared>>>,
}

struct Pending {
    seq: u64,
    len: u64,
    entry: Entry,
    reply: AppendReply,
}

impl Writer {
    pub fn run(mut self) {
        let mut carry: Option<Cmd> = None;
        let mut close_reply = None;
        loop {
            let first = match carry.take() {
                Some(c) => c,
                None => match self.rx.recv() {
                    Ok(c) => c,
                    Err(_) => break,
                },
            };
            let mut group = Vec::new();
            let mut close = None;
            let mut bytes = 0;
            let mut next = Some(first);
            while let Some(cmd) = next.take() {
                match cmd {
                    Cmd::Append(enc, entry, reply) => {
                        bytes += enc.encoded_len();
                        group.push((enc, entry, reply));
                    }
                    Cmd::Close(reply) => {
                        close = Some(reply);
                        break;
                    }
                }
                if bytes >= MAX_GROUP_BYTES {
                    break;
                }
                next = self.rx.try_recv().ok();
            }
            self.commit(group);
            if close.is_some() {
                close_reply = close;
                break;
            }
            if bytes >= MAX_GROUP_BYTES {
                carry = self.rx.try_recv().ok();
            }
        }
        let synced = self.final_sync();
        // The background preallocation must be done before `close` returns: a WAL
        // reopened on the same directory must not race with it.
        if let Some(h) = self.prepared.take()
            && let Ok(Ok((path, _))) = h.join()
        {
            let _ = self.shared.fs.remove(&path);
        }
        self.shared.lock().closed = true;
        self.shared.notify(None);
        if let Some(reply) = close_reply {
            let _ = reply.send(synced);
        }
    }

    fn final_sync(&mut self) -> Result<(), WalError> {
        if self.shared.lock().poisoned {
            return Err(WalError::Poisoned);
        }
        self.file
            .sync_data()
            .map_err(|e| WalError::io("fsync", self.shared.segment_path(self.seg_first), e))
    }

    fn commit(&mut self, group: Vec<(Encoded, Entry, AppendReply)>) {
        if group.is_empty() {
            return;
        }
        if self.shared.lock().poisoned {
            let freed: u64 = group.iter().map(|(e, _, _)| e.encoded_len() as u64).sum();
            self.shared.lock().used -= freed;
            for (_, _, reply) in group {
                let _ = reply.send(Err(WalError::Poisoned));
            }
            return;
        }
        let seg_limit = self.shared.cfg.segment_bytes;
        let mut buf = Vec::with_capacity(group.iter().map(|(e, _, _)| e.encoded_len()).sum());
        let mut pending = Vec::with_capacity(group.len());
        let mut iter = group.into_iter();
        while let Some((mut enc, entry, reply)) = iter.next() {
            let size = self.seg_size + buf.len() as u64;
            if size > 0 && size + enc.encoded_len() as u64 > seg_limit {
                self.flush(&mut buf, &mut pending);
                if let Err(e) = self.rotate() {
                    tracing::error!(error = %e, "wal segment rotation failed; wal poisoned");
                    self.shared.lock().poisoned = true;
                    let rest: Vec<_> = std::iter::once((enc, entry, reply)).chain(iter).collect();
                    self.commit(rest);
                    return;
                }
            }
            let seq = self.next_seq + pending.len() as u64;
            buf.extend_from_slice(enc.finish(seq));
            pending.push(Pending {
                seq,
                len: enc.encoded_len() as u64,
                entry,
                reply,
            });
        }
        self.flush(&mut buf, &mut pending);
    }

    /// Writes `buf`, fdatasyncs, publishes and answers `pending`.
    fn flush(&mut self, buf: &mut Vec<u8>, pending: &mut Vec<Pending>) {
        if pending.is_empty() {
            return;
        }
        let path = self.shared.segment_path(self.seg_first);
        let written = self
            .file
            .write_at(self.seg_size, buf)
            .map_err(|e| WalError::io("write", &path, e));
        let result = written.and_then(|()| match self.shared.cfg.sync {
            SyncMode::Always => {
                self.shared.fsyncs.fetch_add(1, Ordering::Relaxed);
                let started = std::time::Instant::now();
                let synced = self.file.sync_data();
                let obs = &self.shared.obs;
                obs.fsync_seconds.observe(started.elapsed().as_secs_f64());
                synced.map_err(|e| {
                    tracing::error!(error = %e, "wal fdatasync failed; wal poisoned");
                    self.shared.lock().poisoned = true;
                    WalError::io("fsync", &path, e)
                })
            }
            SyncMode::None => Ok(()),
        });
        let n = buf.len() as u64;
        buf.clear();
        match result {
            Ok(()) => {
                let records = pending.len() as f64;
                self.shared.obs.group_records.observe(records);
                self.seg_size += n;
                let last = self.next_seq + pending.len() as u64 - 1;
                self.next_seq = last + 1;
                {
                    let mut st = self.shared.lock();
                    let meta = st.segments.entry(self.seg_first).or_insert(SegMeta {
                        size: 0,
                        last_seq: None,
                    });
                    meta.size = self.seg_size;
                    meta.last_seq = Some(last);
                }
                for p in pending.iter() {
                    self.shared.recent.put(p.seq, p.entry.clone());
                }
                self.shared.notify(Some(last));
                for p in pending.drain(..) {
                    let _ = p.reply.send(Ok(WalSeq(p.seq)));
                }
            }
            Err(err) => {
                // Undo a partial write so the segment ends on a record boundary.
                if let Err(e) = self.file.set_len(self.seg_size) {
                    tracing::error!(error = %e, "wal could not undo a failed write; wal poisoned");
                    self.shared.lock().poisoned = true;
                }
                self.shared.lock().used -= pending.iter().map(|p| p.len).sum::<u64>();
                let kind = match &err {
                    WalError::Io { source, .. } => source.kind(),
                    _ => std::io::ErrorKind::Other,
                };
                for p in pending.drain(..) {
                    let copy = WalError::io("write", &path, std::io::Error::from(kind));
                    let _ = p.reply.send(Err(copy));
                }
                tracing::warn!(error = %err, "wal group commit failed");
            }
        }
    }

    /// Closes the current segment and starts `<next_seq>.seg`, from the preallocated
    /// file when one is ready.
    fn rotate(&mut self) -> Result<(), WalError> {
        let shared = &self.shared;
        let path = shared.segment_path(self.next_seq);
        let prepared = match self.prepared.take().map(JoinHandle::join) {
            Some(Ok(Ok(prepared))) => Some(prepared),
            Some(Ok(Err(e))) => {
                tracing::warn!(error = %e, "wal segment preallocation failed; appending instead");
                None
            }
            Some(Err(_)) | None => None,
        };
        let file = match prepared {
            Some((tmp, file)) => {
                shared
                    .fs
                    .rename(&tmp, &path)
                    .map_err(|e| WalError::io("rename", &tmp, e))?;
                file
            }
            None => shared
                .fs
                .open_write(&path)
                .map_err(|e| WalError::io("create", &path, e))?,
        };
        let dir = &shared.cfg.dir;
        shared
            .fs
            .sync_dir(dir)
            .map_err(|e| WalError::io("sync dir", dir, e))?;
        self.file = file;
        self.seg_first = self.next_seq;
        self.seg_size = 0;
        shared.lock().segments.insert(
            self.seg_first,
            SegMeta {
                size: 0,
                last_seq: None,
            },
        );
        self.prepared = spawn_prepare(shared);
        Ok(())
    }
}

/// Zero-filled files waiting to become the next segment are named
/// `prealloc-<random>.tmp` (unique, so two writers on one directory never share one).
pub const PREALLOC_PREFIX: &str = "prealloc-";

/// A zero-filled file and its path.
pub type Prepared = (PathBuf, Box<dyn WalFile>);

/// Starts zero-filling the next segment file in the background (if configured).
pub fn spawn_prepare(shared: &Arc<Shared>) -> Option<JoinHandle<std::io::Result<Prepared>>> {
    if !shared.cfg.preallocate {
        return None;
    }
    let shared = Arc::clone(shared);
    let spawned = std::thread::Builder::new()
        .name("sluice-wal-prealloc".into())
        .spawn(move || {
            let name = format!("{PREALLOC_PREFIX}{:016x}.tmp", rand::random::<u64>());
            let path = shared.cfg.dir.join(name);
            let mut file = shared.fs.open_write(&path)?;
            zero_fill(&mut *file, 0, shared.cfg.segment_bytes)?;
            Ok((path, file))
        });
    spawned.ok()
}
