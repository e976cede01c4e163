//! The aggregates of one window of one field: pure functions over points, no state.
//!
//! Owns: what `mean min max sum count first last` and `rate` compute, and the counter
//! wrap/reset rule. Does not own which points a window holds (`state`).

use crate::config::Aggregate;

/// One point of one raw series of a field, `ts` in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub ts: i64,
    pub v: f64,
}

/// What a window keeps of one raw series of a field: running aggregates over its points in
/// time order, one point per timestamp (the later write wins). Points are added with `push`;
/// the newest point stays apart (`last`) until a newer one comes, so a rewrite of it (same
/// timestamp, a later write) replaces it exactly. A point older than `last` cannot be added:
/// the window then keeps its points instead (`window`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Run {
    /// Points before `last` (committed).
    n: u32,
    /// The first committed point (when `n > 0`).
    first: Point,
    /// Sum, minimum and maximum of the committed values.
    sum: f64,
    min: f64,
    max: f64,
    /// The counter's increases between consecutive committed points.
    inc: f64,
    /// The last committed value (when `n > 0`).
    clast: f64,
    /// The newest point.
    last: Point,
}

impl Run {
    pub fn new(p: Point) -> Self {
        Self {
            n: 0,
            first: p,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            inc: 0.0,
            clast: 0.0,
            last: p,
        }
    }

    /// Adds `p`; false (and nothing changed) when it is older than the newest point.
    pub fn push(&mut self, p: Point) -> bool {
        if p.ts > self.last.ts {
            let q = self.last;
            if self.n == 0 {
                self.first = q;
                self.sum = q.v;
            } else {
                self.sum += q.v;
                self.inc += increase(self.clast, q.v);
            }
            self.min = self.min.min(q.v);
            self.max = self.max.max(q.v);
            self.clast = q.v;
            self.n += 1;
        } else if p.ts < self.last.ts {
            return false;
        }
        self.last = p;
        true
    }

    /// The newest point.
    pub fn last(&self) -> Point {
        self.last
    }

    /// The series' summary, `sid` its id in the group.
    pub fn summary(&self, sid: u64) -> Summary {
        let l = self.last;
        if self.n == 0 {
            return Summary {
                sid,
                n: 1,
                sum: l.v,
                min: l.v,
                max: l.v,
                first: l,
                last: l,
                inc: 0.0,
            };
        }
        Summary {
            sid,
            n: u64::from(self.n) + 1,
            sum: self.sum + l.v,
            min: self.min.min(l.v),
            max: self.max.max(l.v),
            first: self.first,
            last: l,
            inc: self.inc + increase(self.clast, l.v),
        }
    }
}

/// One raw series of a field over a window: count, sum, min, max, first and last point, and
/// the counter's increases between its consecutive points (`rate`). `sid` tells raw series
/// apart inside a `group_by` group (0 when the group is the series).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub sid: u64,
    pub n: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub first: Point,
    pub last: Point,
    pub inc: f64,
}

/// A point with the start of the window it is in (for `rate`'s denominator).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prev {
    pub window: i64,
    pub point: Point,
}

/// An aggregate's value: `count` is an integer, everything else a float.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Float(f64),
    Int(i64),
}

/// A decrease from a value at or above this fraction of 2^N is a wrap of an N-bit counter.
pub const WRAP_NEAR: f64 = 0.75;
const TWO_32: f64 = 4_294_967_296.0;
const TWO_64: f64 = 18_446_744_073_709_551_616.0;

/// The increase of a counter from `a` to the next value `b`:
/// - `b >= a`: `b - a`;
/// - `b < a` and `a` in `[0.75 × 2³², 2³²]`: a 32-bit wrap, `2³² - a + b`;
/// - `b < a` and `a` in `[0.75 × 2⁶⁴, 2⁶⁴]`: a 64-bit wrap, `2⁶⁴ - a + b`;
/// - any other decrease is a reset: 0 (the pair contributes nothing).
pub fn increase(a: f64, b: f64) -> f64 {
    if b >= a {
        b - a
    } else if (WRAP_NEAR * TWO_32..=TWO_32).contains(&a) {
        TWO_32 - a + b
    } else if (WRAP_NEAR * TWO_64..=TWO_64).contains(&a) {
        TWO_64 - a + b
    } else {
        0.0
    }
}

