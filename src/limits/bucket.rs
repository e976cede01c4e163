//! An exact token bucket in integer nanoseconds (a GCRA in disguise).
//!
//! The state is one number, `full_at`: the time at which the bucket would be full again if
//! nothing more were taken. With `rate` tokens/s, one token costs `1e9 / rate` ns and the
//! burst is `burst × cost` ns of credit. Taking `n` tokens at `now` moves `full_at` to
//! `max(full_at, now) + n × cost`; that fits when the new `full_at` is at most `burst × cost`
//! ahead of `now`. When it does not fit, the excess is exactly how long to wait. Costs are
//! kept as `1e9 × replicas` ns per `rate` tokens (a fraction), so nothing is rounded
//! until the final Retry-After, which is rounded up to whole seconds (≥ 1).
//!
//! Why hand-written and not `governor`: a request must be checked against two buckets (lines
//! and bytes) and consume from both or neither, and the refusal must say exactly when *this*
//! request would fit. governor's `check_n` consumes on success and reports only per-bucket
//! "not until"; doing both atomically would need a lock around two governor cells anyway.

const NANOS: u128 = 1_000_000_000;

/// Rate and burst of one bucket; `replicas` divides the rate, not the burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_sec: u64,
    pub burst: u64,
    pub replicas: u64,
}

impl Rate {
    /// Nanoseconds that `n` tokens are worth at this rate (rounded up).
    fn cost_ns(&self, n: u64) -> i128 {
        let num = u128::from(n) * NANOS * u128::from(self.replicas.max(1));
        let den = u128::from(self.per_sec.max(1));
        i128::try_from(num.div_ceil(den)).unwrap_or(i128::MAX)
    }
}

/// The result of asking whether `n` tokens fit now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Fits; `new_full_at` is the state after taking.
    Fits { new_full_at: i128 },
    /// Does not fit yet: it would in `wait_ns`.
    Wait { wait_ns: u128 },
    /// More than the burst: never fits.
    Never,
}

/// One token bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub rate: Rate,
    full_at: i128,
}

impl Bucket {
    /// A full bucket.
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            full_at: i128::MIN / 2,
        }
    }

    /// Would `n` tokens fit at `now_ns`? Changes nothing.
    pub fn check(&self, n: u64, now_ns: i64) -> Check {
        if n > self.rate.burst {
            return Check::Never;
        }
        let now = i128::from(now_ns);
        let new_full_at = self.full_at.max(now) + self.rate.cost_ns(n);
        let credit = self.rate.cost_ns(self.rate.burst);
        let ahead = new_full_at - now;
        if ahead <= credit {
            Check::Fits { new_full_at }
        } else {
            Check::Wait {
                wait_ns: u128::try_from(ahead - credit).unwrap_or(u128::MAX),
            }
        }
    }

    /// Commits a `Check::Fits`.
    pub fn take(&mut self, new_full_at: i128) {
        self.full_at = new_full_at;
    }

    /// Takes `n` tokens even into debt (a reservation); returns when the debt is paid off
    /// enough for the bucket to be within its burst again, i.e. when the reservation is due.
    pub fn reserve(&mut self, n: u64, now_ns: i64) -> i128 {
        let now = i128::from(now_ns);
        self.full_at = self.full_at.max(now) + self.rate.cost_ns(n);
        self.full_at - self.rate.cost_ns(self.rate.burst)
    }

    /// Gives back `n` tokens of an unclaimed reservation.
    pub fn refund(&mut self, n: u64) {
        self.full_at -= self.rate.cost_ns(n);
    }

    /// Tokens available at `now_ns` (for tests and metrics).
    pub fn available(&self, now_ns: i64) -> u64 {
        let now = i128::from(now_ns);
        let owed = (self.full_at - now).max(0);
        let credit = self.rate.cost_ns(self.rate.burst);
        let free_ns = u128::try_from((credit - owed).max(0)).unwrap_or(0);
        let tokens = free_ns * u128::from(self.rate.per_sec.max(1))
            / (NANOS * u128::from(self.rate.replicas.max(1)));
        u64::try_from(tokens)
            .unwrap_or(u64::MAX)
            .min(self.rate.burst)
    }
}

/// Whole seconds to wait, rounded up, at least 1.
pub fn retry_after_secs(wait_ns: u128) -> u64 {
    u64::try_from(wait_ns.div_ceil(NANOS))
        .unwrap_or(u64::MAX)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn rate(per_sec: u64, burst: u64) -> Rate {
        Rate {
            per_sec,
            burst,
            replicas: 1,
        }
    }

    fn take(b: &mut Bucket, n: u64, now: i64) -> Check {
        let c = b.check(n, now);
        if let Check::Fits { new_full_at } = c {
            b.take(new_full_at);
        }
        c
    }

    #[test]
    fn burst_then_exact_wait() {
        let mut b = Bucket::new(rate(10_000, 20_000));
        assert!(matches!(take(&mut b, 20_000, 0), Check::Fits { .. }));
        assert_eq!(b.available(0), 0);
        // 5 000 lines need 0.5 s of refill.
        assert_eq!(
            b.check(5_000, 0),
            Check::Wait {
                wait_ns: 500_000_000
            }
        );
        assert_eq!(retry_after_secs(500_000_000), 1);
        // 25 000 > burst: never.
        assert_eq!(b.check(20_001, 0), Check::Never);
        // After 0.5 s it fits exactly.
        assert!(matches!(take(&mut b, 5_000, S / 2), Check::Fits { .. }));
        // 15 000 more would need 1.5 s → Retry-After 2.
        match b.check(15_000, S / 2) {
            Check::Wait { wait_ns } => {
                assert_eq!(wait_ns, 1_500_000_000);
                assert_eq!(retry_after_secs(wait_ns), 2);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refill_is_capped_at_burst() {
        let mut b = Bucket::new(rate(100, 50));
        assert!(matches!(take(&mut b, 50, 0), Check::Fits { .. }));
        assert_eq!(b.available(100 * S), 50);
        assert!(matches!(take(&mut b, 50, 100 * S), Check::Fits { .. }));
        assert!(matches!(
            b.check(1, 100 * S),
            Check::Wait {
                wait_ns: 10_000_000
            }
        ));
    }

    #[test]
    fn check_consumes_nothing() {
        let b = Bucket::new(rate(10, 10));
        for _ in 0..100 {
            assert!(matches!(b.check(10, 0), Check::Fits { .. }));
        }
        assert_eq!(b.available(0), 10);
    }

    #[test]
    fn replicas_divide_rate_not_burst() {
        let mut b = Bucket::new(Rate {
            per_sec: 1_000,
            burst: 1_000,
            replicas: 4,
        });
        assert_eq!(b.available(0), 1_000);
        assert!(matches!(take(&mut b, 1_000, 0), Check::Fits { .. }));
        // 250/s per replica: 500 tokens take 2 s.
        assert_eq!(
            b.check(500, 0),
            Check::Wait {
                wait_ns: 2 * S as u128
            }
        );
        assert_eq!(b.available(S), 250);
    }

    #[test]
    fn clock_going_backwards_gives_no_credit() {
        let mut b = Bucket::new(rate(10, 10));
        assert!(matches!(take(&mut b, 10, 10 * S), Check::Fits { .. }));
        assert!(matches!(b.check(1, 5 * S), Check::Wait { .. }));
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(0), 1);
        assert_eq!(retry_after_secs(1), 1);
        assert_eq!(retry_after_secs(1_000_000_000), 1);
        assert_eq!(retry_after_secs(1_000_000_001), 2);
    }
}
