//! `GET|POST /query`: InfluxQL as InfluxDB 1.x answers it (wire.md §2.2–2.5, §3.5).
//!
//! Owns: reading the request (`q` from the query string, a form body or an
//! `application/vnd.influxql` body; `db`, `rp`, `epoch`, `chunked`, `chunk_size`), the answers
//! before any statement runs (401, 400 `missing required parameter "q"`, 400 `error parsing
//! query: …`, 403 for a `CREATE DATABASE` the tenant may not, 429 past the tenant's query
//! limits), the read-your-writes barrier (a query sees every write acknowledged before it
//! started), the per-query timeout, streaming chunked answers, and reporting each request to
//! `sluice_query_*` (`metrics::QueryMetrics`). In fronting mode (`AppState::passthrough`) a
//! parsed query is checked and sent to the upstream instead (`http::passthrough`).
//! Does not own: statements (`query::influxql`), encoding (`query::influxql::response`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::auth::{self, Params};
use super::body;
use super::error::{ApiError, Dialect};
use crate::error::ErrorCode;
use crate::metrics::{Lang, QueryOutcome};
use crate::model::{BucketName, TenantId};
use crate::query::QueryContext;
use crate::query::influxql::ast::{Query, Statement};
use crate::query::influxql::response::{self, Epoch, StatementResult};
use crate::query::influxql::run::Runner;
use crate::query::passthrough::{self, Upstream, upstream::V1Query};
use crate::store::ReadStore;
use crate::tenant::{BucketPattern, Tenant, bucket_for_v1, v1_db_rp};

/// Longest query text read from a request body or the query string.
pub const MAX_QUERY_BYTES: usize = 1 << 20;
/// Longest a query may run.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(60);
/// Most rows one statement may answer.
pub const MAX_ROWS: usize = 1_000_000;
/// Most (estimated) bytes one statement may read from the store.
pub const MAX_SCAN_BYTES: usize = 1 << 30;
/// InfluxDB's default `chunk_size`.
const DEFAULT_CHUNK_SIZE: usize = 10_000;

/// `GET|POST /query`.
pub async fn query_v1(
    State(state): State<Arc<AppState>>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let mut seen = Seen::default();
    let resp = run_v1(&state, method, query, headers, body, &mut seen).await;
    seen.report(&state, Lang::InfluxQl, &resp, started);
    resp
}

/// What the query metrics need to know of a request beyond its status (`/query` and
/// `/api/v2/query` fill it in as they go).
#[derive(Default)]
pub(super) struct Seen {
    pub(super) tenant: Option<TenantId>,
    pub(super) statement_error: bool,
    pub(super) timed_out: bool,
}

impl Seen {
    /// Reports the request that answered `resp`, started at `started`, to `sluice_query_*`.
    pub(super) fn report(&self, state: &AppState, lang: Lang, resp: &Response, started: Instant) {
        let outcome = if self.timed_out {
            QueryOutcome::Timeout
        } else {
            QueryOutcome::of(resp.status().as_u16(), self.statement_error)
        };
        state
            .query_metrics
            .observe(lang, self.tenant.as_ref(), outcome, started.elapsed());
    }
}

