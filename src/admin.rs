//! The admin listener (`[admin] listen`, `127.0.0.1:8087` by default): for operators only.
//!
//! Owns: `GET /metrics` (Prometheus text format 0.0.4) and `POST /-/reload` (re-read the
//! config file: 200 with what was applied, 400 with the reason it was refused). `/metrics` is
//! served here only, not on the client listener, so tenant names are not exposed to clients.
//! Does not own: the metrics (`metrics`), reloading (`reload`).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::metrics::{self, Metrics};
use crate::reload::Reloader;

/// What the admin routes need.
#[derive(Debug, Clone)]
pub struct AdminState {
    pub metrics: Metrics,
    pub reloader: Arc<Reloader>,
}

pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/metrics", get(serve_metrics))
        .route("/-/reload", post(reload))
        .with_state(state)
}

async fn serve_metrics(State(s): State<AdminState>) -> Response {
    // Reading /proc and encoding is quick but blocking: keep it off the async workers.
    let text = match tokio::task::spawn_blocking(move || s.metrics.encode()).await {
        Ok(t) => t,
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("encoding failed: {e}\n"),
            )
                .into_response();
        }
    };
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response()
}

async fn reload(State(s): State<AdminState>) -> Response {
    let reloader = s.reloader.clone();
    match tokio::task::spawn_blocking(move || reloader.reload()).await {
        Ok(Ok(report)) => {
            let mut text = format!("reloaded: {} tenants\n", report.tenants);
            if !report.needs_restart.is_empty() {
                text.push_str(&format!(
                    "needs a restart to apply: {}\n",
                    report.needs_restart.join(", ")
                ));
            }
            (StatusCode::OK, text).into_response()
        }
        Ok(Err(e)) => (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("reload failed: {e}\n"),
        )
            .into_response(),
    }
}
