//! Whole batches: comments and blank lines, partial writes (a field named `time`, a type
//! conflict inside one batch), bad lines mixed with good ones, line splitting and stamping
//! cross-checked with InfluxDB 1.6.7, and the 2.x-only unsigned lines via VictoriaMetrics.
//! Does not own: the corpus table (`corpus`), the helpers (`super`).

use std::time::Duration;

use super::corpus::{Case, SEC, Verdict, cases};
use super::{Stack, expect_json, json_or_null, plain, read_db, v1_url, v2_url, wait_points};
use crate::support::point::FieldVal;
use crate::support::sluice::{Sluice, SluiceConfig};
use crate::support::victoria::VictoriaMetrics;

/// Several bad lines with good ones in one v2 batch: one 400 naming every bad line (joined
/// with `\n`), nothing written. In one v1 batch: the good lines are written, a 400 partial
/// write names the bad ones, as InfluxDB 1.6.7 does.
#[test]
fn mixed_batches_all_or_nothing_on_v2_partial_on_v1() {
    let Some(st) = Stack::start(&[]) else { return };
    // Lines with quotes or a trailing backslash would swallow the next line: leave them out.
    let bad: Vec<Case> = cases()
        .into_iter()
        .filter(|c| matches!(c.v2, Verdict::Parse(_)) && matches!(c.v1, Verdict::Parse(_)))
        .filter(|c| !c.line.contains('"') && !c.line.ends_with('\\'))
        .collect();
    let mut body = String::from("ok,n=first v=1i 1000000000\n");
    for c in &bad {
        body.push_str(c.line);
        body.push('\n');
    }
    body.push_str("ok,n=last v=2i 2000000000\n");
    for db in ["mixed2", "mixed1", "ref"] {
        st.influx.create_db(db);
    }
    let reasons: Vec<String> = bad
        .iter()
        .map(|c| {
            let Verdict::Parse(r) = c.v2 else {
                unreachable!()
            };
            format!("unable to parse '{}': {r}", c.line)
        })
        .collect();
    let r = plain(
        &v2_url(&st.sluice, "mixed2", &[]),
        Some(super::TOKEN_AUTH),
        body.as_bytes(),
    );
    let want = serde_json::json!({"code": "invalid", "message": reasons.join("\n")});
    expect_json(&r, 400, &want, "v2 mixed batch");

    let r = plain(
        &v1_url(&st.sluice, "mixed1", &[]),
        Some(super::TOKEN_AUTH),
        body.as_bytes(),
    );
    let want =
        serde_json::json!({"error": format!("partial write: {} dropped=0", reasons.join("\n"))});
    expect_json(&r, 400, &want, "v1 mixed batch");
    let reference = st.influx.write("ref", &body);
    assert_eq!(
        (r.status, json_or_null(&r)),
        (reference.status, json_or_null(&reference)),
        "sluice and InfluxDB 1.6.7 disagree on the v1 mixed batch"
    );
    let got = wait_points(&st.influx, "mixed1", None, 2);
    let times: Vec<i64> = got.iter().map(|p| p.time_ns).collect();
    assert_eq!(times, [SEC, 2 * SEC], "v1 keeps the good lines: {got:?}");
    // The v1 points arrived, and the v2 request came before them: nothing of it will come.
    assert!(read_db(&st.influx, "mixed2", None).is_empty());
}

