//! A tenant's write rate: a lines/s bucket and a bytes/s bucket, taken together or not at all,
//! with reservations so that a client honouring Retry-After is admitted when it comes back.
//!
//! Reservations: under competition, a client that waits its Retry-After would find the tokens
//! taken by clients that did not have to wait, and be refused again and again. So a refused
//! request *books* its tokens (the buckets go into debt, later refusals queue behind it) and
//! is told to come back when its booking is due. The same request (same tenant, line count,
//! wire bytes and body checksum: a retried batch) arriving at or after that time is admitted
//! without taking again; arriving early it is refused with the remaining wait and keeps its
//! booking. A booking not claimed within `CLAIM_GRACE` after it is due is refunded, so a
//! client that gives up costs nothing in the end. At most `MAX_BOOKINGS` are held per tenant,
//! and none longer than `MAX_BOOKING_WAIT` ahead; beyond those a refusal books nothing.

use super::bucket::{Bucket, Check, Rate, retry_after_secs};
use crate::config::TenantLimits;

/// How long after its due time a booking waits for its request (Telegraf retries at its next
/// flush after Retry-After, 10 s by default).
pub const CLAIM_GRACE_NS: i128 = 10_000_000_000;
pub const MAX_BOOKINGS: usize = 256;
/// No booking further ahead than this (the client is simply told to come back later).
pub const MAX_BOOKING_WAIT_NS: u128 = 60_000_000_000;

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

/// What identifies a request for its booking: a retried batch is byte-identical.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestKey {
    pub lines: u64,
    pub bytes: u64,
    pub checksum: u32,
}

#[derive(Debug, Clone, Copy)]
struct Booking {
    key: RequestKey,
    due: i128,
    unit: Unit,
}

/// The two buckets of one tenant.
#[derive(Debug, Clone)]
pub struct WriteRate {
    lines: Option<Bucket>,
    bytes: Option<Bucket>,
    bookings: Vec<Booking>,
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
            bookings: Vec::new(),
        }
    }

    pub fn is_unlimited(&self) -> bool {
        self.lines.is_none() && self.bytes.is_none()
    }

    fn bucket(&self, unit: Unit) -> Option<&Bucket> {
        match unit {
            Unit::Lines => self.lines.as_ref(),
            Unit::Bytes => self.bytes.as_ref(),
        }
    }

    fn wait(&self, unit: Unit, wait_ns: u128) -> RateRefusal {
        let rate = self.bucket(unit).map(|b| b.rate);
        RateRefusal::Wait {
            unit,
            per_sec: rate.map_or(0, |r| r.per_sec),
            replicas: rate.map_or(1, |r| r.replicas),
            retry_after: retry_after_secs(wait_ns),
        }
    }

    /// Refunds the bookings nobody claimed in time.
    fn expire(&mut self, now: i128) {
        let (lines, bytes) = (&mut self.lines, &mut self.bytes);
        self.bookings.retain(|b| {
            let keep = now <= b.due + CLAIM_GRACE_NS;
            if !keep {
                if let Some(l) = lines.as_mut() {
                    l.refund(b.key.lines);
                }
                if let Some(x) = bytes.as_mut() {
                    x.refund(b.key.bytes);
                }
            }
            keep
        });
    }

    /// Would a request of `bytes` wire bytes fit now (before its body is read)? Takes and
    /// books nothing. A request that may hold a booking of that size passes (checked later).
    pub fn peek_bytes(&mut self, bytes: u64, now_ns: i64) -> Result<(), RateRefusal> {
        self.expire(i128::from(now_ns));
        if self.bookings.iter().any(|b| b.key.bytes == bytes) {
            return Ok(());
        }
        let Some(b) = self.bytes.as_ref() else {
            return Ok(());
        };
        match b.check(bytes, now_ns) {
            Check::Fits { .. } => Ok(()),
            Check::Never => Err(RateRefusal::TooLarge {
                unit: Unit::Bytes,
                n: bytes,
                burst: b.rate.burst,
            }),
            Check::Wait { wait_ns } => Err(self.wait(Unit::Bytes, wait_ns)),
        }
    }

    /// Takes `key.lines` and `key.bytes` from both buckets, or neither and books them.
    pub fn take(&mut self, key: RequestKey, now_ns: i64) -> Result<(), RateRefusal> {
        if self.is_unlimited() {
            return Ok(());
        }
        let now = i128::from(now_ns);
        self.expire(now);
        if let Some(i) = self.bookings.iter().position(|b| b.key == key) {
            let b = self.bookings[i];
            if now >= b.due {
                self.bookings.swap_remove(i);
                return Ok(());
            }
            let wait_ns = u128::try_from(b.due - now).unwrap_or(0);
            return Err(self.wait(b.unit, wait_ns));
        }
        let lines_check = self.lines.as_ref().map(|b| b.check(key.lines, now_ns));
        let bytes_check = self.bytes.as_ref().map(|b| b.check(key.bytes, now_ns));
        let mut worst: Option<(u128, Unit)> = None;
        for (unit, n, c) in [
            (Unit::Lines, key.lines, lines_check),
            (Unit::Bytes, key.bytes, bytes_check),
        ] {
            match c {
                Some(Check::Never) => {
                    let burst = self.bucket(unit).map_or(0, |b| b.rate.burst);
                    return Err(RateRefusal::TooLarge { unit, n, burst });
                }
                Some(Check::Wait { wait_ns }) if worst.is_none_or(|w| wait_ns > w.0) => {
                    worst = Some((wait_ns, unit));
                }
                _ => {}
            }
        }
        if let Some((wait_ns, unit)) = worst {
            if self.bookings.len() < MAX_BOOKINGS && wait_ns <= MAX_BOOKING_WAIT_NS {
                let mut due = now;
                if let Some(b) = self.lines.as_mut() {
                    due = due.max(b.reserve(key.lines, now_ns));
                }
                if let Some(b) = self.bytes.as_mut() {
                    due = due.max(b.reserve(key.bytes, now_ns));
                }
                self.bookings.push(Booking { key, due, unit });
                return Err(self.wait(unit, u128::try_from(due - now).unwrap_or(0)));
            }
            return Err(self.wait(unit, wait_ns));
        }
        if let (Some(b), Some(Check::Fits { new_full_at })) = (self.lines.as_mut(), lines_check) {
            b.take(new_full_at);
        }
        if let (Some(b), Some(Check::Fits { new_full_at })) = (self.bytes.as_mut(), bytes_check) {
            b.take(new_full_at);
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
mod tests;
