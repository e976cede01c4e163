//! sluice: a multi-tenant time-series gateway speaking the InfluxDB HTTP API.
//!
//! # Layout
//!
//! - `model`: identifiers and value types that cross modules (`TenantId`, `BucketName`, `Precision`).
//! - `error`: the closed `ErrorCode` set every module error maps to.
//! - `wal`: write-ahead log: record format, segments, group commit, replay, cursors, quota.

pub mod error;
pub mod model;
pub mod wal;
