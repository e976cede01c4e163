//! The merge of a scan's sources: one row per (series, time), last write wins field by field.
//!
//! Each source is sorted by series (tag values in column order, a null first) then time, with
//! one row per (series, time), and may come in several batches (a file's row groups), called
//! pieces here. Series are ranked once (by their tag values, looked at only where a run of rows
//! changes series); then the merge works on runs (one series in one piece): a series found in
//! one piece, or in pieces whose times do not overlap, is copied run by run; only overlapping
//! runs are merged row by row (by time, then source order). The answer is built by copying
//! those stretches out of the pieces, without first concatenating them.

use std::collections::HashMap;
use std::ops::Range;

use arrow::array::{
    Array, ArrayRef, AsArray, DictionaryArray, MutableArrayData, RecordBatch, StringArray,
    make_array,
};
use arrow::datatypes::{Int32Type, SchemaRef, TimestampNanosecondType};
use rayon::prelude::*;

use super::mask::tag_key_changes;
use super::role_of;
use super::runs::merge_runs;
use crate::store::StoreError;
use crate::store::batch::ROLE_FIELD;
use crate::store::catalog::roles;

/// Rows from which a merge ranks its pieces' series and builds its columns in parallel.
const PARALLEL_ROWS: usize = 262_144;

/// One stretch of the answer.
enum Item {
    /// Rows `start..end` of piece `piece`, copied.
    Copy {
        piece: usize,
        start: usize,
        end: usize,
    },
    /// One row written by several pieces (`(piece, row)` in source order): its tags and time
    /// from the first, each field from the last that has a value.
    Dup(Vec<(usize, usize)>),
}

/// Merges `sources` (each a list of batches conformed to `out`, in source order).
pub(in crate::store) fn merge(
    out: &SchemaRef,
    sources: &[Vec<RecordBatch>],
) -> Result<RecordBatch, StoreError> {
    let pieces: Vec<&RecordBatch> = sources.iter().flatten().collect();
    let (tags, _, time_idx) = roles(out);
    let tag_idx: Vec<usize> = tags.iter().map(|(i, _)| *i).collect();
    let time_idx = time_idx.ok_or(StoreError::NoTimeColumn)?;
    let mut times: Vec<&[i64]> = Vec::with_capacity(pieces.len());
    for p in &pieces {
        let t = p
            .column(time_idx)
            .as_primitive_opt::<TimestampNanosecondType>()
            .ok_or(StoreError::NoTimeColumn)?;
        times.push(t.values());
    }

    // Runs (rank, piece, rows), by rank then piece (pieces are in source order).
    let mut runs = series_runs(&pieces, &tag_idx);
    runs.sort_unstable_by_key(|(rank, piece, _)| (*rank, *piece));
    let mut items: Vec<Item> = Vec::new();
    let mut g = 0;
    while g < runs.len() {
        let mut h = g + 1;
        while h < runs.len() && runs[h].0 == runs[g].0 {
            h += 1;
        }
        let mut group: Vec<(usize, Range<usize>)> =
            runs[g..h].iter().map(|(_, p, r)| (*p, r.clone())).collect();
        // Pieces ordered by their first time; disjoint in time, they concatenate.
        group.sort_by_key(|(p, r)| times[*p][r.start]);
        let disjoint = group
            .windows(2)
            .all(|w| times[w[0].0][w[0].1.end - 1] < times[w[1].0][w[1].1.start]);
        if disjoint {
            for (p, r) in group {
                copy(&mut items, p, r);
            }
        } else {
            // A merge of the runs (each sorted by time) by time, then source order (runs[g..h]
            // are in piece order), over a copy of their times, in stretches of one run. Rows
            // of one time in several runs come one after the other: they become one `Dup`.
            let mut local: Vec<i64> = Vec::new();
            let mut heads = Vec::with_capacity(h - g);
            for (_, p, r) in &runs[g..h] {
                heads.push(local.len()..local.len() + r.len());
                local.extend_from_slice(&times[*p][r.clone()]);
            }
            let starts: Vec<usize> = heads.iter().map(|x| x.start).collect();
            // The time of the last row written.
            let mut last: Option<i64> = None;
            for (k, stretch) in merge_runs(&local, heads) {
                let (_, p, r) = &runs[g + k];
                // Local row `i` of run `k` is this row of its piece.
                let row = |i: usize| r.start + i - starts[k];
                let mut from = stretch.start;
                if last == Some(local[from]) {
                    add_writer(&mut items, *p, row(from));
                    from += 1;
                }
                if from < stretch.end {
                    copy(&mut items, *p, row(from)..row(stretch.end));
                }
                last = Some(local[stretch.end - 1]);
            }
        }
        g = h;
    }

    let rows: usize = items
        .iter()
        .map(|i| match i {
            Item::Copy { start, end, .. } => end - start,
            Item::Dup(_) => 1,
        })
        .sum();
    let dups = items.iter().any(|i| matches!(i, Item::Dup(_)));
    let column = |i: usize| -> Result<ArrayRef, StoreError> {
        let arrays: Vec<_> = pieces.iter().map(|p| p.column(i).to_data()).collect();
        let field = role_of(&out.fields()[i]).0 == Some(ROLE_FIELD);
        // Validity is copied bit by bit: only when a piece has nulls, or a field of a row
        // written twice may have none.
        let nulls = arrays.iter().any(|a| a.null_count() > 0) || (field && dups);
        let mut m = MutableArrayData::new(arrays.iter().collect(), nulls, rows);
        for item in &items {
            match item {
                Item::Copy { piece, start, end } => m.try_extend(*piece, *start, *end)?,
                Item::Dup(rows) if field => {
                    match rows
                        .iter()
                        .rev()
                        .find(|(p, r)| pieces[*p].column(i).is_valid(*r))
                    {
                        Some(&(p, r)) => m.try_extend(p, r, r + 1)?,
                        None => m.try_extend_nulls(1)?,
                    }
                }
                Item::Dup(rows) => {
                    let (p, r) = rows[0];
                    m.try_extend(p, r, r + 1)?;
                }
            }
        }
        Ok(make_array(m.freeze()))
    };
    // Columns are built side by side on rayon's pool when there are enough rows to pay for it.
    let n = out.fields().len();
    let cols: Vec<ArrayRef> = if rows >= PARALLEL_ROWS {
        (0..n)
            .into_par_iter()
            .map(column)
            .collect::<Result<_, _>>()?
    } else {
        (0..n).map(column).collect::<Result<_, _>>()?
    };
    Ok(RecordBatch::try_new(out.clone(), cols)?)
}

