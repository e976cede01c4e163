//! Lowering from query text: plans, errors and answers (the answers' expectations were checked
//! against InfluxDB 1.6.7 on the same points).

use super::{execute_select, lower_select};
use crate::model::{BucketName, TenantId};
use crate::query::exec::QueryError;
use crate::query::exec::mem::MemStore;
use crate::query::influxql::ast::Statement;
use crate::query::influxql::parse_query;
use crate::query::plan::{Interval, SelectPlan};
use crate::query::result::{Datum, QueryContext, Series};
use crate::store::Value;

const S: i64 = 1_000_000_000;

/// (host, fields, time in s).
type Point<'a> = (&'a str, &'a [(&'a str, Value)], i64);

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
        s.push(
            "t1",
            "telegraf/autogen",
            "m",
            &[("host", host)],
            fields.to_vec(),
            t * S,
        )
        .expect("push");
    }
    s.push(
        "t1",
        "telegraf/autogen",
        "m2",
        &[("host", "h1")],
        vec![("a", Value::Float(100.0))],
        15 * S,
    )
    .expect("push");
    s.push(
        "t1",
        "other/autogen",
        "m",
        &[("host", "x")],
        vec![("a", Value::Float(-1.0))],
        0,
    )
    .expect("push");
    s.seal().expect("seal");
    s
}

fn resolve(db: &str, rp: Option<&str>) -> Option<BucketName> {
    match db {
        "telegraf" | "other" => BucketName::new(&format!("{db}/{}", rp.unwrap_or("autogen"))).ok(),
        _ => None,
    }
}

fn with_ctx<T>(db: &str, f: impl FnOnce(&QueryContext<'_>) -> T) -> T {
    let tenant = TenantId::new("t1").expect("tenant");
    let ctx = QueryContext {
        tenant: &tenant,
        db,
        rp: None,
        resolve: &resolve,
        now_ns: 100 * S,
        max_scan_bytes: 1 << 30,
        max_rows: 10_000,
    };
    f(&ctx)
}

fn stmt(q: &str) -> crate::query::influxql::ast::SelectStatement {
    let mut parsed = parse_query(q).expect("parses");
    match parsed.statements.remove(0) {
        Statement::Select(s) => *s,
        other => panic!("not a select: {other:?}"),
    }
}

fn plan(q: &str) -> SelectPlan {
    with_ctx("telegraf", |ctx| lower_select(&stmt(q), ctx, &store())).expect("lowers")
}

fn run(q: &str) -> Vec<Series> {
    run_on("telegraf", q).expect("runs")
}

fn run_on(db: &str, q: &str) -> Result<Vec<Series>, QueryError> {
    with_ctx(db, |ctx| execute_select(&stmt(q), ctx, &store()))
}

fn err(q: &str) -> String {
    run_on("telegraf", q).expect_err("fails").to_string()
}

#[test]
fn grafana_query_lowers_to_range_window_group_and_hints() {
    let p = plan(
        r#"SELECT mean("a") FROM "m" WHERE "host" =~ /^(h1|h2)$/ AND time >= 0ms and time <= 40000ms GROUP BY time(20s), "host" fill(null)"#,
    );
    assert_eq!((p.start, p.end), (0, 40 * S));
    assert_eq!(
        p.interval,
        Some(Interval {
            every: 20 * S,
            offset: 0
        })
    );
    assert_eq!(p.group_by, vec!["host".to_string()]);
    assert_eq!(
        p.tag_hints,
        vec![("host".to_string(), vec!["h1".to_string(), "h2".to_string()])]
    );
    assert_eq!(p.fields[0].name, "mean");
}

#[test]
fn group_by_time_without_upper_bound_ends_now_and_now_arithmetic() {
    let p = plan("SELECT mean(a) FROM m WHERE time > now() - 50s GROUP BY time(10s)");
    assert_eq!((p.start, p.end), (50 * S + 1, 100 * S));
    let p = plan("SELECT a FROM m WHERE time < '1970-01-01T00:00:10Z'");
    assert_eq!(p.end, 10 * S - 1);
}

#[test]
fn column_names_are_deduplicated_like_influxdb() {
    // Aliases are reserved first; then generated names take _1, _2, ...
    // influxd: columns time, mean, mean_2, mean_1.
    let p = plan("SELECT mean(a), mean(a), max(a) AS mean_1 FROM m");
    let names: Vec<&str> = p.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, vec!["mean", "mean_2", "mean_1"]);
    let p = plan("SELECT a * 2 + b, a, a FROM m");
    let names: Vec<&str> = p.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, vec!["a_b", "a", "a_1"]);
    let p = plan(
        "SELECT non_negative_derivative(mean(a), 1s) * 8 AS \"in\", time AS ts FROM m WHERE time >= 0s GROUP BY time(10s)",
    );
    assert_eq!(p.time_column, "ts");
    assert_eq!(p.fields[0].name, "in");
}

#[test]
fn wildcards_expand_sorted_and_group_by_tags_leave_the_list() {
    let out = run("SELECT * FROM m");
    assert_eq!(out[0].columns, vec!["time", "a", "b", "host"]);
    let out = run("SELECT * FROM m GROUP BY host");
    assert_eq!(out[0].columns, vec!["time", "a", "b"]);
    assert_eq!(out[0].tags, vec![("host".to_string(), "h1".to_string())]);
    let out = run("SELECT mean(*) FROM m");
    assert_eq!(out[0].columns, vec!["time", "mean_a", "mean_b"]);
    assert_eq!(
        out[0].values,
        vec![vec![Datum::Time(0), Datum::Float(3.0), Datum::Float(9.5)]]
    );
}

