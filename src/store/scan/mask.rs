//! Row masks of a scan: which rows of a batch are in the time range, match the `tag_equals`
//! hint, or belong to series the `series_filter` accepts; and where a batch's rows change
//! series (`tag_key_changes`, shared with the merge and the query engine).

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, DictionaryArray, RecordBatch};
use arrow::buffer::BooleanBuffer;
use arrow::compute::kernels::cmp::{gt_eq, lt_eq};
use arrow::compute::{and, cast};
use arrow::datatypes::{DataType, Int32Type, TimeUnit};
use rayon::prelude::*;

use super::role_of;
use crate::store::StoreError;
use crate::store::batch::ROLE_TAG;
use crate::store::read::SeriesPredicate;

/// Rows of a time column (any integer or timestamp type) within `[min, max]`.
pub(super) fn in_range(
    time: &ArrayRef,
    min: i64,
    max: i64,
) -> Result<BooleanArray, arrow::error::ArrowError> {
    let time = cast(time, &DataType::Timestamp(TimeUnit::Nanosecond, None))?;
    let lo = arrow::array::TimestampNanosecondArray::new_scalar(min);
    let hi = arrow::array::TimestampNanosecondArray::new_scalar(max);
    and(&gt_eq(&time, &lo)?, &lt_eq(&time, &hi)?)
}

/// Rows whose series holds, for every hinted tag key, one of the hinted values (a null tag is
/// the empty value); `None` without a hint.
pub(super) fn hint_mask(
    batch: &RecordBatch,
    hint: &[(String, Vec<String>)],
) -> Result<Option<BooleanArray>, StoreError> {
    if hint.is_empty() {
        return Ok(None);
    }
    let schema = batch.schema();
    let n = batch.num_rows();
    let mut mask: Option<BooleanBuffer> = None;
    for (key, values) in hint {
        let empty_ok = values.iter().any(String::is_empty);
        let col = schema
            .fields()
            .iter()
            .position(|f| role_of(f) == (Some(ROLE_TAG), Some(key.as_str())));
        let this = match col {
            // No such tag in the measurement: every row has the empty value.
            None => BooleanBuffer::collect_bool(n, |_| empty_ok),
            Some(ci) => {
                let Some(dict) = batch.column(ci).as_dictionary_opt::<Int32Type>() else {
                    continue;
                };
                let Some(dict_values) = dict.values().as_string_opt::<i32>() else {
                    continue;
                };
                let ok: Vec<bool> = (0..dict_values.len())
                    .map(|i| {
                        dict_values.is_valid(i) && values.iter().any(|v| v == dict_values.value(i))
                    })
                    .collect();
                let keys = dict.keys();
                let k = keys.values();
                match keys.nulls() {
                    None => BooleanBuffer::collect_bool(n, |row| {
                        ok.get(k[row] as usize).copied().unwrap_or(false)
                    }),
                    Some(nulls) => BooleanBuffer::collect_bool(n, |row| {
                        if nulls.is_valid(row) {
                            ok.get(k[row] as usize).copied().unwrap_or(false)
                        } else {
                            empty_ok
                        }
                    }),
                }
            }
        };
        mask = Some(match mask {
            Some(m) => &m & &this,
            None => this,
        });
    }
    Ok(Some(BooleanArray::new(
        mask.unwrap_or_else(|| BooleanBuffer::new_set(n)),
        None,
    )))
}

/// Rows whose series `pred` accepts: `ScanRequest::series_filter`, decided once per run of
/// rows with the same tag keys. Tag columns that are not dictionaries of strings (never in a
/// conformed batch) make every row pass.
pub(super) fn series_mask(batch: &RecordBatch, pred: SeriesPredicate<'_>) -> BooleanArray {
    let schema = batch.schema();
    let n = batch.num_rows();
    let mut tags = Vec::new();
    for (i, f) in schema.fields().iter().enumerate() {
        if let (Some(ROLE_TAG), Some(key)) = role_of(f) {
            let dict = batch.column(i).as_dictionary_opt::<Int32Type>();
            let Some((d, v)) = dict.and_then(|d| Some((d, d.values().as_string_opt::<i32>()?)))
            else {
                return BooleanArray::from(vec![true; n]);
            };
            tags.push((key, d, v));
        }
    }
    let cols: Vec<&DictionaryArray<Int32Type>> = tags.iter().map(|(_, d, _)| *d).collect();
    let changed = tag_key_changes(&cols, n);
    let mut series: Vec<(String, String)> = Vec::new();
    let mut wanted = true;
    let mask = BooleanBuffer::collect_bool(n, |row| {
        if changed[row] {
            series.clear();
            for (key, d, v) in &tags {
                if d.is_valid(row) {
                    let value = v.value(d.keys().value(row) as usize);
                    series.push(((*key).to_owned(), value.to_owned()));
                }
            }
            series.sort_unstable();
            wanted = (pred.0)(&series);
        }
        wanted
    });
    BooleanArray::new(mask, None)
}

