//! `parse_line`: Go's `parsePoint` (`scanKey`, `scanFields`, `walkFields`, `scanTime`) on one line.
//!
//! Owns: the verdict for one line and the offsets a `Line` borrows. Every branch mirrors a branch
//! of InfluxDB 2.x `models/points.go`, in the same order, so the first error found is the one Go
//! reports. Does not own: line splitting (`split`), number spellings (`number`).

use super::error::{LineError, LineErrorKind, MAX_KEY_LENGTH, MAX_NANO_TIME, MIN_NANO_TIME};
use super::number::{scan_boolean, scan_number};
use super::split::skip_blank;
use super::swar::{ByteSet, digits_end};
use super::{FieldIter, Line, ParseOptions, TagIter};

type Res<T> = Result<T, LineError>;

#[inline(always)]
fn fail<T>(kind: LineErrorKind, at: usize) -> Res<T> {
    Err(LineError::new(kind, at))
}

const MEAS_END: ByteSet<2> = ByteSet::new(*b", ");
const TAG_KEY_END: ByteSet<3> = ByteSet::new(*b"= ,");
const FIELDS_SPECIAL: ByteSet<5> = ByteSet::new(*b"\\\"=, ");

/// Parses and validates one line; see [`super::parse_line`].
pub(crate) fn parse_line<'a>(buf: &'a [u8], opts: &ParseOptions) -> Res<Line<'a>> {
    let start = skip_blank(buf, 0);
    let (meas_end, key_end, reserved_tag, sorted_tags) = scan_key(buf, start)?;
    if key_end - start > MAX_KEY_LENGTH {
        return fail(
            LineErrorKind::MaxKeyLength {
                size: key_end - start,
            },
            start,
        );
    }
    let key_len = key_end - start;
    let (fields_start, fields_end, plain_fields, shape) =
        match super::fast::scan_fields(buf, key_end, key_len, opts.allow_unsigned) {
            Some(p) => {
                debug_assert_eq!(
                    Ok((p.start, p.end)),
                    scan_fields(buf, key_end, key_len, opts)
                );
                (p.start, p.end, p.no_strings, p.shape)
            }
            None => {
                let (s, e) = scan_fields(buf, key_end, key_len, opts)?;
                (s, e, false, 0)
            }
        };
    let timestamp = scan_time(buf, fields_end, opts)?;
    Ok(Line {
        raw: buf,
        start,
        meas_end,
        key_end,
        fields_start,
        fields_end,
        plain_fields,
        shape,
        reserved_tag,
        sorted_tags,
        timestamp,
    })
}

/// `scanKey`: measurement and tags. Returns (end of measurement, end of series key, whether a
/// tag key is `time`, `_measurement` or `_field` as written, whether the tag keys are sorted).
#[inline]
pub(super) fn scan_key(buf: &[u8], start: usize) -> Res<(usize, usize, bool, bool)> {
    let len = buf.len();
    // scanMeasurement
    if start >= len || buf[start] == b',' {
        return fail(LineErrorKind::MissingMeasurement, start);
    }
    let Some(meas_end) = MEAS_END.find_unescaped(buf, start + 1) else {
        return fail(LineErrorKind::MissingFields, len);
    };
    if buf[meas_end] == b' ' {
        return Ok((meas_end, meas_end, false, true));
    }
    // scanTags
    let mut i = meas_end + 1;
    let mut prev_key: &[u8] = &[];
    let mut sorted = true;
    let mut duplicate = false;
    let mut ntags = 0usize;
    let mut reserved = false;
    let key_end = loop {
        // scanTagsKey
        if i >= len || matches!(buf[i], b' ' | b',' | b'=') {
            return fail(LineErrorKind::MissingTagKey, i);
        }
        let eq = match TAG_KEY_END.find_unescaped(buf, i + 1) {
            Some(p) if buf[p] == b'=' => p,
            Some(p) => return fail(LineErrorKind::MissingTagValue, p),
            None => return fail(LineErrorKind::MissingTagValue, len),
        };
        let key = &buf[i..eq];
        if ntags > 0 {
            match prev_key.cmp(key) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => duplicate = true,
                std::cmp::Ordering::Greater => sorted = false,
            }
        }
        reserved |= matches!(key, b"time" | b"_measurement" | b"_field");
        prev_key = key;
        ntags += 1;
        // scanTagsValue
        let v = eq + 1;
        if v >= len || buf[v] == b',' || buf[v] == b' ' {
            return fail(LineErrorKind::MissingTagValue, v);
        }
        match TAG_KEY_END.find_unescaped(buf, v + 1) {
            None => return fail(LineErrorKind::MissingFields, len),
            Some(p) if buf[p] == b'=' => return fail(LineErrorKind::InvalidTagFormat, p),
            Some(p) if buf[p] == b',' => i = p + 1,
            Some(p) => break p,
        }
    };
    if duplicate
        || (!sorted && unsorted_has_duplicates(&buf[start..key_end], meas_end - start, ntags))
    {
        return fail(LineErrorKind::DuplicateTags, start);
    }
    Ok((meas_end, key_end, reserved, sorted))
}

