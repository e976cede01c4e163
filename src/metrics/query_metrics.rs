//! Query-path metrics: `sluice_query_requests_total{tenant, lang, outcome}` and
//! `sluice_query_duration_seconds{lang}` (from the request's arrival to its answer's first
//! byte; a chunked answer's streaming is not included).
//!
//! Owns: the label values (`Lang`, `QueryOutcome`) and how an answer maps to an outcome. Does
//! not own: the handlers that report (`http::query`, the Flux endpoint).

use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::model::TenantId;

/// The query language of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    InfluxQl,
    Flux,
}

impl Lang {
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::InfluxQl => "influxql",
            Lang::Flux => "flux",
        }
    }
}

/// How a query request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueryOutcome {
    /// Answered, every statement without error.
    Ok,
    /// Answered 200, but at least one statement failed (`results[i].error`).
    StatementError,
    /// Refused as malformed (400) or too large (413).
    Invalid,
    /// Not authenticated or not allowed (401, 403).
    Denied,
    /// Refused by a limit (429, 503 with Retry-After).
    Refused,
    /// Ran past the query timeout.
    Timeout,
    /// Failed inside sluice (other 5xx).
    Failed,
}

impl QueryOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            QueryOutcome::Ok => "ok",
            QueryOutcome::StatementError => "statement_error",
            QueryOutcome::Invalid => "invalid",
            QueryOutcome::Denied => "denied",
            QueryOutcome::Refused => "refused",
            QueryOutcome::Timeout => "timeout",
            QueryOutcome::Failed => "failed",
        }
    }

    /// The outcome of an answer with HTTP `status`; `statement_error` when a 2xx answer
    /// carries a failed statement.
    pub fn of(status: u16, statement_error: bool) -> Self {
        match status {
            200..=299 if statement_error => QueryOutcome::StatementError,
            200..=299 => QueryOutcome::Ok,
            401 | 403 => QueryOutcome::Denied,
            429 | 503 => QueryOutcome::Refused,
            504 => QueryOutcome::Timeout,
            400..=499 => QueryOutcome::Invalid,
            _ => QueryOutcome::Failed,
        }
    }
}

impl EncodeLabelValue for Lang {
    fn encode(&self, e: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(e, self.as_str())
    }
}

impl EncodeLabelValue for QueryOutcome {
    fn encode(&self, e: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(e, self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    tenant: String,
    lang: Lang,
    outcome: QueryOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct LangLabels {
    lang: Lang,
}

/// Bucket bounds of the duration histogram, seconds: 0.5 ms to 60 s (the query timeout).
const BUCKETS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

fn histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// Query counters. Cheap to clone (shared families).
#[derive(Debug, Clone)]
pub struct QueryMetrics {
    requests: Family<RequestLabels, Counter>,
    duration: Family<LangLabels, Histogram, fn() -> Histogram>,
}

impl Default for QueryMetrics {
    fn default() -> Self {
        QueryMetrics {
            requests: Family::default(),
            duration: Family::new_with_constructor(histogram),
        }
    }
}

impl QueryMetrics {
    /// Registers the families in `registry` (which adds the `sluice_` prefix).
    pub fn register(registry: &mut Registry) -> QueryMetrics {
        let m = QueryMetrics::default();
        registry.register(
            "query_requests",
            "Query requests (/query, /api/v2/query) by tenant, language and outcome",
            m.requests.clone(),
        );
        registry.register(
            "query_duration_seconds",
            "Query time from the request's arrival to its answer, by language",
            m.duration.clone(),
        );
        m
    }

    /// One query request of `tenant` (`None` before authentication) that ended with `outcome`
    /// after `elapsed`.
    pub fn observe(
        &self,
        lang: Lang,
        tenant: Option<&TenantId>,
        outcome: QueryOutcome,
        elapsed: Duration,
    ) {
        let labels = RequestLabels {
            tenant: tenant.map(|t| t.as_str().to_owned()).unwrap_or_default(),
            lang,
            outcome,
        };
        self.requests.get_or_create(&labels).inc();
        self.duration
            .get_or_create(&LangLabels { lang })
            .observe(elapsed.as_secs_f64());
    }
}
