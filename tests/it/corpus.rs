//! The line-protocol corpus of wire.md §4.4 as one table, each line with InfluxDB's verdict on
//! both write APIs and, for the lines that are written, the point InfluxDB 1.6.7 reads back.
//!
//! Owns: the table (`cases`) and the corpus tests: every case through sluice's `/api/v2/write`
//! and `/write` against a real InfluxDB 1.6.7 upstream (verdicts; valid lines read back from
//! InfluxDB; v1 answers cross-checked with InfluxDB's own answer to the same body), the
//! batch-level cases, the semantically refused group (partial writes), and the 2.x-only
//! unsigned lines through a VictoriaMetrics v2 upstream. Does not own: the helpers (`super`).

use std::time::{Duration, Instant};

use super::{
    Stack, Window, expect_json, json_or_null, plain, point_matches, read_db, v1_url, v2_url,
    wait_points,
};
use crate::support::point::FieldVal;
use crate::support::sluice::{Sluice, SluiceConfig};
use crate::support::victoria::VictoriaMetrics;

/// A field value as the table spells it.
#[derive(Debug, Clone, Copy)]
pub enum F {
    I(i64),
    Fl(f64),
    S(&'static str),
    B(bool),
}

impl F {
    pub fn val(self) -> FieldVal {
        match self {
            F::I(v) => FieldVal::Int(v),
            F::Fl(v) => FieldVal::Float(v),
            F::S(v) => FieldVal::Str(v.to_owned()),
            F::B(v) => FieldVal::Bool(v),
        }
    }
}

/// What InfluxDB answers to one line sent alone.
#[derive(Debug, Clone, Copy)]
pub enum Verdict {
    /// 204 and the point is written.
    Ok,
    /// A parse error with this reason (after `unable to parse '<line>': `).
    Parse(&'static str),
    /// Parsed, then refused by storage: a partial write with this reason, `dropped=1`.
    Dropped(&'static str),
}

/// The point a written line becomes, as InfluxDB 1.6.7 reads it back.
#[derive(Debug, Clone, Copy)]
pub struct Expect {
    pub measurement: &'static str,
    pub tags: &'static [(&'static str, &'static str)],
    pub fields: &'static [(&'static str, F)],
    /// ns; `None`: no timestamp in the line, sluice stamps the reception time.
    pub time: Option<i64>,
}

/// One line of the corpus.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    pub line: &'static str,
    /// The `precision` parameter sent with it (same name on both APIs here).
    pub precision: &'static str,
    pub v2: Verdict,
    pub v1: Verdict,
    pub expect: Option<Expect>,
}

const fn ok(line: &'static str, expect: Expect) -> Case {
    Case {
        line,
        precision: "",
        v2: Verdict::Ok,
        v1: Verdict::Ok,
        expect: Some(expect),
    }
}

const fn bad(line: &'static str, reason: &'static str) -> Case {
    Case {
        line,
        precision: "",
        v2: Verdict::Parse(reason),
        v1: Verdict::Parse(reason),
        expect: None,
    }
}

const fn e(
    measurement: &'static str,
    tags: &'static [(&'static str, &'static str)],
    fields: &'static [(&'static str, F)],
    time: Option<i64>,
) -> Expect {
    Expect {
        measurement,
        tags,
        fields,
        time,
    }
}

const V1: &[(&str, F)] = &[("value", F::Fl(1.0))];
const V1I: &[(&str, F)] = &[("value", F::I(1))];
const EAST: &[(&str, &str)] = &[("region", "east")];
const HOST_REGION: &[(&str, &str)] = &[("host", "serverA"), ("region", "us-west")];
const SEC: i64 = 1_000_000_000;

