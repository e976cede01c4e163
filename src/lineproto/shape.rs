//! What the write verdict needs from a line, recorded while it is parsed: the field types of a
//! plain fields section packed in a `u64`, and matching its keys against a known key list.
//!
//! Owns: `FieldShape` and `Line::field_shape`/`Line::has_field_keys`/`Line::has_reserved_tag_key`.
//! Every answer here agrees with the walks (`Line::field_types`, `Line::tags`); when it cannot be
//! sure it says so (`None`, `false`), and the caller walks. Does not own: what the verdict does
//! with them (`ingest`).

use super::swar::ByteSet;
use super::{FieldType, Line};

/// The types of a line's fields, 3 bits each (never 0; the last field in the lowest bits), for up
/// to [`FieldShape::MAX`] fields. Equal shapes mean the same number of fields with the same types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FieldShape(u64);

impl FieldShape {
    /// Most fields a shape describes.
    pub const MAX: u32 = 21;
    const BITS: u32 = 3;

    /// `packed` with one more field of type `code` (see [`Self::code`]).
    #[inline(always)]
    pub(crate) const fn push(packed: u64, code: u64) -> u64 {
        (packed << Self::BITS) | code
    }

    #[inline(always)]
    pub(crate) const fn code(ty: FieldType) -> u64 {
        match ty {
            FieldType::Float => 1,
            FieldType::Integer => 2,
            FieldType::Unsigned => 3,
            FieldType::String => 4,
            FieldType::Boolean => 5,
        }
    }

    /// The shape of these types, `None` when there are none or more than [`Self::MAX`].
    pub fn from_types(types: impl IntoIterator<Item = FieldType>) -> Option<Self> {
        let mut packed = 0u64;
        for (n, ty) in (0..).zip(types) {
            if n == Self::MAX {
                return None;
            }
            packed = Self::push(packed, Self::code(ty));
        }
        (packed != 0).then_some(Self(packed))
    }
}

const COMMA: ByteSet<1> = ByteSet::new(*b",");

impl Line<'_> {
    /// The field types, when the fields section is one the fast scanner accepted (plain keys,
    /// no escapes) and has at most [`FieldShape::MAX`] fields; `None` otherwise.
    #[inline]
    pub fn field_shape(&self) -> Option<FieldShape> {
        (self.shape != 0).then_some(FieldShape(self.shape))
    }

    /// Whether a tag key is `time`, `_measurement` or `_field`, as written (escapes never
    /// produce these names).
    #[inline]
    pub fn has_reserved_tag_key(&self) -> bool {
        self.reserved_tag
    }

    /// Whether the field keys are exactly `keys` (escaped, in written order), answered without
    /// walking the fields. Only for lines with a [`Line::field_shape`]: `false` for the others,
    /// whatever their keys.
    pub fn has_field_keys<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) -> bool {
        if self.shape == 0 {
            return false;
        }
        // A section the fast scanner accepted: `key=value` pairs joined by `,`; keys hold none
        // of `=,"\ `; a value is a number or boolean (no `,`) or `"..."` with no `"` or `\`
        // inside.
        let s = self.fields_raw();
        let mut pos = 0;
        for key in keys {
            let Some(rest) = s.get(pos..) else {
                return false;
            };
            if !is_key_of(rest, key) {
                return false;
            }
            let v = pos + key.len() + 1;
            let end = match s.get(v) {
                Some(b'"') => match memchr::memchr(b'"', &s[v + 1..]) {
                    Some(q) => v + 1 + q + 1,
                    None => return false,
                },
                Some(_) => COMMA.find(s, v).unwrap_or(s.len()),
                None => return false,
            };
            pos = end + 1;
        }
        // Every key matched and the last value ended the section.
        pos == s.len() + 1
    }
}

