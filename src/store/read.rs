//! The read contract between the embedded store and the query engine.
//!
//! Owns: the types a query uses to ask the store for rows and metadata (`ScanRequest`,
//! `MeasurementSchema`, `SeriesKey`) and the `ReadStore` trait the store implements. The query
//! engine (`query`) depends only on this trait, so it can run over the real store or over an
//! in-memory source in tests and benchmarks.
//! Does not own: how rows are found (files, row-group pruning, the in-memory buffer: the store),
//! nor what a query computes from them (the engine).
//!
//! # What `scan` returns
//!
//! One `RecordBatch` in the store's measurement schema (see the `store` module docs: tag
//! columns as `Dictionary(Int32, Utf8)` sorted by key, then field columns sorted by key, then
//! `time` as `Timestamp(Nanosecond)`, each column carrying `sluice.role`/`sluice.key` metadata):
//!
//! - every tag column the measurement has (`MeasurementSchema::tags`), whatever the request;
//! - the requested fields that exist in the measurement (all fields when `fields` is `None`),
//!   with the bucket's type for that field; a requested field that does not exist is not a
//!   column;
//! - only rows with `min_time <= time <= max_time`;
//! - rows sorted by series (tag values in schema order, a null before any value), then time;
//! - at most one row per (series, time): points written several times are merged, last write
//!   wins field by field, across the in-memory buffer and every file;
//! - rows where every returned field is null are dropped (the point had none of them).
//!
//! `tag_equals` is a pruning hint: the store may skip files, row groups and series whose tag
//! `key` holds none of the listed values (a series without the tag counts as the empty value
//! `""`). It may also return rows that do not match; the engine applies the full condition.
//! `series_filter` is a hint of the same kind: the store may drop the rows of series it rejects
//! (the caller passes it only when its condition decides by tags alone).
//!
//! When the rows would exceed `max_bytes` (estimated Arrow memory), `scan` fails with
//! `StoreError::ScanTooLarge` rather than returning a truncated answer.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use arrow::array::BooleanBufferBuilder;
use arrow::buffer::BooleanBuffer;
use arrow::record_batch::RecordBatch;

use super::StoreError;
use crate::lineproto::FieldType;
use crate::model::{BucketName, TenantId};

/// The tag set of one series: (key, value) pairs sorted by key, absent tags omitted.
pub type SeriesKey = Vec<(String, String)>;

/// The union of everything one measurement of a bucket holds, over all files and the buffer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MeasurementSchema {
    /// Tag keys, sorted (byte order).
    pub tags: Vec<String>,
    /// Field keys with the bucket's type for each, sorted by key.
    pub fields: Vec<(String, FieldType)>,
}

/// Every series of one measurement, sorted, and (built on first use) the distinct values of
/// each tag key and the series holding each value: what `SHOW TAG VALUES` and the other SHOW
/// statements read.
#[derive(Debug, Default)]
pub struct SeriesIndex {
    series: Vec<SeriesKey>,
    values: OnceLock<BTreeMap<String, Vec<Arc<str>>>>,
    /// Tag key → which series hold each of its values, each key built on its first use.
    postings: OnceLock<BTreeMap<String, OnceLock<Postings>>>,
}

impl SeriesIndex {
    /// The index of `series` (in any order, duplicates allowed).
    pub fn new(mut series: Vec<SeriesKey>) -> Self {
        series.sort_unstable();
        series.dedup();
        Self {
            series,
            values: OnceLock::new(),
            postings: OnceLock::new(),
        }
    }

    /// The series, sorted (lexicographically by the key/value pairs).
    pub fn series(&self) -> &[SeriesKey] {
        &self.series
    }

    /// Tag key → its values, sorted and distinct, over every series.
    pub fn tag_values(&self) -> &BTreeMap<String, Vec<Arc<str>>> {
        self.values.get_or_init(|| {
            let mut by_key: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for s in &self.series {
                for (k, v) in s {
                    by_key.entry(k).or_default().push(v);
                }
            }
            by_key
                .into_iter()
                .map(|(k, mut vs)| {
                    vs.sort_unstable();
                    vs.dedup();
                    (k.to_owned(), vs.into_iter().map(Arc::from).collect())
                })
                .collect()
        })
    }

