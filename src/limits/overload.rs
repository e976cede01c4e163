//! Global overload protection for writes: requests and body bytes in flight.
//!
//! A write takes an [`InFlight`] guard before its body is read: one request slot, plus its
//! `Content-Length` in bytes when known. A chunked body is charged as its frames arrive
//! ([`InFlight::charge`]). Everything is released when the guard drops (answer sent). Beyond
//! either limit the request gets 503 + Retry-After 1 at once: the slots free up as fast as
//! requests finish (milliseconds), so the shortest wait a client can be told is right.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Which global limit was hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverloadKind {
    Requests { max: usize },
    Bytes { max: u64 },
}

#[derive(Debug)]
pub struct Overload {
    max_requests: usize,
    max_bytes: u64,
    requests: AtomicUsize,
    bytes: AtomicU64,
}

/// One admitted request; releases its slot and bytes on drop.
#[derive(Debug)]
pub struct InFlight {
    owner: Arc<Overload>,
    bytes: u64,
}

impl Overload {
    pub fn new(max_requests: usize, max_bytes: u64) -> Arc<Self> {
        Arc::new(Self {
            max_requests,
            max_bytes,
            requests: AtomicUsize::new(0),
            bytes: AtomicU64::new(0),
        })
    }

    /// Admits a request announcing `content_length` bytes (0 when unknown).
    pub fn enter(self: &Arc<Self>, content_length: u64) -> Result<InFlight, OverloadKind> {
        let max = self.max_requests;
        self.requests
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .map_err(|_| OverloadKind::Requests { max })?;
        let mut guard = InFlight {
            owner: self.clone(),
            bytes: 0,
        };
        guard.charge(content_length)?;
        Ok(guard)
    }

    /// (requests, bytes) in flight now.
    pub fn in_flight(&self) -> (usize, u64) {
        (
            self.requests.load(Ordering::Acquire),
            self.bytes.load(Ordering::Acquire),
        )
    }
}

impl InFlight {
    /// Charges `n` more body bytes; refused (charging nothing) beyond the limit.
    pub fn charge(&mut self, n: u64) -> Result<(), OverloadKind> {
        if n == 0 {
            return Ok(());
        }
        let max = self.owner.max_bytes;
        self.owner
            .bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                b.checked_add(n).filter(|&t| t <= max)
            })
            .map_err(|_| OverloadKind::Bytes { max })?;
        self.bytes += n;
        Ok(())
    }

    /// Bytes this request holds.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.owner.bytes.fetch_sub(self.bytes, Ordering::AcqRel);
        self.owner.requests.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_bytes_are_bounded_and_released() {
        let o = Overload::new(2, 100);
        let a = o.enter(60).unwrap();
        assert_eq!(o.enter(50).unwrap_err(), OverloadKind::Bytes { max: 100 });
        assert_eq!(o.in_flight(), (1, 60), "a refused request holds nothing");
        let mut b = o.enter(0).unwrap();
        assert_eq!(o.enter(0).unwrap_err(), OverloadKind::Requests { max: 2 });
        b.charge(40).unwrap();
        assert_eq!(b.charge(1).unwrap_err(), OverloadKind::Bytes { max: 100 });
        drop(a);
        b.charge(60).unwrap();
        assert_eq!(o.in_flight(), (1, 100));
        drop(b);
        assert_eq!(o.in_flight(), (0, 0));
    }
}
