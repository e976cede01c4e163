//! Replay at open: check every segment, cut a torn tail, refuse corruption.
//!
//! Owns: the rules of the "Replay rules" section of the module docs, applied either
//! repairing (open) or read-only (inspect). Does not own the record codec (see `format`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::WalError;
use super::io::WalFs;
use super::segment::{Tail, find_valid_record, parse_segment_name, scan, segment_name};
use super::state::SegMeta;
use crate::model::WalSeq;

/// What open found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    pub segments: usize,
    pub records: u64,
    /// The last record in the WAL (`WalSeq(0)` if there is none).
    pub last_seq: WalSeq,
    pub truncated: Option<Truncation>,
}

/// A torn tail that was cut (or, for `inspect`, would be).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Truncation {
    pub segment: String,
    pub offset: u64,
    /// Torn bytes removed: the non-zero rest of that segment plus any later segment files
    /// (zero bytes of preallocation are not counted).
    pub bytes_cut: u64,
    /// Later segment files (without a valid record) removed with it.
    pub segments_removed: usize,
}

/// One segment after replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayedSegment {
    pub first_seq: u64,
    pub records: u64,
    /// Bytes of valid records (where appending resumes).
    pub size: u64,
    /// Size of the file (larger than `size` when preallocated).
    pub file_size: u64,
}

#[derive(Debug)]
pub struct Replayed {
    pub segments: Vec<ReplayedSegment>,
    pub truncated: Option<Truncation>,
}

impl Replayed {
    pub fn metas(&self) -> BTreeMap<u64, SegMeta> {
        self.segments
            .iter()
            .map(|s| {
                let last_seq = (s.records > 0).then(|| s.first_seq + s.records - 1);
                (
                    s.first_seq,
                    SegMeta {
                        size: s.size,
                        last_seq,
                    },
                )
            })
            .collect()
    }

    pub fn next_seq(&self) -> Option<u64> {
        self.segments.last().map(|s| s.first_seq + s.records)
    }

    pub fn report(&self) -> ReplayReport {
        let records = self.segments.iter().map(|s| s.records).sum();
        let last_seq = self
            .segments
            .iter()
            .rev()
            .find(|s| s.records > 0)
            .map_or(0, |s| s.first_seq + s.records - 1);
        ReplayReport {
            segments: self.segments.len(),
            records,
            last_seq: WalSeq(last_seq),
            truncated: self.truncated.clone(),
        }
    }
}

/// First seqs of the segment files in `dir`, in order.
pub fn list_segments(fs: &dyn WalFs, dir: &Path) -> Result<Vec<u64>, WalError> {
    let mut seqs: Vec<u64> = fs
        .list(dir)
        .map_err(|e| WalError::io("list", dir, e))?
        .iter()
        .filter_map(|n| parse_segment_name(n))
        .collect();
    seqs.sort_unstable();
    Ok(seqs)
}

fn read(fs: &dyn WalFs, dir: &Path, first: u64) -> Result<Vec<u8>, WalError> {
    let path = dir.join(segment_name(first));
    fs.read_all(&path)
        .map_err(|e| WalError::io("read", &path, e))
}

/// Checks every segment of `dir`; with `repair`, cuts a torn tail.
pub fn replay(fs: &dyn WalFs, dir: &Path, repair: bool) -> Result<Replayed, WalError> {
    let seqs = list_segments(fs, dir)?;
    let mut segments = Vec::with_capacity(seqs.len());
    let mut expected: Option<u64> = None;
    for (i, &first) in seqs.iter().enumerate() {
        let name = segment_name(first);
        let corrupt = |offset: usize| WalError::Corrupt {
            segment: name.clone(),
            offset: offset as u64,
        };
        if expected.is_some_and(|e| e != first) {
            return Err(corrupt(0));
        }
        let bytes = read(fs, dir, first)?;
        let s = scan(&bytes, first).map_err(|gap| corrupt(gap.offset))?;
        let torn = match s.tail {
            Tail::Clean | Tail::Zeros => false,
            Tail::Bad => {
                if find_valid_record(&bytes[s.valid_end + 1..]).is_some() {
                    return Err(corrupt(s.valid_end));
                }
                true
            }
        };
        if !torn {
            segments.push(ReplayedSegment {
                first_seq: first,
                records: s.records,
                size: s.valid_end as u64,
                file_size: bytes.len() as u64,
            });
            expected = Some(s.next_seq);
            continue;
        }
        // A torn tail only if no later segment holds a valid record either.
        let mut later_bytes = 0;
        for &later in &seqs[i + 1..] {
            let lb = read(fs, dir, later)?;
            if find_valid_record(&lb).is_some() {
                return Err(corrupt(s.valid_end));
            }
            later_bytes += lb.len() as u64;
        }
        let garbage_end = bytes
            .iter()
            .rposition(|b| *b != 0)
            .map_or(s.valid_end, |p| p + 1);
        let cut = Truncation {
            segment: name.clone(),
            offset: s.valid_end as u64,
            bytes_cut: (garbage_end - s.valid_end) as u64 + later_bytes,
            segments_removed: seqs.len() - i - 1,
        };
        if repair {
            cut_tail(fs, dir, first, s.valid_end as u64, &seqs[i + 1..])?;
            tracing::warn!(
                segment = %cut.segment,
                offset = cut.offset,
                bytes_cut = cut.bytes_cut,
                segments_removed = cut.segments_removed,
                "wal torn tail truncated"
            );
        }
        segments.push(ReplayedSegment {
            first_seq: first,
            records: s.records,
            size: s.valid_end as u64,
            file_size: if repair { s.valid_end } else { bytes.len() } as u64,
        });
        return Ok(Replayed {
            segments,
            truncated: Some(cut),
        });
    }
    Ok(Replayed {
        segments,
        truncated: None,
    })
}

fn cut_tail(
    fs: &dyn WalFs,
    dir: &Path,
    first: u64,
    len: u64,
    later: &[u64],
) -> Result<(), WalError> {
    let path = dir.join(segment_name(first));
    let mut f = fs
        .open_write(&path)
        .map_err(|e| WalError::io("open", &path, e))?;
    f.set_len(len)
        .map_err(|e| WalError::io("truncate", &path, e))?;
    f.sync_data().map_err(|e| WalError::io("fsync", &path, e))?;
    for &l in later {
        let p = dir.join(segment_name(l));
        fs.remove(&p).map_err(|e| WalError::io("remove", &p, e))?;
    }
    fs.sync_dir(dir)
        .map_err(|e| WalError::io("sync dir", dir, e))
}
