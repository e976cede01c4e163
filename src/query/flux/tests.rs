//! Parser, checker and encoder tests: the grammar of docs/flux.md §1–2 and the CSV of §7.

use super::ast::{ExprKind, Stmt};
use super::csv::{Annotation, Dialect, encode, encode_error, format_float, format_time};
use super::table::{Col, Table, Type};
use super::value::Value;
use super::{FluxResult, compile, parser::parse};

fn expr_kind(src: &str) -> ExprKind {
    let p = parse(src).expect("parses");
    match p.body.into_iter().next() {
        Some(Stmt::Expr(e)) => e.kind,
        other => panic!("not an expression: {other:?}"),
    }
}

#[test]
fn grafana_query_parses_with_pipes_functions_and_times() {
    let src = "from(bucket: \"telegraf\")\n  |> range(start: 2024-06-01T10:00:00Z, stop: 2024-06-01T11:00:00Z)\n  |> filter(fn: (r) => r[\"_measurement\"] == \"cpu\")\n  |> aggregateWindow(every: 10s, fn: mean, createEmpty: false)\n  |> yield(name: \"mean\")";
    let ExprKind::Pipe(inner, last) = expr_kind(src) else {
        panic!("pipe")
    };
    assert!(matches!(last.kind, ExprKind::Call(..)));
    assert!(matches!(inner.kind, ExprKind::Pipe(..)));
}

#[test]
fn literals_have_their_values() {
    assert_eq!(
        expr_kind("-1h30m"),
        ExprKind::Duration(0, -5_400_000_000_000)
    );
    assert_eq!(
        expr_kind("1mo2d"),
        ExprKind::Duration(1, 2 * 86_400_000_000_000)
    );
    assert_eq!(
        expr_kind("2024-06-01T10:00:00.5Z"),
        ExprKind::Time(1_717_236_000_500_000_000)
    );
    assert_eq!(
        expr_kind("2024-06-01"),
        ExprKind::Time(1_717_200_000_000_000_000)
    );
    assert_eq!(expr_kind("2.5"), ExprKind::Float(2.5));
    assert!(matches!(expr_kind("/a\\/b/"), ExprKind::Regex(r) if r.0.as_str() == "a/b"));
    let ExprKind::Str(parts) = expr_kind("\"a\\\"b\\n${x}\"") else {
        panic!("string")
    };
    assert_eq!(parts.len(), 2);
}

#[test]
fn precedence_and_binds_tighter_than_or_and_comparison_than_and() {
    let ExprKind::Binary(op, l, _) = expr_kind("a == 1 or b == 2 and c =~ /x/") else {
        panic!()
    };
    assert_eq!(op, "or");
    assert!(matches!(l.kind, ExprKind::Binary("==", ..)));
    let ExprKind::Binary(op, ..) = expr_kind("1 + 2 * 3 < 4") else {
        panic!()
    };
    assert_eq!(op, "<");
}

#[test]
fn functions_records_with_imports_comments() {
    let p = parse("import \"strings\"\n// comment\nf = (r, x=1) => ({ r with v: r.v * x }) // tail\ng = (tables=<-) => { y = 2\n return tables }\nf(r: {v: 2})").expect("parses");
    assert_eq!(p.imports.len(), 1);
    assert_eq!(p.body.len(), 3);
    assert!(matches!(
        expr_kind("if a then 1 else 2"),
        ExprKind::Cond(..)
    ));
    assert!(matches!(expr_kind("exists r.x"), ExprKind::Exists(..)));
    assert!(matches!(expr_kind("[1, 2][0]"), ExprKind::Index(..)));
}

#[test]
fn syntax_errors_say_where() {
    for (src, want) in [
        ("from(bucket: )", "@1:14"),
        ("a |> 3", "pipe destination"),
        ("x = \"open", "unterminated string"),
        ("f(a: 1, a: 2)", "duplicate property"),
        ("1h3x", "invalid duration unit"),
        ("2024-13-01T00:00:00Z", "invalid date-time"),
        ("a ? b", "expected"),
    ] {
        let e = parse(src).expect_err(src);
        assert!(e.message.contains(want), "{src}: {}", e.message);
    }
}

#[test]
fn unsupported_functions_and_imports_are_named() {
    for (src, want) in [
        (
            "from(bucket: \"a\") |> range(start: -1h) |> to(bucket: \"b\")",
            "function \"to\" is not supported",
        ),
        (
            "import \"sql\"\nsql.from(driverName: \"x\")",
            "package \"sql\" is not supported",
        ),
        (
            "import \"strings\"\nstrings.split(v: \"a\", t: \",\")",
            "function \"strings.split\" is not supported",
        ),
        ("csv.from(url: \"http://x\")", "undefined identifier csv"),
        (
            "import \"experimental\"\nexperimental.to()",
            "package \"experimental\"",
        ),
        (
            "option now = () => 2020-01-01T00:00:00Z",
            "option statements are not supported",
        ),
    ] {
        let e = compile(src).expect_err(src);
        assert!(e.message.contains(want), "{src}: {}", e.message);
    }
    // A user function with the name of a missing builtin is fine.
    compile("to = (x) => x\nto(x: 1)").expect("user function");
}

