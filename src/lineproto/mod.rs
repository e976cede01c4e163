//! Line protocol: splitting a write body into lines and validating each line, zero-copy.
//!
//! Owns: the verdict on a line and the borrowed view of its parts (`Line`), with InfluxDB's
//! reason texts. The reference is InfluxDB 2.x's Go parser (`models/points.go`), not the
//! `influxdb-line-protocol` crate: every scanner here mirrors a Go scanner branch for branch
//! (see wire.md §4). Does not own: reserved tag keys (`time`, `_field`, `_measurement`), a field
//! named `time`, field type conflicts or precision defaults for lines without a timestamp; the
//! ingest layer decides those per API, using `Line::tags`/`Line::fields`.
//!
//! Escaping is InfluxDB's, including its quirks: a backslash escapes only `,` `=` and space in
//! names and keys, `\\` is not an escape, and a character counts as escaped when the byte before
//! it is a backslash (so `a\\ b` is `a\\` + escaped space). Go is not even consistent about the
//! measurement: `models.ParseName` unescapes only `\,` and `\␠` ([`unescape_measurement`]) while
//! `point.Name()` also unescapes `\=` and `\"`.
//!
//! Speed: `fast` accepts the plain fields sections Telegraf writes in one pass and hands every
//! other section to the exact scanner in `parse`; `swar` searches eight bytes at a time. A `Line`
//! remembers a plain fields section so that `fields()`/`field_types()` walk it cheaply, and (`shape`)
//! what the write verdict asks of every line: field types, reserved tag keys, a key-list match.
//!
//! Known divergences from Go (all pathological): a body whose very last byte is a backslash (Go
//! slices one byte past the body); field values that Go's parser accepts but its field iterator
//! cannot decode are refused here (`UndecodableFieldValue`) instead of failing later in storage.

mod accepted;
mod error;
mod escape;
mod fast;
mod number;
mod numeric;
mod parse;
mod shape;
mod split;
mod swar;
#[cfg(test)]
mod tests;

use std::fmt;

pub use accepted::parse_accepted;
pub use error::{LineError, LineErrorKind, MAX_KEY_LENGTH, MAX_NANO_TIME, MIN_NANO_TIME};
pub use escape::{unescape, unescape_field_key, unescape_measurement, unescape_string};
pub use shape::FieldShape;
pub use split::Lines;

/// How to read a request's lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Timestamp unit; the range check is done in ns after multiplying.
    pub precision: crate::model::Precision,
    /// `123u` valid (InfluxDB 2.x) or "invalid number" (1.x).
    pub allow_unsigned: bool,
}

/// Splits a request body into lines the way InfluxDB's `scanLine` does: on `\n` not inside a
/// quoted string field value; skips leading spaces/tabs/NUL; skips empty/whitespace-only lines
/// and lines whose first non-blank char is `#`. Yields each line without its `\n` and with
/// leading blanks removed.
#[inline]
pub fn split_lines(body: &[u8]) -> Lines<'_> {
    Lines::new(body)
}

/// Parses and validates one line (as yielded by [`split_lines`]).
#[inline]
pub fn parse_line<'a>(line: &'a [u8], opts: &ParseOptions) -> Result<Line<'a>, LineError> {
    parse::parse_line(line, opts)
}

/// A valid line, borrowed from the body. All offsets index `raw`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line<'a> {
    raw: &'a [u8],
    start: usize,
    meas_end: usize,
    key_end: usize,
    fields_start: usize,
    fields_end: usize,
    /// The fields section has no `"` and no `\\`: every `=` ends a key, every `,` a value.
    plain_fields: bool,
    /// Packed `FieldShape` of a section the fast scanner accepted, 0 when unknown.
    shape: u64,
    /// A tag key is `time`, `_measurement` or `_field`.
    reserved_tag: bool,
    /// The tag keys, as written, are in sorted order.
    sorted_tags: bool,
    timestamp: Option<i64>,
}