/// Computes `agg` over `series` (sorted by sid) of the window starting at `start`.
/// `prev(sid)` is the series' last point before the window and the start of the window it is
/// in, if one is known. `None`: no value (rate without any previous point).
pub fn compute(
    agg: Aggregate,
    start: i64,
    series: &[Summary],
    prev: &dyn Fn(u64) -> Option<Prev>,
) -> Option<Value> {
    let n: u64 = series.iter().map(|s| s.n).sum();
    if n == 0 {
        return None;
    }
    let float = |v: f64| v.is_finite().then_some(Value::Float(v));
    let sum = || series.iter().map(|s| s.sum).fold(-0.0, |a, b| a + b);
    match agg {
        Aggregate::Count => Some(Value::Int(n as i64)),
        Aggregate::Sum => float(sum()),
        Aggregate::Mean => float(sum() / n as f64),
        Aggregate::Min => float(series.iter().map(|s| s.min).fold(f64::INFINITY, f64::min)),
        Aggregate::Max => float(
            series
                .iter()
                .map(|s| s.max)
                .fold(f64::NEG_INFINITY, f64::max),
        ),
        // Ties between series of a group: the smallest (for first) or largest (for last) sid.
        Aggregate::First => {
            let firsts = series.iter().map(|s| s.first);
            float(firsts.reduce(|b, p| if p.ts < b.ts { p } else { b })?.v)
        }
        Aggregate::Last => {
            let lasts = series.iter().map(|s| s.last);
            float(lasts.reduce(|b, p| if p.ts >= b.ts { p } else { b })?.v)
        }
        Aggregate::Rate => rate(start, series, prev).and_then(float),
    }
}

/// The sum over the group's series of each series' rate: the counter's increase from its last
/// point before the window to its last point in the window, over the time between the two
/// windows' starts, in seconds (so `non_negative_derivative(last(x), 1s)` on data without
/// wraps and resets). `None` when no series has a previous point.
fn rate(start: i64, series: &[Summary], prev: &dyn Fn(u64) -> Option<Prev>) -> Option<f64> {
    let mut total = None;
    for s in series {
        let Some(p) = prev(s.sid) else { continue };
        if p.window >= start {
            continue;
        }
        let inc = increase(p.point.v, s.first.v) + s.inc;
        let secs = (start - p.window) as f64 / 1e9;
        *total.get_or_insert(0.0) += inc / secs;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(v: &[(i64, f64)]) -> Vec<Summary> {
        let p = |&(ts, v): &(i64, f64)| Point { ts, v };
        let mut run = Run::new(p(&v[0]));
        for q in &v[1..] {
            assert!(run.push(p(q)));
        }
        vec![run.summary(0)]
    }

    #[test]
    fn wrap_and_reset_rule() {
        assert_eq!(increase(10.0, 15.0), 5.0);
        // 32-bit wrap: 2^32 - 100 → 50 is 150 counts.
        assert_eq!(increase(TWO_32 - 100.0, 50.0), 150.0);
        // 64-bit wrap.
        assert_eq!(increase(TWO_64 - 4096.0, 4096.0), 8192.0);
        // Far from either limit: a reset, contributes nothing.
        assert_eq!(increase(1e6, 10.0), 0.0);
        assert_eq!(increase(TWO_32 * 0.5, 10.0), 0.0);
        // Above 2^32 but far below 2^64: a reset of a 64-bit counter.
        assert_eq!(increase(TWO_32 * 4.0, 10.0), 0.0);
    }

    #[test]
    fn simple_aggregates() {
        let p = pts(&[(1, 3.0), (2, 1.0), (3, 2.0)]);
        let none = |_| None;
        let c = |a| compute(a, 0, &p, &none);
        assert_eq!(c(Aggregate::Count), Some(Value::Int(3)));
        assert_eq!(c(Aggregate::Sum), Some(Value::Float(6.0)));
        assert_eq!(c(Aggregate::Mean), Some(Value::Float(2.0)));
        assert_eq!(c(Aggregate::Min), Some(Value::Float(1.0)));
        assert_eq!(c(Aggregate::Max), Some(Value::Float(3.0)));
        assert_eq!(c(Aggregate::First), Some(Value::Float(3.0)));
        assert_eq!(c(Aggregate::Last), Some(Value::Float(2.0)));
        assert_eq!(c(Aggregate::Rate), None);
    }

    #[test]
    fn rate_is_the_derivative_of_last_between_window_starts() {
        let w = 300_000_000_000i64;
        let p = pts(&[(w + 10, 1000.0), (w + 20, 1600.0)]);
        let prev = |_| {
            Some(Prev {
                window: 0,
                point: Point { ts: 5, v: 400.0 },
            })
        };
        // (1600 - 400) / 300 s
        assert_eq!(
            compute(Aggregate::Rate, w, &p, &prev),
            Some(Value::Float(4.0))
        );
        // A reset inside: 400 → 1000 counts, 1000 → 10 nothing, 10 → 310 counts.
        let p = pts(&[(w + 10, 1000.0), (w + 20, 10.0), (w + 30, 310.0)]);
        assert_eq!(
            compute(Aggregate::Rate, w, &p, &prev),
            Some(Value::Float(3.0))
        );
    }
}