#[test]
fn hostile_inputs_fail_cleanly() {
    let deep = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(
        compile(&deep)
            .expect_err("deep")
            .message
            .contains("nested deeper")
    );
    let deep_not = format!("{}true", "not ".repeat(10_000));
    assert!(compile(&deep_not).is_err());
    let arrays = format!("{}1{}", "[".repeat(5_000), "]".repeat(5_000));
    assert!(compile(&arrays).is_err());
    let big = format!("x = \"{}\"", "a".repeat(1 << 20));
    let e = compile(&big).expect_err("1 MB");
    assert_eq!(e.code, crate::error::ErrorCode::RequestTooLarge);
    let e = super::interp::compile_regex("(a{1000}){1000}").expect_err("bomb");
    assert!(e.contains("too large"), "{e}");
    assert!(super::interp::compile_regex("^(8\\.8\\.8\\.8|1\\.1\\.1\\.1)$").is_ok());
}

fn table(rows: Vec<Vec<Value>>) -> Table {
    Table {
        cols: vec![
            Col {
                name: "_time".into(),
                ty: Type::Time,
            },
            Col {
                name: "_value".into(),
                ty: Type::Float,
            },
            Col {
                name: "host".into(),
                ty: Type::Str,
            },
        ],
        key: vec![("host".into(), Value::str("a"))],
        rows,
    }
}

#[test]
fn csv_matches_influxdb_2_bytes() {
    let t0 = 1_717_236_000_000_000_000;
    let results = vec![
        FluxResult {
            name: "mean".into(),
            tables: vec![
                table(vec![vec![
                    Value::Time(t0),
                    Value::Float(97.25),
                    Value::str("a"),
                ]]),
                table(vec![vec![
                    Value::Time(t0 + 1_500_000),
                    Value::Float(1e21),
                    Value::str("a,b"),
                ]]),
            ],
        },
        FluxResult {
            name: "empty".into(),
            tables: vec![table(vec![])],
        },
    ];
    let d = Dialect {
        header: true,
        delimiter: ',',
        annotations: vec![Annotation::Datatype, Annotation::Group, Annotation::Default],
    };
    let got = encode(&results, &d);
    let want = "#datatype,string,long,dateTime:RFC3339,double,string\r\n#group,false,false,false,false,true\r\n#default,mean,,,,\r\n,result,table,_time,_value,host\r\n,,0,2024-06-01T10:00:00Z,97.25,a\r\n,,1,2024-06-01T10:00:00.0015Z,1000000000000000000000,\"a,b\"\r\n\r\n#datatype,string,long,dateTime:RFC3339,double,string\r\n#group,false,false,false,false,true\r\n#default,empty,,,,\r\n,result,table,_time,_value,host\r\n,,0,,,a\r\n\r\n";
    assert_eq!(got, want);
    let plain = encode(&results[..1], &Dialect::default());
    assert!(
        plain.starts_with(",result,table,_time,_value,host\r\n,mean,0,"),
        "{plain}"
    );
}

#[test]
fn cells_format_as_go_does() {
    assert_eq!(format_float(0.1 + 0.2), "0.30000000000000004");
    assert_eq!(format_float(1e-7), "0.0000001");
    assert_eq!(format_float(-0.5), "-0.5");
    assert_eq!(format_float(f64::INFINITY), "+Inf");
    assert_eq!(format_time(-1), "1969-12-31T23:59:59.999999999Z");
    // As chrono's RFC3339 formatting, over the whole range.
    let mut x: u64 = 7;
    let edges = [
        i64::MIN,
        i64::MAX,
        0,
        1,
        -1_000_000_000,
        951_782_400 * 1_000_000_000,
    ];
    for i in 0..20_000 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let ns = edges.get(i).copied().unwrap_or(x as i64 >> (i % 40));
        let dt = chrono::DateTime::from_timestamp_nanos(ns);
        let frac = ns.rem_euclid(1_000_000_000);
        let frac = match frac {
            0 => String::new(),
            f => format!(".{f:09}").trim_end_matches('0').to_owned(),
        };
        let want = format!("{}{frac}Z", dt.format("%Y-%m-%dT%H:%M:%S"));
        assert_eq!(format_time(ns), want, "{ns}");
    }
    assert_eq!(
        format_time(1_000_000_000_120_000_000),
        "2001-09-09T01:46:40.12Z"
    );
    // Consecutive times (the date written last is reused) across midnights, both ways.
    for step in [59_999_999_999i64, -61_000_000_001] {
        for k in 0..5_000 {
            let ns = 1_795_700_000_000_000_000 + k * step;
            let want = chrono::DateTime::from_timestamp_nanos(ns).format("%Y-%m-%dT%H:%M:%S");
            assert_eq!(
                format_time(ns).get(..19),
                Some(want.to_string().as_str()),
                "{ns}"
            );
        }
    }
    let d = Dialect {
        annotations: vec![Annotation::Datatype, Annotation::Group, Annotation::Default],
        ..Dialect::default()
    };
    assert_eq!(
        encode_error("boom \"x\"", &d, true),
        "\r\n#datatype,string,string\r\n#group,true,true\r\n#default,,\r\n,error,reference\r\n,\"boom \"\"x\"\"\",\r\n"
    );
}

