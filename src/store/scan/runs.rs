//! The row-by-row part of a scan's merge: runs of one series from several sources whose times
//! overlap.

use std::ops::Range;

/// `(time, row)` of every row of `heads` (row ranges into `times`, each sorted by time, in
/// source order), ordered by time then source. A stretch of one run that comes before every
/// other run's head is found by binary search and copied at once, so runs that overlap only
/// at their ends (a late point in a later source) cost little more than a concatenation.
pub(super) fn merge_runs(times: &[i64], mut heads: Vec<Range<usize>>) -> Vec<(i64, u32)> {
    let total: usize = heads.iter().map(ExactSizeIterator::len).sum();
    let mut rows: Vec<(i64, u32)> = Vec::with_capacity(total);
    let key = |heads: &[Range<usize>], k: usize| (times[heads[k].start], k);
    while let Some(k) = (0..heads.len())
        .filter(|&k| !heads[k].is_empty())
        .min_by_key(|&k| key(&heads, k))
    {
        // The next head after `k`'s: `k` goes on while it sorts before that one.
        let next = (0..heads.len())
            .filter(|&j| j != k && !heads[j].is_empty())
            .map(|j| key(&heads, j))
            .min();
        let run = heads[k].clone();
        let take = match next {
            None => run.len(),
            Some((t, j)) => times[run.clone()].partition_point(|&x| x < t || (x == t && k < j)),
        };
        rows.extend((run.start..run.start + take).map(|row| (times[row], row as u32)));
        heads[k].start += take;
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Equal to a stable sort by time of the runs' rows in source order.
        #[test]
        fn merged_runs_equal_a_stable_sort(
            runs in proptest::collection::vec(proptest::collection::vec(0i64..40, 0..30), 1..5)
        ) {
            let mut times = Vec::new();
            let mut heads = Vec::new();
            for mut r in runs {
                r.sort_unstable();
                heads.push(times.len()..times.len() + r.len());
                times.extend(r);
            }
            let mut want: Vec<(i64, u32)> = heads
                .iter()
                .flat_map(|h| h.clone().map(|row| (times[row], row as u32)))
                .collect();
            want.sort_by_key(|&(t, _)| t);
            prop_assert_eq!(merge_runs(&times, heads), want);
        }
    }
}
