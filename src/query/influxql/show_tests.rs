//! SHOW statements against a small catalog, compared with what InfluxDB 1.6.7 answered for the
//! same points (checked by hand against a real influxd; the differential test covers more).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use arrow::record_batch::RecordBatch;

use super::parser::parse_query;
use super::show::{ShowError, run};
use crate::lineproto::FieldType;
use crate::model::{BucketName, TenantId};
use crate::query::{Datum, QueryContext, Series};
use crate::store::{MeasurementSchema, ReadStore, ScanRequest, SeriesKey, StoreError};

/// One measurement: its series and its fields.
type Entry = (Vec<SeriesKey>, Vec<(String, FieldType)>);

/// Catalog only: (tenant, bucket) → measurement → (series, fields).
#[derive(Default)]
pub(super) struct Catalog {
    data: BTreeMap<(String, String), BTreeMap<String, Entry>>,
    retention: Option<Duration>,
}

impl Catalog {
    pub(super) fn add(
        &mut self,
        tenant: &str,
        bucket: &str,
        m: &str,
        tags: &[(&str, &str)],
        fields: &[(&str, FieldType)],
    ) {
        let entry = self
            .data
            .entry((tenant.into(), bucket.into()))
            .or_default()
            .entry(m.into())
            .or_default();
        let mut key: SeriesKey = tags
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        key.sort();
        if !entry.0.contains(&key) {
            entry.0.push(key);
            entry.0.sort();
        }
        for (f, t) in fields {
            if !entry.1.iter().any(|(k, _)| k == f) {
                entry.1.push(((*f).into(), *t));
                entry.1.sort_by(|a, b| a.0.cmp(&b.0));
            }
        }
    }

    fn bucket(&self, tenant: &TenantId, bucket: &BucketName) -> Option<&BTreeMap<String, Entry>> {
        self.data
            .get(&(tenant.as_str().to_owned(), bucket.as_str().to_owned()))
    }
}

impl ReadStore for Catalog {
    fn buckets(&self, tenant: &TenantId) -> Vec<BucketName> {
        self.data
            .keys()
            .filter(|(t, _)| t == tenant.as_str())
            .map(|(_, b)| BucketName::new(b).unwrap())
            .collect()
    }

