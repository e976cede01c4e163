//! Readers: durable records after a seq, in order, across segments.
//!
//! Owns: `WalReader`, which follows the newest segment as it grows (waiting on the
//! durable-seq watch) and keeps reading while old segments are deleted behind it.
//! Does not own cursors: a consumer commits its progress with `Wal::commit_cursor`.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::watch;

use super::WalError;
use super::format::{self, HEADER_LEN};
use super::io::{WalFile, read_full};
use super::segment::segment_name;
use super::state::Shared;
use crate::model::{Record, WalSeq};

/// Yields durable records with seq > `after`, in order. Never yields a record before
/// its fdatasync (with `SyncMode::None`: before its write).
pub struct WalReader {
    shared: Arc<Shared>,
    next: u64,
    durable: watch::Receiver<u64>,
    cur: Option<Cursor>,
    /// `next`, as `recent` sees it (records this reader has not read are kept longer).
    pos: Arc<AtomicU64>,
}

/// Where the reader is in a segment file: `offset` is the start of record `seq`.
struct Cursor {
    first: u64,
    file: Box<dyn WalFile>,
    offset: u64,
    seq: u64,
}

impl fmt::Debug for WalReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WalReader")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl WalReader {
    pub(crate) fn new(shared: Arc<Shared>, after: u64) -> Self {
        let durable = shared.durable.subscribe();
        let pos = shared.recent.follow(after + 1);
        Self {
            shared,
            next: after + 1,
            durable,
            cur: None,
            pos,
        }
    }

    /// The seq of the next record this reader yields.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// Waits for and returns the next durable record.
    /// Errors with `Closed` once the WAL is closed and every durable record was read.
    pub async fn next(&mut self) -> Result<Record, WalError> {
        loop {
            if let Some(r) = self.try_next()? {
                return Ok(r);
            }
            if self.shared.lock().closed && self.next > *self.durable.borrow() {
                return Err(WalError::Closed);
            }
            self.durable.changed().await.map_err(|_| WalError::Closed)?;
        }
    }

    /// The next durable record if there is one now.
    pub fn try_next(&mut self) -> Result<Option<Record>, WalError> {
        let durable = *self.durable.borrow_and_update();
        if self.next > durable {
            return Ok(None);
        }
        loop {
            let cur = match self.cur.take() {
                Some(c) => c,
                None => self.open_containing(self.next)?,
            };
            match self.read_at(cur)? {
                Step::Record(rec, cur) => {
                    if rec.seq.0 == self.next {
                        self.next += 1;
                        self.pos.store(self.next, Ordering::Relaxed);
                        self.cur = Some(cur);
                        return Ok(Some(rec));
                    }
                    self.cur = Some(cur);
                }
                Step::Skipped(cur) => self.cur = Some(cur),
                Step::EndOfSegment(seq) => self.cur = Some(self.open_segment(seq, seq)?),
            }
        }
    }

    fn read_at(&self, mut cur: Cursor) -> Result<Step, WalError> {
        let corrupt = |offset: u64| WalError::Corrupt {
            segment: segment_name(cur.first),
            offset,
        };
        let mut head = [0; HEADER_LEN];
        let n =
            read_full(&*cur.file, cur.offset, &mut head).map_err(|e| self.io_err(cur.first, e))?;
        let Some((seq, total)) = (n == HEADER_LEN).then(|| format::peek(&head)).flatten() else {
            // End of this segment's data: record `cur.seq` starts the next segment.
            if self.shared.lock().segments.contains_key(&cur.seq) {
                return Ok(Step::EndOfSegment(cur.seq));
            }
            return Err(corrupt(cur.offset));
        };
        if seq != cur.seq {
            return Err(corrupt(cur.offset));
        }
        if seq < self.next {
            cur.offset += total as u64;
            cur.seq += 1;
            return Ok(Step::Skipped(cur));
        }
        // Appended lately: decoded already (the writer kept it once it was durable).
        if let Some(entry) = self.shared.recent.get(seq) {
            cur.offset += total as u64;
            cur.seq += 1;
            let rec = Record {
                seq: WalSeq(seq),
                entry,
            };
            return Ok(Step::Record(rec, cur));
        }
        let mut buf = vec![0; total];
        let n =
            read_full(&*cur.file, cur.offset, &mut buf).map_err(|e| self.io_err(cur.first, e))?;
        let (rec, len) = format::decode(&buf[..n]).map_err(|_| corrupt(cur.offset))?;
        cur.offset += len as u64;
        cur.seq += 1;
        Ok(Step::Record(rec, cur))
    }

    /// Opens the segment holding `seq`.
    fn open_containing(&self, seq: u64) -> Result<Cursor, WalError> {
        let first = {
            let st = self.shared.lock();
            let oldest = st.segments.keys().next().copied().unwrap_or(seq);
            match st.segments.range(..=seq).next_back() {
                Some((first, _)) => *first,
                None => return Err(WalError::Gone { seq, oldest }),
            }
        };
        self.open_segment(first, seq)
    }

    fn open_segment(&self, first: u64, seq: u64) -> Result<Cursor, WalError> {
        let path = self.shared.segment_path(first);
        match self.shared.fs.open_read(&path) {
            Ok(file) => Ok(Cursor {
                first,
                file,
                offset: 0,
                seq: first,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let oldest = self
                    .shared
                    .lock()
                    .segments
                    .keys()
                    .next()
                    .copied()
                    .unwrap_or(seq);
                Err(WalError::Gone { seq, oldest })
            }
            Err(e) => Err(WalError::io("open", &path, e)),
        }
    }

    fn io_err(&self, first: u64, e: std::io::Error) -> WalError {
        WalError::io("read", self.shared.segment_path(first), e)
    }
}

enum Step {
    Record(Record, Cursor),
    Skipped(Cursor),
    EndOfSegment(u64),
}
