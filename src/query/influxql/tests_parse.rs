//! Parser tests that read like docs/influxql.md: every query Grafana sends (reference/wire.md
//! §2.3, §2.11, §2.12) and the forms of issue 5 parse, print and parse back to the same tree;
//! the trees are what the spec says. Errors are in `tests_errors`.

use super::ast::*;
use super::parser::{parse_expr, parse_query};

/// Parses one statement, prints it, parses the print: both trees must be equal.
pub(super) fn roundtrip(q: &str) -> Statement {
    let parsed = parse_query(q).unwrap_or_else(|e| panic!("{q}\n  → {e}"));
    assert_eq!(parsed.statements.len(), 1, "{q}");
    let printed = parsed.to_string();
    let again = parse_query(&printed).unwrap_or_else(|e| panic!("{printed}\n  → {e}"));
    assert_eq!(parsed, again, "\n{q}\nprinted as\n{printed}");
    parsed.statements.into_iter().next().expect("one statement")
}

pub(super) fn select(q: &str) -> SelectStatement {
    match roundtrip(q) {
        Statement::Select(s) => *s,
        other => panic!("{q}: not a SELECT: {other:?}"),
    }
}

pub(super) fn var(name: &str) -> Expr {
    Expr::VarRef {
        name: name.to_owned(),
        data_type: None,
    }
}

fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Call {
        name: name.to_owned(),
        args,
    }
}

fn bin(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
    Expr::Binary {
        op,
        lhs: Box::new(lhs),
        rhs: Box::new(rhs),
    }
}

fn dur(text: &str, nanos: i64) -> DurationLit {
    DurationLit {
        nanos,
        text: text.to_owned(),
    }
}

fn re(p: &str) -> RegexLit {
    RegexLit::new(p.to_owned()).expect("valid")
}

const GRAFANA: &[&str] = &[
    // wire.md §2.3 (golden strings of Grafana's query builder)
    r#"SELECT mean("value") FROM "policy"."cpu" WHERE time >= 1596240000000ms and time <= 1596240300000ms GROUP BY time(10s) fill(null)"#,
    r#"SELECT mean("value") FROM "cpu" WHERE ("hostname" = 'server1' OR "hostname" = 'server2') AND time >= 1596240000000ms and time <= 1596240300000ms GROUP BY time(5s), "datacenter" fill(null)"#,
    r#"SELECT mean("value") FROM "cpu" WHERE time >= 1596240000000ms and time <= 1596240300000ms GROUP BY time(5s) ORDER BY time ASC limit 1 slimit 1 tz('Europe/Paris')"#,
    r#"SELECT mean("value") / 5000 FROM "cpu" WHERE time >= 1596240000000ms and time <= 1596240300000ms"#,
    r#"SELECT "name"::field, "key"::tag AS "alias" FROM "cpu" WHERE "key" = 'it\'s \\ here' AND "key" =~ /regex/"#,
    // wire.md §2.5 health check
    "SHOW measurements",
    // wire.md §2.11
    "SHOW DATABASES",
    "SHOW MEASUREMENTS",
    r#"SHOW TAG KEYS FROM "cpu""#,
    r#"SHOW TAG VALUES WITH KEY = "host""#,
    r#"SHOW TAG VALUES FROM "cpu" WITH KEY = "host""#,
    r#"SHOW TAG VALUES FROM "interface" WITH KEY = "ifName" WHERE "agent_host" =~ /^(10\.0\.0\.1)$/"#,
    r#"SHOW TAG VALUES FROM "ping" WITH KEY = "url" WHERE time >= 1717236000000ms and time <= 1717239600000ms"#,
    r#"SHOW FIELD KEYS FROM "cpu""#,
    r#"SHOW RETENTION POLICIES on "telegraf""#,
    "SHOW MEASUREMENTS LIMIT 100",
    "SHOW MEASUREMENTS WITH MEASUREMENT =~ /(?i)cp/ LIMIT 100",
    r#"SHOW FIELD KEYS FROM "autogen"."cpu""#,
    r#"SHOW TAG VALUES FROM "cpu" WITH KEY = "host" WHERE "cpu" = 'cpu-total'"#,
    // wire.md §2.12
    r#"SELECT mean("average_response_ms") FROM "ping" WHERE "url" =~ /^(8\.8\.8\.8|1\.1\.1\.1)$/ AND time >= 1717236000000ms and time <= 1717239600000ms GROUP BY time(10s), "url" fill(null)"#,
    r#"SELECT max("percent_packet_loss") AS "loss" FROM "ping" WHERE "url" =~ /^(8\.8\.8\.8)$/ AND time >= 1717236000000ms and time <= 1717239600000ms GROUP BY time(1m), "url" fill(none)"#,
    r#"SELECT non_negative_derivative(mean("ifHCInOctets"), 1s) *8 AS "in", non_negative_derivative(mean("ifHCOutOctets"), 1s) *8 AS "out" FROM "interface" WHERE ("agent_host" =~ /^(10\.0\.0\.1)$/ AND "ifName" =~ /^(Gi1\/0\/1|Gi1\/0\/2)$/) AND time >= 1717236000000ms and time <= 1717239600000ms GROUP BY time(30s), "ifName" fill(null)"#,
    r#"SELECT mean("usage_idle") FROM "autogen"."cpu" WHERE ("host" = 'web01' AND "cpu" = 'cpu-total') AND time >= 1717236000000ms and time <= 1717239600000ms GROUP BY time(10s) fill(null)"#,
];

