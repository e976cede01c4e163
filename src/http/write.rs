//! `POST /api/v2/write` and `POST /write`: authenticate, read, judge, make durable, answer.
//!
//! Owns: the order of checks of a write request and their answers, as InfluxDB gives them
//! (wire.md §3.2 for v2, §3.5 for v1): credentials (401), then parameters (400/404), then
//! permission (403), then the body (413/400), then the lines. A 204 is sent only after the
//! WAL has fsynced the record holding the accepted lines.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::auth::{self, Params};
use super::body::{self, BodyError};
use super::error::{ApiError, Dialect};
use crate::error::{ErrorCode, HasErrorCode};
use crate::ingest::{self, Api, IngestOptions};
use crate::metrics;
use crate::model::{BucketName, Entry, Precision, RecordKind, TenantId};
use crate::wal::WalError;

/// InfluxDB 2.x `/api/v2/write?org=&bucket=&precision=`. The tenant comes from the token;
/// `org` is accepted whatever it says.
pub async fn write_v2(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let d = Dialect::V2;
    let params = Params::parse(query.as_deref());
    let tenant = match auth::authenticate(&state, d, &headers, &params) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let Some(bucket) = params.get("bucket").filter(|b| !b.is_empty()) else {
        return ApiError::new(d, ErrorCode::NotFound, "bucket not found").into_response();
    };
    let precision = match Precision::parse_v2(params.get("precision").unwrap_or("")) {
        Some(p) => p,
        None => {
            return ApiError::new(
                d,
                ErrorCode::Invalid,
                "invalid precision; valid precision units are ns, us, ms, and s",
            )
            .into_response();
        }
    };
    let bucket = match BucketName::new(bucket) {
        Ok(b) if tenant.can_write(&b) => b,
        _ => {
            return ApiError::new(
                d,
                ErrorCode::Forbidden,
                "insufficient permissions for write",
            )
            .into_response();
        }
    };
    let gzip = content_encoding_is(&headers, &["gzip", "x-gzip"]);
    let target = Target {
        tenant: tenant.id().clone(),
        bucket,
        precision,
        api: Api::V2,
        gzip,
    };
    accept(&state, d, target, &headers, body).await
}

/// InfluxDB 1.x `/write?db=&rp=&precision=`.
pub async fn write_v1(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let d = Dialect::V1;
    let params = Params::parse(query.as_deref());
    let tenant = match auth::authenticate(&state, d, &headers, &params) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let Some(db) = params.get("db").filter(|db| !db.is_empty()) else {
        return ApiError::new(d, ErrorCode::Invalid, "database is required").into_response();
    };
    let precision_param = params.get("precision").unwrap_or("");
    let Some(precision) = Precision::parse_v1(precision_param) else {
        let msg = format!("invalid precision {precision_param:?} (use n, u, ms, s, m or h)");
        return ApiError::new(d, ErrorCode::Invalid, msg).into_response();
    };
    let rp = params.get("rp");
    let bucket = match crate::tenant::bucket_for_v1(db, rp) {
        Ok(b) if tenant.can_write(&b) => b,
        _ => {
            let user = auth::username(&headers, &params).unwrap_or_else(|| tenant.id().to_string());
            let msg = format!("{user:?} user is not authorized to write to database {db:?}");
            return ApiError::new(d, ErrorCode::Forbidden, msg).into_response();
        }
    };
    let gzip = content_encoding_is(&headers, &["gzip"]);
    let target = Target {
        tenant: tenant.id().clone(),
        bucket,
        precision,
        api: Api::V1,
        gzip,
    };
    accept(&state, d, target, &headers, body).await
}

/// Where an authorised write goes.
struct Target {
    tenant: TenantId,
    bucket: BucketName,
    precision: Precision,
    api: Api,
    gzip: bool,
}

async fn accept(
    state: &AppState,
    d: Dialect,
    target: Target,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let Some(core) = state.core.get() else {
        return ApiError::new(
            d,
            ErrorCode::Unavailable,
            "sluice is starting: replaying its WAL",
        )
        .retry_after(1)
        .into_response();
    };
    let limit = state.settings.max_body_bytes;
    let raw = match body::read_capped(body, content_length(headers), limit).await {
        Ok(b) => b,
        Err(e) => return body_error(d, &e, limit),
    };
    let (decoded, gzip) = if target.gzip {
        match body::gunzip_capped(&raw, limit) {
            Ok(b) => (b, Some(raw)),
            Err(e) => return body_error(d, &e, limit),
        }
    } else {
        (raw, None)
    };
    let opts = IngestOptions {
        api: target.api,
        precision: target.precision,
        allow_unsigned: target.api == Api::V2 && state.settings.allow_unsigned,
        now_ns: state.clock.now_ns(),
    };
    let verdict = ingest::ingest(decoded.clone(), &opts);
    // When every line was kept as it came, the client's gzip stream is the record's payload.
    let unchanged = verdict.accepted.lines.as_ptr() == decoded.as_ptr()
        && verdict.accepted.lines.len() == decoded.len();
    let gzip = gzip.filter(|_| unchanged);
    let points = verdict.accepted.points as u64;
    if points > 0 {
        let entry = Entry {
            tenant: target.tenant,
            bucket: target.bucket,
            precision: target.precision,
            kind: RecordKind::Write,
            lines: verdict.accepted.lines,
        };
        if let Err(e) = core.wal.append_with_gzip(entry, gzip).await {
            metrics::note_wal_error(&e, points);
            return wal_error(d, &e);
        }
        metrics::note_lines(points);
    }
    match verdict.error {
        None => StatusCode::NO_CONTENT.into_response(),
        Some(e) => {
            metrics::note_ingest_error(&e, &decoded);
            ApiError::from_err(d, &e).into_response()
        }
    }
}

fn wal_error(d: Dialect, e: &WalError) -> Response {
    match e {
        WalError::Full {
            retry_after_secs, ..
        } => ApiError::new(
            d,
            ErrorCode::Unavailable,
            "write-ahead log is full: waiting for the upstream to drain it",
        )
        .retry_after(*retry_after_secs)
        .into_response(),
        // The disk itself is full (ENOSPC): transient from the client's point of view.
        other if other.error_code() == ErrorCode::Unavailable => {
            ApiError::from_err(d, other).retry_after(10).into_response()
        }
        other => ApiError::from_err(d, other).into_response(),
    }
}

fn body_error(d: Dialect, e: &BodyError, limit: usize) -> Response {
    match e {
        BodyError::TooLarge { .. } | BodyError::InflatedTooLarge { .. } => {
            let msg = match d {
                Dialect::V2 => "unable to read data: points batch is too large".to_owned(),
                Dialect::V1 => "Request Entity Too Large".to_owned(),
            };
            ApiError::new(d, ErrorCode::RequestTooLarge, msg)
                .max_length(limit as u64)
                .into_response()
        }
        other => ApiError::from_err(d, other).into_response(),
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn content_encoding_is(headers: &HeaderMap, names: &[&str]) -> bool {
    headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| names.iter().any(|n| v.trim().eq_ignore_ascii_case(n)))
}
