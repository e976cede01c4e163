//! `SHOW TAG VALUES` written as JSON straight from the index (`show::tag_values_json`) must be
//! byte for byte what the general path (rows, then `response::encode`) writes: random
//! catalogs with values that need escaping, every `WITH KEY` form, `FROM`, `LIMIT`/`OFFSET`,
//! and an absent database.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;

use super::parser::parse_query;
use super::response::{Epoch, encode};
use super::run::Runner;
use super::show_tests::{Catalog, ctx};
use crate::lineproto::FieldType;
use crate::model::TenantId;

const MEASUREMENTS: [&str; 3] = ["cpu", "if \"x\"", "mem"];
const KEYS: [&str; 3] = ["cpu", "host", "k\\q"];
const VALUES: [&str; 5] = ["a", "a\"b", "c\\d", "x,y é", "z"];

fn answer(store: &Catalog, q: &str, db: &str, series_json: bool) -> String {
    let tenant = TenantId::new("acme").unwrap();
    let runner = Runner {
        ctx: ctx(&tenant, db),
        store: Some(store),
        owned_dbs: &["db1".to_owned()],
        read_only: true,
        series_json,
    };
    encode(
        &runner.run(&parse_query(q).unwrap()),
        Epoch::from_param(Some("ms")),
    )
}

/// Per key: absent, or one of `VALUES`.
fn tags() -> impl Strategy<Value = Vec<Option<usize>>> {
    prop::collection::vec(prop::option::of(0..VALUES.len()), KEYS.len())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn tag_values_from_the_index_are_the_rows_json(
        // Per series: measurement, and per key absent or a value.
        series in prop::collection::vec((0..MEASUREMENTS.len(), tags()), 0..40),
        with_key in prop::sample::select(vec![
            "= \"host\"", "= \"k\\\\q\"", "IN (\"host\", \"cpu\")", "=~ /o|q/", "!= \"cpu\"",
            "!~ /^h/", "= \"absent\"",
        ]),
        from in prop::option::of(0..MEASUREMENTS.len()),
        limit in prop::option::of(0u64..6),
        offset in prop::option::of(0u64..8),
        db in prop::sample::select(vec!["db1", "nope"]),
    ) {
        let mut store = Catalog::default();
        for (m, tags) in &series {
            let tags: Vec<(&str, &str)> = KEYS
                .iter()
                .zip(tags)
                .filter_map(|(k, v)| v.map(|v| (*k, VALUES[v])))
                .collect();
            store.add("acme", "db1", MEASUREMENTS[*m], &tags, &[("v", FieldType::Float)]);
        }
        let mut q = "SHOW TAG VALUES".to_owned();
        if let Some(m) = from {
            q += &format!(" FROM \"{}\"", MEASUREMENTS[m].replace('"', "\\\""));
        }
        q += &format!(" WITH KEY {with_key}");
        if let Some(l) = limit {
            q += &format!(" LIMIT {l}");
        }
        if let Some(o) = offset {
            q += &format!(" OFFSET {o}");
        }
        let rows = answer(&store, &q, db, false);
        prop_assert_eq!(answer(&store, &q, db, true), rows, "{}", q);
    }
}
