//! [`MeasurementBuffer::select`]: the rows a scan wants from a buffer, sorted by series then
//! time and merged (last write wins, field by field), as a `RecordBatch`.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, DictionaryArray, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray, TimestampNanosecondArray, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, TimeUnit};
use rayon::prelude::*;

use super::{
    FieldColumn, MeasurementBuffer, ROLE_FIELD, ROLE_TAG, ROLE_TIME, SeriesTags, TIME_COLUMN,
    ZONE_ROWS, role, tag_column_name,
};
use crate::store::StoreError;

impl MeasurementBuffer {
    /// Like [`to_record_batch`](Self::to_record_batch), of only the rows with
    /// `min_time <= time <= max_time` whose series `keep` accepts (all when `None`), with the
    /// field columns of `fields` the buffer has (all when `None`; the tag columns are the
    /// whole buffer's either way). Work is proportional to the rows kept (plus one pass over
    /// the rows, and `keep` once per series in range), so a scan of a few series of a large
    /// buffer is cheap.
    pub fn select(
        &self,
        min_time: i64,
        max_time: i64,
        keep: Option<&SeriesFilter<'_>>,
        fields: Option<&[String]>,
    ) -> Result<RecordBatch, StoreError> {
        let tag_keys: Vec<&str> = self.tag_keys().collect();
        // The rows in range of the series `keep` accepts (asked once per series met), and those
        // series. Per series: 0 not met yet, 1 kept, 2 left out.
        let mut verdict = vec![0u8; self.series.len()];
        let mut present: Vec<u32> = Vec::new();
        let mut rows: Vec<u32> = Vec::new();
        let zones = self
            .zones
            .iter()
            .enumerate()
            .filter(|(_, (lo, hi))| *hi >= min_time && *lo <= max_time)
            .map(|(z, _)| z * ZONE_ROWS..((z + 1) * ZONE_ROWS).min(self.time.len()));
        for i in zones.flatten() {
            let (t, id) = (self.time[i], self.series_of_row[i]);
            if t < min_time || t > max_time {
                continue;
            }
            let v = &mut verdict[id as usize];
            if *v == 0 {
                *v = if keep.is_none_or(|f| f(&self.series[id as usize])) {
                    present.push(id);
                    1
                } else {
                    2
                };
            }
            if *v == 1 {
                rows.push(i as u32);
            }
        }
        // Rank the series present by their tag values in column order, a missing tag first.
        present.sort_by_cached_key(|&id| tag_values(&self.series[id as usize], &tag_keys));
        let mut rank = vec![u32::MAX; self.series.len()];
        for (r, &id) in present.iter().enumerate() {
            rank[id as usize] = r as u32;
        }
        // By series (a counting sort on the rank: stable, linear), then time within each series
        // (rows usually arrive in time order: sorted only when they did not). Equal (series,
        // time) rows stay in arrival order, so "last" is the latest write.
        let mut bounds = vec![0usize; present.len() + 1];
        for &i in &rows {
            bounds[rank[self.series_of_row[i as usize] as usize] as usize + 1] += 1;
        }
        for r in 1..bounds.len() {
            bounds[r] += bounds[r - 1];
        }
        let mut by_series = vec![0u32; rows.len()];
        let mut next = bounds.clone();
        for &i in &rows {
            let r = rank[self.series_of_row[i as usize] as usize] as usize;
            by_series[next[r]] = i;
            next[r] += 1;
        }
        let mut rows = by_series;
        let parallel = rows.len() >= PARALLEL_ROWS;
        // Each series' rows, as its own slice.
        let mut runs_of: Vec<&mut [u32]> = Vec::with_capacity(present.len());
        let mut rest: &mut [u32] = &mut rows;
        for w in bounds.windows(2) {
            let (run, tail) = rest.split_at_mut(w[1] - w[0]);
            runs_of.push(run);
            rest = tail;
        }
        let order = |run: &mut &mut [u32]| self.order_by_time(run);
        if parallel {
            runs_of.par_iter_mut().for_each(order);
        } else {
            runs_of.iter_mut().for_each(order);
        }
        // `starts[j]..starts[j + 1]` are the rows (in `rows`) of output row j.
        let mut starts: Vec<u32> = Vec::new();
        for (j, &i) in rows.iter().enumerate() {
            let i = i as usize;
            let same = j > 0 && {
                let p = rows[j - 1] as usize;
                self.series_of_row[p] == self.series_of_row[i] && self.time[p] == self.time[i]
            };
            if !same {
                starts.push(j as u32);
            }
        }
        let runs = Runs {
            rows: &rows,
            starts: &starts,
        };

        // The series rank of each output row: tag columns look their values up by rank.
        let rank_out: Vec<u32> = runs
            .firsts()
            .map(|i| rank[self.series_of_row[i] as usize])
            .collect();
        // The output columns: each tag key's, each wanted field's, and the time; side by side
        // on rayon's pool for a large answer.
        let wanted: Vec<(&String, usize)> = self
            .field_index
            .iter()
            .filter(|(key, _)| fields.is_none_or(|f| f.iter().any(|w| w == *key)))
            .map(|(key, &i)| (key, i))
            .collect();
        let jobs: Vec<Column<'_>> = tag_keys
            .iter()
            .map(|k| Column::Tag(k))
            .chain(wanted.into_iter().map(|(k, i)| Column::Field(k, i)))
            .chain([Column::Time])
            .collect();
        let build = |job: &Column<'_>| -> Result<(Field, ArrayRef), StoreError> {
            match *job {
                Column::Tag(key) => self.tag_column(key, &tag_keys, &present, &rank_out),
                Column::Field(key, i) => {
                    let col = &self.columns[i];
                    let field = Field::new(key.as_str(), col.data_type(), true)
                        .with_metadata(role(ROLE_FIELD, Some(key)));
                    Ok((field, col.merge(&runs)))
                }
                Column::Time => {
                    let time = TimestampNanosecondArray::from(
                        runs.firsts().map(|i| self.time[i]).collect::<Vec<i64>>(),
                    );
                    let field = Field::new(
                        TIME_COLUMN,
                        DataType::Timestamp(TimeUnit::Nanosecond, None),
                        false,
                    )
                    .with_metadata(role(ROLE_TIME, None));
                    Ok((field, Arc::new(time) as ArrayRef))
                }
            }
        };
        let columns: Vec<(Field, ArrayRef)> = if parallel {
            jobs.par_iter().map(build).collect::<Result<_, _>>()?
        } else {
            jobs.iter().map(build).collect::<Result<_, _>>()?
        };
        let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().unzip();
        Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
    }

    /// Orders one series' rows by time. A run's rows are numbered in arrival order, so
    /// sorting (time, row) pairs keeps rows of equal time in it (a stable sort by time, done
    /// unstably, keys side by side).
    fn order_by_time(&self, run: &mut [u32]) {
        if run.is_sorted_by_key(|&i| self.time[i as usize]) {
            return;
        }
        let mut keyed: Vec<(i64, u32)> = run.iter().map(|&i| (self.time[i as usize], i)).collect();
        keyed.sort_unstable();
        for (slot, &(_, i)) in run.iter_mut().zip(&keyed) {
            *slot = i;
        }
    }

    /// The dictionary column of tag `key` for output rows whose series ranks are `rank_out`
    /// (`present[r]`: the series of rank r).
    fn tag_column(
        &self,
        key: &str,
        tag_keys: &[&str],
        present: &[u32],
        rank_out: &[u32],
    ) -> Result<(Field, ArrayRef), StoreError> {
        // The dictionary holds the values of the series present, keyed per series.
        let mut values: Vec<&str> = Vec::new();
        let mut value_ids: HashMap<&str, i32> = HashMap::new();
        let mut of_rank: Vec<Option<i32>> = vec![None; present.len()];
        for (r, &id) in present.iter().enumerate() {
            let s = &self.series[id as usize];
            if let Ok(i) = s.binary_search_by(|(sk, _)| sk.as_str().cmp(key)) {
                let v = s[i].1.as_str();
                let next = values.len() as i32;
                let vid = *value_ids.entry(v).or_insert(next);
                if vid == next {
                    values.push(v);
                }
                of_rank[r] = Some(vid);
            }
        }
        let keys: Int32Array = if of_rank.iter().all(Option::is_some) {
            let of_rank: Vec<i32> = of_rank.into_iter().flatten().collect();
            rank_out
                .iter()
                .map(|&r| of_rank[r as usize])
                .collect::<Vec<i32>>()
                .into()
        } else {
            rank_out.iter().map(|&r| of_rank[r as usize]).collect()
        };
        let dict =
            DictionaryArray::<Int32Type>::try_new(keys, Arc::new(StringArray::from(values)))?;
        let name = tag_column_name(key, &self.field_index, tag_keys);
        let field = Field::new(
            name,
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            true,
        )
        .with_metadata(role(ROLE_TAG, Some(key)));
        Ok((field, Arc::new(dict)))
    }
}

