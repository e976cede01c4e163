//! Verdicts of whole requests, per API, as InfluxDB gives them (wire.md §3.2, §3.5, §4.4).

#![allow(clippy::unwrap_used)]

use super::*;

const NOW: i64 = 1_717_236_000_123_456_789;

fn judge(api: Api, body: &str) -> Verdict {
    judge_p(api, Precision::Nanoseconds, body)
}

fn judge_p(api: Api, precision: Precision, body: &str) -> Verdict {
    ingest(
        Bytes::copy_from_slice(body.as_bytes()),
        &IngestOptions {
            api,
            precision,
            allow_unsigned: api == Api::V2,
            now_ns: NOW,
        },
    )
}

fn text(v: &Verdict) -> &str {
    std::str::from_utf8(&v.accepted.lines).unwrap()
}

#[test]
fn valid_stamped_body_is_kept_zero_copy() {
    let body = Bytes::from_static(b"cpu,host=a v=1 1\n# comment\n\ncpu,host=b v=2 2\n");
    let v = ingest(
        body.clone(),
        &IngestOptions {
            api: Api::V2,
            precision: Precision::Nanoseconds,
            allow_unsigned: true,
            now_ns: NOW,
        },
    );
    assert_eq!(v.error, None);
    assert_eq!(v.accepted.points, 2);
    assert_eq!(v.accepted.lines.as_ptr(), body.as_ptr(), "no copy");
}

#[test]
fn missing_trailing_newline_is_added() {
    let v = judge(Api::V2, "cpu v=1 1\ncpu v=2 2");
    assert_eq!(text(&v), "cpu v=1 1\ncpu v=2 2\n");
}

#[test]
fn lines_without_timestamp_get_reception_time_in_request_precision() {
    let v = judge(Api::V2, "cpu v=1 5\ncpu v=2\n  mem v=3\n");
    assert_eq!(v.error, None);
    assert_eq!(
        text(&v),
        format!("cpu v=1 5\ncpu v=2 {NOW}\nmem v=3 {NOW}\n")
    );
    let v = judge_p(Api::V1, Precision::Seconds, "cpu v=2");
    assert_eq!(text(&v), "cpu v=2 1717236000\n");
}

#[test]
fn v2_one_bad_line_rejects_the_batch() {
    let v = judge(Api::V2, "cpu v=1 1\ncpu\nmem v=2 2\ncpu,host= v=1\n");
    assert_eq!(v.accepted.points, 0);
    assert!(v.accepted.lines.is_empty());
    assert_eq!(
        v.error,
        Some(IngestError::Unparsable {
            message: "unable to parse 'cpu': missing fields\nunable to parse 'cpu,host= v=1': missing tag value".into()
        })
    );
}

#[test]
fn v1_writes_valid_lines_and_answers_partial_write() {
    let v = judge(Api::V1, "cpu v=1 1\ncpu\nmem v=2 2\n");
    assert_eq!(text(&v), "cpu v=1 1\nmem v=2 2\n");
    assert_eq!(v.accepted.points, 2);
    let err = v.error.unwrap();
    assert_eq!(err.error_code(), ErrorCode::Invalid);
    assert_eq!(
        err.to_string(),
        "partial write: unable to parse 'cpu': missing fields dropped=0"
    );
}

#[test]
fn v1_nothing_parsed_is_the_raw_parse_error() {
    let v = judge(Api::V1, "cpu\n");
    assert_eq!(
        v.error,
        Some(IngestError::NothingParsed {
            message: "unable to parse 'cpu': missing fields".into()
        })
    );
}

#[test]
fn type_conflict_in_batch_is_a_partial_write() {
    let body = "cpu v=1i 1000000000\ncpu v=1.5 2000000000\ncpu v=3i 3000000000\n";
    let v = judge(Api::V2, body);
    assert_eq!(text(&v), "cpu v=1i 1000000000\ncpu v=3i 3000000000\n");
    let err = v.error.unwrap();
    assert_eq!(err.error_code(), ErrorCode::UnprocessableEntity);
    assert_eq!(
        err.to_string(),
        "failure writing points to database: partial write: field type conflict: input field \"v\" on measurement \"cpu\" is type float, already exists as type integer dropped=1"
    );
    let v1 = judge(Api::V1, body);
    assert_eq!(v1.error.unwrap().error_code(), ErrorCode::Invalid);
}

#[test]
fn field_named_time_is_dropped() {
    let v = judge(Api::V1, "cpu time=1 1\ncpu v=1 1\n");
    assert_eq!(text(&v), "cpu v=1 1\n");
    assert_eq!(
        v.error.unwrap().to_string(),
        "partial write: invalid field name: input field \"time\" on measurement \"cpu\" is invalid dropped=1"
    );
}

