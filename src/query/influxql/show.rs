//! SHOW statements over the store's catalog, answered as InfluxDB 1.x shapes them (wire.md §2.11).
//!
//! Owns: `SHOW DATABASES | MEASUREMENTS | TAG KEYS | TAG VALUES | FIELD KEYS | RETENTION POLICIES
//! | SERIES` and their `ON`, `FROM`, `WITH`, `WHERE`, `LIMIT`, `OFFSET` clauses.
//! Does not own: reading rows (SHOW reads only `ReadStore::{buckets, measurements, schema,
//! series}`), who may see which bucket (`QueryContext::resolve` and the caller's bucket list).
//!
//! Rules (InfluxDB 1.x's): TAG KEYS, TAG VALUES and FIELD KEYS answer one series per
//! measurement (measurements in name order, those with nothing to show left out), with
//! `LIMIT`/`OFFSET` applied inside each measurement and `SLIMIT`/`SOFFSET` to measurements;
//! MEASUREMENTS and SERIES answer one series, `LIMIT`/`OFFSET` over the whole list. A `WHERE`
//! keeps the series whose tags satisfy it (a missing tag equals `''`); time conditions in it are
//! ignored (series are not indexed by time).

use std::sync::Arc;
use std::time::Duration;

use arrow::buffer::BooleanBuffer;
use regex::Regex;

use super::ast::{BinaryOp, Expr, Measurement, MeasurementName, Source, Statement, TagKeyFilter};
use super::show_values::value_pages;
use crate::model::BucketName;
use crate::query::plan::{CmpOp, Cond, Expr as PExpr, VarKind, VarRef};
use crate::query::{Datum, QueryContext, Rows, Series};
use crate::store::{ReadStore, SeriesIndex, SeriesKey};

/// Why a SHOW statement has no answer; messages are InfluxDB's statement errors.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ShowError {
    #[error("database name required")]
    DatabaseRequired,
    #[error("database not found: {db}")]
    DatabaseNotFound { db: String },
    #[error("retention policy not found: {rp}")]
    RetentionPolicyNotFound { rp: String },
    #[error("SHOW MEASUREMENTS doesn't support time in WHERE clause")]
    MeasurementsTimeCondition,
    #[error("SHOW {what} does not support {feature}")]
    Unsupported {
        what: &'static str,
        feature: &'static str,
    },
}

