//! The common-case scanner for a fields section: plain keys, plain numbers, booleans and strings
//! without backslashes.
//!
//! Owns: accepting the fields sections Telegraf writes in one pass with few branches per field.
//! It only ever says "valid, and here is where it ends" or "not sure": on anything unusual
//! (an escape, a quote in a key, an exponent, a long literal, any error) it returns `None` and
//! `parse` runs the exact scanner, which gives the verdict and the error text. When it answers,
//! its answer is the exact scanner's (checked with `debug_assert` in debug and fuzz builds).
//! Does not own: the verdict on unusual or invalid sections (see `parse`).

use super::error::MAX_KEY_LENGTH;
use super::number::scan_boolean;
use super::split::skip_blank;
use super::swar::{ByteSet, digits_end};
use super::{FieldShape, FieldType};

/// Bytes that end a plain field key, or make the section not plain.
const KEY_END: ByteSet<5> = ByteSet::new(*b"=, \\\"");

/// A plain section as the fast scanner accepted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plain {
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// No value is a string, so the section has no `"` and no `\` at all.
    pub(crate) no_strings: bool,
    /// The field types, see `FieldShape` (0 when there are more than `FieldShape::MAX` fields).
    pub(crate) shape: u64,
}

/// `scan_fields` for a plain section: the section exactly as the exact scanner would return it,
/// or `None` when the section is not plain (valid or not).
#[inline]
pub(crate) fn scan_fields(
    buf: &[u8],
    key_end: usize,
    key_len: usize,
    allow_unsigned: bool,
) -> Option<Plain> {
    let start = skip_blank(buf, key_end);
    let mut k = start;
    let mut no_strings = true;
    let mut shape = 0u64;
    let mut n = 0u32;
    loop {
        let eq = KEY_END.find(buf, k)?;
        if eq == k || buf[eq] != b'=' || key_len + 4 + (eq - k) > MAX_KEY_LENGTH {
            return None;
        }
        let v = eq + 1;
        let (end, ty) = match *buf.get(v)? {
            b'0'..=b'9' | b'-' | b'.' => number(buf, v, allow_unsigned)?,
            b'"' => {
                let body = v + 1;
                let q = body + memchr::memchr2(b'"', b'\\', buf.get(body..)?)?;
                if buf[q] != b'"' {
                    return None;
                }
                no_strings = false;
                (q + 1, FieldType::String)
            }
            b't' | b'f' | b'T' | b'F' => (scan_boolean(buf, v).ok()?, FieldType::Boolean),
            _ => return None,
        };
        // Bits shifted out are lost only past `FieldShape::MAX` fields, when the shape is 0.
        shape = FieldShape::push(shape, FieldShape::code(ty));
        n += 1;
        match buf.get(end) {
            None | Some(b' ') => {
                return Some(Plain {
                    start,
                    end,
                    no_strings,
                    shape: if n <= FieldShape::MAX { shape } else { 0 },
                });
            }
            Some(b',') => k = end + 1,
            Some(_) => return None,
        }
    }
}

/// A plain number starting at `v`: `-?D+i`, `D+u`, `-?D*(.D*)?` with at least one digit, short
/// enough that Go does not range-check it. Returns its end and type; the caller checks what
/// follows.
#[inline(always)]
fn number(buf: &[u8], v: usize, allow_unsigned: bool) -> Option<(usize, FieldType)> {
    let neg = buf[v] == b'-';
    let d0 = v + usize::from(neg);
    let mut i = digits_end(buf, d0);
    let mut digits = i - d0;
    match buf.get(i) {
        // Literals of 19 (`i`) or 20 (`u`) characters and more are range-checked by Go.
        Some(b'i') if digits > 0 && i - v < 19 => return Some((i + 1, FieldType::Integer)),
        Some(b'u') if digits > 0 && !neg && allow_unsigned && i - v < 20 => {
            return Some((i + 1, FieldType::Unsigned));
        }
        Some(b'.') => {
            let f = digits_end(buf, i + 1);
            digits += f - (i + 1);
            i = f;
        }
        _ => {}
    }
    // A float without exponent; from 25 characters on Go parses it to check the range.
    (digits > 0 && i - v < 25).then_some((i, FieldType::Float))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::{FieldIter, ParseOptions, parse};
    use crate::model::Precision;
    use proptest::prelude::*;

    const TOKENS: &[&str] = &[
        "k",
        "key_1",
        "=",
        "=",
        ",",
        ",",
        " ",
        "\"",
        "\\",
        "0",
        "12",
        "-",
        ".",
        "i",
        "u",
        "e",
        "E",
        "+",
        "t",
        "true",
        "F",
        "x",
        "\t",
        "N",
        "\n",
        "\"s p,a=c\"",
        "=1i",
        "=2.5",
        "=-3",
        "1234567890123456789",
        "99999999999999999999",
        "123456789012345678901234",
    ];

    fn exact(line: &[u8], key_end: usize, allow_unsigned: bool) -> Option<(usize, usize)> {
        let opts = ParseOptions {
            precision: Precision::Nanoseconds,
            allow_unsigned,
        };
        parse::scan_fields(line, key_end, key_end, &opts).ok()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]
        #[test]
        fn agrees_with_exact_scanner(
            tokens in proptest::collection::vec(proptest::sample::select(TOKENS), 0..16),
            allow_unsigned: bool,
        ) {
            let line = format!("m,t=v {}", tokens.concat());
            if let Some(super::Plain { start: s, end: e, no_strings, .. }) = super::scan_fields(line.as_bytes(), 5, 5, allow_unsigned) {
                prop_assert_eq!(Some((s, e)), exact(line.as_bytes(), 5, allow_unsigned));
                let section = &line.as_bytes()[s..e];
                prop_assert_eq!(no_strings, !section.contains(&b'"'));
                if no_strings {
                    let walk = |plain| {
                        let mut it = FieldIter::new(section, plain);
                        std::iter::from_fn(move || it.next_raw()).collect::<Vec<_>>()
                    };
                    prop_assert_eq!(walk(true), walk(false));
                }
            }
        }
    }

    #[test]
    fn takes_telegraf_shapes() {
        for fields in [
            "a=1i,b=-2i,c=3u,d=4,e=-5.5,f=.5,g=6.,h=true,i=F,j=\"x, y=z\" 1717236000000000000",
            "usage_idle=99.1,usage_user=0.4",
            "value=\"\"",
        ] {
            let line = format!("cpu,host=a {fields}");
            let got = super::scan_fields(line.as_bytes(), 10, 10, true);
            assert_eq!(
                got.map(|p| (p.start, p.end)),
                exact(line.as_bytes(), 10, true)
            );
            assert!(got.is_some(), "{line}");
        }
        for fields in [
            "a=1e5",
            "a=1u",
            "a=\"x\\\"\"",
            "a=1i,",
            "a=1i2",
            "a\\ b=1",
            "a=-",
            "a=1.2.3",
        ] {
            let line = format!("cpu,host=a {fields}");
            assert_eq!(super::scan_fields(line.as_bytes(), 10, 10, false), None);
        }
    }
}
