//! sluice: a multi-tenant time-series gateway speaking the InfluxDB HTTP API.
//!
//! # Layout
//!
//! - `model`: identifiers and value types that cross modules (`TenantId`, `BucketName`, `Precision`).
//! - `error`: the closed `ErrorCode` set every module error maps to.
//! - `config`: the TOML file → validated `Config` (defaults, `${ENV}`, errors with key and line).
//! - `tenant`: tenant registry (token hash → tenant), credentials, permissions, v1 db/rp mapping.

pub mod config;
pub mod error;
pub mod model;
pub mod tenant;
