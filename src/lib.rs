//! sluice: a multi-tenant time-series gateway speaking the InfluxDB HTTP API.
//!
//! # Layout
//!
//! - `model`: identifiers and value types that cross modules (`TenantId`, `BucketName`, `Precision`).
//! - `error`: the closed `ErrorCode` set every module error maps to.
//! - `lineproto`: zero-copy line-protocol splitting and validation with InfluxDB's Go semantics.

pub mod error;
pub mod lineproto;
pub mod model;