/// The exhaustive duplicate check Go does after sorting unsorted tags.
#[cold]
fn unsorted_has_duplicates(series: &[u8], meas_end: usize, ntags: usize) -> bool {
    let tags = TagIter::new(series, meas_end + 1);
    if ntags <= 16 {
        let mut keys: [&[u8]; 16] = [&[]; 16];
        for (n, (k, _)) in tags.enumerate().take(16) {
            if keys[..n].contains(&k) {
                return true;
            }
            keys[n] = k;
        }
        return false;
    }
    let mut keys: Vec<&[u8]> = tags.map(|(k, _)| k).collect();
    keys.sort_unstable();
    keys.windows(2).any(|w| w[0] == w[1])
}

/// `scanFields` followed by 2.x `walkFields` (key length and field-key checks). Returns the
/// fields section (start, end).
#[inline]
pub(super) fn scan_fields(
    buf: &[u8],
    key_end: usize,
    key_len: usize,
    opts: &ParseOptions,
) -> Res<(usize, usize)> {
    let len = buf.len();
    let start = skip_blank(buf, key_end);
    let mut i = start;
    let mut quoted = false;
    let mut equals = 0usize;
    let mut commas = 0usize;
    // Set when the Go walk over this section could see other boundaries than the scan did.
    let mut needs_walk = false;
    let mut field_key_start = start;
    let mut too_long: Option<usize> = None;
    while i < len {
        let b = buf[i];
        if b == b'\\' && i + 1 < len {
            needs_walk = true;
            i += 2;
            continue;
        }
        if b == b'"' && equals > commas {
            quoted = !quoted;
            i += 1;
            if !quoted && i < len && buf[i] != b',' && buf[i] != b' ' {
                needs_walk = true; // junk after a closing quote
            }
            if quoted {
                // Inside a string only `\` (skip a pair) and `"` (close) matter.
                i = match memchr::memchr2(b'"', b'\\', &buf[i..]) {
                    Some(o) => i + o,
                    None => len,
                };
            }
            continue;
        }
        if quoted {
            // A lone trailing backslash inside a string.
            i += 1;
            continue;
        }
        match b {
            b'=' => {
                equals += 1;
                let p = buf[i - 1];
                if (p == b' ' || p == b',') && buf[i - 2] != b'\\' {
                    return fail(LineErrorKind::MissingFieldKey, i);
                }
                if i + 1 >= len {
                    return fail(LineErrorKind::MissingFieldValue, i);
                }
                let n = buf[i + 1];
                if n == b',' || n == b' ' {
                    return fail(LineErrorKind::MissingFieldValue, i);
                }
                if too_long.is_none() && key_len + 4 + (i - field_key_start) > MAX_KEY_LENGTH {
                    too_long = Some(key_len + 4 + (i - field_key_start));
                }
                if n.is_ascii_digit() || matches!(n, b'.' | b'-' | b'N' | b'n') {
                    i = scan_number(buf, i + 1, opts.allow_unsigned)?;
                    continue;
                }
                if n != b'"' {
                    i = scan_boolean(buf, i + 1)?;
                    continue;
                }
                i += 1;
            }
            b',' => {
                commas += 1;
                i += 1;
                field_key_start = i;
            }
            b' ' => break,
            b'"' => {
                // A literal quote (key position): Go's walk toggles on it anyway.
                needs_walk = true;
                i += 1;
            }
            _ => i = FIELDS_SPECIAL.find(buf, i + 1).unwrap_or(len),
        }
    }
    if quoted {
        return fail(LineErrorKind::UnbalancedQuotes, i);
    }
    if equals == 0 || commas != equals - 1 {
        return fail(LineErrorKind::InvalidFieldFormat, i);
    }
    if needs_walk {
        walk_fields(buf, start, i, key_len)?;
    } else if let Some(size) = too_long {
        return fail(LineErrorKind::MaxKeyLength { size }, start);
    }
    Ok((start, i))
}

