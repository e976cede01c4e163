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
    let mut ends: Vec<usize> = Vec::with_capacity(series.len());
    for &s in series {
        let run = &m.series[s];
        rows.extend(
            (run.start..run.end)
                .filter(|&r| keep(run, r))
                .map(|r| r as u32),
        );
        ends.push(rows.len());
    }
    if series.len() > 1 {
        rows = merge_by_time(&rows, &ends, &m.times);
    }
    rows
}

/// `rows` (rising: series by series, each sorted by time; `ends[k]` is where series `k`'s run
/// ends) ordered by time; equal times keep series order, as a stable sort would. Series sampled
/// together are merged without sorting; others by a stable sort by time of the (time, row)
/// pairs held side by side: the series are its natural runs, which the adaptive merge sorts
/// (std's, rayon's) find and merge, so the merge costs about n·log(series) comparisons rather
/// than a full sort's n·log(n).
fn merge_by_time(rows: &[u32], ends: &[usize], times: &[i64]) -> Vec<u32> {
    debug_assert!(rows.is_sorted());
    if let Some(merged) = interleave(rows, ends, times) {
        return merged;
    }
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

/// The merge of runs sampled round by round (series scraped together, maybe a few ms apart):
/// the `i`-th rows of the runs that have one, in (time, row) order, for each `i`, when every
/// such round ends before the next one starts. Runs may differ in length (a series scraped a
/// few ms later misses the range's last round, or joined late): rounds are taken by index, and
/// the check that each ends before the next starts is what makes the result a stable sort by
/// time. `None` for any other runs.
fn interleave(rows: &[u32], ends: &[usize], times: &[i64]) -> Option<Vec<u32>> {
    let mut runs: Vec<&[u32]> = Vec::with_capacity(ends.len());
    let mut start = 0;
    for &end in ends {
        if end > start {
            runs.push(&rows[start..end]);
        }
        start = end;
    }
    let len = runs.iter().map(|r| r.len()).max()?;
    let at = |r: u32| times[r as usize];
    let mut out: Vec<u32> = Vec::with_capacity(rows.len());
    for i in 0..len {
        let from = out.len();
        out.extend(runs.iter().filter_map(|run| run.get(i).copied()));
        let round = &mut out[from..];
        if !round.is_sorted_by_key(|&r| at(r)) {
            // Rows rise with the run: (time, row) is a stable sort by time.
            round.sort_by_key(|&r| at(r));
        }
        if from > 0 && at(out[from - 1]) >= at(out[from]) {
            return None;
        }
    }
    Some(out)
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
    use super::{interleave, merge_by_time};
    use proptest::prelude::*;

    /// Rows `0..n` of `runs` laid out run by run, and where each run ends.
    fn layout(runs: &[Vec<i64>]) -> (Vec<i64>, Vec<u32>, Vec<usize>) {
        let mut times = Vec::new();
        let mut ends = Vec::new();
        for run in runs {
            times.extend(run);
            ends.push(times.len());
        }
        let rows = (0..times.len() as u32).collect();
        (times, rows, ends)
    }

    fn stable(rows: &[u32], times: &[i64]) -> Vec<u32> {
        let mut want = rows.to_vec();
        want.sort_by_key(|&r| times[r as usize]);
        want
    }

    proptest! {
        /// `merge_by_time` orders rows exactly as a stable sort by time does.
        #[test]
        fn merging_runs_equals_a_stable_sort(
            runs in prop::collection::vec(prop::collection::vec(0i64..20, 0..12), 0..8)
        ) {
            let runs: Vec<Vec<i64>> = runs
                .into_iter()
                .map(|mut r| {
                    r.sort_unstable();
                    r
                })
                .collect();
            let (times, rows, ends) = layout(&runs);
            prop_assert_eq!(merge_by_time(&rows, &ends, &times), stable(&rows, &times));
        }

        /// Runs of one grid shifted by a little (sampled round by round), some empty, some with
        /// a repeated time or rounds that overlap.
        #[test]
        fn merging_runs_of_one_grid_equals_a_stable_sort(
            grid in prop::collection::vec(0i64..20, 1..12),
            shifts in prop::collection::vec(prop::option::of(0i64..4), 1..6),
        ) {
            let mut grid: Vec<i64> = grid.iter().map(|t| t * 3).collect();
            grid.sort_unstable();
            let runs: Vec<Vec<i64>> = shifts
                .iter()
                .map(|s| match s {
                    Some(s) => grid.iter().map(|t| t + s).collect(),
                    None => Vec::new(),
                })
                .collect();
            let (times, rows, ends) = layout(&runs);
            prop_assert_eq!(merge_by_time(&rows, &ends, &times), stable(&rows, &times));
        }

        /// The same with runs of different lengths: each drops some of the grid's first and
        /// last rounds (a series scraped later misses the range's last round, or joined late).
        #[test]
        fn merging_runs_of_one_grid_with_rounds_missing_equals_a_stable_sort(
            grid in prop::collection::vec(0i64..20, 1..12),
            runs in prop::collection::vec((0i64..4, 0usize..3, 0usize..3), 1..6),
        ) {
            let mut grid: Vec<i64> = grid.iter().map(|t| t * 10).collect();
            grid.sort_unstable();
            grid.dedup();
            let runs: Vec<Vec<i64>> = runs
                .iter()
                .map(|&(shift, head, tail)| {
                    let end = grid.len().saturating_sub(tail);
                    grid[head.min(end)..end].iter().map(|t| t + shift).collect()
                })
                .collect();
            let (times, rows, ends) = layout(&runs);
            prop_assert_eq!(merge_by_time(&rows, &ends, &times), stable(&rows, &times));
        }
    }

    /// A merge large enough to be sorted on rayon's pool, with many equal times; and series
    /// sampled round by round, merged without sorting.
    #[test]
    fn a_large_merge_equals_a_stable_sort() {
        // Series of 1000 points each, series by series, each in time order: sampled together
        // (`spread` 1), a few ns apart in each round (3, 7: not in series order), or over
        // rounds that overlap (12); 300 of them are sorted on rayon's pool.
        for (series, spread) in [(40, 1), (40, 3), (40, 7), (40, 12), (300, 12)] {
            let runs: Vec<Vec<i64>> = (0..series)
                .map(|s| (0..1000).map(|i| i * 10 + (s * 5) % spread).collect())
                .collect();
            let (times, rows, ends) = layout(&runs);
            assert_eq!(merge_by_time(&rows, &ends, &times), stable(&rows, &times));
            assert_eq!(interleave(&rows, &ends, &times).is_some(), spread < 10);
        }
        // A range ending on the first series' last point: the others, a few ms later, miss
        // that round (the bench's 1 h mean: 48 series of 361 points, 52 of 360). Merged
        // without sorting.
        let runs: Vec<Vec<i64>> = (0..100)
            .map(|s| {
                (0..361 - i64::from(s > 47))
                    .map(|i| i * 10 + s / 48)
                    .collect()
            })
            .collect();
        let (times, rows, ends) = layout(&runs);
        let merged = interleave(&rows, &ends, &times).expect("rounds of runs one round short");
        assert_eq!(merged, stable(&rows, &times));
    }
}