async fn run_v1(
    state: &Arc<AppState>,
    method: Method,
    query: Option<String>,
    headers: HeaderMap,
    body: Body,
    seen: &mut Seen,
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
    let tenant = match auth::authenticate(state, d, &headers, &params) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    seen.tenant = Some(tenant.id().clone());
    let Some(q) = raw_q.or_else(|| params.get("q").map(str::to_owned)) else {
        return ApiError::new(d, ErrorCode::Invalid, "missing required parameter \"q\"")
            .into_response();
    };
    if q.len() > MAX_QUERY_BYTES {
        let msg = format!(
            "query is {} bytes, more than the {MAX_QUERY_BYTES} allowed",
            q.len()
        );
        return ApiError::new(d, ErrorCode::RequestTooLarge, msg).into_response();
    }
    let parsed = match crate::query::influxql::parser::parse_query(q.trim()) {
        Ok(p) => p,
        Err(e) => {
            return ApiError::new(d, ErrorCode::Invalid, format!("error parsing query: {e}"))
                .into_response();
        }
    };
    if let Some(up) = &state.passthrough {
        return pass_v1(state, up, &tenant, parsed, &params, &headers, &method, seen).await;
    }
    if let Some(denied) = authorize(&tenant, &parsed, &headers, &params) {
        return denied;
    }
    let permit = match state.limits.start_query(tenant.id()) {
        Ok(p) => p,
        Err(e) => return super::write::limit_error(d, &e),
    };
    let Some(core) = state.core.get().cloned() else {
        return ApiError::new(d, ErrorCode::Unavailable, "replaying the write-ahead log")
            .retry_after(1)
            .into_response();
    };
    let epoch = Epoch::from_param(params.get("epoch"));
    let chunked = params.get("chunked") == Some("true");
    let chunk_size = params
        .get("chunk_size")
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_CHUNK_SIZE);
    let db = params.get("db").unwrap_or("").to_owned();
    let rp = params.get("rp").map(str::to_owned);
    let now_ns = state.clock.now_ns();
    let read_only = method == Method::GET;

    if let Some(store) = &core.store
        && let Err(e) = store
            .wait_applied(core.wal.last_durable(), QUERY_TIMEOUT)
            .await
    {
        return ApiError::from_err(d, &e).into_response();
    }
    let cheap = parsed.statements.iter().all(answers_from_index)
        && core
            .store
            .as_deref()
            .is_some_and(|s| s.series_indexes_current(tenant.id()));
    let run = move || {
        let _permit = permit;
        let store = core.store.as_deref().map(|s| s as &dyn ReadStore);
        let owned = owned_dbs(&tenant, store);
        let resolve = |db: &str, rp: Option<&str>| -> Option<BucketName> {
            bucket_for_v1(db, rp).ok().filter(|b| tenant.can_read(b))
        };
        let runner = Runner {
            ctx: QueryContext {
                tenant: tenant.id(),
                db: &db,
                rp: rp.as_deref(),
                resolve: &resolve,
                now_ns,
                max_scan_bytes: MAX_SCAN_BYTES,
                max_rows: MAX_ROWS,
            },
            store,
            owned_dbs: &owned,
            read_only,
            series_json: !chunked,
        };
        // Encoded here too: a large answer is written on the blocking pool (in parallel).
        let results = runner.run(&parsed);
        let failed = results.iter().any(|r| r.error.is_some());
        let answer = Answer::encode(&results, epoch, chunked.then_some(chunk_size));
        let cells = results
            .iter()
            .flat_map(|r| &r.series)
            .map(|s| s.values.len() * s.columns.len())
            .sum();
        drop_later(results, cells);
        (failed, answer)
    };
    let (failed, answer) = match run_query(cheap, run).await {
        Ok(Ok(r)) => r,
        Ok(Err(_)) => {
            return ApiError::new(d, ErrorCode::Internal, "query failed").into_response();
        }
        Err(_) => {
            seen.timed_out = true;
            let timeout = StatementResult::error(
                0,
                format!("query timeout: still running after {QUERY_TIMEOUT:?}"),
            );
            (
                true,
                Answer::encode(&[timeout], epoch, chunked.then_some(chunk_size)),
            )
        }
    };
    seen.statement_error = failed;
    match answer {
        Answer::Whole(doc) => json(StatusCode::OK, Body::from(doc)),
        Answer::Chunks(docs) => {
            let stream = futures_util::stream::iter(
                docs.into_iter()
                    .map(|doc| Ok::<_, std::convert::Infallible>(bytes::Bytes::from(doc))),
            );
            json(StatusCode::OK, Body::from_stream(stream))
        }
    }
}

/// An InfluxQL answer's JSON: one document, or one per chunk (`chunked=true`).
enum Answer {
    Whole(String),
    Chunks(Vec<String>),
}

impl Answer {
    fn encode(results: &[StatementResult], epoch: Epoch, chunk_size: Option<usize>) -> Self {
        match chunk_size {
            Some(n) => Self::Chunks(response::encode_chunked(results, epoch, n)),
            None => Self::Whole(response::encode(results, epoch)),
        }
    }
}

/// Frees a query's `rows` (`cells` values) on rayon's pool, after its answer was sent on its
/// way: a large answer is tens of thousands of small allocations (~2 ms). A small one is freed
/// here: waking a pool thread costs more.
pub(super) fn drop_later<T: Send + 'static>(rows: T, cells: usize) {
    const LATER_CELLS: usize = 16_384;
    if cells >= LATER_CELLS {
        rayon::spawn(move || drop(rows));
    }
}

