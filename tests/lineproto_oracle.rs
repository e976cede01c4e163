//! Oracle: sluice's line-protocol validator against the `influxdb-line-protocol` crate.
//!
//! InfluxDB's Go parser is the reference; the crate differs from it knowingly. Where it does,
//! the case is excluded below, each with the reason:
//! - `\\` is an escape for the crate (a literal backslash), not for Go; any other backslash use
//!   and a backslash before the end of a key also differ, so mutated lines with `\` are skipped.
//! - Tab, NUL, CR and LF: the crate treats tab/LF as boundaries and refuses NUL in names; Go
//!   skips tab/NUL after the series key and keeps CR in values.
//! - `#` only matters at line start (comments); skipped to keep split semantics out.
//! - Floats `.5`, `1.`, `1.e5` are valid in Go, not in the crate; skipped when a `.` is next to a
//!   non-digit.
//! - Trailing spaces without a timestamp: valid in Go, "cannot parse entire line" in the crate.
//! - Checks the crate does not make: duplicate tags, `=` inside a tag value, timestamp range,
//!   key length, float overflow (`1e400` is +Inf for the crate). Lines we refuse for those
//!   reasons are not compared.
//! - The crate takes an unescaped `,` as part of a tag key or a field key (`a,b=1` is key `a,b`); Go counts
//!   it as a separator ("invalid field format", "missing field key",
//!   "missing tag value"/"missing tag key"): not compared.
//! - Junk after a closing quote (`a="x"y`) is accepted by Go; mutated lines with `"` are skipped.
#![allow(clippy::unwrap_used)]

use influxdb_line_protocol::{FieldValue as CrateValue, parse_lines};
use proptest::prelude::*;
use sluice::lineproto::{
    FieldValue, LineErrorKind, ParseOptions, parse_line, split_lines, unescape, unescape_field_key,
    unescape_measurement, unescape_string,
};
use sluice::model::Precision;

const OPTS: ParseOptions = ParseOptions {
    precision: Precision::Nanoseconds,
    allow_unsigned: true,
};

fn ident(escapes: &'static [&'static str]) -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        8 => "[a-zA-Z0-9_.:/-]{1,3}".prop_map(|s| s),
        1 => proptest::sample::select(escapes).prop_map(str::to_string),
    ];
    // Names never start with an escape-free '#' or '-'... keep the first char plain.
    ("[a-z]", proptest::collection::vec(atom, 0..4)).prop_map(|(h, v)| h + &v.concat())
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|v| format!("{v}i")),
        any::<u64>().prop_map(|v| format!("{v}u")),
        (-1.0e9f64..1.0e9).prop_map(|v| format!("{v}")),
        (1u32..999, 0u32..999, -20i32..20).prop_map(|(a, b, e)| format!("{a}.{b}e{e}")),
        (0u32..99_999).prop_map(|v| format!("-{v}")),
        proptest::sample::select(
            &[
                "t", "T", "true", "True", "TRUE", "f", "F", "false", "False", "FALSE"
            ][..]
        )
        .prop_map(str::to_string),
        "([a-z ,=]|\\\\\"|\\\\\\\\){0,8}".prop_map(|s| format!("\"{s}\"")),
    ]
}

