//! A tenant's write rate: a lines/s bucket and a bytes/s bucket, taken together or not at all.

use super::bucket::{Bucket, Check, Rate, retry_after_secs};
use crate::config::TenantLimits;

/// Which of a tenant's limits a refusal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Lines,
    Bytes,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Lines => "lines",
            Unit::Bytes => "bytes",
        }
    }
}

/// Why a write does not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateRefusal {
    /// Fits after `retry_after` whole seconds (the larger wait of the two buckets).
    Wait {
        unit: Unit,
        per_sec: u64,
        replicas: u64,
        retry_after: u64,
    },
    /// Larger than the burst: never fits.
    TooLarge { unit: Unit, n: u64, burst: u64 },
}

/// The two buckets of one tenant.
#[derive(Debug, Clone)]
pub struct WriteRate {
    lines: Option<Bucket>,
    bytes: Option<Bucket>,
}

impl WriteRate {
    pub fn new(l: &TenantLimits, replicas: u64) -> Self {
        let bucket = |rate: Option<u64>, burst: Option<u64>| {
            rate.map(|per_sec| {
                Bucket::new(Rate {
                    per_sec,
                    burst: burst.unwrap_or(per_sec),
                    replicas,
                })
            })
        };
        Self {
            lines: bucket(l.lines_per_sec, l.burst_lines),
            bytes: bucket(l.bytes_per_sec, l.burst_bytes),
        }
    }

    pub fn is_unlimited(&self) -> bool {
        self.lines.is_none() && self.bytes.is_none()
    }

    /// Checks `lines` and `bytes` (either may be 0 = not charged) and takes both if both fit.
    pub fn take(&mut self, lines: u64, bytes: u64, now_ns: i64) -> Result<(), RateRefusal> {
        let lines_check = self.lines.as_ref().map(|b| (b, b.check(lines, now_ns)));
        let bytes_check = self.bytes.as_ref().map(|b| (b, b.check(bytes, now_ns)));
        let mut worst: Option<(u128, Unit, &Bucket)> = None;
        for (unit, n, c) in [
            (Unit::Lines, lines, lines_check),
            (Unit::Bytes, bytes, bytes_check),
        ] {
            match c {
                Some((b, Check::Never)) => {
                    return Err(RateRefusal::TooLarge {
                        unit,
                        n,
                        burst: b.rate.burst,
                    });
                }
                Some((b, Check::Wait { wait_ns })) if worst.is_none_or(|w| wait_ns > w.0) => {
                    worst = Some((wait_ns, unit, b));
                }
                _ => {}
            }
        }
        if let Some((wait_ns, unit, b)) = worst {
            return Err(RateRefusal::Wait {
                unit,
                per_sec: b.rate.per_sec,
                replicas: b.rate.replicas,
                retry_after: retry_after_secs(wait_ns),
            });
        }
        if let Some((_, Check::Fits { new_full_at })) = lines_check {
            if let Some(b) = self.lines.as_mut() {
                b.take(new_full_at);
            }
        }
        if let Some((_, Check::Fits { new_full_at })) = bytes_check {
            if let Some(b) = self.bytes.as_mut() {
                b.take(new_full_at);
            }
        }
        Ok(())
    }

    /// Tokens left now: (lines, bytes); `None` = unlimited.
    pub fn available(&self, now_ns: i64) -> (Option<u64>, Option<u64>) {
        (
            self.lines.as_ref().map(|b| b.available(now_ns)),
            self.bytes.as_ref().map(|b| b.available(now_ns)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn limits() -> TenantLimits {
        TenantLimits {
            lines_per_sec: Some(1_000),
            burst_lines: Some(2_000),
            bytes_per_sec: Some(100_000),
            burst_bytes: Some(100_000),
            ..TenantLimits::default()
        }
    }

    #[test]
    fn both_or_neither() {
        let mut r = WriteRate::new(&limits(), 1);
        // Lines fit, bytes do not (after taking the whole byte burst).
        r.take(0, 100_000, 0).expect("fits");
        let before = r.available(0);
        let e = r.take(10, 50_000, 0).unwrap_err();
        assert_eq!(
            e,
            RateRefusal::Wait {
                unit: Unit::Bytes,
                per_sec: 100_000,
                replicas: 1,
                retry_after: 1
            }
        );
        assert_eq!(r.available(0), before, "a refused request consumes nothing");
        assert_eq!(before, (Some(2_000), Some(0)));
    }

    #[test]
    fn retry_after_is_the_larger_wait() {
        let mut r = WriteRate::new(&limits(), 1);
        r.take(2_000, 100_000, 0).expect("fits");
        // 3 s of lines (3 000 at 1 000/s) is more than the burst: never.
        assert!(matches!(
            r.take(3_000, 1, 0),
            Err(RateRefusal::TooLarge {
                unit: Unit::Lines,
                n: 3_000,
                burst: 2_000
            })
        ));
        // 1 500 lines → 1.5 s → 2; 10 000 bytes → 0.1 s → 1. The answer is 2.
        match r.take(1_500, 10_000, 0) {
            Err(RateRefusal::Wait {
                unit, retry_after, ..
            }) => {
                assert_eq!((unit, retry_after), (Unit::Lines, 2));
            }
            other => panic!("{other:?}"),
        }
        // Honouring it works.
        r.take(1_500, 10_000, 2 * S)
            .expect("fits after Retry-After");
    }

    #[test]
    fn unlimited_always_fits() {
        let mut r = WriteRate::new(&TenantLimits::default(), 1);
        assert!(r.is_unlimited());
        for _ in 0..1000 {
            r.take(u64::MAX, u64::MAX, 0).expect("unlimited");
        }
    }
}
