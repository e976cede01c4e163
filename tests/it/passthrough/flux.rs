//! Sluice fronting sluice: a second sluice in embedded mode is the InfluxDB 2 upstream
//! (`[upstream] api = "v2"`), for Flux and for InfluxQL (its v1 compatibility `/query`). Its one tenant owns every bucket (`"*"`), and both fronting
//! tenants use its token: only sluice's checks keep `acme` to `acme_telegraf`.

use std::time::{Duration, Instant};

use super::influxql::{ACME, BETA, BETA_SECRET, lines};
use super::report;
use super::silent::Silent;
use crate::flux::grafana::grafana_body;
use crate::support::http::{Body, Request, Response, form_encode};
use crate::support::sluice::{Sluice, SluiceConfig, TenantConf};

/// The upstream sluice's token (tenant `all`, buckets `"*"`).
pub const UPSTREAM_TOKEN: &str = "tok-upstream-all";

/// An embedded sluice holding `acme_telegraf` and `beta_telegraf`.
pub fn upstream() -> Sluice {
    let cfg = SluiceConfig::new()
        .simple_tenant("all", UPSTREAM_TOKEN, &["*"])
        .to_toml();
    let up = Sluice::start(&cfg);
    for (bucket, host) in [("acme_telegraf", "web01"), ("beta_telegraf", BETA_SECRET)] {
        write_v2(&up, UPSTREAM_TOKEN, bucket, &lines(host));
    }
    up
}

/// `POST /api/v2/write?bucket=<bucket>&precision=ns` of `body` with `token`; panics unless 204.
pub fn write_v2(s: &Sluice, token: &str, bucket: &str, body: &str) {
    let url = format!(
        "{}/api/v2/write?{}",
        s.url(),
        form_encode(&[("org", "main"), ("bucket", bucket), ("precision", "ns")])
    );
    let r = Request::new("POST", &url)
        .header("Authorization", &format!("Token {token}"))
        .body(Body::Fixed(body.as_bytes().to_vec()))
        .send()
        .expect("write");
    assert_eq!(r.status, 204, "{}", r.text());
}

/// An upstream whose `acme_telegraf` holds two series of one point each at time 0
/// (`big,s=a` and `big,s=b`): `aggregateWindow(createEmpty: true)` over them makes answers of
/// any size.
pub fn upstream_with_two_points() -> Sluice {
    let up = upstream();
    write_v2(
        &up,
        UPSTREAM_TOKEN,
        "acme_telegraf",
        "big,s=a v=1 0\nbig,s=b v=1 0\n",
    );
    up
}

/// Fronting config: `acme` and `beta` (bucket `telegraf`, prefixes `acme_`/`beta_`, org `main`,
/// the upstream's token); `extra` goes into `[upstream]`.
pub fn fronting_config(url: &str, extra: &str) -> String {
    let tenant = |id: &str, token: &str| TenantConf {
        id: id.into(),
        tokens: vec![token.into()],
        buckets: vec!["telegraf".into()],
        upstream_org: Some("main".into()),
        upstream_token: Some(UPSTREAM_TOKEN.into()),
        upstream_bucket_prefix: Some(format!("{id}_")),
        ..TenantConf::default()
    };
    SluiceConfig::new()
        .upstream(url, "v2")
        .tenant(tenant("acme", ACME))
        .tenant(tenant("beta", BETA))
        .to_toml()
        .replacen("[upstream]\n", &format!("[upstream]\n{extra}"), 1)
}

/// `POST /api/v2/query?org=<org>` with Grafana's JSON body.
pub fn flux(base: &str, org: &str, token: &str, query: &str) -> Response {
    flux_with(base, org, token, query, false)
}

/// [`flux`], with `Accept-Encoding: gzip` if `gzip` (as influxdb-client-go sends).
fn flux_with(base: &str, org: &str, token: &str, query: &str, gzip: bool) -> Response {
    let mut req = Request::new("POST", &format!("{base}/api/v2/query?org={org}"))
        .header("Authorization", &format!("Token {token}"))
        .header("Content-Type", "application/json");
    if gzip {
        req = req.header("Accept-Encoding", "gzip");
    }
    req.body(Body::Fixed(grafana_body(query).into_bytes()))
        .send_within(Duration::from_secs(60))
        .expect("flux query")
}

