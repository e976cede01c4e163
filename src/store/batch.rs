//! `MeasurementBuffer`: points of one (tenant, bucket, measurement) accumulated column by column,
//! turned into a sorted, deduplicated Arrow `RecordBatch` (schema: see the `store` module docs).
//!
//! Rows are kept in arrival order with a series id each; sorting and the last-write-wins merge
//! happen in [`MeasurementBuffer::to_record_batch`] (a flush) or
//! [`MeasurementBuffer::select`] (a scan, of only the rows it wants).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use arrow::array::RecordBatch;
use arrow::datatypes::DataType;

use super::StoreError;
use crate::lineproto::{
    FieldType, FieldValue, Line, unescape, unescape_field_key, unescape_measurement,
    unescape_string,
};
use crate::model::Precision;

mod select;
pub use select::SeriesFilter;

/// Name of the time column.
pub const TIME_COLUMN: &str = "time";
/// Arrow field metadata key naming a column's role.
pub const ROLE: &str = "sluice.role";
/// Arrow field metadata key holding a tag's or field's key (the name may carry a `_N` suffix).
pub const ROLE_KEY: &str = "sluice.key";
pub const ROLE_TAG: &str = "tag";
pub const ROLE_FIELD: &str = "field";
pub const ROLE_TIME: &str = "time";

/// A tag set, sorted by key; interned per buffer.
type SeriesTags = Vec<(String, String)>;

/// One field's values, one slot per row (`None`: the row's point did not carry it).
#[derive(Debug, Clone)]
enum FieldColumn {
    Float(Vec<Option<f64>>),
    Integer(Vec<Option<i64>>),
    Unsigned(Vec<Option<u64>>),
    Boolean(Vec<Option<bool>>),
    String(Vec<Option<String>>),
}

impl FieldColumn {
    fn new(ty: FieldType) -> Self {
        match ty {
            FieldType::Float => Self::Float(Vec::new()),
            FieldType::Integer => Self::Integer(Vec::new()),
            FieldType::Unsigned => Self::Unsigned(Vec::new()),
            FieldType::Boolean => Self::Boolean(Vec::new()),
            FieldType::String => Self::String(Vec::new()),
        }
    }

    fn field_type(&self) -> FieldType {
        match self {
            Self::Float(_) => FieldType::Float,
            Self::Integer(_) => FieldType::Integer,
            Self::Unsigned(_) => FieldType::Unsigned,
            Self::Boolean(_) => FieldType::Boolean,
            Self::String(_) => FieldType::String,
        }
    }

    fn data_type(&self) -> DataType {
        match self {
            Self::Float(_) => DataType::Float64,
            Self::Integer(_) => DataType::Int64,
            Self::Unsigned(_) => DataType::UInt64,
            Self::Boolean(_) => DataType::Boolean,
            Self::String(_) => DataType::Utf8,
        }
    }

    /// Stores `v` at `row`, padding skipped rows with nulls. The type was checked beforehand.
    fn set(&mut self, row: usize, v: Value) {
        fn put<T>(col: &mut Vec<Option<T>>, row: usize, v: T) {
            if col.len() <= row {
                col.resize_with(row + 1, || None);
            }
            col[row] = Some(v);
        }
        match (self, v) {
            (Self::Float(c), Value::Float(v)) => put(c, row, v),
            (Self::Integer(c), Value::Integer(v)) => put(c, row, v),
            (Self::Unsigned(c), Value::Unsigned(v)) => put(c, row, v),
            (Self::Boolean(c), Value::Boolean(v)) => put(c, row, v),
            (Self::String(c), Value::String(v)) => put(c, row, v),
            _ => debug_assert!(false, "field type checked before set"),
        }
    }
}

/// An owned, unescaped field value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Float(f64),
    Integer(i64),
    Unsigned(u64),
    Boolean(bool),
    String(String),
}

impl Value {
    pub fn field_type(&self) -> FieldType {
        match self {
            Self::Float(_) => FieldType::Float,
            Self::Integer(_) => FieldType::Integer,
            Self::Unsigned(_) => FieldType::Unsigned,
            Self::Boolean(_) => FieldType::Boolean,
            Self::String(_) => FieldType::String,
        }
    }
}

