//! Replaying the rows of a stored batch into a `MeasurementBuffer`, so that merging files uses
//! exactly the buffer's schema union, sort and last-write-wins rule.
//!
//! Owns: reading a batch in the store's schema by column role (`sluice.role`/`sluice.key`
//! metadata, not names). Does not own the merge rule (`batch`).

use std::path::Path;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{
    DataType, Float64Type, Int64Type, TimeUnit, TimestampNanosecondType, UInt64Type,
};

use crate::store::{
    MeasurementBuffer, ROLE, ROLE_FIELD, ROLE_KEY, ROLE_TAG, ROLE_TIME, StoreError, Value,
};

enum Col {
    Tag(String, StringArray),
    Field(String, ArrayRef),
}

fn bad(path: &Path, why: &'static str) -> StoreError {
    StoreError::BadPath {
        path: path.display().to_string(),
        why,
    }
}

/// Pushes every row of `batch` (read from `path`) into `buf`, in row order.
pub(crate) fn push_batch(
    buf: &mut MeasurementBuffer,
    batch: &RecordBatch,
    path: &Path,
) -> Result<(), StoreError> {
    let schema = batch.schema();
    let mut cols = Vec::new();
    let mut time = None;
    for (field, array) in schema.fields().iter().zip(batch.columns()) {
        let role = field.metadata().get(ROLE).map(String::as_str);
        let key = || {
            field
                .metadata()
                .get(ROLE_KEY)
                .cloned()
                .ok_or_else(|| bad(path, "a tag or field column has no sluice.key"))
        };
        match role {
            Some(ROLE_TAG) => {
                let values = cast(array, &DataType::Utf8)?;
                cols.push(Col::Tag(key()?, values.as_string::<i32>().clone()));
            }
            Some(ROLE_FIELD) => cols.push(Col::Field(key()?, array.clone())),
            Some(ROLE_TIME)
                if *array.data_type() == DataType::Timestamp(TimeUnit::Nanosecond, None) =>
            {
                time = Some(array.as_primitive::<TimestampNanosecondType>().clone());
            }
            _ => return Err(bad(path, "a column has no known sluice.role")),
        }
    }
    let time = time.ok_or(StoreError::NoTimeColumn)?;
    for row in 0..batch.num_rows() {
        let mut tags = Vec::new();
        let mut fields = Vec::new();
        for c in &cols {
            match c {
                Col::Tag(k, a) => {
                    if a.is_valid(row) {
                        tags.push((k.clone(), a.value(row).to_owned()));
                    }
                }
                Col::Field(k, a) => {
                    if let Some(v) = field_value(a, row, path)? {
                        fields.push((k.clone(), v));
                    }
                }
            }
        }
        buf.push_point(tags, fields, time.value(row))?;
    }
    Ok(())
}

fn field_value(a: &ArrayRef, row: usize, path: &Path) -> Result<Option<Value>, StoreError> {
    if a.is_null(row) {
        return Ok(None);
    }
    Ok(Some(match a.data_type() {
        DataType::Float64 => Value::Float(a.as_primitive::<Float64Type>().value(row)),
        DataType::Int64 => Value::Integer(a.as_primitive::<Int64Type>().value(row)),
        DataType::UInt64 => Value::Unsigned(a.as_primitive::<UInt64Type>().value(row)),
        DataType::Boolean => Value::Boolean(a.as_boolean().value(row)),
        DataType::Utf8 => Value::String(a.as_string::<i32>().value(row).to_owned()),
        _ => {
            return Err(bad(
                path,
                "a field column has a type the store does not write",
            ));
        }
    }))
}
