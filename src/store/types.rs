//! The field types each bucket holds: what a write is checked against.
//!
//! Owns: per (tenant, bucket), measurement → field → type, over everything the bucket holds or
//! will hold (Parquet files, the buffers, and records ingest accepted that the store has not
//! applied yet), and the atomic check-and-record a write path needs ([`FieldTypes::admit`]), so
//! that two concurrent requests cannot both introduce a field with different types.
//! Built at start-up from the files' schemas and the WAL replay; then grown by ingest (before the
//! WAL append) and by the consumer (idempotently). Types are never removed while running (a
//! retention drop does not make a field's type free again until restart).
//! Does not own: judging lines (`ingest`), nor the schema the query engine sees (`catalog`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

use crate::ingest::{self, FieldTypeOf, IngestOptions, KnownTypes, TypeConflict, Verdict};
use crate::lineproto::FieldType;
use crate::model::{BucketName, TenantId};

/// measurement → field → type (names unescaped).
#[derive(Debug, Clone, Default)]
pub struct BucketTypes(HashMap<Vec<u8>, HashMap<Vec<u8>, FieldType>>);

impl BucketTypes {
    pub fn get(&self, measurement: &[u8], field: &[u8]) -> Option<FieldType> {
        self.0.get(measurement)?.get(field).copied()
    }

    /// Records `ty` unless the field has a type already; the type it has afterwards.
    fn record(&mut self, measurement: &[u8], field: &[u8], ty: FieldType) -> FieldType {
        if let Some(t) = self.get(measurement, field) {
            return t;
        }
        *self
            .0
            .entry(measurement.to_vec())
            .or_default()
            .entry(field.to_vec())
            .or_insert(ty)
    }
}

impl KnownTypes for BucketTypes {
    fn field_type(&self, measurement: &[u8], field: &[u8]) -> Option<FieldType> {
        self.get(measurement, field)
    }
}

type Key = (TenantId, BucketName);

/// Field types of every bucket. Readers take a snapshot (`Arc`), writers copy on write.
#[derive(Debug, Default)]
pub struct FieldTypes {
    buckets: Mutex<HashMap<Key, Arc<BucketTypes>>>,
}

impl FieldTypes {
    pub fn new() -> Self {
        Self::default()
    }

    /// The bucket's types as they are now (empty for a bucket without any).
    pub fn snapshot(&self, tenant: &TenantId, bucket: &BucketName) -> Arc<BucketTypes> {
        let map = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(&(tenant.clone(), bucket.clone()))
            .cloned()
            .unwrap_or_default()
    }

    /// Records each of `fields` the bucket does not have yet and returns those the bucket has
    /// with another type (recording none of them). One lock for the whole check and record.
    pub fn admit(
        &self,
        tenant: &TenantId,
        bucket: &BucketName,
        fields: &[FieldTypeOf],
    ) -> Vec<TypeConflict> {
        if fields.is_empty() {
            return Vec::new();
        }
        let mut map = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = map.entry((tenant.clone(), bucket.clone())).or_default();
        let types = Arc::make_mut(slot);
        let mut conflicts = Vec::new();
        for f in fields {
            let now = types.record(&f.measurement, &f.field, f.ty);
            if now != f.ty {
                conflicts.push(TypeConflict {
                    measurement: f.measurement.clone(),
                    field: f.field.clone(),
                    input: f.ty,
                    existing: now,
                });
            }
        }
        conflicts
    }

    /// Records a type the store holds (start-up, WAL replay); the first type recorded stays.
    pub fn record(
        &self,
        tenant: &TenantId,
        bucket: &BucketName,
        measurement: &[u8],
        field: &[u8],
        ty: FieldType,
    ) {
        let mut map = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (tenant.clone(), bucket.clone());
        if map.get(&key).and_then(|t| t.get(measurement, field)) == Some(ty) {
            return;
        }
        Arc::make_mut(map.entry(key).or_default()).record(measurement, field, ty);
    }

