//! The query passthrough of fronting mode: Grafana's InfluxQL (`/query`) and Flux
//! (`/api/v2/query`) go to the upstream InfluxDB, checked first so that a tenant's token
//! reaches only that tenant's data (docs/passthrough.md is the spec).
//!
//! Owns: the refusal rules of each language (`influxql`, `flux`: pure, no IO), the rewrite of
//! bucket and database names to the upstream's (`bucket_prefix`) and of `org`, filtering
//! `SHOW DATABASES` (`showdb`), and the upstream client (`upstream`): the tenant's own
//! credentials, the per-query timeout and byte limit, the answer streamed back.
//! Does not own: HTTP requests and answers to the client (`http::passthrough`), the query
//! concurrency limit (`limits`; the HTTP layer hands the permit to the answer stream).

pub mod flux;
pub mod influxql;
pub mod showdb;
pub mod upstream;

use std::time::Duration;

use crate::error::{ErrorCode, HasErrorCode};

pub use upstream::{Answer, Upstream, UpstreamSettings};

/// A request the tenant may not send: answered 403, naming no other tenant's bucket.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    pub message: String,
}

impl Refusal {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl HasErrorCode for Refusal {
    fn error_code(&self) -> ErrorCode {
        ErrorCode::Forbidden
    }
}

/// Why a passed-through query got no (complete) answer.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error("the upstream did not answer within {limit:?}")]
    Timeout { limit: Duration },
    #[error("the upstream could not be reached: {reason}")]
    Unreachable { reason: String },
    #[error("the answer is larger than the {limit} bytes a query may return")]
    TooLarge { limit: u64 },
    #[error("the upstream's answer could not be read: {reason}")]
    BadAnswer { reason: String },
}

impl HasErrorCode for PassError {
    fn error_code(&self) -> ErrorCode {
        match self {
            Self::Timeout { .. } | Self::Unreachable { .. } => ErrorCode::Unavailable,
            Self::TooLarge { .. } => ErrorCode::RequestTooLarge,
            Self::BadAnswer { .. } => ErrorCode::Unavailable,
        }
    }
}

#[cfg(test)]
mod tests;
