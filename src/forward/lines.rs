//! Just enough line-protocol scanning for the forwarder: splitting a record into lines,
//! finding a line's timestamp, and reading a line's measurement and field types.
//!
//! Owns: quote-aware line splitting (a raw newline inside a string field value does not end a
//! line, as in InfluxDB's `scanLine`), timestamp rewriting to nanoseconds, field-type lookup.
//! Does not own: validation (the `lineproto` module validated every line before the WAL).

use bytes::{Bytes, BytesMut};

/// Splits `buf` into lines (without their `\n`), skipping blank lines and `#` comments.
/// Leading spaces/tabs are trimmed, as InfluxDB does before naming a line in an error.
pub fn split_lines(buf: &Bytes) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let end = line_end(buf, pos);
        let mut start = pos;
        while start < end && matches!(buf[start], b' ' | b'\t' | 0) {
            start += 1;
        }
        if start < end && buf[start] != b'#' {
            out.push(buf.slice(start..end));
        }
        pos = end + 1;
    }
    out
}

/// Where each section of a line ends, found by the same rules InfluxDB's scanner uses.
struct Sections {
    /// Index of the first byte of the field set.
    fields_start: usize,
    /// Index one past the last byte of the field set.
    fields_end: usize,
    /// Index where the line ends (`\n` or the end of the buffer).
    line_end: usize,
}

fn scan(buf: &[u8], from: usize) -> Sections {
    let n = buf.len();
    let mut i;
    // Comment lines end at the next newline, whatever they contain.
    let mut j = from;
    while j < n && matches!(buf[j], b' ' | b'\t' | 0) {
        j += 1;
    }
    if j < n && buf[j] == b'#' {
        let end = buf[j..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(n, |p| j + p);
        return Sections {
            fields_start: end,
            fields_end: end,
            line_end: end,
        };
    }
    i = j;
    // Measurement and tags: a backslash escapes the next byte; an unescaped space ends them.
    while i < n && buf[i] != b'\n' && buf[i] != b' ' {
        i += if buf[i] == b'\\' && i + 1 < n && buf[i + 1] != b'\n' {
            2
        } else {
            1
        };
    }
    while i < n && buf[i] == b' ' {
        i += 1;
    }
    let fields_start = i.min(n);
    // Fields: a string value starts with `"` right after `=` and may hold spaces and newlines.
    let mut quoted = false;
    let mut prev_eq = false;
    while i < n {
        let b = buf[i];
        if quoted {
            if b == b'\\' && i + 1 < n {
                i += 2;
                continue;
            }
            if b == b'"' {
                quoted = false;
            }
            i += 1;
            continue;
        }
        if b == b'\n' || b == b' ' {
            break;
        }
        if b == b'\\' && i + 1 < n && buf[i + 1] != b'\n' {
            i += 2;
            prev_eq = false;
            continue;
        }
        if b == b'"' && prev_eq {
            quoted = true;
        }
        prev_eq = b == b'=';
        i += 1;
    }
    let fields_end = i;
    let line_end = buf[i..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(n, |p| i + p);
    Sections {
        fields_start,
        fields_end,
        line_end,
    }
}

fn line_end(buf: &[u8], from: usize) -> usize {
    scan(buf, from).line_end
}

/// The timestamp token of one line (the token after the field set), if there is one.
#[cfg(test)]
pub fn timestamp(line: &[u8]) -> Option<&[u8]> {
    let s = scan(line, 0);
    let rest = &line[s.fields_end..s.line_end];
    let tok = rest.split(|&b| b == b' ').find(|t| !t.is_empty())?;
    Some(tok)
}

/// Why a timestamp could not be rewritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadTimestamp;

/// Rewrites `line`'s timestamp from units of `nanos_per_unit` nanoseconds to nanoseconds.
/// A line without a timestamp is returned unchanged (the upstream stamps it).
pub fn timestamp_to_ns(line: &Bytes, nanos_per_unit: i64) -> Result<Bytes, BadTimestamp> {
    let s = scan(line, 0);
    let rest = &line[s.fields_end..s.line_end];
    let Some(off) = rest.iter().position(|&b| b != b' ') else {
        return Ok(line.clone());
    };
    let start = s.fields_end + off;
    let len = line[start..s.line_end]
        .iter()
        .position(|&b| b == b' ')
        .unwrap_or(s.line_end - start);
    let tok = std::str::from_utf8(&line[start..start + len]).map_err(|_| BadTimestamp)?;
    let v: i64 = tok.parse().map_err(|_| BadTimestamp)?;
    let ns = v.checked_mul(nanos_per_unit).ok_or(BadTimestamp)?;
    let mut out = BytesMut::with_capacity(line.len() + 12);
    out.extend_from_slice(&line[..start]);
    out.extend_from_slice(ns.to_string().as_bytes());
    out.extend_from_slice(&line[start + len..]);
    Ok(out.freeze())
}

/// The type of a field value, named as InfluxDB names it in a field type conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Float,
    Integer,
    Unsigned,
    String,
    Boolean,
}

impl FieldType {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "float" => Self::Float,
            "integer" => Self::Integer,
            "unsigned" => Self::Unsigned,
            "string" => Self::String,
            "boolean" => Self::Boolean,
            _ => return None,
        })
    }
}

fn unescape(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' && i + 1 < raw.len() && matches!(raw[i + 1], b',' | b' ' | b'=') {
            out.push(raw[i + 1]);
            i += 2;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    out
}

/// The measurement name of `line`, unescaped.
pub fn measurement(line: &[u8]) -> Vec<u8> {
    let mut i = 0;
    while i < line.len() && line[i] != b',' && line[i] != b' ' {
        i += if line[i] == b'\\' && i + 1 < line.len() {
            2
        } else {
            1
        };
    }
    unescape(&line[..i.min(line.len())])
}

/// The type of field `key` in `line`, if the line has that field.
pub fn field_type(line: &[u8], key: &[u8]) -> Option<FieldType> {
    let s = scan(line, 0);
    let fields = &line[s.fields_start..s.fields_end];
    let mut i = 0;
    while i < fields.len() {
        // Key up to an unescaped '='.
        let k0 = i;
        while i < fields.len() && fields[i] != b'=' {
            i += if fields[i] == b'\\' && i + 1 < fields.len() {
                2
            } else {
                1
            };
        }
        let k = unescape(&fields[k0..i.min(fields.len())]);
        i += 1;
        let v0 = i.min(fields.len());
        if fields.get(v0) == Some(&b'"') {
            i = v0 + 1;
            while i < fields.len() && fields[i] != b'"' {
                i += if fields[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
        } else {
            while i < fields.len() && fields[i] != b',' {
                i += 1;
            }
        }
        let v = &fields[v0..i.min(fields.len())];
        if k == key {
            return Some(value_type(v));
        }
        i += 1; // the ','
    }
    None
}

fn value_type(v: &[u8]) -> FieldType {
    match v {
        [b'"', ..] => FieldType::String,
        [.., b'i'] => FieldType::Integer,
        [.., b'u'] => FieldType::Unsigned,
        [b't' | b'T' | b'f' | b'F', ..] => FieldType::Boolean,
        _ => FieldType::Float,
    }
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
