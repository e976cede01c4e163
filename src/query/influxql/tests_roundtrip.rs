//! Property test: random valid statements, printed, parse back to the same tree.
//!
//! The generator builds trees the parser can produce (canonical ones): parentheses where
//! precedence needs them, regexes only where the grammar reads one, no comparison operators
//! in SELECT items, empty database / retention policy names absent rather than `""`.

use proptest::prelude::*;

use super::ast::*;
use super::parser::parse_query;

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z_][a-zA-Z0-9_]{0,6}",
        prop::sample::select(vec![
            "time", "select", "FROM", "and", "Or", "true", "fill", "tz", "now", "distinct", "1abc",
            "a.b", "", "µs",
        ])
        .prop_map(str::to_owned),
        "[^\\r\\x00]{0,6}",
    ]
}

fn name() -> impl Strategy<Value = String> {
    any_text().prop_filter("non-empty", |s| !s.is_empty())
}

fn regex_lit() -> impl Strategy<Value = RegexLit> {
    prop::sample::select(vec![
        "a",
        "^(10\\.0\\.0\\.1)$",
        "^(Gi1/0/1|Gi1/0/2)$",
        "(?i)cp",
        ".*",
        "x\\\\/y",
        "a b",
        "é+",
    ])
    .prop_map(|p| RegexLit::new(p.to_owned()).expect("valid"))
}

fn duration(allow_negative: bool) -> impl Strategy<Value = DurationLit> {
    const UNITS: [(&str, i64); 9] = [
        ("ns", 1),
        ("u", 1_000),
        ("µ", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
        ("d", 86_400_000_000_000),
        ("w", 604_800_000_000_000),
    ];
    let negative = if allow_negative {
        any::<bool>().boxed()
    } else {
        Just(false).boxed()
    };
    (
        prop::collection::vec((0i64..1000, 0usize..UNITS.len()), 1..3),
        negative,
    )
        .prop_map(|(parts, negative)| {
            let mut text = String::from(if negative { "-" } else { "" });
            let mut nanos = 0;
            for (n, u) in parts {
                text.push_str(&format!("{n}{}", UNITS[u].0));
                nanos += n * UNITS[u].1;
            }
            DurationLit {
                nanos: if negative { -nanos } else { nanos },
                text,
            }
        })
}

fn finite_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        -1e6f64..1e6,
        any::<f64>().prop_filter("finite", |v| v.is_finite())
    ]
}

fn leaf() -> impl Strategy<Value = Expr> {
    let data_type = prop::option::of(prop::sample::select(vec![
        DataType::Float,
        DataType::Integer,
        DataType::Unsigned,
        DataType::String,
        DataType::Boolean,
        DataType::Field,
        DataType::Tag,
    ]));
    prop_oneof![
        4 => (any_text(), data_type).prop_map(|(name, data_type)| Expr::VarRef { name, data_type }),
        2 => any::<i64>().prop_map(Expr::Integer),
        1 => ((i64::MAX as u64 + 1)..=u64::MAX).prop_map(Expr::Unsigned),
        2 => finite_float().prop_map(Expr::Float),
        2 => any_text().prop_map(Expr::String),
        1 => any::<bool>().prop_map(Expr::Boolean),
        2 => duration(true).prop_map(Expr::Duration),
        1 => prop::option::of(prop::sample::select(vec![WildcardKind::Field, WildcardKind::Tag]))
            .prop_map(Expr::Wildcard),
        1 => any_text().prop_map(Expr::Distinct),
    ]
}

/// A sign atom: what the parser makes of `-x` / `+x`.
fn is_sign_atom(e: &Expr) -> bool {
    matches!(e, Expr::Binary { op: BinaryOp::Mul, lhs, rhs }
        if matches!(**lhs, Expr::Integer(1) | Expr::Integer(-1))
            && matches!(**rhs, Expr::VarRef { .. } | Expr::Call { .. } | Expr::Paren(_)))
}

/// `lhs op rhs`, with the parentheses the parser would have needed.
fn binary(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
    let prec = |e: &Expr| match e {
        Expr::Binary { op, .. } if !is_sign_atom(e) => Some(op.precedence()),
        _ => None,
    };
    let paren = |e: Expr| Expr::Paren(Box::new(e));
    let lhs = match prec(&lhs) {
        Some(p) if p < op.precedence() => paren(lhs),
        _ => lhs,
    };
    let rhs = match prec(&rhs) {
        Some(p) if p <= op.precedence() => paren(rhs),
        _ => rhs,
    };
    Expr::Binary {
        op,
        lhs: Box::new(lhs),
        rhs: Box::new(rhs),
    }
}

const MATH: [BinaryOp; 8] = [
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Mul,
    BinaryOp::Div,
    BinaryOp::Mod,
    BinaryOp::BitAnd,
    BinaryOp::BitOr,
    BinaryOp::BitXor,
];
const BOOLEAN: [BinaryOp; 8] = [
    BinaryOp::Or,
    BinaryOp::And,
    BinaryOp::Eq,
    BinaryOp::Neq,
    BinaryOp::Lt,
    BinaryOp::Lte,
    BinaryOp::Gt,
    BinaryOp::Gte,
];