/// Points of one measurement, in arrival order, column by column.
#[derive(Debug, Clone)]
pub struct MeasurementBuffer {
    measurement: String,
    /// Series id per row.
    series_of_row: Vec<u32>,
    time: Vec<i64>,
    series: Vec<SeriesTags>,
    series_ids: HashMap<SeriesTags, u32>,
    /// Every tag key of `series`, sorted.
    tag_keys: BTreeSet<String>,
    /// Smallest and largest time of each `ZONE_ROWS` rows of `time`, in order: a scan skips
    /// the zones outside its range (a query of the last hour need not look at every row).
    zones: Vec<(i64, i64)>,
    /// Series id by the line's series key as written (measurement and tags, escaped): the fast
    /// path of `push_line`, which then allocates nothing for a known series.
    raw_series: HashMap<Box<[u8]>, u32, FxBuild>,
    /// Field columns; `field_index` orders them by key.
    columns: Vec<FieldColumn>,
    field_index: BTreeMap<String, usize>,
    /// Column by field key as written (escaped), for `push_line`.
    raw_fields: HashMap<Box<[u8]>, usize, FxBuild>,
    /// Rough heap bytes held, for a flush policy.
    bytes: usize,
}

/// Rows per zone of `MeasurementBuffer::zones`.
const ZONE_ROWS: usize = 4096;

/// Most raw spellings of series keys remembered per buffer (beyond, the slow path interns).
const MAX_RAW_SERIES: usize = 1 << 20;

impl MeasurementBuffer {
    /// An empty buffer for `measurement` (unescaped).
    pub fn new(measurement: &str) -> Self {
        Self {
            measurement: measurement.to_owned(),
            series_of_row: Vec::new(),
            time: Vec::new(),
            series: Vec::new(),
            series_ids: HashMap::new(),
            tag_keys: BTreeSet::new(),
            zones: Vec::new(),
            raw_series: HashMap::default(),
            columns: Vec::new(),
            field_index: BTreeMap::new(),
            raw_fields: HashMap::default(),
            bytes: 0,
        }
    }

    pub fn measurement(&self) -> &str {
        &self.measurement
    }

