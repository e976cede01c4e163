//! What the forwarder is doing, for `/health` and (later) metrics.
//!
//! Owns: per (tenant, bucket) counters and error state, and the overall lag. [`ForwardStatus`]
//! is a cheap clonable handle; [`ForwardStatus::snapshot`] copies the current state out.
//! Does not own: rendering it (see `http`), metric export (`metrics` reads snapshots at scrape time).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use crate::model::{BucketName, TenantId, WalSeq};

/// Wall-clock time for status and dead letters: the one place the forwarder reads it.
pub(crate) fn wall_now() -> SystemTime {
    SystemTime::now()
}

/// The error a destination is (or was last) failing with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamError {
    /// HTTP status; `None` for network errors and missing destinations.
    pub status: Option<u16>,
    pub message: String,
    /// When this error state began (unchanged while the same status repeats).
    pub since: SystemTime,
}

/// State of one (tenant, bucket).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketStatus {
    /// Records received and not yet handled.
    pub pending_records: u64,
    pub delivered_lines: u64,
    pub delivered_bytes: u64,
    pub requests: u64,
    pub retries: u64,
    pub dead_lettered_lines: u64,
    /// The last error seen; kept after recovery (see `failing`).
    pub last_error: Option<UpstreamError>,
    /// Whether the last attempt failed.
    pub failing: bool,
    /// When the next attempt is due, while backing off.
    pub backing_off_until: Option<SystemTime>,
}

/// A copy of the forwarder's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusSnapshot {
    pub buckets: BTreeMap<(TenantId, BucketName), BucketStatus>,
    /// Highest seq received from the WAL.
    pub received: WalSeq,
    /// Highest acknowledged seq (every record up to it was delivered or dead-lettered).
    pub watermark: WalSeq,
    /// Records received and not yet acknowledged.
    pub lag_records: u64,
    /// When the oldest unacknowledged record was received.
    pub oldest_unacked_since: Option<SystemTime>,
    /// Upstream requests sent and not yet answered.
    pub in_flight: u64,
    /// Upstream answers by status class.
    pub responses: ResponseClasses,
}

/// Upstream write answers counted by class (`CREATE DATABASE` requests are not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResponseClasses {
    pub c2xx: u64,
    pub c4xx: u64,
    pub c5xx: u64,
    /// 1xx/3xx: not expected from InfluxDB.
    pub other: u64,
    /// No answer: connection errors and timeouts.
    pub network: u64,
}

impl ResponseClasses {
    fn count(&mut self, status: Option<u16>) {
        match status {
            None => self.network += 1,
            Some(200..=299) => self.c2xx += 1,
            Some(400..=499) => self.c4xx += 1,
            Some(500..=599) => self.c5xx += 1,
            Some(_) => self.other += 1,
        }
    }
}

/// An upstream request in flight; counted until dropped (also when abandoned at shutdown).
#[derive(Debug)]
pub(crate) struct InFlight(ForwardStatus);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
    }
}

impl StatusSnapshot {
    /// Counters summed per tenant (`pending_records`, delivered, retries, dead letters...);
    /// error fields are left empty.
    pub fn tenant_totals(&self) -> BTreeMap<TenantId, BucketStatus> {
        let mut out: BTreeMap<TenantId, BucketStatus> = BTreeMap::new();
        for ((t, _), b) in &self.buckets {
            let e = out.entry(t.clone()).or_default();
            e.pending_records += b.pending_records;
            e.delivered_lines += b.delivered_lines;
            e.delivered_bytes += b.delivered_bytes;
            e.requests += b.requests;
            e.retries += b.retries;
            e.dead_lettered_lines += b.dead_lettered_lines;
            e.failing |= b.failing;
        }
        out
    }
}

/// Cheap handle on the forwarder's live state.
#[derive(Debug, Clone, Default)]
pub struct ForwardStatus {
    inner: Arc<Mutex<StatusSnapshot>>,
}

pub(crate) type Key = (TenantId, BucketName);

impl ForwardStatus {
    pub fn snapshot(&self) -> StatusSnapshot {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, StatusSnapshot> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn update(&self, key: &Key, f: impl FnOnce(&mut BucketStatus)) {
        let mut s = self.lock();
        if let Some(b) = s.buckets.get_mut(key) {
            f(b);
        } else {
            let mut b = BucketStatus::default();
            f(&mut b);
            s.buckets.insert(key.clone(), b);
        }
    }

    pub(crate) fn set_progress(
        &self,
        received: WalSeq,
        watermark: WalSeq,
        lag_records: u64,
        oldest: Option<SystemTime>,
    ) {
        let mut s = self.lock();
        s.received = received;
        s.watermark = watermark;
        s.lag_records = lag_records;
        s.oldest_unacked_since = oldest;
    }

    /// Counts an upstream request as in flight until the returned guard is dropped.
    pub(crate) fn request_started(&self) -> InFlight {
        self.lock().in_flight += 1;
        InFlight(self.clone())
    }

    /// Counts an upstream answer (`None`: no answer) by class.
    pub(crate) fn responded(&self, status: Option<u16>) {
        self.lock().responses.count(status);
    }

    /// Records a failed attempt. Returns true when this is a new error state (another status
    /// than before, or the first failure after a success), which is when to log.
    pub(crate) fn failed(
        &self,
        key: &Key,
        status: Option<u16>,
        message: &str,
        now: SystemTime,
    ) -> bool {
        let mut changed = false;
        self.update(key, |b| {
            let same = b.failing && b.last_error.as_ref().is_some_and(|e| e.status == status);
            if same {
                if let Some(e) = b.last_error.as_mut() {
                    e.message = message.to_owned();
                }
            } else {
                b.last_error = Some(UpstreamError {
                    status,
                    message: message.to_owned(),
                    since: now,
                });
                changed = true;
            }
            b.failing = true;
        });
        changed
    }

    /// Records a successful request. Returns true when this ends a failure state.
    pub(crate) fn succeeded(&self, key: &Key) -> bool {
        let mut recovered = false;
        self.update(key, |b| {
            recovered = b.failing;
            b.failing = false;
            b.backing_off_until = None;
        });
        recovered
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn error_state_changes_are_reported_once() {
        let s = ForwardStatus::default();
        let key = (TenantId::new("a").unwrap(), BucketName::new("b").unwrap());
        let t0 = SystemTime::UNIX_EPOCH;
        assert!(s.failed(&key, Some(401), "unauthorized", t0));
        assert!(!s.failed(
            &key,
            Some(401),
            "unauthorized",
            t0 + std::time::Duration::from_secs(5)
        ));
        assert!(s.failed(&key, Some(503), "down", t0));
        let snap = s.snapshot();
        let b = &snap.buckets[&key];
        assert!(b.failing);
        assert_eq!(b.last_error.as_ref().unwrap().status, Some(503));
        assert!(s.succeeded(&key));
        assert!(!s.succeeded(&key));
        assert!(s.failed(&key, Some(503), "down", t0));
    }

    #[test]
    fn in_flight_and_response_classes() {
        let s = ForwardStatus::default();
        let a = s.request_started();
        let b = s.request_started();
        assert_eq!(s.snapshot().in_flight, 2);
        drop(a);
        assert_eq!(s.snapshot().in_flight, 1);
        drop(b);
        for status in [Some(204), Some(200), Some(404), Some(503), None, Some(302)] {
            s.responded(status);
        }
        let snap = s.snapshot();
        assert_eq!(snap.in_flight, 0);
        let r = snap.responses;
        assert_eq!(
            (r.c2xx, r.c4xx, r.c5xx, r.network, r.other),
            (2, 1, 1, 1, 1)
        );
    }
}
