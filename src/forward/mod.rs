//! The forwarder: a WAL consumer that delivers accepted lines to an upstream InfluxDB.
//!
//! Owns: reading records (in WAL order) from a channel, batching them per lane
//! (tenant, bucket, precision), sending them to InfluxDB 2.x (`/api/v2/write`) or 1.x (`/write`)
//! with gzip and keep-alive, retrying with backoff, splitting on 413, dead-lettering lines the
//! upstream refuses for good, and publishing the acknowledgement watermark.
//! Does not own: the WAL and its cursor (the caller persists the watermark it publishes),
//! tenant configuration (behind [`Resolve`]), metrics registration (counters live in
//! [`ForwardStatus`]).
//!
//! # Delivery rules
//!
//! - Within a lane, one request at a time, in WAL order; at most `max_in_flight` requests overall.
//! - 2xx: delivered. 413: split in half by lines, recursively; a single line still too large is
//!   dead-lettered. 429/503 (honouring `Retry-After`), other 5xx, 408 and network errors: retried
//!   forever with exponential backoff and full jitter. 401/403/404 and other 4xx: the data is
//!   kept, retried with backoff, and the state is reported in [`ForwardStatus`] and logged once.
//! - 400 naming lines (`unable to parse '<line>': ...`): InfluxDB 2 wrote nothing, so the named
//!   lines are dead-lettered and the rest re-sent; InfluxDB 1 (`partial write: ...`) wrote the
//!   rest. 422 and other partial writes: the rest was written; the dropped lines are identified
//!   where possible (field type conflicts) and dead-lettered with the upstream's message. A 400
//!   that cannot be interpreted dead-letters the whole batch (never retried forever).
//! - The watermark only passes a record once it was delivered or durably dead-lettered.
//! - A destination the resolver no longer knows is held like a 401: kept and retried.

mod backoff;
mod client;
mod deadletter;
mod deliver;
mod lane;
mod lines;
mod request;
mod response;
mod run;
mod status;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, watch};

pub use client::describe;
pub use deadletter::{DeadLetterSink, FileSink};
pub use request::{WriteRequest, endpoint, split_db_rp, v1_authorization};
pub use status::{BucketStatus, ForwardStatus, ResponseClasses, StatusSnapshot, UpstreamError};

use crate::error::{ErrorCode, HasErrorCode};
use crate::model::{BucketName, Record, TenantId, WalSeq};

/// Which write API the upstream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamApi {
    /// InfluxDB 1.x `POST /write?db=&rp=&precision=`.
    V1,
    /// InfluxDB 2.x `POST /api/v2/write?org=&bucket=&precision=`.
    V2,
}

/// How to reach the upstream and how hard to push it.
#[derive(Debug, Clone)]
pub struct ForwardConfig {
    /// Base URL; a path prefix is kept (`http://h:8086/influx` → `/influx/api/v2/write`).
    pub url: url::Url,
    pub api: UpstreamApi,
    /// Per-request timeout.
    pub timeout: Duration,
    /// A batch holds whole records up to these budgets (a larger record is sent alone).
    pub batch_lines: usize,
    pub batch_bytes: usize,
    pub gzip: bool,
    /// Requests in flight over all lanes.
    pub max_in_flight: usize,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// Where `<tenant>.jsonl` dead-letter files go.
    pub dead_letter_dir: PathBuf,
    /// Stop reading the WAL while this many bytes of lines are held in memory, undelivered.
    pub max_pending_bytes: usize,
}

impl ForwardConfig {
    /// Defaults: 10 s timeout, 5000 lines / 4 MiB batches, gzip, 8 in flight,
    /// backoff 100 ms..30 s, 64 MiB held in memory.
    pub fn new(url: url::Url, api: UpstreamApi, dead_letter_dir: PathBuf) -> Self {
        Self {
            url,
            api,
            timeout: Duration::from_secs(10),
            batch_lines: 5000,
            batch_bytes: 4 << 20,
            gzip: true,
            max_in_flight: 8,
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(30),
            dead_letter_dir,
            max_pending_bytes: 64 << 20,
        }
    }
}