    fn measurements(&self, tenant: &TenantId, bucket: &BucketName) -> Vec<String> {
        self.bucket(tenant, bucket)
            .map(|b| b.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn schema(&self, tenant: &TenantId, bucket: &BucketName, m: &str) -> Option<MeasurementSchema> {
        let (series, fields) = self.bucket(tenant, bucket)?.get(m)?;
        let mut tags: Vec<String> = series.iter().flatten().map(|(k, _)| k.clone()).collect();
        tags.sort();
        tags.dedup();
        Some(MeasurementSchema {
            tags,
            fields: fields.clone(),
        })
    }

    fn series(&self, tenant: &TenantId, bucket: &BucketName, m: &str) -> Vec<SeriesKey> {
        self.bucket(tenant, bucket)
            .and_then(|b| b.get(m))
            .map(|(s, _)| s.clone())
            .unwrap_or_default()
    }

    fn scan(&self, _: &ScanRequest<'_>) -> Result<RecordBatch, StoreError> {
        unreachable!("SHOW does not scan rows")
    }

    fn retention(&self, _: &TenantId, _: &BucketName) -> Option<Duration> {
        self.retention
    }
}

/// The points used against influxd: `cpu,host=a,cpu=cpu0 usage_idle=90,usage_user=5i`,
/// `cpu,host=b,cpu=cpu0 usage_idle=80`, `cpu,host=a\ b,cpu=c\,1 usage_idle=70`,
/// `mem,host=a used=1i,host=5i`, `disk free=3`; tenant `other` has its own `db2`.
fn catalog() -> Catalog {
    let mut c = Catalog::default();
    let f = FieldType::Float;
    let i = FieldType::Integer;
    c.add(
        "acme",
        "db1",
        "cpu",
        &[("host", "a"), ("cpu", "cpu0")],
        &[("usage_idle", f), ("usage_user", i)],
    );
    c.add(
        "acme",
        "db1",
        "cpu",
        &[("host", "b"), ("cpu", "cpu0")],
        &[("usage_idle", f)],
    );
    c.add(
        "acme",
        "db1",
        "cpu",
        &[("host", "a b"), ("cpu", "c,1")],
        &[("usage_idle", f)],
    );
    c.add(
        "acme",
        "db1",
        "mem",
        &[("host", "a")],
        &[("used", i), ("host", i)],
    );
    c.add("acme", "db1", "disk", &[], &[("free", f)]);
    c.add("other", "db2", "secret", &[("host", "x")], &[("v", f)]);
    c
}

fn show(q: &str, db: &str) -> Result<Vec<Series>, ShowError> {
    show_in(&catalog(), q, db)
}

fn show_in(store: &Catalog, q: &str, db: &str) -> Result<Vec<Series>, ShowError> {
    let tenant = TenantId::new("acme").unwrap();
    let query = parse_query(q).unwrap();
    run(
        &query.statements[0],
        &ctx(&tenant, db),
        store,
        &["db1".to_owned()],
    )
}

/// Tenant `tenant` (acme) asking with `db`; it owns `db1` alone (rp `autogen`).
pub(super) fn ctx<'a>(tenant: &'a TenantId, db: &'a str) -> QueryContext<'a> {
    fn db1(db: &str, rp: Option<&str>) -> Option<BucketName> {
        (db == "db1" && rp.is_none_or(|r| r == "autogen")).then(|| BucketName::new("db1").unwrap())
    }
    QueryContext {
        tenant,
        db,
        rp: None,
        resolve: &db1,
        now_ns: 0,
        max_scan_bytes: usize::MAX,
        max_rows: usize::MAX,
    }
}

/// `[(name, [[cells as text]])]`, for compact expectations.
fn table(series: &[Series]) -> Vec<(String, Vec<Vec<String>>)> {
    series
        .iter()
        .map(|s| {
            let rows = s
                .values
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|d| match d {
                            Datum::String(s) => s.to_string(),
                            other => format!("{other:?}"),
                        })
                        .collect()
                })
                .collect();
            (s.name.clone(), rows)
        })
        .collect()
}

fn rows(v: &[&[&str]]) -> Vec<Vec<String>> {
    v.iter()
        .map(|r| r.iter().map(|c| (*c).to_owned()).collect())
        .collect()
}

#[test]
fn show_series_is_in_escaped_key_order_without_a_name() {
    let out = show("SHOW SERIES", "db1").unwrap();
    assert_eq!(out[0].columns, ["key"]);
    assert_eq!(
        table(&out),
        [(
            String::new(),
            rows(&[
                &["cpu,cpu=c\\,1,host=a\\ b"],
                &["cpu,cpu=cpu0,host=a"],
                &["cpu,cpu=cpu0,host=b"],
                &["disk"],
                &["mem,host=a"]
            ])
        )]
    );
    let out = show("SHOW SERIES FROM cpu WHERE host = 'a' LIMIT 1", "db1").unwrap();
    assert_eq!(table(&out)[0].1, rows(&[&["cpu,cpu=cpu0,host=a"]]));
}

#[test]
fn show_measurements_filters_and_pages() {
    let out = show("SHOW MEASUREMENTS WHERE host = 'b'", "db1").unwrap();
    assert_eq!(
        table(&out),
        [("measurements".to_owned(), rows(&[&["cpu"]]))]
    );
    let out = show("SHOW MEASUREMENTS LIMIT 1 OFFSET 1", "db1").unwrap();
    assert_eq!(table(&out)[0].1, rows(&[&["disk"]]));
    let out = show("SHOW MEASUREMENTS WITH MEASUREMENT =~ /(?i)CP/", "db1").unwrap();
    assert_eq!(table(&out)[0].1, rows(&[&["cpu"]]));
    // An absent database — or another tenant's — is an empty answer, as in InfluxDB 1.6.7.
    assert_eq!(show("SHOW MEASUREMENTS", "db2").unwrap(), vec![]);
    assert_eq!(show("SHOW MEASUREMENTS ON nope", "db1").unwrap(), vec![]);
    assert_eq!(
        show("SHOW MEASUREMENTS", ""),
        Err(ShowError::DatabaseRequired)
    );
}

