//! `schema.*` predicates decided by the series index (`plan::Cond::select_series`) answer what the
//! interpreter answers when it calls the predicate once per series: random predicates over
//! tags that some series lack, `_measurement` and `_field`, with `and`, `or`, `not`, `==`,
//! `!=`, `=~` and `!~`, run both ways, and against what `filter(fn:)` keeps of the rows.

use proptest::prelude::*;

use super::tests_eval::T0;
use super::tests_lower::run;
use crate::query::exec::mem::MemStore;
use crate::store::Value as SV;

/// Two measurements whose series hold tags `a`, `b`, `c` or lack them; `n` has two fields.
fn data() -> MemStore {
    let mut m = MemStore::new();
    let series: [(&str, &[(&str, &str)]); 9] = [
        ("m", &[("a", "x"), ("b", "x")]),
        ("m", &[("a", "x"), ("b", "z"), ("c", "w")]),
        ("m", &[("a", "y")]),
        ("m", &[("b", "z")]),
        ("m", &[("c", "w")]),
        ("m", &[]),
        ("n", &[("a", "y"), ("b", "x")]),
        ("n", &[("a", "z"), ("c", "v")]),
        ("n", &[("b", "y"), ("c", "w")]),
    ];
    for (i, (measurement, tags)) in (0i64..).zip(series) {
        m.push(
            "acme",
            "telegraf",
            measurement,
            tags,
            if measurement == "n" {
                vec![("f", SV::Float(1.0)), ("g", SV::Float(2.0))]
            } else {
                vec![("f", SV::Float(1.0))]
            },
            T0 + i,
        )
        .expect("push");
    }
    m.seal().expect("seal");
    m
}

/// `r.k` or `r["k"]` compared with a string or matched by a regex.
fn atom() -> impl Strategy<Value = String> {
    let col = prop::sample::select(vec!["a", "b", "c", "d", "_measurement", "_field"]);
    let member = any::<bool>();
    let cmp = (
        prop::sample::select(vec!["==", "!="]),
        prop::sample::select(vec!["x", "y", "z", "w", "", "m", "f", "g"])
            .prop_map(|v| format!("{v:?}")),
    );
    let re = (
        prop::sample::select(vec!["=~", "!~"]),
        prop::sample::select(vec![
            "/x/", "/^$/", "/y|z/", "/^m$/", "/.*/", "/w|v/", "/^g/",
        ])
        .prop_map(str::to_owned),
    );
    (col, member, prop_oneof![cmp, re]).prop_map(|(col, member, (op, rhs))| {
        let col = if member {
            format!("r.{col}")
        } else {
            format!("r[{col:?}]")
        };
        format!("{col} {op} {rhs}")
    })
}

fn predicate() -> impl Strategy<Value = String> {
    atom().prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("({l} and {r})")),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("({l} or {r})")),
            inner.prop_map(|x| format!("not ({x})")),
        ]
    })
}

/// The non-empty last cells of an annotated CSV's data rows, sorted and distinct.
fn values(csv: &str) -> Vec<String> {
    let mut out: Vec<String> = csv
        .split("\r\n")
        .filter(|l| !l.starts_with('#') && !l.starts_with(",result,"))
        .filter_map(|l| l.rsplit(',').next())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect();
    out.sort();
    out.dedup();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn index_decided_predicates_answer_as_the_interpreter(
        tag in prop::sample::select(vec!["a", "b", "c"]),
        p in predicate(),
    ) {
        let m = data();
        let q = format!(
            "import \"influxdata/influxdb/schema\"\n\
             schema.tagValues(bucket: \"telegraf\", tag: \"{tag}\", predicate: (r) => {p})"
        );
        let (lowered, reads) = run(&m, &q, true);
        let (interpreted, _) = run(&m, &q, false);
        prop_assert_eq!(&lowered, &interpreted, "{}", q);
        // A measurement the predicate rejects by its name alone is never read. (No values
        // is one row with an empty `_value`.)
        let listed = interpreted.split("\r\n").any(|l| l.len() > 4 && l.starts_with(",,0,"));
        prop_assert!(reads > 0 || !listed, "not decided by the index: {}", q);

        // And what `filter` keeps of the rows themselves.
        let rows = format!(
            "from(bucket: \"telegraf\") |> range(start: 0) |> filter(fn: (r) => {p}) \
             |> filter(fn: (r) => exists r.{tag}) |> keep(columns: [\"{tag}\"]) |> group() \
             |> distinct(column: \"{tag}\")"
        );
        let (filtered, _) = run(&m, &rows, false);
        prop_assert_eq!(values(&lowered), values(&filtered), "{}\n{}", q, filtered);
    }
}