/// Comments, blank lines, an empty body; the semantically refused group: a field named `time`
/// and a field type conflict inside one batch are partial writes (v2 422, v1 400) and the
/// other points of the batch are written.
#[test]
fn batch_level_cases_and_partial_writes() {
    let Some(st) = Stack::start(&[]) else { return };
    let comments = "# comment only\n   # indented comment\ncpu value=1i 1000000000\n\ncpu value=2i 2000000000\n#cpu value=1\n";
    let conflict = "cpu v=1i 1000000000\ncpu v=1.5 2000000000\ncpu w=1 3000000000\n";
    let time_field = "ok v=1i 1000000000\ncpu time=1 2000000000\n";
    let conflict_reason = r#"field type conflict: input field "v" on measurement "cpu" is type float, already exists as type integer"#;
    let time_reason = r#"invalid field name: input field "time" on measurement "cpu" is invalid"#;
    for api in ["v2", "v1"] {
        let url = |db: &str| match api {
            "v2" => v2_url(&st.sluice, db, &[]),
            _ => v1_url(&st.sluice, db, &[]),
        };
        let partial = |reason: &str| match api {
            "v2" => (
                422,
                serde_json::json!({"code": "unprocessable entity",
                    "message": format!("failure writing points to database: partial write: {reason} dropped=1")}),
            ),
            _ => (
                400,
                serde_json::json!({"error": format!("partial write: {reason} dropped=1")}),
            ),
        };
        let [cdb, edb, kdb, tdb] =
            ["comments", "empty", "conflict", "timefield"].map(|n| format!("{n}_{api}"));
        for db in [&cdb, &edb, &kdb, &tdb] {
            st.influx.create_db(db);
        }
        let r = plain(&url(&cdb), Some(super::TOKEN_AUTH), comments.as_bytes());
        assert_eq!(r.status, 204, "{api} comments: {}", r.text());
        let r = plain(&url(&edb), Some(super::TOKEN_AUTH), b"");
        assert_eq!(r.status, 204, "{api} empty body: {}", r.text());
        let r = plain(&url(&kdb), Some(super::TOKEN_AUTH), conflict.as_bytes());
        let (status, body) = partial(conflict_reason);
        expect_json(&r, status, &body, &format!("{api} type conflict"));
        let r = plain(&url(&tdb), Some(super::TOKEN_AUTH), time_field.as_bytes());
        let (status, body) = partial(time_reason);
        expect_json(&r, status, &body, &format!("{api} field named time"));

        let got = wait_points(&st.influx, &cdb, None, 2);
        let vals: Vec<_> = got
            .iter()
            .map(|p| (p.time_ns, p.fields["value"].clone()))
            .collect();
        assert_eq!(vals, [(SEC, FieldVal::Int(1)), (2 * SEC, FieldVal::Int(2))]);
        let got = wait_points(&st.influx, &kdb, None, 2);
        let vals: Vec<_> = got
            .iter()
            .map(|p| (p.time_ns, p.fields.clone().into_iter().collect::<Vec<_>>()))
            .collect();
        assert_eq!(
            vals,
            [
                (SEC, vec![("v".to_owned(), FieldVal::Int(1))]),
                (3 * SEC, vec![("w".to_owned(), FieldVal::Float(1.0))]),
            ],
            "{api}: the conflicting point is dropped, the others are written"
        );
        let got = wait_points(&st.influx, &tdb, None, 1);
        assert_eq!(got.len(), 1, "{api}: {got:?}");
        assert_eq!((got[0].measurement.as_str(), got[0].time_ns), ("ok", SEC));
        assert!(read_db(&st.influx, &edb, None).is_empty());
    }
}

/// 2.x-only lines (`123u`) are accepted on `/api/v2/write` when the upstream speaks v2, and
/// arrive (VictoriaMetrics stores every value as a float); `/write` refuses them as 1.x does.
#[test]
fn unsigned_lines_reach_a_v2_upstream() {
    let Some(vm) = VictoriaMetrics::try_start() else {
        return;
    };
    let cfg = SluiceConfig::new()
        .upstream(&vm.url(), "v2")
        .simple_tenant("acme", super::TOKEN, &["*"])
        .to_toml();
    let sluice = Sluice::start(&cfg);
    let t0 = super::now_ns();
    for (i, line) in ["u1 value=1u", "u2 value=18446744073709551615u"]
        .iter()
        .enumerate()
    {
        let r = plain(
            &v2_url(&sluice, &format!("b{i}"), &[]),
            Some(super::TOKEN_AUTH),
            line.as_bytes(),
        );
        assert_eq!(r.status, 204, "v2 {line}: {}", r.text());
        let r = plain(
            &v1_url(&sluice, &format!("b{i}"), &[]),
            Some(super::TOKEN_AUTH),
            line.as_bytes(),
        );
        let want =
            serde_json::json!({"error": format!("unable to parse '{line}': invalid number")});
        expect_json(&r, 400, &want, &format!("v1 {line}"));
    }
    let t1 = super::now_ns();
    for (name, value) in [
        ("u1_value", 1.0),
        ("u2_value", 18_446_744_073_709_551_615.0),
    ] {
        let got = vm.export_until(
            &format!("{{__name__=\"{name}\"}}"),
            1,
            Duration::from_secs(10),
        );
        assert_eq!(got.len(), 1, "{name}: {got:?}");
        // VictoriaMetrics parses `18446744073709551615` to the float below 2^64: allow it.
        assert!(
            got[0].values.len() == 1 && (got[0].values[0] - value).abs() <= value * 1e-15,
            "{name}: {:?}",
            got[0].values
        );
        let ts_ms = got[0].timestamps[0];
        assert!(
            (t0 / 1_000_000..=t1 / 1_000_000).contains(&ts_ms),
            "{name}: stamped {ts_ms} ms, sent between {t0} and {t1} ns"
        );
    }
}