/// Runs a query's `work`. With `inline` (it reads only the catalog and current cached series
/// indexes: microseconds) it runs here, rather than paying a hand-off to the blocking pool and
/// back; otherwise on the blocking pool under `QUERY_TIMEOUT` (a stale index is rebuilt there:
/// tens of ms per 50 000 series).
pub(super) async fn run_query<T: Send + 'static>(
    inline: bool,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<Result<T, tokio::task::JoinError>, tokio::time::error::Elapsed> {
    if inline {
        return Ok(Ok(work()));
    }
    tokio::time::timeout(QUERY_TIMEOUT, tokio::task::spawn_blocking(work)).await
}

/// Whether `st` is answered from the catalog and the cached per-measurement series index
/// without reading rows or walking every series: no WHERE (a condition is evaluated on each
/// series) and not SHOW SERIES (one row per series).
fn answers_from_index(st: &Statement) -> bool {
    match st {
        Statement::ShowDatabases | Statement::ShowRetentionPolicies(_) => true,
        Statement::ShowMeasurements(s) => s.condition.is_none(),
        Statement::ShowTagKeys(s) => s.condition.is_none(),
        Statement::ShowTagValues(s) => s.condition.is_none(),
        Statement::ShowFieldKeys(_) => true,
        _ => false,
    }
}

/// Fronting mode: the checked query goes to the upstream (`http::passthrough`).
#[allow(clippy::too_many_arguments)]
async fn pass_v1(
    state: &AppState,
    up: &Upstream,
    tenant: &Tenant,
    parsed: Query,
    params: &Params,
    headers: &HeaderMap,
    method: &Method,
    seen: &mut Seen,
) -> Response {
    let checked =
        match passthrough::influxql::check(tenant, parsed, params.get("db"), params.get("rp")) {
            Ok(c) => c,
            Err(r) => return super::passthrough::refused(Dialect::V1, &r),
        };
    let permit = match state.limits.start_query(tenant.id()) {
        Ok(p) => p,
        Err(e) => return super::write::limit_error(Dialect::V1, &e),
    };
    let owned = |k: &str| params.get(k).map(str::to_owned);
    // A `SHOW DATABASES` answer is filtered, which sluice does on JSON only.
    let accept = if checked.show_databases.is_empty() {
        headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    } else {
        None
    };
    let query = V1Query {
        q: checked.text,
        db: checked.db,
        rp: owned("rp").filter(|r| !r.is_empty()),
        epoch: owned("epoch"),
        chunked: owned("chunked"),
        chunk_size: owned("chunk_size"),
        accept,
        get: *method == Method::GET,
        // A `SHOW DATABASES` answer is read and filtered: asked for plain.
        gzip: checked.show_databases.is_empty() && super::compress::accepts_gzip(headers),
    };
    super::passthrough::influxql(up, tenant, query, &checked.show_databases, permit, seen).await
}

fn json(status: StatusCode, body: Body) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// InfluxDB authorizes the whole query before running any statement: a `CREATE DATABASE` of a
/// bucket the tenant may not write is a 403 for the request.
fn authorize(
    tenant: &Tenant,
    query: &Query,
    headers: &HeaderMap,
    params: &Params,
) -> Option<Response> {
    for stmt in &query.statements {
        let Statement::CreateDatabase(c) = stmt else {
            continue;
        };
        let allowed = bucket_for_v1(&c.name, None).is_ok_and(|b| tenant.can_write(&b));
        if !allowed {
            let user = auth::username(headers, params).unwrap_or_else(|| tenant.id().to_string());
            let msg = format!(
                "error authorizing query: {user} not authorized to execute statement 'CREATE DATABASE {}', requires admin privilege",
                c.name
            );
            return Some(ApiError::new(Dialect::V1, ErrorCode::Forbidden, msg).into_response());
        }
    }
    None
}

/// The tenant's v1 databases: its listed buckets, and for `"*"` the buckets holding data.
fn owned_dbs(tenant: &Tenant, store: Option<&dyn ReadStore>) -> Vec<String> {
    let mut dbs: Vec<String> = Vec::new();
    for p in tenant.buckets() {
        if let BucketPattern::Exact(b) = p {
            dbs.push(v1_db_rp(b).0.to_owned());
        }
    }
    if let Some(store) = store {
        for b in store.buckets(tenant.id()) {
            if tenant.can_read(&b) {
                dbs.push(v1_db_rp(&b).0.to_owned());
            }
        }
    }
    dbs.sort();
    dbs.dedup();
    dbs
}
