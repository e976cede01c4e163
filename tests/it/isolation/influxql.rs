//! InfluxQL attacks, fronting InfluxDB 1.6.7 and embedded.

use super::assert_no_leak;
use crate::passthrough::influxql::{ACME, BETA, BETA_SECRET, direct, start, via_sluice};
use crate::passthrough::report;

use super::FOREIGN;
const ABSENT: &str = "nosuch_db";

/// (db parameter, rp parameter, query) — `F` stands for the foreign database.
fn reads() -> Vec<(Option<&'static str>, Option<&'static str>, &'static str)> {
    vec![
        (Some("F"), None, "SELECT * FROM beta_secret"),
        (Some("F"), None, "SHOW MEASUREMENTS"),
        (
            Some("telegraf"),
            None,
            r#"SELECT * FROM "F".."beta_secret""#,
        ),
        (
            Some("telegraf"),
            None,
            r#"SELECT * FROM "F"."autogen"."beta_secret""#,
        ),
        (Some("telegraf"), None, r#"SELECT * FROM "F"../.*/"#),
        (
            Some("telegraf"),
            None,
            r#"SELECT * FROM (SELECT * FROM "F".."beta_secret")"#,
        ),
        (
            Some("telegraf"),
            None,
            r#"SELECT count(usage_idle) FROM cpu; SELECT * FROM "F".."cpu""#,
        ),
        (None, None, r#"SHOW MEASUREMENTS ON "F""#),
        (None, None, r#"SHOW TAG KEYS ON "F""#),
        (None, None, r#"SHOW TAG VALUES ON "F" WITH KEY = "host""#),
        (
            Some("telegraf"),
            None,
            r#"SHOW TAG VALUES FROM "F"."autogen"."cpu" WITH KEY = "host""#,
        ),
        (None, None, r#"SHOW FIELD KEYS ON "F""#),
        (None, None, r#"SHOW SERIES ON "F""#),
        (None, None, r#"SHOW RETENTION POLICIES ON "F""#),
    ]
}

/// Statements that write or administer (with `db=telegraf`).
fn writes() -> Vec<&'static str> {
    vec![
        r#"SELECT * INTO "F".."stolen" FROM cpu"#,
        "SELECT * INTO copy FROM cpu",
        r#"SELECT * INTO "telegraf".."x" FROM (SELECT * FROM "F".."beta_secret")"#,
        r#"DROP DATABASE "F""#,
        "DROP DATABASE telegraf",
        "DROP MEASUREMENT cpu",
        "DROP SERIES FROM cpu",
        "DELETE FROM cpu",
        r#"CREATE DATABASE "F""#,
        "CREATE DATABASE evil",
        "CREATE USER evil WITH PASSWORD 'x' WITH ALL PRIVILEGES",
        "GRANT ALL TO evil",
        r#"GRANT READ ON "F" TO evil"#,
        "SET PASSWORD FOR admin = 'x'",
        r#"CREATE RETENTION POLICY rp ON "F" DURATION 1h REPLICATION 1"#,
        r#"ALTER RETENTION POLICY autogen ON "F" DURATION 1h"#,
        r#"CREATE CONTINUOUS QUERY cq ON "F" BEGIN SELECT count(value) INTO "telegraf".."x" FROM beta_secret GROUP BY time(1h) END"#,
        "KILL QUERY 1",
        "SHOW USERS",
        "SHOW GRANTS FOR admin",
        "SHOW QUERIES",
        "SHOW SHARDS",
        "SHOW SHARD GROUPS",
        "SHOW STATS",
        "SHOW DIAGNOSTICS",
        "SHOW SUBSCRIPTIONS",
        "SHOW CONTINUOUS QUERIES",
        r#"SHOW SERIES CARDINALITY ON "F""#,
        r#"EXPLAIN SELECT * FROM "F".."beta_secret""#,
        "SELECT count(usage_idle) FROM cpu; DROP DATABASE telegraf",
    ]
}

fn params<'a>(db: Option<&'a str>, rp: Option<&'a str>, q: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut p = vec![("q", q), ("epoch", "ms")];
    if let Some(d) = db {
        p.push(("db", d));
    }
    if let Some(r) = rp {
        p.push(("rp", r));
    }
    p
}

/// Fronting InfluxDB 1.6.7: every attack is a 403 naming nothing of beta's, and afterwards
/// the upstream is as it was.
#[test]
fn influxql_attacks_are_refused_when_fronting_influxdb() {
    let Some((db, s)) = start("", None) else {
        return;
    };
    let before = direct(&db, "GET", &[("q", "SHOW DATABASES")]).text();
    let users_before = direct(&db, "GET", &[("q", "SHOW USERS")]).text();
    let mut n = 0;
    let mut attacks: Vec<(Option<&str>, Option<&str>, String)> = reads()
        .into_iter()
        .map(|(d, r, q)| (d, r, q.replace("\"F\"", &format!("\"{FOREIGN}\""))))
        .collect();
    attacks.push((
        Some("telegraf"),
        Some("other_rp"),
        "SELECT * FROM cpu".into(),
    ));
    attacks.extend(writes().into_iter().map(|q| {
        (
            Some("telegraf"),
            None,
            q.replace("\"F\"", &format!("\"{FOREIGN}\"")),
        )
    }));
    for (d, r, q) in &attacks {
        let d = d.map(|x| if x == "F" { FOREIGN } else { x });
        for method in ["GET", "POST"] {
            let resp = via_sluice(&s, ACME, method, &params(d, *r, q));
            assert_eq!(resp.status, 403, "{method} {q} db={d:?}: {}", resp.text());
            let body = resp.json();
            let msg = body["error"].as_str().unwrap_or_default();
            assert!(msg.starts_with("error authorizing query: "), "{q}: {msg}");
            assert_no_leak(q, &resp.text());
            n += 1;
        }
    }
    // The upstream is unchanged: same databases and users, beta's data intact, nothing written.
    assert_eq!(
        direct(&db, "GET", &[("q", "SHOW DATABASES")]).text(),
        before
    );
    assert_eq!(
        direct(&db, "GET", &[("q", "SHOW USERS")]).text(),
        users_before
    );
    let secret = direct(
        &db,
        "GET",
        &[
            ("db", FOREIGN),
            ("q", "SELECT count(value) FROM beta_secret"),
        ],
    )
    .text();
    assert!(secret.contains(",1]]"), "{secret}");
    let copy = direct(
        &db,
        "GET",
        &[("db", "acme_telegraf"), ("q", "SHOW MEASUREMENTS")],
    )
    .text();
    assert!(
        !copy.contains("copy") && !copy.contains("stolen") && !copy.contains("\"x\""),
        "{copy}"
    );
    // beta's own token still reads beta's data through sluice.
    let own = via_sluice(
        &s,
        BETA,
        "GET",
        &params(
            Some("telegraf"),
            None,
            "SELECT count(value) FROM beta_secret",
        ),
    );
    assert!(own.text().contains("[0,1]"), "{}", own.text());
    report(&format!(
        "isolation: {n} InfluxQL attacks refused 403 fronting InfluxDB 1.6.7"
    ));
}

/// Embedded mode: a foreign database is answered exactly as an absent one (byte for byte once
/// the name is swapped); write and administration statements are refused and change nothing.
#[test]
fn influxql_attacks_are_refused_in_embedded_mode() {
    let s = super::embedded();
    let mut n = 0;
    for (d, r, q) in reads() {
        for method in ["GET", "POST"] {
            let name = |x: &str| q.replace("\"F\"", &format!("\"{x}\""));
            let db = |x: &'static str| d.map(|v| if v == "F" { x } else { v });
            let attack = via_sluice(&s, ACME, method, &params(db(FOREIGN), r, &name(FOREIGN)));
            let absent = via_sluice(&s, ACME, method, &params(db(ABSENT), r, &name(ABSENT)));
            assert_eq!(
                (attack.status, attack.text().replace(FOREIGN, ABSENT)),
                (absent.status, absent.text()),
                "{method} {q}"
            );
            assert!(
                !attack.text().contains(BETA_SECRET) && !attack.text().contains("\"beta_secret\""),
                "{q}: {}",
                attack.text()
            );
            n += 1;
        }
    }
    for q in writes() {
        let q = q.replace("\"F\"", &format!("\"{FOREIGN}\""));
        let resp = via_sluice(&s, ACME, "POST", &params(Some("telegraf"), None, &q));
        let text = resp.text();
        let refused = resp.status == 403 || (resp.status == 200 && text.contains("\"error\""));
        assert!(refused, "{q}: {} {text}", resp.status);
        assert!(
            !text.contains(BETA_SECRET) && !text.contains("\"beta_secret\""),
            "{q}: {text}"
        );
        n += 1;
    }
    // Nothing changed: beta still reads its point, acme's bucket has no copies.
    let own = via_sluice(
        &s,
        BETA,
        "GET",
        &params(Some(FOREIGN), None, "SELECT count(value) FROM beta_secret"),
    );
    assert!(own.text().contains("[0,1]"), "{}", own.text());
    let m = via_sluice(
        &s,
        ACME,
        "GET",
        &params(Some("telegraf"), None, "SHOW MEASUREMENTS"),
    )
    .text();
    assert!(
        !m.contains("copy") && !m.contains("stolen") && !m.contains("beta"),
        "{m}"
    );
    let dbs = via_sluice(&s, ACME, "GET", &params(None, None, "SHOW DATABASES")).text();
    assert!(!dbs.contains("beta") && !dbs.contains("evil"), "{dbs}");
    report(&format!(
        "isolation: {n} InfluxQL attacks answered as absent or refused in embedded mode"
    ));
}
