//! `/ping`, `/health`, `/ready`.
//!
//! Owns: InfluxDB's answers to liveness and version probes (wire.md §3.4).
//! Does not own: `/query` (`http::query`).

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::auth::Params;

/// `GET|HEAD /ping`: 204, or `200 {"version":...}` with `verbose=true`.
pub async fn ping(RawQuery(query): RawQuery) -> Response {
    let params = Params::parse(query.as_deref());
    if params.get("verbose").is_some_and(|v| v == "true") {
        return json_response(StatusCode::OK, &json!({ "version": super::VERSION_HEADER }));
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /health`: InfluxDB 2's shape. The process is healthy while it serves; upstream
/// trouble is reported as a failing check, not as an unhealthy process (a liveness probe
/// must not restart sluice because InfluxDB is down).
pub async fn health(State(state): State<Arc<AppState>>) -> Response {
    let mut checks = Vec::new();
    match state.core.get() {
        None => checks.push(json!({"name": "wal", "status": "fail", "message": "replaying"})),
        Some(core) => {
            checks.push(json!({"name": "wal", "status": "pass"}));
            if let Some(fwd) = &core.forward {
                checks.push(upstream_check(fwd));
            }
        }
    }
    let body = json!({
        "name": "sluice",
        "message": "ready for queries and writes",
        "status": "pass",
        "checks": checks,
        "version": super::VERSION_HEADER,
        "commit": "",
    });
    json_response(StatusCode::OK, &body)
}

/// `GET /ready`: 200 once the WAL is replayed, 503 before.
pub async fn ready(State(state): State<Arc<AppState>>) -> Response {
    if state.core.get().is_none() {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"status": "not ready", "message": "replaying the write-ahead log"}),
        );
    }
    let up = SystemTime::now()
        .duration_since(state.started)
        .unwrap_or_default();
    let started = humantime::format_rfc3339_seconds(state.started).to_string();
    json_response(
        StatusCode::OK,
        &json!({
            "status": "ready",
            "started": started,
            "up": humantime::format_duration(std::time::Duration::from_secs(up.as_secs())).to_string(),
        }),
    )
}

/// The forwarder's state as a `/health` check: `fail` while any bucket's deliveries fail,
/// naming the buckets and the upstream's last answer.
fn upstream_check(fwd: &crate::forward::ForwardStatus) -> serde_json::Value {
    let snap = fwd.snapshot();
    let failing: Vec<String> = snap
        .buckets
        .iter()
        .filter(|(_, b)| b.failing)
        .map(|((tenant, bucket), b)| {
            let last = b.last_error.as_ref().map_or_else(String::new, |e| {
                format!(
                    ": {} {}",
                    e.status.map_or_else(|| "-".to_owned(), |s| s.to_string()),
                    e.message
                )
            });
            format!("{tenant}/{bucket}{last}")
        })
        .collect();
    let status = if failing.is_empty() { "pass" } else { "fail" };
    json!({
        "name": "upstream",
        "status": status,
        "message": failing.join("; "),
        "lag_records": snap.lag_records,
        "watermark": snap.watermark.0,
    })
}

fn json_response(status: StatusCode, value: &serde_json::Value) -> Response {
    let mut resp = (status, format!("{value}\n")).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp
}
