//! Retry timing: exponential backoff with full jitter, and the upstream's `Retry-After`.
//!
//! Owns: the delay before the next attempt of one batch. Pure (randomness is passed in).
//! Does not own: sleeping (see `deliver`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest `Retry-After` honoured (as Telegraf does).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Consecutive-failure state of one batch.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max: max.max(min),
            failures: 0,
        }
    }

    /// The ceiling of the next delay: `min * 2^failures`, at most `max`.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.failures.min(31)).unwrap_or(u32::MAX);
        self.min.saturating_mul(factor).min(self.max)
    }

    /// The delay before the next attempt ("full jitter": uniform in `0..=ceiling`, where
    /// `unit` is a random number in `[0, 1)`), at least `retry_after` (capped at 10 minutes).
    pub fn next(&mut self, unit: f64, retry_after: Option<Duration>) -> Duration {
        let jittered = self.ceiling().mul_f64(unit.clamp(0.0, 1.0));
        self.failures = self.failures.saturating_add(1);
        match retry_after {
            Some(ra) => jittered.max(ra.min(MAX_RETRY_AFTER)),
            None => jittered,
        }
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

/// A `Retry-After` value: seconds (integer, or a float as Telegraf accepts) or an HTTP-date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(
                secs.min(MAX_RETRY_AFTER.as_secs_f64()),
            ));
        }
        return None;
    }
    let at = parse_http_date(v)?;
    Some(
        at.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form RFC 9110 requires senders to use.
fn parse_http_date(v: &str) -> Option<SystemTime> {
    let parts: Vec<&str> = v.split_ascii_whitespace().collect();
    let [_, day, mon, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| m == mon)? as i64 + 1;
    let day: i64 = day.parse().ok()?;
    let year: i64 = year.parse().ok()?;
    let mut hms = time.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_cap_with_full_jitter() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(30));
        assert_eq!(
            b.next(0.999_999, None),
            Duration::from_millis(100).mul_f64(0.999_999)
        );
        assert_eq!(b.ceiling(), Duration::from_millis(200));
        assert_eq!(b.next(0.0, None), Duration::ZERO);
        assert_eq!(b.ceiling(), Duration::from_millis(400));
        for _ in 0..40 {
            b.next(0.5, None);
        }
        assert_eq!(b.ceiling(), Duration::from_secs(30));
        assert_eq!(b.next(0.5, None), Duration::from_secs(15));
        b.reset();
        assert_eq!(b.ceiling(), Duration::from_millis(100));
    }

    #[test]
    fn retry_after_is_a_floor_capped_at_ten_minutes() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(30));
        assert_eq!(
            b.next(0.5, Some(Duration::from_secs(5))),
            Duration::from_secs(5)
        );
        assert_eq!(
            b.next(0.5, Some(Duration::from_secs(3600))),
            MAX_RETRY_AFTER
        );
    }

    #[test]
    fn parses_retry_after_forms() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_767); // Sun, 06 Nov 1994 08:49:27 GMT
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(parse_retry_after("99999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }
}
