//! The forwarder's view of stored lines: splitting a record into lines, rewriting a line's
//! timestamp to nanoseconds, and reading a line's measurement and field types.
//!
//! Owns: those small operations on lines that `lineproto` validated before they reached the
//! WAL. Does not own: line syntax — every scan goes through `lineproto`, the one parser.

use bytes::{Bytes, BytesMut};

pub use crate::lineproto::FieldType;
use crate::lineproto::{self, Line, ParseOptions};
use crate::model::Precision;

/// Splits `buf` into lines (without their `\n`), skipping blank lines and `#` comments;
/// leading blanks are trimmed, as InfluxDB does before naming a line in an error.
pub fn split_lines(buf: &Bytes) -> Vec<Bytes> {
    lineproto::split_lines(buf)
        .map(|line| buf.slice_ref(line))
        .collect()
}

/// Parses a stored line. Stored lines were validated with their own precision; read as
/// nanoseconds their timestamps are only smaller, so they parse the same.
fn parse(line: &[u8]) -> Option<Line<'_>> {
    let opts = ParseOptions {
        precision: Precision::Nanoseconds,
        allow_unsigned: true,
    };
    lineproto::parse_line(line, &opts).ok()
}

/// Where the timestamp token of a valid line starts and ends, if it has one: the last token,
/// since nothing but spaces may follow it and it holds no space itself.
fn timestamp_span(line: &[u8]) -> Option<(usize, usize)> {
    parse(line)?.timestamp()?;
    let end = line.iter().rposition(|&b| b != b' ')? + 1;
    let start = line[..end].iter().rposition(|&b| b == b' ')? + 1;
    Some((start, end))
}

/// The timestamp token of one line, if there is one.
#[cfg(test)]
pub fn timestamp(line: &[u8]) -> Option<&[u8]> {
    timestamp_span(line).map(|(s, e)| &line[s..e])
}

/// Why a timestamp could not be rewritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadTimestamp;

/// Rewrites `line`'s timestamp from units of `nanos_per_unit` nanoseconds to nanoseconds.
/// A line without a timestamp is returned unchanged (the upstream stamps it).
pub fn timestamp_to_ns(line: &Bytes, nanos_per_unit: i64) -> Result<Bytes, BadTimestamp> {
    let Some((start, end)) = timestamp_span(line) else {
        return Ok(line.clone());
    };
    let tok = std::str::from_utf8(&line[start..end]).map_err(|_| BadTimestamp)?;
    let v: i64 = tok.parse().map_err(|_| BadTimestamp)?;
    let ns = v.checked_mul(nanos_per_unit).ok_or(BadTimestamp)?;
    let mut out = BytesMut::with_capacity(line.len() + 12);
    out.extend_from_slice(&line[..start]);
    out.extend_from_slice(ns.to_string().as_bytes());
    out.extend_from_slice(&line[end..]);
    Ok(out.freeze())
}

/// The type InfluxDB names `name` in a field type conflict message.
pub fn field_type_named(name: &str) -> Option<FieldType> {
    Some(match name {
        "float" => FieldType::Float,
        "integer" => FieldType::Integer,
        "unsigned" => FieldType::Unsigned,
        "string" => FieldType::String,
        "boolean" => FieldType::Boolean,
        _ => return None,
    })
}

/// The measurement name of `line`, unescaped.
pub fn measurement(line: &[u8]) -> Vec<u8> {
    parse(line).map_or_else(Vec::new, |l| {
        lineproto::unescape_measurement(l.measurement()).into_owned()
    })
}

/// The type of field `key` (unescaped) in `line`, if the line has that field.
pub fn field_type(line: &[u8], key: &[u8]) -> Option<FieldType> {
    parse(line)?
        .field_types()
        .find(|(k, _)| *lineproto::unescape_field_key(k) == *key)
        .map(|(_, ty)| ty)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn splits_lines_keeping_newlines_inside_strings() {
        let buf =
            b("cpu value=1 1\n\n# comment \"\n  mem,host=a s=\"line1\nline2 x\" 2\ndisk v=1i 3");
        let lines = split_lines(&buf);
        let got: Vec<&[u8]> = lines.iter().map(|l| &l[..]).collect();
        assert_eq!(
            got,
            vec![
                &b"cpu value=1 1"[..],
                &b"mem,host=a s=\"line1\nline2 x\" 2"[..],
                &b"disk v=1i 3"[..]
            ]
        );
    }

    #[test]
    fn escaped_quote_and_backslash_in_strings() {
        let buf = b("a s=\"x\\\" y\\\\\" 5\nb v=1 6\n");
        let lines = split_lines(&buf);
        assert_eq!(lines.len(), 2);
        assert_eq!(timestamp(&lines[0]), Some(&b"5"[..]));
        assert_eq!(timestamp(&lines[1]), Some(&b"6"[..]));
    }

    #[test]
    fn finds_timestamp_after_string_with_spaces() {
        let line = b"cpu,host=a\\ b msg=\"hello world 123\",v=1i 1717236000";
        assert_eq!(timestamp(line), Some(&b"1717236000"[..]));
        assert_eq!(timestamp(b"cpu msg=\"a b c\""), None);
        assert_eq!(
            timestamp(b"cpu    value=1.0     1257894000   "),
            Some(&b"1257894000"[..])
        );
    }

    #[test]
    fn rewrites_minutes_and_hours_to_ns() {
        let line = b("cpu,host=a msg=\"up 5 min\",v=1i 28620600");
        let got = timestamp_to_ns(&line, 60_000_000_000).unwrap();
        assert_eq!(
            &got[..],
            b"cpu,host=a msg=\"up 5 min\",v=1i 1717236000000000000"
        );
        let got = timestamp_to_ns(&b("cpu v=1 477010"), 3_600_000_000_000).unwrap();
        assert_eq!(&got[..], b"cpu v=1 1717236000000000000");
        let untouched = b("cpu msg=\"a 1\"");
        assert_eq!(timestamp_to_ns(&untouched, 60).unwrap(), untouched);
        assert_eq!(
            timestamp_to_ns(&b("cpu v=1 9223372036854775"), 3_600_000_000_000),
            Err(BadTimestamp)
        );
    }

    #[test]
    fn reads_measurement_and_field_types() {
        let line = b"my\\ cpu,host=a value=1i,s=\"x,y=\\\"z\",f=1.5,b=true,u=3u 1";
        assert_eq!(measurement(line), b"my cpu");
        assert_eq!(field_type(line, b"value"), Some(FieldType::Integer));
        assert_eq!(field_type(line, b"s"), Some(FieldType::String));
        assert_eq!(field_type(line, b"f"), Some(FieldType::Float));
        assert_eq!(field_type(line, b"b"), Some(FieldType::Boolean));
        assert_eq!(field_type(line, b"u"), Some(FieldType::Unsigned));
        assert_eq!(field_type(line, b"nope"), None);
    }
}
