//! Streams of `(time, value)` points per group: window alignment, fill modes, transformations
//! (`derivative`, `difference`, `moving_average`, `cumulative_sum`, `elapsed`) and `integral`,
//! as InfluxDB 1.x's fill, stream and integral iterators compute them.
//!
//! A stream is in processing order: ascending time, or descending for `ORDER BY time DESC`.
//! A null value (`Datum::Null`) is a window without a value (fill(null)); transformations skip
//! such points.

use chrono::{Offset, TimeZone};

use super::QueryError;
use super::points::{Points, Vals};
use crate::query::plan::{Dialect, Fill, Func, Interval, MIN_TIME};
use crate::query::result::Datum;

/// One point of a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct SPoint {
    pub time: i64,
    pub value: Datum,
    /// Scan row of the selected point, for auxiliary fields (selectors only).
    pub row: Option<u32>,
}

/// How windows are cut: the interval and the zone of `tz()`.
#[derive(Debug, Clone, Copy)]
pub struct Windows {
    pub interval: Interval,
    pub tz: Option<chrono_tz::Tz>,
}

impl Windows {
    /// The zone's offset from UTC at `ns`, in ns (0 without `tz()`).
    fn zone(&self, ns: i64) -> i64 {
        let Some(tz) = self.tz else { return 0 };
        let secs = ns.div_euclid(1_000_000_000);
        let Some(utc) = chrono::DateTime::from_timestamp(secs, 0) else {
            return 0;
        };
        let off = tz.offset_from_utc_datetime(&utc.naive_utc()).fix();
        i64::from(off.local_minus_utc()) * 1_000_000_000
    }

    /// Start of the window holding `t` (InfluxDB's `IteratorOptions.Window`).
    pub fn start(&self, t: i64) -> i64 {
        let every = self.interval.every;
        let t = t.saturating_sub(self.interval.offset);
        let zone = self.zone(t);
        let dt = (t.saturating_add(zone)).rem_euclid(every);
        let mut start = if MIN_TIME.saturating_add(dt) >= t {
            MIN_TIME
        } else {
            t - dt
        };
        if self.tz.is_some() {
            let o = zone - self.zone(start);
            if o != 0 && o.abs() < every {
                start += o;
            }
        }
        start.saturating_add(self.interval.offset)
    }

    /// The window after (or before, descending) the one starting at `w`, correcting for a
    /// zone offset change as the fill iterator does.
    fn step(&self, w: i64, ascending: bool) -> i64 {
        let every = self.interval.every;
        let next = if ascending {
            w.saturating_add(every)
        } else {
            w.saturating_sub(every)
        };
        if self.tz.is_none() {
            return next;
        }
        let (before, after) = (self.zone(w - 1), self.zone(next - 1));
        let diff = before - after;
        if diff != 0 && diff.abs() < every {
            next + diff
        } else {
            next
        }
    }
}

/// How the points of a window are reduced: whose rules, and (Flux, a group of several series)
/// the rank of each point's series (`ranks[i]` for point `i` of the reduced points), to reduce
/// a window's points series by series.
#[derive(Clone, Copy)]
pub struct Reducing<'a> {
    pub dialect: Dialect,
    pub ranks: Option<&'a [u32]>,
}

impl Reducing<'_> {
    pub const INFLUXQL: Reducing<'static> = Reducing {
        dialect: Dialect::InfluxQl,
        ranks: None,
    };

    fn reduce(
        &self,
        func: &Func,
        p: &Points,
        r: std::ops::Range<usize>,
    ) -> Result<Vec<super::reduce::Out>, QueryError> {
        match self.ranks {
            // Points already in series order (equal times keep the scan's order, which is
            // often Flux's) are reduced in place, without a copy.
            Some(ranks) if r.len() > 1 && !ranks[r.clone()].is_sorted() => {
                // Stable: a series' points stay in time order.
                let mut idx: Vec<usize> = r.collect();
                idx.sort_by_key(|&i| ranks[i]);
                let sub = p.pick(&idx);
                super::reduce::reduce(func, &sub, 0..idx.len(), self.dialect)
            }
            _ => super::reduce::reduce(func, p, r, self.dialect),
        }
    }
}

