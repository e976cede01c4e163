//! The write-ahead log: acknowledged means durable.
//!
//! Owns: the on-disk record and segment format, group commit (one fdatasync shared by
//! every append pending at that moment), replay and torn-tail repair at open, named
//! consumer cursors, segment garbage collection and the disk quota. Does not own what
//! the lines mean (see `ingest`, `forward`, `store`), nor turning [`WalError::Full`]
//! into a 503 (see `http`).
//!
//! # Format specification (version 1)
//!
//! A WAL is a directory holding *segment* files, *cursor* files and nothing else that
//! the WAL reads.
//!
//! ## Segments
//!
//! A segment is named `<first seq>.seg`, the sequence number of its first record written
//! as 20 decimal digits (`00000000000000000001.seg`), so names sort in log order. It holds
//! records back to back, nothing else: no file header, no padding. A segment is closed
//! (a new one started) when appending the next record would make it larger than
//! `segment_bytes`; a record larger than that gets a segment of its own. Only the newest
//! segment is appended to. Zero bytes after the last record mean end of data.
//!
//! With `preallocate` (the default), every segment file is zero-filled to
//! `segment_bytes` and fdatasynced before its first record: the next one in the
//! background, as `prealloc-<16 hex digits>.tmp`, renamed to its segment name (then the
//! directory fsynced) when the writer rotates. Overwriting allocated blocks roughly
//! halves the cost of each fdatasync (no block allocation or size change to journal).
//! Leftover `prealloc-*.tmp` files are removed at open.
//!
//! ## Lock
//!
//! An open WAL holds an exclusive `flock` on the file `LOCK` in its directory (created if
//! missing; it holds the holder's pid, for the error another opener gets). A second open,
//! in this process or another, waits up to 2 s for it and then fails with
//! [`WalError::Locked`]: two writers appending to one log would overwrite each other's
//! acknowledged records. `close` frees it, and so does the end of the process, a `kill -9`
//! included. `sluice wal inspect` only reads, and takes no lock.
//!
//! ## Records
//!
//! All integers little-endian. Header, 20 bytes:
//!
//! | offset | size | field |
//! |---:|---:|---|
//! | 0 | 2 | magic `"SW"` (0x53 0x57) |
//! | 2 | 1 | version, `1` |
//! | 3 | 1 | flags: bit 0 = line bytes are an LZ4 block; other bits must be 0 |
//! | 4 | 4 | body length `n` (≤ 256 MiB) |
//! | 8 | 8 | sequence number |
//! | 16 | 4 | CRC32C (Castagnoli) of the `n` body bytes, continued over header bytes 0..16 |
//!
//! Body, `n` bytes:
//!
//! | size | field |
//! |---:|---|
//! | 1 | tenant id length `t` |
//! | t | tenant id, UTF-8 |
//! | 1 | bucket name length `b` |
//! | b | bucket name, UTF-8 |
//! | 1 | precision code (`Precision::code`: 0 ns, 1 us, 2 ms, 3 s, 4 m, 5 h) |
//! | 1 | kind: 0 = client write, 1 = derived (rollup) |
//! | 4 | line bytes length before compression |
//! | rest | line bytes: raw, or (flag bit 0) one LZ4 block (`lz4_flex::block`), or (flag bit 1) a gzip stream (one or more members) |
//!
//! The CRC covers every header byte except itself, so any corruption of a header or body
//! byte is detected. With `Compression::Lz4` a record is stored compressed only when that
//! is smaller, and a record whose lines arrived gzipped (Telegraf's default) is stored as
//! that gzip stream: no second compression on the write path, and ~2× fewer bytes than
//! LZ4. At most one flag bit is set; any other flag value is a bad header.
//!
//! ## Sequence numbers
//!
//! Strictly contiguous: the first record ever is seq 1, each record is the previous + 1,
//! across segments (a segment named `s` follows one whose last record is `s - 1`). Any gap
//! is corruption.
//!
//! ## Cursor files
//!
//! A consumer named `name` (ASCII letters, digits, `_`, `-`; 1–64 bytes) has the file
//! `<name>.cursor`, 16 bytes: magic `"SLCU"`, the u64 seq of the highest record it has
//! fully processed, and the CRC32C of those 12 bytes. It is written atomically:
//! `<name>.cursor.tmp`, fsync, rename, fsync of the directory. A segment is deleted when
//! every registered consumer's cursor is at or past its last record; the newest segment is
//! never deleted; with no consumer registered, nothing is deleted.
//!
//! ## Replay rules (at open)
//!
//! Segments are read in name order and every record's CRC and seq are checked.
//! At the first bytes that are not a valid record:
//! - if they are all zero bytes up to the end of the file, that is end of data
//!   (preallocated space); nothing is cut and appending resumes there.
//! - if no valid record follows anywhere (in that segment or a later one), they are a
//!   torn tail: cut (the segment truncated, later segment files removed) and logged
//!   with segment, offset and bytes cut (non-zero bytes). A preallocated newest segment
//!   is zero-filled again after the cut.
//! - if any valid record follows, it is [`WalError::Corrupt`] with segment and offset:
//!   the WAL refuses to open. Nothing is ever skipped silently.
//!
//! A valid record with an unexpected seq, or a segment whose name does not continue the
//! previous one, is also `Corrupt`. A valid record is one whose magic, version, flags,
//! length and CRC check; searching for one after bad bytes tries every offset where
//! `"SW", 1` occurs. `inspect` applies the same rules without changing
//! anything.
//!
//! ## Durability
//!
//! `append` resolves after the write *and* the fdatasync covering its record
//! (`SyncMode::Always`). A writer thread drains every pending append into one write and
//! one fdatasync (group commit). Readers never see a record before it is durable.
//! `SyncMode::None` skips the fdatasync: unsafe, for benchmarks only. A failed fdatasync
//! poisons the WAL (the page cache can no longer be trusted): appends fail until restart.
//! A failed write (e.g. ENOSPC) is undone by truncating the segment back; appends in
//! that group fail and later ones are tried again.
//!
//! ## Quota
//!
//! `max_disk` bounds the bytes of records in segment files plus the bytes of appends
//! in flight. Preallocated zeros are not counted: budget up to two `segment_bytes`
//! more (the newest segment and the one being prepared). An append that would exceed
//! the quota fails at once with [`WalError::Full`]; nothing accepted is dropped.
//! `retry_after_secs` divides the missing bytes by the rate at which segment deletion
//! freed bytes over the last minute, clamped to 1..=60, or is 10 without recent frees.
//!
//! Only one process may open a directory at a time; nothing enforces it yet.

