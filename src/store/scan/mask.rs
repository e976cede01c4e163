//! Row masks of a scan: which rows of a batch are in the time range, match the `tag_equals`
//! hint, or belong to series the `series_filter` accepts; and where a batch's rows change
//! series (`tag_key_changes`, shared with the merge and the query engine).

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, DictionaryArray, RecordBatch};
use arrow::buffer::BooleanBuffer;
use arrow::compute::kernels::cmp::{gt_eq, lt_eq};
use arrow::compute::{and, cast};
use arrow::datatypes::{DataType, Int32Type, TimeUnit};

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
/// check of every column per row.
pub fn tag_key_changes(tags: &[&DictionaryArray<Int32Type>], rows: usize) -> Vec<bool> {
    let mut changed = vec![false; rows];
    if let Some(c) = changed.first_mut() {
        *c = true;
    }
    for d in tags {
        let keys = d.keys();
        let k = keys.values();
        match keys.nulls() {
            None => {
                // Pairs of neighbours over slices: no bounds checks, so the loop is vectorised.
                let n = rows.min(k.len());
                if n > 1 {
                    for ((c, a), b) in changed[1..n].iter_mut().zip(&k[1..n]).zip(&k[..n - 1]) {
                        *c |= a != b;
                    }
                }
            }
            Some(n) => {
                // (valid, key), a null's key taken as 0: a change of either is a change.
                let mut cells = n
                    .iter()
                    .zip(k)
                    .map(|(is, &key)| (is, if is { key } else { 0 }));
                let Some(mut prev) = cells.next() else {
                    continue;
                };
                for (c, cell) in changed.iter_mut().skip(1).zip(cells) {
                    *c |= cell != prev;
                    prev = cell;
                }
            }
        }
    }
    changed
}
