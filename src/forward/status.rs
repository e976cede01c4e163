//! What the forwarder is doing, for `/health` and (later) metrics.
//!
//! Owns: per (tenant, bucket) counters and error state, and the overall lag. [`ForwardStatus`]
//! is a cheap clonable handle; [`ForwardStatus::snapshot`] copies the current state out.
//! Does not own: rendering it (see `http`), metric registration (later).

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
}