#[test]
fn tag_and_field_keys_answer_one_series_per_measurement() {
    let out = show("SHOW TAG KEYS", "db1").unwrap();
    assert_eq!(
        table(&out),
        [
            ("cpu".to_owned(), rows(&[&["cpu"], &["host"]])),
            ("mem".to_owned(), rows(&[&["host"]]))
        ]
    );
    let out = show("SHOW TAG KEYS LIMIT 1", "db1").unwrap();
    assert_eq!(
        table(&out),
        [
            ("cpu".to_owned(), rows(&[&["cpu"]])),
            ("mem".to_owned(), rows(&[&["host"]]))
        ]
    );
    let out = show("SHOW FIELD KEYS", "db1").unwrap();
    assert_eq!(out[0].columns, ["fieldKey", "fieldType"]);
    assert_eq!(
        table(&out),
        [
            (
                "cpu".to_owned(),
                rows(&[&["usage_idle", "float"], &["usage_user", "integer"]])
            ),
            ("disk".to_owned(), rows(&[&["free", "float"]])),
            (
                "mem".to_owned(),
                rows(&[&["host", "integer"], &["used", "integer"]])
            ),
        ]
    );
    let out = show("SHOW FIELD KEYS FROM \"autogen\".\"cpu\"", "db1").unwrap();
    assert_eq!(table(&out).len(), 1);
}

#[test]
fn tag_values_by_key_forms() {
    let out = show(
        "SHOW TAG VALUES WITH KEY = \"host\" WHERE time > 1717236005000000000",
        "db1",
    )
    .unwrap();
    assert_eq!(out[0].columns, ["key", "value"]);
    assert_eq!(
        table(&out),
        [
            (
                "cpu".to_owned(),
                rows(&[&["host", "a"], &["host", "a b"], &["host", "b"]])
            ),
            ("mem".to_owned(), rows(&[&["host", "a"]])),
        ]
    );
    let out = show("SHOW TAG VALUES WITH KEY =~ /.*/ LIMIT 1", "db1").unwrap();
    assert_eq!(
        table(&out),
        [
            ("cpu".to_owned(), rows(&[&["cpu", "c,1"]])),
            ("mem".to_owned(), rows(&[&["host", "a"]]))
        ]
    );
    let out = show(
        "SHOW TAG VALUES FROM cpu WITH KEY IN (\"cpu\", \"host\") WHERE host =~ /^b$/",
        "db1",
    )
    .unwrap();
    assert_eq!(
        table(&out),
        [("cpu".to_owned(), rows(&[&["cpu", "cpu0"], &["host", "b"]]))]
    );
}

/// OFFSET and LIMIT page the (key, value) rows across keys, with and without WHERE; a page past
/// the end answers no series for the measurement.
#[test]
fn show_tag_values_pages_across_keys() {
    let all = "SHOW TAG VALUES FROM cpu WITH KEY IN (\"cpu\", \"host\")";
    let out = show(&format!("{all} LIMIT 2 OFFSET 2"), "db1").unwrap();
    assert_eq!(
        table(&out),
        [("cpu".to_owned(), rows(&[&["host", "a"], &["host", "a b"]]))]
    );
    let out = show(&format!("{all} WHERE host != 'a' LIMIT 2 OFFSET 1"), "db1").unwrap();
    assert_eq!(
        table(&out),
        [(
            "cpu".to_owned(),
            rows(&[&["cpu", "cpu0"], &["host", "a b"]])
        )]
    );
    assert_eq!(show(&format!("{all} OFFSET 5"), "db1").unwrap(), vec![]);
}

