//! The closed set of error codes every module error maps to.
//!
//! Owns: `ErrorCode` and the `HasErrorCode` trait. The codes are InfluxDB 2's
//! (`kit/platform/errors`), because clients key their behaviour on them.
//! `http::error` is the one place that turns a code into a status and a body.

/// InfluxDB 2's error codes, as they appear in `{"code": ...}` bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Internal,
    NotImplemented,
    Invalid,
    UnprocessableEntity,
    NotFound,
    Unavailable,
    Forbidden,
    TooManyRequests,
    Unauthorized,
    MethodNotAllowed,
    RequestTooLarge,
}

impl ErrorCode {
    /// The code string InfluxDB 2 writes in `{"code": ...}`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Internal => "internal error",
            Self::NotImplemented => "not implemented",
            Self::Invalid => "invalid",
            Self::UnprocessableEntity => "unprocessable entity",
            Self::NotFound => "not found",
            Self::Unavailable => "unavailable",
            Self::Forbidden => "forbidden",
            Self::TooManyRequests => "too many requests",
            Self::Unauthorized => "unauthorized",
            Self::MethodNotAllowed => "method not allowed",
            Self::RequestTooLarge => "request too large",
        }
    }
}

/// Implemented by every module error that can reach a client.
pub trait HasErrorCode {
    fn error_code(&self) -> ErrorCode;
}
