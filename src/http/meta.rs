//! `/ping`, `/health`, `/ready`, and the part of v1 `/query` that writers use.
//!
//! Owns: InfluxDB's answers to liveness and version probes (wire.md §3.4) and to
//! `CREATE DATABASE`, which Telegraf's v1 output sends at start-up (wire.md §1.4): a tenant
//! "creates" a database it may already write to, and gets InfluxDB's success answer.
//! Does not own: queries (a later issue); other statements get a statement error.

use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::auth::{self, Params};
use super::body;
use super::error::{ApiError, Dialect};
use crate::error::ErrorCode;

/// Longest query text read from a request body.
const MAX_QUERY_BYTES: usize = 1 << 20;

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

/// `GET|POST /query`: `CREATE DATABASE` for a bucket the tenant owns succeeds.
pub async fn query_v1(
    State(state): State<Arc<AppState>>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let d = Dialect::V1;
    let mut params = Params::parse(query.as_deref());
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut raw_q = None;
    if method == Method::POST {
        let bytes = match body::read_capped(body, None, MAX_QUERY_BYTES).await {
            Ok(b) => b,
            Err(e) => return ApiError::from_err(d, &e).into_response(),
        };
        if ctype.starts_with("application/vnd.influxql") {
            raw_q = Some(String::from_utf8_lossy(&bytes).into_owned());
        } else {
            params.extend_form(&bytes);
        }
    }
    let tenant = match auth::authenticate(&state, d, &headers, &params) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let Some(q) = raw_q.or_else(|| params.get("q").map(str::to_owned)) else {
        return ApiError::new(d, ErrorCode::Invalid, "missing required parameter \"q\"")
            .into_response();
    };
    let Some(db) = parse_create_database(&q) else {
        let msg = format!("sluice does not execute this statement yet: {}", q.trim());
        return json_response(
            StatusCode::OK,
            &json!({"results": [{"statement_id": 0, "error": msg}]}),
        );
    };
    let allowed = crate::tenant::bucket_for_v1(&db, None).is_ok_and(|b| tenant.can_write(&b));
    if !allowed {
        let user = auth::username(&headers, &params).unwrap_or_else(|| tenant.id().to_string());
        let msg = format!(
            "error authorizing query: {user} not authorized to execute statement 'CREATE DATABASE {db}', requires admin privilege"
        );
        return ApiError::new(d, ErrorCode::Forbidden, msg).into_response();
    }
    let mut result = json!({"statement_id": 0});
    if method == Method::GET {
        result["messages"] = json!([{
            "level": "warning",
            "text": format!("deprecated use of 'CREATE DATABASE {db}' in a read only context, please use a POST request instead"),
        }]);
    }
    json_response(StatusCode::OK, &json!({ "results": [result] }))
}

/// The database name of `CREATE DATABASE <name> [WITH ...]` (one statement, an optional `;`),
/// with InfluxQL's identifier rules: bare `[A-Za-z_][A-Za-z0-9_]*` or double-quoted with `\"`,
/// `\\` and `\n` escapes.
pub fn parse_create_database(q: &str) -> Option<String> {
    let mut words = q.trim().trim_end_matches(';').trim_start();
    for kw in ["CREATE", "DATABASE"] {
        let (w, rest) = words.split_at_checked(kw.len())?;
        if !w.eq_ignore_ascii_case(kw) || !rest.starts_with(char::is_whitespace) {
            return None;
        }
        words = rest.trim_start();
    }
    let (name, rest) = if let Some(quoted) = words.strip_prefix('"') {
        let mut name = String::new();
        let mut chars = quoted.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i + 1,
                (_, '\\') => match chars.next()?.1 {
                    'n' => name.push('\n'),
                    c => name.push(c),
                },
                (_, c) => name.push(c),
            }
        };
        (name, &quoted[end..])
    } else {
        let end = words
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(words.len());
        let name = &words[..end];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        (name.to_owned(), &words[end..])
    };
    let rest = rest.trim();
    let tail_ok = rest.is_empty()
        || rest
            .get(..4)
            .is_some_and(|w| w.eq_ignore_ascii_case("WITH"));
    (tail_ok && !name.is_empty()).then_some(name)
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

#[cfg(test)]
mod tests {
    use super::parse_create_database as p;

    #[test]
    fn create_database_statements() {
        assert_eq!(
            p("CREATE DATABASE \"telegraf\"").as_deref(),
            Some("telegraf")
        );
        assert_eq!(p("create database telegraf;").as_deref(), Some("telegraf"));
        assert_eq!(p("CREATE DATABASE \"a\\\"b\"").as_deref(), Some("a\"b"));
        assert_eq!(
            p("CREATE DATABASE mydb WITH DURATION 1d").as_deref(),
            Some("mydb")
        );
        assert_eq!(p("CREATE DATABASE"), None);
        assert_eq!(p("CREATE DATABASE \"unterminated"), None);
        assert_eq!(p("DROP DATABASE x"), None);
        assert_eq!(p("SELECT * FROM cpu"), None);
        assert_eq!(p("CREATE DATABASEx y"), None);
    }
}
