//! State shared by the `Wal` handle, the writer thread and readers.
//!
//! Owns: the segment table, the quota accounting (bytes on disk plus bytes reserved by
//! appends in flight), the drain history behind `retry_after_secs`, consumer cursors,
//! and the durable-seq watch. Does not own file IO (see `writer`, `cursor`).

use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::WalConfig;
use super::io::WalFs;
use super::segment::segment_name;

/// How far back the drain rate looks.
const DRAIN_WINDOW: Duration = Duration::from_secs(60);

/// One segment file, as the writer last left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegMeta {
    pub size: u64,
    /// Seq of its last record; `None` while it is empty.
    pub last_seq: Option<u64>,
}

#[derive(Debug)]
pub struct State {
    /// first seq → segment, oldest first. The last one is the one being appended to.
    pub segments: BTreeMap<u64, SegMeta>,
    /// Bytes of segment files plus bytes reserved by appends not yet written.
    pub used: u64,
    pub cursors: BTreeMap<String, u64>,
    /// (when, bytes freed) of recent segment deletions.
    pub drained: VecDeque<(Instant, u64)>,
    pub closed: bool,
    pub poisoned: bool,
}

/// What the writer thread measures, for `/metrics` (read at scrape time; cheap to clone).
#[derive(Debug, Clone)]
pub struct WalObservations {
    /// Seconds each segment fdatasync took.
    pub fsync_seconds: Histogram,
    /// Records per group commit (per write + fdatasync).
    pub group_records: Histogram,
}

impl Default for WalObservations {
    fn default() -> Self {
        Self {
            fsync_seconds: Histogram::new(exponential_buckets(0.000_125, 2.0, 14)),
            group_records: Histogram::new(exponential_buckets(1.0, 2.0, 12)),
        }
    }
}

#[derive(Debug)]
pub struct Shared {
    pub cfg: WalConfig,
    pub fs: Arc<dyn WalFs>,
    pub state: Mutex<State>,
    /// Seq of the last durable record (0: none).
    pub durable: watch::Sender<u64>,
    pub fsyncs: AtomicU64,
    pub obs: WalObservations,
    /// Serialises cursor-file writes and segment deletion.
    pub gc_lock: Mutex<()>,
    /// The newest durable records, decoded.
    pub recent: super::recent::Recent,
    /// The directory's lock: held while anything of this WAL lives, freed by `close`.
    pub dir_lock: Mutex<Option<super::io::DirLock>>,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves only counters behind; keep going.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn segment_path(&self, first_seq: u64) -> PathBuf {
        self.cfg.dir.join(segment_name(first_seq))
    }

    /// Wakes readers (new durable data, or closed).
    pub fn notify(&self, durable: Option<u64>) {
        self.durable.send_modify(|d| {
            if let Some(v) = durable {
                *d = v;
            }
        });
    }
}

impl State {
    pub fn disk_bytes(&self) -> u64 {
        self.segments.values().map(|s| s.size).sum()
    }

    pub fn first_seq(&self) -> Option<u64> {
        self.segments
            .iter()
            .find_map(|(first, m)| m.last_seq.map(|_| *first))
    }

    /// Records that `bytes` were freed at `now`.
    pub fn record_drain(&mut self, now: Instant, bytes: u64) {
        self.drained.push_back((now, bytes));
        self.prune_drained(now);
    }

    fn prune_drained(&mut self, now: Instant) {
        while let Some((t, _)) = self.drained.front() {
            if now.saturating_duration_since(*t) > DRAIN_WINDOW {
                self.drained.pop_front();
            } else {
                break;
            }
        }
    }

    /// Seconds until `needed` bytes are likely freed, from the recent drain rate:
    /// clamped to [1, 60]; 10 when nothing drained in the last minute.
    pub fn retry_after_secs(&mut self, needed: u64, now: Instant) -> u64 {
        self.prune_drained(now);
        let Some((oldest, _)) = self.drained.front() else {
            return 10;
        };
        let freed: u64 = self.drained.iter().map(|(_, b)| b).sum();
        let span = now
            .saturating_duration_since(*oldest)
            .as_secs_f64()
            .max(1.0);
        let rate = freed as f64 / span;
        if rate <= 0.0 {
            return 10;
        }
        ((needed as f64 / rate).ceil() as u64).clamp(1, 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State {
            segments: BTreeMap::new(),
            used: 0,
            cursors: BTreeMap::new(),
            drained: VecDeque::new(),
            closed: false,
            poisoned: false,
        }
    }

    #[test]
    fn retry_after_follows_the_drain_rate() {
        let mut s = state();
        let t0 = Instant::now();
        assert_eq!(s.retry_after_secs(1000, t0), 10, "nothing drained yet");
        s.record_drain(t0, 1000);
        let now = t0 + Duration::from_secs(10);
        // 1000 bytes in 10 s = 100 B/s.
        assert_eq!(s.retry_after_secs(500, now), 5);
        assert_eq!(s.retry_after_secs(1, now), 1, "clamped up to 1");
        assert_eq!(s.retry_after_secs(1_000_000, now), 60, "clamped down to 60");
        let later = now + Duration::from_secs(61);
        assert_eq!(
            s.retry_after_secs(500, later),
            10,
            "old drains are forgotten"
        );
    }
}