/// `rest` starts with `key` followed by `=`: `memcmp` without the call, for short keys.
#[inline(always)]
fn is_key_of(rest: &[u8], key: &[u8]) -> bool {
    let n = key.len();
    if rest.get(n) != Some(&b'=') {
        return false;
    }
    let word = |s: &[u8], i: usize| {
        s.get(i..i + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map_or(0, u64::from_le_bytes)
    };
    if n < 8 {
        return rest[..n] == *key;
    }
    let mut i = 0;
    while i + 8 < n {
        if word(rest, i) != word(key, i) {
            return false;
        }
        i += 8;
    }
    // The last eight bytes, overlapping the words already compared.
    word(rest, n - 8) == word(key, n - 8)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::{ParseOptions, parse_line};
    use super::FieldShape;
    use crate::model::Precision;
    use proptest::prelude::*;

    const OPTS: ParseOptions = ParseOptions {
        precision: Precision::Nanoseconds,
        allow_unsigned: true,
    };

    const TAGS: &[&str] = &[
        ",host=a",
        ",time=1",
        ",_field=f",
        ",_measurement=m",
        ",times=1",
        ",_fiel=d",
        ",t\\ ime=1",
        ",time\\ =1",
        ",zz=time",
        ",a=b\\,time=1",
        ",b=1",
    ];
    const KEYS: &[&str] = &[
        "a",
        "ab",
        "b",
        "time",
        "c\\ d",
        "e\\=f",
        "\"q",
        "usage_idle",
        "x",
    ];
    const VALUES: &[&str] = &[
        "1",
        "-2.5",
        "3i",
        "4u",
        "t",
        "FALSE",
        "\"s\"",
        "\"s, t=u\"",
        "\"a\\\"b\"",
        "1e3",
        "\"\"",
    ];

    fn line_strategy() -> impl Strategy<Value = String> {
        let tags = proptest::collection::vec(proptest::sample::select(TAGS), 0..4);
        let field = (
            proptest::sample::select(KEYS),
            proptest::sample::select(VALUES),
        );
        let fields = proptest::collection::vec(field, 1..25);
        (tags, fields, any::<bool>()).prop_map(|(tags, fields, ts)| {
            let fields: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let ts = if ts { " 1717236000000000000" } else { "" };
            format!("cpu{} {}{ts}", tags.concat(), fields.join(","))
        })
    }

    fn keys<'a>(line: &super::Line<'a>) -> Vec<&'a [u8]> {
        line.field_types().map(|(k, _)| k).collect()
    }

    proptest! {
        #[test]
        fn accessors_agree_with_walks(a in line_strategy(), b in line_strategy()) {
            let Ok(la) = parse_line(a.as_bytes(), &OPTS) else { return Ok(()) };
            let reserved = la
                .tags()
                .any(|(k, _)| matches!(k, b"time" | b"_measurement" | b"_field"));
            prop_assert_eq!(la.has_reserved_tag_key(), reserved);
            let types = FieldShape::from_types(la.field_types().map(|(_, ty)| ty));
            if let Some(shape) = la.field_shape() {
                prop_assert_eq!(Some(shape), types);
            }
            prop_assert_eq!(la.has_field_keys(keys(&la)), la.field_shape().is_some());
            // One key longer, shorter or missing: never the same keys.
            let own = keys(&la);
            for i in 0..own.len() {
                let longer = [own[i], b"b"].concat();
                let mut changed = own.clone();
                changed[i] = &longer;
                prop_assert!(!la.has_field_keys(changed.iter().copied()));
                changed[i] = &own[i][..own[i].len() - 1];
                prop_assert!(!la.has_field_keys(changed.iter().copied()));
                changed.remove(i);
                prop_assert!(!la.has_field_keys(changed.iter().copied()));
            }
            if let Ok(lb) = parse_line(b.as_bytes(), &OPTS) {
                let same = la.field_shape().is_some() && keys(&la) == keys(&lb);
                prop_assert_eq!(la.has_field_keys(keys(&lb)), same);
            }
        }
    }

    #[test]
    fn key_compare_is_slice_compare() {
        let text = b"ifHCInBroadcastPkts=1i,a=2";
        for n in 0..22 {
            for key in [
                &text[..n],
                b"ifHCInBroadcastPktz",
                b"ifHCInBroadcastPkt",
                b"a",
            ] {
                let want = text[..].starts_with(key) && text.get(key.len()) == Some(&b'=');
                assert_eq!(super::is_key_of(text, key), want, "{n}");
                let mut other = key.to_vec();
                if let Some(b) = other.get_mut(n / 2) {
                    *b ^= 1;
                    assert!(!super::is_key_of(text, &other));
                }
            }
        }
    }

    #[test]
    fn telegraf_lines_have_a_shape() {
        let line = b"cpu,host=a,time=x a=1i,b=2u,c=3,d=t,e=\"s,=\" 1";
        let l = parse_line(line, &OPTS).unwrap();
        assert!(l.has_reserved_tag_key());
        assert_eq!(
            l.field_shape(),
            FieldShape::from_types(l.field_types().map(|(_, ty)| ty))
        );
        assert!(l.field_shape().is_some());
        assert!(l.has_field_keys([&b"a"[..], b"b", b"c", b"d", b"e"]));
        assert!(!l.has_field_keys([&b"a"[..], b"b", b"c", b"d"]));
        assert!(!l.has_field_keys([&b"a"[..], b"b", b"c", b"d", b"e", b"f"]));
        assert!(!l.has_field_keys([&b"a"[..], b"b", b"c", b"d", b"e\\"]));
        let many: Vec<String> = (0..22).map(|i| format!("f{i}=1")).collect();
        let line = format!("m {}", many.join(","));
        let l = parse_line(line.as_bytes(), &OPTS).unwrap();
        assert_eq!(l.field_shape(), None);
        assert!(!l.has_field_keys(l.field_types().map(|(k, _)| k)));
        assert!(
            !parse_line(b"m,host=a a\\ b=1", &OPTS)
                .unwrap()
                .has_reserved_tag_key()
        );
    }
}