/// Runs one SHOW statement. `owned_dbs` lists the tenant's v1 databases (for `SHOW DATABASES`).
pub fn run(
    stmt: &Statement,
    ctx: &QueryContext<'_>,
    store: &dyn ReadStore,
    owned_dbs: &[String],
) -> Result<Vec<Series>, ShowError> {
    match stmt {
        Statement::ShowDatabases => Ok(vec![one(
            "databases",
            &["name"],
            owned_dbs.iter().map(|d| vec![s(d)]).collect(),
        )]),
        Statement::ShowRetentionPolicies(st) => {
            let db = database(ctx, st.database.as_deref())?;
            let default = bucket(ctx, db, None)?;
            // Each bucket `db` is rp `autogen`, the default; `db/rp` buckets are further rps.
            let mut rps = vec![("autogen".to_owned(), default)];
            for other in owned_dbs_rps(store, ctx, db) {
                if let Some(b) = (ctx.resolve)(db, Some(&other)) {
                    rps.push((other, b));
                }
            }
            let values = rps
                .iter()
                .map(|(rp, b)| {
                    let keep = store.retention(ctx.tenant, b).unwrap_or_default();
                    vec![
                        s(rp),
                        s(&go_duration(keep)),
                        s(&go_duration(shard_group_duration(keep))),
                        Datum::Integer(1),
                        Datum::Boolean(rp == "autogen"),
                    ]
                })
                .collect();
            Ok(vec![one(
                "",
                &[
                    "name",
                    "duration",
                    "shardGroupDuration",
                    "replicaN",
                    "default",
                ],
                values,
            )])
        }
        Statement::ShowMeasurements(st) => {
            let db = database(ctx, st.database.as_deref())?;
            // InfluxDB answers SHOW MEASUREMENTS of an absent database with nothing, not an error.
            let Ok(b) = bucket(ctx, db, None) else {
                return Ok(Vec::new());
            };
            if st.condition.as_ref().is_some_and(mentions_time) {
                return Err(ShowError::MeasurementsTimeCondition);
            }
            let cond = st.condition.as_ref().map(TagCond::new);
            let filter = st
                .with_measurement
                .as_ref()
                .map(|m| NameFilter::new(&m.name));
            let mut names: Vec<Vec<Datum>> = store
                .measurements(ctx.tenant, &b)
                .into_iter()
                .filter(|m| filter.as_ref().is_none_or(|f| f.matches(m)))
                .filter(|m| {
                    cond.as_ref().is_none_or(|c| {
                        c.select(&store.series_index(ctx.tenant, &b, m))
                            .count_set_bits()
                            > 0
                    })
                })
                .map(|m| vec![Datum::String(m.into())])
                .collect();
            page(&mut names, st.limit, st.offset);
            Ok(nonempty(one("measurements", &["name"], names)))
        }
        Statement::ShowTagKeys(st) => {
            let db = database(ctx, st.database.as_deref())?;
            let cond = st.condition.as_ref().map(TagCond::new);
            let mut out = Vec::new();
            for (b, m) in sources(ctx, store, db, &st.sources)? {
                let mut keys: Vec<String> = match &cond {
                    None => store
                        .schema(ctx.tenant, &b, &m)
                        .map(|s| s.tags)
                        .unwrap_or_default(),
                    Some(c) => {
                        let index = store.series_index(ctx.tenant, &b, &m);
                        let mut keys: Vec<String> = c
                            .series(&index)
                            .flat_map(|k| k.iter().map(|(t, _)| t.clone()))
                            .collect();
                        keys.sort();
                        keys.dedup();
                        keys
                    }
                };
                page(&mut keys, st.limit, st.offset);
                if !keys.is_empty() {
                    out.push(one(
                        &m,
                        &["tagKey"],
                        keys.into_iter().map(|k| vec![s(&k)]).collect(),
                    ));
                }
            }
            page(&mut out, st.slimit, st.soffset);
            Ok(out)
        }
        Statement::ShowTagValues(st) => {
            let db = database(ctx, st.database.as_deref())?;
            let cond = st.condition.as_ref().map(TagCond::new);
            let keys = KeyFilter::new(&st.key);
            let mut out = Vec::new();
            for (b, m) in sources(ctx, store, db, &st.sources)? {
                let index = store.series_index(ctx.tenant, &b, &m);
                // Values are the index's shared strings; a key is shared by its rows. Rows
                // are made only for the page asked for.
                let (skip, take) = bounds(st.limit, st.offset);
                let mut key: Arc<str> = Arc::from("");
                let mut row = |k: &str, v: Arc<str>| {
                    if *key != *k {
                        key = Arc::from(k);
                    }
                    [Datum::String(key.clone()), Datum::String(v)]
                };
                let mut values = Rows::new(2);
                match &cond {
                    // Without WHERE: straight from the index of values per key (sorted), a
                    // key's page as one slice.
                    None => {
                        for (k, page) in value_pages(&index, &keys, skip, take) {
                            let key = Datum::String(Arc::from(k));
                            values.reserve(page.len());
                            for v in page {
                                values.push_pair(key.clone(), Datum::String(v.clone()));
                            }
                        }
                    }
                    // With WHERE: each key's values that a passing series holds, walked in
                    // the index's (key, value) order, so already sorted and distinct.
                    Some(c) => {
                        let hits = c.select(&index);
                        let pairs = index
                            .tag_values()
                            .keys()
                            .filter(|k| keys.matches(k))
                            .flat_map(|k| {
                                index
                                    .values_held(k, &hits)
                                    .into_iter()
                                    .map(move |v| (k.as_str(), v))
                            });
                        for (k, v) in pairs.skip(skip).take(take) {
                            values.push(row(k, v));
                        }
                    }
                }
                if !values.is_empty() {
                    out.push(series(&m, &["key", "value"], values));
                }
            }
            Ok(out)
        }
        Statement::ShowFieldKeys(st) => {
            let db = database(ctx, st.database.as_deref())?;
            let mut out = Vec::new();
            for (b, m) in sources(ctx, store, db, &st.sources)? {
                let mut fields = store
                    .schema(ctx.tenant, &b, &m)
                    .map(|s| s.fields)
                    .unwrap_or_default();
                page(&mut fields, st.limit, st.offset);
                if !fields.is_empty() {
                    let values = fields
                        .into_iter()
                        .map(|(k, t)| vec![s(&k), s(&t.to_string())])
                        .collect();
                    out.push(one(&m, &["fieldKey", "fieldType"], values));
                }
            }
            Ok(out)
        }
        Statement::ShowSeries(st) => {
            let db = database(ctx, st.database.as_deref())?;
            let cond = st.condition.as_ref().map(TagCond::new);
            let mut keys = Vec::new();
            for (b, m) in sources(ctx, store, db, &st.sources)? {
                let index = store.series_index(ctx.tenant, &b, &m);
                match &cond {
                    None => keys.extend(index.series().iter().map(|k| series_key(&m, k))),
                    Some(c) => keys.extend(c.series(&index).map(|k| series_key(&m, k))),
                }
            }
            // InfluxDB orders series by their escaped key.
            keys.sort();
            keys.dedup();
            page(&mut keys, st.limit, st.offset);
            let keys = keys.into_iter().map(|k| vec![s(&k)]).collect();
            Ok(nonempty(one("", &["key"], keys)))
        }
        _ => Ok(Vec::new()),
    }
}

