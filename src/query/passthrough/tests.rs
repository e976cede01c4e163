#![allow(clippy::unwrap_used)]

use super::*;
use crate::config::Config;
use crate::query::flux::parser;
use crate::query::influxql::parse_query;
use crate::tenant::{Registry, Tenant, token};
use std::sync::Arc;

/// `acme` owns `telegraf` and `telegraf/weekly` upstream as `acme_…`; `wild` owns every bucket.
fn tenants() -> (Arc<Tenant>, Arc<Tenant>) {
    let text = format!(
        r#"
[upstream]
url = "http://influx:8086"
[[tenant]]
id = "acme"
token_sha256 = ["{}"]
buckets = ["telegraf", "telegraf/weekly"]
upstream = {{ org = "acme", token = "acme-token", bucket_prefix = "acme_" }}
[[tenant]]
id = "wild"
token_sha256 = ["{}"]
buckets = ["*"]
"#,
        token::hash("a"),
        token::hash("w"),
    );
    let reg = Registry::from_config(&Config::from_toml_str(&text, |_| None).unwrap()).unwrap();
    (
        reg.authenticate("a").unwrap(),
        reg.authenticate("w").unwrap(),
    )
}

fn ql(t: &Tenant, q: &str, db: Option<&str>) -> Result<influxql::Checked, Refusal> {
    influxql::check(t, parse_query(q).unwrap(), db, None)
}

#[test]
fn influxql_reads_of_owned_databases_are_rewritten_to_the_upstream_names() {
    let (acme, _) = tenants();
    let c = ql(
        &acme,
        "SELECT mean(x) FROM cpu WHERE time > now() - 1h GROUP BY time(1m)",
        Some("telegraf"),
    )
    .unwrap();
    assert_eq!(c.db.as_deref(), Some("acme_telegraf"));
    assert_eq!(
        c.text,
        "SELECT mean(x) FROM cpu WHERE time > now() - 1h GROUP BY time(1m)"
    );
    let c = ql(
        &acme,
        r#"SELECT * FROM "telegraf"."weekly"."cpu"; SHOW MEASUREMENTS ON telegraf; SHOW DATABASES"#,
        None,
    )
    .unwrap();
    assert_eq!(
        c.text,
        "SELECT * FROM acme_telegraf.weekly.cpu; SHOW MEASUREMENTS ON acme_telegraf; SHOW DATABASES"
    );
    assert_eq!(c.show_databases, vec![2]);
    let c = ql(
        &acme,
        r#"SELECT * FROM (SELECT * FROM "telegraf".."cpu")"#,
        None,
    )
    .unwrap();
    assert!(c.text.contains("acme_telegraf..cpu"), "{}", c.text);
    let c = ql(&acme, "CREATE DATABASE telegraf", None).unwrap();
    assert_eq!(c.text, "CREATE DATABASE acme_telegraf");
}

#[test]
fn influxql_refuses_other_databases_writes_and_admin_statements() {
    let (acme, _) = tenants();
    for (q, db) in [
        ("SELECT * FROM cpu", Some("other")),
        (r#"SELECT * FROM "other".."cpu""#, Some("telegraf")),
        (r#"SELECT * FROM "other"."autogen"."cpu""#, Some("telegraf")),
        ("SELECT * FROM monthly.cpu", Some("telegraf")),
        (
            r#"SELECT * FROM (SELECT * FROM "other".."cpu")"#,
            Some("telegraf"),
        ),
        ("SHOW MEASUREMENTS ON other", Some("telegraf")),
        ("SHOW TAG KEYS ON other", None),
        (
            r#"SHOW TAG VALUES FROM "other"."autogen"."cpu" WITH KEY = "host""#,
            Some("telegraf"),
        ),
        ("SHOW FIELD KEYS ON other", None),
        ("SHOW SERIES ON other", None),
        ("SHOW RETENTION POLICIES ON other", None),
        ("SELECT * INTO copy FROM cpu", Some("telegraf")),
        ("DROP DATABASE telegraf", None),
        ("DROP MEASUREMENT cpu", Some("telegraf")),
        ("DELETE FROM cpu", Some("telegraf")),
        ("CREATE DATABASE other", None),
        ("CREATE USER x WITH PASSWORD 'y' WITH ALL PRIVILEGES", None),
        ("GRANT ALL TO x", None),
        ("SHOW USERS", None),
        ("SHOW QUERIES", None),
        ("SHOW SHARDS", None),
        ("SHOW DATABASES; DROP SERIES FROM cpu", Some("telegraf")),
    ] {
        let r = ql(&acme, q, db);
        let err = r.expect_err(q);
        assert!(!err.message.contains("other"), "{q}: {}", err.message);
    }
}

#[test]
fn show_databases_keeps_the_tenants_own_under_their_own_names() {
    let (acme, wild) = tenants();
    let body = br#"{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["_internal"],["acme_telegraf"],["beta_telegraf"],["telegraf"],["acme_secret"]]}]},{"statement_id":1,"series":[{"name":"cpu","columns":["name"],"values":[["acme_x"]]}]}]}
"#;
    let out = showdb::filter(&acme, body, &[0]).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"databases\",\"columns\":[\"name\"],\"values\":[[\"telegraf\"]]}]},{\"statement_id\":1,\"series\":[{\"name\":\"cpu\",\"columns\":[\"name\"],\"values\":[[\"acme_x\"]]}]}]}\n"
    );
    let out = showdb::filter(&wild, body, &[0]).unwrap();
    assert!(String::from_utf8(out).unwrap().contains("beta_telegraf"));
    let none = br#"{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["beta"]]}]}]}"#;
    let out = showdb::filter(&acme, none, &[0]).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"databases\",\"columns\":[\"name\"]}]}]}\n"
    );
}

