//! The request-scoped write note and the middleware that turns it into metrics.
//!
//! Owns: the task-local [`WriteNote`] of one write request, the `note_*` functions that fill
//! it (no-ops outside a write request), counting the body bytes the handler reads, and
//! recording the request once it is answered. Does not own: deciding what is refused.

use std::cell::RefCell;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use hyper::body::{Frame, SizeHint};

use super::{Outcome, Reason, Route, WriteMetrics};
use crate::ingest::IngestError;
use crate::model::TenantId;
use crate::wal::WalError;

/// What the handler of one write request reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteNote {
    /// The authenticated tenant (`None`: not authenticated).
    pub tenant: Option<TenantId>,
    /// Lines made durable.
    pub accepted_lines: u64,
    /// Refusals: reason and number of lines refused for it.
    pub refused: Vec<(Reason, u64)>,
}

tokio::task_local! {
    static NOTE: RefCell<WriteNote>;
}

fn with_note(f: impl FnOnce(&mut WriteNote)) {
    let _ = NOTE.try_with(|n| f(&mut n.borrow_mut()));
}

/// The request was authenticated as `tenant`.
pub fn note_tenant(tenant: &TenantId) {
    with_note(|n| n.tenant = Some(tenant.clone()));
}

/// `lines` lines of the request were made durable.
pub fn note_lines(lines: u64) {
    with_note(|n| n.accepted_lines += lines);
}

/// `lines` lines (0 if not counted, e.g. refused before reading the body) were refused for
/// `reason`. Counted once per call in `sluice_write_refusals_total`.
pub fn note_refused(reason: Reason, lines: u64) {
    with_note(|n| n.refused.push((reason, lines)));
}

/// The lines an ingest error refused: the dropped ones of a partial write, else every line.
pub fn note_ingest_error(e: &IngestError, body: &[u8]) {
    let lines = match e {
        IngestError::Partial { dropped, .. } => *dropped as u64,
        IngestError::Unparsable { .. } | IngestError::NothingParsed { .. } => count_lines(body),
    };
    note_refused(Reason::Parse, lines);
}

/// A WAL append that failed: a full WAL or disk refuses the lines for `quota`; other errors
/// are sluice's (outcome `error`, no refusal).
pub fn note_wal_error(e: &WalError, lines: u64) {
    let full = match e {
        WalError::Full { .. } => true,
        WalError::Io { source, .. } => source.kind() == std::io::ErrorKind::StorageFull,
        _ => false,
    };
    if full {
        note_refused(Reason::Quota, lines);
    }
}

/// Lines of a body that carry a point (not blank, not a `#` comment).
pub fn count_lines(body: &[u8]) -> u64 {
    body.split(|b| *b == b'\n')
        .filter(|l| {
            let t = l.trim_ascii_start();
            !t.is_empty() && t[0] != b'#'
        })
        .count() as u64
}

/// Middleware on the whole router: write routes get a note scope, a byte-counting body and
/// one record when answered; other routes pass through.
pub async fn track(State(m): State<WriteMetrics>, req: Request, next: Next) -> Response {
    let Some(route) = Route::of_path(req.uri().path()) else {
        return next.run(req).await;
    };
    let read = Arc::new(AtomicU64::new(0));
    let counter = read.clone();
    let req = req.map(|inner| {
        Body::new(Counted {
            inner,
            read: counter,
        })
    });
    let (resp, note) = NOTE
        .scope(RefCell::new(WriteNote::default()), async move {
            let resp = next.run(req).await;
            let note = NOTE.with(|n| n.take());
            (resp, note)
        })
        .await;
    record(
        &m,
        route,
        resp.status().as_u16(),
        note,
        read.load(Ordering::Relaxed),
    );
    resp
}

/// Records one answered write request.
pub(crate) fn record(m: &WriteMetrics, route: Route, status: u16, note: WriteNote, bytes: u64) {
    let tenant = note.tenant.as_ref();
    let mut refused = note.refused;
    if refused.is_empty()
        && status >= 400
        && let Some(reason) = Reason::of_status(status)
    {
        refused.push((reason, 0));
    }
    let outcome = if refused.is_empty() {
        if status < 400 {
            Outcome::Accepted
        } else {
            Outcome::Error
        }
    } else if note.accepted_lines > 0 {
        Outcome::Partial
    } else {
        Outcome::Refused
    };
    m.request(tenant, route, outcome);
    m.bytes(tenant, outcome, bytes);
    if let Some(t) = tenant
        && note.accepted_lines > 0
    {
        m.accepted_lines(t, note.accepted_lines);
    }
    for (reason, lines) in refused {
        tracing::debug!(
            tenant = tenant.map_or("", TenantId::as_str),
            route = route.as_str(),
            status,
            reason = reason.as_str(),
            lines,
            "write refused"
        );
        m.refused(tenant, reason, lines);
    }
}

/// A request body that counts the bytes read through it.
struct Counted {
    inner: Body,
    read: Arc<AtomicU64>,
}

impl HttpBody for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.read.fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ingest::Api;

    async fn scoped(f: impl FnOnce()) -> WriteNote {
        NOTE.scope(RefCell::new(WriteNote::default()), async move {
            f();
            NOTE.with(|n| n.take())
        })
        .await
    }

    #[tokio::test]
    async fn notes_collect_within_a_request_scope() {
        let note = scoped(|| {
            note_tenant(&TenantId::new("acme").unwrap());
            note_lines(7);
            note_wal_error(
                &WalError::Full {
                    used: 1,
                    limit: 1,
                    retry_after_secs: 1,
                },
                7,
            );
            note_wal_error(&WalError::Poisoned, 3);
            note_ingest_error(
                &IngestError::Partial {
                    api: Api::V1,
                    message: String::new(),
                    dropped: 2,
                },
                b"",
            );
            note_ingest_error(
                &IngestError::Unparsable {
                    message: String::new(),
                },
                b"a v=1\nb v=\n\n# c\nc v=3\n",
            );
            note_refused(Reason::Cardinality, 4);
        })
        .await;
        assert_eq!(note.tenant.unwrap().as_str(), "acme");
        assert_eq!(note.accepted_lines, 7);
        assert_eq!(
            note.refused,
            vec![
                (Reason::Quota, 7),
                (Reason::Parse, 2),
                (Reason::Parse, 3),
                (Reason::Cardinality, 4)
            ]
        );
        // Nothing leaks into the next request.
        assert_eq!(scoped(|| {}).await, WriteNote::default());
    }
}
