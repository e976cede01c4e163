//! `POST /api/v2/query`: Flux as InfluxDB 2 answers it (wire.md §2.6–2.9, §3.3).
//!
//! Owns: reading the request (`org`/`orgID`; a JSON body `query`, `type`, `dialect`, `now`,
//! `extern`, or an `application/vnd.flux` body), its validation and the errors before any
//! answer byte (JSON `{"code","message"}`: 400 compile errors, 404 unknown bucket, 413, 429,
//! 500), the read-your-writes barrier and timeout (as `/query`), and the annotated CSV answer.
//! In fronting mode (no embedded store) a parsed script is checked and sent to the upstream
//! (`http::passthrough`), except one that lists `buckets()`, which sluice answers itself from
//! the tenant's configured buckets.
//! Does not own: the language (`query::flux`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use super::auth::{self, Params};
use super::body;
use super::error::{ApiError, Dialect};
use super::query::{MAX_ROWS, MAX_SCAN_BYTES, QUERY_TIMEOUT, Seen, drop_later, run_query};
use crate::error::ErrorCode;
use crate::metrics::Lang;
use crate::model::BucketName;
use crate::query::flux::csv::{self, Annotation};
use crate::query::flux::{self as fluxq, FluxContext};
use crate::query::passthrough::{self, flux::Plan, flux::owned_bucket};
use crate::store::ReadStore;
use crate::tenant::{BucketPattern, Tenant};

