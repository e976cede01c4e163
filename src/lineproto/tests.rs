//! The wire.md §4.4 corpus as a table: each line with its verdict, reason and parsed contents.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::model::Precision;

const V2: ParseOptions = ParseOptions {
    precision: Precision::Nanoseconds,
    allow_unsigned: true,
};
const V1: ParseOptions = ParseOptions {
    precision: Precision::Nanoseconds,
    allow_unsigned: false,
};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A parsed line rendered with unescaped parts: `meas|k=v,k=v|field:type=value,...|ts`.
fn render(l: &Line<'_>) -> String {
    let tags: Vec<String> = l
        .tags()
        .map(|(k, v)| format!("{}={}", text(&unescape(k)), text(&unescape(v))))
        .collect();
    let fields: Vec<String> = l
        .fields()
        .map(|(k, v)| {
            let val = match v {
                FieldValue::Float(f) => format!("{f:?}"),
                FieldValue::Integer(i) => i.to_string(),
                FieldValue::Unsigned(u) => u.to_string(),
                FieldValue::Boolean(b) => b.to_string(),
                FieldValue::String(s) => text(&unescape_string(s)),
            };
            format!(
                "{}:{}={}",
                text(&unescape_field_key(k)),
                v.field_type(),
                val
            )
        })
        .collect();
    let ts = l.timestamp().map(|t| t.to_string()).unwrap_or_default();
    format!(
        "{}|{}|{}|{}",
        text(&unescape_measurement(l.measurement())),
        tags.join(","),
        fields.join(","),
        ts
    )
}

fn ok(line: &str) -> String {
    ok_with(line, &V2)
}

fn ok_with(line: &str, opts: &ParseOptions) -> String {
    match parse_line(line.as_bytes(), opts) {
        Ok(l) => {
            let read = parse_accepted(line.as_bytes(), opts);
            assert_same_reading(&l, &read.expect("an accepted line is read back"));
            render(&l)
        }
        Err(e) => panic!("{line:?} refused: {e}"),
    }
}

fn err_with(line: &str, opts: &ParseOptions) -> String {
    match parse_line(line.as_bytes(), opts) {
        Ok(l) => panic!("{line:?} accepted as {}", render(&l)),
        Err(e) => e.to_string(),
    }
}