fn fx(t: &Tenant, src: &str) -> Result<flux::Plan, Refusal> {
    flux::check(t, &parser::parse(src).unwrap(), src)
}

#[test]
fn flux_bucket_literals_are_rewritten_in_place() {
    let (acme, _) = tenants();
    let src = "import \"influxdata/influxdb/schema\"\n// é comment\nx = from(bucket: \"telegraf\")\n  |> range(start: -1h)\ny = schema.measurements(bucket: \"telegraf/weekly\")";
    let Ok(flux::Plan::Upstream(text)) = fx(&acme, src) else {
        panic!("refused");
    };
    assert_eq!(
        text,
        "import \"influxdata/influxdb/schema\"\nx = from(bucket: \"acme_telegraf\")\n|> range(start: -1h)\ny = schema.measurements(bucket: \"acme_telegraf/weekly\")"
    );
    // Tokens go as written; comments do not go at all.
    let src = "from(bucket:\"telegraf\") // to(bucket: \"x\")\n |> filter(fn: (r) => r._value =~ /a\\/b/ and r.s == \"q\\\"// not a comment\")";
    let Ok(flux::Plan::Upstream(text)) = fx(&acme, src) else {
        panic!("refused");
    };
    assert_eq!(
        text,
        "from(bucket:\"acme_telegraf\")\n|> filter(fn: (r) => r._value =~ /a\\/b/ and r.s == \"q\\\"// not a comment\")"
    );
    assert_eq!(fx(&acme, "buckets()"), Ok(flux::Plan::Local));
}

#[test]
fn flux_refuses_foreign_buckets_writes_other_orgs_and_imports() {
    let (acme, _) = tenants();
    for src in [
        "from(bucket: \"other\")",
        "from(bucketID: \"0123456789abcdef\")",
        "from(bucket: \"telegraf\", host: \"http://evil:8086\", token: \"t\")",
        "from(bucket: \"telegraf\", org: \"other\")",
        "from(bucket: \"telegraf\", orgID: \"0123\")",
        "b = \"oth\" + \"er\"\nfrom(bucket: b)",
        "x = \"other\"\nfrom(bucket: \"${x}\")",
        "f = (bucket=\"other\") => from(bucket: bucket)\nf()",
        "from(bucket: \"telegraf\") |> range(start: -1h) |> to(bucket: \"telegraf\")",
        "t = to\nfrom(bucket: \"telegraf\") |> t(bucket: \"telegraf\")",
        "import \"sql\"\nsql.from(driverName: \"x\", dataSourceName: \"y\", query: \"z\")",
        "import \"http\"\nhttp.post(url: \"http://x\")",
        "import \"csv\"\ncsv.from(url: \"http://x\")",
        "import \"experimental\"\nexperimental.to(bucket: \"telegraf\")",
        "import \"influxdata/influxdb/secrets\"\nsecrets.get(key: \"k\")",
        "import \"socket\"\nsocket.from(url: \"tcp://x\")",
        "import \"influxdata/influxdb/schema\"\nschema.measurements(bucket: \"other\")",
        "buckets() |> yield()\nfrom(bucket: \"telegraf\") |> range(start: -1h)",
        "from(bucket: \"telegraf\") |> range(start: -1h) |> \u{a0}to(bucket: \"telegraf\")",
        "from(bucket: \"telegraf\", \u{a0}host: \"x\") |> range(start: -1h)",
    ] {
        let err = fx(&acme, src).expect_err(src);
        assert!(!err.message.contains("other"), "{src}: {}", err.message);
    }
}

#[test]
fn upstream_names_in_error_messages_become_the_tenants() {
    let (acme, wild) = tenants();
    let msg = br#"{"code":"not found","message":"could not find bucket \"acme_telegraf/weekly\" (acme_telegraf)"}"#;
    assert_eq!(
        String::from_utf8(showdb::unprefix(&acme, msg)).unwrap(),
        r#"{"code":"not found","message":"could not find bucket \"telegraf/weekly\" (telegraf)"}"#
    );
    assert_eq!(showdb::unprefix(&wild, msg), msg.to_vec());
}