fn line() -> impl Strategy<Value = String> {
    let tags = proptest::collection::vec(
        (ident(&["\\,", "\\=", "\\ "]), ident(&["\\,", "\\=", "\\ "])),
        0..4,
    );
    let fields = proptest::collection::vec((ident(&["\\,", "\\=", "\\ "]), value()), 1..5);
    let ts = proptest::option::of(-1_000_000_000_000_000_000i64..4_000_000_000_000_000_000);
    (ident(&["\\,", "\\ "]), tags, fields, ts, 1usize..3).prop_map(|(m, tags, fields, ts, sp)| {
        let mut s = m;
        // Distinct keys: the crate has no duplicate check.
        for (n, (k, v)) in tags.into_iter().enumerate() {
            s.push_str(&format!(",{k}{n}={v}"));
        }
        s.push_str(&" ".repeat(sp));
        let f: Vec<String> = fields
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        s.push_str(&f.join(","));
        if let Some(ts) = ts {
            s.push_str(&format!(" {ts}"));
        }
        s
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    None,
    Insert(usize, u8),
    Replace(usize, u8),
    Delete(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let byte = proptest::sample::select(&b" ,=\"\\a1.-iuetE+#\t"[..]);
    prop_oneof![
        2 => Just(Mutation::None),
        1 => (any::<usize>(), byte.clone()).prop_map(|(p, b)| Mutation::Insert(p, b)),
        1 => (any::<usize>(), byte).prop_map(|(p, b)| Mutation::Replace(p, b)),
        1 => any::<usize>().prop_map(Mutation::Delete),
    ]
}

fn apply(line: &str, m: &Mutation) -> String {
    let mut b = line.as_bytes().to_vec();
    match *m {
        Mutation::None => {}
        Mutation::Insert(p, c) => b.insert(p % (b.len() + 1), c),
        Mutation::Replace(p, c) => {
            let n = b.len();
            b[p % n] = c;
        }
        Mutation::Delete(p) => {
            let n = b.len();
            b.remove(p % n);
        }
    }
    String::from_utf8(b).unwrap()
}

/// Mutated lines outside the subset where Go and the crate agree (see the module docs).
fn outside_common_subset(s: &str) -> bool {
    let b = s.as_bytes();
    s.contains(['\\', '\t', '\0', '\r', '\n', '#', '"'])
        || s.ends_with([' ', '.'])
        || b.windows(2).any(|w| {
            (w[0] == b'.' && !w[1].is_ascii_digit()) || (w[1] == b'.' && !w[0].is_ascii_digit())
        })
}

fn excluded_error(kind: &LineErrorKind) -> bool {
    matches!(
        kind,
        LineErrorKind::DuplicateTags
            | LineErrorKind::InvalidTagFormat
            | LineErrorKind::TimeOutsideRange
            | LineErrorKind::MaxKeyLength { .. }
            | LineErrorKind::InvalidFloat
            | LineErrorKind::InvalidFieldFormat
            | LineErrorKind::MissingFieldKey
            | LineErrorKind::MissingTagValue
            | LineErrorKind::MissingTagKey
    )
}

type Parsed = (
    String,
    Vec<(String, String)>,
    Vec<(String, String)>,
    Option<i64>,
);

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ours(line: &str) -> Result<Parsed, LineErrorKind> {
    let l = parse_line(line.as_bytes(), &OPTS).map_err(|e| e.kind)?;
    let tags = l
        .tags()
        .map(|(k, v)| (lossy(&unescape(k)), lossy(&unescape(v))))
        .collect();
    let fields = l
        .fields()
        .map(|(k, v)| {
            let v = match v {
                FieldValue::Float(f) => format!("f{}", f.to_bits()),
                FieldValue::Integer(i) => format!("i{i}"),
                FieldValue::Unsigned(u) => format!("u{u}"),
                FieldValue::Boolean(b) => format!("b{b}"),
                FieldValue::String(s) => format!("s{}", lossy(&unescape_string(s))),
            };
            (lossy(&unescape_field_key(k)), v)
        })
        .collect();
    Ok((
        lossy(&unescape_measurement(l.measurement())),
        tags,
        fields,
        l.timestamp(),
    ))
}

fn theirs(line: &str) -> Option<Parsed> {
    let mut it = parse_lines(line);
    let l = it.next()?.ok()?;
    let tags = l
        .series
        .tag_set
        .iter()
        .flatten()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let fields = l
        .field_set
        .iter()
        .map(|(k, v)| {
            let v = match v {
                CrateValue::F64(f) => format!("f{}", f.to_bits()),
                CrateValue::I64(i) => format!("i{i}"),
                CrateValue::U64(u) => format!("u{u}"),
                CrateValue::Boolean(b) => format!("b{b}"),
                CrateValue::String(s) => format!("s{s}"),
            };
            (k.to_string(), v)
        })
        .collect();
    Some((l.series.measurement.to_string(), tags, fields, l.timestamp))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn generated_lines_agree(l in line()) {
        let ours = ours(&l);
        prop_assert!(ours.is_ok(), "we refused {:?}: {:?}", l, ours);
        prop_assert_eq!(ours.ok(), theirs(&l), "line {:?}", l);
    }

    #[test]
    fn mutated_lines_agree_on_common_subset(l in line(), m in mutation()) {
        let s = apply(&l, &m);
        let ours = ours(&s);
        // Whatever the input, split + parse never panics.
        for piece in split_lines(s.as_bytes()) {
            let _ = parse_line(piece, &OPTS);
        }
        let skip = !matches!(m, Mutation::None) && outside_common_subset(&s);
        if !skip && !s.trim_start_matches(' ').is_empty() {
            match ours {
                Err(ref k) if excluded_error(k) => {}
                Err(_) => prop_assert!(theirs(&s).is_none(), "crate accepted {:?}, we said {:?}", s, ours),
                Ok(p) => prop_assert_eq!(Some(p), theirs(&s), "line {:?}", s),
            }
        }
    }
}