/// Every page of the values of several keys is the same slice of the whole list.
#[test]
fn show_tag_values_every_page_is_a_slice_of_the_list() {
    let all = "SHOW TAG VALUES FROM cpu WITH KEY IN (\"cpu\", \"host\")";
    let whole = table(&show(all, "db1").unwrap()).remove(0).1;
    for offset in 0..=whole.len() + 1 {
        for limit in 0..=whole.len() + 1 {
            let q = format!("{all} LIMIT {limit} OFFSET {offset}");
            let end = if limit == 0 {
                whole.len()
            } else {
                (offset + limit).min(whole.len())
            };
            let want = whole
                .get(offset.min(whole.len())..end.max(offset.min(whole.len())))
                .unwrap_or(&[]);
            let got = table(&show(&q, "db1").unwrap());
            let got = got.first().map(|(_, r)| r.as_slice()).unwrap_or(&[]);
            assert_eq!(got, want, "{q}");
        }
    }
}

#[test]
fn absent_and_foreign_databases_answer_alike() {
    for q in [
        "SHOW TAG KEYS",
        "SHOW FIELD KEYS",
        "SHOW SERIES",
        "SHOW TAG VALUES WITH KEY = \"host\"",
        "SHOW RETENTION POLICIES",
    ] {
        assert_eq!(
            show(q, "nope"),
            Err(ShowError::DatabaseNotFound { db: "nope".into() }),
            "{q}"
        );
        assert_eq!(
            show(q, "db2"),
            Err(ShowError::DatabaseNotFound { db: "db2".into() }),
            "{q}"
        );
        assert_eq!(show(q, ""), Err(ShowError::DatabaseRequired), "{q}");
    }
    assert_eq!(
        show("SHOW FIELD KEYS FROM \"nope\".\"cpu\"", "db1"),
        Err(ShowError::RetentionPolicyNotFound { rp: "nope".into() })
    );
}

#[test]
fn databases_and_retention_policies() {
    let out = show("SHOW DATABASES", "").unwrap();
    assert_eq!(table(&out), [("databases".to_owned(), rows(&[&["db1"]]))]);
    let out = show("SHOW RETENTION POLICIES ON db1", "").unwrap();
    assert_eq!(
        out[0].columns,
        [
            "name",
            "duration",
            "shardGroupDuration",
            "replicaN",
            "default"
        ]
    );
    assert_eq!(
        out[0].values,
        vec![vec![
            Datum::String("autogen".into()),
            Datum::String("0s".into()),
            Datum::String("168h0m0s".into()),
            Datum::Integer(1),
            Datum::Boolean(true)
        ]]
    );
}

/// InfluxDB 1.6.7 answers `CREATE DATABASE d WITH DURATION 48h` then `SHOW RETENTION POLICIES
/// ON d` with `48h0m0s` and a `24h0m0s` shard group; 1h → `1h0m0s`/`1h0m0s`; 200 days →
/// `4800h0m0s`/`168h0m0s`; 90 minutes → `1h30m0s`/`1h0m0s`.
#[test]
fn retention_policies_show_the_store_retention_as_influxdb_prints_it() {
    for (keep, duration, shard) in [
        (48 * 3600, "48h0m0s", "24h0m0s"),
        (3600, "1h0m0s", "1h0m0s"),
        (5400, "1h30m0s", "1h0m0s"),
        (200 * 86400, "4800h0m0s", "168h0m0s"),
        (180 * 86400 - 1, "4319h59m59s", "24h0m0s"),
    ] {
        let mut store = catalog();
        store.retention = Some(Duration::from_secs(keep));
        let out = show_in(&store, "SHOW RETENTION POLICIES ON db1", "").unwrap();
        assert_eq!(
            out[0].values[0][1..3],
            [Datum::String(duration.into()), Datum::String(shard.into())],
            "{keep}"
        );
    }
}

/// A tag condition of SHOW's WHERE, with its meaning written out: a tag a series lacks reads
/// as `""`.
#[derive(Debug, Clone)]
enum Model {
    Eq(&'static str, &'static str, bool),
    Regex(&'static str, &'static str, bool),
    And(Box<Model>, Box<Model>),
    Or(Box<Model>, Box<Model>),
}

