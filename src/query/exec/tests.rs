//! Executor tests on hand-built plans over a `MemStore`, against hand-computed answers (and
//! answers checked against InfluxDB 1.6.7 where noted).

use super::mem::MemStore;
use super::{Limits, execute};
use crate::model::{BucketName, TenantId};
use crate::query::plan::*;
use crate::query::result::{Datum, Series};
use crate::store::Value;

const S: i64 = 1_000_000_000;

/// (host, fields, time in s).
type Point<'a> = (&'a str, &'a [(&'a str, Value)], i64);

fn tenant() -> TenantId {
    TenantId::new("t1").expect("tenant id")
}

fn bucket() -> BucketName {
    BucketName::new("db").expect("bucket")
}

/// The data set used in the notes checked against influxd: measurement `m`, fields a (float)
/// and b (integer), tag host; `m2` one point.
fn store() -> MemStore {
    let mut s = MemStore::new();
    let pts: &[Point] = &[
        (
            "h1",
            &[("a", Value::Float(1.0)), ("b", Value::Integer(10))],
            0,
        ),
        (
            "h1",
            &[("a", Value::Float(3.0)), ("b", Value::Integer(20))],
            10,
        ),
        ("h1", &[("a", Value::Float(2.0))], 20),
        (
            "h2",
            &[("a", Value::Float(5.0)), ("b", Value::Integer(1))],
            5,
        ),
        ("h2", &[("a", Value::Float(4.0))], 25),
        ("h2", &[("b", Value::Integer(7))], 40),
    ];
    for (host, fields, t) in pts {
        s.push("t1", "db", "m", &[("host", host)], fields.to_vec(), t * S)
            .expect("push");
    }
    s.push(
        "t1",
        "db",
        "m2",
        &[("host", "h1")],
        vec![("a", Value::Float(100.0))],
        15 * S,
    )
    .expect("push");
    s.seal().expect("seal");
    s
}

fn var(n: &str) -> Expr {
    Expr::Var(VarRef {
        name: n.into(),
        kind: VarKind::Any,
    })
}

fn call(func: Func, arg: Expr) -> Expr {
    Expr::Call(Box::new(Call { func, arg }))
}

fn plan(fields: Vec<(&str, Expr)>) -> SelectPlan {
    SelectPlan {
        sources: vec![Source {
            bucket: bucket(),
            measurement: "m".into(),
        }],
        time_column: "time".into(),
        fields: fields
            .into_iter()
            .map(|(n, e)| OutputField {
                name: n.into(),
                expr: e,
            })
            .collect(),
        condition: None,
        tag_hints: Vec::new(),
        start: MIN_TIME,
        end: MAX_TIME,
        interval: None,
        group_by: Vec::new(),
        fill: Fill::Null,
        tz: None,
        ascending: true,
        limit: 0,
        offset: 0,
        slimit: 0,
        soffset: 0,
        dialect: Dialect::InfluxQl,
    }
}

fn run(p: &SelectPlan) -> Vec<Series> {
    execute(
        p,
        &tenant(),
        &store(),
        Limits {
            max_scan_bytes: 1 << 30,
            max_rows: 100_000,
        },
    )
    .expect("execute")
}

fn t(s: i64) -> Datum {
    Datum::Time(s * S)
}
fn f(v: f64) -> Datum {
    Datum::Float(v)
}
fn i(v: i64) -> Datum {
    Datum::Integer(v)
}

#[test]
fn raw_select_merges_series_by_time_and_skips_points_without_the_field() {
    let out = run(&plan(vec![("a", var("a"))]));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].columns, vec!["time", "a"]);
    assert_eq!(
        out[0].values,
        vec![
            vec![t(0), f(1.0)],
            vec![t(5), f(5.0)],
            vec![t(10), f(3.0)],
            vec![t(20), f(2.0)],
            vec![t(25), f(4.0)],
        ]
    );
}

#[test]
fn raw_math_and_tags() {
    // influxd: SELECT a*2, a+b, b/3 ... → [0,2,11,3.33..], ..., [40,null,null,2.33..]
    let mut p = plan(vec![
        (
            "a",
            Expr::Binary(Box::new(var("a")), BinOp::Mul, Box::new(Expr::Integer(2))),
        ),
        (
            "a_b",
            Expr::Binary(Box::new(var("a")), BinOp::Add, Box::new(var("b"))),
        ),
        (
            "b",
            Expr::Binary(Box::new(var("b")), BinOp::Div, Box::new(Expr::Integer(3))),
        ),
        ("host", var("host")),
    ]);
    p.limit = 2;
    let out = run(&p);
    assert_eq!(
        out[0].values,
        vec![
            vec![
                t(0),
                f(2.0),
                f(11.0),
                f(10.0 / 3.0),
                Datum::String("h1".into())
            ],
            vec![
                t(5),
                f(10.0),
                f(6.0),
                f(1.0 / 3.0),
                Datum::String("h2".into())
            ],
        ]
    );
}

