//! `SHOW TAG VALUES` pages of values, and the plain statement (no `WHERE`) answered as JSON
//! straight from the series index (`Runner::series_json`): the most frequent Grafana
//! variable query, over every series of a measurement, without a row built per value.
//!
//! Owns: which values a `LIMIT`/`OFFSET` page holds (`value_pages`, `show::run` uses it
//! too). Does not own: the JSON's shape (`response::push_key_values`), the statement's other
//! rules (`show`).

use std::sync::Arc;

use super::ast::Statement;
use super::response::push_key_values;
use super::show::{KeyFilter, ShowError, bounds, database, sources};
use crate::query::QueryContext;
use crate::store::{ReadStore, SeriesIndex};

/// `SHOW TAG VALUES` without `WHERE`, its series written as the JSON of `show::run`'s answer
/// would be (`response::push_key_values`), straight from the index's values: no row is built.
/// `None` for another statement, or one with a `WHERE`, which `show::run` answers.
pub fn tag_values_json(
    stmt: &Statement,
    ctx: &QueryContext<'_>,
    store: &dyn ReadStore,
) -> Option<Result<String, ShowError>> {
    let Statement::ShowTagValues(st) = stmt else {
        return None;
    };
    if st.condition.is_some() {
        return None;
    }
    let json = || {
        let db = database(ctx, st.database.as_deref())?;
        let keys = KeyFilter::new(&st.key);
        let (skip, take) = bounds(st.limit, st.offset);
        let mut out = String::new();
        for (b, m) in sources(ctx, store, db, &st.sources)? {
            let index = store.series_index(ctx.tenant, &b, &m);
            push_key_values(&mut out, &m, &value_pages(&index, &keys, skip, take));
        }
        Ok(out)
    };
    Some(json())
}

/// Each key's page of values (in key order, each key's values sorted), for keys `keys`
/// matches: `take` values in all after skipping `skip` (InfluxDB pages a measurement's
/// (key, value) rows).
pub(super) fn value_pages<'i>(
    index: &'i SeriesIndex,
    keys: &KeyFilter,
    mut skip: usize,
    mut take: usize,
) -> Vec<(&'i str, &'i [Arc<str>])> {
    let mut out = Vec::new();
    for (k, vs) in index.tag_values().iter().filter(|(k, _)| keys.matches(k)) {
        if take == 0 {
            break;
        }
        let from = skip.min(vs.len());
        let page = &vs[from..from.saturating_add(take).min(vs.len())];
        skip -= from;
        take -= page.len();
        out.push((k.as_str(), page));
    }
    out
}
