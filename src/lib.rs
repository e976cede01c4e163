//! sluice: a multi-tenant time-series gateway speaking the InfluxDB HTTP API.
//!
//! # Layout
//!
//! - `model`: identifiers and value types that cross modules (`TenantId`, `BucketName`, `Precision`).
//! - `error`: the closed `ErrorCode` set every module error maps to.
//! - `forward`: WAL consumer delivering records to an upstream InfluxDB (v1/v2), with retries and dead letters.

pub mod error;
pub mod forward;
pub mod model;
