//! Per-tenant limits and global overload protection.
//!
//! Owns: the write rate of each tenant (lines/s and bytes/s token buckets, [`bucket`],
//! [`rate`]), series cardinality per (tenant, bucket) ([`series`], [`series_key`]) and its
//! persistence ([`snapshot`]), query limits ([`query`]), and the global in-flight limits for
//! writes ([`overload`]). Does not own: HTTP statuses and bodies (`http::error` maps
//! [`LimitError`] codes), connection-level limits (`http::serve`), reading bodies.
//!
//! Semantics, as the write path uses them:
//! - Bytes are the request's bytes on the wire (compressed when gzip), charged before parsing:
//!   from `Content-Length` before the body is read ([`Limits::check_bytes`], a peek), and again
//!   with the line count after the body is read and its lines counted
//!   ([`Limits::take_write`]). A request is admitted only if *both* buckets fit, and then takes
//!   from both; a refused request takes nothing for good: it books its tokens for when its
//!   Retry-After is due, and the booking is refunded if the same request does not come back
//!   (see [`rate`]). Lines are the non-blank, non-comment lines.
//! - Retry-After is whole seconds until this request would fit (rounded up, ≥ 1): the larger
//!   wait of the two buckets, exact for a client that is alone. A request larger than a burst
//!   can never fit: [`LimitError::TooLarge`] (413, Telegraf halves the batch).
//! - `replicas` divides every rate, not the burst.
//! - State is keyed by tenant id. [`Limits::reconcile`] (config reload) keeps the state of
//!   tenants whose limits did not change, resets the changed ones, drops removed ones. Series
//!   sets are kept across reloads whatever changed (a new `max_series` applies to them).

pub mod bucket;
pub mod overload;
pub mod query;
pub mod rate;
pub mod series;
pub mod series_key;
pub mod snapshot;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use crate::clock::Clock;
use crate::config::{Config, TenantConfig, TenantLimits};
use crate::error::{ErrorCode, HasErrorCode};
use crate::model::{BucketName, Record, TenantId, WalSeq};

pub use overload::{InFlight, Overload, OverloadKind};
pub use query::{QueryLimiter, QueryPermit, QueryRefusal};
pub use rate::{RateRefusal, RequestKey, Unit, WriteRate};
pub use series::{SeriesTracker, SeriesVerdict};
pub use snapshot::SnapshotError;

/// A limit that refused (part of) a request. Every message names the tenant's limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("tenant \"{tenant}\" is over its limit of {per_sec} {}/s{}; retry in {retry_after}s", .unit.as_str(), replicas_note(*.per_sec, *.replicas, *.unit))]
    Rate {
        tenant: TenantId,
        unit: Unit,
        per_sec: u64,
        replicas: u64,
        retry_after: u64,
    },
    #[error("tenant \"{tenant}\": this request has {n} {}, more than its burst limit of {burst} {}; split the batch", .unit.as_str(), .unit.as_str())]
    TooLarge {
        tenant: TenantId,
        unit: Unit,
        n: u64,
        burst: u64,
    },
    #[error(
        "tenant \"{tenant}\" is at its limit of {max} series in bucket \"{bucket}\" (series seen within {window}); {refused} lines of new series refused"
    )]
    Series {
        tenant: TenantId,
        bucket: BucketName,
        max: u64,
        window: String,
        refused: usize,
    },
    #[error("sluice is overloaded: {}; retry in 1s", overload_note(.kind))]
    Overloaded { kind: OverloadKind },
    #[error("tenant \"{tenant}\" is at its limit of {max} concurrent queries; retry in 1s")]
    QueryConcurrency { tenant: TenantId, max: u32 },
    #[error(
        "tenant \"{tenant}\" is over its limit of {per_min} queries/min; retry in {retry_after}s"
    )]
    QueryRate {
        tenant: TenantId,
        per_min: u64,
        retry_after: u64,
    },
}

fn replicas_note(per_sec: u64, replicas: u64, unit: Unit) -> String {
    if replicas <= 1 {
        return String::new();
    }
    format!(
        " ({} {}/s on each of {replicas} replicas)",
        per_sec / replicas,
        unit.as_str()
    )
}

fn overload_note(kind: &OverloadKind) -> String {
    match kind {
        OverloadKind::Requests { max } => format!("{max} write requests in flight"),
        OverloadKind::Bytes { max } => format!("{max} request body bytes in flight"),
    }
}

impl LimitError {
    /// Seconds for `Retry-After`, for the refusals a client should retry.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Rate { retry_after, .. } | Self::QueryRate { retry_after, .. } => {
                Some(*retry_after)
            }
            Self::Overloaded { .. } | Self::QueryConcurrency { .. } => Some(1),
            Self::TooLarge { .. } | Self::Series { .. } => None,
        }
    }
}

