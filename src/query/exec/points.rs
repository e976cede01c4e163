//! The points one call reads: a field's non-null values over the rows of one group, merged in
//! time order (rows of several series at the same time keep the series order).

use rayon::slice::ParallelSliceMut;

use super::scan::{FieldCol, Measured, SeriesRun};
use crate::query::result::Datum;

/// Values of one field, typed.
#[derive(Debug, Clone)]
pub enum Vals {
    Float(Vec<f64>),
    Integer(Vec<i64>),
    Unsigned(Vec<u64>),
    Boolean(Vec<bool>),
    String(Vec<std::sync::Arc<str>>),
}

impl Vals {
    pub fn get(&self, i: usize) -> Datum {
        match self {
            Self::Float(v) => Datum::Float(v[i]),
            Self::Integer(v) => Datum::Integer(v[i]),
            Self::Unsigned(v) => Datum::Unsigned(v[i]),
            Self::Boolean(v) => Datum::Boolean(v[i]),
            Self::String(v) => Datum::String(v[i].clone()),
        }
    }

    /// The values at `idx`, in that order.
    pub fn pick(&self, idx: &[usize]) -> Self {
        match self {
            Self::Float(v) => Self::Float(idx.iter().map(|&i| v[i]).collect()),
            Self::Integer(v) => Self::Integer(idx.iter().map(|&i| v[i]).collect()),
            Self::Unsigned(v) => Self::Unsigned(idx.iter().map(|&i| v[i]).collect()),
            Self::Boolean(v) => Self::Boolean(idx.iter().map(|&i| v[i]).collect()),
            Self::String(v) => Self::String(idx.iter().map(|&i| v[i].clone()).collect()),
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Float(_) => "float",
            Self::Integer(_) => "integer",
            Self::Unsigned(_) => "unsigned",
            Self::Boolean(_) => "boolean",
            Self::String(_) => "string",
        }
    }
}

/// Points of one field in one group, sorted by time.
#[derive(Debug, Clone)]
pub struct Points {
    pub times: Vec<i64>,
    pub vals: Vals,
    /// Row of each point in the measurement's scan answer (for auxiliary fields and tags).
    pub rows: Vec<u32>,
}

impl Points {
    /// The points at `idx`, in that order.
    pub fn pick(&self, idx: &[usize]) -> Self {
        Self {
            times: idx.iter().map(|&i| self.times[i]).collect(),
            vals: self.vals.pick(idx),
            rows: idx.iter().map(|&i| self.rows[i]).collect(),
        }
    }
}

/// Rows of `series` (indices into `m.series`) that pass `keep`, merged by time.
pub fn group_rows(
    m: &Measured,
    series: &[usize],
    keep: &dyn Fn(&SeriesRun, usize) -> bool,
) -> Vec<u32> {
    let mut rows: Vec<u32> = Vec::new();
    for &s in series {
        let run = &m.series[s];
        rows.extend(
            (run.start..run.end)
                .filter(|&r| keep(run, r))
                .map(|r| r as u32),
        );
    }
    if series.len() > 1 {
        rows = merge_by_time(&rows, &m.times);
    }
    rows
}

/// `rows` (rising: series by series, each sorted by time) ordered by time; equal times keep
/// series order. A stable sort by time of the (time, row) pairs held side by side: the series
/// are its natural runs, which the adaptive merge sorts (std's, rayon's) find and merge, so the
/// merge costs about n·log(series) comparisons rather than a full sort's n·log(n).
fn merge_by_time(rows: &[u32], times: &[i64]) -> Vec<u32> {
    debug_assert!(rows.is_sorted());
    // A very large one is sorted on rayon's pool; below that, the hand-offs of rayon's merge
    // cost more than they save (a 1 h mean over 100 series merges 36 000 rows).
    const PARALLEL_ROWS: usize = 262_144;
    let mut keyed: Vec<(i64, u32)> = rows.iter().map(|&r| (times[r as usize], r)).collect();
    if keyed.len() >= PARALLEL_ROWS {
        keyed.par_sort_by_key(|&(t, _)| t);
    } else {
        keyed.sort_by_key(|&(t, _)| t);
    }
    keyed.into_iter().map(|(_, r)| r).collect()
}

/// The non-null values of `col` at `rows`.
pub fn points(m: &Measured, col: &FieldCol, rows: &[u32]) -> Points {
    let valid: Vec<u32> = rows
        .iter()
        .copied()
        .filter(|&r| col.is_valid(r as usize))
        .collect();
    let times = valid.iter().map(|&r| m.times[r as usize]).collect();
    let vals = match col {
        FieldCol::Float(a) => Vals::Float(valid.iter().map(|&r| a.value(r as usize)).collect()),
        FieldCol::Integer(a) => Vals::Integer(valid.iter().map(|&r| a.value(r as usize)).collect()),
        FieldCol::Unsigned(a) => {
            Vals::Unsigned(valid.iter().map(|&r| a.value(r as usize)).collect())
        }
        FieldCol::Boolean(a) => Vals::Boolean(valid.iter().map(|&r| a.value(r as usize)).collect()),
        FieldCol::String(a) => Vals::String(
            valid
                .iter()
                .map(|&r| std::sync::Arc::from(a.value(r as usize)))
                .collect(),
        ),
    };
    Points {
        times,
        vals,
        rows: valid,
    }
}

#[cfg(test)]
mod tests {
    use super::merge_by_time;
    use proptest::prelude::*;

    proptest! {
        /// `merge_by_time` orders rows exactly as a stable sort by time does.
        #[test]
        fn merging_runs_equals_a_stable_sort(
            runs in prop::collection::vec(prop::collection::vec(0i64..20, 0..12), 0..8)
        ) {
            let mut times = Vec::new();
            for mut run in runs {
                run.sort_unstable();
                times.extend(run);
            }
            let n = times.len();
            let rows: Vec<u32> = (0..n as u32).collect();
            let mut want = rows.clone();
            want.sort_by_key(|&r| times[r as usize]);
            prop_assert_eq!(merge_by_time(&rows, &times), want);
        }
    }

    /// A merge large enough to be sorted on rayon's pool, with many equal times.
    #[test]
    fn a_large_merge_equals_a_stable_sort() {
        // 300 series of 1000 points each, series by series, each in time order.
        let times: Vec<i64> = (0..300_000i64)
            .map(|i| (i % 1000) * 10 + i / 1000 % 3)
            .collect();
        let rows: Vec<u32> = (0..300_000).collect();
        let mut want = rows.clone();
        want.sort_by_key(|&r| times[r as usize]);
        assert_eq!(merge_by_time(&rows, &times), want);
    }
}