/// Reduces `p` window by window with `func` (an aggregate or selector). Without windows the
/// whole of `p` is one window stamped `untimed` unless the reducer keeps its point's time
/// (`keep_time`: a lone selector).
pub fn windowed(
    func: &Func,
    p: &Points,
    windows: Option<&Windows>,
    untimed: i64,
    keep_time: bool,
    how: Reducing<'_>,
) -> Result<Vec<SPoint>, QueryError> {
    let mut out = Vec::new();
    let n = p.times.len();
    if n == 0 {
        return Ok(out);
    }
    let Some(w) = windows else {
        for o in how.reduce(func, p, 0..n)? {
            let time = match (keep_time, o.time) {
                (true, Some(t)) => t,
                _ => untimed,
            };
            out.push(SPoint {
                time,
                value: o.value,
                row: o.row,
            });
        }
        return Ok(out);
    };
    let mut i = 0;
    while i < n {
        let ws = w.start(p.times[i]);
        let mut j = i + 1;
        // Points are sorted: the window ends at the first point of a later window. Without a
        // zone, windows are `every` long from their start (but the one clamped to MIN_TIME).
        if w.tz.is_none() && ws != MIN_TIME {
            let end = ws.saturating_add(w.interval.every);
            while j < n && p.times[j] < end {
                j += 1;
            }
        } else {
            while j < n && w.start(p.times[j]) == ws {
                j += 1;
            }
        }
        // top() and bottom() keep their points' times even with GROUP BY time.
        let own_time = matches!(func, Func::Top(_) | Func::Bottom(_));
        for o in how.reduce(func, p, i..j)? {
            out.push(SPoint {
                time: match (own_time, o.time) {
                    (true, Some(t)) => t,
                    _ => ws,
                },
                value: o.value,
                row: o.row,
            });
        }
        i = j;
    }
    Ok(out)
}

/// How `fill` completes a stream: the mode, the query's inclusive bounds, the processing
/// order, and whether the call is `count` (fill(null) then fills with 0, as InfluxDB does).
#[derive(Debug, Clone, Copy)]
pub struct FillSpec {
    pub mode: Fill,
    pub start: i64,
    pub end: i64,
    pub ascending: bool,
    pub count_like: bool,
    /// Bound on the points of the filled stream.
    pub max_points: usize,
}

/// Fills the windows from `start` to `end` that `s` (ascending, window-stamped) lacks, and
/// returns the stream in processing order.
pub fn fill(s: Vec<SPoint>, w: &Windows, spec: FillSpec) -> Result<Vec<SPoint>, QueryError> {
    let FillSpec {
        mode,
        start,
        end,
        ascending,
        count_like,
        max_points,
    } = spec;
    let mode = match mode {
        Fill::Null if count_like => Fill::Integer(0),
        m => m,
    };
    if mode == Fill::None {
        return Ok(ordered(s, ascending));
    }
    let s = ordered(s, ascending);
    let (first, last) = if ascending {
        (start, end)
    } else {
        (end, start)
    };
    let mut wt = if first == MIN_TIME {
        match s.first() {
            Some(p) => w.start(p.time),
            None => return Ok(s),
        }
    } else {
        w.start(first)
    };
    let stop = w.start(last);
    // Windows after the last point are filled up to the range's end (not down to "no bound").
    let trailing = |t: i64| {
        if ascending {
            t <= stop
        } else {
            last != MIN_TIME && t >= stop
        }
    };
    let later = |a: i64, b: i64| if ascending { a > b } else { a < b };
    let mut out = Vec::with_capacity(s.len());
    let mut prev: Option<SPoint> = None;
    let mut k = 0;
    loop {
        if k < s.len() && !later(s[k].time, wt) {
            // A real point at (or, after several at one time, before) the expected window.
            prev = Some(s[k].clone());
            out.push(s[k].clone());
            k += 1;
        } else if k < s.len() || trailing(wt) {
            let value = match mode {
                Fill::Number(f) => like(&prev, &s, Datum::Float(f)),
                Fill::Integer(i) => like(&prev, &s, Datum::Integer(i)),
                Fill::Previous => prev.as_ref().map_or(Datum::Null, |p| p.value.clone()),
                Fill::Linear => match (&prev, s.get(k)) {
                    (Some(p), Some(next)) => linear(wt, p, next, w.interval.every),
                    _ => Datum::Null,
                },
                Fill::Null | Fill::None => Datum::Null,
            };
            out.push(SPoint {
                time: wt,
                value,
                row: None,
            });
        } else {
            break;
        }
        if out.len() > max_points {
            return Err(QueryError::TooManyRows { limit: max_points });
        }
        wt = w.step(wt, ascending);
    }
    Ok(out)
}

