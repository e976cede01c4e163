//! Self-metrics: one Prometheus registry (`prometheus-client`), names prefixed `sluice_`.
//!
//! Owns: the registry and its text encoding, the write-path metric families and their bounded
//! label enums ([`Route`], [`Outcome`], [`Reason`]), the request-scoped note a write handler
//! fills ([`note_tenant`], [`note_lines`], [`note_refused`]), the scrape-time collector for the
//! WAL, the forwarder and the process (`collect`), and the periodic per-tenant refusal log
//! (`refusals`). Does not own: serving `/metrics` (`http::admin`), what a refusal is (each
//! subsystem decides and reports it here).
//!
//! Labels are bounded: tenant ids come from the config (an unauthenticated request has
//! `tenant=""`), routes are templates, outcomes and reasons are closed enums. Never a raw path
//! or an error text.
//!
//! # How a write request is counted
//!
//! The `track` middleware wraps `/api/v2/write` and `/write`: it runs the handler inside a
//! task-local [`WriteNote`] scope, then records exactly once per request: the request (tenant,
//! route, outcome), the body bytes, accepted lines, and for a refusal its reason and refused
//! lines. Code on the request path reports through the `note_*` functions (no-ops outside a
//! write request); when nothing names a reason, it is derived from the status (401/403 auth,
//! 413 size, 400/422 parse, 429 rate, 503 overload).

mod collect;
mod downsample_metrics;
mod note;
pub mod process;
mod query_metrics;
mod refusals;
mod store_metrics;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

pub use collect::{ScrapeSources, SluiceCollector};
pub use note::{
    WriteNote, count_lines, note_ingest_error, note_lines, note_refused, note_tenant,
    note_wal_error, track,
};
pub use query_metrics::{Lang, QueryMetrics, QueryOutcome};
pub use refusals::RefusalLog;

use crate::model::TenantId;

/// `Content-Type` of `GET /metrics` (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The write route a request came in on (the template, never the raw path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Route {
    WriteV2,
    WriteV1,
}

impl Route {
    /// The label value (the route template).
    pub fn as_str(self) -> &'static str {
        match self {
            Route::WriteV2 => "/api/v2/write",
            Route::WriteV1 => "/write",
        }
    }

    /// The route of a request path, if it is a write route.
    pub fn of_path(path: &str) -> Option<Route> {
        match path {
            "/api/v2/write" => Some(Route::WriteV2),
            "/write" => Some(Route::WriteV1),
            _ => None,
        }
    }
}

/// What became of a write request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// Every line stored (2xx).
    Accepted,
    /// Some lines stored, some refused (a partial write).
    Partial,
    /// Nothing stored, the client's fault or a limit (4xx, 503 with Retry-After).
    Refused,
    /// Nothing stored, sluice's fault (5xx other than a refusal).
    Error,
}

/// Why lines or a request were refused. The limits module reports `Rate`, `Burst`,
/// `Cardinality` and `Overload`; the write path the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// Missing or wrong credentials (401), or no permission for the bucket (403).
    Auth,
    /// Over the tenant's rate (429 / v1 503 with Retry-After).
    Rate,
    /// Larger than the tenant's burst: can never fit (413).
    Burst,
    /// Lines that would create series beyond the tenant's limit.
    Cardinality,
    /// Lines that do not parse, or bad request parameters (400/422).
    Parse,
    /// Body larger than `server.max_body_bytes` (413).
    Size,
    /// The WAL is full (503 with Retry-After).
    Quota,
    /// Global in-flight limits, or sluice still starting (503).
    Overload,
}

impl Reason {
    pub const ALL: [Reason; 8] = [
        Reason::Auth,
        Reason::Rate,
        Reason::Burst,
        Reason::Cardinality,
        Reason::Parse,
        Reason::Size,
        Reason::Quota,
        Reason::Overload,
    ];

    /// The label value (`"rate"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Auth => "auth",
            Reason::Rate => "rate",
            Reason::Burst => "burst",
            Reason::Cardinality => "cardinality",
            Reason::Parse => "parse",
            Reason::Size => "size",
            Reason::Quota => "quota",
            Reason::Overload => "overload",
        }
    }

    /// The reason a refusal with this status has when nobody named one.
    pub fn of_status(status: u16) -> Option<Reason> {
        match status {
            401 | 403 => Some(Reason::Auth),
            400 | 404 | 422 => Some(Reason::Parse),
            413 => Some(Reason::Size),
            429 => Some(Reason::Rate),
            503 => Some(Reason::Overload),
            _ => None,
        }
    }
}

impl Outcome {
    /// The label value (`"accepted"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Partial => "partial",
            Outcome::Refused => "refused",
            Outcome::Error => "error",
        }
    }
}