    /// Judges a write against the bucket's types: [`ingest::ingest_checked`] on a snapshot, then
    /// the atomic record of the types it introduces; a type another request recorded in
    /// between drops the points that use it (partial write).
    pub fn judge(
        &self,
        tenant: &TenantId,
        bucket: &BucketName,
        body: Bytes,
        opts: &IngestOptions,
    ) -> Verdict {
        let snapshot = self.snapshot(tenant, bucket);
        let mut verdict = ingest::ingest_checked(body, opts, &*snapshot);
        let conflicts = self.admit(tenant, bucket, &verdict.new_fields);
        ingest::drop_conflicts(&mut verdict, opts, &conflicts);
        verdict
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ingest::{Api, IngestError};
    use crate::model::Precision;

    fn opts(api: Api) -> IngestOptions {
        IngestOptions {
            api,
            precision: Precision::Nanoseconds,
            allow_unsigned: true,
            now_ns: 1,
        }
    }

    fn ids() -> (TenantId, BucketName) {
        (TenantId::new("t").unwrap(), BucketName::new("b").unwrap())
    }

    #[test]
    fn a_second_request_with_another_type_is_a_partial_write_in_both_dialects() {
        let types = FieldTypes::new();
        let (t, b) = ids();
        let v = types.judge(
            &t,
            &b,
            Bytes::from_static(b"cpu value=1.5 1\n"),
            &opts(Api::V1),
        );
        assert_eq!(v.error, None);
        let v = types.judge(
            &t,
            &b,
            Bytes::from_static(b"cpu value=2i 2\ncpu other=1i 3\n"),
            &opts(Api::V1),
        );
        assert_eq!(v.accepted.points, 1);
        assert_eq!(&v.accepted.lines[..], b"cpu other=1i 3\n");
        assert_eq!(
            v.error,
            Some(IngestError::Partial {
                api: Api::V1,
                message: "partial write: field type conflict: input field \"value\" on measurement \"cpu\" is type integer, already exists as type float dropped=1".into(),
                dropped: 1
            })
        );
        let v = types.judge(
            &t,
            &b,
            Bytes::from_static(b"cpu value=2i 2\n"),
            &opts(Api::V2),
        );
        assert_eq!(v.accepted.points, 0);
        assert_eq!(
            v.error.unwrap().to_string(),
            "failure writing points to database: partial write: field type conflict: input field \"value\" on measurement \"cpu\" is type integer, already exists as type float dropped=1"
        );
        // Another bucket is free to use another type.
        let other = BucketName::new("c").unwrap();
        let v = types.judge(
            &t,
            &other,
            Bytes::from_static(b"cpu value=2i 2\n"),
            &opts(Api::V2),
        );
        assert_eq!(v.error, None);
    }

    #[test]
    fn a_type_recorded_between_check_and_admit_drops_the_points() {
        let types = FieldTypes::new();
        let (t, b) = ids();
        // Request A checked against an empty snapshot...
        let snapshot = types.snapshot(&t, &b);
        let mut v = ingest::ingest_checked(
            Bytes::from_static(b"cpu value=1i 1\ncpu x=1 2\n"),
            &opts(Api::V1),
            &*snapshot,
        );
        assert_eq!(v.new_fields.len(), 2);
        // ...then request B recorded `value` as float first.
        types.record(&t, &b, b"cpu", b"value", FieldType::Float);
        let conflicts = types.admit(&t, &b, &v.new_fields);
        assert_eq!(conflicts.len(), 1);
        ingest::drop_conflicts(&mut v, &opts(Api::V1), &conflicts);
        assert_eq!(&v.accepted.lines[..], b"cpu x=1 2\n");
        assert!(v.error.unwrap().to_string().contains("dropped=1"));
        assert_eq!(
            types.snapshot(&t, &b).get(b"cpu", b"x"),
            Some(FieldType::Float)
        );
    }

    #[test]
    fn in_batch_lines_of_the_bucket_type_are_kept() {
        let types = FieldTypes::new();
        let (t, b) = ids();
        types.record(&t, &b, b"cpu", b"v", FieldType::Float);
        let v = types.judge(
            &t,
            &b,
            Bytes::from_static(b"cpu v=1i 1\ncpu v=2 2\n"),
            &opts(Api::V1),
        );
        assert_eq!(&v.accepted.lines[..], b"cpu v=2 2\n");
        assert!(v.new_fields.is_empty());
    }
}