impl Model {
    fn text(&self) -> String {
        match self {
            Self::Eq(k, v, pos) => format!("\"{k}\" {} '{v}'", if *pos { "=" } else { "!=" }),
            Self::Regex(k, re, pos) => format!("\"{k}\" {} /{re}/", if *pos { "=~" } else { "!~" }),
            Self::And(a, b) => format!("({} AND {})", a.text(), b.text()),
            Self::Or(a, b) => format!("({} OR {})", a.text(), b.text()),
        }
    }

    fn holds(&self, tags: &[(&str, &str)]) -> bool {
        let value = |k: &str| tags.iter().find(|(t, _)| *t == k).map_or("", |(_, v)| *v);
        match self {
            Self::Eq(k, v, pos) => (value(k) == *v) == *pos,
            Self::Regex(k, re, pos) => regex::Regex::new(re).unwrap().is_match(value(k)) == *pos,
            Self::And(a, b) => a.holds(tags) && b.holds(tags),
            Self::Or(a, b) => a.holds(tags) || b.holds(tags),
        }
    }
}

fn model() -> impl proptest::strategy::Strategy<Value = Model> {
    use proptest::prelude::*;
    let key = prop::sample::select(vec!["a", "b", "c", "d"]);
    let leaf = prop_oneof![
        (
            key.clone(),
            prop::sample::select(vec!["x", "y", "z", ""]),
            any::<bool>()
        )
            .prop_map(|(k, v, pos)| Model::Eq(k, v, pos)),
        (
            key,
            prop::sample::select(vec!["x", "^$", "y|z", ".*", "^x$"]),
            any::<bool>()
        )
            .prop_map(|(k, re, pos)| Model::Regex(k, re, pos)),
    ];
    leaf.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Model::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Model::Or(Box::new(a), Box::new(b))),
        ]
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// WHERE is decided by the index of values (`TagCond::select`): SHOW SERIES and SHOW TAG
    /// VALUES list what the condition's meaning, applied series by series, lets through.
    #[test]
    fn tag_conditions_select_the_series_they_hold_for(cond in model()) {
        let series: [&[(&str, &str)]; 7] = [
            &[("a", "x"), ("b", "x")],
            &[("a", "x"), ("b", "z"), ("c", "x")],
            &[("a", "y")],
            &[("b", "z")],
            &[("c", "y")],
            &[],
            &[("a", "z"), ("b", "y"), ("c", "x")],
        ];
        let mut store = Catalog::default();
        for tags in series {
            store.add("acme", "db1", "m", tags, &[("f", FieldType::Float)]);
        }
        let passing: Vec<_> = series.iter().filter(|t| cond.holds(t)).collect();
        let where_ = cond.text();

        let out = show_in(&store, &format!("SHOW SERIES FROM m WHERE {where_}"), "db1").unwrap();
        let mut want: Vec<Vec<String>> = passing
            .iter()
            .map(|tags| {
                let mut key = "m".to_owned();
                for (k, v) in tags.iter() {
                    key.push_str(&format!(",{k}={v}"));
                }
                vec![key]
            })
            .collect();
        want.sort();
        let got = table(&out).into_iter().flat_map(|(_, r)| r).collect::<Vec<_>>();
        proptest::prop_assert_eq!(got, want, "{}", where_);

        let q = format!("SHOW TAG VALUES FROM m WITH KEY IN (\"a\", \"c\") WHERE {where_}");
        let out = show_in(&store, &q, "db1").unwrap();
        let mut want: Vec<Vec<String>> = passing
            .iter()
            .flat_map(|tags| tags.iter().filter(|(k, _)| *k != "b"))
            .map(|(k, v)| vec![(*k).to_owned(), (*v).to_owned()])
            .collect();
        want.sort();
        want.dedup();
        let got = table(&out).into_iter().flat_map(|(_, r)| r).collect::<Vec<_>>();
        proptest::prop_assert_eq!(got, want, "{}", q);

        let out = show_in(&store, &format!("SHOW MEASUREMENTS WHERE {where_}"), "db1").unwrap();
        proptest::prop_assert_eq!(out.is_empty(), passing.is_empty(), "{}", where_);
    }
}
