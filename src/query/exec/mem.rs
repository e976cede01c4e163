//! `MemStore`: an in-memory `ReadStore` over `store::MeasurementBuffer`s, for the engine's tests
//! and benchmarks (the real store is `store`'s runtime).
//!
//! It answers `scan` exactly as the read contract says (store schema, sorted, deduplicated,
//! time-bounded, requested fields only, rows without any returned field dropped), ignoring
//! the `tag_equals` hint (allowed: it is only a hint).

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, TimestampNanosecondArray};
use arrow::compute::filter_record_batch;
use arrow::datatypes::Schema;

use crate::lineproto::FieldType;
use crate::model::{BucketName, TenantId};
use crate::store::{
    MeasurementBuffer, MeasurementSchema, ROLE, ROLE_FIELD, ROLE_KEY, ROLE_TAG, ReadStore,
    ScanRequest, SeriesKey, StoreError, Value,
};

/// Measurements per (tenant, bucket), each as one sorted batch.
#[derive(Debug, Default)]
pub struct MemStore {
    data: BTreeMap<(String, String), BTreeMap<String, RecordBatch>>,
    buffers: BTreeMap<(String, String, String), MeasurementBuffer>,
}

impl MemStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one point (tags, fields, time in ns) to `measurement` of `bucket`.
    pub fn push(
        &mut self,
        tenant: &str,
        bucket: &str,
        measurement: &str,
        tags: &[(&str, &str)],
        fields: Vec<(&str, Value)>,
        time_ns: i64,
    ) -> Result<(), StoreError> {
        let key = (tenant.to_owned(), bucket.to_owned(), measurement.to_owned());
        let buf = self
            .buffers
            .entry(key)
            .or_insert_with(|| MeasurementBuffer::new(measurement));
        buf.push_point(
            tags.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            time_ns,
        )
    }

    /// Sorts and merges everything pushed so far; call before querying.
    pub fn seal(&mut self) -> Result<(), StoreError> {
        for ((t, b, m), buf) in &self.buffers {
            let batch = buf.to_record_batch()?;
            self.data
                .entry((t.clone(), b.clone()))
                .or_default()
                .insert(m.clone(), batch);
        }
        Ok(())
    }

    fn batch(&self, tenant: &TenantId, bucket: &BucketName, m: &str) -> Option<&RecordBatch> {
        self.data
            .get(&(tenant.as_str().to_owned(), bucket.as_str().to_owned()))?
            .get(m)
    }
}

fn role(f: &arrow::datatypes::Field) -> (Option<&str>, String) {
    let md = f.metadata();
    (
        md.get(ROLE).map(String::as_str),
        md.get(ROLE_KEY)
            .cloned()
            .unwrap_or_else(|| f.name().clone()),
    )
}

fn field_type(dt: &arrow::datatypes::DataType) -> Option<FieldType> {
    use arrow::datatypes::DataType as D;
    Some(match dt {
        D::Float64 => FieldType::Float,
        D::Int64 => FieldType::Integer,
        D::UInt64 => FieldType::Unsigned,
        D::Boolean => FieldType::Boolean,
        D::Utf8 => FieldType::String,
        _ => return None,
    })
}

impl ReadStore for MemStore {
    fn measurements(&self, tenant: &TenantId, bucket: &BucketName) -> Vec<String> {
        self.data
            .get(&(tenant.as_str().to_owned(), bucket.as_str().to_owned()))
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn schema(&self, tenant: &TenantId, bucket: &BucketName, m: &str) -> Option<MeasurementSchema> {
        let b = self.batch(tenant, bucket, m)?;
        let mut s = MeasurementSchema::default();
        for f in b.schema().fields() {
            match role(f) {
                (Some(ROLE_TAG), k) => s.tags.push(k),
                (Some(ROLE_FIELD), k) => {
                    if let Some(t) = field_type(f.data_type()) {
                        s.fields.push((k, t));
                    }
                }
                _ => {}
            }
        }
        Some(s)
    }

    fn series(&self, tenant: &TenantId, bucket: &BucketName, m: &str) -> Vec<SeriesKey> {
        let Some(b) = self.batch(tenant, bucket, m) else {
            return Vec::new();
        };
        let Ok(measured) = crate::query::exec::scan::Measured::from_batch(m, b) else {
            return Vec::new();
        };
        measured
            .series
            .iter()
            .map(|s| {
                measured
                    .tag_keys
                    .iter()
                    .zip(&s.tags)
                    .filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone())))
                    .collect()
            })
            .collect()
    }

    fn scan(&self, req: &ScanRequest<'_>) -> Result<RecordBatch, StoreError> {
        let Some(b) = self.batch(req.tenant, req.bucket, req.measurement) else {
            return Err(StoreError::EmptyName);
        };
        // Keep tags, the requested fields and time.
        let schema = b.schema();
        let mut fields = Vec::new();
        let mut cols: Vec<ArrayRef> = Vec::new();
        let mut kept_fields: Vec<ArrayRef> = Vec::new();
        let mut time: Option<TimestampNanosecondArray> = None;
        for (i, f) in schema.fields().iter().enumerate() {
            let (r, key) = role(f);
            let keep = match r {
                Some(ROLE_FIELD) => req.fields.is_none_or(|want| want.contains(&key)),
                _ => true,
            };
            if keep {
                if r == Some(ROLE_FIELD) {
                    kept_fields.push(b.column(i).clone());
                }
                if r == Some(crate::store::ROLE_TIME) {
                    time = b
                        .column(i)
                        .as_any()
                        .downcast_ref::<TimestampNanosecondArray>()
                        .cloned();
                }
                fields.push(f.as_ref().clone());
                cols.push(b.column(i).clone());
            }
        }
        let time = time.ok_or(StoreError::NoTimeColumn)?;
        let mask: BooleanArray = (0..b.num_rows())
            .map(|r| {
                let t = time.value(r);
                Some(
                    t >= req.min_time
                        && t <= req.max_time
                        && kept_fields.iter().any(|c| c.is_valid(r)),
                )
            })
            .collect();
        let out = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?;
        let out = filter_record_batch(&out, &mask)?;
        if out.get_array_memory_size() > req.max_bytes {
            return Err(StoreError::ScanTooLarge {
                limit: req.max_bytes,
            });
        }
        Ok(out)
    }
}