fn ordered(mut s: Vec<SPoint>, ascending: bool) -> Vec<SPoint> {
    if !ascending {
        s.reverse();
    }
    s
}

/// A fill number in the stream's type (InfluxDB casts the fill value to the iterator's type).
fn like(prev: &Option<SPoint>, s: &[SPoint], fill: Datum) -> Datum {
    let sample = prev
        .as_ref()
        .map(|p| &p.value)
        .or_else(|| s.iter().map(|p| &p.value).find(|v| **v != Datum::Null));
    let f = match fill {
        Datum::Float(f) => f,
        Datum::Integer(i) => i as f64,
        other => return other,
    };
    match (sample, fill) {
        (Some(Datum::Integer(_)), _) => Datum::Integer(f as i64),
        (Some(Datum::Unsigned(_)), _) => Datum::Unsigned(f as u64),
        (Some(Datum::Float(_)), _) => Datum::Float(f),
        (_, fill) => fill,
    }
}

fn linear(wt: i64, prev: &SPoint, next: &SPoint, every: i64) -> Datum {
    let (w, pt, nt) = (wt / every, prev.time / every, next.time / every);
    match (&prev.value, &next.value) {
        (Datum::Float(a), Datum::Float(b)) => {
            let m = (b - a) / (nt - pt) as f64;
            Datum::Float(m * (w - pt) as f64 + a)
        }
        (Datum::Integer(a), Datum::Integer(b)) => {
            let m = (b - a) as f64 / (nt - pt) as f64;
            Datum::Integer((m * (w - pt) as f64 + *a as f64) as i64)
        }
        (Datum::Unsigned(a), Datum::Unsigned(b)) => {
            let m = (*b as f64 - *a as f64) / (nt - pt) as f64;
            Datum::Unsigned((m * (w - pt) as f64 + *a as f64) as u64)
        }
        _ => Datum::Null,
    }
}

/// Applies a transformation to a stream (processing order); null points are skipped.
pub fn transform(
    func: &Func,
    input: &[SPoint],
    derivative_unit: i64,
    ascending: bool,
) -> Result<Vec<SPoint>, QueryError> {
    let pts: Vec<&SPoint> = input.iter().filter(|p| p.value != Datum::Null).collect();
    if let Some(p) = pts
        .iter()
        .find(|p| matches!(p.value, Datum::String(_) | Datum::Boolean(_)))
        && !matches!(func, Func::Elapsed(_))
    {
        return Err(QueryError::UnsupportedType {
            func: func.name(),
            ty: if matches!(p.value, Datum::String(_)) {
                "string"
            } else {
                "boolean"
            },
        });
    }
    let mut out = Vec::new();
    let at = |time: i64, value: Datum| SPoint {
        time,
        value,
        row: None,
    };
    match func {
        Func::Derivative { unit, non_negative } => {
            let unit = unit.unwrap_or(derivative_unit) as f64;
            let mut prev: Option<&SPoint> = None;
            for p in pts {
                if let Some(q) = prev {
                    if q.time == p.time {
                        continue;
                    }
                    let diff = sub_f64(&p.value, &q.value);
                    let mut elapsed = (p.time - q.time) as f64;
                    if !ascending {
                        elapsed = -elapsed;
                    }
                    if !(*non_negative && diff < 0.0) {
                        out.push(at(p.time, Datum::Float(diff / (elapsed / unit))));
                    }
                }
                prev = Some(p);
            }
        }
        Func::Difference { non_negative } => {
            let mut prev: Option<&SPoint> = None;
            for p in pts {
                if let Some(q) = prev {
                    if q.time == p.time {
                        continue;
                    }
                    let d = sub_typed(&p.value, &q.value);
                    let negative = match (&p.value, &q.value) {
                        (Datum::Unsigned(a), Datum::Unsigned(b)) => a < b,
                        _ => {
                            matches!(d, Datum::Float(f) if f < 0.0)
                                || matches!(d, Datum::Integer(i) if i < 0)
                        }
                    };
                    if !(*non_negative && negative) {
                        out.push(at(p.time, d));
                    }
                }
                prev = Some(p);
            }
        }
        Func::MovingAverage(n) => {
            let n = *n;
            let mut buf: Vec<f64> = Vec::with_capacity(n);
            let (mut pos, mut sum) = (0usize, 0.0f64);
            for p in pts {
                let v = as_f64(&p.value);
                if buf.len() < n {
                    buf.push(v);
                } else {
                    sum -= buf[pos];
                    buf[pos] = v;
                }
                sum += v;
                pos = (pos + 1) % n;
                if buf.len() == n {
                    out.push(at(p.time, Datum::Float(sum / n as f64)));
                }
            }
        }
        Func::CumulativeSum => {
            let mut acc: Option<Datum> = None;
            for p in pts {
                let next = match acc {
                    None => p.value.clone(),
                    Some(a) => super::value::arith(&a, crate::query::plan::BinOp::Add, &p.value),
                };
                out.push(at(p.time, next.clone()));
                acc = Some(next);
            }
        }
        Func::Elapsed(unit) => {
            let mut prev: Option<&SPoint> = None;
            for p in pts {
                if let Some(q) = prev {
                    out.push(at(p.time, Datum::Integer((p.time - q.time) / unit)));
                }
                prev = Some(p);
            }
        }
        other => {
            return Err(QueryError::Internal {
                what: if matches!(other, Func::Integral(_)) {
                    "integral is not a transformation"
                } else {
                    "aggregate used as a transformation"
                },
            });
        }
    }
    Ok(out)
}