/// Expressions; with `boolean`, comparisons and `AND`/`OR` too (WHERE), else only math
/// (SELECT items, which InfluxDB refuses comparisons in).
fn expr(boolean: bool) -> BoxedStrategy<Expr> {
    let ops: Vec<BinaryOp> = if boolean {
        MATH.iter().chain(&BOOLEAN).copied().collect()
    } else {
        MATH.to_vec()
    };
    leaf()
        .prop_recursive(3, 24, 3, move |inner| {
            let arg = prop_oneof![4 => inner.clone(), 1 => regex_lit().prop_map(Expr::Regex)];
            let mut choices = vec![
                (
                    3,
                    (
                        prop::sample::select(ops.clone()),
                        inner.clone(),
                        inner.clone(),
                    )
                        .prop_map(|(op, l, r)| binary(op, l, r))
                        .boxed(),
                ),
                (
                    1,
                    inner.clone().prop_map(|e| Expr::Paren(Box::new(e))).boxed(),
                ),
                (
                    2,
                    ("[a-z_]{1,8}", prop::collection::vec(arg, 0..3))
                        .prop_map(|(name, args)| Expr::Call { name, args })
                        .boxed(),
                ),
                (
                    1,
                    (any::<bool>(), inner.clone())
                        .prop_filter_map("sign needs a var, call or paren", |(neg, e)| {
                            matches!(e, Expr::VarRef { .. } | Expr::Call { .. } | Expr::Paren(_))
                                .then(|| {
                                    let sign = Expr::Integer(if neg { -1 } else { 1 });
                                    Expr::Binary {
                                        op: BinaryOp::Mul,
                                        lhs: Box::new(sign),
                                        rhs: Box::new(e),
                                    }
                                })
                        })
                        .boxed(),
                ),
            ];
            if boolean {
                choices.push((
                    1,
                    (inner.clone(), any::<bool>(), regex_lit())
                        .prop_map(|(l, eq, re)| {
                            let op = if eq {
                                BinaryOp::EqRegex
                            } else {
                                BinaryOp::NeqRegex
                            };
                            binary(op, l, Expr::Regex(re))
                        })
                        .boxed(),
                ));
            }
            prop::strategy::Union::new_weighted(choices)
        })
        .boxed()
}

fn measurement() -> impl Strategy<Value = Measurement> {
    let mname = prop_oneof![
        3 => any_text().prop_map(MeasurementName::Name),
        1 => regex_lit().prop_map(MeasurementName::Regex),
    ];
    (prop::option::of(name()), prop::option::of(name()), mname).prop_map(
        |(database, retention_policy, name)| Measurement {
            database,
            retention_policy,
            name,
        },
    )
}

fn sources(subqueries: bool) -> BoxedStrategy<Vec<Source>> {
    let m = measurement().prop_map(Source::Measurement);
    if subqueries {
        let sub = select_statement(false).prop_map(|s| Source::Subquery(Box::new(s)));
        prop::collection::vec(prop_oneof![4 => m, 1 => sub], 1..3).boxed()
    } else {
        prop::collection::vec(m, 1..3).boxed()
    }
}

fn dimension() -> impl Strategy<Value = Dimension> {
    let other = expr(false).prop_filter("parses as another kind of dimension", |e| {
        !matches!(e, Expr::VarRef { .. } | Expr::Wildcard(_) | Expr::Regex(_))
            && !matches!(e, Expr::Call { name, .. } if name == "time")
    });
    prop_oneof![
        3 => (duration(false), prop::option::of(duration(true)))
            .prop_map(|(interval, offset)| Dimension::Time { interval, offset }),
        3 => any_text().prop_map(Dimension::Tag),
        1 => Just(Dimension::Wildcard),
        1 => regex_lit().prop_map(Dimension::Regex),
        1 => other.prop_map(Dimension::Other),
    ]
}

fn limit() -> impl Strategy<Value = Option<u64>> {
    prop::option::of(0..=i64::MAX as u64)
}

fn order() -> impl Strategy<Value = Option<SortOrder>> {
    prop::option::of(prop_oneof![Just(SortOrder::Asc), Just(SortOrder::Desc)])
}

