//! Segment files: naming, and scanning a segment's bytes for its valid records.
//!
//! Owns: the segment file name (`<first seq, 20 digits>.seg`) and the pure scan that
//! finds where a segment's valid data ends and what follows it. Does not own the
//! decision what to do with a bad tail (see `replay`).

use super::format::{self, MAGIC, VERSION};

/// File-name suffix of segments.
pub const SEGMENT_SUFFIX: &str = ".seg";

/// The file name of the segment whose first record has sequence number `first_seq`.
pub fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}{SEGMENT_SUFFIX}")
}

/// Parses a segment file name back to its first sequence number.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// What follows a segment's last valid record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tail {
    /// Nothing: the file ends there.
    Clean,
    /// Only zero bytes (preallocated space or a zero-filled torn write): end of data.
    Zeros,
    /// Bytes that are not a valid record (torn or corrupt), starting at `valid_end`.
    Bad,
}

/// The result of scanning one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    pub records: u64,
    /// The seq the next record would have: `first_seq + records`.
    pub next_seq: u64,
    /// Offset just after the last valid record.
    pub valid_end: usize,
    pub tail: Tail,
}

/// A valid record whose seq is not the expected one: a gap, never a torn tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqGap {
    pub offset: usize,
    pub expected: u64,
    pub found: u64,
}

/// Scans `bytes`, the content of the segment whose first record must be `first_seq`.
pub fn scan(bytes: &[u8], first_seq: u64) -> Result<Scan, SeqGap> {
    let mut offset = 0;
    let mut next_seq = first_seq;
    while offset < bytes.len() {
        match format::check(&bytes[offset..]) {
            Ok(h) if h.seq == next_seq => {
                offset += h.total_len;
                next_seq += 1;
            }
            Ok(h) => {
                return Err(SeqGap {
                    offset,
                    expected: next_seq,
                    found: h.seq,
                });
            }
            Err(_) => {
                let tail = if all_zero(&bytes[offset..]) {
                    Tail::Zeros
                } else {
                    Tail::Bad
                };
                return Ok(Scan {
                    records: next_seq - first_seq,
                    next_seq,
                    valid_end: offset,
                    tail,
                });
            }
        }
    }
    Ok(Scan {
        records: next_seq - first_seq,
        next_seq,
        valid_end: offset,
        tail: Tail::Clean,
    })
}

/// The offset of the first valid record (CRC checked) anywhere in `bytes`, if any.
/// Used to tell a torn tail (nothing valid after it) from corruption in the middle.
pub fn find_valid_record(bytes: &[u8]) -> Option<usize> {
    let mut from = 0;
    while from + format::HEADER_LEN <= bytes.len() {
        let pos = bytes[from..]
            .windows(3)
            .position(|w| w[..2] == MAGIC && w[2] == VERSION)?;
        let at = from + pos;
        if format::check(&bytes[at..]).is_ok() {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Whether `bytes` holds only zeros (compared a block at a time: a preallocated segment is
/// mostly zeros, and replay must not crawl through it byte by byte).
fn all_zero(bytes: &[u8]) -> bool {
    static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
    bytes.chunks(ZEROS.len()).all(|c| c == &ZEROS[..c.len()])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::wal::format::encode;
    use crate::wal::format::tests::entry;

    fn records(first: u64, n: u64) -> Vec<u8> {
        let mut out = Vec::new();
        for seq in first..first + n {
            out.extend_from_slice(encode(&entry("m f=1 1\n"), false).unwrap().finish(seq));
        }
        out
    }

    #[test]
    fn names_round_trip_and_sort_by_seq() {
        assert_eq!(segment_name(7), "00000000000000000007.seg");
        assert_eq!(parse_segment_name(&segment_name(u64::MAX)), Some(u64::MAX));
        assert_eq!(parse_segment_name("7.seg"), None);
        assert_eq!(parse_segment_name("00000000000000000007.tmp"), None);
        assert!(segment_name(9) < segment_name(10));
    }

    #[test]
    fn scan_classifies_tails() {
        let good = records(5, 3);
        let s = scan(&good, 5).unwrap();
        assert_eq!(
            (s.records, s.next_seq, s.valid_end, s.tail),
            (3, 8, good.len(), Tail::Clean)
        );

        let mut zeros = good.clone();
        zeros.extend_from_slice(&[0; 100]);
        assert_eq!(scan(&zeros, 5).unwrap().tail, Tail::Zeros);

        let torn = &good[..good.len() - 3];
        let s = scan(torn, 5).unwrap();
        assert_eq!((s.records, s.tail), (2, Tail::Bad));
        assert_eq!(find_valid_record(&torn[s.valid_end..]), None);
    }

    #[test]
    fn scan_reports_gaps_and_finds_records_after_garbage() {
        let bytes = records(5, 2);
        let gap = scan(&bytes, 4).unwrap_err();
        assert_eq!((gap.offset, gap.expected, gap.found), (0, 4, 5));

        let mut bad = records(1, 1);
        let first_len = bad.len();
        bad[first_len - 1] ^= 1;
        bad.extend_from_slice(&records(2, 1));
        assert_eq!(find_valid_record(&bad), Some(first_len));
    }
}