#[test]
fn valid_corpus() {
    let table: &[(&str, &str)] = &[
        ("cpu value=1", "cpu||value:float=1.0|"),
        (
            "cpu,host=serverA,region=us-west value=1i 1000000000",
            "cpu|host=serverA,region=us-west|value:integer=1|1000000000",
        ),
        (
            "cpu,region=us-west,host=serverA value=1i 1000000000",
            "cpu|region=us-west,host=serverA|value:integer=1|1000000000",
        ),
        (
            "cpu    value=1.0 1257894000000000000",
            "cpu||value:float=1.0|1257894000000000000",
        ),
        (
            "cpu value=1.0     1257894000000000000   ",
            "cpu||value:float=1.0|1257894000000000000",
        ),
        ("\tcpu value=1", "cpu||value:float=1.0|"),
        ("cpu value=-1.0e-4", "cpu||value:float=-0.0001|"),
        ("cpu value=.1", "cpu||value:float=0.1|"),
        ("cpu value=1.", "cpu||value:float=1.0|"),
        ("cpu value=1E4", "cpu||value:float=10000.0|"),
        ("cpu value=-1i", "cpu||value:integer=-1|"),
        (
            "cpu value=18446744073709551615u",
            "cpu||value:unsigned=18446744073709551615|",
        ),
        (
            "cpu value=9223372036854775807i",
            "cpu||value:integer=9223372036854775807|",
        ),
        (
            "cpu value=-9223372036854775808i",
            "cpu||value:integer=-9223372036854775808|",
        ),
        (
            "cpu t=t,T=T,true=true,True=True,TRUE=TRUE,f=f,F=F,false=false,False=False,FALSE=FALSE",
            "cpu||t:boolean=true,T:boolean=true,true:boolean=true,True:boolean=true,TRUE:boolean=true,\
             f:boolean=false,F:boolean=false,false:boolean=false,False:boolean=false,FALSE:boolean=false|",
        ),
        (r"foo\,bar value=1i", "foo,bar||value:integer=1|"),
        (
            r"cpu\ load,region=east value=1.0",
            "cpu load|region=east|value:float=1.0|",
        ),
        (
            "cpu=load,region=east value=1.0",
            "cpu=load|region=east|value:float=1.0|",
        ),
        (
            r"cpu\=load,region=east value=1.0",
            r"cpu\=load|region=east|value:float=1.0|",
        ),
        (
            r"cpu,region\,zone=east value=1.0",
            "cpu|region,zone=east|value:float=1.0|",
        ),
        (
            r"cpu,region\ zone=east value=1.0",
            "cpu|region zone=east|value:float=1.0|",
        ),
        (
            r"cpu,regions=east\,west value=1.0",
            "cpu|regions=east,west|value:float=1.0|",
        ),
        (
            r"cpu,regions=east\ west value=1.0",
            "cpu|regions=east west|value:float=1.0|",
        ),
        (
            r"cpu,regions=eas\t value=1.0",
            r"cpu|regions=eas\t|value:float=1.0|",
        ),
        (
            r"cpu,regions=\\,\,\=east value=1.0",
            r"cpu|regions=\,,=east|value:float=1.0|",
        ),
        (
            r"cpu,reg\\=ion=east value=1.0",
            r"cpu|reg\=ion=east|value:float=1.0|",
        ),
        (
            r"cpu,regions=\\ east value=1.0",
            r"cpu|regions=\ east|value:float=1.0|",
        ),
        (
            r"cpu=load,equals\=foo=tag\=value value=1i",
            "cpu=load|equals=foo=tag=value|value:integer=1|",
        ),
        (r"cpu,\ =east value=1.0", "cpu| =east|value:float=1.0|"),
        (
            r#"cpu,"host"="serverA" value=1.0 1000000000"#,
            r#"cpu|"host"="serverA"|value:float=1.0|1000000000"#,
        ),
        (
            r#""cpu",host=serverA value=1.0 1000000000"#,
            r#""cpu"|host=serverA|value:float=1.0|1000000000"#,
        ),
        (r"cpu value\,ms=1.0", "cpu||value,ms:float=1.0|"),
        (r"cpu value\ ms=1.0", "cpu||value ms:float=1.0|"),
        (r"cpu \a=1i", r"cpu||\a:integer=1|"),
        (r#"cpu "a=1"#, r#"cpu||"a:float=1.0|"#),
        (r#"cpu str="foo \" bar""#, r#"cpu||str:string=foo " bar|"#),
        (
            r#"cpu str="foo\\",str2="bar""#,
            r"cpu||str:string=foo\,str2:string=bar|",
        ),
        (
            r#"cpu str="foo,bar",value=1.0"#,
            "cpu||str:string=foo,bar,value:float=1.0|",
        ),
        (
            r#"cpu str="foo=bar",value=1.0"#,
            "cpu||str:string=foo=bar,value:float=1.0|",
        ),
        (
            r#"cpu value="{Hello\"{,}\" World}""#,
            r#"cpu||value:string={Hello"{,}" World}|"#,
        ),
        ("cpu value=\"wè\"", "cpu||value:string=wè|"),
        (
            "cpu value=\"line1\nline2\" 1000000000",
            "cpu||value:string=line1\nline2|1000000000",
        ),
        (
            "baz,mytag=\"a x=1 1441103862125",
            "baz|mytag=\"a|x:float=1.0|1441103862125",
        ),
        ("cpu value=1 -1", "cpu||value:float=1.0|-1"),
        // Blanks after the series key include tabs and NULs (Go's skipWhitespace).
        ("cpu \tvalue=1 \t5", "cpu||value:float=1.0|5"),
        // Junk after a closing quote is accepted by Go; the value is what its iterator sees.
        (r#"cpu a="x"y"#, r#"cpu||a:string=x"|"#),
    ];
    for (line, want) in table {
        assert_eq!(ok(line), *want, "line {line:?}");
    }
    let s = ParseOptions {
        precision: Precision::Seconds,
        allow_unsigned: true,
    };
    assert_eq!(
        ok_with("cpu,host=a value=1 1717236000", &s),
        "cpu|host=a|value:float=1.0|1717236000"
    );
}

#[test]
fn invalid_corpus() {
    let table: &[(&str, &str)] = &[
        ("cpu", "missing fields"),
        ("cpu,", "missing tag key"),
        (",cpu value=1", "missing measurement"),
        ("cpu, value=1", "missing tag key"),
        ("cpu,,, value=1", "missing tag key"),
        ("cpu,host=serverA,=us-east value=1i", "missing tag key"),
        ("cpu,host value=1i", "missing tag value"),
        ("cpu,host= value=1i", "missing tag value"),
        (
            "cpu,host=serverA,region=,zone=us-west value=1i",
            "missing tag value",
        ),
        ("cpu,host=f=o value=1", "invalid tag format"),
        ("cpu,host=serverA,host=serverB value=1i", "duplicate tags"),
        ("cpu,b=2,c=3,b=1 value=1i", "duplicate tags"),
        ("cpu,host=serverA =123i", "missing field key"),
        ("cpu,host=serverA value=123i,=456i", "missing field key"),
        ("cpu,host=serverA value=", "missing field value"),
        ("cpu,host=serverA value= 1000000000i", "missing field value"),
        ("cpu,host=serverA value=,value2=1i", "missing field value"),
        ("cpu,host=server01 value=1i,b", "invalid field format"),
        (
            "cpu,host=server01 1434055562000000000i",
            "invalid field format",
        ),
        (r#"cpu value="test"#, "unbalanced quotes"),
        (r#"cpu value="test\""#, "unbalanced quotes"),
        ("cpu value=.1a", "invalid number"),
        ("cpu value=0.-1", "invalid number"),
        ("cpu value=-", "invalid number"),
        ("cpu value=.", "invalid number"),
        ("cpu value=1.1.1", "invalid number"),
        ("cpu value=9ie10", "invalid number"),
        ("cpu value=9e10i", "invalid number"),
        ("cpu value=1.5i", "invalid number"),
        ("cpu value=9i10", "invalid number"),
        ("cpu value=NaN", "invalid number"),
        ("cpu value=nan", "invalid number"),
        ("cpu value=1b", "invalid number"),
        ("cpu value=1e", "invalid float"),
        ("cpu value=1e400", "invalid float"),
        ("cpu value=+1", "invalid boolean"),
        ("cpu value=Inf", "invalid boolean"),
        ("cpu value=inf", "invalid boolean"),
        ("cpu value=tRUE", "invalid boolean"),
        ("cpu value=yes", "invalid boolean"),
        (
            "cpu value=9223372036854775808i",
            "unable to parse integer 9223372036854775808: strconv.ParseInt: parsing \"9223372036854775808\": value out of range",
        ),
        (
            "cpu value=18446744073709551616u",
            "unable to parse unsigned 18446744073709551616: strconv.ParseUint: parsing \"18446744073709551616\": value out of range",
        ),
        ("cpu value=-1u", "invalid number"),
        ("cpu value=1 1000000000abc", "bad timestamp"),
        ("a v=1 0\\", "bad timestamp"),
        ("cpu value=1 123 456", "point is invalid"),
        (
            "cpu value=1 99999999999999999999",
            "strconv.ParseInt: parsing \"99999999999999999999\": value out of range",
        ),
        (
            "cpu value=1 -",
            "strconv.ParseInt: parsing \"-\": invalid syntax",
        ),
        (
            "cpu value=1 9223372036854775807",
            "time outside range -9223372036854775806 - 9223372036854775806",
        ),
        ("cpu\tvalue=1", "missing fields"),
        ("cpu value=1\r", "invalid number"),
        ("cpu value=1 1000000000\r", "bad timestamp"),
        (r"cpu,host=a\ value=1", "invalid tag format"),
        ("cpu ", "invalid field format"),
        (r"cpu a\\=1,b=2,c\\=3", r"invalid value: field-key=c\\=3"),
    ];
    for (line, want) in table {
        assert_eq!(err_with(line, &V2), *want, "line {line:?}");
    }
    assert_eq!(err_with("cpu value=1u", &V1), "invalid number");
    assert_eq!(ok_with("cpu value=1u", &V2), "cpu||value:unsigned=1|");
}

#[test]
fn reserved_keys_are_left_to_ingest() {
    assert_eq!(ok("cpu,time=x value=1"), "cpu|time=x|value:float=1.0|");
    assert_eq!(ok("cpu,_field=x time=1"), "cpu|_field=x|time:float=1.0|");
}

#[test]
fn timestamp_range_uses_precision() {
    let s = ParseOptions {
        precision: Precision::Seconds,
        allow_unsigned: true,
    };
    assert_eq!(
        ok_with("cpu v=1 9223372036", &s),
        "cpu||v:float=1.0|9223372036"
    );
    assert_eq!(
        err_with("cpu v=1 9223372037", &s),
        "time outside range -9223372036854775806 - 9223372036854775806"
    );
    assert_eq!(
        ok("cpu v=1 9223372036854775806"),
        "cpu||v:float=1.0|9223372036854775806"
    );
    assert_eq!(
        ok("cpu v=1 -9223372036854775806"),
        "cpu||v:float=1.0|-9223372036854775806"
    );
    assert!(err_with("cpu v=1 -9223372036854775807", &V2).starts_with("time outside range"));
}

#[test]
fn key_length_limit() {
    let long = "t".repeat(65535 - 4);
    let line = format!("{long} v=1");
    assert_eq!(
        err_with(&line, &V2),
        "max key length exceeded: 65536 > 65535"
    );
    let at_limit = format!("{} v=1", "t".repeat(65535 - 5));
    assert!(parse_line(at_limit.as_bytes(), &V2).is_ok());
    let series = format!("{} v=1", "t".repeat(65536));
    assert_eq!(
        err_with(&series, &V2),
        "max key length exceeded: 65536 > 65535"
    );
}

#[test]
fn duplicate_tags_unsorted_many() {
    let mut line = String::from("m");
    for i in (0..40).rev() {
        line.push_str(&format!(",k{i}=v"));
    }
    line.push_str(",k7=x v=1");
    assert_eq!(err_with(&line, &V2), "duplicate tags");
    // Duplicates are judged on the raw key; escapes make distinct keys distinct.
    assert!(parse_line(br"m,a\ b=1,a b=2 v=1", &V2).is_err());
    assert!(parse_line(br"m,b\,c=1,b=2 v=1", &V2).is_ok());
}

#[test]
fn series_key_and_raw() {
    let line = b"  cpu,host=a\\ b,z=1 v=1i,s=\"x y\" 5";
    let l = parse_line(line, &V2).unwrap();
    assert_eq!(l.raw(), line);
    assert_eq!(l.measurement(), b"cpu");
    assert_eq!(l.series_key(), b"cpu,host=a\\ b,z=1");
    assert_eq!(l.fields_raw(), b"v=1i,s=\"x y\"");
    assert_eq!(l.tags().count(), 2);
    assert_eq!(l.fields().count(), 2);
    assert_eq!(l.timestamp(), Some(5));
}

#[test]
fn body_round_trip_through_split() {
    let body = b"# c\ncpu value=1i 1000000000\n\ncpu value=\"a\nb\" 2\n  bad\n";
    let verdicts: Vec<Result<String, String>> = split_lines(body)
        .map(|l| {
            parse_line(l, &V2)
                .map(|l| render(&l))
                .map_err(|e| e.to_string())
        })
        .collect();
    assert_eq!(
        verdicts,
        vec![
            Ok("cpu||value:integer=1|1000000000".to_string()),
            Ok("cpu||value:string=a\nb|2".to_string()),
            Err("missing fields".to_string()),
        ]
    );
}

#[test]
fn field_type_words() {
    let words: Vec<String> = [
        FieldType::Float,
        FieldType::Integer,
        FieldType::Unsigned,
        FieldType::String,
        FieldType::Boolean,
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    assert_eq!(words, ["float", "integer", "unsigned", "string", "boolean"]);
}

#[test]
fn fuzz_crash_literal_quote_in_key_is_walked() {
    // Found by cargo-fuzz: Go's scan sees a literal quote in a key, its walk a string, so the
    // walked fields differ from the scanned ones and one of them cannot be decoded.
    let body = b"\x00\x00\x00\x00\x3d\x00\x8a\x2c\x30\x3d\x6d\x6d\x6d\x3f\x20\x3f\x2c\xaf\xaf\xaf\xaf\xaf\xaf\xaf\x54\x50\x50\xc0\x3d\x22\x2e\x3d\x22\xaf\x2c\xff\xff\xff\xff\xff\x7a\xff\xff\x3d\xff\x22";
    for line in split_lines(body) {
        if let Ok(l) = parse_line(line, &V2) {
            panic!("accepted {:?}", render(&l));
        }
    }
}

#[test]
fn field_types_agree_with_decoded_values() {
    let lines = [
        "cpu value=1",
        "cpu a=1i,b=-2i,c=3u,d=1.5e3,e=.5,f=\"x,y=z\",g=t,h=FALSE,i=True,j=-1.0e-4",
        "cpu str=\"foo\\\\\",str2=\"bar\"",
        "cpu value=\"{Hello\\\"{,}\\\" World}\",n=2",
        "cpu t=t,T=T,true=true,True=True,TRUE=TRUE,f=f,F=F,false=false,False=False,FALSE=FALSE",
        "cpu \\a=1i,x=9223372036854775807i",
    ];
    for l in lines {
        let line = parse_line(l.as_bytes(), &V2).expect(l);
        let decoded: Vec<_> = line.fields().map(|(k, v)| (k, v.field_type())).collect();
        let cheap: Vec<_> = line.field_types().collect();
        assert_eq!(cheap, decoded, "{l}");
    }
}

/// What `numeric_fields` must answer: `fields()`'s numbers as f64.
fn numeric_walk<'a>(line: &Line<'a>) -> Vec<(&'a [u8], f64)> {
    line.fields()
        .filter_map(|(k, v)| match v {
            FieldValue::Float(f) => Some((k, f)),
            FieldValue::Integer(i) => Some((k, i as f64)),
            FieldValue::Unsigned(u) => Some((k, u as f64)),
            FieldValue::Boolean(_) | FieldValue::String(_) => None,
        })
        .collect()
}

/// `parse_accepted` reads what `parse_line` read.
fn assert_same_reading(exact: &Line<'_>, read: &Line<'_>) {
    let l = text(exact.raw());
    assert_eq!(render(read), render(exact), "{l}");
    assert_eq!(read.series_key(), exact.series_key(), "{l}");
    assert_eq!(read.tags_sorted(), exact.tags_sorted(), "{l}");
    assert_eq!(
        read.has_reserved_tag_key(),
        exact.has_reserved_tag_key(),
        "{l}"
    );
    let types: Vec<_> = read.field_types().collect();
    assert_eq!(types, exact.field_types().collect::<Vec<_>>(), "{l}");
    let (mut a, mut b) = (Vec::new(), Vec::new());
    read.numeric_fields(&mut a);
    exact.numeric_fields(&mut b);
    assert_eq!(a, b, "{l}");
    assert_eq!(a, numeric_walk(read), "{l}");
}

/// Whether the tag keys as written are sorted, the slow way.
fn tags_sorted_walk(line: &Line<'_>) -> bool {
    let keys: Vec<&[u8]> = line.tags().map(|(k, _)| k).collect();
    keys.windows(2).all(|w| w[0] <= w[1])
}

#[test]
fn numeric_fields_and_sorted_tags_agree_with_the_walks() {
    let lines = [
        "cpu value=1",
        "cpu,b=1,a=2 a=1i,b=-2i,c=3u,d=1.5e3,e=.5,f=\"x,y=z\",g=t,h=FALSE,i=True,j=-1.0e-4",
        "cpu,a=1,b=2 str=\"foo\\\\\",str2=\"bar\",n=-0i 123",
        "cpu,a\\ b=1,a=2 \\a=1i,x=9223372036854775807i,y=-9223372036854775808i,z=18446744073709551615u",
        "cpu,a=1 x=12345678901234567i,y=-12345678i,z=1234567890123456789u,w=-.5,v=7.",
        "m n=0000000000000000000001i,o=1",
    ];
    for l in lines {
        let line = parse_line(l.as_bytes(), &V2).expect(l);
        let mut got = Vec::new();
        line.numeric_fields(&mut got);
        assert_eq!(got, numeric_walk(&line), "{l}");
        assert_eq!(line.tags_sorted(), tags_sorted_walk(&line), "{l}");
        assert_same_reading(&line, &parse_accepted(l.as_bytes(), &V2).expect(l));
    }
}

mod numeric_props {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<i64>().prop_map(|v| format!("{v}i")),
            (0i64..1000).prop_map(|v| format!("{v}i")),
            any::<u64>().prop_map(|v| format!("{v}u")),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| format!("{f}")),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| format!("{f:?}")),
            (-1000i32..1000, 0u32..1000).prop_map(|(a, b)| format!("{a}.{b}")),
            proptest::sample::select(vec!["t", "F", "true", "\"s, x=1\"", "\"\""])
                .prop_map(str::to_string),
        ]
    }

    proptest! {
        #[test]
        fn numeric_fields_equal_the_decoded_fields(
            values in proptest::collection::vec(value(), 1..16),
            tags in proptest::collection::vec(proptest::sample::select(vec!["a", "b", "c", "d"]), 0..4),
            ts in proptest::option::of(any::<u32>()),
        ) {
            let mut l = String::from("m");
            for (i, t) in tags.iter().enumerate() {
                l.push_str(&format!(",{t}=v{i}"));
            }
            l.push(' ');
            let fields: Vec<String> =
                values.iter().enumerate().map(|(i, v)| format!("f{i}={v}")).collect();
            l.push_str(&fields.join(","));
            if let Some(ts) = ts {
                l.push_str(&format!(" {ts}"));
            }
            if let Ok(line) = parse_line(l.as_bytes(), &V2) {
                let mut got = Vec::new();
                line.numeric_fields(&mut got);
                prop_assert_eq!(got, numeric_walk(&line), "{}", l);
                prop_assert_eq!(line.tags_sorted(), tags_sorted_walk(&line), "{}", l);
                assert_same_reading(&line, &parse_accepted(l.as_bytes(), &V2).unwrap());
            }
        }
    }
}