/// wire.md §4.4, with InfluxDB's verdicts when the upstream is InfluxDB 1.x (so `123u` is
/// refused on both APIs, as 1.x OSS refuses it).
pub fn cases() -> Vec<Case> {
    use F::*;
    vec![
        // ---- valid lines
        ok("cpu value=1", e("cpu", &[], V1, None)),
        ok(
            "cpu,host=serverA,region=us-west value=1i 1000000000",
            e("cpu", HOST_REGION, V1I, Some(SEC)),
        ),
        ok(
            "cpu,region=us-west,host=serverA value=1i 1000000000",
            e("cpu", HOST_REGION, V1I, Some(SEC)),
        ),
        ok(
            "cpu    value=1.0 1257894000000000000",
            e("cpu", &[], V1, Some(1_257_894_000_000_000_000)),
        ),
        ok(
            "cpu value=1.0     1257894000000000000   ",
            e("cpu", &[], V1, Some(1_257_894_000_000_000_000)),
        ),
        ok("\tcpu value=1", e("cpu", &[], V1, None)),
        ok(
            "cpu value=-1.0e-4",
            e("cpu", &[], &[("value", Fl(-1.0e-4))], None),
        ),
        ok("cpu value=.1", e("cpu", &[], &[("value", Fl(0.1))], None)),
        ok("cpu value=1.", e("cpu", &[], V1, None)),
        ok("cpu value=1E4", e("cpu", &[], &[("value", Fl(1e4))], None)),
        ok("cpu value=-1i", e("cpu", &[], &[("value", I(-1))], None)),
        ok(
            "cpu value=9223372036854775807i",
            e("cpu", &[], &[("value", I(i64::MAX))], None),
        ),
        ok(
            "cpu value=-9223372036854775808i",
            e("cpu", &[], &[("value", I(i64::MIN))], None),
        ),
        ok(
            "cpu t=t,T=T,true=true,True=True,TRUE=TRUE,f=f,F=F,false=false,False=False,FALSE=FALSE",
            e(
                "cpu",
                &[],
                &[
                    ("t", B(true)),
                    ("T", B(true)),
                    ("true", B(true)),
                    ("True", B(true)),
                    ("TRUE", B(true)),
                    ("f", B(false)),
                    ("F", B(false)),
                    ("false", B(false)),
                    ("False", B(false)),
                    ("FALSE", B(false)),
                ],
                None,
            ),
        ),
        ok(r"foo\,bar value=1i", e("foo,bar", &[], V1I, None)),
        ok(
            r"cpu\ load,region=east value=1.0",
            e("cpu load", EAST, V1, None),
        ),
        ok(
            "cpu=load,region=east value=1.0",
            e("cpu=load", EAST, V1, None),
        ),
        // wire.md (2.x): measurement `cpu\=load`. InfluxDB 1.6.7 reads it back as `cpu=load`.
        ok(
            r"cpu\=load,region=east value=1.0",
            e("cpu=load", EAST, V1, None),
        ),
        ok(
            r"cpu,region\,zone=east value=1.0",
            e("cpu", &[("region,zone", "east")], V1, None),
        ),
        ok(
            r"cpu,region\ zone=east value=1.0",
            e("cpu", &[("region zone", "east")], V1, None),
        ),
        ok(
            r"cpu,regions=east\,west value=1.0",
            e("cpu", &[("regions", "east,west")], V1, None),
        ),
        ok(
            r"cpu,regions=east\ west value=1.0",
            e("cpu", &[("regions", "east west")], V1, None),
        ),
        ok(
            r"cpu,regions=eas\t value=1.0",
            e("cpu", &[("regions", r"eas\t")], V1, None),
        ),
        ok(
            r"cpu,regions=\\,\,\=east value=1.0",
            e("cpu", &[("regions", r"\,,=east")], V1, None),
        ),
        ok(
            r"cpu,reg\\=ion=east value=1.0",
            e("cpu", &[(r"reg\=ion", "east")], V1, None),
        ),
        ok(
            r"cpu,regions=\\ east value=1.0",
            e("cpu", &[("regions", r"\ east")], V1, None),
        ),
        ok(
            r"cpu=load,equals\=foo=tag\=value value=1i",
            e("cpu=load", &[("equals=foo", "tag=value")], V1I, None),
        ),
        ok(
            r"cpu,\ =east value=1.0",
            e("cpu", &[(" ", "east")], V1, None),
        ),
        ok(
            r#"cpu,"host"="serverA" value=1.0 1000000000"#,
            e("cpu", &[(r#""host""#, r#""serverA""#)], V1, Some(SEC)),
        ),
        ok(
            r#""cpu",host=serverA value=1.0 1000000000"#,
            e(r#""cpu""#, &[("host", "serverA")], V1, Some(SEC)),
        ),
        ok(
            r"cpu value\,ms=1.0",
            e("cpu", &[], &[("value,ms", Fl(1.0))], None),
        ),
        ok(
            r"cpu value\ ms=1.0",
            e("cpu", &[], &[("value ms", Fl(1.0))], None),
        ),
        ok(r"cpu \a=1i", e("cpu", &[], &[(r"\a", I(1))], None)),
        ok(r#"cpu "a=1"#, e("cpu", &[], &[(r#""a"#, Fl(1.0))], None)),
        ok(
            r#"cpu str="foo \" bar""#,
            e("cpu", &[], &[("str", S(r#"foo " bar"#))], None),
        ),
        ok(
            r#"cpu str="foo\\",str2="bar""#,
            e("cpu", &[], &[("str", S(r"foo\")), ("str2", S("bar"))], None),
        ),
        ok(
            r#"cpu str="foo,bar",value=1.0"#,
            e(
                "cpu",
                &[],
                &[("str", S("foo,bar")), ("value", Fl(1.0))],
                None,
            ),
        ),
        ok(
            r#"cpu str="foo=bar",value=1.0"#,
            e(
                "cpu",
                &[],
                &[("str", S("foo=bar")), ("value", Fl(1.0))],
                None,
            ),
        ),
        ok(
            r#"cpu value="{Hello\"{,}\" World}""#,
            e("cpu", &[], &[("value", S(r#"{Hello"{,}" World}"#))], None),
        ),
        ok(
            r#"cpu value="wè""#,
            e("cpu", &[], &[("value", S("wè"))], None),
        ),
        ok(
            "cpu value=\"line1\nline2\" 1000000000",
            e("cpu", &[], &[("value", S("line1\nline2"))], Some(SEC)),
        ),
        ok(
            r#"baz,mytag="a x=1 1441103862125"#,
            e(
                "baz",
                &[("mytag", r#""a"#)],
                &[("x", Fl(1.0))],
                Some(1_441_103_862_125),
            ),
        ),
        ok("cpu value=1 -1", e("cpu", &[], V1, Some(-1))),
        Case {
            precision: "s",
            ..ok(
                "cpu,host=a value=1 1717236000",
                e("cpu", &[("host", "a")], V1, Some(1_717_236_000 * SEC)),
            )
        },
        // ---- invalid lines
        bad("cpu", "missing fields"),
        bad("cpu,", "missing tag key"),
        bad(",cpu value=1", "missing measurement"),
        bad("cpu, value=1", "missing tag key"),
        bad("cpu,,, value=1", "missing tag key"),
        bad("cpu,host=serverA,=us-east value=1i", "missing tag key"),
        bad("cpu,host value=1i", "missing tag value"),
        bad("cpu,host= value=1i", "missing tag value"),
        bad(
            "cpu,host=serverA,region=,zone=us-west value=1i",
            "missing tag value",
        ),
        bad("cpu,host=f=o value=1", "invalid tag format"),
        bad("cpu,host=serverA,host=serverB value=1i", "duplicate tags"),
        bad("cpu,b=2,c=3,b=1 value=1i", "duplicate tags"),
        bad("cpu,host=serverA =123i", "missing field key"),
        bad("cpu,host=serverA value=123i,=456i", "missing field key"),
        bad("cpu,host=serverA value=", "missing field value"),
        bad("cpu,host=serverA value= 1000000000i", "missing field value"),
        bad("cpu,host=serverA value=,value2=1i", "missing field value"),
        bad("cpu,host=server01 value=1i,b", "invalid field format"),
        bad(
            "cpu,host=server01 1434055562000000000i",
            "invalid field format",
        ),
        bad(r#"cpu value="test"#, "unbalanced quotes"),
        bad(r#"cpu value="test\""#, "unbalanced quotes"),
        bad("cpu value=.1a", "invalid number"),
        bad("cpu value=0.-1", "invalid number"),
        bad("cpu value=-", "invalid number"),
        bad("cpu value=1.1.1", "invalid number"),
        bad("cpu value=9ie10", "invalid number"),
        bad("cpu value=9e10i", "invalid number"),
        bad("cpu value=NaN", "invalid number"),
        bad("cpu value=+1", "invalid boolean"),
        bad("cpu value=Inf", "invalid boolean"),
        bad("cpu value=tRUE", "invalid boolean"),
        bad(
            "cpu value=9223372036854775808i",
            "unable to parse integer 9223372036854775808: strconv.ParseInt: parsing \
             \"9223372036854775808\": value out of range",
        ),
        bad("cpu value=-1u", "invalid number"),
        // 2.x accepts these (see `unsigned_lines_reach_a_v2_upstream`); 1.x OSS does not.
        bad("cpu value=1u", "invalid number"),
        bad("cpu value=18446744073709551615u", "invalid number"),
        bad("cpu value=1 1000000000abc", "bad timestamp"),
        bad(r"a v=1 0\", "bad timestamp"),
        bad("cpu value=1 123 456", "point is invalid"),
        bad(
            "cpu value=1 99999999999999999999",
            "strconv.ParseInt: parsing \"99999999999999999999\": value out of range",
        ),
        bad(
            "cpu value=1 9223372036854775807",
            "time outside range -9223372036854775806 - 9223372036854775806",
        ),
        bad("cpu\tvalue=1", "missing fields"),
        bad("cpu value=1\r", "invalid number"),
        bad("cpu value=1 1000000000\r", "bad timestamp"),
        bad(r"cpu,host=a\ value=1", "invalid tag format"),
        // ---- refused differently by the two APIs
        Case {
            line: "cpu,time=x value=1",
            precision: "",
            v2: Verdict::Parse(r#"cannot use reserved tag key "time""#),
            v1: Verdict::Dropped(
                r#"invalid tag key: input tag "time" on measurement "cpu" is invalid"#,
            ),
            expect: None,
        },
        Case {
            line: "cpu,_field=x value=1",
            precision: "",
            v2: Verdict::Parse(r#"cannot use reserved tag key "_field""#),
            v1: Verdict::Ok,
            expect: Some(e("cpu", &[("_field", "x")], V1, None)),
        },
        Case {
            line: "cpu time=1",
            precision: "",
            v2: Verdict::Dropped(
                r#"invalid field name: input field "time" on measurement "cpu" is invalid"#,
            ),
            v1: Verdict::Dropped(
                r#"invalid field name: input field "time" on measurement "cpu" is invalid"#,
            ),
            expect: None,
        },
    ]
}

/// The body InfluxDB answers for `v` of `line` sent alone, on `api` ("v1"/"v2").
fn expected_error(api: &str, line: &str, v: Verdict) -> Option<(u16, serde_json::Value)> {
    let parse = |reason: &str| format!("unable to parse '{line}': {reason}");
    match (api, v) {
        (_, Verdict::Ok) => None,
        ("v2", Verdict::Parse(r)) => Some((
            400,
            serde_json::json!({"code": "invalid", "message": parse(r)}),
        )),
        ("v2", Verdict::Dropped(r)) => Some((
            422,
            serde_json::json!({
                "code": "unprocessable entity",
                "message": format!("failure writing points to database: partial write: {r} dropped=1"),
            }),
        )),
        (_, Verdict::Parse(r)) => Some((400, serde_json::json!({"error": parse(r)}))),
        (_, Verdict::Dropped(r)) => Some((
            400,
            serde_json::json!({"error": format!("partial write: {r} dropped=1")}),
        )),
    }
}

/// Every case alone on both APIs: the verdict, then each written line read back from its own
/// database; v1 answers are also compared with InfluxDB 1.6.7's answer to the same body.
#[test]
fn corpus_verdicts_and_arrival_through_both_apis() {
    let Some(st) = Stack::start(&[]) else { return };
    let started = Instant::now();
    let cases = cases();
    let mut pending = Vec::new(); // (db, case index, send window)
    for (i, c) in cases.iter().enumerate() {
        for api in ["v2", "v1"] {
            let verdict = if api == "v2" { c.v2 } else { c.v1 };
            let db = format!("{}{i:02}", if api == "v2" { 'a' } else { 'b' });
            st.influx.create_db(&db);
            let extra = [("precision", c.precision)];
            let url = match api {
                "v2" => v2_url(&st.sluice, &db, &extra),
                _ => v1_url(&st.sluice, &db, &extra),
            };
            let w = Window::open(c.precision);
            let r = plain(&url, Some(super::TOKEN_AUTH), c.line.as_bytes());
            let w = w.close();
            let ctx = format!("{api} case {i} {:?}", c.line);
            match expected_error(api, c.line, verdict) {
                None => {
                    assert_eq!(r.status, 204, "{ctx}: {}", r.text());
                    assert!(r.body.is_empty(), "{ctx}: 204 with a body");
                    pending.push((db, i, w));
                }
                Some((status, body)) => expect_json(&r, status, &body, &ctx),
            }
            if api == "v1" {
                let reference_db = format!("r{i:02}");
                st.influx.create_db(&reference_db);
                let reference = st.influx.write(&reference_db, c.line);
                assert_eq!(
                    (r.status, json_or_null(&r)),
                    (reference.status, json_or_null(&reference)),
                    "{ctx}: sluice and InfluxDB 1.6.7 disagree"
                );
            }
        }
    }
    let sent = started.elapsed();
    for (db, i, w) in &pending {
        let c = &cases[*i];
        let got = wait_points(&st.influx, db, None, 1);
        let want = c.expect.expect("an accepted case has an expected point");
        assert_eq!(got.len(), 1, "{db} {:?}: {got:?}", c.line);
        point_matches(&got[0], &want, w, &format!("{db} {:?}", c.line));
    }
    eprintln!(
        "corpus: {} cases × 2 APIs sent in {sent:?}, {} points read back, total {:?}",
        cases.len(),
        pending.len(),
        started.elapsed()
    );
}

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
