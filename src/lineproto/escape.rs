//! Unescaping of names, keys and string values, exactly as InfluxDB's Go code does it.
//!
//! Owns: the byte-level unescape rules. A backslash escapes only the characters listed for each
//! element; any other `\x` (including `\\` in names and keys) is kept literally. Does not own:
//! finding where an element ends (see `parse`).

use std::borrow::Cow;

/// One left-to-right pass: `\` followed by a byte in `set` becomes that byte; anything else is
/// copied. Borrows when there is nothing to unescape.
fn unescape_set<'a>(raw: &'a [u8], set: &[u8]) -> Cow<'a, [u8]> {
    let Some(first) = memchr::memchr(b'\\', raw) else {
        return Cow::Borrowed(raw);
    };
    let mut out = Vec::with_capacity(raw.len());
    out.extend_from_slice(&raw[..first]);
    let mut i = first;
    while i < raw.len() {
        let b = raw[i];
        if b == b'\\' && i + 1 < raw.len() && set.contains(&raw[i + 1]) {
            out.push(raw[i + 1]);
            i += 2;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Cow::Owned(out)
}

/// Tag keys, tag values (and, per wire.md §4.2, names): `\,` `\=` `\␠` only; `\\` is NOT an escape
/// (Go `unescapeTag`).
pub fn unescape(raw: &[u8]) -> Cow<'_, [u8]> {
    unescape_set(raw, b", =")
}

/// The measurement name as `models.ParseName` gives it: `\,` and `\␠` only, so `cpu\=load` stays
/// `cpu\=load` (wire.md §4.2). Go's `point.Name()` would also turn `\=` and `\"` into `=` and `"`;
/// InfluxDB is itself inconsistent here, see the module docs.
pub fn unescape_measurement(raw: &[u8]) -> Cow<'_, [u8]> {
    unescape_set(raw, b", ")
}

/// A field key as Go's field iterator gives it (`escape.AppendUnescaped`): `\,` `\=` `\␠` and `\"`.
pub fn unescape_field_key(raw: &[u8]) -> Cow<'_, [u8]> {
    unescape_set(raw, b", =\"")
}

/// A string field value (between the quotes): `\"` and `\\`; any other `\x` is literal
/// (Go `unescapeStringField`).
pub fn unescape_string(raw: &[u8]) -> Cow<'_, [u8]> {
    unescape_set(raw, b"\"\\")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(c: Cow<'_, [u8]>) -> String {
        String::from_utf8_lossy(&c).into_owned()
    }

    #[test]
    fn tag_rules() {
        assert_eq!(s(unescape(br"east\,west")), "east,west");
        assert_eq!(s(unescape(br"east\ west")), "east west");
        assert_eq!(s(unescape(br"eas\t")), r"eas\t");
        assert_eq!(s(unescape(br"reg\\=ion")), r"reg\=ion");
        assert_eq!(s(unescape(br"\\ east")), r"\ east");
        assert_eq!(s(unescape(br"\\,\,\=east")), r"\,,=east");
        assert_eq!(s(unescape(br"trailing\")), r"trailing\");
        assert!(matches!(unescape(b"plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn measurement_and_field_key_rules() {
        assert_eq!(s(unescape_measurement(br"cpu\=load")), r"cpu\=load");
        assert_eq!(s(unescape_measurement(br"cpu\ load\,x")), "cpu load,x");
        assert_eq!(s(unescape_field_key(br#"a\"b\=c"#)), r#"a"b=c"#);
    }

    #[test]
    fn string_rules() {
        assert_eq!(s(unescape_string(br#"foo \" bar"#)), r#"foo " bar"#);
        assert_eq!(s(unescape_string(br"foo\\")), r"foo\");
        assert_eq!(s(unescape_string(br"a\nb")), r"a\nb");
        assert_eq!(
            s(unescape_string(br#"{Hello\"{,}\" World}"#)),
            r#"{Hello"{,}" World}"#
        );
    }
}