#[test]
fn reserved_tag_keys_per_api() {
    let v = judge(Api::V2, "cpu,time=x v=1 1\n");
    assert_eq!(
        v.error,
        Some(IngestError::Unparsable {
            message: "unable to parse 'cpu,time=x v=1 1': cannot use reserved tag key \"time\""
                .into()
        })
    );
    let v = judge(Api::V2, "cpu,_field=x v=1 1\n");
    assert!(matches!(v.error, Some(IngestError::Unparsable { .. })));
    // 1.x parses the point, then the shard drops it; `_field` is an ordinary tag there.
    let v = judge(Api::V1, "cpu,time=x v=1 1\ncpu,_field=x v=1 1\n");
    assert_eq!(text(&v), "cpu,_field=x v=1 1\n");
    assert_eq!(
        v.error.unwrap().to_string(),
        "partial write: invalid tag key: input tag \"time\" on measurement \"cpu\" is invalid dropped=1"
    );
}

#[test]
fn unsigned_depends_on_the_api() {
    assert_eq!(judge(Api::V2, "cpu v=1u 1\n").error, None);
    assert!(judge(Api::V1, "cpu v=1u 1\n").error.is_some());
}

#[test]
fn empty_and_comment_only_bodies_accept_nothing_without_error() {
    for body in ["", "\n\n", "# only a comment\n   # indented\n"] {
        for api in [Api::V1, Api::V2] {
            let v = judge(api, body);
            assert_eq!(v.error, None, "{body:?}");
            assert_eq!(v.accepted.points, 0);
            assert!(v.accepted.lines.is_empty());
        }
    }
}

#[test]
fn quoted_newline_stays_one_point() {
    let v = judge(Api::V2, "cpu value=\"line1\nline2\" 1000000000\n");
    assert_eq!(v.error, None);
    assert_eq!(v.accepted.points, 1);
}

#[test]
fn error_messages_are_bounded() {
    let body: String = (0..500).map(|_| "cpu\n").collect();
    let v = judge(Api::V2, &body);
    let msg = v.error.unwrap().to_string();
    assert_eq!(msg.matches("unable to parse").count(), MAX_QUOTED_ERRORS);
    assert!(msg.ends_with("... and 400 more unparsable lines"));
}

#[test]
fn conflicts_are_found_whatever_the_remembered_signature() {
    let body = "m a=1i 1\nm a=2i 2\nm b=1.5 3\nm a=2.5 4\nn a=1.5 5\nm a=3i,b=2i 6\n";
    let v = judge(Api::V1, body);
    assert_eq!(text(&v), "m a=1i 1\nm a=2i 2\nm b=1.5 3\nn a=1.5 5\n");
    let msg = v.error.unwrap().to_string();
    assert!(
        msg.contains(
            "input field \"a\" on measurement \"m\" is type float, already exists as type integer"
        ),
        "{msg}"
    );
    assert!(msg.ends_with("dropped=2"), "{msg}");
}

mod shortcuts {
    use super::*;
    use proptest::prelude::*;

    const MEASUREMENTS: &[&str] = &["cpu", "c\\ pu"];
    const TAGS: &[&str] = &[
        "",
        ",host=a",
        ",time=1",
        ",_field=x",
        ",_measurement=y",
        ",a=1,b=2",
    ];
    const KEYS: &[&str] = &["a", "ab", "time", "c\\ d"];
    const VALUES: &[&str] = &["1", "2i", "3u", "\"s\"", "\"x\\\"y\""];
    const JUNK: &[&str] = &["cpu", "cpu,host= v=1", "# note", "", "cpu a=1 x"];

    fn line() -> impl Strategy<Value = String> {
        let field = (
            proptest::sample::select(KEYS),
            proptest::sample::select(VALUES),
        );
        let good = (
            proptest::sample::select(MEASUREMENTS),
            proptest::sample::select(TAGS),
            proptest::collection::vec(field, 1..3),
            any::<bool>(),
        )
            .prop_map(|(m, t, fields, ts)| {
                let f: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{m}{t} {}{}", f.join(","), if ts { " 5" } else { "" })
            });
        prop_oneof![
            12 => good,
            1 => proptest::sample::select(JUNK).prop_map(str::to_owned),
        ]
    }

    proptest! {
        #[test]
        fn verdict_is_the_reference_verdict(
            lines in proptest::collection::vec(line(), 1..30),
            v1: bool,
        ) {
            let body = Bytes::from(lines.join("\n"));
            let api = if v1 { Api::V1 } else { Api::V2 };
            let opts = IngestOptions {
                api,
                precision: Precision::Nanoseconds,
                allow_unsigned: api == Api::V2,
                now_ns: NOW,
            };
            let fast = ingest(body.clone(), &opts);
            let reference = ingest_with(body, &opts, false, None);
            prop_assert_eq!(fast, reference);
        }
    }

    #[test]
    fn a_conflict_after_a_repeated_shape_is_still_found() {
        let v = judge(
            Api::V2,
            "cpu a=1i,b=2 1\ncpu a=3i,b=4 2\ncpu a=5,b=6 3\ncpu,time=1 a=1i,b=2 4\n",
        );
        assert_eq!(v.accepted.points, 0);
        let v = judge(Api::V1, "cpu a=1i,b=2 1\ncpu a=3i,b=4 2\ncpu a=5,b=6 3\n");
        assert_eq!(v.accepted.points, 2);
        assert!(matches!(
            v.error,
            Some(IngestError::Partial { dropped: 1, .. })
        ));
    }
}