macro_rules! label_value {
    ($($t:ty),*) => {$(
        impl EncodeLabelValue for $t {
            fn encode(&self, e: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
                std::fmt::Write::write_str(e, self.as_str())
            }
        }
    )*};
}
label_value!(Route, Outcome, Reason);

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    tenant: String,
    route: Route,
    outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OutcomeLabels {
    tenant: String,
    outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TenantLabels {
    tenant: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RefusalLabels {
    tenant: String,
    reason: Reason,
}

fn tenant_label(tenant: Option<&TenantId>) -> String {
    tenant.map(|t| t.as_str().to_owned()).unwrap_or_default()
}

/// Write-path counters. Cheap to clone (shared families).
#[derive(Debug, Clone, Default)]
pub struct WriteMetrics {
    requests: Family<RequestLabels, Counter>,
    bytes: Family<OutcomeLabels, Counter>,
    lines: Family<TenantLabels, Counter>,
    refusals: Family<RefusalLabels, Counter>,
    refused_lines: Family<RefusalLabels, Counter>,
    log: RefusalLog,
}

impl WriteMetrics {
    /// Registers the families in `registry` (which adds the `sluice_` prefix).
    pub fn register(registry: &mut Registry) -> WriteMetrics {
        let m = WriteMetrics::default();
        registry.register(
            "write_requests",
            "Write requests by tenant, route and outcome",
            m.requests.clone(),
        );
        registry.register(
            "write_bytes",
            "Write request body bytes read (as sent, before gunzip; a body refused unread counts 0)",
            m.bytes.clone(),
        );
        registry.register(
            "write_lines",
            "Lines accepted (durable in the WAL)",
            m.lines.clone(),
        );
        registry.register(
            "write_refusals",
            "Write requests refused, wholly or partly, by reason",
            m.refusals.clone(),
        );
        registry.register(
            "write_refused_lines",
            "Lines refused by reason (0 when refused before the body was read)",
            m.refused_lines.clone(),
        );
        m
    }

    /// One write request that ended with `outcome`.
    pub fn request(&self, tenant: Option<&TenantId>, route: Route, outcome: Outcome) {
        let labels = RequestLabels {
            tenant: tenant_label(tenant),
            route,
            outcome,
        };
        self.requests.get_or_create(&labels).inc();
    }

    /// Body bytes read for a request of `tenant` that ended with `outcome`.
    pub fn bytes(&self, tenant: Option<&TenantId>, outcome: Outcome, n: u64) {
        let labels = OutcomeLabels {
            tenant: tenant_label(tenant),
            outcome,
        };
        self.bytes.get_or_create(&labels).inc_by(n);
    }

    /// Lines of `tenant` made durable.
    pub fn accepted_lines(&self, tenant: &TenantId, n: u64) {
        let labels = TenantLabels {
            tenant: tenant.as_str().to_owned(),
        };
        self.lines.get_or_create(&labels).inc_by(n);
    }

    /// One refusal of `lines` lines (0 when refused before counting) for `reason`; also fed
    /// to the periodic refusal log. Within a write request, prefer [`note_refused`], which the
    /// middleware turns into exactly one call of this.
    pub fn refused(&self, tenant: Option<&TenantId>, reason: Reason, lines: u64) {
        let labels = RefusalLabels {
            tenant: tenant_label(tenant),
            reason,
        };
        self.refusals.get_or_create(&labels).inc();
        self.refused_lines.get_or_create(&labels).inc_by(lines);
        self.log.add(tenant, reason, lines);
    }

    /// The aggregate refusal log fed by [`refused`](Self::refused).
    pub fn refusal_log(&self) -> &RefusalLog {
        &self.log
    }
}

/// The registry and the handles built with it, shared by the admin listener and `app`.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    pub write: WriteMetrics,
    pub query: QueryMetrics,
    pub sources: ScrapeSources,
}

impl Metrics {
    /// A `sluice_` registry with the write families and the WAL/forwarder/process collector.
    /// Components built later (the WAL after replay) are attached through `sources`.
    pub fn new() -> Metrics {
        Self::with(|_| {})
    }

    /// Like [`new`](Self::new), letting other subsystems register their own families or a
    /// scrape-time collector first (names without the `sluice_` prefix, which the registry
    /// adds); the registry is frozen afterwards. E.g. in `app`:
    /// `Metrics::with(|r| limits_metrics = LimitsMetrics::register(r))`.
    pub fn with(register: impl FnOnce(&mut Registry)) -> Metrics {
        let mut registry = Registry::with_prefix("sluice");
        register(&mut registry);
        let write = WriteMetrics::register(&mut registry);
        let query = QueryMetrics::register(&mut registry);
        let sources = ScrapeSources::default();
        registry.register_collector(Box::new(SluiceCollector::new(sources.clone())));
        Metrics {
            registry: Arc::new(registry),
            write,
            query,
            sources,
        }
    }

    /// Everything in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
