//! The numeric fields of an accepted line as `f64`, for consumers that aggregate them (the
//! downsampler): one pass over a plain fields section, each number decoded from the bytes the
//! pass found, without checking again what `parse` checked.
//!
//! Owns: `Line::numeric_fields`. Its answer is what `Line::fields` yields for the float,
//! integer and unsigned fields, converted with `as f64` (the tests compare the two). Does not
//! own: the verdict on a line (`parse`), number spellings (`number`).

use super::swar::{ByteSet, digits_value};
use super::{FieldValue, Line, number};

const EQUALS: ByteSet<1> = ByteSet::new(*b"=");
const COMMA: ByteSet<1> = ByteSet::new(*b",");

impl<'a> Line<'a> {
    /// The float, integer and unsigned fields as `(escaped key, value as f64)`, in written
    /// order, into `out` (cleared first).
    #[inline]
    pub fn numeric_fields(&self, out: &mut Vec<(&'a [u8], f64)>) {
        out.clear();
        if self.plain_fields {
            plain(self.raw, self.fields_start, self.fields_end, out);
            return;
        }
        for (k, v) in self.fields() {
            out.push(match v {
                FieldValue::Float(f) => (k, f),
                FieldValue::Integer(i) => (k, i as f64),
                FieldValue::Unsigned(u) => (k, u as f64),
                FieldValue::Boolean(_) | FieldValue::String(_) => continue,
            });
        }
    }
}

/// The numeric fields of the section `raw[start..end]` of an accepted line, one without `"`
/// or `\\`: `key=value` pairs joined by `,`, a value `-?D+i`, `D+u`, a float or a boolean.
#[inline]
fn plain<'a>(raw: &'a [u8], start: usize, end: usize, out: &mut Vec<(&'a [u8], f64)>) {
    let section = &raw[..end];
    let mut k = start;
    while k < end {
        let eq = EQUALS.find(section, k).unwrap_or(end);
        let v = eq + 1;
        let vend = COMMA.find(section, v).unwrap_or(end);
        let key = &raw[k..eq];
        k = vend + 1;
        let (Some(&first), Some(&last)) = (raw.get(v), raw.get(vend.wrapping_sub(1))) else {
            return;
        };
        if v >= vend || matches!(first, b't' | b'T' | b'f' | b'F') {
            continue;
        }
        // Where `fields()` could not decode a value it stops; so does this.
        let value = match last {
            b'i' => {
                let neg = first == b'-';
                let d = v + usize::from(neg);
                if (1..=18).contains(&(vend - 1 - d)) {
                    let n = digits_value(raw, d, vend - 1) as i64;
                    (if neg { -n } else { n }) as f64
                } else {
                    match number::parse_i64(&raw[v..vend - 1]) {
                        Some(i) => i as f64,
                        None => return,
                    }
                }
            }
            b'u' if (1..=19).contains(&(vend - 1 - v)) => digits_value(raw, v, vend - 1) as f64,
            b'u' => match number::parse_u64(&raw[v..vend - 1]) {
                Some(u) => u as f64,
                None => return,
            },
            _ => match number::parse_f64(&raw[v..vend]) {
                Some(f) => f,
                None => return,
            },
        };
        out.push((key, value));
    }
}