#[test]
fn aggregates_without_interval_are_stamped_with_the_range_start_and_a_lone_selector_keeps_time() {
    let out = run(&plan(vec![("count", call(Func::Count, var("a")))]));
    assert_eq!(out[0].values, vec![vec![t(0), i(5)]]);
    let out = run(&plan(vec![("max", call(Func::Max, var("a")))]));
    assert_eq!(out[0].values, vec![vec![t(5), f(5.0)]]);
    let out = run(&plan(vec![
        ("max", call(Func::Max, var("a"))),
        ("min", call(Func::Min, var("a"))),
    ]));
    assert_eq!(out[0].values, vec![vec![t(0), f(5.0), f(1.0)]]);
    let out = run(&plan(vec![
        ("sum", call(Func::Sum, var("b"))),
        ("mean", call(Func::Mean, var("b"))),
    ]));
    assert_eq!(out[0].values, vec![vec![t(0), i(38), f(9.5)]]);
}

#[test]
fn group_by_time_and_tag_with_fill_null_descending() {
    // influxd: SELECT mean(a) FROM m WHERE time >= 0s AND time <= 40s GROUP BY time(20s), host
    // ORDER BY time DESC → h2 then h1, windows 40, 20, 0.
    let mut p = plan(vec![("mean", call(Func::Mean, var("a")))]);
    p.start = 0;
    p.end = 40 * S;
    p.interval = Some(Interval {
        every: 20 * S,
        offset: 0,
    });
    p.group_by = vec!["host".into()];
    p.ascending = false;
    let out = run(&p);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].tags, vec![("host".to_string(), "h2".to_string())]);
    assert_eq!(
        out[0].values,
        vec![
            vec![t(40), Datum::Null],
            vec![t(20), f(4.0)],
            vec![t(0), f(5.0)]
        ]
    );
    assert_eq!(
        out[1].values,
        vec![
            vec![t(40), Datum::Null],
            vec![t(20), f(2.0)],
            vec![t(0), f(2.0)]
        ]
    );
}

#[test]
fn count_fills_with_zero_and_fill_modes() {
    let mut p = plan(vec![("count", call(Func::Count, var("a")))]);
    p.start = 0;
    p.end = 39 * S;
    p.interval = Some(Interval {
        every: 10 * S,
        offset: 0,
    });
    p.group_by = vec!["host".into()];
    let out = run(&p);
    // h2: a at 5 and 25.
    assert_eq!(
        out[1].values,
        vec![
            vec![t(0), i(1)],
            vec![t(10), i(0)],
            vec![t(20), i(1)],
            vec![t(30), i(0)]
        ]
    );
    let mut p = plan(vec![("mean", call(Func::Mean, var("a")))]);
    p.start = 0;
    p.end = 39 * S;
    p.interval = Some(Interval {
        every: 10 * S,
        offset: 0,
    });
    p.group_by = vec!["host".into()];
    for (mode, want) in [
        (Fill::Previous, vec![f(5.0), f(5.0), f(4.0), f(4.0)]),
        (Fill::Linear, vec![f(5.0), f(4.5), f(4.0), Datum::Null]),
        (Fill::Number(7.0), vec![f(5.0), f(7.0), f(4.0), f(7.0)]),
    ] {
        p.fill = mode;
        let out = run(&p);
        let got: Vec<Datum> = out[1].values.iter().map(|r| r[1].clone()).collect();
        assert_eq!(got, want, "{mode:?}");
    }
    p.fill = Fill::None;
    let out = run(&p);
    assert_eq!(out[1].values, vec![vec![t(0), f(5.0)], vec![t(20), f(4.0)]]);
}

#[test]
fn nested_derivative_reads_one_window_before_the_range_and_takes_math() {
    // h1 a: 1@0, 3@10, 2@20. Range 10..29 with GROUP BY time(10s): the 0s window feeds the
    // first derivative.
    let mut p = plan(vec![(
        "non_negative_derivative",
        Expr::Binary(
            Box::new(call(
                Func::Derivative {
                    unit: Some(S),
                    non_negative: true,
                },
                call(Func::Mean, var("a")),
            )),
            BinOp::Mul,
            Box::new(Expr::Integer(8)),
        ),
    )]);
    p.start = 10 * S;
    p.end = 29 * S;
    p.interval = Some(Interval {
        every: 10 * S,
        offset: 0,
    });
    p.group_by = vec!["host".into()];
    let out = run(&p);
    // (3-1)/10 * 8 = 1.6 at 10s; 2-3 < 0 dropped.
    assert_eq!(out[0].values, vec![vec![t(10), f(1.6)]]);
    // Plain derivative keeps the negative one: (2-3)/10s per 10s unit (default: the interval).
    p.fields[0].expr = call(
        Func::Derivative {
            unit: None,
            non_negative: false,
        },
        call(Func::Mean, var("a")),
    );
    let out = run(&p);
    assert_eq!(
        out[0].values,
        vec![vec![t(10), f(2.0)], vec![t(20), f(-1.0)]]
    );
}

