//! Sending one write request over the shared keep-alive HTTP client.
//!
//! Owns: turning a [`WriteRequest`] into a reqwest call and reading the (bounded) answer.
//! Does not own: what the answer means (see `response`).

use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};

use super::backoff::parse_retry_after;
use super::request::WriteRequest;

/// Error bodies longer than this are cut (only the message is used).
const MAX_ERROR_BODY: usize = 1 << 20;

/// The parts of an upstream answer the forwarder uses.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Bytes,
}

/// Sends `req`; `Err` carries a description of a network-level failure.
pub async fn send(
    client: &reqwest::Client,
    req: WriteRequest,
    now: SystemTime,
) -> Result<Reply, String> {
    let mut builder = client.post(req.url);
    for (name, value) in req.headers {
        builder = builder.header(name, value);
    }
    let mut resp = builder
        .body(req.body)
        .send()
        .await
        .map_err(|e| describe(&e))?;
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, now));
    let mut body = BytesMut::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| describe(&e))? {
        let room = MAX_ERROR_BODY.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room <= chunk.len() {
            break;
        }
    }
    Ok(Reply {
        status,
        retry_after,
        body: body.freeze(),
    })
}

/// The error with its causes (`reqwest`'s own message rarely says what went wrong).
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}
