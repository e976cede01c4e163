//! Per-tenant query limits: concurrent queries and queries per minute.
//!
//! `QueryLimiter::start` returns a `QueryPermit` that holds a concurrency slot until dropped;
//! the per-minute rate is a token bucket of `queries_per_min` per 60 s with a burst of the same
//! size. No endpoint uses it yet (queries come later).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::bucket::{Bucket, Check, Rate, retry_after_secs};

/// Why a query was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryRefusal {
    Concurrency { max: u32 },
    Rate { per_min: u64, retry_after: u64 },
}

#[derive(Debug)]
pub struct QueryLimiter {
    max: Option<u32>,
    running: Arc<AtomicU32>,
    per_min: Option<u64>,
    /// Tokens are 1/60 of a query, so a per-minute rate is exact in a per-second bucket.
    bucket: Mutex<Option<Bucket>>,
}

/// Holds one concurrency slot; released on drop.
#[derive(Debug)]
pub struct QueryPermit {
    running: Arc<AtomicU32>,
}

impl Drop for QueryPermit {
    fn drop(&mut self) {
        self.running.fetch_sub(1, Ordering::AcqRel);
    }
}

impl QueryLimiter {
    pub fn new(max: Option<u32>, per_min: Option<u64>, replicas: u64) -> Self {
        let bucket = per_min.map(|q| {
            Bucket::new(Rate {
                per_sec: q,
                burst: q.saturating_mul(60),
                replicas,
            })
        });
        Self {
            max,
            running: Arc::new(AtomicU32::new(0)),
            per_min,
            bucket: Mutex::new(bucket),
        }
    }

    /// Admits one query at `now_ns`, or says why not. A refusal consumes nothing.
    pub fn start(&self, now_ns: i64) -> Result<QueryPermit, QueryRefusal> {
        if let Some(max) = self.max {
            let got = self
                .running
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < max).then_some(n + 1)
                });
            if got.is_err() {
                return Err(QueryRefusal::Concurrency { max });
            }
        } else {
            self.running.fetch_add(1, Ordering::AcqRel);
        }
        let permit = QueryPermit {
            running: self.running.clone(),
        };
        let mut bucket = self.bucket.lock().unwrap_or_else(PoisonError::into_inner);
        if let (Some(b), Some(per_min)) = (bucket.as_mut(), self.per_min) {
            match b.check(60, now_ns) {
                Check::Fits { new_full_at } => b.take(new_full_at),
                Check::Wait { wait_ns } => {
                    return Err(QueryRefusal::Rate {
                        per_min,
                        retry_after: retry_after_secs(wait_ns),
                    });
                }
                Check::Never => {
                    return Err(QueryRefusal::Rate {
                        per_min,
                        retry_after: 60,
                    });
                }
            }
        }
        Ok(permit)
    }

    pub fn running(&self) -> u32 {
        self.running.load(Ordering::Acquire)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn concurrency_slots_are_released_on_drop() {
        let q = QueryLimiter::new(Some(2), None, 1);
        let a = q.start(0).unwrap();
        let _b = q.start(0).unwrap();
        assert_eq!(
            q.start(0).unwrap_err(),
            QueryRefusal::Concurrency { max: 2 }
        );
        assert_eq!(q.running(), 2);
        drop(a);
        assert!(q.start(0).is_ok());
        assert_eq!(
            q.running(),
            1,
            "the permit of the refused and the dropped are gone"
        );
    }

    #[test]
    fn per_minute_rate_with_exact_retry_after() {
        let q = QueryLimiter::new(None, Some(6), 1);
        for _ in 0..6 {
            q.start(0).unwrap();
        }
        // One query every 10 s.
        assert_eq!(
            q.start(0).unwrap_err(),
            QueryRefusal::Rate {
                per_min: 6,
                retry_after: 10
            }
        );
        assert_eq!(
            q.start(7 * S).unwrap_err(),
            QueryRefusal::Rate {
                per_min: 6,
                retry_after: 3
            }
        );
        q.start(10 * S).unwrap();
        assert_eq!(q.running(), 0, "refused queries hold no slot");
    }
}