/// 2.x `walkFields` over the fields section, plus decoding each value the way Go's field
/// iterator will (so `Line::fields` cannot meet an undecodable value).
#[cold]
fn walk_fields(buf: &[u8], start: usize, end: usize, key_len: usize) -> Res<()> {
    let section = &buf[start..end];
    let mut it = FieldIter::new(section, false);
    loop {
        match it.next_raw() {
            None => return Ok(()),
            Some(Err(key)) => {
                let key = String::from_utf8_lossy(key).into_owned();
                return fail(LineErrorKind::InvalidFieldKey { key }, start);
            }
            Some(Ok((key, value))) => {
                let size = key_len + 4 + key.len();
                if size > MAX_KEY_LENGTH {
                    return fail(LineErrorKind::MaxKeyLength { size }, start);
                }
                if let Err(expected) = super::decode_value(value) {
                    return fail(
                        LineErrorKind::UndecodableFieldValue {
                            key: String::from_utf8_lossy(key).into_owned(),
                            value: String::from_utf8_lossy(value).into_owned(),
                            expected,
                        },
                        start,
                    );
                }
            }
        }
    }
}

/// `scanTime` and the timestamp checks of `parsePoint`.
#[inline]
pub(super) fn scan_time(buf: &[u8], fields_end: usize, opts: &ParseOptions) -> Res<Option<i64>> {
    let len = buf.len();
    let ts_start = skip_blank(buf, fields_end);
    let mut i = ts_start;
    if i < len && buf[i] == b'-' {
        i += 1;
    }
    i = digits_end(buf, i);
    if i < len && buf[i] != b'\n' && buf[i] != b' ' {
        return fail(LineErrorKind::BadTimestamp, i);
    }
    let lit = &buf[ts_start..i];
    if lit.is_empty() {
        return Ok(None);
    }
    let Some(ts) = parse_timestamp(lit) else {
        let literal = String::from_utf8_lossy(lit).into_owned();
        let kind = if lit == b"-" {
            LineErrorKind::TimestampSyntax { literal }
        } else {
            LineErrorKind::TimestampOutOfRange { literal }
        };
        return fail(kind, ts_start);
    };
    match ts.checked_mul(opts.precision.nanos()) {
        Some(ns) if (MIN_NANO_TIME..=MAX_NANO_TIME).contains(&ns) => {}
        _ => return fail(LineErrorKind::TimeOutsideRange, ts_start),
    }
    if let Some(o) = buf[i..].iter().position(|&c| c != b' ') {
        return fail(LineErrorKind::PointIsInvalid, i + o);
    }
    Ok(Some(ts))
}

/// `strconv.ParseInt` for a literal `scan_time` has checked to be `-?[0-9]*`.
#[inline(always)]
fn parse_timestamp(lit: &[u8]) -> Option<i64> {
    let (neg, digits) = match lit.split_first() {
        Some((b'-', digits)) => (true, digits),
        _ => (false, lit),
    };
    if digits.is_empty() || digits.len() > 19 {
        return super::number::parse_i64(lit);
    }
    // 19 digits cannot overflow a u64.
    let v = super::swar::parse_digits19(digits);
    if neg {
        (v <= i64::MAX as u64 + 1).then(|| (v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn parse_timestamp_is_parse_i64() {
        for lit in [
            "",
            "-",
            "0",
            "-0",
            "7",
            "-7",
            "123456789012345678",
            "-123456789012345678",
            "1717236000000000000",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "9999999999999999999",
            "-9999999999999999999",
            "10000000000000000000",
            "00000000000000000000001",
        ] {
            let lit = lit.as_bytes();
            assert_eq!(
                super::parse_timestamp(lit),
                super::super::number::parse_i64(lit),
                "{}",
                String::from_utf8_lossy(lit)
            );
        }
    }
}
