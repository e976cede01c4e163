//! The row-by-row part of a scan's merge: runs of one series from several sources whose times
//! overlap.

use std::ops::Range;

/// The rows of `heads` (row ranges into `times`, each sorted by time, in source order),
/// ordered by time then source, as stretches `(head, rows)`: consecutive rows of one head. A
/// stretch of one run that comes before every other run's head is found by binary search and
/// taken at once, so runs that overlap only at their ends (a late point in a later source)
/// cost a few stretches, not a step per row. Rows of equal time in several heads come one
/// after the other, in source order, each ending or starting a stretch.
pub(super) fn merge_runs(
    times: &[i64],
    mut heads: Vec<Range<usize>>,
) -> Vec<(usize, Range<usize>)> {
    let mut out: Vec<(usize, Range<usize>)> = Vec::new();
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
        out.push((k, run.start..run.start + take));
        heads[k].start += take;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Equal to a stable sort by time of the runs' rows in source order; each stretch is
        /// rows of the head it names.
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
            let mut want: Vec<(i64, usize)> = heads
                .iter()
                .flat_map(|h| h.clone().map(|row| (times[row], row)))
                .collect();
            want.sort_by_key(|&(t, _)| t);
            let stretches = merge_runs(&times, heads.clone());
            for (k, rows) in &stretches {
                prop_assert!(!rows.is_empty());
                prop_assert!(heads[*k].start <= rows.start && rows.end <= heads[*k].end);
            }
            let got: Vec<(i64, usize)> = stretches
                .into_iter()
                .flat_map(|(_, rows)| rows.map(|row| (times[row], row)))
                .collect();
            prop_assert_eq!(got, want);
        }
    }
}