const ISSUE: &[&str] = &[
    r#"SELECT * FROM "cpu""#,
    r#"SELECT *::field, *::tag FROM cpu"#,
    r#"SELECT "usage_idle" + 'x', usage_user * 2 - 1 % 3 & 4 | 5 ^ 6 FROM cpu"#,
    r#"SELECT mean("x"), median("x"), mode("x"), count("x"), sum("x"), min("x"), max("x"), first("x"), last("x"), spread("x"), stddev("x"), integral("x", 1s) FROM m"#,
    r#"SELECT percentile("x", 95), top("x", 3), bottom("x", "host", 2), count(distinct("x")), distinct("x") FROM m"#,
    r#"SELECT DISTINCT "x" FROM m"#,
    r#"SELECT derivative("x", 1m), non_negative_derivative(mean("x"), 1s), difference("x"), non_negative_difference(max("x")), moving_average(mean("x"), 3), cumulative_sum("x"), elapsed("x", 1ms) FROM m GROUP BY time(1m)"#,
    r#"SELECT -x, -(x + 1), +mean(y), - 5, -1.5, 10s, 1h30m, 200ms, 1u, 1µ, 1ns, 1w, 1d, true, FALSE, 'str' FROM m"#,
    r#"SELECT x::float, x::integer, x::unsigned, x::string, x::boolean FROM m"#,
    r#"SELECT x INTO "db"."rp"."m2" FROM m"#,
    r#"SELECT x INTO rp.:MEASUREMENT FROM /.*/"#,
    r#"SELECT x FROM m, "m2", rp.m, "db"."rp"."m", "db".."m", /regex/, "db"."rp"./re/, rp./re/"#,
    r#"SELECT max(x) FROM (SELECT mean(x) AS x FROM m GROUP BY time(1m)) GROUP BY time(1h)"#,
    r#"SELECT x FROM m WHERE a = 1 AND b != 2 OR c <> 3 and (d < 4 or e <= 5) AND f > 6 AND g >= 7.5"#,
    r#"SELECT x FROM m WHERE host =~ /web\d+/ AND dc !~ /eu-.*/ AND "x/y" = 'a'"#,
    r#"SELECT x FROM m WHERE time > now() - 1h AND time < now()"#,
    r#"SELECT x FROM m WHERE time >= '2024-06-01T10:00:00Z' AND time <= '2024-06-01 11:00:00' AND time > 1717236000000000000"#,
    r#"SELECT mean(x) FROM m GROUP BY time(10s, 5s), host, "dc" fill(previous)"#,
    r#"SELECT mean(x) FROM m GROUP BY time(1h, -15m), * fill(linear)"#,
    r#"SELECT mean(x) FROM m GROUP BY /regex/, time(10s) fill(0)"#,
    r#"SELECT mean(x) FROM m GROUP BY time(10s) fill(-1.5) ORDER BY time DESC LIMIT 10 OFFSET 2 SLIMIT 3 SOFFSET 4 tz('UTC')"#,
    r#"SELECT x FROM m ORDER BY DESC"#,
    r#"SHOW MEASUREMENTS ON telegraf WITH MEASUREMENT = cpu WHERE host = 'a' LIMIT 5 OFFSET 1"#,
    r#"SHOW TAG KEYS ON "db" FROM cpu, mem WHERE host = 'a' LIMIT 1 OFFSET 2 SLIMIT 3 SOFFSET 4"#,
    r#"SHOW TAG VALUES ON db FROM cpu WITH KEY != "host" LIMIT 1 OFFSET 1"#,
    r#"SHOW TAG VALUES WITH KEY =~ /ho.*/"#,
    r#"SHOW TAG VALUES WITH KEY !~ /ho.*/"#,
    r#"SHOW TAG VALUES WITH KEY IN ("a", "b")"#,
    r#"SHOW FIELD KEYS ON db FROM /c.*/ LIMIT 1 OFFSET 1"#,
    r#"SHOW RETENTION POLICIES"#,
    r#"SHOW SERIES ON db FROM cpu WHERE host = 'a' LIMIT 10 OFFSET 1"#,
    r#"CREATE DATABASE telegraf"#,
    r#"CREATE DATABASE "my db" WITH DURATION 2d REPLICATION 1 SHARD DURATION 1h NAME "rp""#,
    r#"CREATE DATABASE d WITH DURATION INF"#,
];