impl<'a> Line<'a> {
    /// The whole line as given.
    #[inline]
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The measurement, escaped, as written.
    #[inline]
    pub fn measurement(&self) -> &'a [u8] {
        &self.raw[self.start..self.meas_end]
    }

    /// Measurement and tags as written (up to the first unescaped space).
    #[inline]
    pub fn series_key(&self) -> &'a [u8] {
        &self.raw[self.start..self.key_end]
    }

    /// Whether the tags are written sorted by key (escaped bytes), as Telegraf writes them: then
    /// the series key as written is the canonical one.
    #[inline]
    pub fn tags_sorted(&self) -> bool {
        self.sorted_tags
    }

    /// Tags as escaped `(key, value)` slices, in written order.
    #[inline]
    pub fn tags(&self) -> Tags<'a> {
        let series = self.series_key();
        Tags(TagIter::new(series, self.meas_end - self.start + 1))
    }

    /// The fields section as written.
    #[inline]
    pub fn fields_raw(&self) -> &'a [u8] {
        &self.raw[self.fields_start..self.fields_end]
    }

    /// Fields as `(escaped key, value)`, in written order, as Go's field iterator yields them.
    #[inline]
    pub fn fields(&self) -> Fields<'a> {
        Fields(FieldIter::new(self.fields_raw(), self.plain_fields))
    }

    /// Fields as `(escaped key, type)`, without decoding the values: the type of a value of an
    /// accepted line follows from its first and last bytes.
    #[inline]
    pub fn field_types(&self) -> FieldTypes<'a> {
        FieldTypes(FieldIter::new(self.fields_raw(), self.plain_fields))
    }

    /// The timestamp in the request precision, as written.
    #[inline]
    pub fn timestamp(&self) -> Option<i64> {
        self.timestamp
    }
}

/// Iterator over a line's tags: `(escaped key, escaped value)`.
#[derive(Debug, Clone)]
pub struct Tags<'a>(TagIter<'a>);

impl<'a> Iterator for Tags<'a> {
    type Item = (&'a [u8], &'a [u8]);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct TagIter<'a> {
    series: &'a [u8],
    pos: usize,
}

impl<'a> TagIter<'a> {
    /// `pos` is the first byte of the first tag key (past the end when there are no tags).
    pub(crate) fn new(series: &'a [u8], pos: usize) -> Self {
        Self { series, pos }
    }
}

/// First `p >= from` (`from >= 1`) with `buf[p] == c` and `buf[p - 1] != '\\'`, else
/// `buf.len()`.
#[inline(always)]
fn find_unescaped(buf: &[u8], from: usize, c: u8) -> usize {
    swar::ByteSet::new([c])
        .find_unescaped(buf, from)
        .unwrap_or(buf.len())
}

impl<'a> Iterator for TagIter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let s = self.series;
        if self.pos >= s.len() {
            return None;
        }
        let eq = find_unescaped(s, self.pos + 1, b'=');
        let vend = find_unescaped(s, (eq + 2).min(s.len()), b',');
        let item = (&s[self.pos..eq], &s[(eq + 1).min(vend)..vend]);
        self.pos = vend + 1;
        Some(item)
    }
}

/// A decoded field value. Strings are the escaped bytes between the quotes
/// (see [`unescape_string`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue<'a> {
    Float(f64),
    Integer(i64),
    Unsigned(u64),
    Boolean(bool),
    String(&'a [u8]),
}

impl FieldValue<'_> {
    pub fn field_type(&self) -> FieldType {
        match self {
            Self::Float(_) => FieldType::Float,
            Self::Integer(_) => FieldType::Integer,
            Self::Unsigned(_) => FieldType::Unsigned,
            Self::Boolean(_) => FieldType::Boolean,
            Self::String(_) => FieldType::String,
        }
    }
}

/// A field's type, displayed with InfluxDB's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldType {
    Float,
    Integer,
    Unsigned,
    String,
    Boolean,
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Float => "float",
            Self::Integer => "integer",
            Self::Unsigned => "unsigned",
            Self::String => "string",
            Self::Boolean => "boolean",
        })
    }
}

/// Decodes a raw field value the way Go's field iterator (`point.Next` + `*Value`) does.
/// The error names the type Go would have tried.
#[inline]
pub(crate) fn decode_value(v: &[u8]) -> Result<FieldValue<'_>, &'static str> {
    let Some((&c, _)) = v.split_first() else {
        return Err("non-empty");
    };
    if c == b'"' {
        return match v.len() {
            0 | 1 => Err("string"),
            n => Ok(FieldValue::String(&v[1..n - 1])),
        };
    }
    if b"0123456789-.nNiIu".contains(&c) {
        let n = v.len();
        return match v[n - 1] {
            b'i' => number::parse_i64(&v[..n - 1])
                .map(FieldValue::Integer)
                .ok_or("integer"),
            b'u' => number::parse_u64(&v[..n - 1])
                .map(FieldValue::Unsigned)
                .ok_or("unsigned"),
            _ => number::parse_f64(v).map(FieldValue::Float).ok_or("float"),
        };
    }
    number::parse_bool(v)
        .map(FieldValue::Boolean)
        .ok_or("boolean")
}