fn as_f64(d: &Datum) -> f64 {
    match d {
        Datum::Float(f) => *f,
        Datum::Integer(i) => *i as f64,
        Datum::Unsigned(u) => *u as f64,
        _ => f64::NAN,
    }
}

fn sub_f64(a: &Datum, b: &Datum) -> f64 {
    match (a, b) {
        (Datum::Integer(x), Datum::Integer(y)) => x.wrapping_sub(*y) as f64,
        _ => as_f64(a) - as_f64(b),
    }
}

fn sub_typed(a: &Datum, b: &Datum) -> Datum {
    match (a, b) {
        (Datum::Integer(x), Datum::Integer(y)) => Datum::Integer(x.wrapping_sub(*y)),
        (Datum::Unsigned(x), Datum::Unsigned(y)) => Datum::Unsigned(x.wrapping_sub(*y)),
        _ => Datum::Float(as_f64(a) - as_f64(b)),
    }
}

/// `integral(field, unit)`: the trapezoidal area under the points, per window (interpolated at
/// window ends) or over everything (stamped 0), as InfluxDB's integral reducer computes it.
pub fn integral(
    p: &Points,
    unit: i64,
    windows: Option<&Windows>,
) -> Result<Vec<SPoint>, QueryError> {
    let vals: Vec<f64> = match &p.vals {
        Vals::Float(v) => v.clone(),
        Vals::Integer(v) => v.iter().map(|x| *x as f64).collect(),
        Vals::Unsigned(v) => v.iter().map(|x| *x as f64).collect(),
        other => {
            return Err(QueryError::UnsupportedType {
                func: "integral",
                ty: other.type_name(),
            });
        }
    };
    let unit = unit as f64;
    let mut out = Vec::new();
    let mut prev: Option<(i64, f64)> = None;
    let (mut wstart, mut wend) = (0i64, 0i64);
    let mut sum = 0.0;
    for (&t, &v) in p.times.iter().zip(&vals) {
        let Some((pt, pv)) = prev else {
            prev = Some((t, v));
            if let Some(w) = windows {
                wstart = w.start(t);
                wend = wstart + w.interval.every;
            }
            continue;
        };
        if pt == t {
            prev = Some((t, v));
            continue;
        }
        let (mut pt, mut pv) = (pt, pv);
        if let Some(w) = windows
            && t >= wend
        {
            if pt != wend {
                let value = pv + (v - pv) / (t - pt) as f64 * (wend - pt) as f64;
                sum += 0.5 * (value + pv) * ((wend - pt) as f64 / unit);
                pv = value;
                pt = wend;
            }
            out.push(SPoint {
                time: wstart,
                value: Datum::Float(sum),
                row: None,
            });
            wstart = w.start(t);
            wend = wstart + w.interval.every;
            sum = 0.0;
        }
        sum += 0.5 * (v + pv) * ((t - pt) as f64 / unit);
        prev = Some((t, v));
    }
    if let Some((pt, _)) = prev
        && pt != wstart
    {
        out.push(SPoint {
            time: wstart,
            value: Datum::Float(sum),
            row: None,
        });
    }
    Ok(out)
}
