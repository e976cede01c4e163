//! Test helpers: real Parquet files built through `MeasurementBuffer` + `write_parquet`, and an
//! independent reader that merges a partition's live files into a map (not via the buffer).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimestampNanosecondType, UInt64Type};

use super::walk::list_partition;
use crate::model::{BucketName, TenantId, WalSeq};
use crate::store::{
    Day, FileName, MeasurementBuffer, PartitionKey, ROLE, ROLE_FIELD, ROLE_KEY, ROLE_TAG, Value,
    WriteOptions, live_files, read_parquet, write_parquet,
};

pub const HOUR_NS: i64 = 3_600_000_000_000;

/// A point: tags, fields, time (ns).
pub type Point = (Vec<(String, String)>, Vec<(String, Value)>, i64);
/// (series tags, time) → field → value, as readers must see it.
pub type Rows = BTreeMap<(Vec<(String, String)>, i64), BTreeMap<String, String>>;

pub fn key(tenant: &str, bucket: &str, measurement: &str, day: Day) -> PartitionKey {
    PartitionKey {
        tenant: TenantId::new(tenant).unwrap(),
        bucket: BucketName::new(bucket).unwrap(),
        measurement: measurement.to_owned(),
        day,
    }
}

pub fn fname(first: u64, last: u64) -> FileName {
    FileName {
        first: WalSeq(first),
        last: WalSeq(last),
    }
}

pub fn pt(tags: &[(&str, &str)], fields: &[(&str, Value)], time: i64) -> Point {
    (
        tags.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
        time,
    )
}

/// Writes `points` as the file `first-last` of partition `key` (a flush would do the same).
pub fn write_file(root: &Path, key: &PartitionKey, first: u64, last: u64, points: &[Point]) {
    let mut buf = MeasurementBuffer::new(&key.measurement);
    for (tags, fields, time) in points {
        buf.push_point(tags.clone(), fields.clone(), *time).unwrap();
    }
    let batch = buf.to_record_batch().unwrap();
    let path = key.dir(root).unwrap().join(fname(first, last).to_string());
    write_parquet(&path, &batch, &WriteOptions::default()).unwrap();
}

fn show(v: &Value) -> String {
    format!("{v:?}")
}

/// The rows of `batch` in the map form (by `sluice.role` metadata).
pub fn batch_rows(batch: &RecordBatch, into: &mut Rows) {
    let schema = batch.schema();
    let time = batch
        .column_by_name("time")
        .unwrap()
        .as_primitive::<TimestampNanosecondType>();
    for row in 0..batch.num_rows() {
        let mut tags = Vec::new();
        let mut fields = BTreeMap::new();
        for (f, a) in schema.fields().iter().zip(batch.columns()) {
            let k = f.metadata().get(ROLE_KEY).cloned().unwrap_or_default();
            if a.is_null(row) {
                continue;
            }
            match f.metadata().get(ROLE).map(String::as_str) {
                Some(ROLE_TAG) => {
                    let s = cast(a, &DataType::Utf8).unwrap();
                    tags.push((k, s.as_string::<i32>().value(row).to_owned()));
                }
                Some(ROLE_FIELD) => {
                    let v = match a.data_type() {
                        DataType::Float64 => {
                            Value::Float(a.as_primitive::<Float64Type>().value(row))
                        }
                        DataType::Int64 => Value::Integer(a.as_primitive::<Int64Type>().value(row)),
                        DataType::UInt64 => {
                            Value::Unsigned(a.as_primitive::<UInt64Type>().value(row))
                        }
                        DataType::Boolean => Value::Boolean(a.as_boolean().value(row)),
                        DataType::Utf8 => Value::String(a.as_string::<i32>().value(row).to_owned()),
                        t => panic!("unexpected type {t}"),
                    };
                    fields.insert(k, show(&v));
                }
                _ => {}
            }
        }
        tags.sort();
        // Later rows win field by field: merge into what is there.
        into.entry((tags, time.value(row)))
            .or_default()
            .extend(fields);
    }
}

/// What a reader sees in a partition: its live files, oldest `last` first, merged field by
/// field into a map. Independent of `MeasurementBuffer`'s merge.
pub fn read_partition(root: &Path, key: &PartitionKey) -> Rows {
    let dir = key.dir(root).unwrap();
    let mut rows = Rows::new();
    for name in live_files(list_partition(&dir).unwrap().names()) {
        for b in read_parquet(&dir.join(name.to_string())).unwrap() {
            batch_rows(&b, &mut rows);
        }
    }
    rows
}

/// The model: `points` applied in order, last write wins field by field.
pub fn model(points: &[&[Point]]) -> Rows {
    let mut rows = Rows::new();
    for (tags, fields, time) in points.iter().flat_map(|p| p.iter()) {
        let mut tags = tags.clone();
        tags.sort();
        let e = rows.entry((tags, *time)).or_default();
        for (k, v) in fields {
            e.insert(k.clone(), show(v));
        }
    }
    rows
}

/// Live file names of a partition.
pub fn live(root: &Path, key: &PartitionKey) -> Vec<FileName> {
    live_files(list_partition(&key.dir(root).unwrap()).unwrap().names())
}

/// Every file name (live or not) of a partition.
pub fn all_files(root: &Path, key: &PartitionKey) -> Vec<String> {
    let l = list_partition(&key.dir(root).unwrap()).unwrap();
    let mut v: Vec<String> = l.files.iter().map(|(n, _)| n.to_string()).collect();
    v.extend(l.tmp);
    v.extend(l.strays);
    v.sort();
    v
}
