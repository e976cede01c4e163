//! Aggregates and selectors over the points of one window, with InfluxDB 1.x's result types
//! and tie rules (`count` is an integer, `mean` a float, `sum` keeps the input type, `max`
//! keeps the earliest of equal values, `first`/`last` prefer the larger of equal times, ...).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::ops::Range;

use super::QueryError;
use super::points::{Points, Vals};
use crate::query::plan::{Dialect, Func};
use crate::query::result::Datum;

/// One point a reducer emits.
#[derive(Debug, Clone, PartialEq)]
pub struct Out {
    /// The selected point's time; `None` stamps the point with its window's time.
    pub time: Option<i64>,
    pub value: Datum,
    /// Scan row of the selected point (selectors), for auxiliary fields.
    pub row: Option<u32>,
}

impl Out {
    fn agg(value: Datum) -> Self {
        Self {
            time: None,
            value,
            row: None,
        }
    }
}

fn unsupported(func: &Func, p: &Points) -> QueryError {
    QueryError::UnsupportedType {
        func: func.name(),
        ty: p.vals.type_name(),
    }
}

/// Reduces points `r` of `p` (non-empty) with an aggregate or selector, by `dialect`'s rules.
pub fn reduce(
    func: &Func,
    p: &Points,
    r: Range<usize>,
    dialect: Dialect,
) -> Result<Vec<Out>, QueryError> {
    if dialect == Dialect::Flux && matches!(func, Func::Median | Func::Stddev) {
        let s = floats(&p.vals, r).ok_or_else(|| unsupported(func, p))?;
        return Ok(vec![Out::agg(flux_spread_stat(func, s))]);
    }
    let t = &p.times[r.clone()];
    let rows = &p.rows[r.clone()];
    let one = |v: Datum| Ok(vec![Out::agg(v)]);
    match func {
        Func::Count => one(Datum::Integer(r.len() as i64)),
        Func::Sum => match &p.vals {
            Vals::Float(v) => one(Datum::Float(v[r].iter().sum())),
            Vals::Integer(v) => one(Datum::Integer(
                v[r].iter().fold(0i64, |a, b| a.wrapping_add(*b)),
            )),
            Vals::Unsigned(v) => one(Datum::Unsigned(
                v[r].iter().fold(0u64, |a, b| a.wrapping_add(*b)),
            )),
            _ => Err(unsupported(func, p)),
        },
        Func::Mean => {
            // Summed as floats in order, as InfluxDB's mean reducers do.
            let sum: f64 = match &p.vals {
                Vals::Float(v) => v[r.clone()].iter().sum(),
                Vals::Integer(v) => v[r.clone()].iter().map(|x| *x as f64).sum(),
                Vals::Unsigned(v) => v[r.clone()].iter().map(|x| *x as f64).sum(),
                _ => return Err(unsupported(func, p)),
            };
            one(Datum::Float(sum / r.len() as f64))
        }
        Func::Median => {
            let mut s = floats(&p.vals, r).ok_or_else(|| unsupported(func, p))?;
            s.sort_by(f64::total_cmp);
            let n = s.len();
            let m = if n % 2 == 0 {
                let (lo, hi) = (s[n / 2 - 1], s[n / 2]);
                lo + (hi - lo) / 2.0
            } else {
                s[n / 2]
            };
            one(Datum::Float(m))
        }
        Func::Stddev => {
            let s = floats(&p.vals, r).ok_or_else(|| unsupported(func, p))?;
            if s.len() < 2 {
                return one(Datum::Float(f64::NAN));
            }
            let (mut mean, mut count) = (0.0, 0usize);
            for v in s.iter().filter(|v| !v.is_nan()) {
                count += 1;
                mean += (v - mean) / count as f64;
            }
            let var: f64 = s
                .iter()
                .filter(|v| !v.is_nan())
                .map(|v| (v - mean).powi(2))
                .sum();
            one(Datum::Float((var / (count as f64 - 1.0)).sqrt()))
        }
        Func::Spread => match &p.vals {
            Vals::Float(v) => {
                let v = &v[r];
                let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let min = v.iter().copied().fold(f64::INFINITY, f64::min);
                one(Datum::Float(max - min))
            }
            Vals::Integer(v) => {
                let v = &v[r];
                let (min, max) = (v.iter().min(), v.iter().max());
                one(Datum::Integer(
                    max.copied()
                        .unwrap_or(0)
                        .wrapping_sub(min.copied().unwrap_or(0)),
                ))
            }
            Vals::Unsigned(v) => {
                let v = &v[r];
                let (min, max) = (v.iter().min(), v.iter().max());
                one(Datum::Unsigned(
                    max.copied()
                        .unwrap_or(0)
                        .wrapping_sub(min.copied().unwrap_or(0)),
                ))
            }
            _ => Err(unsupported(func, p)),
        },
        Func::Min | Func::Max => {
            if matches!(p.vals, Vals::String(_)) {
                return Err(unsupported(func, p));
            }
            let want = if *func == Func::Min {
                Ordering::Less
            } else {
                Ordering::Greater
            };
            let mut best = 0;
            for i in 1..t.len() {
                let c = cmp_vals(&p.vals, r.start + i, r.start + best);
                if c == want || (c == Ordering::Equal && t[i] < t[best]) {
                    best = i;
                }
            }
            Ok(vec![selected(p, r.start + best, t[best], rows[best])])
        }
        Func::First | Func::Last => {
            let first = *func == Func::First;
            let mut best = 0;
            for i in 1..t.len() {
                let later = t[i].cmp(&t[best]);
                let better_time = if first {
                    later == Ordering::Less
                } else {
                    later == Ordering::Greater
                };
                let tie = later == Ordering::Equal
                    && tie_prefers(&p.vals, r.start + i, r.start + best, first);
                if better_time || tie {
                    best = i;
                }
            }
            Ok(vec![selected(p, r.start + best, t[best], rows[best])])
        }
        Func::Percentile(pct) => {
            if matches!(p.vals, Vals::String(_) | Vals::Boolean(_)) {
                return Err(unsupported(func, p));
            }
            let n = t.len();
            let i = ((n as f64) * pct / 100.0 + 0.5).floor() as i64 - 1;
            if i < 0 || i as usize >= n {
                return Ok(Vec::new());
            }
            let mut idx: Vec<usize> = r.clone().collect();
            idx.sort_by(|&a, &b| cmp_vals(&p.vals, a, b));
            let k = idx[i as usize];
            Ok(vec![selected(p, k, p.times[k], p.rows[k])])
        }
        Func::Top(n) | Func::Bottom(n) => {
            if matches!(p.vals, Vals::String(_) | Vals::Boolean(_)) {
                return Err(unsupported(func, p));
            }
            // The n largest (smallest) values, earlier time first among equal values, then
            // ordered by time (InfluxDB's top/bottom reducers).
            let top = matches!(func, Func::Top(_));
            let mut idx: Vec<usize> = r.clone().collect();
            idx.sort_by(|&a, &b| {
                let by_value = cmp_vals(&p.vals, a, b);
                let by_value = if top { by_value.reverse() } else { by_value };
                by_value.then(p.times[a].cmp(&p.times[b]))
            });
            idx.truncate(*n);
            idx.sort_by_key(|&i| p.times[i]);
            Ok(idx
                .into_iter()
                .map(|i| selected(p, i, p.times[i], p.rows[i]))
                .collect())
        }
        Func::Mode => {
            // InfluxDB's walk over the points sorted by value: a run replaces the mode when it
            // is more frequent, or as frequent and its first point is not later than the
            // mode's latest; a value seen once never replaces the smallest value.
            let mut idx: Vec<usize> = r.clone().collect();
            idx.sort_by(|&a, &b| cmp_vals(&p.vals, a, b).then(p.times[a].cmp(&p.times[b])));
            let (mut most_freq, mut curr_freq) = (0usize, 0usize);
            let (mut curr, mut most) = (idx[0], idx[0]);
            let (mut most_time, mut curr_time) = (p.times[idx[0]], p.times[idx[0]]);
            for &k in &idx {
                if cmp_vals(&p.vals, k, curr) != Ordering::Equal {
                    curr_freq = 1;
                    curr = k;
                    curr_time = p.times[k];
                    continue;
                }
                curr_freq += 1;
                if most_freq > curr_freq || (most_freq == curr_freq && curr_time > most_time) {
                    continue;
                }
                most_freq = curr_freq;
                most = k;
                most_time = p.times[k];
            }
            one(p.vals.get(most))
        }
        Func::Distinct => {
            let mut seen: HashMap<String, usize> = HashMap::new();
            let mut order = Vec::new();
            for i in r {
                if let std::collections::hash_map::Entry::Vacant(e) = seen.entry(key_of(&p.vals, i))
                {
                    e.insert(i);
                    order.push(i);
                }
            }
            order.sort_by_key(|&i| p.times[i]);
            Ok(order.into_iter().map(|i| Out::agg(p.vals.get(i))).collect())
        }
        other => Err(QueryError::Internal {
            what: match other {
                Func::Integral(_) => "integral is not a window reducer",
                _ => "transformation used as a window reducer",
            },
        }),
    }
}

