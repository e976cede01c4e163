//! The one place that turns an error into an HTTP answer, in InfluxDB's two error dialects.
//!
//! Owns: status codes, the v1 body (`{"error":"..."}` + `X-InfluxDB-Error`, InfluxDB 1.x's
//! `httpError`) and the v2 body (`{"code":"...","message":"..."}` + `X-Platform-Error-Code`,
//! InfluxDB 2's `WriteErrorResponse`), `Retry-After`, and the rule that 5xx bodies carry no
//! internals (the detail goes to the log instead). Does not own: deciding what went wrong.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::{ErrorCode, HasErrorCode};

/// Which InfluxDB API an answer must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// InfluxDB 1.x: `/write`, `/query`.
    V1,
    /// InfluxDB 2.x: `/api/v2/*`.
    V2,
}

/// An error on its way to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub dialect: Dialect,
    pub code: ErrorCode,
    pub message: String,
    /// Whole seconds for `Retry-After`.
    pub retry_after: Option<u64>,
    /// The size limit, for 413 answers (Telegraf logs `maxLength`).
    pub max_length: Option<u64>,
}

const INTERNAL_MESSAGE: &str = "An internal error has occurred - check server logs";

impl ApiError {
    pub fn new(dialect: Dialect, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            dialect,
            code,
            message: message.into(),
            retry_after: None,
            max_length: None,
        }
    }

    /// From a module error that knows its code; internal errors are logged here.
    pub fn from_err<E: HasErrorCode + std::fmt::Display>(dialect: Dialect, err: &E) -> Self {
        let code = err.error_code();
        if code == ErrorCode::Internal {
            tracing::error!(error = %err, "internal error answered with 500");
        }
        Self::new(dialect, code, err.to_string())
    }

    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs.max(1));
        self
    }

    pub fn max_length(mut self, limit: u64) -> Self {
        self.max_length = Some(limit);
        self
    }

    /// The status this error gets in its dialect.
    pub fn status(&self) -> StatusCode {
        status_of(self.dialect, self.code)
    }
}

/// Code → status. Telegraf's v1 output drops a batch on any 4xx (429 included), so the v1
/// dialect throttles with 503.
pub fn status_of(dialect: Dialect, code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::NotImplemented => StatusCode::NOT_IMPLEMENTED,
        ErrorCode::Invalid => StatusCode::BAD_REQUEST,
        ErrorCode::UnprocessableEntity if dialect == Dialect::V1 => StatusCode::BAD_REQUEST,
        ErrorCode::UnprocessableEntity => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::TooManyRequests if dialect == Dialect::V1 => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::RequestTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status.is_server_error() && self.code == ErrorCode::Internal {
            INTERNAL_MESSAGE.to_owned()
        } else {
            self.message
        };
        let (body, extra) = match self.dialect {
            Dialect::V2 => {
                let mut obj = serde_json::json!({ "code": self.code.as_str(), "message": message });
                if let Some(limit) = self.max_length {
                    obj["maxLength"] = limit.into();
                }
                (
                    obj.to_string(),
                    ("x-platform-error-code", self.code.as_str().to_owned()),
                )
            }
            Dialect::V1 => {
                let body = format!("{}\n", serde_json::json!({ "error": message }));
                let short: String = message.chars().take(1024).collect();
                (body, ("x-influxdb-error", short))
            }
        };
        let mut resp = (status, body).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        if let Ok(v) = HeaderValue::from_str(&extra.1.replace(['\r', '\n'], " ")) {
            headers.insert(extra.0, v);
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED && self.dialect == Dialect::V1 {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"InfluxDB\""),
            );
        }
        resp
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    async fn body_of(resp: Response) -> String {
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn v2_body_and_headers() {
        let resp = ApiError::new(Dialect::V2, ErrorCode::RequestTooLarge, "too big")
            .max_length(10)
            .into_response();
        assert_eq!(resp.status(), 413);
        assert_eq!(resp.headers()["x-platform-error-code"], "request too large");
        let body: serde_json::Value = serde_json::from_str(&body_of(resp).await).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"code":"request too large","message":"too big","maxLength":10})
        );
    }

    #[tokio::test]
    async fn v1_body_retry_after_and_throttle_status() {
        let resp = ApiError::new(Dialect::V1, ErrorCode::TooManyRequests, "slow down")
            .retry_after(0)
            .into_response();
        assert_eq!(resp.status(), 503, "Telegraf v1 drops on 429");
        assert_eq!(resp.headers()["retry-after"], "1");
        assert_eq!(resp.headers()["x-influxdb-error"], "slow down");
        assert_eq!(body_of(resp).await, "{\"error\":\"slow down\"}\n");
    }

    #[tokio::test]
    async fn internal_details_are_not_sent() {
        let resp =
            ApiError::new(Dialect::V2, ErrorCode::Internal, "disk /x failed").into_response();
        assert_eq!(resp.status(), 500);
        assert!(!body_of(resp).await.contains("/x"));
    }

    #[tokio::test]
    async fn v1_unauthorized_asks_for_basic() {
        let resp = ApiError::new(Dialect::V1, ErrorCode::Unauthorized, "authorization failed")
            .into_response();
        assert_eq!(
            resp.headers()["www-authenticate"],
            "Basic realm=\"InfluxDB\""
        );
    }
}