impl HasErrorCode for LimitError {
    fn error_code(&self) -> ErrorCode {
        match self {
            Self::Rate { .. } | Self::QueryConcurrency { .. } | Self::QueryRate { .. } => {
                ErrorCode::TooManyRequests
            }
            Self::TooLarge { .. } => ErrorCode::RequestTooLarge,
            Self::Series { .. } => ErrorCode::Invalid,
            Self::Overloaded { .. } => ErrorCode::Unavailable,
        }
    }
}

/// One tenant's limiter state.
#[derive(Debug)]
struct TenantState {
    limits: TenantLimits,
    rate: Mutex<WriteRate>,
    queries: QueryLimiter,
}

impl TenantState {
    fn new(limits: &TenantLimits, replicas: u64) -> Self {
        Self {
            limits: limits.clone(),
            rate: Mutex::new(WriteRate::new(limits, replicas)),
            queries: QueryLimiter::new(limits.max_queries, limits.queries_per_min, replicas),
        }
    }
}

/// Every limit of a running sluice.
pub struct Limits {
    clock: Arc<dyn Clock>,
    replicas: u64,
    tenants: RwLock<HashMap<TenantId, Arc<TenantState>>>,
    series: SeriesTracker,
    overload: Arc<Overload>,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits")
            .field("replicas", &self.replicas)
            .finish_non_exhaustive()
    }
}

impl Limits {
    pub fn new(
        replicas: u64,
        overload: Arc<Overload>,
        tenants: &[TenantConfig],
        clock: Arc<dyn Clock>,
    ) -> Self {
        let limits = Self {
            clock,
            replicas: replicas.max(1),
            tenants: RwLock::new(HashMap::new()),
            series: SeriesTracker::default(),
            overload,
        };
        limits.reconcile(tenants);
        limits
    }

    pub fn from_config(config: &Config, clock: Arc<dyn Clock>) -> Self {
        let s = &config.server;
        Self::new(
            config.limits.replicas,
            Overload::new(s.max_in_flight_requests, s.max_in_flight_bytes),
            &config.tenants,
            clock,
        )
    }

    /// Applies a new tenant list: unchanged tenants keep their state, changed ones start
    /// with full buckets, removed ones are dropped.
    pub fn reconcile(&self, tenants: &[TenantConfig]) {
        let mut map = self.tenants.write().unwrap_or_else(PoisonError::into_inner);
        let mut next = HashMap::with_capacity(tenants.len());
        for t in tenants {
            let state = match map.remove(&t.id) {
                Some(s) if s.limits == t.limits => s,
                _ => Arc::new(TenantState::new(&t.limits, self.replicas)),
            };
            next.insert(t.id.clone(), state);
        }
        *map = next;
    }

    fn tenant(&self, id: &TenantId) -> Option<Arc<TenantState>> {
        let map = self.tenants.read().unwrap_or_else(PoisonError::into_inner);
        map.get(id).cloned()
    }

    fn rate_error(tenant: &TenantId, r: RateRefusal) -> LimitError {
        match r {
            RateRefusal::Wait {
                unit,
                per_sec,
                replicas,
                retry_after,
            } => LimitError::Rate {
                tenant: tenant.clone(),
                unit,
                per_sec,
                replicas,
                retry_after,
            },
            RateRefusal::TooLarge { unit, n, burst } => LimitError::TooLarge {
                tenant: tenant.clone(),
                unit,
                n,
                burst,
            },
        }
    }

    /// Would `bytes` fit now? Takes nothing (checked before the body is read).
    pub fn check_bytes(&self, tenant: &TenantId, bytes: u64) -> Result<(), LimitError> {
        let Some(t) = self.tenant(tenant) else {
            return Ok(());
        };
        let mut rate = t.rate.lock().unwrap_or_else(PoisonError::into_inner);
        rate.peek_bytes(bytes, self.clock.now_ns())
            .map_err(|r| Self::rate_error(tenant, r))
    }

    /// Takes the request's lines and bytes from the tenant's buckets, both or neither (then
    /// booking them for when Retry-After says; see [`rate`]).
    pub fn take_write(&self, tenant: &TenantId, key: RequestKey) -> Result<(), LimitError> {
        let Some(t) = self.tenant(tenant) else {
            return Ok(());
        };
        let mut rate = t.rate.lock().unwrap_or_else(PoisonError::into_inner);
        rate.take(key, self.clock.now_ns())
            .map_err(|r| Self::rate_error(tenant, r))
    }

    /// Whether the tenant has any write rate limit (lines must then be counted).
    pub fn has_write_rate(&self, tenant: &TenantId) -> bool {
        self.tenant(tenant).is_some_and(|t| {
            !t.rate
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_unlimited()
        })
    }

    fn now_secs(&self) -> u32 {
        u32::try_from(self.clock.now_ns().max(0) / 1_000_000_000).unwrap_or(u32::MAX)
    }