const RANGE: &str = "range(start: 2024-06-01T10:00:00Z, stop: 2024-06-01T11:00:00Z)";

/// Flux queries on bucket `B` (replaced by `telegraf` through sluice, `acme_telegraf` directly).
fn queries() -> Vec<String> {
    let q = [
        // wire.md §2.12 6-8
        "from(bucket: \"B\")\n  |> RANGE\n  |> filter(fn: (r) => r[\"_measurement\"] == \"cpu\")\n  |> filter(fn: (r) => r[\"_field\"] == \"usage_idle\")\n  |> filter(fn: (r) => r[\"cpu\"] == \"cpu-total\")\n  |> aggregateWindow(every: 10s, fn: mean, createEmpty: false)\n  |> yield(name: \"mean\")",
        "from(bucket: \"B\")\n  |> RANGE\n  |> filter(fn: (r) => r._measurement == \"interface\" and r.agent_host == \"10.0.0.1\")\n  |> filter(fn: (r) => r._field == \"ifHCInOctets\" or r._field == \"ifHCOutOctets\")\n  |> derivative(unit: 1s, nonNegative: true)\n  |> map(fn: (r) => ({ r with _value: r._value * 8.0 }))\n  |> aggregateWindow(every: 2m0s, fn: mean, createEmpty: false)",
        "from(bucket: \"B\")\n  |> RANGE\n  |> filter(fn: (r) => r._measurement == \"ping\" and r._field == \"average_response_ms\")\n  |> filter(fn: (r) => contains(value: r.url, set: [\"8.8.8.8\",\"1.1.1.1\"]))\n  |> aggregateWindow(every: 10s, fn: mean, createEmpty: false)",
        // §2.11 / 2.12 9: metadata
        "import \"influxdata/influxdb/schema\"\nschema.measurements(bucket: \"B\")",
        "import \"influxdata/influxdb/schema\"\nschema.tagValues(bucket: \"B\", tag: \"host\")",
        "import \"influxdata/influxdb/schema\"\nschema.measurementTagValues(bucket: \"B\", measurement: \"interface\", tag: \"agent_host\")",
        "import \"influxdata/influxdb/schema\"\nschema.fieldKeys(bucket: \"B\")",
        // more shapes
        "from(bucket: \"B\") |> RANGE |> filter(fn: (r) => r._measurement == \"ping\") |> last()",
        "from(bucket: \"B\") |> RANGE |> filter(fn: (r) => r._measurement == \"cpu\") |> group(columns: [\"_field\"]) |> max()",
        "a = from(bucket: \"B\") |> RANGE |> filter(fn: (r) => r._field == \"usage_user\") |> count() |> yield(name: \"n\")\nb = from(bucket: \"B\") |> RANGE |> filter(fn: (r) => r._field == \"percent_packet_loss\") |> sum() |> yield(name: \"s\")",
        "import \"strings\"\nfrom(bucket: \"B\") |> RANGE |> filter(fn: (r) => strings.hasPrefix(v: r.ifName, prefix: \"Gi1/0/\")) |> pivot(rowKey: [\"_time\"], columnKey: [\"_field\"], valueColumn: \"_value\") |> limit(n: 3)",
        "from(bucket: \"B\") |> RANGE |> filter(fn: (r) => r._measurement == \"nosuch\")",
    ];
    q.iter().map(|s| s.replace("RANGE", RANGE)).collect()
}