    /// Rows buffered (before the duplicate merge).
    pub fn len(&self) -> usize {
        self.time.len()
    }

    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }

    /// Distinct series buffered.
    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// Rough heap bytes the buffered points take (columns and series keys), to decide when to
    /// flush. An estimate: it counts payload bytes and a fixed cost per slot, not allocator slack.
    pub fn estimated_bytes(&self) -> usize {
        self.bytes
    }

    /// Smallest and largest time buffered (ns), if any.
    pub fn time_range(&self) -> Option<(i64, i64)> {
        self.zones
            .iter()
            .copied()
            .reduce(|(a, b), (lo, hi)| (a.min(lo), b.max(hi)))
    }

    /// Every tag key of the series buffered, sorted.
    pub fn tag_keys(&self) -> impl Iterator<Item = &str> {
        self.tag_keys.iter().map(String::as_str)
    }

    /// Appends one row: its time and series.
    fn push_row(&mut self, time: i64, series: u32) -> usize {
        let row = self.time.len();
        self.time.push(time);
        self.series_of_row.push(series);
        match self.zones.last_mut() {
            Some((lo, hi)) if !row.is_multiple_of(ZONE_ROWS) => {
                (*lo, *hi) = ((*lo).min(time), (*hi).max(time))
            }
            _ => self.zones.push((time, time)),
        }
        row
    }

    /// The type each field key has in this buffer, by key.
    pub fn field_types(&self) -> impl Iterator<Item = (&str, FieldType)> {
        self.field_index
            .iter()
            .map(|(k, &i)| (k.as_str(), self.columns[i].field_type()))
    }

    /// Distinct field keys buffered.
    pub fn field_count(&self) -> usize {
        self.columns.len()
    }

    /// The tag sets of the series buffered, in first-seen order (keys sorted within each).
    pub fn series(&self) -> impl Iterator<Item = &[(String, String)]> {
        self.series.iter().map(Vec::as_slice)
    }

    /// The column index of field `key`, created with type `ty` when new.
    fn column(&mut self, key: &str, ty: FieldType) -> usize {
        if let Some(&i) = self.field_index.get(key) {
            return i;
        }
        let i = self.columns.len();
        self.columns.push(FieldColumn::new(ty));
        self.field_index.insert(key.to_owned(), i);
        i
    }

    /// The id of series `tags` (interned when new; `tags` sorted by key, no duplicates).
    fn intern(&mut self, tags: SeriesTags) -> u32 {
        if let Some(&id) = self.series_ids.get(&tags) {
            return id;
        }
        let id = u32::try_from(self.series.len()).expect("fewer than 2^32 series per buffer");
        self.bytes += tags
            .iter()
            .map(|(k, v)| k.len() + v.len() + 48)
            .sum::<usize>();
        for (k, _) in &tags {
            if !self.tag_keys.contains(k) {
                self.tag_keys.insert(k.clone());
            }
        }
        self.series.push(tags.clone());
        self.series_ids.insert(tags, id);
        id
    }

    /// Adds one parsed line. `line` must belong to this buffer's measurement (the caller groups
    /// lines by measurement); its timestamp is in `precision`, and a line without one gets
    /// `default_time_ns` (the write's arrival time). A field whose type differs from the one this
    /// buffer holds refuses the whole point, with InfluxDB's message; nothing is appended then.
    pub fn push_line(
        &mut self,
        line: &Line<'_>,
        precision: Precision,
        default_time_ns: i64,
    ) -> Result<(), StoreError> {
        debug_assert_eq!(
            unescape_measurement(line.measurement()).as_ref(),
            self.measurement.as_bytes(),
            "line pushed into another measurement's buffer"
        );
        let time = match line.timestamp() {
            None => default_time_ns,
            Some(t) => t
                .checked_mul(precision.nanos())
                .ok_or(StoreError::TimeOutOfRange {
                    value: t,
                    precision: precision.v1_name(),
                })?,
        };
        // 1. Field types, before anything changes: a refused point leaves no trace. A key seen
        // before (as written) costs one hash lookup and no allocation.
        let mut new_keys: Vec<(&[u8], String, FieldType)> = Vec::new();
        for (raw, input) in line.field_types() {
            let existing = match self.raw_fields.get(raw) {
                Some(&i) => Some(self.columns[i].field_type()),
                None => {
                    let key = utf8(&unescape_field_key(raw), "field key")?;
                    if key == TIME_COLUMN {
                        return Err(StoreError::ReservedKey { what: "field", key });
                    }
                    let known = self
                        .field_index
                        .get(&key)
                        .map(|&i| self.columns[i].field_type())
                        .or_else(|| {
                            new_keys
                                .iter()
                                .find(|(_, k, _)| *k == key)
                                .map(|(_, _, t)| *t)
                        });
                    // A conflict returns below; otherwise this makes (or aliases) the column.
                    new_keys.push((raw, key, input));
                    known
                }
            };
            if let Some(existing) = existing.filter(|&e| e != input) {
                let field = utf8(&unescape_field_key(raw), "field key")?;
                return Err(StoreError::FieldTypeConflict {
                    field,
                    measurement: self.measurement.clone(),
                    input,
                    existing,
                });
            }
        }
        // 2. The series (allocates only for a series key not seen as written).
        let id = match self.raw_series.get(line.series_key()) {
            Some(&id) => id,
            None => {
                let tags = line
                    .tags()
                    .map(|(k, v)| {
                        Ok((
                            utf8(&unescape(k), "tag key")?,
                            utf8(&unescape(v), "tag value")?,
                        ))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                let tags = canonical_tags(tags)?;
                let id = self.intern(tags);
                if self.raw_series.len() < MAX_RAW_SERIES {
                    self.raw_series.insert(line.series_key().into(), id);
                }
                id
            }
        };
        // 3. New columns, then the row.
        for (raw, key, ty) in new_keys {
            let i = self.column(&key, ty);
            self.raw_fields.insert(raw.into(), i);
        }
        let row = self.push_row(time, id);
        self.bytes += 12;
        for (raw, v) in line.fields() {
            let Some(&i) = self.raw_fields.get(raw) else {
                debug_assert!(false, "every field key got a column above");
                continue;
            };
            let value = match v {
                FieldValue::Float(f) => Value::Float(f),
                FieldValue::Integer(i) => Value::Integer(i),
                FieldValue::Unsigned(u) => Value::Unsigned(u),
                FieldValue::Boolean(b) => Value::Boolean(b),
                // Lossy, as InfluxDB answers such bytes (U+FFFD): the row is already pushed,
                // so an error here would leave half a point.
                FieldValue::String(s) => {
                    Value::String(String::from_utf8_lossy(&unescape_string(s)).into_owned())
                }
            };
            self.bytes += match &value {
                Value::String(s) => 24 + s.len(),
                _ => 16,
            };
            self.columns[i].set(row, value);
        }
        Ok(())
    }

    /// Adds one point given as unescaped tags and fields, time in ns. Duplicate keys inside the
    /// point: the last one wins. See [`MeasurementBuffer::push_line`] for the type check.
    pub fn push_point(
        &mut self,
        tags: Vec<(String, String)>,
        fields: Vec<(String, Value)>,
        time_ns: i64,
    ) -> Result<(), StoreError> {
        // Check everything before touching the columns: a refused point leaves no trace.
        let mut in_point: HashMap<&str, FieldType> = HashMap::new();
        for (key, value) in &fields {
            if key == TIME_COLUMN {
                return Err(StoreError::ReservedKey {
                    what: "field",
                    key: key.clone(),
                });
            }
            let input = value.field_type();
            let existing = self
                .field_index
                .get(key)
                .map(|&i| self.columns[i].field_type())
                .or_else(|| in_point.get(key.as_str()).copied());
            match existing {
                Some(existing) if existing != input => {
                    return Err(StoreError::FieldTypeConflict {
                        field: key.clone(),
                        measurement: self.measurement.clone(),
                        input,
                        existing,
                    });
                }
                _ => {
                    in_point.insert(key, input);
                }
            }
        }
        let id = self.intern(canonical_tags(tags)?);
        let row = self.push_row(time_ns, id);
        self.bytes += 12;
        for (key, value) in fields {
            // An Option<T> slot per row for every column from its first row on; strings also
            // own their bytes.
            self.bytes += match &value {
                Value::String(s) => 24 + s.len(),
                _ => 16,
            };
            let i = self.column(&key, value.field_type());
            self.columns[i].set(row, value);
        }
        Ok(())
    }

    /// The buffer as one Arrow batch: sorted by series then time, duplicates (same series and
    /// time) merged last-write-wins field by field. An empty buffer gives an empty batch.
    pub fn to_record_batch(&self) -> Result<RecordBatch, StoreError> {
        self.select(i64::MIN, i64::MAX, None, None)
    }
}

/// A tag column's name: its key, or `key_N` (smallest N ≥ 1 that is neither a field key nor a
/// tag key) when a field has that key.
pub(crate) fn tag_column_name<V>(key: &str, fields: &BTreeMap<String, V>, tags: &[&str]) -> String {
    if !fields.contains_key(key) {
        return key.to_owned();
    }
    (1..)
        .map(|n| format!("{key}_{n}"))
        .find(|name| !fields.contains_key(name.as_str()) && !tags.contains(&name.as_str()))
        .expect("an unbounded range has a free suffix")
}

/// Sorts tags by key; of duplicate keys the last written stays. Refuses a tag keyed `time`.
fn canonical_tags(mut tags: SeriesTags) -> Result<SeriesTags, StoreError> {
    if let Some((k, _)) = tags.iter().find(|(k, _)| k == TIME_COLUMN) {
        return Err(StoreError::ReservedKey {
            what: "tag",
            key: k.clone(),
        });
    }
    // Stable sort, then keep the last of equal keys.
    tags.sort_by(|a, b| a.0.cmp(&b.0));
    let mut dedup: SeriesTags = Vec::with_capacity(tags.len());
    for t in tags {
        match dedup.last_mut() {
            Some(last) if last.0 == t.0 => *last = t,
            _ => dedup.push(t),
        }
    }
    Ok(dedup)
}

/// FxHash (rustc's): a fast, non-keyed hasher for the buffer's byte-string lookups. The keys are
/// a tenant's own series and field names, so flooding would only slow the tenant's own writes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FxBuild;

impl std::hash::BuildHasher for FxBuild {
    type Hasher = FxHasher;
    fn build_hasher(&self) -> FxHasher {
        FxHasher(0)
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write(&[i]);
    }
    fn write_usize(&mut self, i: usize) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

fn role(role: &str, key: Option<&str>) -> HashMap<String, String> {
    let mut m = HashMap::from([(ROLE.to_owned(), role.to_owned())]);
    if let Some(key) = key {
        m.insert(ROLE_KEY.to_owned(), key.to_owned());
    }
    m
}

fn utf8(b: &[u8], what: &'static str) -> Result<String, StoreError> {
    std::str::from_utf8(b)
        .map(str::to_owned)
        .map_err(|_| StoreError::NotUtf8 { what })
}