/// InfluxDB 1.x's shard group duration for a retention (`0`: forever): a week for forever or
/// 180 days and more, a day from 2 days, else an hour.
fn shard_group_duration(retention: Duration) -> Duration {
    const DAY: u64 = 24 * 3600;
    match retention.as_secs() {
        0 => Duration::from_secs(7 * DAY),
        s if s >= 180 * DAY => Duration::from_secs(7 * DAY),
        s if s >= 2 * DAY => Duration::from_secs(DAY),
        _ => Duration::from_secs(3600),
    }
}

/// A duration as Go's `time.Duration.String` writes it (`48h0m0s`, `1m30s`, `0s`, `1.5s`).
fn go_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let nanos = d.subsec_nanos();
    if secs == 0 && nanos == 0 {
        return "0s".to_owned();
    }
    let (h, m, sec) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut sec_text = sec.to_string();
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        sec_text = format!("{sec}.{}", frac.trim_end_matches('0'));
    }
    if h > 0 {
        format!("{h}h{m}m{sec_text}s")
    } else if m > 0 {
        format!("{m}m{sec_text}s")
    } else {
        format!("{sec_text}s")
    }
}

/// Whether a condition compares `time`.
fn mentions_time(e: &Expr) -> bool {
    match e {
        Expr::Paren(inner) => mentions_time(inner),
        Expr::Binary { lhs, rhs, .. } => mentions_time(lhs) || mentions_time(rhs),
        Expr::VarRef { name, .. } => name.eq_ignore_ascii_case("time"),
        _ => false,
    }
}

fn s(v: &str) -> Datum {
    Datum::String(Arc::from(v))
}

fn one(name: &str, columns: &[&str], values: Vec<Vec<Datum>>) -> Series {
    series(name, columns, Rows::from_vecs(columns.len(), values))
}

fn series(name: &str, columns: &[&str], values: Rows) -> Series {
    Series {
        name: name.to_owned(),
        tags: Vec::new(),
        columns: columns.iter().map(|c| (*c).to_owned()).collect(),
        values,
        partial: false,
    }
}

/// An empty list answers no series at all (`{"statement_id":0}`), as InfluxDB does.
fn nonempty(series: Series) -> Vec<Series> {
    if series.values.is_empty() {
        Vec::new()
    } else {
        vec![series]
    }
}

