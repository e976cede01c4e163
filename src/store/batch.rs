//! `MeasurementBuffer`: points of one (tenant, bucket, measurement) accumulated column by column,
//! turned into a sorted, deduplicated Arrow `RecordBatch` (schema: see the `store` module docs).
//!
//! Rows are kept in arrival order with a series id each; sorting and the last-write-wins merge
//! happen once, in [`MeasurementBuffer::to_record_batch`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    StringDictionaryBuilder, TimestampNanosecondArray, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, TimeUnit};

use super::StoreError;
use crate::lineproto::{
    FieldType, FieldValue, Line, unescape, unescape_field_key, unescape_measurement,
    unescape_string,
};
use crate::model::Precision;

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

    /// One value per run of rows (`runs` index rows): the last non-null of the run.
    fn merge(&self, runs: &[Vec<usize>]) -> ArrayRef {
        fn last<T: Clone>(col: &[Option<T>], run: &[usize]) -> Option<T> {
            run.iter()
                .rev()
                .find_map(|&i| col.get(i).cloned().flatten())
        }
        match self {
            Self::Float(c) => Arc::new(runs.iter().map(|r| last(c, r)).collect::<Float64Array>()),
            Self::Integer(c) => Arc::new(runs.iter().map(|r| last(c, r)).collect::<Int64Array>()),
            Self::Unsigned(c) => Arc::new(runs.iter().map(|r| last(c, r)).collect::<UInt64Array>()),
            Self::Boolean(c) => Arc::new(runs.iter().map(|r| last(c, r)).collect::<BooleanArray>()),
            Self::String(c) => Arc::new(runs.iter().map(|r| last(c, r)).collect::<StringArray>()),
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
    fields: BTreeMap<String, FieldColumn>,
    /// Rough heap bytes held, for a flush policy.
    bytes: usize,
}

impl MeasurementBuffer {
    /// An empty buffer for `measurement` (unescaped).
    pub fn new(measurement: &str) -> Self {
        Self {
            measurement: measurement.to_owned(),
            series_of_row: Vec::new(),
            time: Vec::new(),
            series: Vec::new(),
            series_ids: HashMap::new(),
            fields: BTreeMap::new(),
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
        let min = self.time.iter().min()?;
        let max = self.time.iter().max()?;
        Some((*min, *max))
    }

    /// The type each field key has in this buffer, by key.
    pub fn field_types(&self) -> impl Iterator<Item = (&str, FieldType)> {
        self.fields
            .iter()
            .map(|(k, c)| (k.as_str(), c.field_type()))
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
        let tags = line
            .tags()
            .map(|(k, v)| {
                Ok((
                    utf8(&unescape(k), "tag key")?,
                    utf8(&unescape(v), "tag value")?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let fields = line
            .fields()
            .map(|(k, v)| {
                let key = utf8(&unescape_field_key(k), "field key")?;
                let value = match v {
                    FieldValue::Float(f) => Value::Float(f),
                    FieldValue::Integer(i) => Value::Integer(i),
                    FieldValue::Unsigned(u) => Value::Unsigned(u),
                    FieldValue::Boolean(b) => Value::Boolean(b),
                    FieldValue::String(s) => {
                        Value::String(utf8(&unescape_string(s), "string field")?)
                    }
                };
                Ok((key, value))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.push_point(tags, fields, time)
    }

    /// Adds one point given as unescaped tags and fields, time in ns. Duplicate keys inside the
    /// point: the last one wins. See [`MeasurementBuffer::push_line`] for the type check.
    pub fn push_point(
        &mut self,
        mut tags: Vec<(String, String)>,
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
                .fields
                .get(key)
                .map(FieldColumn::field_type)
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
        if let Some((k, _)) = tags.iter().find(|(k, _)| k == TIME_COLUMN) {
            return Err(StoreError::ReservedKey {
                what: "tag",
                key: k.clone(),
            });
        }
        // Sorted by key; of duplicate keys the last written stays (stable sort, then keep last).
        tags.sort_by(|a, b| a.0.cmp(&b.0));
        let mut dedup: SeriesTags = Vec::with_capacity(tags.len());
        for t in tags {
            match dedup.last_mut() {
                Some(last) if last.0 == t.0 => *last = t,
                _ => dedup.push(t),
            }
        }
        let next_id = u32::try_from(self.series.len()).expect("fewer than 2^32 series per buffer");
        let id = match self.series_ids.get(&dedup) {
            Some(&id) => id,
            None => {
                self.bytes += dedup
                    .iter()
                    .map(|(k, v)| k.len() + v.len() + 48)
                    .sum::<usize>();
                self.series.push(dedup.clone());
                self.series_ids.insert(dedup, next_id);
                next_id
            }
        };
        let row = self.time.len();
        self.time.push(time_ns);
        self.series_of_row.push(id);
        self.bytes += 12;
        for (key, value) in fields {
            // An Option<T> slot per row for every column from its first row on; strings also
            // own their bytes.
            self.bytes += match &value {
                Value::String(s) => 24 + s.len(),
                _ => 16,
            };
            self.fields
                .entry(key)
                .or_insert_with(|| FieldColumn::new(value.field_type()))
                .set(row, value);
        }
        Ok(())
    }

    /// The buffer as one Arrow batch: sorted by series then time, duplicates (same series and
    /// time) merged last-write-wins field by field. An empty buffer gives an empty batch.
    pub fn to_record_batch(&self) -> Result<RecordBatch, StoreError> {
        let tag_keys: Vec<&str> = {
            let mut keys: Vec<&str> = self
                .series
                .iter()
                .flat_map(|s| s.iter().map(|(k, _)| k.as_str()))
                .collect();
            keys.sort_unstable();
            keys.dedup();
            keys
        };
        // Rank every series by its tag values in column order, a missing tag first.
        let mut by_values: Vec<u32> = (0..self.series.len() as u32).collect();
        by_values.sort_by_cached_key(|&id| tag_values(&self.series[id as usize], &tag_keys));
        let mut rank = vec![0u32; self.series.len()];
        for (r, &id) in by_values.iter().enumerate() {
            rank[id as usize] = r as u32;
        }

        let mut order: Vec<usize> = (0..self.time.len()).collect();
        // Stable: equal (series, time) rows stay in arrival order, so "last" is the latest write.
        order.sort_by_key(|&i| (rank[self.series_of_row[i] as usize], self.time[i]));
        let mut runs: Vec<Vec<usize>> = Vec::new();
        for i in order {
            let key = (self.series_of_row[i], self.time[i]);
            match runs.last_mut() {
                Some(run) if (self.series_of_row[run[0]], self.time[run[0]]) == key => run.push(i),
                _ => runs.push(vec![i]),
            }
        }

        let mut columns: Vec<(Field, ArrayRef)> = Vec::new();
        for key in &tag_keys {
            let mut b = StringDictionaryBuilder::<Int32Type>::new();
            for run in &runs {
                let s = &self.series[self.series_of_row[run[0]] as usize];
                match s.binary_search_by(|(sk, _)| sk.as_str().cmp(key)) {
                    Ok(i) => b.append_value(&s[i].1),
                    Err(_) => b.append_null(),
                }
            }
            let name = tag_column_name(key, &self.fields, &tag_keys);
            let field = Field::new(
                name,
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                true,
            )
            .with_metadata(role(ROLE_TAG, Some(key)));
            columns.push((field, Arc::new(b.finish())));
        }
        for (key, col) in &self.fields {
            let field = Field::new(key.as_str(), col.data_type(), true)
                .with_metadata(role(ROLE_FIELD, Some(key)));
            columns.push((field, col.merge(&runs)));
        }
        let time = TimestampNanosecondArray::from(
            runs.iter().map(|r| self.time[r[0]]).collect::<Vec<i64>>(),
        );
        columns.push((
            Field::new(
                TIME_COLUMN,
                DataType::Timestamp(TimeUnit::Nanosecond, None),
                false,
            )
            .with_metadata(role(ROLE_TIME, None)),
            Arc::new(time),
        ));
        let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().unzip();
        Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
    }
}

/// A tag column's name: its key, or `key_N` (smallest N ≥ 1 that is neither a field key nor a
/// tag key) when a field has that key.
fn tag_column_name(key: &str, fields: &BTreeMap<String, FieldColumn>, tags: &[&str]) -> String {
    if !fields.contains_key(key) {
        return key.to_owned();
    }
    (1..)
        .map(|n| format!("{key}_{n}"))
        .find(|name| !fields.contains_key(name.as_str()) && !tags.contains(&name.as_str()))
        .expect("an unbounded range has a free suffix")
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