#[test]
fn every_grafana_and_issue_query_round_trips() {
    for q in GRAFANA.iter().chain(ISSUE) {
        roundtrip(q);
    }
    // All of them at once, as several statements.
    let all = GRAFANA
        .iter()
        .chain(ISSUE)
        .copied()
        .collect::<Vec<_>>()
        .join(";\n");
    let parsed = parse_query(&all).expect("all statements");
    assert_eq!(parsed.statements.len(), GRAFANA.len() + ISSUE.len());
    assert_eq!(parse_query(&parsed.to_string()).expect("printed"), parsed);
}

#[test]
fn the_interface_traffic_query_has_the_expected_tree() {
    let s = select(GRAFANA[21]);
    let deriv = |f: &str| {
        bin(
            BinaryOp::Mul,
            call(
                "non_negative_derivative",
                vec![
                    call("mean", vec![var(f)]),
                    Expr::Duration(dur("1s", 1_000_000_000)),
                ],
            ),
            Expr::Integer(8),
        )
    };
    assert_eq!(
        s.fields,
        vec![
            Field {
                expr: deriv("ifHCInOctets"),
                alias: Some("in".into())
            },
            Field {
                expr: deriv("ifHCOutOctets"),
                alias: Some("out".into())
            },
        ]
    );
    let m = Measurement {
        database: None,
        retention_policy: None,
        name: MeasurementName::Name("interface".into()),
    };
    assert_eq!(s.sources, vec![Source::Measurement(m)]);
    let time = |op, ms: &str, v: i64| bin(op, var("time"), Expr::Duration(dur(ms, v * 1_000_000)));
    let tags = Expr::Paren(Box::new(bin(
        BinaryOp::And,
        bin(
            BinaryOp::EqRegex,
            var("agent_host"),
            Expr::Regex(re(r"^(10\.0\.0\.1)$")),
        ),
        bin(
            BinaryOp::EqRegex,
            var("ifName"),
            Expr::Regex(re(r"^(Gi1/0/1|Gi1/0/2)$")),
        ),
    )));
    let cond = bin(
        BinaryOp::And,
        bin(
            BinaryOp::And,
            tags,
            time(BinaryOp::Gte, "1717236000000ms", 1_717_236_000_000),
        ),
        time(BinaryOp::Lte, "1717239600000ms", 1_717_239_600_000),
    );
    assert_eq!(s.condition, Some(cond));
    assert_eq!(
        s.group_by,
        vec![
            Dimension::Time {
                interval: dur("30s", 30_000_000_000),
                offset: None
            },
            Dimension::Tag("ifName".into()),
        ]
    );
    assert_eq!(s.fill, Some(Fill::Null));
}