/// `OFFSET` then `LIMIT` (0 = no limit).
fn page<T>(items: &mut Vec<T>, limit: Option<u64>, offset: Option<u64>) {
    let (skip, take) = bounds(limit, offset);
    items.drain(..skip.min(items.len()));
    items.truncate(take);
}

/// Items skipped and then kept for `OFFSET` and `LIMIT` (0 = no limit).
pub(super) fn bounds(limit: Option<u64>, offset: Option<u64>) -> (usize, usize) {
    let n = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    let take = limit.filter(|l| *l > 0).map_or(usize::MAX, n);
    (n(offset.unwrap_or(0)), take)
}

pub(super) fn database<'a>(
    ctx: &'a QueryContext<'_>,
    on: Option<&'a str>,
) -> Result<&'a str, ShowError> {
    let db = on.unwrap_or(ctx.db);
    if db.is_empty() {
        return Err(ShowError::DatabaseRequired);
    }
    Ok(db)
}

/// The bucket of `db` (and `rp`, else the request's): InfluxDB's errors for an absent database
/// or an absent retention policy of an existing (owned) one.
fn bucket(ctx: &QueryContext<'_>, db: &str, rp: Option<&str>) -> Result<BucketName, ShowError> {
    let rp = rp.or(ctx.rp).filter(|rp| !rp.is_empty());
    if let Some(b) = (ctx.resolve)(db, rp) {
        return Ok(b);
    }
    match rp {
        Some(rp) if (ctx.resolve)(db, None).is_some() => {
            Err(ShowError::RetentionPolicyNotFound { rp: rp.to_owned() })
        }
        _ => Err(ShowError::DatabaseNotFound { db: db.to_owned() }),
    }
}

/// The tenant's further retention policies of `db`: buckets named `db/<rp>` holding data.
fn owned_dbs_rps(store: &dyn ReadStore, ctx: &QueryContext<'_>, db: &str) -> Vec<String> {
    let mut rps: Vec<String> = store
        .buckets(ctx.tenant)
        .iter()
        .filter_map(|b| {
            b.as_str()
                .strip_prefix(db)?
                .strip_prefix('/')
                .map(str::to_owned)
        })
        .filter(|rp| rp != "autogen" && (ctx.resolve)(db, Some(rp)).is_some())
        .collect();
    rps.sort();
    rps.dedup();
    rps
}

