//! `POST /api/v2/write` and `POST /write`: authenticate, read, judge, make durable, answer.
//!
//! Owns: the order of checks of a write request and their answers, as InfluxDB gives them
//! (wire.md §3.2 for v2, §3.5 for v1): credentials (401), then parameters (400/404), then
//! permission (403), then the body (413/400), then the lines. A 204 is sent only after the
//! WAL has fsynced the record holding the accepted lines.
//!
//! Limits (`limits`), in this order: the global in-flight request/byte budget (503 before the
//! body is read); the tenant's bytes/s from `Content-Length` (a peek, before the body is read);
//! after reading and counting the lines, bytes/s and lines/s together (429 for v2, 503 for v1,
//! with Retry-After; 413 when larger than a burst); after judging the lines, series
//! cardinality (lines of new series beyond the limit are dropped, the rest stored, 400 partial
//! write). When nothing is refused the accepted bytes are still the body itself.

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
use crate::limits::{self, LimitError};
use crate::metrics::{self, Reason};
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
    let cl = content_length(headers);
    let mut in_flight = match state.limits.enter(cl.unwrap_or(0)) {
        Ok(g) => g,
        Err(e) => return limit_error(d, &e),
    };
    if let Some(len) = cl
        && let Err(e) = state.limits.check_bytes(&target.tenant, len)
    {
        return limit_error(d, &e);
    }
    let limit = state.settings.max_body_bytes;
    let mut charge = |n: u64| in_flight.charge(n).is_ok();
    let read = body::read_capped_charged(body, cl, limit, &mut charge);
    let raw = match tokio::time::timeout(state.settings.body_read_timeout, read).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => return body_error(d, &e, limit),
        Err(_) => {
            return ApiError::new(
                d,
                ErrorCode::Unavailable,
                "timed out reading the request body",
            )
            .retry_after(1)
            .into_response();
        }
    };
    let key = limits::RequestKey {
        lines: 0,
        bytes: raw.len() as u64,
        checksum: crc32c::crc32c(&raw),
    };
    let (decoded, gzip) = if target.gzip {
        match body::gunzip_capped(&raw, limit) {
            Ok(b) => (b, Some(raw)),
            Err(e) => return body_error(d, &e, limit),
        }
    } else {
        (raw, None)
    };
    if state.limits.has_write_rate(&target.tenant) {
        let lines = crate::lineproto::split_lines(&decoded).count() as u64;
        if let Err(e) = state
            .limits
            .take_write(&target.tenant, limits::RequestKey { lines, ..key })
        {
            return limit_error(d, &e);
        }
    }
    let opts = IngestOptions {
        api: target.api,
        precision: target.precision,
        allow_unsigned: target.api == Api::V2 && state.settings.allow_unsigned,
        now_ns: state.clock.now_ns(),
    };
    // With the embedded store, a field must keep the type its bucket already holds.
    let mut verdict = match &core.store {
        Some(store) => {
            store
                .field_types()
                .judge(&target.tenant, &target.bucket, decoded.clone(), &opts)
        }
        None => ingest::ingest(decoded.clone(), &opts),
    };
    let mut series_error = None;
    if verdict.accepted.points > 0 {
        let hashes = limits::line_series(&verdict.accepted.lines);
        let (seen, err) = state
            .limits
            .admit_series(&target.tenant, &target.bucket, &hashes);
        if seen.refused_count > 0 {
            verdict.accepted.lines = limits::drop_lines(&verdict.accepted.lines, &seen.refused);
            verdict.accepted.points = verdict.accepted.points.saturating_sub(seen.refused_count);
            metrics::note_refused(Reason::Cardinality, seen.refused_count as u64);
        }
        series_error = err;
    }
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
    drop(in_flight);
    if let Some(e) = series_error {
        return series_answer(d, &e, verdict.error.as_ref());
    }
    match verdict.error {
        None => StatusCode::NO_CONTENT.into_response(),
        Some(e) => {
            metrics::note_ingest_error(&e, &decoded);
            ApiError::from_err(d, &e).into_response()
        }
    }
}

/// A refusal by a limit, with its Retry-After when it has one.
pub(super) fn limit_error(d: Dialect, e: &LimitError) -> Response {
    if let Some(reason) = refusal_reason(e) {
        metrics::note_refused(reason, 0);
    }
    let mut err = ApiError::from_err(d, e);
    if let Some(secs) = e.retry_after() {
        err = err.retry_after(secs);
    }
    err.into_response()
}

/// The metrics reason of a limit's refusal.
fn refusal_reason(e: &LimitError) -> Option<Reason> {
    match e {
        LimitError::Rate { .. } => Some(Reason::Rate),
        LimitError::TooLarge { .. } => Some(Reason::Burst),
        LimitError::Series { .. } => Some(Reason::Cardinality),
        LimitError::Overloaded { .. } => Some(Reason::Overload),
        _ => None,
    }
}

/// Lines of new series were refused, the others stored: a partial write (400 in both
/// dialects, so Telegraf drops the batch rather than resending what is stored). Refusals of
/// the ingest verdict, if any, follow in the same message.
fn series_answer(d: Dialect, e: &LimitError, other: Option<&ingest::IngestError>) -> Response {
    let mut msg = match d {
        Dialect::V1 => format!("partial write: {e}"),
        Dialect::V2 => format!("failure writing points to database: partial write: {e}"),
    };
    if let Some(o) = other {
        msg.push_str("; ");
        msg.push_str(&o.to_string());
    }
    ApiError::new(d, ErrorCode::Invalid, msg).into_response()
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
        BodyError::Overloaded => ApiError::from_err(d, e).retry_after(1).into_response(),
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