/// Where one tenant bucket's lines go upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub org: String,
    /// Upstream bucket name (prefix applied); for v1 `db` or `db/rp`.
    pub bucket: String,
    pub token: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// Maps a tenant bucket to its upstream destination (asked again before every attempt, so a
/// reloaded token takes effect on the next retry).
pub trait Resolve: Send + Sync + 'static {
    fn destination(&self, tenant: &TenantId, bucket: &BucketName) -> Option<Destination>;
}

/// Why the forwarder could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("upstream url {url} is not usable: {reason}")]
    BadUrl { url: String, reason: &'static str },
    #[error("forward setting {name} must be greater than zero")]
    ZeroSetting { name: &'static str },
    #[error("cannot build the upstream http client")]
    Client {
        #[source]
        source: reqwest::Error,
    },
    #[error("a delivery task for tenant {tenant} bucket {bucket} failed: {reason}")]
    Task {
        tenant: TenantId,
        bucket: BucketName,
        reason: String,
    },
}

impl HasErrorCode for ForwardError {
    fn error_code(&self) -> ErrorCode {
        ErrorCode::Internal
    }
}

/// Shared by the scheduling loop and the delivery tasks.
pub(crate) struct Ctx {
    pub cfg: ForwardConfig,
    pub client: reqwest::Client,
    pub resolve: Arc<dyn Resolve>,
    pub sink: Arc<dyn DeadLetterSink>,
    pub status: ForwardStatus,
    pub permits: Semaphore,
}

/// The forwarder. Build it, take a [`ForwardStatus`] handle, then [`Forwarder::run`] it.
pub struct Forwarder {
    ctx: Arc<Ctx>,
}

impl Forwarder {
    pub fn new(cfg: ForwardConfig, resolve: Arc<dyn Resolve>) -> Result<Self, ForwardError> {
        let sink = Arc::new(FileSink::new(cfg.dead_letter_dir.clone()));
        Self::with_dead_letter_sink(cfg, resolve, sink)
    }

    /// Like [`Forwarder::new`], with dead letters going to `sink` instead of files.
    pub fn with_dead_letter_sink(
        cfg: ForwardConfig,
        resolve: Arc<dyn Resolve>,
        sink: Arc<dyn DeadLetterSink>,
    ) -> Result<Self, ForwardError> {
        let bad = |reason| ForwardError::BadUrl {
            url: cfg.url.to_string(),
            reason,
        };
        match cfg.url.scheme() {
            "http" => {}
            "https" => {
                return Err(bad(
                    "https needs TLS support, which this build does not include",
                ));
            }
            _ => return Err(bad("the scheme must be http")),
        }
        if cfg.url.cannot_be_a_base() || cfg.url.host().is_none() {
            return Err(bad("it has no host"));
        }
        for (name, v) in [
            ("batch_lines", cfg.batch_lines),
            ("batch_bytes", cfg.batch_bytes),
            ("max_in_flight", cfg.max_in_flight),
            ("max_pending_bytes", cfg.max_pending_bytes),
        ] {
            if v == 0 {
                return Err(ForwardError::ZeroSetting { name });
            }
        }
        let client = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|source| ForwardError::Client { source })?;
        let permits = Semaphore::new(cfg.max_in_flight);
        let ctx = Ctx {
            cfg,
            client,
            resolve,
            sink,
            status: ForwardStatus::default(),
            permits,
        };
        Ok(Self { ctx: Arc::new(ctx) })
    }

    /// A cheap handle on the live state (take it before `run`).
    pub fn status(&self) -> ForwardStatus {
        self.ctx.status.clone()
    }

    /// Reads records (in WAL seq order) from `rx`, delivers them, and publishes on `acked` the
    /// largest seq S such that every record with seq <= S was acknowledged by the upstream or
    /// dead-lettered. Returns when `rx` is closed and everything received was handled, or as
    /// soon as `shutdown` becomes true (in-flight requests are abandoned; the watermark only
    /// covers what was handled).
    pub async fn run(
        self,
        rx: mpsc::Receiver<Record>,
        acked: watch::Sender<WalSeq>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(), ForwardError> {
        run::run(self.ctx, rx, acked, shutdown).await
    }
}