#[test]
fn sources_resolve_per_statement_database_and_regex() {
    let out = run(r#"SELECT a FROM "other"."autogen"."m""#);
    assert_eq!(
        out[0].values,
        vec![vec![Datum::Time(0), Datum::Float(-1.0)]]
    );
    let out = run("SELECT max(a) FROM /^m/");
    let names: Vec<&str> = out.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["m", "m2"]);
    assert_eq!(
        err(r#"SELECT a FROM "nope".."m""#),
        "database not found: nope"
    );
    assert_eq!(
        run_on("", "SELECT a FROM m")
            .expect_err("no db")
            .to_string(),
        "database name required"
    );
}

#[test]
fn influxdb_compile_errors() {
    assert_eq!(
        err("SELECT mean(a), b FROM m"),
        "mixing aggregate and non-aggregate queries is not supported"
    );
    assert_eq!(
        err("SELECT max(a), min(a), b FROM m"),
        "mixing multiple selector functions with tags or fields is not supported"
    );
    assert_eq!(
        err("SELECT non_negative_derivative(a) FROM m WHERE time > 0s GROUP BY time(10s)"),
        "aggregate function required inside the call to non_negative_derivative"
    );
    assert_eq!(
        err("SELECT derivative(mean(a)) FROM m"),
        "derivative aggregate requires a GROUP BY interval"
    );
    assert_eq!(
        err("SELECT a FROM m WHERE time > 0s GROUP BY time(10s)"),
        "GROUP BY requires at least one aggregate function"
    );
    assert_eq!(err("SELECT foo(a) FROM m"), "undefined function foo()");
    assert_eq!(
        err("SELECT a FROM m fill(none)"),
        "fill(none) must be used with a function"
    );
    assert_eq!(
        err("SELECT mean(a, b) FROM m"),
        "invalid number of arguments for mean, expected 1, got 2"
    );
    assert_eq!(
        err("SELECT top(a, 1), mean(a) FROM m"),
        "selector function top() cannot be combined with other functions"
    );
    assert_eq!(
        err("SELECT distinct(a), b FROM m"),
        "aggregate function distinct() cannot be combined with other functions or fields"
    );
}

#[test]
fn answers_match_influxdb() {
    // influxd 1.6.7 on the same points.
    let out = run(
        "SELECT mean(a) FROM m WHERE time >= 0s AND time <= 40s GROUP BY time(20s), host ORDER BY time DESC",
    );
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].tags, vec![("host".to_string(), "h2".to_string())]);
    assert_eq!(
        out[0].values,
        vec![
            vec![Datum::Time(40 * S), Datum::Null],
            vec![Datum::Time(20 * S), Datum::Float(4.0)],
            vec![Datum::Time(0), Datum::Float(5.0)],
        ]
    );
    let out = run("SELECT count(a) FROM m WHERE time > 3s");
    assert_eq!(
        out[0].values,
        vec![vec![Datum::Time(3 * S + 1), Datum::Integer(4)]]
    );
    let out = run("SELECT a FROM m WHERE b > 5");
    assert_eq!(out[0].values.len(), 2);
    let out = run("SELECT count(distinct(a)), count(distinct b) FROM m");
    assert_eq!(
        out[0].values,
        vec![vec![Datum::Time(0), Datum::Integer(5), Datum::Integer(4)]]
    );
    // influxd: integral(a, 10s) ... GROUP BY time(20s) → [0s, 6], [20s, 1.5].
    let out =
        run("SELECT integral(a, 10s) FROM m WHERE time >= 0s and time <= 40s GROUP BY time(20s)");
    assert_eq!(
        out[0].values,
        vec![
            vec![Datum::Time(0), Datum::Float(6.0)],
            vec![Datum::Time(20 * S), Datum::Float(1.5)],
        ]
    );
    // influxd: GROUP BY time(20s, 5s) starts at the window holding the range start.
    let out = run("SELECT mean(a) FROM m WHERE time >= 0s AND time <= 40s GROUP BY time(20s, 5s)");
    assert_eq!(
        out[0].values[0],
        vec![Datum::Time(-15 * S), Datum::Float(1.0)]
    );
    assert_eq!(out[0].values.len(), 3);
    // influxd: tz() aligns a 1d window to local midnight (epoch=s: -3600).
    let out = run(
        "SELECT count(a) FROM m WHERE time >= 0s AND time <= 40s GROUP BY time(1d) tz('Europe/Paris')",
    );
    assert_eq!(
        out[0].values,
        vec![vec![Datum::Time(-3600 * S), Datum::Integer(5)]]
    );
    let out = run("SELECT top(a, 2) FROM m");
    assert_eq!(
        out[0].values,
        vec![
            vec![Datum::Time(5 * S), Datum::Float(5.0)],
            vec![Datum::Time(25 * S), Datum::Float(4.0)],
        ]
    );
    let out = run("SELECT a FROM m WHERE host = 'h1' OR a > 4 LIMIT 2 OFFSET 1");
    assert_eq!(
        out[0].values,
        vec![
            vec![Datum::Time(5 * S), Datum::Float(5.0)],
            vec![Datum::Time(10 * S), Datum::Float(3.0)],
        ]
    );
}
