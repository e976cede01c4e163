//! Request credentials → tenant, with InfluxDB's answers when that fails.
//!
//! Owns: query-parameter access for handlers (`Params`) and the 401 answers: v2
//! `{"code":"unauthorized","message":"unauthorized access"}` for anything wrong (opaque),
//! v1 `unable to parse authentication credentials` (none given) or `authorization failed`.
//! Does not own: credential schemes and token hashing (`tenant`).

use std::sync::Arc;

use axum::http::HeaderMap;

use super::AppState;
use super::error::{ApiError, Dialect};
use crate::error::ErrorCode;
use crate::tenant::{AuthApi, Credentials, Tenant};

/// Decoded query parameters, in order; the first occurrence of a key wins.
#[derive(Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
    /// The query string as received (credential parsing reads `u`/`p` from it).
    raw: Option<String>,
}

impl Params {
    pub fn parse(query: Option<&str>) -> Self {
        Self {
            pairs: query
                .map(|q| {
                    url::form_urlencoded::parse(q.as_bytes())
                        .into_owned()
                        .collect()
                })
                .unwrap_or_default(),
            raw: query.map(str::to_owned),
        }
    }

    /// Parameters of a form body added after those of the query string.
    pub fn extend_form(&mut self, body: &[u8]) {
        self.pairs
            .extend(url::form_urlencoded::parse(body).into_owned());
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The tenant a request's credentials belong to, or the 401 to answer.
pub fn authenticate(
    state: &AppState,
    d: Dialect,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Arc<Tenant>, ApiError> {
    let unauthorized = |v1_message: &str| match d {
        Dialect::V2 => ApiError::new(d, ErrorCode::Unauthorized, "unauthorized access"),
        Dialect::V1 => ApiError::new(d, ErrorCode::Unauthorized, v1_message),
    };
    let creds = Credentials::from_request(headers, params.raw.as_deref(), auth_api(d))
        .map_err(|_| unauthorized("unable to parse authentication credentials"))?;
    let Some(token) = creds.token.as_deref() else {
        return Err(unauthorized("unable to parse authentication credentials"));
    };
    state
        .tenants
        .load()
        .authenticate(token)
        .inspect(|t| crate::metrics::note_tenant(t.id()))
        .ok_or_else(|| unauthorized("authorization failed"))
}

/// The user name the client gave, for v1 messages that name it.
pub fn username(headers: &HeaderMap, params: &Params) -> Option<String> {
    Credentials::from_request(headers, params.raw.as_deref(), AuthApi::V1)
        .ok()
        .and_then(|c| c.username)
        .filter(|u| !u.is_empty())
}

fn auth_api(d: Dialect) -> AuthApi {
    match d {
        Dialect::V1 => AuthApi::V1,
        Dialect::V2 => AuthApi::V2,
    }
}