    fn window_secs(&self, tenant: &TenantId) -> u32 {
        let w = self
            .tenant(tenant)
            .map_or(crate::config::DEFAULT_SERIES_WINDOW, |t| {
                t.limits.series_window
            });
        u32::try_from(w.as_secs()).unwrap_or(u32::MAX)
    }

    /// Admits the series of one request's lines (`hashes`, one per line, in order).
    /// `Err` carries the verdict's refusal for the answer; the verdict says which lines.
    pub fn admit_series(
        &self,
        tenant: &TenantId,
        bucket: &BucketName,
        hashes: &[u64],
    ) -> (SeriesVerdict, Option<LimitError>) {
        let t = self.tenant(tenant);
        let max = t.as_ref().and_then(|t| t.limits.max_series);
        let window = t
            .as_ref()
            .map_or(crate::config::DEFAULT_SERIES_WINDOW, |t| {
                t.limits.series_window
            });
        let window_secs = u32::try_from(window.as_secs()).unwrap_or(u32::MAX);
        let set = self.series.set(tenant, bucket);
        let verdict = set.lock().unwrap_or_else(PoisonError::into_inner).admit(
            hashes,
            max,
            self.now_secs(),
            window_secs,
        );
        let err = (verdict.refused_count > 0).then(|| LimitError::Series {
            tenant: tenant.clone(),
            bucket: bucket.clone(),
            max: max.unwrap_or(u64::MAX),
            window: humantime::format_duration(window).to_string(),
            refused: verdict.refused_count,
        });
        (verdict, err)
    }

    /// Series counted for a tenant (all buckets).
    pub fn live_series(&self, tenant: &TenantId) -> usize {
        self.series.live(tenant)
    }

    /// Live series of every tenant that has any (for `/metrics`).
    pub fn live_series_per_tenant(&self) -> std::collections::BTreeMap<TenantId, usize> {
        self.series.live_per_tenant()
    }

    /// Admits one query of `tenant`.
    pub fn start_query(&self, tenant: &TenantId) -> Result<Option<QueryPermit>, LimitError> {
        let Some(t) = self.tenant(tenant) else {
            return Ok(None);
        };
        match t.queries.start(self.clock.now_ns()) {
            Ok(p) => Ok(Some(p)),
            Err(QueryRefusal::Concurrency { max }) => Err(LimitError::QueryConcurrency {
                tenant: tenant.clone(),
                max,
            }),
            Err(QueryRefusal::Rate {
                per_min,
                retry_after,
            }) => Err(LimitError::QueryRate {
                tenant: tenant.clone(),
                per_min,
                retry_after,
            }),
        }
    }

    /// Admits one write request before its body is read.
    pub fn enter(&self, content_length: u64) -> Result<InFlight, LimitError> {
        self.overload
            .enter(content_length)
            .map_err(|kind| LimitError::Overloaded { kind })
    }

    /// Writes the series snapshot covering the WAL up to `seq` (blocking: it fsyncs).
    /// `seq` must be read before this is called.
    pub fn write_snapshot(&self, dir: &Path, seq: WalSeq) -> Result<(), SnapshotError> {
        let sets = self
            .series
            .copy_all(self.now_secs(), |t| self.window_secs(t));
        snapshot::write(dir, &snapshot::encode(seq, &sets))
    }

    /// Loads the snapshot, if any; returns the WAL seq after which records must be replayed.
    pub fn load_snapshot(&self, dir: &Path) -> Result<WalSeq, SnapshotError> {
        match snapshot::read(dir)? {
            Some((seq, sets)) => {
                self.series.load(sets);
                Ok(seq)
            }
            None => Ok(WalSeq(0)),
        }
    }

    /// Counts the series of a WAL record (start-up replay after the snapshot).
    pub fn replay(&self, record: &Record) {
        let e = &record.entry;
        let set = self.series.set(&e.tenant, &e.bucket);
        let mut set = set.lock().unwrap_or_else(PoisonError::into_inner);
        let now = self.now_secs();
        for line in crate::lineproto::split_lines(&e.lines) {
            set.restore(
                series_key::series_hash(series_key::series_key_of(line)),
                now,
            );
        }
    }
}

/// The series hash of every line of `lines` (valid line protocol), in order.
pub fn line_series(lines: &[u8]) -> Vec<u64> {
    crate::lineproto::split_lines(lines)
        .map(|l| series_key::series_hash(series_key::series_key_of(l)))
        .collect()
}

/// `lines` without the lines whose flag in `refused` is set (one flag per line).
pub fn drop_lines(lines: &[u8], refused: &[bool]) -> bytes::Bytes {
    let mut out = Vec::with_capacity(lines.len());
    for (line, &r) in crate::lineproto::split_lines(lines).zip(refused) {
        if !r {
            out.extend_from_slice(line);
            out.push(b'\n');
        }
    }
    bytes::Bytes::from(out)
}

#[cfg(test)]
mod tests;