/// (bucket, measurement) pairs a FROM list names, in measurement order; every measurement of
/// the statement's database when the list is empty.
pub(super) fn sources(
    ctx: &QueryContext<'_>,
    store: &dyn ReadStore,
    db: &str,
    from: &[Source],
) -> Result<Vec<(BucketName, String)>, ShowError> {
    let mut out = Vec::new();
    if from.is_empty() {
        let b = bucket(ctx, db, None)?;
        for m in store.measurements(ctx.tenant, &b) {
            out.push((b.clone(), m));
        }
        return Ok(out);
    }
    for src in from {
        let Source::Measurement(Measurement {
            database,
            retention_policy,
            name,
        }) = src
        else {
            return Err(ShowError::Unsupported {
                what: "statements",
                feature: "subqueries",
            });
        };
        let db = database.as_deref().unwrap_or(db);
        let b = bucket(ctx, db, retention_policy.as_deref())?;
        let filter = NameFilter::new(name);
        for m in store.measurements(ctx.tenant, &b) {
            if filter.matches(&m) {
                out.push((b.clone(), m));
            }
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out.dedup();
    Ok(out)
}

/// Line-protocol escaping of a series key, as `SHOW SERIES` prints it: `cpu,host=a\ b`.
fn series_key(measurement: &str, tags: &SeriesKey) -> String {
    let mut out = escape(measurement, &[',', ' ']);
    for (k, v) in tags {
        out.push(',');
        out.push_str(&escape(k, &[',', '=', ' ']));
        out.push('=');
        out.push_str(&escape(v, &[',', '=', ' ']));
    }
    out
}

fn escape(s: &str, special: &[char]) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A measurement name or regex from `FROM` / `WITH MEASUREMENT`.
enum NameFilter {
    Exact(String),
    Regex(Regex),
}

impl NameFilter {
    fn new(name: &MeasurementName) -> Self {
        match name {
            MeasurementName::Name(n) => Self::Exact(n.clone()),
            MeasurementName::Regex(r) => Self::Regex(r.regex().clone()),
        }
    }

    fn matches(&self, m: &str) -> bool {
        match self {
            Self::Exact(n) => n == m,
            Self::Regex(r) => r.is_match(m),
        }
    }
}

/// `WITH KEY …` of SHOW TAG VALUES.
pub(super) enum KeyFilter {
    Eq(String),
    Neq(String),
    Regex(Regex, bool),
    In(Vec<String>),
}

impl KeyFilter {
    pub(super) fn new(f: &TagKeyFilter) -> Self {
        match f {
            TagKeyFilter::Eq(k) => Self::Eq(k.clone()),
            TagKeyFilter::Neq(k) => Self::Neq(k.clone()),
            TagKeyFilter::EqRegex(r) => Self::Regex(r.regex().clone(), true),
            TagKeyFilter::NeqRegex(r) => Self::Regex(r.regex().clone(), false),
            TagKeyFilter::In(ks) => Self::In(ks.clone()),
        }
    }

    pub(super) fn matches(&self, key: &str) -> bool {
        match self {
            Self::Eq(k) => k == key,
            Self::Neq(k) => k != key,
            Self::Regex(r, want) => r.is_match(key) == *want,
            Self::In(ks) => ks.iter().any(|k| k == key),
        }
    }
}

/// A WHERE condition on tags, as the plan's condition: `=`, `!=`, `=~`, `!~` of a tag with a
/// string or regex; anything else (time, fields) does not filter series.
struct TagCond(Cond);

impl TagCond {
    fn new(e: &Expr) -> Self {
        Self(Self::lower(e))
    }

    fn lower(e: &Expr) -> Cond {
        let Expr::Binary { op, lhs, rhs } = e else {
            return match e {
                Expr::Paren(inner) => Self::lower(inner),
                _ => Cond::True,
            };
        };
        match op {
            BinaryOp::And => Cond::And(Box::new(Self::lower(lhs)), Box::new(Self::lower(rhs))),
            BinaryOp::Or => Cond::Or(Box::new(Self::lower(lhs)), Box::new(Self::lower(rhs))),
            BinaryOp::Eq | BinaryOp::Neq | BinaryOp::EqRegex | BinaryOp::NeqRegex => {
                let (key, lit) = match (&**lhs, &**rhs) {
                    (Expr::VarRef { name, .. }, lit) | (lit, Expr::VarRef { name, .. }) => {
                        (name, lit)
                    }
                    _ => return Cond::True,
                };
                if key == "time" {
                    return Cond::True;
                }
                let var = VarRef {
                    name: key.clone(),
                    kind: VarKind::Tag,
                };
                let positive = matches!(op, BinaryOp::Eq | BinaryOp::EqRegex);
                match lit {
                    Expr::String(v) => Cond::Cmp(
                        PExpr::Var(var),
                        if positive { CmpOp::Eq } else { CmpOp::Neq },
                        PExpr::String(v.clone()),
                    ),
                    Expr::Regex(r) => Cond::Regex {
                        var,
                        re: r.regex().clone(),
                        negated: !positive,
                    },
                    _ => Cond::True,
                }
            }
            _ => Cond::True,
        }
    }

    /// The series of `index` that pass, as a bitmap over its positions: each comparison is
    /// decided once per distinct value of its tag. (`lower` makes only conditions
    /// `select_series` decides; were one not, it would filter nothing, like a time condition.)
    fn select(&self, index: &SeriesIndex) -> BooleanBuffer {
        self.0
            .select_series(index)
            .unwrap_or_else(|| BooleanBuffer::new_set(index.series().len()))
    }

    /// The series of `index` that pass, in order.
    fn series<'a>(&self, index: &'a SeriesIndex) -> impl Iterator<Item = &'a SeriesKey> {
        let all = index.series();
        let hits: Vec<usize> = self.select(index).set_indices().collect();
        hits.into_iter().map(move |i| &all[i])
    }
}
