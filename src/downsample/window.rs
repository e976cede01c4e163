//! One window of one output series: running aggregates per field and raw series while points
//! arrive in time order, every point once one does not.
//!
//! Owns: what a window keeps of its points and turning that into per-field, per-series
//! summaries for `aggregate`. Does not own when windows close or expire (`state`), nor
//! reading back the points of a window that fell out of order (`refill`).
//!
//! Why two forms: a running cell (`Run`, ~80 bytes per field and series) is all a window needs
//! while each series' points come in time order — Telegraf's normal case — whatever the window's
//! length. A point older than its series' newest (a resent batch, a late point of a series
//! that already moved on) cannot be folded into running aggregates exactly: the window then
//! starts again as a log of every point, refilled from the WAL by the engine.

use super::aggregate::{Point, Run, Summary};

/// A field of a rule, by the number the rule gave its name.
pub type FieldId = u32;

/// A running cell: field, raw series index (in the group's `sids`) and aggregates.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cell {
    field: FieldId,
    sidx: u32,
    run: Run,
}

/// A field and raw series' newest point (`rate`'s previous point).
pub type Last = (FieldId, u32, Point);

/// Keeps `p` in `lasts` if it is the newest point of its field and series (or a later write
/// of it).
pub fn keep_newest(lasts: &mut Vec<Last>, field: FieldId, sidx: u32, p: Point) {
    match lasts.iter_mut().find(|l| (l.0, l.1) == (field, sidx)) {
        Some(l) if p.ts >= l.2.ts => l.2 = p,
        Some(_) => {}
        None => lasts.push((field, sidx, p)),
    }
}

/// One point as it arrived: `sidx` is the raw series' index in its group's `sids`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Entry {
    ts: i64,
    v: f64,
    field: FieldId,
    sidx: u32,
}

#[derive(Debug)]
enum Body {
    /// Every series' points so far came in time order.
    Running(Vec<Cell>),
    /// Every point, in arrival order.
    Log(Vec<Entry>),
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
    /// Emptied to be refilled from the WAL: points pushed meanwhile are ignored (the refill
    /// reads them too).
    pub refilling: bool,
    body: Body,
}

impl Window {
    /// A window kept as running aggregates (`log`: as a log of every point), with room for
    /// `cells` running cells (a series' fields: a line's, mostly).
    pub fn new(seq: u64, log: bool, cells: usize) -> Self {
        Self {
            first_seq: seq,
            closed: false,
            dirty: false,
            refilling: false,
            body: if log {
                Body::Log(Vec::new())
            } else {
                Body::Running(Vec::with_capacity(cells))
            },
        }
    }

    /// Adds a line's points (`fields`, at time `ts`) of the group's raw series `sidx`. False
    /// when one is older than its series' newest in a running window (that cell is left as it
    /// was): the window must be refilled as a log.
    pub fn push_line(&mut self, fields: &[(FieldId, f64)], sidx: u32, ts: i64) -> bool {
        if self.refilling {
            return true;
        }
        match &mut self.body {
            Body::Log(log) => {
                log.extend(
                    fields
                        .iter()
                        .map(|&(field, v)| Entry { ts, v, field, sidx }),
                );
                true
            }
            Body::Running(cells) => {
                let mut in_order = true;
                for (i, &(field, v)) in fields.iter().enumerate() {
                    let p = Point { ts, v };
                    let mine = |c: &Cell| c.field == field && c.sidx == sidx;
                    // Where the cell is likely to be: the field's position in its line.
                    let at = match cells.get(i) {
                        Some(c) if mine(c) => Some(i),
                        _ => cells.iter().position(mine),
                    };
                    in_order &= match at.and_then(|i| cells.get_mut(i)) {
                        Some(c) => c.run.push(p),
                        None => {
                            cells.push(Cell {
                                field,
                                sidx,
                                run: Run::new(p),
                            });
                            true
                        }
                    };
                }
                in_order
            }
        }
    }

    /// Adds one point (`push_line` with one field).
    #[cfg(test)]
    pub fn push(&mut self, field: FieldId, sidx: u32, p: Point) -> bool {
        self.push_line(&[(field, p.v)], sidx, p.ts)
    }

    /// Empties the window to be refilled, point by point, from the records since
    /// `first_seq` (`refilled` ends that).
    pub fn start_refill(&mut self) {
        self.body = Body::Log(Vec::new());
        self.refilling = true;
    }

    /// Adds a point read back from the WAL while refilling.
    pub fn refill(&mut self, field: FieldId, sidx: u32, p: Point) {
        if let Body::Log(log) = &mut self.body {
            log.push(Entry {
                ts: p.ts,
                v: p.v,
                field,
                sidx,
            });
        }
    }

    pub fn refilled(&mut self) {
        self.refilling = false;
    }

    /// The last point of field `field` of series `sidx`: the newest time, and of two points
    /// with that time the later write.
    pub fn last(&self, field: FieldId, sidx: u32) -> Option<Point> {
        match &self.body {
            Body::Running(cells) => cells
                .iter()
                .find(|c| c.field == field && c.sidx == sidx)
                .map(|c| c.run.last()),
            Body::Log(log) => log
                .iter()
                .filter(|e| e.field == field && e.sidx == sidx)
                .reduce(|b, e| if e.ts >= b.ts { e } else { b })
                .map(|e| Point { ts: e.ts, v: e.v }),
        }
    }

