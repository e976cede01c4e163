//! Sluice fronting a real InfluxDB 1.6.7 (InfluxQL passthrough).
//!
//! influxd runs with authentication on, and both tenants' upstream credentials are its admin:
//! broader than they should be, so only sluice's checks keep `acme` to `acme_telegraf`.

use std::time::{Duration, Instant};

use super::report;
use super::silent::Silent;
use crate::support::http::{Body, Request, Response, form_encode};
use crate::support::influxdb::{ADMIN_PASSWORD, ADMIN_USER, InfluxOpts, InfluxV1};
use crate::support::sluice::{Sluice, SluiceConfig, TenantConf};

pub const ACME: &str = "tok-acme";
pub const BETA: &str = "tok-beta";
/// A tag value and a measurement only `beta`'s database holds.
pub const BETA_SECRET: &str = "beta-only-host";

/// `acme` (telegraf → `acme_telegraf`) and `beta` (telegraf → `beta_telegraf`), both with
/// the upstream's admin credentials; `extra` is appended to `[upstream]`.
pub fn config(upstream: &str, extra: &str, max_queries: Option<u32>) -> String {
    let tenant = |id: &str, token: &str| TenantConf {
        id: id.into(),
        tokens: vec![token.into()],
        buckets: vec!["telegraf".into()],
        upstream_username: Some(ADMIN_USER.into()),
        upstream_password: Some(ADMIN_PASSWORD.into()),
        upstream_bucket_prefix: Some(format!("{id}_")),
        ..TenantConf::default()
    };
    let toml = SluiceConfig::new()
        .upstream(upstream, "v1")
        .tenant(tenant("acme", ACME))
        .tenant(tenant("beta", BETA))
        .to_toml();
    let mut toml = toml.replacen("[upstream]\n", &format!("[upstream]\n{extra}"), 1);
    if let Some(n) = max_queries {
        toml = toml.replace(
            "id = \"acme\"\n",
            &format!("id = \"acme\"\nlimits = {{ max_queries = {n} }}\n"),
        );
    }
    toml
}

/// One hour (2024-06-01 10:00–11:00 UTC) of Telegraf-shaped points, a point a minute.
pub fn lines(host: &str) -> String {
    let mut out = String::new();
    for i in 0..60i64 {
        let ts = 1_717_236_000_000_000_000 + i * 60_000_000_000;
        let f = i as f64;
        out.push_str(&format!(
            "cpu,cpu=cpu-total,host={host} usage_idle={},usage_user={} {ts}\n",
            90.0 + f / 8.0,
            5.0 + f / 16.0
        ));
        for (url, base) in [("8.8.8.8", 12.5), ("1.1.1.1", 9.25)] {
            out.push_str(&format!(
                "ping,url={url} average_response_ms={},percent_packet_loss={} {ts}\n",
                base + f / 4.0,
                (i % 7) as f64
            ));
        }
        for (name, k) in [("Gi1/0/1", 1000), ("Gi1/0/2", 3000)] {
            out.push_str(&format!(
                "interface,agent_host=10.0.0.1,ifName={} ifHCInOctets={}i,ifHCOutOctets={}i {ts}\n",
                name,
                k * i * i,
                2 * k * i
            ));
        }
    }
    out
}