/// Iterator over a line's fields: `(escaped key, value)`.
#[derive(Debug, Clone)]
pub struct Fields<'a>(FieldIter<'a>);

impl<'a> Iterator for Fields<'a> {
    type Item = (&'a [u8], FieldValue<'a>);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let (k, v) = self.0.next_raw()?.ok()?;
        let decoded = decode_value(v);
        // parse_line has checked every value of a line it accepted.
        debug_assert!(decoded.is_ok(), "undecodable value in an accepted line");
        Some((k, decoded.ok()?))
    }
}

/// Iterator over a line's fields as `(escaped key, type)`; see [`Line::field_types`].
#[derive(Debug, Clone)]
pub struct FieldTypes<'a>(FieldIter<'a>);

impl<'a> Iterator for FieldTypes<'a> {
    type Item = (&'a [u8], FieldType);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let (k, v) = self.0.next_raw()?.ok()?;
        let ty = match (v.first(), v.last()) {
            (Some(b'"'), _) => FieldType::String,
            (Some(b't' | b'T' | b'f' | b'F'), _) => FieldType::Boolean,
            (_, Some(b'i')) => FieldType::Integer,
            (_, Some(b'u')) => FieldType::Unsigned,
            _ => FieldType::Float,
        };
        Some((k, ty))
    }
}

/// One step of the walk: `(key, raw value)`, or `Err(key)` where Go reports "invalid value".
pub(crate) type RawField<'a> = Result<(&'a [u8], &'a [u8]), &'a [u8]>;

/// Go's 2.x `walkFields` over a fields section.
#[derive(Debug, Clone)]
pub(crate) struct FieldIter<'a> {
    buf: &'a [u8],
    pos: usize,
    /// `buf` is a fields section of an accepted line without `"` or `\\`: keys and values
    /// are non-empty and hold no `=`, `,`, `"` or `\\`.
    plain: bool,
}

impl<'a> FieldIter<'a> {
    pub(crate) fn new(buf: &'a [u8], plain: bool) -> Self {
        Self { buf, pos: 0, plain }
    }

    /// Next `(key, raw value)`, or `Err(key)` where Go's walk reports "invalid value".
    #[inline]
    pub(crate) fn next_raw(&mut self) -> Option<RawField<'a>> {
        let rest = self.buf.get(self.pos..)?;
        if rest.is_empty() {
            return None;
        }
        if self.plain {
            // What the walk below finds in a plain section, with single-byte searches.
            let eq = EQUALS.find(rest, 0).unwrap_or(rest.len());
            let vend = COMMA.find(rest, eq + 1).unwrap_or(rest.len());
            self.pos += vend + 1;
            return Some(Ok((&rest[..eq], &rest[(eq + 1).min(vend)..vend])));
        }
        // scanTo(buf, 0, '='): the first '=' at 0 or not after a backslash.
        let eq = if rest[0] == b'=' {
            0
        } else {
            find_unescaped(rest, 1, b'=')
        };
        let key = &rest[..eq];
        if eq + 2 > rest.len() {
            self.pos = self.buf.len();
            return Some(Err(key));
        }
        let vstart = eq + 1;
        let vlen = scan_field_value(&rest[vstart..]);
        let value = &rest[vstart..vstart + vlen];
        // Skip the value and the comma after it.
        self.pos += vstart + vlen + 1;
        Some(Ok((key, value)))
    }
}

const EQUALS: swar::ByteSet<1> = swar::ByteSet::new(*b"=");
const COMMA: swar::ByteSet<1> = swar::ByteSet::new(*b",");
const FIELD_VALUE_SPECIAL: swar::ByteSet<3> = swar::ByteSet::new(*b",\"\\");

/// Go's `scanFieldValue`: up to the first `,` outside quotes (`\"` and `\\` skipped).
#[inline(always)]
fn scan_field_value(buf: &[u8]) -> usize {
    let mut i = 0;
    let mut quoted = false;
    while i < buf.len() {
        let Some(p) = FIELD_VALUE_SPECIAL.find(buf, i) else {
            return buf.len();
        };
        i = p;
        match buf[i] {
            b'\\' if i + 1 < buf.len() && matches!(buf[i + 1], b'"' | b'\\') => i += 2,
            b'"' => {
                quoted = !quoted;
                i += 1;
            }
            b',' if !quoted => return i,
            _ => i += 1,
        }
    }
    buf.len()
}