/// Batches whose line splitting or stamping is subtle, each sent to sluice's `/write` and to
/// InfluxDB 1.6.7 itself: the same answer, and the same points stored (sluice's forwarded
/// copy read back from one database, InfluxDB's own from another).
#[test]
fn tricky_batches_match_influxdb_1x() {
    let Some(st) = Stack::start(&[]) else { return };
    let long_tag = format!("cpu,k={} v=1 1\n", "x".repeat(65_530));
    let bodies: Vec<(&str, String)> = vec![
        (
            "escaped newline after a trailing backslash",
            "a v=1 0\\\nb v=1 1\n".into(),
        ),
        (
            "unbalanced quote swallows the next line",
            "c v=\"x\nd v=1 5\n".into(),
        ),
        (
            "comments, blank and blank-only lines",
            "  # c\n\t\n   \ncpu v=1 1\n\n".into(),
        ),
        ("CRLF", "cpu v=1 1\r\ncpu v=2 2\r\n".into()),
        ("NUL before a line", "\0cpu v=1 1\n".into()),
        (
            "duplicate points, the last wins",
            "cpu,h=a v=1 1\ncpu,h=a v=2 1\n".into(),
        ),
        ("duplicate field key", "cpu v=1,v=2 1\n".into()),
        (
            "escaped space at the end of the measurement",
            "cpu\\ v=1 1\n".into(),
        ),
        (
            "escaped space in a tag value",
            "cpu,a=b\\ v=1,c=d x=1 1\n".into(),
        ),
        (
            "string with escaped backslash then quote",
            "cpu s=\"a\\\\\",t=\"b\" 1\n".into(),
        ),
        ("key longer than 65535 bytes", long_tag),
        (
            "no trailing newline after a good line",
            "cpu v=1 1\ncpu v=2 2".into(),
        ),
    ];
    for (i, (what, body)) in bodies.iter().enumerate() {
        let (ours, theirs) = (format!("t{i:02}"), format!("u{i:02}"));
        st.influx.create_db(&ours);
        st.influx.create_db(&theirs);
        let r = plain(
            &v1_url(&st.sluice, &ours, &[]),
            Some(super::TOKEN_AUTH),
            body.as_bytes(),
        );
        let reference = st.influx.write(&theirs, body);
        assert_eq!(
            (r.status, json_or_null(&r)),
            (reference.status, json_or_null(&reference)),
            "{what}: sluice and InfluxDB 1.6.7 answer differently"
        );
        let want = unstamped(read_db(&st.influx, &theirs, None));
        let got = unstamped(if want.is_empty() {
            std::thread::sleep(Duration::from_millis(200));
            read_db(&st.influx, &ours, None)
        } else {
            wait_points(&st.influx, &ours, None, want.len())
        });
        assert_eq!(got, want, "{what}: stored points differ");
    }
}

/// Points with the times of stamped lines (after 2001-09-09, none of the bodies has such a
/// timestamp) set to 0: each server stamps its own reception time.
fn unstamped(mut points: Vec<crate::support::point::Point>) -> Vec<crate::support::point::Point> {
    for p in &mut points {
        if p.time_ns > 1_000_000_000_000_000_000 {
            p.time_ns = 0;
        }
    }
    points
}