#[test]
fn raw_transforms() {
    let mut p = plan(vec![(
        "difference",
        call(
            Func::Difference {
                non_negative: false,
            },
            var("b"),
        ),
    )]);
    p.group_by = vec!["host".into()];
    let out = run(&p);
    assert_eq!(out[0].values, vec![vec![t(10), i(10)]]);
    assert_eq!(out[1].values, vec![vec![t(40), i(6)]]);
    p.fields[0].expr = call(Func::CumulativeSum, var("a"));
    let out = run(&p);
    assert_eq!(
        out[0].values,
        vec![vec![t(0), f(1.0)], vec![t(10), f(4.0)], vec![t(20), f(6.0)]]
    );
    p.fields[0].expr = call(Func::Elapsed(S), var("a"));
    let out = run(&p);
    assert_eq!(out[1].values, vec![vec![t(25), i(20)]]);
    p.fields[0].expr = call(Func::MovingAverage(2), var("a"));
    let out = run(&p);
    assert_eq!(
        out[0].values,
        vec![vec![t(10), f(2.0)], vec![t(20), f(2.5)]]
    );
}

#[test]
fn conditions_on_tags_and_fields() {
    let mut p = plan(vec![("a", var("a"))]);
    p.condition = Some(Cond::And(
        Box::new(Cond::Cmp(var("host"), CmpOp::Eq, Expr::String("h1".into()))),
        Box::new(Cond::Cmp(var("a"), CmpOp::Gt, Expr::Integer(1))),
    ));
    let out = run(&p);
    assert_eq!(
        out[0].values,
        vec![vec![t(10), f(3.0)], vec![t(20), f(2.0)]]
    );
    // influxd: SELECT a FROM m WHERE b > 5 → only rows holding a.
    p.condition = Some(Cond::Cmp(var("b"), CmpOp::Gt, Expr::Integer(5)));
    let out = run(&p);
    assert_eq!(out[0].values, vec![vec![t(0), f(1.0)], vec![t(10), f(3.0)]]);
    p.condition = Some(Cond::Regex {
        var: VarRef {
            name: "host".into(),
            kind: VarKind::Any,
        },
        re: regex::Regex::new("2$").expect("regex"),
        negated: true,
    });
    let out = run(&p);
    assert_eq!(out[0].values.len(), 3);
}

#[test]
fn several_measurements_and_unknown_fields() {
    let mut p = plan(vec![("a", var("a"))]);
    p.sources.push(Source {
        bucket: bucket(),
        measurement: "m2".into(),
    });
    p.ascending = false;
    let out = run(&p);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].name, "m2");
    assert_eq!(out[1].values[0], vec![t(25), f(4.0)]);
    let out = run(&plan(vec![("zz", var("zz"))]));
    assert!(out.is_empty());
}

#[test]
fn row_limit_is_an_error_not_a_truncation() {
    let p = plan(vec![("a", var("a"))]);
    let err = execute(
        &p,
        &tenant(),
        &store(),
        Limits {
            max_scan_bytes: 1 << 30,
            max_rows: 3,
        },
    )
    .expect_err("over the limit");
    assert!(matches!(err, super::QueryError::TooManyRows { limit: 3 }));
}

#[test]
fn raw_fill_number_replaces_missing_fields_and_selectors_carry_aux_fields() {
    // influxd: SELECT a, b FROM m fill(0) → [20s, 2, 0], [25s, 4, 0], [40s, 0, 7].
    let mut p = plan(vec![("a", var("a")), ("b", var("b"))]);
    p.fill = Fill::Integer(0);
    let out = run(&p);
    let v = &out[0].values;
    assert_eq!(v[3], vec![t(20), f(2.0), i(0)]);
    assert_eq!(v[5], vec![t(40), f(0.0), i(7)]);
    // influxd: SELECT max(a), host, b FROM m → the max point's time, tag and field.
    let out = run(&plan(vec![
        ("max", call(Func::Max, var("a"))),
        ("host", var("host")),
        ("b", var("b")),
    ]));
    assert_eq!(
        out[0].values,
        vec![vec![t(5), f(5.0), Datum::String("h2".into()), i(1)]]
    );
}

#[test]
fn fill_previous_applies_inside_the_derivative_and_between_streams() {
    // influxd (with an extra point h3 a=9@30s): SELECT non_negative_derivative(mean(a),1s),
    // mean(b) ... GROUP BY time(10s) fill(previous) → [0,null,5.5] [10,0,20] [20,0,20]
    // [30,0.6,20] [40,0,7]. Here without h3: means of a 3,3,3,-,- .
    let mut p = plan(vec![
        (
            "non_negative_derivative",
            call(
                Func::Derivative {
                    unit: Some(S),
                    non_negative: true,
                },
                call(Func::Mean, var("a")),
            ),
        ),
        ("mean", call(Func::Mean, var("b"))),
    ]);
    p.start = 0;
    p.end = 40 * S;
    p.interval = Some(Interval {
        every: 10 * S,
        offset: 0,
    });
    p.fill = Fill::Previous;
    let out = run(&p);
    assert_eq!(
        out[0].values,
        vec![
            vec![t(0), Datum::Null, f(5.5)],
            vec![t(10), f(0.0), f(20.0)],
            vec![t(20), f(0.0), f(20.0)],
            vec![t(30), f(0.0), f(20.0)],
            vec![t(40), f(0.0), f(7.0)],
        ]
    );
}