    /// Each series' last point of each field (what `rate`'s carry keeps).
    pub fn lasts(&self) -> Vec<Last> {
        match &self.body {
            Body::Running(cells) => cells
                .iter()
                .map(|c| (c.field, c.sidx, c.run.last()))
                .collect(),
            Body::Log(log) => {
                let mut out = Vec::new();
                for e in log {
                    keep_newest(&mut out, e.field, e.sidx, Point { ts: e.ts, v: e.v });
                }
                out
            }
        }
    }

    /// The summaries per field (sorted by field id) and per raw series (sorted by sid; `sids`
    /// maps `sidx` to sid). A log is folded the way running cells fold their points: sorted by
    /// time, one point per time (the later write wins), so both forms give the same numbers.
    pub fn summaries(&self, sids: &[u64]) -> Vec<(FieldId, Vec<Summary>)> {
        let sid = |sidx: u32| sids.get(sidx as usize).copied().unwrap_or_default();
        let mut cells: Vec<(FieldId, Summary)> = match &self.body {
            Body::Running(cells) => cells
                .iter()
                .map(|c| (c.field, c.run.summary(sid(c.sidx))))
                .collect(),
            Body::Log(log) => {
                let mut log = log.clone();
                // Stable: of two points with the same field, series and time, the later write
                // stays after the earlier one.
                log.sort_by_key(|e| (e.field, e.sidx, e.ts));
                log.chunk_by(|a, b| (a.field, a.sidx) == (b.field, b.sidx))
                    .map(|s| {
                        let p = |e: &Entry| Point { ts: e.ts, v: e.v };
                        let mut run = Run::new(p(&s[0]));
                        for e in &s[1..] {
                            run.push(p(e));
                        }
                        (s[0].field, run.summary(sid(s[0].sidx)))
                    })
                    .collect()
            }
        };
        cells.sort_by_key(|(f, s)| (*f, s.sid));
        let mut out: Vec<(FieldId, Vec<Summary>)> = Vec::new();
        for run in cells.chunk_by(|a, b| a.0 == b.0) {
            out.push((run[0].0, run.iter().map(|(_, s)| *s).collect()));
        }
        out
    }

    /// Heap bytes held (an estimate for `/metrics`; the window itself is in its group).
    pub fn bytes(&self) -> usize {
        match &self.body {
            Body::Running(cells) => cells.capacity() * std::mem::size_of::<Cell>(),
            Body::Log(log) => log.capacity() * std::mem::size_of::<Entry>(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(ts: i64, v: f64) -> Point {
        Point { ts, v }
    }

    /// Per field: (sid, count, sum, last value) of each series.
    type Brief = Vec<(FieldId, Vec<(u64, u64, f64, f64)>)>;

    fn pts(w: &Window, sids: &[u64]) -> Brief {
        w.summaries(sids)
            .into_iter()
            .map(|(f, s)| {
                let s = s.iter().map(|s| (s.sid, s.n, s.sum, s.last.v)).collect();
                (f, s)
            })
            .collect()
    }

    #[test]
    fn running_cells_fold_in_order_points_and_refuse_older_ones() {
        let mut w = Window::new(1, false, 1);
        assert!(w.push(1, 0, p(10, 1.0)));
        assert!(w.push(0, 0, p(10, 2.0)));
        assert!(w.push(1, 0, p(20, 3.0)));
        // A rewrite of the newest point: the later write wins.
        assert!(w.push(1, 0, p(20, 4.0)));
        assert_eq!(w.last(1, 0), Some(p(20, 4.0)));
        assert_eq!(
            pts(&w, &[0]),
            [(0, vec![(0, 1, 2.0, 2.0)]), (1, vec![(0, 2, 5.0, 4.0)])]
        );
        // Older than the series' newest: refused, nothing changed.
        assert!(!w.push(1, 0, p(15, 9.0)));
        assert_eq!(w.last(1, 0), Some(p(20, 4.0)));
        assert_eq!(w.last(0, 1), None);
    }

    #[test]
    fn a_log_gives_what_running_cells_give() {
        let points = [
            (0, 10, 1.0),
            (1, 10, 2.0),
            (0, 20, 3.0),
            (0, 20, 4.0),
            (1, 30, 5.0),
        ];
        let mut run = Window::new(1, false, 1);
        let mut log = Window::new(1, true, 1);
        for &(sidx, ts, v) in &points {
            assert!(run.push(7, sidx, p(ts, v)));
            assert!(log.push(7, sidx, p(ts, v)));
        }
        assert_eq!(run.summaries(&[9, 4]), log.summaries(&[9, 4]));
        // Series sort by sid, not arrival.
        let sids: Vec<u64> = log.summaries(&[9, 4])[0].1.iter().map(|s| s.sid).collect();
        assert_eq!(sids, [4, 9]);
        let mut a = run.lasts();
        let mut b = log.lasts();
        a.sort_by_key(|l| l.1);
        b.sort_by_key(|l| l.1);
        assert_eq!(a, b);
    }

    #[test]
    fn a_refill_ignores_pushes_until_it_is_done() {
        let mut w = Window::new(1, false, 1);
        assert!(w.push(0, 0, p(20, 1.0)));
        w.start_refill();
        assert!(w.push(0, 0, p(10, 2.0)));
        w.refill(0, 0, p(20, 1.0));
        w.refill(0, 0, p(10, 2.0));
        w.refilled();
        assert!(w.push(0, 0, p(5, 3.0)));
        assert_eq!(pts(&w, &[0]), [(0, vec![(0, 3, 6.0, 1.0)])]);
    }
}
