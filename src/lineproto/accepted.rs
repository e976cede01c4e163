//! Reading back a line this server accepted before (the WAL holds only accepted lines): the
//! sections, tags and timestamp that `parse_line` finds, with less work.
//!
//! Owns: `parse_accepted`. It skips what only refuses lines: the number checks of the fields
//! section, whose end it finds with one search instead of a scan of every value. A fields
//! section with a `"` or a `\` goes to `parse_line` whole. Its answer for a line `parse_line`
//! refuses is unspecified (never a panic). Does not own: the verdict on a line (`parse`).

use super::parse::{scan_key, scan_time};
use super::split::skip_blank;
use super::{Line, LineError, ParseOptions};

/// `parse_line(line, opts)` for a line that `parse_line` accepted before (with these options),
/// without the field value checks: the same measurement, tags, fields and timestamp. The `Line`
/// has no `field_shape` (there is no verdict to give).
#[inline]
pub fn parse_accepted<'a>(buf: &'a [u8], opts: &ParseOptions) -> Result<Line<'a>, LineError> {
    let start = skip_blank(buf, 0);
    let (meas_end, key_end, reserved_tag, sorted_tags) = scan_key(buf, start)?;
    let fields_start = skip_blank(buf, key_end);
    // In an accepted section without strings or escapes, the first space ends it.
    let rest = &buf[fields_start..];
    let fields_end = match memchr::memchr3(b' ', b'"', b'\\', rest) {
        None => buf.len(),
        Some(o) if rest[o] == b' ' => fields_start + o,
        Some(_) => return super::parse::parse_line(buf, opts),
    };
    let timestamp = scan_time(buf, fields_end, opts)?;
    Ok(Line {
        raw: buf,
        start,
        meas_end,
        key_end,
        fields_start,
        fields_end,
        plain_fields: true,
        shape: 0,
        reserved_tag,
        sorted_tags,
        timestamp,
    })
}