#[test]
fn clauses_keep_what_was_written() {
    let s = select(ISSUE[20]);
    assert_eq!(s.fill, Some(Fill::Float(-1.5)));
    assert_eq!(s.order_by, Some(SortOrder::Desc));
    assert_eq!(
        (s.limit, s.offset, s.slimit, s.soffset),
        (Some(10), Some(2), Some(3), Some(4))
    );
    assert_eq!(s.tz.as_deref(), Some("UTC"));
    let s = select(ISSUE[18]);
    assert_eq!(
        s.group_by,
        vec![
            Dimension::Time {
                interval: dur("1h", 3_600_000_000_000),
                offset: Some(dur("-15m", -900_000_000_000))
            },
            Dimension::Wildcard,
        ]
    );
    let s = select(ISSUE[11]);
    let src = |db: Option<&str>, rp: Option<&str>, name: MeasurementName| {
        Source::Measurement(Measurement {
            database: db.map(Into::into),
            retention_policy: rp.map(Into::into),
            name,
        })
    };
    let n = |s: &str| MeasurementName::Name(s.into());
    let r = |s: &str| MeasurementName::Regex(re(s));
    assert_eq!(
        s.sources,
        vec![
            src(None, None, n("m")),
            src(None, None, n("m2")),
            src(None, Some("rp"), n("m")),
            src(Some("db"), Some("rp"), n("m")),
            src(Some("db"), None, n("m")),
            src(None, None, r("regex")),
            src(Some("db"), Some("rp"), r("re")),
            src(None, Some("rp"), r("re")),
        ]
    );
    let s = select(ISSUE[10]);
    assert_eq!(
        s.into,
        Some(IntoTarget {
            database: None,
            retention_policy: Some("rp".into()),
            measurement: None
        })
    );
    assert!(matches!(select(ISSUE[12]).sources[0], Source::Subquery(_)));
}

