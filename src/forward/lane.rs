//! Lanes, batches and the acknowledgement watermark.
//!
//! Owns: the per-lane queue of records waiting for delivery, cutting a batch out of it within
//! the line/byte budget, and the watermark (the largest seq S such that every record received
//! with seq <= S was handled). Pure: no IO, no time source.
//! Does not own: delivery (see `deliver`), the scheduling loop (see `run`).

use std::collections::{BTreeMap, VecDeque};
use std::time::SystemTime;

use bytes::Bytes;

use crate::model::{BucketName, Precision, TenantId, WalSeq};

/// Records of one lane share a destination and a precision, and are delivered in order,
/// one request at a time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LaneKey {
    pub tenant: TenantId,
    pub bucket: BucketName,
    pub precision: Precision,
}

/// A record waiting in a lane, already split into lines.
#[derive(Debug, Clone)]
pub struct Pending {
    pub seq: WalSeq,
    pub lines: Vec<Bytes>,
    /// Bytes of the lines, newlines included.
    pub bytes: usize,
}

impl Pending {
    pub fn new(seq: WalSeq, lines: Vec<Bytes>) -> Self {
        let bytes = lines.iter().map(|l| l.len() + 1).sum();
        Self { seq, lines, bytes }
    }
}

/// One lane's queue.
#[derive(Debug, Default)]
pub struct Lane {
    pub queue: VecDeque<Pending>,
    /// A batch of this lane is being delivered.
    pub busy: bool,
}

/// Takes the next batch from the front of `queue`: whole records while they fit in
/// `max_lines` and `max_bytes`; the first record is always taken, even if it alone is larger.
pub fn take_batch(
    queue: &mut VecDeque<Pending>,
    max_lines: usize,
    max_bytes: usize,
) -> Vec<Pending> {
    let mut batch = Vec::new();
    let (mut lines, mut bytes) = (0usize, 0usize);
    while let Some(next) = queue.front() {
        let fits = lines + next.lines.len() <= max_lines && bytes + next.bytes <= max_bytes;
        if !batch.is_empty() && !fits {
            break;
        }
        lines += next.lines.len();
        bytes += next.bytes;
        batch.extend(queue.pop_front());
    }
    batch
}

/// Which received records are still unhandled.
#[derive(Debug, Default)]
pub struct Watermark {
    outstanding: BTreeMap<WalSeq, SystemTime>,
    received: WalSeq,
}

impl Watermark {
    pub fn received(&mut self, seq: WalSeq, at: SystemTime) {
        self.outstanding.insert(seq, at);
        self.received = self.received.max(seq);
    }

    pub fn handled(&mut self, seq: WalSeq) {
        self.outstanding.remove(&seq);
    }

    /// The largest seq such that every received record up to it was handled.
    pub fn value(&self) -> WalSeq {
        match self.outstanding.keys().next() {
            Some(first) => WalSeq(first.0.saturating_sub(1)),
            None => self.received,
        }
    }

    pub fn highest_received(&self) -> WalSeq {
        self.received
    }

    pub fn unhandled(&self) -> usize {
        self.outstanding.len()
    }

    pub fn oldest_since(&self) -> Option<SystemTime> {
        self.outstanding.values().min().copied()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rec(seq: u64, n: usize, len: usize) -> Pending {
        Pending::new(
            WalSeq(seq),
            (0..n).map(|_| Bytes::from(vec![b'x'; len - 1])).collect(),
        )
    }

    #[test]
    fn batches_respect_line_and_byte_budgets() {
        let mut q: VecDeque<Pending> =
            [rec(1, 3, 10), rec(2, 3, 10), rec(3, 3, 10), rec(4, 1, 10)].into();
        let b = take_batch(&mut q, 6, 1000);
        assert_eq!(b.iter().map(|p| p.seq.0).collect::<Vec<_>>(), vec![1, 2]);
        let b = take_batch(&mut q, 100, 40);
        assert_eq!(b.iter().map(|p| p.seq.0).collect::<Vec<_>>(), vec![3, 4]);
        assert!(take_batch(&mut q, 100, 40).is_empty());
    }

    #[test]
    fn an_oversized_record_goes_alone() {
        let mut q: VecDeque<Pending> = [rec(1, 50, 10), rec(2, 1, 10)].into();
        let b = take_batch(&mut q, 10, 100);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].seq, WalSeq(1));
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn watermark_waits_for_the_oldest_unhandled_record() {
        let t = SystemTime::UNIX_EPOCH;
        let mut w = Watermark::default();
        assert_eq!(w.value(), WalSeq(0));
        for s in [3, 4, 5, 7, 9] {
            w.received(WalSeq(s), t);
        }
        assert_eq!(w.value(), WalSeq(2));
        // Lanes complete out of order.
        w.handled(WalSeq(5));
        w.handled(WalSeq(9));
        assert_eq!(w.value(), WalSeq(2));
        w.handled(WalSeq(3));
        assert_eq!(w.value(), WalSeq(3));
        w.handled(WalSeq(4));
        assert_eq!(w.value(), WalSeq(6));
        assert_eq!(w.unhandled(), 1);
        w.handled(WalSeq(7));
        assert_eq!(w.value(), WalSeq(9));
        w.received(WalSeq(10), t);
        assert_eq!(w.value(), WalSeq(9));
        assert_eq!(w.highest_received(), WalSeq(10));
    }
}
