//! What a query answers, before encoding: series of rows, as InfluxQL's JSON shows them.
//!
//! Owns: the engine's output types (`Series`, `Datum`) and the context a statement runs in
//! (`QueryContext`). Does not own: encoding them (InfluxQL JSON, Flux CSV), nor computing them.

use std::sync::Arc;

use super::rows::Rows;
use crate::model::{BucketName, TenantId};

/// One value in a result row.
#[derive(Debug, Clone, PartialEq)]
pub enum Datum {
    Null,
    Float(f64),
    Integer(i64),
    Unsigned(u64),
    Boolean(bool),
    /// Shared: a tag value comes from the series index without a copy.
    String(Arc<str>),
    /// A timestamp, ns since the Unix epoch (UTC); encoded per the request's `epoch`.
    Time(i64),
}

/// One series of a statement's answer (InfluxDB's `models.Row`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Measurement name (or `databases`, `measurements`, ... for SHOW statements; may be empty).
    pub name: String,
    /// Group-by tags, sorted by key; empty when the statement has no tag grouping.
    pub tags: Vec<(String, String)>,
    pub columns: Vec<String>,
    /// Rows of `columns.len()` cells.
    pub values: Rows,
    /// Set when the series was cut short (chunked answers).
    pub partial: bool,
}

/// Where and under which bounds one statement runs.
pub struct QueryContext<'a> {
    pub tenant: &'a TenantId,
    /// The request's `db` and `rp` parameters (`db` may be empty: Grafana always sends it).
    pub db: &'a str,
    pub rp: Option<&'a str>,
    /// Maps a database (and optional retention policy) named by the request or the statement to
    /// the tenant's bucket; `None` when the tenant owns no such bucket. Callers answer `None` as
    /// InfluxDB answers an absent database (`database not found: <db>`), whether the bucket
    /// belongs to another tenant or to no one.
    pub resolve: &'a (dyn Fn(&str, Option<&str>) -> Option<BucketName> + Sync),
    /// `now()` for this statement, ns since the Unix epoch.
    pub now_ns: i64,
    /// Bound on the rows read from the store for one statement (estimated bytes).
    pub max_scan_bytes: usize,
    /// Bound on the rows one statement may answer; past it the statement fails.
    pub max_rows: usize,
}
