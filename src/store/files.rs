//! Names of the Parquet files inside a partition directory, and which file supersedes which.
//!
//! Owns: the file-name format `<first>-<last>.parquet`, where `first` and `last` are the WAL
//! sequence numbers (20 decimal digits, zero-padded) of the first and last WAL record whose rows
//! the file holds; a file being written is `<name>.tmp` (see `parquet_file::tmp_path`).
//! A flush writes the rows of records `first..=last`; a compaction writes one file spanning the
//! union of its inputs' ranges and then deletes the inputs. A file whose range lies inside
//! another file's range (and is not the same range) is superseded: its rows are already in the
//! wider file (a crash between a compaction's rename and its deletions leaves such files), so
//! readers ignore it and start-up deletes it. Within a partition, a file with a larger `last`
//! holds later writes: merging files in `last` order gives last-write-wins.
//! Does not own: the partition directories (`layout`) or writing the files (`parquet_file`).

use std::fmt;

use crate::model::WalSeq;

/// The WAL range a Parquet file covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileName {
    pub first: WalSeq,
    pub last: WalSeq,
}

impl FileName {
    pub const SUFFIX: &'static str = ".parquet";

    /// Parses `<first>-<last>.parquet`; `None` for anything else (tmp files, foreign files).
    pub fn parse(name: &str) -> Option<Self> {
        let stem = name.strip_suffix(Self::SUFFIX)?;
        let (a, b) = stem.split_once('-')?;
        if a.len() != 20 || b.len() != 20 || !a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit())
        {
            return None;
        }
        let first = WalSeq(a.parse().ok()?);
        let last = WalSeq(b.parse().ok()?);
        (first <= last).then_some(Self { first, last })
    }

    /// True when `self`'s rows are all in `other` (a strictly wider or different covering range).
    pub fn superseded_by(&self, other: &Self) -> bool {
        self != other && other.first <= self.first && self.last <= other.last
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:020}-{:020}{}",
            self.first.0,
            self.last.0,
            Self::SUFFIX
        )
    }
}

/// The files of one partition that readers use: superseded files removed, sorted by `last`
/// (oldest writes first).
pub fn live_files(mut names: Vec<FileName>) -> Vec<FileName> {
    let all = names.clone();
    names.retain(|n| !all.iter().any(|o| n.superseded_by(o)));
    names.sort_by_key(|n| (n.last, n.first));
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(a: u64, b: u64) -> FileName {
        FileName {
            first: WalSeq(a),
            last: WalSeq(b),
        }
    }

    #[test]
    fn round_trips_and_refuses_other_names() {
        let name = n(7, 1234);
        assert_eq!(
            name.to_string(),
            "00000000000000000007-00000000000000001234.parquet"
        );
        assert_eq!(FileName::parse(&name.to_string()), Some(name));
        for bad in [
            "00000000000000000007-00000000000000001234.parquet.tmp",
            "7-1234.parquet",
            "00000000000000001234-00000000000000000007.parquet",
            "0000000000000000000a-00000000000000001234.parquet",
            "x.parquet",
        ] {
            assert_eq!(FileName::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_compacted_file_supersedes_its_inputs_only() {
        let files = vec![n(1, 5), n(6, 9), n(1, 9), n(10, 12)];
        assert_eq!(live_files(files), vec![n(1, 9), n(10, 12)]);
        assert!(!n(1, 9).superseded_by(&n(1, 9)));
    }
}