fn select_statement(subqueries: bool) -> BoxedStrategy<SelectStatement> {
    let field_expr = prop_oneof![6 => expr(false), 1 => regex_lit().prop_map(Expr::Regex)];
    let field =
        (field_expr, prop::option::of(any_text())).prop_map(|(expr, alias)| Field { expr, alias });
    let into = prop::option::of(
        (
            prop::option::of(name()),
            prop::option::of(name()),
            prop::option::of(name()),
        )
            .prop_filter_map(
                ":MEASUREMENT needs a prefix",
                |(database, retention_policy, measurement)| {
                    (measurement.is_some() || database.is_some() || retention_policy.is_some())
                        .then_some(IntoTarget {
                            database,
                            retention_policy,
                            measurement,
                        })
                },
            ),
    );
    let fill = prop::option::of(prop_oneof![
        Just(Fill::Null),
        Just(Fill::None),
        Just(Fill::Previous),
        Just(Fill::Linear),
        any::<i64>().prop_map(Fill::Integer),
        finite_float().prop_map(Fill::Float),
    ]);
    let tz = prop::option::of(
        prop::sample::select(vec!["UTC", "Europe/Paris", "America/New_York"])
            .prop_map(str::to_owned),
    );
    (
        (
            prop::collection::vec(field, 1..3),
            into,
            sources(subqueries),
            prop::option::of(expr(true)),
        ),
        (
            prop::collection::vec(dimension(), 0..3),
            fill,
            order(),
            limit(),
            limit(),
            limit(),
            limit(),
            tz,
        ),
    )
        .prop_map(
            |(
                (fields, into, sources, condition),
                (group_by, fill, order_by, limit, offset, slimit, soffset, tz),
            )| {
                SelectStatement {
                    fields,
                    into,
                    sources,
                    condition,
                    group_by,
                    fill,
                    order_by,
                    limit,
                    offset,
                    slimit,
                    soffset,
                    tz,
                }
            },
        )
        .boxed()
}

fn statement() -> impl Strategy<Value = Statement> {
    let on = || prop::option::of(any_text());
    let cond = || prop::option::of(expr(true));
    let key = prop_oneof![
        any_text().prop_map(TagKeyFilter::Eq),
        any_text().prop_map(TagKeyFilter::Neq),
        regex_lit().prop_map(TagKeyFilter::EqRegex),
        regex_lit().prop_map(TagKeyFilter::NeqRegex),
        prop::collection::vec(any_text(), 1..3).prop_map(TagKeyFilter::In),
    ];
    let rp = (
        prop::option::of(duration(false)),
        prop::option::of(1u32..=i32::MAX as u32),
        prop::option::of(duration(false)),
        prop::option::of(any_text()),
    )
        .prop_map(
            |(duration, replication, shard_duration, name)| RetentionSpec {
                duration,
                replication,
                shard_duration,
                name,
            },
        )
        .prop_filter("WITH needs a part", |r| *r != RetentionSpec::default());
    prop_oneof![
        6 => select_statement(true).prop_map(|s| Statement::Select(Box::new(s))),
        1 => Just(Statement::ShowDatabases),
        1 => (on(), prop::option::of(measurement()), cond(), order(), limit(), limit()).prop_map(
            |(database, with_measurement, condition, order_by, limit, offset)| {
                Statement::ShowMeasurements(ShowMeasurements { database, with_measurement, condition, order_by, limit, offset })
            }),
        1 => (on(), prop::option::of(sources(false)), cond(), order(), (limit(), limit(), limit(), limit())).prop_map(
            |(database, sources, condition, order_by, (limit, offset, slimit, soffset))| {
                let sources = sources.unwrap_or_default();
                Statement::ShowTagKeys(ShowTagKeys { database, sources, condition, order_by, limit, offset, slimit, soffset })
            }),
        1 => (on(), prop::option::of(sources(false)), key, cond(), order(), limit(), limit()).prop_map(
            |(database, sources, key, condition, order_by, limit, offset)| {
                let sources = sources.unwrap_or_default();
                Statement::ShowTagValues(ShowTagValues { database, sources, key, condition, order_by, limit, offset })
            }),
        1 => (on(), prop::option::of(sources(false)), order(), limit(), limit()).prop_map(
            |(database, sources, order_by, limit, offset)| {
                let sources = sources.unwrap_or_default();
                Statement::ShowFieldKeys(ShowFieldKeys { database, sources, order_by, limit, offset })
            }),
        1 => on().prop_map(|database| Statement::ShowRetentionPolicies(ShowRetentionPolicies { database })),
        1 => (on(), prop::option::of(sources(false)), cond(), order(), limit(), limit()).prop_map(
            |(database, sources, condition, order_by, limit, offset)| {
                let sources = sources.unwrap_or_default();
                Statement::ShowSeries(ShowSeries { database, sources, condition, order_by, limit, offset })
            }),
        1 => (any_text(), prop::option::of(rp)).prop_map(|(name, retention)| Statement::CreateDatabase(CreateDatabase { name, retention })),
        1 => prop::sample::select(vec![
            ("DROP DATABASE", "DROP DATABASE x"),
            ("DROP SERIES", "drop series from /a;b/ where x = ';'"),
            ("SHOW TAG KEY CARDINALITY", "SHOW TAG KEY CARDINALITY"),
            ("DELETE", "DELETE FROM m -- a comment\n WHERE time < 0"),
        ])
        .prop_map(|(name, text)| Statement::Unsupported { name: name.to_owned(), text: text.to_owned() }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn printed_statements_parse_back_to_the_same_tree(
        statements in prop::collection::vec(statement(), 1..3)
    ) {
        let query = Query { statements };
        let text = query.to_string();
        let parsed = parse_query(&text);
        prop_assert_eq!(parsed.as_ref(), Ok(&query), "printed: {}", text);
    }
}