    /// The series whose value of tag `key` (`""` for a series without it) passes `test`, as a
    /// bitmap over positions in [`series`](Self::series). `test` runs once per distinct value
    /// (and on `""`), not once per series, and only the holders of the values on the smaller
    /// side (passing or failing) are visited: `key != ""` costs no series at all.
    pub fn select(&self, key: &str, test: impl Fn(&str) -> bool) -> BooleanBuffer {
        let n = self.series.len();
        let absent = test("");
        let (Some(values), Some(p)) = (self.tag_values().get(key), self.postings(key)) else {
            return if absent {
                BooleanBuffer::new_set(n)
            } else {
                BooleanBuffer::new_unset(n)
            };
        };
        let pass: Vec<bool> = values.iter().map(|v| test(v)).collect();
        let (mut passing, mut failing) = (0usize, 0usize);
        for (j, ok) in pass.iter().enumerate() {
            *(if *ok { &mut passing } else { &mut failing }) += p.holding(j).len();
        }
        // The holders of the values on the smaller side, then the holders that pass.
        let visit = passing <= failing;
        let mut side = BooleanBufferBuilder::new(n);
        side.append_n(n, false);
        for (j, ok) in pass.iter().enumerate() {
            if *ok == visit {
                for &i in p.holding(j) {
                    side.set_bit(i as usize, true);
                }
            }
        }
        let side = side.finish();
        let held = if visit { side } else { &p.holders & &!&side };
        if absent { &held | &!&p.holders } else { held }
    }

    /// The values of tag `key` that some series in `series` (a bitmap over
    /// [`series`](Self::series)) holds, sorted and distinct. Walks the passing series (each
    /// one's value), and stops once every value is held: at most one step per passing series,
    /// however they fall over the values.
    pub fn values_held(&self, key: &str, series: &BooleanBuffer) -> Vec<Arc<str>> {
        let (Some(values), Some(p)) = (self.tag_values().get(key), self.postings(key)) else {
            return Vec::new();
        };
        let mut held = vec![false; values.len()];
        let mut left = values.len();
        for i in series.set_indices() {
            if left == 0 {
                break;
            }
            if let Some(j) = p.value_of(i)
                && !held[j]
            {
                held[j] = true;
                left -= 1;
            }
        }
        values
            .iter()
            .zip(held)
            .filter(|(_, h)| *h)
            .map(|(v, _)| v.clone())
            .collect()
    }

    /// The postings of one tag key (`None` when no series holds it), built on first use.
    fn postings(&self, key: &str) -> Option<&Postings> {
        let by_key = self.postings.get_or_init(|| {
            self.tag_values()
                .keys()
                .map(|k| (k.clone(), OnceLock::new()))
                .collect()
        });
        let values = self.tag_values().get(key)?;
        Some(
            by_key
                .get(key)?
                .get_or_init(|| Postings::new(&self.series, key, values)),
        )
    }
}

/// Which series of a [`SeriesIndex`] hold one tag key's values: for value `j` (in
/// `tag_values`' order), `positions[offsets[j]..offsets[j + 1]]`, ascending positions in
/// `series`; and series `i`'s value, `values[i]` (`NONE` when it lacks the key). Positions
/// fit in u32: an index of 4 G series is far past any memory bound.
#[derive(Debug)]
struct Postings {
    offsets: Vec<u32>,
    positions: Vec<u32>,
    values: Vec<u32>,
    /// The series holding any value of the key.
    holders: BooleanBuffer,
}

impl Postings {
    fn new(series: &[SeriesKey], key: &str, values: &[Arc<str>]) -> Self {
        let at: HashMap<&str, u32> = (0u32..).zip(values).map(|(j, v)| (&**v, j)).collect();
        // Each series' value (or none), then a counting sort of the positions by value.
        let mut holders = BooleanBufferBuilder::new(series.len());
        let mut counts = vec![0u32; values.len() + 1];
        let which: Vec<u32> = series
            .iter()
            .map(|s| {
                let j = s
                    .iter()
                    .find(|(k, _)| k == key)
                    .and_then(|(_, v)| at.get(v.as_str()).copied());
                holders.append(j.is_some());
                if let Some(j) = j {
                    counts[j as usize + 1] += 1;
                }
                j.unwrap_or(Self::NONE)
            })
            .collect();
        for j in 1..counts.len() {
            counts[j] += counts[j - 1];
        }
        let offsets = counts.clone();
        let mut positions = vec![0u32; counts[values.len()] as usize];
        for (i, &j) in (0u32..).zip(&which) {
            if j != Self::NONE {
                positions[counts[j as usize] as usize] = i;
                counts[j as usize] += 1;
            }
        }
        Self {
            offsets,
            positions,
            values: which,
            holders: holders.finish(),
        }
    }