/// Appends rows `r` of piece `piece`, extending the last item when it ends where `r` starts.
fn copy(items: &mut Vec<Item>, piece: usize, r: Range<usize>) {
    match items.last_mut() {
        Some(Item::Copy { piece: p, end, .. }) if *p == piece && *end == r.start => *end = r.end,
        _ => items.push(Item::Copy {
            piece,
            start: r.start,
            end: r.end,
        }),
    }
}

/// Row `row` of piece `piece` has the series and time of the last row in `items`: that row
/// becomes (or already is) a `Dup`, and this writer is added to it.
fn add_writer(items: &mut Vec<Item>, piece: usize, row: usize) {
    match items.last_mut() {
        Some(Item::Dup(writers)) => writers.push((piece, row)),
        Some(Item::Copy {
            piece: p,
            start,
            end,
        }) => {
            let first = (*p, *end - 1);
            *end -= 1;
            if *start == *end {
                items.pop();
            }
            items.push(Item::Dup(vec![first, (piece, row)]));
        }
        None => items.push(Item::Dup(vec![(piece, row)])),
    }
}

/// Every piece's runs of one series, as (rank, piece, rows): the rank of the series among all
/// the pieces' series (tag values in column order, a null first, byte order).
fn series_runs(pieces: &[&RecordBatch], tag_idx: &[usize]) -> Vec<(u32, usize, Range<usize>)> {
    // Each piece's runs with their series' tag values; the pieces side by side when there
    // are enough rows to pay for it.
    let rows: usize = pieces.iter().map(|p| p.num_rows()).sum();
    let per_piece: Vec<PieceRuns<'_>> = if rows >= PARALLEL_ROWS {
        pieces
            .par_iter()
            .map(|batch| piece_runs(batch, tag_idx))
            .collect()
    } else {
        pieces
            .iter()
            .map(|batch| piece_runs(batch, tag_idx))
            .collect()
    };
    let mut ids: HashMap<Vec<Option<&str>>, u32> = HashMap::new();
    let mut runs: Vec<(u32, usize, Range<usize>)> = Vec::new();
    for (p, piece) in per_piece.into_iter().enumerate() {
        for (rows, tuple) in piece {
            let next = ids.len() as u32;
            let id = *ids.entry(tuple).or_insert(next);
            runs.push((id, p, rows));
        }
    }
    // Ids in order of appearance → ranks in tag order.
    let mut by_tuple: Vec<(Vec<Option<&str>>, u32)> = ids.into_iter().collect();
    by_tuple.sort_unstable();
    let mut rank_of_id = vec![0u32; by_tuple.len()];
    for (rank, (_, id)) in by_tuple.iter().enumerate() {
        rank_of_id[*id as usize] = rank as u32;
    }
    for run in &mut runs {
        run.0 = rank_of_id[run.0 as usize];
    }
    runs
}

/// A piece's runs of one series, each with its tag values (a null: `None`).
type PieceRuns<'a> = Vec<(Range<usize>, Vec<Option<&'a str>>)>;

/// The runs of one series in `batch` (rows where no tag key changes), each with its tag values.
fn piece_runs<'a>(batch: &'a RecordBatch, tag_idx: &[usize]) -> PieceRuns<'a> {
    let tags: Vec<&DictionaryArray<Int32Type>> = tag_idx
        .iter()
        .filter_map(|&i| batch.column(i).as_dictionary_opt::<Int32Type>())
        .collect();
    let values: Vec<Option<&StringArray>> = tags
        .iter()
        .map(|d| d.values().as_string_opt::<i32>())
        .collect();
    let tuple = |row: usize| -> Vec<Option<&'a str>> {
        tags.iter()
            .zip(&values)
            .map(|(d, v)| {
                let keys = d.keys();
                if keys.is_null(row) {
                    return None;
                }
                v.map(|v| v.value(keys.value(row) as usize))
            })
            .collect()
    };
    let n = batch.num_rows();
    let changed = tag_key_changes(&tags, n);
    // A run ends where the next one starts, the last at the end.
    let ends = changed
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(_, c)| **c)
        .map(|(row, _)| row)
        .chain((n > 0).then_some(n));
    let mut start = 0;
    let mut out = Vec::new();
    for end in ends {
        out.push((start..end, tuple(start)));
        start = end;
    }
    out
}