/// Flux's `median` (`quantile(q: 0.5)`, linear between the two nearest ranks) and `stddev`
/// (`mode: "sample"`), as sluice's Flux engine computes them.
fn flux_spread_stat(func: &Func, mut s: Vec<f64>) -> Datum {
    let n = s.len();
    if *func == Func::Median {
        s.sort_by(f64::total_cmp);
        let x = 0.5 * (n - 1) as f64;
        let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
        return Datum::Float(s[lo] + (x - lo as f64) * (s[hi] - s[lo]));
    }
    if n < 2 {
        return Datum::Null;
    }
    let mean = s.iter().sum::<f64>() / n as f64;
    let var = s.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n as f64 - 1.0);
    Datum::Float(var.sqrt())
}

fn selected(p: &Points, i: usize, time: i64, row: u32) -> Out {
    Out {
        time: Some(time),
        value: p.vals.get(i),
        row: Some(row),
    }
}

/// Values as floats (numeric types only).
fn floats(v: &Vals, r: Range<usize>) -> Option<Vec<f64>> {
    Some(match v {
        Vals::Float(v) => v[r].to_vec(),
        Vals::Integer(v) => v[r].iter().map(|x| *x as f64).collect(),
        Vals::Unsigned(v) => v[r].iter().map(|x| *x as f64).collect(),
        _ => return None,
    })
}

