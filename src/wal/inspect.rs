//! `sluice wal inspect DIR`: a read-only report on a WAL directory.
//!
//! Owns: `InspectReport` (Display for people, Serialize for JSON). Applies the replay
//! rules without changing a byte: a torn tail is reported, not cut. Does not own the CLI.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Serialize;

use super::WalError;
use super::cursor::load_cursors;
use super::io::StdFs;
use super::replay::{Truncation, replay};
use super::segment::segment_name;

/// What a WAL directory holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InspectReport {
    pub dir: String,
    pub segments: Vec<SegmentReport>,
    pub total_records: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// Consumer name → highest seq it has processed.
    pub cursors: BTreeMap<String, u64>,
    /// Bytes of segment files on disk (including preallocated space).
    pub total_bytes: u64,
    /// Bytes of valid records.
    pub data_bytes: u64,
    /// A torn tail that the next open will cut.
    pub torn_tail: Option<Truncation>,
}

/// One segment file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentReport {
    pub name: String,
    /// Bytes of valid records (a torn tail is not counted).
    pub size: u64,
    /// Size of the file (larger than `size` when preallocated).
    pub file_size: u64,
    pub records: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
}

/// Reads the WAL in `dir` without modifying it.
pub fn inspect(dir: &Path) -> Result<InspectReport, WalError> {
    let fs = StdFs;
    let replayed = replay(&fs, dir, false)?;
    let cursors = load_cursors(&fs, dir)?;
    let segments: Vec<SegmentReport> = replayed
        .segments
        .iter()
        .map(|s| {
            let range = (s.records > 0).then(|| (s.first_seq, s.first_seq + s.records - 1));
            SegmentReport {
                name: segment_name(s.first_seq),
                size: s.size,
                file_size: s.file_size,
                records: s.records,
                first_seq: range.map(|r| r.0),
                last_seq: range.map(|r| r.1),
            }
        })
        .collect();
    Ok(InspectReport {
        dir: dir.display().to_string(),
        total_records: segments.iter().map(|s| s.records).sum(),
        first_seq: segments.iter().find_map(|s| s.first_seq),
        last_seq: segments.iter().rev().find_map(|s| s.last_seq),
        data_bytes: segments.iter().map(|s| s.size).sum(),
        total_bytes: segments.iter().map(|s| s.file_size).sum(),
        segments,
        cursors,
        torn_tail: replayed.truncated,
    })
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

impl fmt::Display for InspectReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "wal {}", self.dir)?;
        writeln!(
            f,
            "records {}  seq {}..{}  segments {}  bytes {} ({} of records)",
            self.total_records,
            opt(self.first_seq),
            opt(self.last_seq),
            self.segments.len(),
            self.total_bytes,
            self.data_bytes
        )?;
        for s in &self.segments {
            writeln!(
                f,
                "  {}  {:>12} B ({:>12} B file)  {:>8} records  seq {}..{}",
                s.name,
                s.size,
                s.file_size,
                s.records,
                opt(s.first_seq),
                opt(s.last_seq)
            )?;
        }
        for (name, seq) in &self.cursors {
            writeln!(f, "  cursor {name} = {seq}")?;
        }
        if let Some(t) = &self.torn_tail {
            writeln!(
                f,
                "  torn tail: {} at offset {}, {} bytes to cut on open ({} later segment files)",
                t.segment, t.offset, t.bytes_cut, t.segments_removed
            )?;
        }
        Ok(())
    }
}
