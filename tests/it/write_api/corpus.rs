//! The line-protocol corpus of wire.md §4.4 as one table, each line with InfluxDB's verdict on
//! both write APIs and, for the lines that are written, the point InfluxDB 1.6.7 reads back.
//!
//! Owns: the table (`cases`) and the corpus test: every case through sluice's `/api/v2/write`
//! and `/write` against a real InfluxDB 1.6.7 upstream (verdicts; valid lines read back from
//! InfluxDB; v1 answers cross-checked with InfluxDB's own answer to the same body).
//! Does not own: the helpers (`super`), batch-level cases (`batches`).

use std::time::Instant;

use super::{
    Stack, Window, expect_json, json_or_null, plain, point_matches, v1_url, v2_url, wait_points,
};
use crate::support::point::FieldVal;

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
pub const SEC: i64 = 1_000_000_000;

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

/// Threads sending corpus cases.
const THREADS: usize = 4;

/// Sends case `i` on both APIs and checks the answers; returns the (database, case, send
/// window) of each accepted write, to read back later.
fn send_case(st: &Stack, i: usize, c: &Case) -> Vec<(String, usize, Window)> {
    let mut pending = Vec::new();
    for api in ["v2", "v1"] {
        let verdict = if api == "v2" { c.v2 } else { c.v1 };
        let db = format!("{}{i:02}", if api == "v2" { 'a' } else { 'b' });
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
            let reference = st.influx.write(&format!("r{i:02}"), c.line);
            assert_eq!(
                (r.status, json_or_null(&r)),
                (reference.status, json_or_null(&reference)),
                "{ctx}: sluice and InfluxDB 1.6.7 disagree"
            );
        }
    }
    pending
}

/// Every case alone on both APIs: the verdict, then each written line read back from its own
/// database; v1 answers are also compared with InfluxDB 1.6.7's answer to the same body.
#[test]
fn corpus_verdicts_and_arrival_through_both_apis() {
    let Some(st) = Stack::start(&[]) else { return };
    let started = Instant::now();
    let cases = cases();
    // One request for every database (one statement each): much faster than one by one.
    let dbs: Vec<String> = (0..cases.len())
        .flat_map(|i| ['a', 'b', 'r'].map(|p| format!("CREATE DATABASE {p}{i:02}")))
        .collect();
    st.influx.exec(&dbs.join("; "));
    // Cases are independent (one database each): send them from a few threads at once.
    let pending: Vec<(String, usize, Window)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (st, cases) = (&st, &cases);
                scope.spawn(move || {
                    (t..cases.len())
                        .step_by(THREADS)
                        .flat_map(|i| send_case(st, i, &cases[i]))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
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
