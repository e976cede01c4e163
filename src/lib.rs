//! sluice: a multi-tenant time-series gateway speaking the InfluxDB HTTP API.
//!
//! Write path: `http` → `tenant` (auth) → `limits` (rates) → `ingest` (verdicts, via `lineproto`)
//! → `limits` (series) → `wal`
//! (fsync before the 204) → WAL consumers (`forward`, `store`). `app` wires them and owns shutdown.
//!
//! Query path: `http` (`/query`) → `tenant` → `limits` (queries) → `query` (InfluxQL → plan →
//! execution) → `store` (catalog and scans); `/api/v2/query` → `query::flux` (Flux → tables →
//! annotated CSV; recognized reads → plan → execution) → `store`. Fronting mode: both → `query::passthrough` (checked per tenant,
//! names rewritten) → the upstream InfluxDB, answers streamed back.
//!
//! # Layout
//!
//! - `model`: identifiers and value types that cross modules (`TenantId`, `BucketName`, `Precision`, `Record`).
//! - `error`: the closed `ErrorCode` set every module error maps to.
//! - `clock`: injected wall-clock time.
//! - `config`: the TOML file → validated `Config` (defaults, `${ENV}`, errors with key and line).
//! - `tenant`: tenant registry (token hash → tenant), credentials, permissions, v1 db/rp mapping.
//! - `lineproto`: zero-copy line-protocol scanner with InfluxDB's verdicts.
//! - `limits`: per-tenant write rates, series cardinality, query limits, global overload guards.
//! - `ingest`: one write body → accepted lines + InfluxDB's v1/v2 answer (partial writes).
//! - `dirlock`: the one-process lock on a directory (the WAL's, the store's).
//! - `wal`: segmented write-ahead log: record format, group commit, replay, cursors, quota.
//! - `store`: the embedded store: WAL consumer, Arrow buffers, durable Parquet partitions, catalog, scans, retention and compaction.
//! - `query`: InfluxQL and Flux front-ends, logical plan, execution over the store, answer encoders, the fronting-mode passthrough.
//! - `downsample`: streaming rollups (`[[downsample]]`): windows, watermark, late correction, WAL consumer writing derived records.
//! - `forward`: WAL consumer delivering records to an upstream InfluxDB (v1/v2), with retries and dead letters.
//! - `http`: the InfluxDB HTTP API (routes, capped bodies, error dialects).
//! - `metrics`: the Prometheus registry (`sluice_*`), write-path counters, scrape-time WAL/forwarder/process metrics, refusal log.
//! - `reload`: hot reload of the config file (SIGHUP, `POST /-/reload`) and its hooks.
//! - `telemetry`: logging set-up.
//! - `admin`: the admin listener: `GET /metrics`, `POST /-/reload`.
//! - `bench`: `sluice-bench`: Telegraf-shaped load generator, /proc CPU accounting, peer comparison.
//! - `app`: builds everything from a `Config`; start-up and shutdown order.

pub mod admin;
pub mod app;
pub mod bench;
pub mod clock;
pub mod config;
pub mod dirlock;
pub mod downsample;
pub mod error;
pub mod forward;
pub mod http;
pub mod ingest;
pub mod limits;
pub mod lineproto;
pub mod metrics;
pub mod model;
pub mod query;
pub mod reload;
pub mod store;
pub mod telemetry;
pub mod tenant;
pub mod wal;
