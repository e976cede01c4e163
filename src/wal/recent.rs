//! The records appended last, decoded: readers near the head (the store consumer, the
//! downsampler, the forwarder) take them from here instead of decompressing what the writer
//! just compressed (or the client's gzip body) once per reader.
//!
//! Owns: keeping the newest records up to a byte budget, oldest out first, and longer (up to
//! a second budget) while a reader has not read them yet. Does not own durability: the writer
//! puts a record here only once it is durable, and a reader asks only for durable records.
//!
//! Why the second budget: in a burst the slowest consumer (the downsampler, which does the
//! most per line) falls behind the writer by more than `RECENT_BYTES`; decoding its records
//! from disk again costs more than what it does with them. Memory stays bounded either way.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use crate::model::Entry;

/// Line bytes kept (the decoded size) whether or not a reader still needs them.
pub const RECENT_BYTES: usize = 32 << 20;
/// Line bytes kept while a reader has not read them yet; a reader further behind decodes
/// from disk.
pub const RECENT_LAGGING_BYTES: usize = 128 << 20;

#[derive(Debug, Default)]
struct Kept {
    entries: VecDeque<(u64, Entry)>,
    bytes: usize,
    /// The next seq of each live reader (a reader drops its `Arc` when it goes).
    readers: Vec<Weak<AtomicU64>>,
}

impl Kept {
    /// The smallest next seq of the live readers (forgetting the dropped ones).
    fn oldest_wanted(&mut self) -> u64 {
        let mut oldest = u64::MAX;
        self.readers.retain(|r| match r.upgrade() {
            Some(next) => {
                oldest = oldest.min(next.load(Ordering::Relaxed));
                true
            }
            None => false,
        });
        oldest
    }
}

/// The newest durable records, by seq.
#[derive(Debug)]
pub struct Recent {
    max_bytes: usize,
    lagging_bytes: usize,
    kept: Mutex<Kept>,
}

impl Recent {
    /// Keeps `max_bytes`, and up to `lagging_bytes` of records a reader has not read yet.
    pub fn new(max_bytes: usize, lagging_bytes: usize) -> Self {
        Self {
            max_bytes,
            lagging_bytes: lagging_bytes.max(max_bytes),
            kept: Mutex::new(Kept::default()),
        }
    }

    /// A reader whose next seq is `next`: it keeps the position up to date, and records from
    /// there on are kept (within `lagging_bytes`) until it reads them or drops the position.
    pub fn follow(&self, next: u64) -> Arc<AtomicU64> {
        let pos = Arc::new(AtomicU64::new(next));
        self.lock().readers.push(Arc::downgrade(&pos));
        pos
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps record `seq` (seqs come in increasing order), dropping the oldest over budget.
    pub fn put(&self, seq: u64, entry: Entry) {
        let len = entry.lines.len();
        if len > self.lagging_bytes {
            return;
        }
        let mut k = self.lock();
        if k.entries.back().is_some_and(|(last, _)| *last >= seq) {
            // Out of order would break the search: start again from here.
            k.entries.clear();
            k.bytes = 0;
        }
        let mut wanted = None;
        while k.bytes + len > self.max_bytes {
            let Some(&(front, _)) = k.entries.front() else {
                break;
            };
            if k.bytes + len <= self.lagging_bytes {
                let oldest = *wanted.get_or_insert_with(|| k.oldest_wanted());
                if front >= oldest {
                    break;
                }
            }
            if let Some((_, e)) = k.entries.pop_front() {
                k.bytes -= e.lines.len();
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
        let r = Recent::new(10, 10);
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

    #[test]
    fn keeps_what_a_reader_has_not_read_within_the_second_budget() {
        let r = Recent::new(4, 8);
        let reader = r.follow(2);
        r.put(1, entry("aa"));
        r.put(2, entry("bb"));
        r.put(3, entry("cc"));
        assert!(
            r.get(1).is_none(),
            "read by every reader: out over the first budget"
        );
        r.put(4, entry("dd"));
        r.put(5, entry("ee"));
        assert_eq!(r.get(2).unwrap().lines, "bb", "not read yet: kept");
        r.put(6, entry("ff"));
        assert!(
            r.get(2).is_none(),
            "over the second budget: out even if not read"
        );
        assert_eq!(r.get(3).unwrap().lines, "cc");
        reader.store(6, Ordering::Relaxed);
        r.put(7, entry("gg"));
        assert!(r.get(5).is_none(), "read: out over the first budget");
        assert_eq!(r.get(6).unwrap().lines, "ff");
        drop(reader);
        r.put(8, entry("hh"));
        assert!(r.get(6).is_none(), "a dropped reader keeps nothing");
        assert_eq!(r.get(7).unwrap().lines, "gg");
    }
}
