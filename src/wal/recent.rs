//! The records appended last, decoded: readers near the head (the store consumer, the
//! downsampler, the forwarder) take them from here instead of decompressing what the writer
//! just compressed (or the client's gzip body) once per reader.
//!
//! Owns: keeping the newest records up to a byte budget, oldest out first. Does not own
//! durability: the writer puts a record here only once it is durable, and a reader asks only
//! for durable records.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use crate::model::Entry;

/// Line bytes kept (the decoded size); a reader further behind decodes from disk.
pub const RECENT_BYTES: usize = 32 << 20;

#[derive(Debug, Default)]
struct Kept {
    entries: VecDeque<(u64, Entry)>,
    bytes: usize,
}

/// The newest durable records, by seq.
#[derive(Debug)]
pub struct Recent {
    max_bytes: usize,
    kept: Mutex<Kept>,
}

impl Recent {
    pub fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            kept: Mutex::new(Kept::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps record `seq` (seqs come in increasing order), dropping the oldest over budget.
    pub fn put(&self, seq: u64, entry: Entry) {
        let len = entry.lines.len();
        if len > self.max_bytes {
            return;
        }
        let mut k = self.lock();
        if k.entries.back().is_some_and(|(last, _)| *last >= seq) {
            // Out of order would break the search: start again from here.
            k.entries.clear();
            k.bytes = 0;
        }
        while k.bytes + len > self.max_bytes {
            match k.entries.pop_front() {
                Some((_, e)) => k.bytes -= e.lines.len(),
                None => break,
            }
        }
        k.bytes += len;
        k.entries.push_back((seq, entry));
    }

    /// Record `seq` if it is still kept.
    pub fn get(&self, seq: u64) -> Option<Entry> {
        let k = self.lock();
        // Seqs increase, with gaps where a record was too large to keep.
        let i = k.entries.binary_search_by_key(&seq, |(s, _)| *s).ok()?;
        k.entries.get(i).map(|(_, e)| e.clone())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::wal::format::tests::entry;

    #[test]
    fn keeps_the_newest_within_the_budget() {
        let r = Recent::new(10);
        r.put(1, entry("aaaa"));
        r.put(2, entry("bbbb"));
        assert_eq!(r.get(1).unwrap().lines, "aaaa");
        r.put(3, entry("cccc"));
        assert!(r.get(1).is_none(), "over budget: the oldest goes");
        assert_eq!(r.get(2).unwrap().lines, "bbbb");
        assert_eq!(r.get(3).unwrap().lines, "cccc");
        assert!(r.get(4).is_none());
        // Too large to keep: skipped, the others stay findable around the gap.
        r.put(4, entry("0123456789ab"));
        r.put(5, entry("dd"));
        assert!(r.get(4).is_none());
        assert_eq!(r.get(5).unwrap().lines, "dd");
        assert_eq!(r.get(3).unwrap().lines, "cccc");
    }
}
