//! Field value scanners (`scanNumber`, `scanBoolean`) and the decoders behind `Line::fields`.
//!
//! Owns: which numeric and boolean spellings are valid and their range checks, byte for byte as
//! Go's `models/points.go`. Does not own: where a field starts (see `parse`).

use super::error::{LineError, LineErrorKind};

#[inline(always)]
fn is_numeric(b: u8) -> bool {
    b.is_ascii_digit() || b == b'.'
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Go's `scanNumber`: `start` is the first byte of the value. Returns the end (at `,`, ` ` or
/// the end of `buf`).
#[inline]
pub(crate) fn scan_number(
    buf: &[u8],
    start: usize,
    allow_unsigned: bool,
) -> Result<usize, LineError> {
    let err = |kind, at| Err(LineError::new(kind, at));
    let len = buf.len();
    let mut i = start;
    if i < len && buf[i] == b'-' {
        i += 1;
        if i == len {
            return err(LineErrorKind::InvalidNumber, i);
        }
    }
    // Fast path: a run of digits (the common Telegraf integer/float shape).
    i = super::swar::digits_end(buf, i);
    let (mut is_int, mut is_uint, mut decimal, mut scientific) = (false, false, false, false);
    while i < len {
        let c = buf[i];
        if c == b',' || c == b' ' {
            break;
        }
        if c.is_ascii_digit() {
            i += 1;
            continue;
        }
        if c == b'i' && i > start && !(is_int || is_uint) {
            is_int = true;
            i += 1;
            continue;
        } else if c == b'u' && i > start && !(is_int || is_uint) {
            is_uint = true;
            i += 1;
            continue;
        }
        if c == b'.' {
            if decimal {
                return err(LineErrorKind::InvalidNumber, i);
            }
            decimal = true;
        }
        if i > start && (c == b'e' || c == b'E') {
            scientific = true;
            i += 1;
            continue;
        }
        if (c == b'+' || c == b'-') && (buf[i - 1] == b'e' || buf[i - 1] == b'E') {
            i += 1;
            continue;
        }
        if !is_numeric(c) {
            // Includes Go's explicit NaN check: 'N'/'n' are never numeric.
            return err(LineErrorKind::InvalidNumber, i);
        }
        i += 1;
    }
    if (is_int || is_uint) && (decimal || scientific) {
        return err(LineErrorKind::InvalidNumber, i);
    }
    let negative = buf[start] == b'-';
    let digits = i - start - usize::from(is_int) - usize::from(decimal) - usize::from(negative);
    if digits == 0 {
        return err(LineErrorKind::InvalidNumber, i);
    }
    if is_int {
        if buf[i - 1] != b'i' {
            return err(LineErrorKind::InvalidNumber, i);
        }
        let lit = &buf[start..i - 1];
        if lit.len() >= 19 && parse_i64(lit).is_none() {
            return err(
                LineErrorKind::IntegerOutOfRange {
                    literal: lossy(lit),
                },
                start,
            );
        }
    } else if is_uint {
        if !allow_unsigned || buf[i - 1] != b'u' || negative {
            return err(LineErrorKind::InvalidNumber, i);
        }
        let lit = &buf[start..i - 1];
        if lit.len() >= 20 && parse_u64(lit).is_none() {
            return err(
                LineErrorKind::UnsignedOutOfRange {
                    literal: lossy(lit),
                },
                start,
            );
        }
    } else {
        let lit = &buf[start..i];
        if (scientific || lit.len() >= 25) && parse_f64(lit).is_none() {
            return err(LineErrorKind::InvalidFloat, start);
        }
    }
    Ok(i)
}

/// Go's `scanBoolean`: `start` is the first byte of the value (not a digit, `.`, `-`, `n`, `N`
/// or `"`).
#[inline]
pub(crate) fn scan_boolean(buf: &[u8], start: usize) -> Result<usize, LineError> {
    let bad = |at| Err(LineError::new(LineErrorKind::InvalidBoolean, at));
    if !matches!(buf[start], b't' | b'f' | b'T' | b'F') {
        return bad(start);
    }
    let mut i = start + 1;
    while i < buf.len() && buf[i] != b',' && buf[i] != b' ' {
        i += 1;
    }
    match &buf[start..i] {
        b"t" | b"T" | b"f" | b"F" | b"true" | b"True" | b"TRUE" | b"false" | b"False"
        | b"FALSE" => Ok(i),
        _ => bad(start),
    }
}

/// `strconv.ParseInt(s, 10, 64)` for `-?[0-9]+` (a leading `+` is accepted too, as Go does).
#[inline]
pub(crate) fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    if digits.len() <= 19 {
        if super::swar::digits_end(digits, 0) != digits.len() {
            return None;
        }
        v = super::swar::parse_digits19(digits);
    } else {
        for &d in digits {
            let d = d.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            v = v.checked_mul(10)?.checked_add(u64::from(d))?;
        }
    }
    if neg {
        if v <= i64::MAX as u64 + 1 {
            Some((v as i64).wrapping_neg())
        } else {
            None
        }
    } else {
        i64::try_from(v).ok()
    }
}

/// `strconv.ParseUint(s, 10, 64)`.
#[inline]
pub(crate) fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &d in s {
        let d = d.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    Some(v)
}

/// `strconv.ParseFloat(s, 64)` for the spellings the scanner lets through: `None` on a syntax
/// error or on overflow to infinity (Go's `ErrRange`).
#[inline]
pub(crate) fn parse_f64(s: &[u8]) -> Option<f64> {
    // Go rejects the spellings Rust would also take: "inf", "nan", "infinity" (never reach here
    // from the scanner, but `fields()` decodes walked values too).
    if s.iter()
        .any(|b| b.is_ascii_alphabetic() && !matches!(b, b'e' | b'E'))
    {
        return None;
    }
    let v: f64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    if v.is_finite() { Some(v) } else { None }
}

/// Go's `strconv.ParseBool` (used by the field iterator).
#[inline]
pub(crate) fn parse_bool(s: &[u8]) -> Option<bool> {
    match s {
        b"1" | b"t" | b"T" | b"TRUE" | b"true" | b"True" => Some(true),
        b"0" | b"f" | b"F" | b"FALSE" | b"false" | b"False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_match_strconv() {
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"-9223372036854775809"), None);
        assert_eq!(parse_i64(b"00000000000000000000001"), Some(1));
        assert_eq!(parse_i64(b"-"), None);
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
    }

    #[test]
    fn floats_match_strconv() {
        assert_eq!(parse_f64(b"1."), Some(1.0));
        assert_eq!(parse_f64(b".5"), Some(0.5));
        assert_eq!(parse_f64(b"-1.0e-4"), Some(-1.0e-4));
        assert_eq!(parse_f64(b"1e"), None);
        assert_eq!(parse_f64(b"1e400"), None);
        assert_eq!(parse_f64(b"1e-400"), Some(0.0));
        assert_eq!(parse_f64(b"inf"), None);
    }
}