/// influxd with `acme_telegraf` and `beta_telegraf` loaded, and sluice fronting it.
pub fn start(extra: &str, max_queries: Option<u32>) -> Option<(InfluxV1, Sluice)> {
    let db = InfluxV1::try_start(InfluxOpts {
        auth_enabled: true,
        ..InfluxOpts::default()
    })?;
    for (name, host) in [("acme_telegraf", "web01"), ("beta_telegraf", BETA_SECRET)] {
        db.create_db(name);
        let r = db.write(name, &lines(host));
        assert_eq!(r.status, 204, "{}", r.text());
    }
    let r = db.write(
        "beta_telegraf",
        &format!("beta_secret,host={BETA_SECRET} value=42 1717236000000000000\n"),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let s = Sluice::start(&config(&db.url(), extra, max_queries));
    Some((db, s))
}

/// `GET|POST /query` on sluice with a tenant token.
pub fn via_sluice(s: &Sluice, token: &str, method: &str, params: &[(&str, &str)]) -> Response {
    send(&s.url(), method, params, |r| {
        r.header("Authorization", &format!("Token {token}"))
    })
}

/// The same request straight to influxd, as its admin.
pub fn direct(db: &InfluxV1, method: &str, params: &[(&str, &str)]) -> Response {
    send(&db.url(), method, params, |r| {
        r.basic_auth(ADMIN_USER, ADMIN_PASSWORD)
    })
}

fn send(
    base: &str,
    method: &str,
    params: &[(&str, &str)],
    auth: impl Fn(Request) -> Request,
) -> Response {
    let req = if method == "GET" {
        Request::new("GET", &format!("{base}/query?{}", form_encode(params)))
    } else {
        Request::new("POST", &format!("{base}/query"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(Body::Fixed(form_encode(params).into_bytes()))
    };
    auth(req)
        .send_within(Duration::from_secs(60))
        .expect("query")
}

/// (the query through sluice, the same query as sent to influxd directly)
fn pairs() -> Vec<(&'static str, &'static str)> {
    let same = |q: &'static str| (q, q);
    vec![
        same("SHOW MEASUREMENTS"),
        same("SHOW measurements"),
        same("SHOW MEASUREMENTS LIMIT 100"),
        same("SHOW MEASUREMENTS WITH MEASUREMENT =~ /(?i)cp/ LIMIT 100"),
        same(r#"SHOW TAG KEYS FROM "cpu""#),
        same(r#"SHOW TAG VALUES WITH KEY = "host""#),
        same(r#"SHOW TAG VALUES FROM "cpu" WITH KEY = "host""#),
        same(
            r#"SHOW TAG VALUES FROM "interface" WITH KEY = "ifName" WHERE "agent_host" =~ /^(10\.0\.0\.1)$/"#,
        ),
        same(
            r#"SHOW TAG VALUES FROM "ping" WITH KEY = "url" WHERE time >= 1717236000000ms and time <= 1717239600000ms"#,
        ),
        same(r#"SHOW TAG VALUES FROM "cpu" WITH KEY = "host" WHERE "cpu" = 'cpu-total'"#),
        same(r#"SHOW FIELD KEYS FROM "cpu""#),
        same(r#"SHOW FIELD KEYS FROM "autogen"."cpu""#),
        (
            r#"SHOW RETENTION POLICIES on "telegraf""#,
            r#"SHOW RETENTION POLICIES on "acme_telegraf""#,
        ),
        same("SHOW SERIES"),
        same(
            r#"SELECT mean("average_response_ms") FROM "ping" WHERE "url" =~ /^(8\.8\.8\.8|1\.1\.1\.1)$/ AND time >= 1717236000000ms and time <= 1717239600000ms GROUP BY time(10s), "url" fill(null)"#,
        ),
        same(
            r#"SELECT max("percent_packet_loss") AS "loss" FROM "ping" WHERE "url" =~ /^(8\.8\.8\.8)$/ AND time >= 1717236000000ms and time <= 1717239600000ms GROUP BY time(1m), "url" fill(none)"#,
        ),
        same(
            r#"SELECT non_negative_derivative(mean("ifHCInOctets"), 1s) *8 AS "in", non_negative_derivative(mean("ifHCOutOctets"), 1s) *8 AS "out" FROM "interface" WHERE ("agent_host" =~ /^(10\.0\.0\.1)$/ AND "ifName" =~ /^(Gi1\/0\/1|Gi1\/0\/2)$/) AND time >= 1717236000000ms and time <= 1717239600000ms GROUP BY time(30s), "ifName" fill(null)"#,
        ),
        same(
            r#"SELECT mean("usage_idle") FROM "autogen"."cpu" WHERE ("host" = 'web01' AND "cpu" = 'cpu-total') AND time >= 1717236000000ms and time <= 1717239600000ms GROUP BY time(10s) fill(null)"#,
        ),
        (
            r#"SELECT last("usage_user") FROM "telegraf"."autogen"."cpu" GROUP BY *"#,
            r#"SELECT last("usage_user") FROM "acme_telegraf"."autogen"."cpu" GROUP BY *"#,
        ),
        (
            r#"SELECT count(*) FROM "telegraf".."ping""#,
            r#"SELECT count(*) FROM "acme_telegraf".."ping""#,
        ),
        same(
            "SELECT * FROM cpu LIMIT 5; SELECT percentile(average_response_ms, 95) FROM ping GROUP BY url",
        ),
        same(
            "SELECT max(v) FROM (SELECT derivative(ifHCInOctets, 1m) AS v FROM interface GROUP BY ifName)",
        ),
        same("SELECT nosuchfield FROM cpu"),
        same(
            "SELECT mean(usage_idle) FROM cpu WHERE time > 0 GROUP BY time(1h, -15m) tz('Europe/Paris')",
        ),
        same("SELECT * FROM nosuchmeasurement"),
    ]
}

/// Every query answers through sluice exactly (status, content type, body bytes) as influxd
/// answers it directly, in GET and POST, with `epoch=ms`, without `epoch`, and chunked.
#[test]
fn influxql_answers_are_identical_to_influxdb_directly() {
    let Some((db, s)) = start("", None) else {
        return;
    };
    let mut compared = 0;
    for (through, straight) in pairs() {
        for (method, extra) in [
            ("GET", vec![("epoch", "ms")]),
            ("POST", vec![("epoch", "ms")]),
            ("GET", vec![]),
            ("GET", vec![("chunked", "true"), ("chunk_size", "7")]),
        ] {
            let mut p = vec![("db", "telegraf"), ("q", through)];
            p.extend(extra.iter().copied());
            let got = via_sluice(&s, ACME, method, &p);
            let mut p = vec![("db", "acme_telegraf"), ("q", straight)];
            p.extend(extra.iter().copied());
            let want = direct(&db, method, &p);
            assert_eq!(
                (got.status, got.header("content-type"), got.text()),
                (want.status, want.header("content-type"), want.text()),
                "{method} {through} {extra:?}"
            );
            assert!(!got.text().contains(BETA_SECRET));
            compared += 1;
        }
    }
    report(&format!(
        "influxql: {compared} answers identical to influxd 1.6.7"
    ));
    // Asked for gzip, as Grafana asks: influxd's gzipped bytes pass on as they came, chunked
    // answers included. influxd compresses at Go's default level and sluice at its fastest,
    // so an answer sluice had decoded and compressed again would differ.
    let gzip = |r: Request| r.header("Accept-Encoding", "gzip");
    let mut gzipped = 0;
    for (through, straight) in pairs() {
        for extra in [
            vec![("epoch", "ms")],
            vec![("chunked", "true"), ("chunk_size", "7")],
        ] {
            let mut p = vec![("db", "telegraf"), ("q", through)];
            p.extend(extra.iter().copied());
            let got = send(&s.url(), "GET", &p, |r| {
                gzip(r.header("Authorization", &format!("Token {ACME}")))
            });
            let mut p = vec![("db", "acme_telegraf"), ("q", straight)];
            p.extend(extra.iter().copied());
            let want = send(&db.url(), "GET", &p, |r| {
                gzip(r.basic_auth(ADMIN_USER, ADMIN_PASSWORD))
            });
            assert_eq!(
                (got.status, got.header("content-encoding"), got.text()),
                (want.status, want.header("content-encoding"), want.text()),
                "gzip {through} {extra:?}"
            );
            assert!(
                got.gzipped == want.gzipped,
                "gzip {through} {extra:?}: sluice's gzip bytes differ from influxd's ({:?} and {:?} bytes)",
                got.gzipped.as_ref().map(Vec::len),
                want.gzipped.as_ref().map(Vec::len)
            );
            gzipped += usize::from(got.gzipped.is_some());
        }
    }
    assert!(gzipped > 0, "no answer came gzipped");
    report(&format!(
        "influxql: {gzipped} gzipped answers byte for byte influxd's"
    ));
    // rp= in the URL (Grafana's retention policy selector) is passed on.
    let q =
        r#"SELECT mean("usage_idle") FROM "cpu" WHERE time >= 1717236000000ms GROUP BY time(10m)"#;
    let got = via_sluice(
        &s,
        ACME,
        "GET",
        &[
            ("db", "telegraf"),
            ("rp", "autogen"),
            ("epoch", "ms"),
            ("q", q),
        ],
    );
    let want = direct(
        &db,
        "GET",
        &[
            ("db", "acme_telegraf"),
            ("rp", "autogen"),
            ("epoch", "ms"),
            ("q", q),
        ],
    );
    assert_eq!((got.status, got.text()), (want.status, want.text()));
    // Accept: application/csv passes on too.
    let p = [("db", "telegraf"), ("q", "SELECT * FROM cpu LIMIT 3")];
    let got = send(&s.url(), "GET", &p, |r| {
        r.header("Authorization", &format!("Token {ACME}"))
            .header("Accept", "application/csv")
    });
    let want = send(&db.url(), "GET", &[("db", "acme_telegraf"), p[1]], |r| {
        r.basic_auth(ADMIN_USER, ADMIN_PASSWORD)
            .header("Accept", "application/csv")
    });
    assert_eq!(
        (got.status, got.header("content-type"), got.text()),
        (want.status, want.header("content-type"), want.text())
    );
}

/// `SHOW DATABASES` lists the tenant's databases under its own names, and nothing else.
#[test]
fn show_databases_is_filtered_and_names_are_mapped_back() {
    let Some((db, s)) = start("", None) else {
        return;
    };
    let all = direct(&db, "GET", &[("q", "SHOW DATABASES")]).text();
    assert!(all.contains("beta_telegraf"), "{all}");
    for (token, name) in [(ACME, "telegraf"), (BETA, "telegraf")] {
        let r = via_sluice(&s, token, "GET", &[("q", "SHOW DATABASES")]);
        assert_eq!(r.status, 200);
        assert_eq!(
            r.text(),
            format!(
                "{{\"results\":[{{\"statement_id\":0,\"series\":[{{\"name\":\"databases\",\"columns\":[\"name\"],\"values\":[[\"{name}\"]]}}]}}]}}\n"
            )
        );
    }
    // Mixed with other statements, chunked: only the SHOW DATABASES result is touched.
    let r = via_sluice(
        &s,
        ACME,
        "POST",
        &[
            ("db", "telegraf"),
            ("chunked", "true"),
            ("q", "SHOW MEASUREMENTS; SHOW DATABASES"),
        ],
    );
    let t = r.text();
    assert!(
        t.contains("\"ping\"") && t.contains("[[\"telegraf\"]]"),
        "{t}"
    );
    assert!(
        !t.contains("beta") && !t.contains("_internal") && !t.contains("acme_"),
        "{t}"
    );
    // Asked for gzip: the upstream is asked for plain JSON to filter, and sluice compresses.
    let plain = via_sluice(&s, ACME, "GET", &[("q", "SHOW DATABASES")]);
    let r = send(&s.url(), "GET", &[("q", "SHOW DATABASES")], |r| {
        r.header("Authorization", &format!("Token {ACME}"))
            .header("Accept-Encoding", "gzip")
    });
    assert_eq!(
        (r.status, r.header("content-encoding"), r.text()),
        (200, Some("gzip"), plain.text())
    );
    // An owned CREATE DATABASE goes through (InfluxDB answers an existing one with success).
    let r = via_sluice(&s, ACME, "POST", &[("q", "CREATE DATABASE telegraf")]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "{\"results\":[{\"statement_id\":0}]}\n");
}

/// An upstream that never answers gives a clean JSON 503 once `query_timeout` has passed, and
/// frees the tenant's query slot.
#[test]
fn upstream_timeout_is_a_clean_error() {
    let silent = Silent::start();
    let s = Sluice::start(&config(&silent.url(), "query_timeout = \"1s\"\n", Some(1)));
    for _ in 0..2 {
        let started = Instant::now();
        let r = via_sluice(
            &s,
            ACME,
            "GET",
            &[("db", "telegraf"), ("q", "SELECT * FROM cpu")],
        );
        let took = started.elapsed();
        assert_eq!(r.status, 503, "{}", r.text());
        assert_eq!(
            r.header("content-type"),
            Some("application/json; charset=utf-8")
        );
        assert_eq!(
            r.json(),
            serde_json::json!({"error": "the upstream did not answer within 1s"})
        );
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(10),
            "{took:?}"
        );
    }
    report("influxql: a silent upstream answers 503 after query_timeout = 1s");
}

/// The tenant's query slot is held while the upstream has not answered yet: with
/// `max_queries = 1` and a silent upstream, a second query is refused until the first timed out.
#[test]
fn query_limit_holds_while_the_upstream_is_silent() {
    let silent = Silent::start();
    let s = Sluice::start(&config(&silent.url(), "query_timeout = \"3s\"\n", Some(1)));
    let url = s.url();
    let first = std::thread::spawn(move || {
        send(
            &url,
            "GET",
            &[("db", "telegraf"), ("q", "SELECT * FROM cpu")],
            |r| r.header("Authorization", &format!("Token {ACME}")),
        )
    });
    std::thread::sleep(Duration::from_millis(500));
    let r = via_sluice(
        &s,
        ACME,
        "GET",
        &[("db", "telegraf"), ("q", "SELECT * FROM cpu")],
    );
    assert_eq!(r.status, 503, "v1 throttles with 503: {}", r.text());
    assert!(r.text().contains("concurren"), "{}", r.text());
    let first = first.join().expect("first query");
    assert_eq!(first.status, 503, "{}", first.text());
    let r = via_sluice(
        &s,
        ACME,
        "GET",
        &[("db", "telegraf"), ("q", "SELECT * FROM cpu")],
    );
    assert_eq!(r.status, 503);
    assert!(r.text().contains("did not answer"), "{}", r.text());
}