/// `changed[r]`: row r's dictionary key, or nullness, differs from row r - 1's in some tag
/// column (row 0 counts as changed). Equal keys are equal values; different keys may still be
/// equal values (dictionaries of concatenated sources). One tight pass per column instead of a
/// check of every column per row; a large batch in stretches on rayon's pool.
pub fn tag_key_changes(tags: &[&DictionaryArray<Int32Type>], rows: usize) -> Vec<bool> {
    /// Rows from which the stretches are marked in parallel, and their length.
    const PARALLEL_ROWS: usize = 262_144;
    const STRETCH: usize = 65_536;
    let stretch = if rows >= PARALLEL_ROWS { STRETCH } else { rows };
    changes_in_stretches(tags, rows, stretch)
}

fn changes_in_stretches(
    tags: &[&DictionaryArray<Int32Type>],
    rows: usize,
    stretch: usize,
) -> Vec<bool> {
    let mut changed = vec![false; rows];
    let stretch = stretch.max(1);
    if stretch >= rows {
        mark_changes(tags, 0, &mut changed);
    } else {
        changed
            .par_chunks_mut(stretch)
            .enumerate()
            .for_each(|(i, out)| mark_changes(tags, i * stretch, out));
    }
    changed
}

/// [`tag_key_changes`] of rows `from..from + out.len()`, into `out`.
fn mark_changes(tags: &[&DictionaryArray<Int32Type>], from: usize, out: &mut [bool]) {
    // Row 0 has no row before it; every other row is compared with the one before.
    let skip = usize::from(from == 0);
    if from == 0
        && let Some(c) = out.first_mut()
    {
        *c = true;
    }
    for d in tags {
        let keys = d.keys();
        let k = keys.values();
        let end = (from + out.len()).min(k.len());
        let first = from + skip;
        if first >= end {
            continue;
        }
        let marks = &mut out[skip..end - from];
        match keys.nulls() {
            // Pairs of neighbours over slices: no bounds checks, so the loop is vectorised.
            None => {
                for ((c, a), b) in marks
                    .iter_mut()
                    .zip(&k[first..end])
                    .zip(&k[first - 1..end - 1])
                {
                    *c |= a != b;
                }
            }
            // (valid, key), a null's key taken as 0: a change of either is a change.
            Some(n) => {
                let cell = |row: usize| {
                    let valid = n.is_valid(row);
                    (valid, if valid { k[row] } else { 0 })
                };
                for (c, row) in marks.iter_mut().zip(first..end) {
                    *c |= cell(row) != cell(row - 1);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int32Array, StringArray};
    use proptest::prelude::*;
    use std::sync::Arc;

    fn column(keys: &[Option<i32>]) -> DictionaryArray<Int32Type> {
        let values = Arc::new(StringArray::from(vec!["a", "b", "c"]));
        DictionaryArray::try_new(Int32Array::from(keys.to_vec()), values).expect("dictionary")
    }

    proptest! {
        /// In stretches of any length, a row is marked exactly when some column's key or
        /// nullness differs from the row before's (row 0 always).
        #[test]
        fn changes_match_a_row_by_row_comparison(
            cols in proptest::collection::vec(
                proptest::collection::vec(proptest::option::weighted(0.8, 0i32..3), 0..40),
                1..4,
            ),
            stretch in 1usize..7,
        ) {
            let rows = cols.iter().map(Vec::len).min().unwrap_or(0);
            let arrays: Vec<DictionaryArray<Int32Type>> = cols.iter().map(|c| column(c)).collect();
            let tags: Vec<&DictionaryArray<Int32Type>> = arrays.iter().collect();
            let want: Vec<bool> = (0..rows)
                .map(|r| r == 0 || cols.iter().any(|c| c[r] != c[r - 1]))
                .collect();
            prop_assert_eq!(changes_in_stretches(&tags, rows, stretch), want.clone());
            prop_assert_eq!(tag_key_changes(&tags, rows), want);
        }
    }
}