mod cursor;
mod format;
mod handle;
mod inspect;
mod io;
mod reader;
mod recent;
mod replay;
mod segment;
mod state;
mod writer;

#[cfg(test)]
mod testfs;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_lock;
#[cfg(test)]
mod tests_model;

use std::path::PathBuf;

pub use handle::{Wal, WalStats};
pub use inspect::{InspectReport, SegmentReport, inspect};
pub use io::{StdFs, WalFile, WalFs};
pub use reader::WalReader;
pub use replay::{ReplayReport, Truncation};
pub use state::WalObservations;

use crate::error::{ErrorCode, HasErrorCode};

/// Default segment size: 64 MiB.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

/// How the WAL is opened.
#[derive(Debug, Clone)]
pub struct WalConfig {
    pub dir: PathBuf,
    /// Quota: bytes of records in segment files plus appends in flight (see "Quota").
    pub max_disk: u64,
    /// Segment files are closed once they reach this size.
    pub segment_bytes: u64,
    pub sync: SyncMode,
    pub compression: Compression,
    /// Zero-fill each segment file to `segment_bytes` before use (in the background for
    /// all but the first), which roughly halves the cost of each fdatasync.
    pub preallocate: bool,
}

impl WalConfig {
    /// A config with the default segment size, `SyncMode::Always`, no compression and
    /// preallocated segments.
    pub fn new(dir: impl Into<PathBuf>, max_disk: u64) -> Self {
        Self {
            dir: dir.into(),
            max_disk,
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            sync: SyncMode::Always,
            compression: Compression::None,
            preallocate: true,
        }
    }
}

/// Whether an append waits for fdatasync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// fdatasync before an append resolves (group commit).
    Always,
    /// No fdatasync: a crash loses acknowledged writes. Benchmarks only.
    None,
}

/// Compression of the line bytes of each record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Lz4,
}

/// Everything that can go wrong in the WAL.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error("wal is full: {used} of {limit} bytes used, retry in {retry_after_secs} s")]
    Full {
        used: u64,
        limit: u64,
        retry_after_secs: u64,
    },
    #[error("record of {len} bytes exceeds the wal record limit")]
    TooLarge { len: usize },
    #[error("wal {op} failed on {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "wal directory {dir} is in use by another sluice process ({holder}): one WAL takes one process, or acknowledged writes could be lost"
    )]
    Locked { dir: PathBuf, holder: String },
    #[error("wal segment {segment} is corrupt at offset {offset}")]
    Corrupt { segment: String, offset: u64 },
    #[error("wal cursor file {name} is corrupt")]
    CorruptCursor { name: String },
    #[error("invalid wal consumer name {name:?}")]
    InvalidConsumer { name: String },
    #[error("wal consumer {name:?} is not registered")]
    UnknownConsumer { name: String },
    #[error("wal cursor {upto} for {name:?} is beyond the last durable record {last}")]
    CursorAhead { name: String, upto: u64, last: u64 },
    #[error("wal cursor {upto} for {name:?} is behind its committed cursor {current}")]
    CursorBehind {
        name: String,
        upto: u64,
        current: u64,
    },
    #[error("wal record {seq} is no longer on disk (oldest is {oldest})")]
    Gone { seq: u64, oldest: u64 },
    #[error("wal is poisoned by an earlier fsync failure; restart to recover")]
    Poisoned,
    #[error("wal is closed")]
    Closed,
}

impl WalError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

impl HasErrorCode for WalError {
    fn error_code(&self) -> ErrorCode {
        match self {
            Self::Full { .. } => ErrorCode::Unavailable,
            Self::Io { source, .. } if source.kind() == std::io::ErrorKind::StorageFull => {
                ErrorCode::Unavailable
            }
            Self::TooLarge { .. } => ErrorCode::RequestTooLarge,
            _ => ErrorCode::Internal,
        }
    }
}
