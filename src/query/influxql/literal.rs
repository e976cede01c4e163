//! InfluxQL literal values as numbers: durations and time strings to nanoseconds.
//!
//! Owns: `parse_duration` (`1h30m`, `1717236000000ms` → ns), `format_duration` (ns → the
//! shortest InfluxQL duration), `parse_time_string` (`'2024-06-01T10:00:00Z'`,
//! `'2024-06-01 10:00:00'`, `'2024-06-01'` → ns), with InfluxDB 1.x's rules and messages.
//! Does not own: deciding where a literal is a time (lowering does).

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone};

/// Why a literal is not a duration or a time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LiteralError {
    #[error("invalid duration")]
    InvalidDuration,
    #[error("overflowed duration {measure}{unit}: choose a smaller duration or INF")]
    OverflowedDuration { measure: i64, unit: String },
    #[error("invalid timestamp string")]
    InvalidTime,
    /// Parsed, but outside the nanosecond range (1677-09-21 .. 2262-04-11).
    #[error("time {text} overflows time literal")]
    TimeOutOfRange { text: String },
}

const NS_PER_UNIT: [(&str, i64); 9] = [
    ("ns", 1),
    ("u", 1_000),
    ("µ", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 86_400_000_000_000),
    ("w", 604_800_000_000_000),
];

/// An InfluxQL duration (`10s`, `1h30m`, `200ms`, `1u`, `1µ`, `1ns`, `1d`, `1w`, `-15m`,
/// `1717236000000ms`) in nanoseconds. Units add up in any order; there is no fraction.
/// As in InfluxDB, arithmetic wraps: a sum that wraps back to a positive value is accepted.
pub fn parse_duration(text: &str) -> Result<i64, LiteralError> {
    // InfluxDB refuses blank and one-character input before looking at it.
    if text.len() < 2 {
        return Err(LiteralError::InvalidDuration);
    }
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    // InfluxDB adds up in wrapping int64 arithmetic and calls it an overflow only when the
    // sum of a positive duration ends up negative; reported with the last part.
    let mut total: i64 = 0;
    let mut last = (0i64, "");
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits == rest.len() {
            return Err(LiteralError::InvalidDuration);
        }
        let measure: i64 = rest[..digits]
            .parse()
            .map_err(|_| LiteralError::InvalidDuration)?;
        rest = &rest[digits..];
        // "ms" and "ns" are two letters; every other unit is one character.
        let (unit, scale) = NS_PER_UNIT
            .iter()
            .filter(|(u, _)| rest.starts_with(u))
            .max_by_key(|(u, _)| u.len())
            .copied()
            .ok_or(LiteralError::InvalidDuration)?;
        rest = &rest[unit.len()..];
        total = total.wrapping_add(measure.wrapping_mul(scale));
        last = (measure, unit);
    }
    if total < 0 && !negative {
        let (measure, unit) = last;
        return Err(LiteralError::OverflowedDuration {
            measure,
            unit: unit.to_owned(),
        });
    }
    Ok(if negative {
        total.wrapping_neg()
    } else {
        total
    })
}

/// The InfluxQL text of a duration: the largest unit that divides it (`90m` → `90m`,
/// `3600s` → `1h`, `0` → `0s`), as InfluxDB prints durations.
pub fn format_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".to_owned();
    }
    for (unit, scale) in NS_PER_UNIT.iter().rev() {
        if *unit == "µ" {
            continue;
        }
        if ns % scale == 0 {
            return format!("{}{unit}", ns / scale);
        }
    }
    format!("{ns}ns")
}