/// Each Flux query answers through sluice exactly (status, content type, bytes) as the
/// upstream answers it directly, whatever `org` the client sends.
#[test]
fn flux_answers_are_identical_to_the_upstream_directly() {
    let up = upstream();
    let front = Sluice::start(&fronting_config(&up.url(), ""));
    let mut n = 0;
    // Asked for gzip too: the upstream's encoding passes on, gzipped or plain (an answer
    // under 1400 bytes stays plain, as InfluxDB 2 leaves it).
    let mut gzipped = (0, 0);
    for (q, gzip) in queries().iter().flat_map(|q| [(q, false), (q, true)]) {
        let got = flux_with(
            &front.url(),
            "whatever-org",
            ACME,
            &q.replace("\"B\"", "\"telegraf\""),
            gzip,
        );
        let want = flux_with(
            &up.url(),
            "main",
            UPSTREAM_TOKEN,
            &q.replace("\"B\"", "\"acme_telegraf\""),
            gzip,
        );
        assert_eq!(want.status, 200, "{q}: {}", want.text());
        assert_eq!(
            (got.status, got.header("content-type"), got.text()),
            (want.status, want.header("content-type"), want.text()),
            "{q}"
        );
        assert_eq!(
            got.header("content-encoding"),
            want.header("content-encoding"),
            "{q} gzip {gzip}"
        );
        assert!(got.gzipped == want.gzipped, "{q}: gzip bytes differ");
        assert!(!got.text().contains(BETA_SECRET), "{q}");
        if gzip {
            n += 1;
            if got.gzipped.is_some() {
                gzipped.0 += 1;
            } else {
                gzipped.1 += 1;
            }
        }
    }
    // The queries give answers of both kinds.
    assert!(gzipped.0 > 0 && gzipped.1 > 0, "{gzipped:?}");
    // beta's answers come from beta_telegraf.
    let q = format!(
        "from(bucket: \"telegraf\") |> {RANGE} |> filter(fn: (r) => r._measurement == \"cpu\") |> last()"
    );
    let r = flux(&front.url(), "x", BETA, &q);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains(BETA_SECRET), "{}", r.text());
    // An error of the upstream (a bad query it cannot compile) comes back as it gave it.
    let bad = "from(bucket: \"telegraf\") |> range(start: -1h) |> nosuchfunction()";
    let got = flux(&front.url(), "x", ACME, bad);
    let want = flux(
        &up.url(),
        "main",
        UPSTREAM_TOKEN,
        &bad.replace("telegraf", "acme_telegraf"),
    );
    assert_eq!((got.status, got.text()), (want.status, want.text()));
    report(&format!(
        "flux: {n} answers identical to the upstream sluice, plain and asked for gzip ({} came gzipped, {} plain)",
        gzipped.0, gzipped.1
    ));
}

/// `application/vnd.flux` bodies pass too (sent upstream as JSON without a dialect).
#[test]
fn raw_flux_bodies_pass_through() {
    let up = upstream();
    let front = Sluice::start(&fronting_config(&up.url(), ""));
    let q = format!(
        "from(bucket: \"B\") |> {RANGE} |> filter(fn: (r) => r._measurement == \"cpu\") |> last()"
    );
    let send = |base: &str, token: &str, bucket: &str| {
        Request::new("POST", &format!("{base}/api/v2/query?org=main"))
            .header("Authorization", &format!("Token {token}"))
            .header("Content-Type", "application/vnd.flux")
            .body(Body::Fixed(q.replace("\"B\"", bucket).into_bytes()))
            .send()
            .expect("query")
    };
    let got = send(&front.url(), ACME, "\"telegraf\"");
    let want = send(&up.url(), UPSTREAM_TOKEN, "\"acme_telegraf\"");
    assert_eq!(want.status, 200, "{}", want.text());
    assert_eq!((got.status, got.text()), (want.status, want.text()));
}

/// An upstream that never answers: a clean v2 JSON 503 once `query_timeout` has passed.
#[test]
fn flux_upstream_timeout_is_a_clean_error() {
    let silent = Silent::start();
    let front = Sluice::start(&fronting_config(&silent.url(), "query_timeout = \"1s\"\n"));
    let started = Instant::now();
    let q = format!("from(bucket: \"telegraf\") |> {RANGE}");
    let r = flux(&front.url(), "x", ACME, &q);
    let took = started.elapsed();
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(
        r.json(),
        serde_json::json!({"code": "unavailable", "message": "the upstream did not answer within 1s"})
    );
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(10),
        "{took:?}"
    );
    report("flux: a silent upstream answers 503 after query_timeout = 1s");
}