/// Mutated Grafana queries (deleted, inserted and repeated pieces) never panic the parser,
/// checker or evaluator; the fuzz target `flux_parse` does the same with coverage guidance.
#[test]
fn mutated_queries_fail_cleanly_or_run() {
    let seeds = [
        "from(bucket: \"telegraf\") |> range(start: 2024-06-01T10:00:00Z, stop: 2024-06-01T10:02:00Z) |> filter(fn: (r) => r._measurement == \"cpu\" and r.host =~ /web0[12]/) |> aggregateWindow(every: 30s, fn: mean) |> yield(name: \"m\")",
        "import \"influxdata/influxdb/schema\"\nschema.tagValues(bucket: \"telegraf\", tag: \"host\", predicate: (r) => r._measurement != \"x\")",
        "d = from(bucket: \"telegraf\") |> range(start: -2h) |> filter(fn: (r) => exists r.url)\nd |> derivative(unit: 1s, nonNegative: true) |> map(fn: (r) => ({r with _value: if r._value > 1.0 then r._value * 8.0 else 0.0})) |> pivot(rowKey: [\"_time\"], columnKey: [\"_field\"], valueColumn: \"_value\")",
        "import \"strings\"\nf = (tables=<-, n=2) => tables |> limit(n: n)\nbuckets() |> filter(fn: (r) => strings.hasPrefix(v: r.name, prefix: \"t\")) |> f() |> group(columns: [\"name\"], mode: \"except\") |> sort(columns: [\"name\"], desc: true)",
    ];
    let pieces = [
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        "|>",
        "=>",
        "\"",
        "/",
        "r.",
        "1h",
        "-",
        ",",
        ":",
        "with",
        "not ",
        "0",
        "2024-06-01T10:00:00Z",
        "\\",
        "${",
        "<-",
        ".",
    ];
    let m = super::tests_eval::store();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n.max(1) as u64) as usize
    };
    let (mut ran, mut refused) = (0, 0);
    for i in 0..3000 {
        let mut q: Vec<char> = seeds[i % seeds.len()].chars().collect();
        for _ in 0..1 + next(4) {
            let at = next(q.len() + 1);
            match next(3) {
                0 if at < q.len() => {
                    let len = 1 + next(6);
                    q.drain(at..(at + len).min(q.len()));
                }
                1 => {
                    let p = pieces[next(pieces.len())];
                    q.splice(at..at, p.chars());
                }
                _ => {
                    let end = (at + next(12)).min(q.len());
                    let copy: Vec<char> = q[at.min(end)..end].to_vec();
                    q.splice(at..at, copy);
                }
            }
        }
        let text: String = q.into_iter().collect();
        match super::tests_eval::run_on(&m, &text) {
            Ok(results) => {
                ran += 1;
                let csv = encode(&results, &Dialect::default());
                assert!(csv.is_empty() || csv.ends_with("\r\n"), "{text}");
            }
            Err(e) => {
                refused += 1;
                assert!(!e.message.is_empty(), "{text}");
            }
        }
    }
    assert!(ran > 0 && refused > 0, "ran {ran}, refused {refused}");
}

#[test]
fn only_catalog_and_index_reads_count_as_answered_from_the_index() {
    let cheap = |src: &str| super::answers_from_index(&compile(src).expect(src));
    let schema = "import \"influxdata/influxdb/schema\"\n";
    assert!(cheap("buckets()"));
    assert!(cheap(&format!(
        "{schema}schema.measurementTagValues(bucket: \"b\", measurement: \"m\", tag: \"t\")"
    )));
    assert!(cheap(&format!(
        "{schema}schema.measurements(bucket: \"b\") |> yield(name: \"m\")"
    )));
    // A predicate runs a function per series; a read runs the executor; so do bindings.
    assert!(!cheap(&format!(
        "{schema}schema.tagValues(bucket: \"b\", tag: \"t\", predicate: (r) => r.x == \"y\")"
    )));
    assert!(!cheap(
        "from(bucket: \"b\") |> range(start: -1h) |> filter(fn: (r) => r._measurement == \"m\")"
    ));
    assert!(!cheap("x = buckets()\nx"));
}
