//! `SHOW DATABASES` through the passthrough: the upstream lists every database its
//! credentials see; the tenant gets only its own, under the names it knows them by.
//!
//! Owns: rewriting a buffered InfluxDB 1.x JSON answer (one document, or the newline-separated
//! documents of `chunked=true`): in the results of the `SHOW DATABASES` statements, rows
//! naming a database the tenant does not own are dropped and `bucket_prefix` is taken off the
//! others. Everything else in the answer is kept, in InfluxDB's field order. Also `unprefix`:
//! the tenant's own names back in an upstream error message. Pure: no IO.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::PassError;
use crate::model::BucketName;
use crate::tenant::{BucketPattern, Tenant};

#[derive(Debug, Serialize, Deserialize)]
struct Document {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    results: Option<Vec<StatementResult>>,
    #[serde(flatten)]
    rest: serde_json::Map<String, Value>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StatementResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    statement_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    series: Option<Vec<Row>>,
    #[serde(flatten)]
    rest: serde_json::Map<String, Value>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Row {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tags: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    columns: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    values: Option<Vec<Vec<Value>>>,
    #[serde(flatten)]
    rest: serde_json::Map<String, Value>,
}

/// The tenant's name for the upstream database `name`, or `None` when it is not the tenant's.
pub fn tenant_db(tenant: &Tenant, name: &str) -> Option<String> {
    let db = name.strip_prefix(tenant.upstream_prefix())?;
    BucketName::new(db).ok()?;
    let owned = tenant.buckets().iter().any(|p| match p {
        BucketPattern::Any => true,
        BucketPattern::Exact(b) => crate::tenant::v1_db_rp(b).0 == db,
    });
    owned.then(|| db.to_owned())
}

/// Filters the answers of the statements `ids` (`SHOW DATABASES`) in `body`.
pub fn filter(tenant: &Tenant, body: &[u8], ids: &[usize]) -> Result<Vec<u8>, PassError> {
    let mut out = Vec::with_capacity(body.len());
    for line in body.split(|b| *b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let mut doc: Document = serde_json::from_slice(line).map_err(|e| PassError::BadAnswer {
            reason: e.to_string(),
        })?;
        for r in doc.results.iter_mut().flatten() {
            let wanted = r
                .statement_id
                .is_some_and(|id| ids.iter().any(|i| *i as u64 == id));
            if !wanted {
                continue;
            }
            for row in r.series.iter_mut().flatten() {
                if let Some(values) = row.values.as_mut() {
                    values.retain_mut(|v| keep(tenant, v));
                }
                // InfluxDB leaves `values` out of a series without rows.
                if row.values.as_ref().is_some_and(Vec::is_empty) {
                    row.values = None;
                }
            }
        }
        serde_json::to_writer(&mut out, &doc).map_err(|e| PassError::BadAnswer {
            reason: e.to_string(),
        })?;
        out.push(b'\n');
    }
    Ok(out)
}

/// Keeps a `[name]` row naming one of the tenant's databases, renamed to the tenant's name.
fn keep(tenant: &Tenant, row: &mut [Value]) -> bool {
    let Some(Value::String(name)) = row.first() else {
        return false;
    };
    match tenant_db(tenant, name) {
        Some(db) => {
            row[0] = Value::String(db);
            true
        }
        None => false,
    }
}

/// `text` with the upstream names of the tenant's buckets (and their v1 databases) turned
/// back into the tenant's names, longest first (for upstream error messages). Unchanged when
/// the tenant has no `bucket_prefix`.
pub fn unprefix(tenant: &Tenant, text: &[u8]) -> Vec<u8> {
    let prefix = tenant.upstream_prefix();
    let Ok(s) = std::str::from_utf8(text) else {
        return text.to_vec();
    };
    if prefix.is_empty() {
        return text.to_vec();
    }
    let mut names: Vec<String> = Vec::new();
    for p in tenant.buckets() {
        if let BucketPattern::Exact(b) = p {
            names.push(b.as_str().to_owned());
            names.push(crate::tenant::v1_db_rp(b).0.to_owned());
        }
    }
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    names.dedup();
    let mut out = s.to_owned();
    for n in names {
        out = out.replace(&format!("{prefix}{n}"), &n);
    }
    out.into_bytes()
}