fn cmp_vals(v: &Vals, a: usize, b: usize) -> Ordering {
    match v {
        Vals::Float(v) => v[a].partial_cmp(&v[b]).unwrap_or(Ordering::Equal),
        Vals::Integer(v) => v[a].cmp(&v[b]),
        Vals::Unsigned(v) => v[a].cmp(&v[b]),
        Vals::Boolean(v) => v[a].cmp(&v[b]),
        Vals::String(v) => v[a].cmp(&v[b]),
    }
}

/// first/last at equal times: the larger value wins (for booleans `first` prefers false).
fn tie_prefers(v: &Vals, cand: usize, best: usize, first: bool) -> bool {
    match v {
        Vals::Boolean(b) if first => !b[cand] && b[best],
        _ => cmp_vals(v, cand, best) == Ordering::Greater,
    }
}

fn key_of(v: &Vals, i: usize) -> String {
    match v {
        Vals::Float(v) => v[i].to_bits().to_string(),
        Vals::Integer(v) => v[i].to_string(),
        Vals::Unsigned(v) => v[i].to_string(),
        Vals::Boolean(v) => v[i].to_string(),
        Vals::String(v) => v[i].to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(times: &[i64], vals: Vals) -> Points {
        Points {
            times: times.to_vec(),
            vals,
            rows: (0..times.len() as u32).collect(),
        }
    }

    fn val(func: Func, p: &Points) -> Datum {
        reduce(&func, p, 0..p.times.len(), Dialect::InfluxQl).expect("reduce")[0]
            .value
            .clone()
    }

    #[test]
    fn aggregates_have_influxdb_result_types() {
        let ints = pts(&[1, 2, 3, 4], Vals::Integer(vec![4, 1, 3, 10]));
        assert_eq!(val(Func::Count, &ints), Datum::Integer(4));
        assert_eq!(val(Func::Sum, &ints), Datum::Integer(18));
        assert_eq!(val(Func::Mean, &ints), Datum::Float(4.5));
        assert_eq!(val(Func::Median, &ints), Datum::Float(3.5));
        assert_eq!(val(Func::Spread, &ints), Datum::Integer(9));
        assert_eq!(val(Func::Max, &ints), Datum::Integer(10));
        let floats = pts(&[1, 2, 3], Vals::Float(vec![2.0, 4.0, 4.0]));
        assert_eq!(val(Func::Sum, &floats), Datum::Float(10.0));
        assert_eq!(val(Func::Mode, &floats), Datum::Float(4.0));
        let Datum::Float(sd) = val(Func::Stddev, &floats) else {
            panic!("stddev is a float")
        };
        assert!((sd - 1.1547005383792515).abs() < 1e-12);
    }

    #[test]
    fn selectors_keep_the_points_time_with_influxdb_ties() {
        let p = pts(&[10, 20, 30, 30], Vals::Float(vec![5.0, 7.0, 7.0, 1.0]));
        let max = &reduce(&Func::Max, &p, 0..4, Dialect::InfluxQl).expect("max")[0];
        assert_eq!((max.time, &max.value), (Some(20), &Datum::Float(7.0)));
        let last = &reduce(&Func::Last, &p, 0..4, Dialect::InfluxQl).expect("last")[0];
        assert_eq!((last.time, &last.value), (Some(30), &Datum::Float(7.0)));
        let first = &reduce(&Func::First, &p, 0..4, Dialect::InfluxQl).expect("first")[0];
        assert_eq!((first.time, &first.value), (Some(10), &Datum::Float(5.0)));
        let min = &reduce(&Func::Min, &p, 0..4, Dialect::InfluxQl).expect("min")[0];
        assert_eq!((min.time, &min.value), (Some(30), &Datum::Float(1.0)));
    }

    #[test]
    fn mode_follows_influxdb_walk() {
        // influxd: mode(b) over 10@0, 20@10, 1@5, 7@40 is 1 (no value repeats).
        let p = pts(&[0, 10, 5, 40], Vals::Integer(vec![10, 20, 1, 7]));
        assert_eq!(val(Func::Mode, &p), Datum::Integer(1));
        // Equal counts: 3's first point (2) is not after 2's latest (4).
        let p = pts(&[1, 2, 3, 4], Vals::Integer(vec![2, 3, 3, 2]));
        assert_eq!(val(Func::Mode, &p), Datum::Integer(3));
        let p = pts(&[1, 2, 3], Vals::Integer(vec![5, 9, 9]));
        assert_eq!(val(Func::Mode, &p), Datum::Integer(9));
    }

    #[test]
    fn percentile_picks_the_nearest_rank() {
        let p = pts(&[1, 2, 3, 4, 5], Vals::Integer(vec![50, 10, 40, 20, 30]));
        let out = &reduce(&Func::Percentile(50.0), &p, 0..5, Dialect::InfluxQl).expect("p50")[0];
        assert_eq!((out.time, &out.value), (Some(5), &Datum::Integer(30)));
        let p90 = &reduce(&Func::Percentile(90.0), &p, 0..5, Dialect::InfluxQl).expect("p90")[0];
        assert_eq!(p90.value, Datum::Integer(50));
        assert!(
            reduce(&Func::Percentile(5.0), &p, 0..5, Dialect::InfluxQl)
                .expect("p5")
                .is_empty()
        );
    }

    #[test]
    fn stddev_of_one_point_is_nan_and_distinct_keeps_first_seen_order() {
        let one = pts(&[1], Vals::Float(vec![3.0]));
        assert!(matches!(val(Func::Stddev, &one), Datum::Float(f) if f.is_nan()));
        let p = pts(
            &[1, 2, 3, 4],
            Vals::String(vec!["b".into(), "a".into(), "b".into(), "c".into()]),
        );
        let d: Vec<Datum> = reduce(&Func::Distinct, &p, 0..4, Dialect::InfluxQl)
            .expect("distinct")
            .into_iter()
            .map(|o| o.value)
            .collect();
        assert_eq!(
            d,
            vec![
                Datum::String("b".into()),
                Datum::String("a".into()),
                Datum::String("c".into())
            ]
        );
        assert!(reduce(&Func::Mean, &p, 0..4, Dialect::InfluxQl).is_err());
    }
}
