//! Fuzz sluice's line-protocol validator: it never panics, every accepted line decodes, and on
//! the subset where InfluxDB's Go semantics and the `influxdb-line-protocol` crate agree (see
//! tests/lineproto_oracle.rs for the documented differences) both give the same verdict.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice::lineproto::{LineErrorKind, ParseOptions, parse_line, split_lines};
use sluice::model::Precision;

const OPTS: ParseOptions = ParseOptions { precision: Precision::Nanoseconds, allow_unsigned: true };

fn comparable(s: &str) -> bool {
    let b = s.as_bytes();
    !s.contains(['\\', '\t', '\0', '\r', '\n', '#', '"'])
        && !s.ends_with([' ', '.'])
        && !b.windows(2).any(|w| {
            (w[0] == b'.' && !w[1].is_ascii_digit()) || (w[1] == b'.' && !w[0].is_ascii_digit())
        })
}

fn excluded(kind: &LineErrorKind) -> bool {
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

fuzz_target!(|data: &[u8]| {
    for line in split_lines(data) {
        let ours = parse_line(line, &OPTS);
        if let Ok(l) = &ours {
            let _ = l.tags().count();
            assert_eq!(l.fields().count(), l.fields().count());
            assert!(l.fields().next().is_some());
        }
        let Ok(s) = std::str::from_utf8(line) else { continue };
        if !comparable(s) || s.starts_with(' ') {
            continue;
        }
        let theirs = influxdb_line_protocol::parse_lines(s).next().map(|r| r.is_ok());
        match ours {
            Ok(_) => assert_eq!(theirs, Some(true), "crate refused {s:?}"),
            Err(e) if excluded(&e.kind) => {}
            Err(e) => assert_ne!(theirs, Some(true), "crate accepted {s:?}, we said {e}"),
        }
    }
});
