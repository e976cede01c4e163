//! Fronting mode's query answers: `/query` and `/api/v2/query` passed through to the upstream
//! (`query::passthrough` checks and sends them).
//!
//! Owns: the answers of a passed-through query: 403 for a refused one (v1 `{"error":
//! "error authorizing query: …"}`, v2 `{"code":"forbidden",…}`), 503 when the upstream cannot
//! be reached or does not answer within the query timeout, the upstream's status, content type
//! and body otherwise: error bodies read whole (bounded, upstream names turned back into the
//! tenant's), 2xx bodies streamed chunk by chunk
//! while the tenant's query permit is held, `SHOW DATABASES` answers read whole and filtered.
//! A 2xx body the upstream gzipped (asked for when the client accepts gzip) is passed on
//! gzipped, byte for byte, with its `Content-Encoding`, so the compression layer leaves it; a
//! body read whole is decoded first.
//! Does not own: reading the client's request (`http::query`, `http::flux`).

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::body::BodyError;
use super::error::{ApiError, Dialect};
use super::query::Seen;
use crate::limits::QueryPermit;
use crate::query::passthrough::upstream::V1Query;
use crate::query::passthrough::{Answer, PassError, Refusal, Upstream, showdb};
use crate::tenant::Tenant;

/// Most bytes of an upstream error body, or of an answer that must be read whole.
const MAX_BUFFERED: u64 = 16 << 20;

/// 403 for a refused query, in the request's dialect.
pub(super) fn refused(d: Dialect, r: &Refusal) -> Response {
    let msg = match d {
        Dialect::V1 => format!("error authorizing query: {}", r.message),
        Dialect::V2 => r.message.clone(),
    };
    ApiError::new(d, crate::error::ErrorCode::Forbidden, msg).into_response()
}

fn failed(d: Dialect, e: &PassError, seen: &mut Seen) -> Response {
    if matches!(e, PassError::Timeout { .. }) {
        seen.timed_out = true;
    }
    tracing::warn!(error = %e, "passthrough query failed");
    ApiError::from_err(d, e).into_response()
}

/// Sends a checked InfluxQL query and answers with the upstream's answer.
pub(super) async fn influxql(
    up: &Upstream,
    tenant: &Tenant,
    query: V1Query,
    show_databases: &[usize],
    permit: Option<QueryPermit>,
    seen: &mut Seen,
) -> Response {
    let d = Dialect::V1;
    let answer = match up.influxql(tenant, &query).await {
        Ok(a) => a,
        Err(e) => return failed(d, &e, seen),
    };
    if show_databases.is_empty() || !(200..300).contains(&answer.status) {
        return relay(d, tenant, answer, permit, seen).await;
    }
    let status = answer.status;
    let ctype = answer.content_type.clone();
    let body = match collect_plain(answer).await {
        Ok(b) => b,
        Err(e) => return failed(d, &e, seen),
    };
    drop(permit);
    match showdb::filter(tenant, &body, show_databases) {
        Ok(filtered) => respond(status, ctype.as_deref(), Body::from(filtered)),
        Err(e) => failed(d, &e, seen),
    }
}

/// Sends a checked Flux request (`body`: JSON) and answers with the upstream's answer.
pub(super) async fn flux(
    up: &Upstream,
    tenant: &Tenant,
    body: Vec<u8>,
    gzip: bool,
    permit: Option<QueryPermit>,
    seen: &mut Seen,
) -> Response {
    let d = Dialect::V2;
    match up.flux(tenant, body, gzip).await {
        Ok(a) => relay(d, tenant, a, permit, seen).await,
        Err(e) => failed(d, &e, seen),
    }
}

/// The upstream's answer to the client: a 2xx streamed (the permit travels with the stream),
/// anything else read whole, bounded, with the tenant's upstream names turned back into its own.
async fn relay(
    d: Dialect,
    tenant: &Tenant,
    answer: Answer,
    permit: Option<QueryPermit>,
    seen: &mut Seen,
) -> Response {
    let status = answer.status;
    let ctype = answer.content_type.clone();
    if (200..300).contains(&status) {
        if let Err(e) = answer.check_length() {
            return failed(d, &e, seen);
        }
        let encoding = answer.content_encoding.clone();
        let length = answer.content_length;
        let stream = answer.into_stream(permit);
        let mut resp = respond(status, ctype.as_deref(), Body::from_stream(stream));
        let h = resp.headers_mut();
        if let Some(v) = encoding.and_then(|e| HeaderValue::from_str(&e).ok()) {
            h.insert(header::CONTENT_ENCODING, v);
            h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        }
        // Its length, as the upstream sent it: the compression layer then knows the size of
        // a plain answer (InfluxDB 2 leaves one under 1400 bytes plain, and so does sluice).
        if let Some(n) = length {
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
        }
        return resp;
    }
    match collect_plain(answer).await {
        Ok(b) => respond(
            status,
            ctype.as_deref(),
            Body::from(showdb::unprefix(tenant, &b)),
        ),
        Err(e) => failed(d, &e, seen),
    }
}

/// The whole body, at most `MAX_BUFFERED` bytes, decoded if the upstream gzipped it.
async fn collect_plain(answer: Answer) -> Result<bytes::Bytes, PassError> {
    let gzipped = answer
        .content_encoding
        .as_deref()
        .is_some_and(|e| e.trim().eq_ignore_ascii_case("gzip"));
    let body = answer.collect(MAX_BUFFERED).await?;
    if !gzipped {
        return Ok(body);
    }
    gunzip(&body, MAX_BUFFERED)
}

/// `body` gunzipped (`http::body`'s capped decoder), when that is at most `max` bytes.
fn gunzip(body: &[u8], max: u64) -> Result<bytes::Bytes, PassError> {
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    super::body::gunzip_capped(body, limit).map_err(|e| match e {
        BodyError::InflatedTooLarge { .. } => PassError::TooLarge { limit: max },
        e => PassError::BadAnswer {
            reason: format!("its gzip does not decode: {e}"),
        },
    })
}

fn respond(status: u16, ctype: Option<&str>, body: Body) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut resp = (status, body).into_response();
    if let Some(v) = ctype.and_then(|c| HeaderValue::from_str(c).ok()) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).expect("gzip");
        e.finish().expect("gzip")
    }

    #[test]
    fn a_gzipped_body_read_whole_is_decoded_within_the_bound() {
        let text = b"{\"error\":\"database not found: acme_x\"}".repeat(50);
        assert_eq!(gunzip(&gzip(&text), 1 << 20).expect("decodes"), text);
        assert!(matches!(
            gunzip(&gzip(&text), 100),
            Err(PassError::TooLarge { limit: 100 })
        ));
        assert!(matches!(
            gunzip(b"not gzip", 1 << 20),
            Err(PassError::BadAnswer { .. })
        ));
    }
}
