//! The HTTP server: InfluxDB's API on sluice's components.
//!
//! Owns: the router, the shared request state, common response headers
//! (`X-Influxdb-Version`, `X-Influxdb-Build`) and serving with graceful shutdown.
//! Submodules: `body` (capped reading, gzip), `compress` (gzipped query answers), `error` (the
//! one error → response mapping), `auth` (credentials → tenant), `write` (`/api/v2/write`,
//! `/write`), `meta` (`/ping`, `/health`, `/ready`), `query` (`/query`: InfluxQL), `flux`
//! (`/api/v2/query`: Flux), `passthrough` (fronting mode: both passed to the upstream), `serve`
//! (connections: count, head timeout, graceful shutdown). Does not own: line semantics
//! (`ingest`), durability (`wal`).

pub mod auth;
pub mod body;
mod compress;
pub mod error;
pub mod flux;
pub mod meta;
pub mod passthrough;
pub mod query;
pub mod serve;
pub mod write;

use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use axum::Router;
use axum::http::HeaderValue;
use axum::response::Response;
use axum::routing::{get, post};

use crate::clock::Clock;
use crate::forward::ForwardStatus;
use crate::limits::Limits;
use crate::store::Store;
use crate::tenant::SharedRegistry;
use crate::wal::Wal;

/// What `X-Influxdb-Version` says: sluice's own version (clients only log it).
pub const VERSION_HEADER: &str = concat!("sluice-", env!("CARGO_PKG_VERSION"));

/// Settings of the HTTP layer, taken from the config.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub max_body_bytes: usize,
    /// `123u` is accepted on `/api/v2/write` (false when the upstream is InfluxDB 1.x, which
    /// would refuse it).
    pub allow_unsigned: bool,
    /// A write body must arrive within this time.
    pub body_read_timeout: std::time::Duration,
}

/// The components a request needs once start-up (WAL replay) is done.
#[derive(Clone)]
pub struct Core {
    pub wal: Wal,
    pub forward: Option<ForwardStatus>,
    /// The embedded store, when `[store]` is enabled. Queries read it through `ReadStore`
    /// after `store.wait_applied(wal.last_durable(), timeout)` (read-your-writes); writes are
    /// judged against its bucket field types.
    pub store: Option<Arc<Store>>,
}

/// Shared by every request.
pub struct AppState {
    pub tenants: Arc<SharedRegistry>,
    pub settings: HttpSettings,
    /// Per-tenant and global limits (swappable per tenant via `Limits::reconcile`).
    pub limits: Arc<Limits>,
    pub clock: Arc<dyn Clock>,
    pub started: SystemTime,
    /// Set once the WAL is replayed; until then writes get 503 and `/ready` is not ready.
    pub core: OnceLock<Core>,
    /// Where query handlers report (`sluice_query_*`).
    pub query_metrics: crate::metrics::QueryMetrics,
    /// Fronting mode without a local store: queries pass through to the upstream.
    pub passthrough: Option<crate::query::passthrough::Upstream>,
}

/// The whole API.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/v2/write", post(write::write_v2))
        .route("/write", post(write::write_v1))
        .route(
            "/query",
            get(query::query_v1)
                .post(query::query_v1)
                .layer(compress::influxql()),
        )
        .route(
            "/api/v2/query",
            post(flux::query_v2).layer(compress::flux()),
        )
        .route("/ping", get(meta::ping).head(meta::ping))
        .route("/health", get(meta::health))
        .route("/ready", get(meta::ready))
        .layer(axum::middleware::map_response(server_headers))
        .with_state(state)
}

async fn server_headers(mut resp: Response) -> Response {
    let headers = resp.headers_mut();
    headers.insert(
        "x-influxdb-version",
        HeaderValue::from_static(VERSION_HEADER),
    );
    headers.insert("x-influxdb-build", HeaderValue::from_static("OSS"));
    resp
}
