//! Telegraf's exact requests through sluice, and everything sluice refuses, in both dialects.
//!
//! Owns: the tests of Telegraf's v2 write, v1 `CREATE DATABASE` + write, credential forms,
//! v1 `rp` → bucket, `precision`, and the refusals (413, 401, 403, 400, 404) and probes
//! (`/ping`, `/health`, `/ready`). Does not own: the helpers (`super`).

use std::time::Instant;

use serde_json::json;

use super::{
    GLOBEX_TOKEN, TOKEN, TOKEN_AUTH, Window, expect_json, json_or_null, plain, point, read_db,
    telegraf_stack, v1_url, v2_url, wait_points,
};
use crate::support::http::{Body, Request, Response};
use crate::support::influxdb::{InfluxOpts, InfluxV1};
use crate::support::point::{Point, sort_points};
use crate::support::telegraf::{self, InterfaceLines};

/// Telegraf's v2 write, its v1 `CREATE DATABASE` and v1 write get exactly the answers Telegraf
/// needs, and the lines arrive; so do writes with every credential form, `rp` and precision.
#[test]
fn telegraf_requests_credentials_rp_and_precision_arrive() {
    let Some(st) = telegraf_stack() else { return };
    let started = Instant::now();
    let base = st.sluice.url();
    let ifaces = InterfaceLines::near_now(2);

    let r = telegraf::v2_write(&base, "telegraf", "acme", TOKEN, &ifaces.batch(0..32));
    assert_eq!(
        (r.status, r.text()),
        (204, String::new()),
        "telegraf v2 write"
    );
    let r = telegraf::v1_create_database(&base, "telegraf", Some(("telegraf", TOKEN)));
    assert_eq!(r.status, 200, "CREATE DATABASE: {}", r.text());
    assert_eq!(r.text().trim_end(), r#"{"results":[{"statement_id":0}]}"#);
    let r = telegraf::v1_write(
        &base,
        "telegraf",
        Some(("telegraf", TOKEN)),
        &ifaces.batch(32..64),
    );
    assert_eq!(
        r.status,
        204,
        "telegraf v1 write must be exactly 204: {}",
        r.text()
    );

    // Every credential form, each to its own series of measurement `auth`.
    let line = |via: &str| format!("auth,via={via} v=1i 1000000000\n");
    let basic = |user: &str| {
        use base64::Engine as _;
        let enc = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{TOKEN}"));
        format!("Basic {enc}")
    };
    let v1 = v1_url(&st.sluice, "telegraf", &[]);
    #[allow(clippy::type_complexity)]
    let forms: Vec<(&str, String, Option<(&str, String)>)> = vec![
        (
            "basic-any-user",
            v1.clone(),
            Some(("Authorization", basic("anyone"))),
        ),
        (
            "basic-empty-user",
            v1.clone(),
            Some(("Authorization", basic(""))),
        ),
        (
            "u-p-params",
            v1_url(&st.sluice, "telegraf", &[("u", "bob"), ("p", TOKEN)]),
            None,
        ),
        (
            "v1-token",
            v1.clone(),
            Some(("Authorization", format!("Token {TOKEN}"))),
        ),
        (
            "v1-token-user",
            v1,
            Some(("Authorization", format!("Token bob:{TOKEN}"))),
        ),
        (
            "v2-bearer",
            v2_url(&st.sluice, "telegraf", &[]),
            Some(("Authorization", format!("Bearer {TOKEN}"))),
        ),
        (
            "v2-token-lowercase",
            v2_url(&st.sluice, "telegraf", &[]),
            Some(("Authorization", format!("token {TOKEN}"))),
        ),
    ];
    for (via, url, header) in &forms {
        let h = header.as_ref().map(|(k, v)| (*k, v.as_str()));
        let r = plain(url, h, line(via).as_bytes());
        assert_eq!(r.status, 204, "{via}: {}", r.text());
    }

    // v1 rp → bucket: autogen is the bare db, another rp is `db/rp`; v2 names it directly.
    // Near now: the 7-day `weekly` policy drops older points.
    let recent = telegraf::now_ns() - 60_000_000_000;
    let rp_line = |via: &str| format!("rp,via={via} v=1i {recent}\n");
    for (via, url) in [
        (
            "v1-autogen",
            v1_url(&st.sluice, "telegraf", &[("rp", "autogen")]),
        ),
        (
            "v1-weekly",
            v1_url(&st.sluice, "telegraf", &[("rp", "weekly")]),
        ),
        ("v2-weekly", v2_url(&st.sluice, "telegraf/weekly", &[])),
    ] {
        let r = plain(&url, Some(TOKEN_AUTH), rp_line(via).as_bytes());
        assert_eq!(r.status, 204, "{via}: {}", r.text());
    }

    // precision: the same instant in each unit.
    let t_ns: i64 = 1_717_236_000_123_456_789;
    let mut want_prec = Vec::new();
    let cases: [(&str, &str, i64, i64); 10] = [
        ("v2", "ns", t_ns, t_ns),
        ("v2", "us", t_ns / 1_000, t_ns / 1_000 * 1_000),
        ("v2", "ms", t_ns / 1_000_000, t_ns / 1_000_000 * 1_000_000),
        (
            "v2",
            "s",
            t_ns / 1_000_000_000,
            t_ns / 1_000_000_000 * 1_000_000_000,
        ),
        ("v1", "n", t_ns, t_ns),
        ("v1", "u", t_ns / 1_000, t_ns / 1_000 * 1_000),
        ("v1", "ms", t_ns / 1_000_000, t_ns / 1_000_000 * 1_000_000),
        (
            "v1",
            "s",
            t_ns / 1_000_000_000,
            t_ns / 1_000_000_000 * 1_000_000_000,
        ),
        (
            "v1",
            "m",
            t_ns / 60_000_000_000,
            t_ns / 60_000_000_000 * 60_000_000_000,
        ),
        (
            "v1",
            "h",
            t_ns / 3_600_000_000_000,
            t_ns / 3_600_000_000_000 * 3_600_000_000_000,
        ),
    ];
    for (api, p, stamp, want_ns) in cases {
        let body = format!("prec,api={api},p={p} v=1i {stamp}\n");
        let url = match api {
            "v2" => v2_url(&st.sluice, "prec", &[("precision", p)]),
            _ => v1_url(&st.sluice, "prec", &[("precision", p)]),
        };
        let r = plain(&url, Some(TOKEN_AUTH), body.as_bytes());
        assert_eq!(r.status, 204, "{api} precision={p}: {}", r.text());
        want_prec.push(point("prec", &[("api", api), ("p", p)], 1, want_ns));
    }
    // A line without a timestamp gets the reception time in the request's precision.
    let w = Window::open("s");
    let r = plain(
        &v2_url(&st.sluice, "prec", &[("precision", "s")]),
        Some(TOKEN_AUTH),
        b"nots v=1i\n",
    );
    let w = w.close();
    assert_eq!(r.status, 204, "no timestamp, precision=s: {}", r.text());
    let sent = started.elapsed();

    // Arrival.
    let mut want = ifaces.points(0..64);
    for (via, _, _) in &forms {
        want.push(point("auth", &[("via", via)], 1, 1_000_000_000));
    }
    want.push(point("rp", &[("via", "v1-autogen")], 1, recent));
    sort_points(&mut want);
    let got = wait_points(&st.influx, "telegraf", None, want.len());
    assert_eq!(got, want, "telegraf db (autogen)");
    let mut want_weekly = vec![
        point("rp", &[("via", "v1-weekly")], 1, recent),
        point("rp", &[("via", "v2-weekly")], 1, recent),
    ];
    sort_points(&mut want_weekly);
    assert_eq!(
        wait_points(&st.influx, "telegraf", Some("weekly"), 2),
        want_weekly,
        "telegraf.weekly"
    );
    let got = wait_points(&st.influx, "prec", None, want_prec.len() + 1);
    let (nots, got): (Vec<Point>, Vec<Point>) =
        got.into_iter().partition(|p| p.measurement == "nots");
    sort_points(&mut want_prec);
    assert_eq!(got, want_prec, "precision");
    assert_eq!(nots.len(), 1);
    let t = nots[0].time_ns;
    assert!(
        t % 1_000_000_000 == 0 && (w.lo..=w.hi).contains(&t),
        "precision=s stamp {t} must be a whole second in {w:?}"
    );
    eprintln!(
        "telegraf requests: sent in {sent:?}, all arrived after {:?}",
        started.elapsed()
    );
}

/// Everything refused: 413 (plain with `Content-Length`, plain chunked, gzip-chunked whose
/// decompressed size is over), 401 in each dialect, 403 (a foreign bucket answers exactly as a
/// bucket that does not exist), bad `precision`; `/ping`, `/health`, `/ready`.
#[test]
fn refusals_in_both_dialects_and_probes() {
    let Some(st) = telegraf_stack() else { return };
    let base = st.sluice.url();
    let big: String = (0..3000)
        .map(|i| format!("big,i={i} v={i}i 1000000000\n"))
        .collect();
    assert!(big.len() > 64 * 1024 && telegraf::gzip(big.as_bytes()).len() < 64 * 1024);

    // 413
    let too_large = |r: &Response, d: &str, ctx: &str| {
        assert_eq!(r.status, 413, "{ctx}: {}", r.text());
        let v = r.json();
        match d {
            "v2" => {
                assert_eq!(v["code"], "request too large", "{ctx}: {v}");
                assert!(v["message"].is_string(), "{ctx}: {v}");
            }
            _ => assert!(
                v["error"].is_string() && v.get("code").is_none(),
                "{ctx}: {v}"
            ),
        }
    };
    let v2 = v2_url(&st.sluice, "telegraf", &[]);
    let v1 = v1_url(&st.sluice, "telegraf", &[]);
    too_large(
        &plain(&v2, Some(TOKEN_AUTH), big.as_bytes()),
        "v2",
        "v2 plain",
    );
    too_large(
        &plain(&v1, Some(TOKEN_AUTH), big.as_bytes()),
        "v1",
        "v1 plain",
    );
    let chunked = |url: &str| {
        Request::new("POST", url)
            .header(TOKEN_AUTH.0, TOKEN_AUTH.1)
            .body(Body::chunked(big.as_bytes(), 16 * 1024))
            .send()
            .expect("chunked POST")
    };
    too_large(&chunked(&v2), "v2", "v2 plain chunked");
    too_large(&chunked(&v1), "v1", "v1 plain chunked");
    let r = telegraf::v2_write(&base, "telegraf", "acme", TOKEN, &big);
    too_large(
        &r,
        "v2",
        "telegraf v2 gzip over the limit once decompressed",
    );
    let r = telegraf::v1_write(&base, "telegraf", Some(("telegraf", TOKEN)), &big);
    too_large(
        &r,
        "v1",
        "telegraf v1 gzip over the limit once decompressed",
    );

    // 401
    let unauthorized_v2 = json!({"code": "unauthorized", "message": "unauthorized access"});
    for (ctx, token) in [("no token", ""), ("wrong token", "nope")] {
        let r = telegraf::v2_write(&base, "telegraf", "acme", token, "x v=1i 1\n");
        expect_json(&r, 401, &unauthorized_v2, &format!("v2 {ctx}"));
    }
    let r = plain(&v2, None, b"x v=1i 1\n");
    expect_json(&r, 401, &unauthorized_v2, "v2 without Authorization");
    let secured = InfluxV1::start(InfluxOpts {
        auth_enabled: true,
        ..InfluxOpts::default()
    });
    for (ctx, auth) in [
        ("no credentials", None),
        ("wrong password", Some(("admin", "nope"))),
    ] {
        let r = telegraf::v1_write(&base, "telegraf", auth, "x v=1i 1\n");
        let direct = telegraf::v1_write(&secured.url(), "telegraf", auth, "x v=1i 1\n");
        assert_eq!(r.status, 401, "v1 {ctx}: {}", r.text());
        assert_eq!(
            (r.status, r.json()),
            (direct.status, direct.json()),
            "v1 {ctx}: sluice vs InfluxDB 1.6.7 with auth on"
        );
        assert_eq!(
            r.header("www-authenticate"),
            Some("Basic realm=\"InfluxDB\""),
            "v1 {ctx}"
        );
    }
    let r = plain(
        &v1_url(&st.sluice, "telegraf", &[("u", "bob"), ("p", "nope")]),
        None,
        b"x v=1i 1\n",
    );
    assert_eq!(r.status, 401, "v1 wrong p: {}", r.text());

    // 403: another tenant's bucket and a bucket nobody has get the same answer.
    let strip = |r: &Response, name: &str| {
        let mut h: Vec<(String, String)> = r
            .headers
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("date"))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.replace(name, "<b>")))
            .collect();
        h.sort();
        (r.status, h, r.text().replace(name, "<b>"))
    };
    let foreign = telegraf::v2_write(&base, "globex", "acme", TOKEN, "x v=1i 1\n");
    let missing = telegraf::v2_write(&base, "nosuch", "acme", TOKEN, "x v=1i 1\n");
    assert_eq!(foreign.status, 403, "v2 foreign bucket: {}", foreign.text());
    assert_eq!(foreign.json()["code"], "forbidden");
    assert_eq!(
        foreign.body, missing.body,
        "v2: foreign vs missing bucket, byte for byte"
    );
    assert_eq!(strip(&foreign, "globex"), strip(&missing, "nosuch"));
    let auth = Some(("telegraf", TOKEN));
    let foreign = telegraf::v1_write(&base, "globex", auth, "x v=1i 1\n");
    let missing = telegraf::v1_write(&base, "nosuch", auth, "x v=1i 1\n");
    assert_eq!(foreign.status, 403, "v1 foreign db: {}", foreign.text());
    assert!(foreign.json()["error"].is_string());
    // v1 names the database the client asked for; apart from that name, identical.
    assert_eq!(strip(&foreign, "globex"), strip(&missing, "nosuch"));
    let r = plain(
        &v1_url(&st.sluice, "globex", &[("rp", "weekly")]),
        Some(("Authorization", &format!("Token {GLOBEX_TOKEN}"))),
        b"x v=1i 1\n",
    );
    assert_eq!(r.status, 403, "globex has no globex/weekly: {}", r.text());
    let r = telegraf::v2_write(&base, "telegraf", "globex", GLOBEX_TOKEN, "x v=1i 1\n");
    assert_eq!(r.status, 403, "globex on acme's bucket: {}", r.text());
    let r = telegraf::v2_write(
        &base,
        "globex",
        "globex",
        GLOBEX_TOKEN,
        "g v=1i 1000000000\n",
    );
    assert_eq!(r.status, 204, "globex on its own bucket: {}", r.text());

    // Bad precision.
    let r = plain(
        &v2_url(&st.sluice, "prec", &[("precision", "m")]),
        Some(TOKEN_AUTH),
        b"x v=1i 1\n",
    );
    let want = json!({"code": "invalid",
        "message": "invalid precision; valid precision units are ns, us, ms, and s"});
    expect_json(&r, 400, &want, "v2 precision=m");
    let r = plain(
        &v1_url(&st.sluice, "prec", &[("precision", "x")]),
        Some(TOKEN_AUTH),
        b"x v=1i 1\n",
    );
    let want = json!({"error": "invalid precision \"x\" (use n, u, ms, s, m or h)"});
    expect_json(&r, 400, &want, "v1 precision=x");

    // Missing db / bucket, a body that is not gzip: as InfluxDB answers them.
    let r = plain(&format!("{base}/write"), Some(TOKEN_AUTH), b"x v=1i 1\n");
    expect_json(
        &r,
        400,
        &json!({"error": "database is required"}),
        "v1 no db",
    );
    let direct = plain(&format!("{}/write", st.influx.url()), None, b"x v=1i 1\n");
    assert_eq!(
        json_or_null(&direct),
        json_or_null(&r),
        "InfluxDB 1.6.7, no db"
    );
    let r = plain(
        &format!("{base}/api/v2/write?org=acme"),
        Some(TOKEN_AUTH),
        b"x v=1i 1\n",
    );
    let want = json!({"code": "not found", "message": "bucket not found"});
    expect_json(&r, 404, &want, "v2 no bucket");
    for url in [&v1, &format!("{}/write?db=telegraf", st.influx.url())] {
        let r = Request::new("POST", url)
            .header(TOKEN_AUTH.0, TOKEN_AUTH.1)
            .header("Content-Encoding", "gzip")
            .body(Body::Fixed(b"x v=1i 1\n".to_vec()))
            .send()
            .expect("POST bad gzip");
        assert_eq!(r.status, 400, "{url} bad gzip: {}", r.text());
        assert!(
            r.json()["error"].is_string(),
            "{url} bad gzip: {}",
            r.text()
        );
    }

    // Probes need no credentials.
    for method in ["GET", "HEAD"] {
        let r = Request::new(method, &format!("{base}/ping"))
            .send()
            .expect("/ping");
        assert_eq!(r.status, 204, "{method} /ping");
        assert!(r.body.is_empty(), "{method} /ping body");
        assert!(
            r.header("x-influxdb-version")
                .is_some_and(|v| !v.is_empty()),
            "{method} /ping: X-Influxdb-Version"
        );
        assert_eq!(r.header("x-influxdb-build"), Some("OSS"), "{method} /ping");
    }
    let r = crate::support::http::get(&format!("{base}/health")).expect("/health");
    assert_eq!(r.status, 200, "/health: {}", r.text());
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("application/json")
    );
    assert_eq!(r.json()["status"], "pass", "/health: {}", r.text());
    let r = crate::support::http::get(&format!("{base}/ready")).expect("/ready");
    assert_eq!(r.status, 200, "/ready: {}", r.text());
    assert_eq!(r.json()["status"], "ready", "/ready: {}", r.text());

    // Only globex's line was accepted; once it is in, nothing refused is anywhere.
    assert_eq!(wait_points(&st.influx, "globex", None, 1).len(), 1);
    for db in ["telegraf", "prec"] {
        assert!(
            read_db(&st.influx, db, None).is_empty(),
            "{db} got refused lines"
        );
    }
}