/// InfluxQL to an InfluxDB 2 upstream (`api = "v2"`): its v1 compatibility `/query` with the
/// tenant's token. Sluice fronting sluice again: answers identical to the upstream's.
#[test]
fn influxql_through_a_v2_upstream_is_identical_too() {
    let up = upstream();
    let front = Sluice::start(&fronting_config(&up.url(), ""));
    let direct = |params: &[(&str, &str)]| {
        Request::new(
            "GET",
            &format!("{}/query?{}", up.url(), form_encode(params)),
        )
        .header("Authorization", &format!("Token {UPSTREAM_TOKEN}"))
        .send()
        .expect("query upstream")
    };
    for q in [
        "SHOW MEASUREMENTS",
        r#"SHOW TAG VALUES FROM "cpu" WITH KEY = "host""#,
        r#"SELECT mean("usage_idle") FROM "cpu" WHERE time >= 1717236000000ms and time <= 1717239600000ms GROUP BY time(10m) fill(null)"#,
        r#"SELECT last("average_response_ms") FROM "ping" GROUP BY "url""#,
    ] {
        let got = super::influxql::via_sluice(
            &front,
            ACME,
            "GET",
            &[("db", "telegraf"), ("epoch", "ms"), ("q", q)],
        );
        let want = direct(&[("db", "acme_telegraf"), ("epoch", "ms"), ("q", q)]);
        assert_eq!(want.status, 200, "{q}: {}", want.text());
        assert_eq!((got.status, got.text()), (want.status, want.text()), "{q}");
        assert!(!got.text().contains(BETA_SECRET));
    }
    let r = super::influxql::via_sluice(&front, ACME, "GET", &[("q", "SHOW DATABASES")]);
    assert_eq!(
        r.text(),
        "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"databases\",\"columns\":[\"name\"],\"values\":[[\"telegraf\"]]}]}]}\n"
    );
}

/// An upstream error naming the tenant's bucket names it as the tenant knows it: an owned
/// bucket the upstream lacks is the upstream's 404, with `bucket_prefix` taken off.
#[test]
fn upstream_errors_name_the_tenants_own_buckets() {
    // This upstream's token owns `acme_telegraf` only: `acme_fresh` is not found there.
    let up = Sluice::start(
        &SluiceConfig::new()
            .simple_tenant("all", UPSTREAM_TOKEN, &["acme_telegraf"])
            .to_toml(),
    );
    let cfg = fronting_config(&up.url(), "").replacen(
        "buckets = [\"telegraf\"]",
        "buckets = [\"telegraf\", \"fresh\"]",
        1,
    );
    let front = Sluice::start(&cfg);
    let q = "from(bucket: \"fresh\") |> range(start: -1h)";
    let got = flux(&front.url(), "x", ACME, q);
    let want = flux(
        &up.url(),
        "main",
        UPSTREAM_TOKEN,
        &q.replace("fresh", "acme_fresh"),
    );
    assert_eq!(want.status, 404, "{}", want.text());
    assert_eq!(got.status, 404);
    assert_eq!(got.text(), want.text().replace("acme_fresh", "fresh"));
    assert!(!got.text().contains("acme_"), "{}", got.text());
}

/// An answer whose `Content-Length` already passes `query_max_bytes` is refused before
/// anything is sent (a clean 413 in the request's dialect), not started and cut; one within
/// the limit passes whole.
#[test]
fn an_answer_known_to_pass_the_byte_limit_is_refused_up_front() {
    let up = upstream_with_two_points();
    let front = Sluice::start(&fronting_config(&up.url(), "query_max_bytes = \"1MiB\"\n"));
    // Two tables of 11 520 one-minute windows: ~1.6 MB of CSV, sent with its length.
    let q = |bucket: &str, every: &str| {
        format!(
            "from(bucket: \"{bucket}\") |> range(start: 1970-01-01T00:00:00Z, stop: 1970-01-09T00:00:00Z) |> filter(fn: (r) => r._measurement == \"big\") |> aggregateWindow(every: {every}, fn: count, createEmpty: true)"
        )
    };
    let r = flux(&front.url(), "x", ACME, &q("telegraf", "1m"));
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(
        r.json(),
        serde_json::json!({"code": "request too large", "message": "the answer is larger than the 1048576 bytes a query may return"})
    );
    let got = flux(&front.url(), "x", ACME, &q("telegraf", "1h"));
    let want = flux(&up.url(), "main", UPSTREAM_TOKEN, &q("acme_telegraf", "1h"));
    assert_eq!((want.status, got.status), (200, 200), "{}", got.text());
    assert_eq!(got.text(), want.text());
}