#[test]
fn unary_minus_and_literals_follow_influxdb() {
    let s = select(ISSUE[7]);
    let exprs: Vec<Expr> = s.fields.into_iter().map(|f| f.expr).collect();
    assert_eq!(exprs[0], bin(BinaryOp::Mul, Expr::Integer(-1), var("x")));
    assert!(
        matches!(&exprs[1], Expr::Binary { op: BinaryOp::Mul, rhs, .. } if matches!(**rhs, Expr::Paren(_)))
    );
    assert_eq!(
        exprs[2],
        bin(
            BinaryOp::Mul,
            Expr::Integer(1),
            call("mean", vec![var("y")])
        )
    );
    assert_eq!(exprs[3], Expr::Integer(-5));
    assert_eq!(exprs[4], Expr::Float(-1.5));
    assert_eq!(exprs[8], Expr::Duration(dur("1u", 1_000)));
    assert_eq!(exprs[9], Expr::Duration(dur("1µ", 1_000)));
    assert_eq!(exprs[14], Expr::Boolean(false));
    assert_eq!(
        parse_expr("-9223372036854775808"),
        Ok(Expr::Integer(i64::MIN))
    );
    assert_eq!(
        parse_expr("18446744073709551615"),
        Ok(Expr::Unsigned(u64::MAX))
    );
    assert_eq!(
        parse_expr("'a\\'b\\\\c\\nd'"),
        Ok(Expr::String("a'b\\c\nd".into()))
    );
    assert_eq!(parse_expr(r#""a\"b""#), Ok(var("a\"b")));
    assert_eq!(parse_expr("MEAN(x)"), Ok(call("mean", vec![var("x")])));
}

#[test]
fn precedence_is_influxdbs() {
    let e = parse_expr("a + b * c - d OR e = 1 AND f").expect("parses");
    let lhs = bin(
        BinaryOp::Sub,
        bin(
            BinaryOp::Add,
            var("a"),
            bin(BinaryOp::Mul, var("b"), var("c")),
        ),
        var("d"),
    );
    let and = bin(
        BinaryOp::And,
        bin(BinaryOp::Eq, var("e"), Expr::Integer(1)),
        var("f"),
    );
    assert_eq!(e, bin(BinaryOp::Or, lhs, and));
    // After a regex operator, a higher operator takes the regex as its left side, as InfluxDB does.
    let e = parse_expr("a =~ /x/ + 1").expect("parses");
    assert_eq!(
        e,
        bin(
            BinaryOp::EqRegex,
            var("a"),
            bin(BinaryOp::Add, Expr::Regex(re("x")), Expr::Integer(1))
        )
    );
}

#[test]
fn statements_separate_on_semicolons() {
    let q = parse_query("SELECT x FROM m;;; SHOW DATABASES;").expect("parses");
    assert_eq!(q.statements.len(), 2);
    assert_eq!(q.statements[1], Statement::ShowDatabases);
    assert_eq!(parse_query("").expect("empty"), Query::default());
    assert_eq!(
        parse_query(" ; ").expect("only separators"),
        Query::default()
    );
    let q = parse_query("select x from m -- trailing comment\n; /* c */ show databases")
        .expect("comments");
    assert_eq!(q.statements.len(), 2);
}

#[test]
fn admin_statements_are_recognised_by_name() {
    let cases = [
        ("DROP DATABASE telegraf", "DROP DATABASE"),
        ("drop measurement cpu", "DROP MEASUREMENT"),
        ("DROP SERIES FROM /a;b/ WHERE x = ';'", "DROP SERIES"),
        ("DELETE FROM cpu WHERE time < now() - 1d", "DELETE"),
        (
            "CREATE RETENTION POLICY rp ON db DURATION 1d REPLICATION 1 DEFAULT",
            "CREATE RETENTION POLICY",
        ),
        (
            "ALTER RETENTION POLICY rp ON db DURATION 2d",
            "ALTER RETENTION POLICY",
        ),
        ("DROP RETENTION POLICY rp ON db", "DROP RETENTION POLICY"),
        (
            "CREATE USER bob WITH PASSWORD 'x' WITH ALL PRIVILEGES",
            "CREATE USER",
        ),
        ("GRANT ALL TO bob", "GRANT"),
        ("REVOKE READ ON db FROM bob", "REVOKE"),
        ("SHOW USERS", "SHOW USERS"),
        ("SHOW GRANTS FOR bob", "SHOW GRANTS FOR"),
        ("KILL QUERY 12", "KILL QUERY"),
        ("SHOW QUERIES", "SHOW QUERIES"),
        ("SHOW STATS", "SHOW STATS"),
        ("SHOW DIAGNOSTICS", "SHOW DIAGNOSTICS"),
        ("SHOW SHARDS", "SHOW SHARDS"),
        ("SHOW SHARD GROUPS", "SHOW SHARD GROUPS"),
        ("SHOW SUBSCRIPTIONS", "SHOW SUBSCRIPTIONS"),
        ("SHOW CONTINUOUS QUERIES", "SHOW CONTINUOUS QUERIES"),
        ("EXPLAIN SELECT x FROM m", "EXPLAIN"),
        ("SET PASSWORD FOR bob = 'x'", "SET PASSWORD FOR"),
        ("SHOW SERIES CARDINALITY ON db", "SHOW SERIES CARDINALITY"),
        (
            "SHOW SERIES EXACT CARDINALITY",
            "SHOW SERIES EXACT CARDINALITY",
        ),
        (
            "SHOW MEASUREMENT CARDINALITY",
            "SHOW MEASUREMENT CARDINALITY",
        ),
        (
            "SHOW MEASUREMENT EXACT CARDINALITY",
            "SHOW MEASUREMENT EXACT CARDINALITY",
        ),
        ("SHOW TAG KEY CARDINALITY", "SHOW TAG KEY CARDINALITY"),
        (
            "SHOW TAG VALUES CARDINALITY WITH KEY = host",
            "SHOW TAG VALUES CARDINALITY",
        ),
        (
            "SHOW TAG VALUES EXACT CARDINALITY WITH KEY = host",
            "SHOW TAG VALUES EXACT CARDINALITY",
        ),
        (
            "SHOW FIELD KEY EXACT CARDINALITY",
            "SHOW FIELD KEY EXACT CARDINALITY",
        ),
    ];
    for (q, name) in cases {
        match roundtrip(q) {
            Statement::Unsupported { name: got, text } => {
                assert_eq!((got.as_str(), text.as_str()), (name, q));
            }
            other => panic!("{q}: {other:?}"),
        }
    }
    let q = parse_query("DROP DATABASE x -- gone\n; SHOW DATABASES").expect("parses");
    assert_eq!(q.statements.len(), 2);
    assert_eq!(parse_query(&q.to_string()).expect("printed"), q);
}