    /// A series without the key, in `values`.
    const NONE: u32 = u32::MAX;

    /// The value (its index in `tag_values`' list) series `i` holds, if any.
    fn value_of(&self, i: usize) -> Option<usize> {
        let j = self.values[i];
        (j != Self::NONE).then_some(j as usize)
    }

    /// The positions of the series holding value `j`.
    fn holding(&self, j: usize) -> &[u32] {
        &self.positions[self.offsets[j] as usize..self.offsets[j + 1] as usize]
    }
}

/// A predicate over one series' tags (sorted by key, absent tags omitted): whether the query
/// may want its rows. See `ScanRequest::series_filter`.
#[derive(Clone, Copy)]
pub struct SeriesPredicate<'a>(pub &'a SeriesTest<'a>);

/// The test a [`SeriesPredicate`] runs on one series' tags.
pub type SeriesTest<'a> = dyn Fn(&[(String, String)]) -> bool + Sync + 'a;

impl std::fmt::Debug for SeriesPredicate<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SeriesPredicate(..)")
    }
}

/// Which rows of one measurement a query needs.
#[derive(Debug, Clone)]
pub struct ScanRequest<'a> {
    pub tenant: &'a TenantId,
    pub bucket: &'a BucketName,
    /// Unescaped measurement name.
    pub measurement: &'a str,
    /// Inclusive bounds, nanoseconds since the Unix epoch.
    pub min_time: i64,
    pub max_time: i64,
    /// Pruning hint: (tag key, values one of which the series holds). See the module docs.
    pub tag_equals: &'a [(String, Vec<String>)],
    /// Pruning hint: series the predicate rejects may be left out. See the module docs.
    pub series_filter: Option<SeriesPredicate<'a>>,
    /// Field keys to return; `None` for all.
    pub fields: Option<&'a [String]>,
    /// Bound on the answer's estimated memory.
    pub max_bytes: usize,
}

/// What the query engine may ask of a store. Implementations are cheap to call concurrently.
pub trait ReadStore: Send + Sync {
    /// Buckets of a tenant that hold at least one row, sorted (`SHOW DATABASES`, `buckets()`).
    fn buckets(&self, tenant: &TenantId) -> Vec<BucketName> {
        let _ = tenant;
        Vec::new()
    }

    /// Measurements of a bucket that hold at least one row, sorted. Empty for an unknown bucket.
    fn measurements(&self, tenant: &TenantId, bucket: &BucketName) -> Vec<String>;

    /// The schema of one measurement; `None` when the bucket has no such measurement.
    fn schema(
        &self,
        tenant: &TenantId,
        bucket: &BucketName,
        measurement: &str,
    ) -> Option<MeasurementSchema>;

    /// Every series of a measurement, sorted (lexicographically by the key/value pairs).
    fn series(&self, tenant: &TenantId, bucket: &BucketName, measurement: &str) -> Vec<SeriesKey>;

    /// [`series`](Self::series) as a shared index; a store may cache it between calls.
    fn series_index(
        &self,
        tenant: &TenantId,
        bucket: &BucketName,
        measurement: &str,
    ) -> Arc<SeriesIndex> {
        Arc::new(SeriesIndex::new(self.series(tenant, bucket, measurement)))
    }

    /// Whether every series index of `tenant` built so far is still current, so that
    /// [`series_index`](Self::series_index) answers without rebuilding one (only a measurement
    /// never indexed yet is built on first use). Callers use it to answer metadata statements
    /// in place instead of on a blocking thread; `false` is always safe.
    fn series_indexes_current(&self, tenant: &TenantId) -> bool {
        let _ = tenant;
        false
    }

    /// The rows a query needs; see the module docs for the exact shape.
    fn scan(&self, request: &ScanRequest<'_>) -> Result<RecordBatch, StoreError>;

    /// How long the bucket keeps its rows; `None` for forever (`SHOW RETENTION POLICIES`).
    fn retention(&self, tenant: &TenantId, bucket: &BucketName) -> Option<std::time::Duration> {
        let _ = (tenant, bucket);
        None
    }
}