/// Largest request body (the query inside is bounded by `query::flux::MAX_QUERY_BYTES`).
const MAX_BODY_BYTES: usize = 2 << 20;

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct QueryRequest {
    query: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    dialect: Option<DialectRequest>,
    now: Option<String>,
    #[serde(rename = "extern")]
    extern_: Option<serde_json::Value>,
    params: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct DialectRequest {
    header: Option<bool>,
    delimiter: Option<String>,
    annotations: Option<Vec<String>>,
    comment_prefix: Option<String>,
    date_time_format: Option<String>,
}

fn invalid(msg: impl Into<String>) -> Response {
    ApiError::new(Dialect::V2, ErrorCode::Invalid, msg).into_response()
}

/// `POST /api/v2/query`.
pub async fn query_v2(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = std::time::Instant::now();
    let mut seen = Seen::default();
    let resp = run_v2(&state, query, headers, body, &mut seen).await;
    seen.report(&state, Lang::Flux, &resp, started);
    resp
}

async fn run_v2(
    state: &Arc<AppState>,
    query: Option<String>,
    headers: HeaderMap,
    body: Body,
    seen: &mut Seen,
) -> Response {
    let d = Dialect::V2;
    let params = Params::parse(query.as_deref());
    let tenant = match auth::authenticate(state, d, &headers, &params) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    seen.tenant = Some(tenant.id().clone());
    let bytes = match body::read_capped(body, None, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(e) => return ApiError::from_err(d, &e).into_response(),
    };
    if params.get("org").is_none_or(str::is_empty) && params.get("orgID").is_none_or(str::is_empty)
    {
        return invalid("failed to decode request body: Please provide either orgID or org");
    }
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let req = if ctype.starts_with("application/vnd.flux") {
        QueryRequest {
            query: Some(String::from_utf8_lossy(&bytes).into_owned()),
            ..QueryRequest::default()
        }
    } else {
        match serde_json::from_slice::<QueryRequest>(&bytes) {
            Ok(r) => r,
            Err(e) => return invalid(format!("failed to decode request body: {e}")),
        }
    };
    let (src, dialect, now) = match validate(req) {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    if let Some(up) = &state.passthrough {
        match pass_check(&tenant, &src) {
            Err(resp) => return resp,
            Ok(Plan::Local) => {}
            Ok(Plan::Upstream(text)) => {
                let permit = match state.limits.start_query(tenant.id()) {
                    Ok(p) => p,
                    Err(e) => return super::write::limit_error(d, &e),
                };
                let json = !ctype.starts_with("application/vnd.flux");
                let body = upstream_body(&bytes, json, text);
                let gzip = super::compress::accepts_gzip(&headers);
                return super::passthrough::flux(up, &tenant, body, gzip, permit, seen).await;
            }
        }
    }
    let program = match fluxq::compile(&src) {
        Ok(p) => p,
        Err(e) if e.code == ErrorCode::Invalid => {
            return invalid(format!("compilation failed: {}", e.message));
        }
        Err(e) => return ApiError::from_err(d, &e).into_response(),
    };
    let permit = match state.limits.start_query(tenant.id()) {
        Ok(p) => p,
        Err(e) => return super::write::limit_error(d, &e),
    };
    let Some(core) = state.core.get().cloned() else {
        return ApiError::new(d, ErrorCode::Unavailable, "replaying the write-ahead log")
            .retry_after(1)
            .into_response();
    };
    let store = core.store.clone();
    if store.is_none() && state.passthrough.is_none() {
        return ApiError::new(
            d,
            ErrorCode::NotImplemented,
            "Flux is answered by sluice's embedded store or passed to the upstream, and this sluice has neither",
        )
        .into_response();
    }
    if let Some(store) = &store
        && let Err(e) = store
            .wait_applied(core.wal.last_durable(), QUERY_TIMEOUT)
            .await
    {
        return ApiError::from_err(d, &e).into_response();
    }
    let now_ns = now.unwrap_or_else(|| state.clock.now_ns());
    // Variable queries (schema.*, buckets()) over current series indexes run in place.
    let cheap = fluxq::answers_from_index(&program)
        && store
            .as_deref()
            .is_some_and(|s| s.series_indexes_current(tenant.id()));
    let run = move || {
        let _permit = permit;
        let store: Option<&dyn ReadStore> = store.as_deref().map(|s| s as &dyn ReadStore);
        let resolve = |name: &str| owned_bucket(&tenant, name);
        let ctx = FluxContext {
            tenant: tenant.id(),
            store,
            resolve: &resolve,
            buckets: readable_buckets(&tenant, store),
            retention_ns: 0,
            now_ns,
            max_scan_bytes: MAX_SCAN_BYTES,
            max_rows: MAX_ROWS,
        };
        // Encoded here too: a large answer is written on the blocking pool (in parallel).
        fluxq::execute_answers(&program, &ctx).map(|answers| {
            let csv = csv::encode_answers(&answers, &dialect);
            let cells = answers.iter().map(|a| a.tables.row_cells()).sum();
            drop_later(answers, cells);
            csv
        })
    };
    let body = match run_query(cheap, run).await {
        Ok(Ok(Ok(r))) => r,
        Ok(Ok(Err(e))) => return ApiError::from_err(d, &e).into_response(),
        Ok(Err(_)) => return ApiError::new(d, ErrorCode::Internal, "query failed").into_response(),
        Err(_) => {
            seen.timed_out = true;
            return ApiError::new(
                d,
                ErrorCode::Unavailable,
                format!("query timeout: still running after {QUERY_TIMEOUT:?}"),
            )
            .into_response();
        }
    };
    csv_response(body)
}

/// The answer: its pieces sent one after the other, not joined, with their length.
fn csv_response(mut pieces: Vec<String>) -> Response {
    let mut resp = if pieces.len() <= 1 {
        (StatusCode::OK, pieces.pop().unwrap_or_default()).into_response()
    } else {
        let len: usize = pieces.iter().map(String::len).sum();
        let chunks = pieces
            .into_iter()
            .map(|p| Ok::<_, std::convert::Infallible>(bytes::Bytes::from(p)));
        let body = Body::from_stream(futures_util::stream::iter(chunks));
        let mut resp = (StatusCode::OK, body).into_response();
        // A stream's length is unknown to hyper: said here, not left to chunked encoding.
        resp.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        resp
    };
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    resp
}

/// The request's query, dialect and `now`, or the 400 InfluxDB gives.
#[allow(clippy::result_large_err)]
fn validate(req: QueryRequest) -> Result<(String, csv::Dialect, Option<i64>), Response> {
    match req.kind.as_deref() {
        None | Some("flux") | Some("") => {}
        Some(other) => {
            return Err(invalid(format!(
                "failed to decode request body: unsupported query type {other:?}"
            )));
        }
    }
    // Clients send an `extern` file holding `option` statements (the Python client sends an
    // empty one); options are outside the subset.
    if req
        .extern_
        .as_ref()
        .is_some_and(|e| !e.is_null() && e["body"].as_array().is_none_or(|b| !b.is_empty()))
    {
        return Err(invalid(
            "failed to decode request body: extern options are not supported",
        ));
    }
    if req
        .params
        .as_ref()
        .is_some_and(|p| !p.is_null() && p.as_object().is_none_or(|o| !o.is_empty()))
    {
        return Err(invalid(
            "failed to decode request body: params are not supported",
        ));
    }
    let Some(src) = req.query.filter(|q| !q.trim().is_empty()) else {
        return Err(invalid(
            "failed to decode request body: query cannot be empty",
        ));
    };
    let mut dialect = csv::Dialect::default();
    if let Some(dr) = req.dialect {
        if let Some(h) = dr.header {
            dialect.header = h;
        }
        if let Some(sep) = dr.delimiter {
            let mut chars = sep.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => dialect.delimiter = c,
                _ => {
                    return Err(invalid(
                        "failed to decode request body: invalid dialect delimiter: must be a single character",
                    ));
                }
            }
        }
        for a in dr.annotations.unwrap_or_default() {
            dialect.annotations.push(match a.as_str() {
                "datatype" => Annotation::Datatype,
                "group" => Annotation::Group,
                "default" => Annotation::Default,
                other => {
                    return Err(invalid(format!(
                        "failed to decode request body: unknown annotation type {other:?}"
                    )));
                }
            });
        }
        let _ = dr.comment_prefix;
        match dr.date_time_format.as_deref() {
            None | Some("RFC3339") | Some("RFC3339Nano") => {}
            Some(other) => {
                return Err(invalid(format!(
                    "failed to decode request body: invalid dialect date time format {other:?}"
                )));
            }
        }
    }
    let now = match req.now.as_deref() {
        None | Some("") => None,
        Some(t) => Some(
            fluxq::parser::parse_time(t)
                .map_err(|e| invalid(format!("failed to decode request body: now: {e}")))?,
        ),
    };
    Ok((src, dialect, now))
}

/// What `buckets()` lists: the tenant's named buckets and, for `"*"`, those holding data.
fn readable_buckets(tenant: &Tenant, store: Option<&dyn ReadStore>) -> Vec<BucketName> {
    let mut out: Vec<BucketName> = tenant
        .buckets()
        .iter()
        .filter_map(|p| match p {
            BucketPattern::Exact(b) => Some(b.clone()),
            BucketPattern::Any => None,
        })
        .collect();
    if let Some(store) = store {
        out.extend(
            store
                .buckets(tenant.id())
                .into_iter()
                .filter(|b| tenant.can_read(b)),
        );
    }
    out.sort();
    out.dedup();
    out
}

/// Fronting mode: the parsed script checked for the tenant (400 when it does not parse, 403
/// when it is refused).
#[allow(clippy::result_large_err)]
fn pass_check(tenant: &Tenant, src: &str) -> Result<Plan, Response> {
    if src.len() > fluxq::MAX_QUERY_BYTES {
        let msg = format!(
            "query is {} bytes, more than the {} allowed",
            src.len(),
            fluxq::MAX_QUERY_BYTES
        );
        return Err(ApiError::new(Dialect::V2, ErrorCode::RequestTooLarge, msg).into_response());
    }
    let program = fluxq::parser::parse(src)
        .map_err(|e| invalid(format!("compilation failed: {}", e.message)))?;
    passthrough::flux::check(tenant, &program, src)
        .map_err(|r| super::passthrough::refused(Dialect::V2, &r))
}

/// The JSON request for the upstream: the checked script, and the client's `dialect` and
/// `now` (nothing else: `extern` and `params` were refused).
fn upstream_body(bytes: &[u8], json: bool, query: String) -> Vec<u8> {
    let mut out = serde_json::Map::new();
    out.insert("query".into(), query.into());
    out.insert("type".into(), "flux".into());
    if json && let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) {
        for key in ["dialect", "now"] {
            if let Some(x) = v.get(key).filter(|x| !x.is_null()) {
                out.insert(key.into(), x.clone());
            }
        }
    }
    serde_json::Value::Object(out).to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn an_answer_in_pieces_is_their_bytes_in_order_with_their_length() {
        let three = vec!["x".repeat(70_000), "yz\r\n".to_owned(), "\r\n".to_owned()];
        for pieces in [vec![], vec!["a,b\r\n".to_owned()], three] {
            let (want, streamed) = (pieces.concat(), pieces.len() > 1);
            let resp = csv_response(pieces);
            assert_eq!(resp.status(), StatusCode::OK);
            let h = resp.headers();
            assert_eq!(h[header::CONTENT_TYPE], "text/csv; charset=utf-8");
            // A whole string's length is hyper's to say; a stream's is said here.
            let len = h
                .get(header::CONTENT_LENGTH)
                .map(|v| v.to_str().expect("ascii").to_owned());
            assert_eq!(len, streamed.then(|| want.len().to_string()));
            let got = resp.into_body().collect().await.expect("body").to_bytes();
            assert_eq!(got, want.as_bytes());
        }
    }
}