/// A time string as InfluxDB 1.x accepts it in a time condition, to ns since the epoch.
///
/// - `YYYY-MM-DD HH:MM:SS[.fraction]`, in `tz` (UTC when `None`);
/// - otherwise, when it starts with a date and has more: RFC 3339 (`2024-06-01T10:00:00Z`,
///   `2024-06-01T12:00:00.5+02:00`);
/// - `YYYY-MM-DD`: midnight in `tz`.
pub fn parse_time_string(text: &str, tz: Option<chrono_tz::Tz>) -> Result<i64, LiteralError> {
    let tz = tz.unwrap_or(chrono_tz::UTC);
    let b = text.as_bytes();
    let starts_with_date = b.len() >= 10
        && b[..10].iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        });
    if !starts_with_date {
        return Err(LiteralError::InvalidTime);
    }
    let local = |naive: NaiveDateTime| {
        tz.from_local_datetime(&naive)
            .earliest()
            .ok_or(LiteralError::InvalidTime)
    };
    let instant = if b.len() == 10 {
        let date =
            NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| LiteralError::InvalidTime)?;
        local(date.and_hms_opt(0, 0, 0).ok_or(LiteralError::InvalidTime)?)?.to_utc()
    } else if let Ok(naive) = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f") {
        local(naive)?.to_utc()
    } else {
        DateTime::parse_from_rfc3339(text)
            .map_err(|_| LiteralError::InvalidTime)?
            .to_utc()
    };
    instant
        .timestamp_nanos_opt()
        .ok_or_else(|| LiteralError::TimeOutOfRange {
            text: text.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn durations_in_every_unit() {
        let cases: &[(&str, i64)] = &[
            ("10s", 10 * S),
            ("1h30m", 5400 * S),
            ("30m1h", 5400 * S),
            ("200ms", 200_000_000),
            ("1u", 1_000),
            ("1µ", 1_000),
            ("1ns", 1),
            ("1d", 86_400 * S),
            ("1w", 7 * 86_400 * S),
            ("-15m", -900 * S),
            ("1717236000000ms", 1_717_236_000_000_000_000),
            ("106751d", 106_751 * 86_400 * S),
            // Wraps past i64 back to a positive value: InfluxDB accepts it, so do we.
            ("159624000000m", 159_624_000_000i64.wrapping_mul(60 * S)),
        ];
        for (text, ns) in cases {
            assert_eq!(parse_duration(text), Ok(*ns), "{text}");
        }
    }

    #[test]
    fn bad_durations_have_influxdb_messages() {
        for text in ["", "s", "1", "1x", "1h3", "h1", "1.5s", "1n", "--1s"] {
            assert_eq!(
                parse_duration(text),
                Err(LiteralError::InvalidDuration),
                "{text}"
            );
        }
        let err = parse_duration("106752d").expect_err("overflows");
        assert_eq!(
            err.to_string(),
            "overflowed duration 106752d: choose a smaller duration or INF"
        );
    }

    #[test]
    fn format_picks_the_largest_unit() {
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(3600 * S), "1h");
        assert_eq!(format_duration(5400 * S), "90m");
        assert_eq!(format_duration(14 * 86_400 * S), "2w");
        assert_eq!(format_duration(1_500), "1500ns");
        assert_eq!(format_duration(-900 * S), "-15m");
        for ns in [1, 1_000, 1_000_000, 7 * S, -3, i64::MAX, i64::MIN + 1] {
            assert_eq!(parse_duration(&format_duration(ns)), Ok(ns), "{ns}");
        }
    }

    #[test]
    fn time_strings_as_influxdb_reads_them() {
        let t = 1_717_236_000 * S; // 2024-06-01T10:00:00Z
        assert_eq!(parse_time_string("2024-06-01T10:00:00Z", None), Ok(t));
        assert_eq!(parse_time_string("2024-06-01T12:00:00+02:00", None), Ok(t));
        assert_eq!(
            parse_time_string("2024-06-01T10:00:00.5Z", None),
            Ok(t + S / 2)
        );
        assert_eq!(parse_time_string("2024-06-01 10:00:00", None), Ok(t));
        assert_eq!(
            parse_time_string("2024-06-01 10:00:00.000000001", None),
            Ok(t + 1)
        );
        assert_eq!(parse_time_string("2024-06-01", None), Ok(t - 10 * 3600 * S));
        let paris = Some(chrono_tz::Europe::Paris);
        assert_eq!(parse_time_string("2024-06-01 12:00:00", paris), Ok(t));
        for bad in [
            "now",
            "2024-06-01T10:00:00",
            "2024-6-1",
            "2024-06-01 25:00:00",
            "x2024-06-01",
        ] {
            assert_eq!(
                parse_time_string(bad, None),
                Err(LiteralError::InvalidTime),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_time_string("2300-01-01T00:00:00Z", None),
            Err(LiteralError::TimeOutOfRange { .. })
        ));
    }
}