/// One output column of [`MeasurementBuffer::select`].
enum Column<'a> {
    Tag(&'a str),
    /// A field: its key and index into `columns`.
    Field(&'a String, usize),
    Time,
}

/// Rows from which a select sorts its series and builds its columns on rayon's pool.
const PARALLEL_ROWS: usize = 16_384;

impl FieldColumn {
    /// One value per output row of `runs`: the last non-null of its buffer rows.
    fn merge(&self, runs: &Runs<'_>) -> ArrayRef {
        fn col<T: Clone, A: FromIterator<Option<T>>>(c: &[Option<T>], runs: &Runs<'_>) -> A {
            (0..runs.len())
                .map(|j| {
                    runs.run(j)
                        .iter()
                        .rev()
                        .find_map(|&i| c.get(i as usize).cloned().flatten())
                })
                .collect()
        }
        match self {
            Self::Float(c) => Arc::new(col::<_, Float64Array>(c, runs)),
            Self::Integer(c) => Arc::new(col::<_, Int64Array>(c, runs)),
            Self::Unsigned(c) => Arc::new(col::<_, UInt64Array>(c, runs)),
            Self::Boolean(c) => Arc::new(col::<_, BooleanArray>(c, runs)),
            Self::String(c) => Arc::new(col::<_, StringArray>(c, runs)),
        }
    }
}

/// Whether a series (its tags, sorted by key) is wanted.
pub type SeriesFilter<'a> = dyn Fn(&[(String, String)]) -> bool + 'a;

/// Output rows of a sorted buffer: row j merges `rows[starts[j]..starts[j + 1]]` (buffer rows,
/// in arrival order within one (series, time)).
struct Runs<'a> {
    rows: &'a [u32],
    starts: &'a [u32],
}

impl Runs<'_> {
    /// The buffer rows of output row `j`.
    fn run(&self, j: usize) -> &[u32] {
        let lo = self.starts[j] as usize;
        let hi = self
            .starts
            .get(j + 1)
            .map_or(self.rows.len(), |&h| h as usize);
        &self.rows[lo..hi]
    }

    /// The first buffer row of each output row.
    fn firsts(&self) -> impl Iterator<Item = usize> + '_ {
        self.starts.iter().map(|&s| self.rows[s as usize] as usize)
    }

    fn len(&self) -> usize {
        self.starts.len()
    }
}

/// The series' value for each of `keys` (`None`: the series lacks that tag).
fn tag_values<'a>(s: &'a SeriesTags, keys: &[&str]) -> Vec<Option<&'a str>> {
    keys.iter()
        .map(|k| {
            s.binary_search_by(|(sk, _)| sk.as_str().cmp(k))
                .ok()
                .map(|i| s[i].1.as_str())
        })
        .collect()
}
