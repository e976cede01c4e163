//! One window of one output series: the points that arrived for it, as an append-only log.
//!
//! Owns: keeping every point of a window until it expires (so duplicates and late points are
//! exact), and turning the log into per-field, per-series point lists for `aggregate`. Does
//! not own when windows close or expire (`state`).
//!
//! Why a log: a line's points all go to the end of one `Vec`, so taking a line touches one
//! place in memory instead of one list per field (the per-field lists missed the cache for
//! every point once the state outgrew it). Sorting happens once per emission, and not at all
//! when the points arrived in time order.

use super::aggregate::{Point, Series};

/// A field of a rule, by the number the rule gave its name.
pub type FieldId = u32;

/// One point as it arrived: `sidx` is the raw series' index in its group's `sids`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Entry {
    ts: i64,
    v: f64,
    field: FieldId,
    sidx: u32,
}

/// One window of one group.
#[derive(Debug)]
pub struct Window {
    /// The first WAL record that put a point here: replay must start before it.
    pub first_seq: u64,
    /// Emitted at least once (the watermark passed its end + grace).
    pub closed: bool,
    /// Changed since it was last emitted.
    pub dirty: bool,
    /// Every point, in arrival order.
    log: Vec<Entry>,
    /// Each entry's time is at least the time of the one before it.
    ordered: bool,
}

impl Window {
    pub fn new(seq: u64) -> Self {
        Self {
            first_seq: seq,
            closed: false,
            dirty: false,
            log: Vec::new(),
            ordered: true,
        }
    }

    /// Adds a point of field `field` of the group's raw series `sidx`.
    pub fn push(&mut self, field: FieldId, sidx: u32, p: Point) {
        if self.log.last().is_some_and(|l| p.ts < l.ts) {
            self.ordered = false;
        }
        self.log.push(Entry {
            ts: p.ts,
            v: p.v,
            field,
            sidx,
        });
    }

    /// The last point of field `field` of series `sidx`: the newest time, and of two points
    /// with that time the later write.
    pub fn last(&self, field: FieldId, sidx: u32) -> Option<Point> {
        let mine = |e: &&Entry| e.field == field && e.sidx == sidx;
        let e = if self.ordered {
            self.log.iter().rev().find(mine)
        } else {
            self.log
                .iter()
                .filter(mine)
                .reduce(|b, e| if e.ts >= b.ts { e } else { b })
        };
        e.map(|e| Point { ts: e.ts, v: e.v })
    }

    /// Keeps only each series' last point of each field (what `rate`'s carry needs).
    pub fn reduce(mut self) -> Self {
        // Stable: the later of two writes with the same time stays last.
        self.log.sort_by_key(|e| (e.field, e.sidx, e.ts));
        let mut keep: Vec<Entry> = self
            .log
            .chunk_by(|a, b| (a.field, a.sidx) == (b.field, b.sidx))
            .filter_map(|run| run.last().copied())
            .collect();
        keep.sort_by_key(|e| e.ts);
        self.log = keep;
        self.ordered = true;
        self
    }

    /// The points per field (sorted by field id) and per raw series (sorted by sid, `sids`
    /// maps `sidx` to sid), each series' points sorted by time with one point per time (the
    /// later write wins).
    pub fn fields(&self, sids: &[u64]) -> Vec<(FieldId, Vec<Series>)> {
        let mut log = self.log.clone();
        // Stable: of two points with the same field, series and time, the later write stays
        // after the earlier one.
        if self.ordered && sids.len() <= 1 {
            log.sort_by_key(|e| e.field);
        } else {
            log.sort_by_key(|e| (e.field, sids.get(e.sidx as usize), e.ts));
        }
        let mut out: Vec<(FieldId, Vec<Series>)> = Vec::new();
        for run in log.chunk_by(|a, b| a.field == b.field) {
            let mut series = Vec::new();
            for s in run.chunk_by(|a, b| a.sidx == b.sidx) {
                let mut pts: Vec<Point> = Vec::with_capacity(s.len());
                for e in s {
                    match pts.last_mut() {
                        Some(l) if l.ts == e.ts => l.v = e.v,
                        _ => pts.push(Point { ts: e.ts, v: e.v }),
                    }
                }
                let sid = sids.get(s[0].sidx as usize).copied().unwrap_or_default();
                series.push(Series { sid, pts });
            }
            out.push((run[0].field, series));
        }
        out
    }

    /// Bytes held (an estimate for `/metrics`).
    pub fn bytes(&self) -> usize {
        64 + self.log.capacity() * std::mem::size_of::<Entry>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(ts: i64, v: f64) -> Point {
        Point { ts, v }
    }

    #[test]
    fn fields_sort_and_keep_the_later_write() {
        let mut w = Window::new(1);
        w.push(1, 0, p(10, 1.0));
        w.push(0, 0, p(10, 2.0));
        w.push(1, 0, p(20, 3.0));
        assert!(w.ordered);
        // Out of order and a rewrite of (field 1, t=10).
        w.push(1, 0, p(10, 4.0));
        w.push(0, 0, p(5, 5.0));
        assert!(!w.ordered);
        let f = w.fields(&[0]);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].1[0].pts, [p(5, 5.0), p(10, 2.0)]);
        assert_eq!(f[1].1[0].pts, [p(10, 4.0), p(20, 3.0)]);
        assert_eq!(w.last(1, 0), Some(p(20, 3.0)));
        assert_eq!(w.last(0, 0), Some(p(10, 2.0)));
        assert_eq!(w.last(0, 1), None);
    }

    #[test]
    fn series_sort_by_sid_not_arrival() {
        let mut w = Window::new(1);
        w.push(0, 0, p(10, 1.0));
        w.push(0, 1, p(10, 2.0));
        w.push(0, 1, p(10, 3.0));
        let f = w.fields(&[9, 4]);
        let sids: Vec<u64> = f[0].1.iter().map(|s| s.sid).collect();
        assert_eq!(sids, [4, 9]);
        assert_eq!(f[0].1[0].pts, [p(10, 3.0)]);
        let r = w.reduce();
        assert_eq!(r.log.len(), 2);
        assert_eq!(r.last(0, 1), Some(p(10, 3.0)));
    }
}
