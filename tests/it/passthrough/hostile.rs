//! Fronting mode, issue 6's hardening check: a 1 MB query text, 10 000 nested parentheses and
//! a regex bomb each get a clean error from sluice, quickly, in both languages, and never
//! reach the upstream (here a silent one: anything sent would hang until the timeout).

use std::time::{Duration, Instant};

use super::flux::{flux, fronting_config};
use super::influxql::{ACME, config, via_sluice};
use super::silent::Silent;
use crate::support::http::{Body, Request};
use crate::support::sluice::Sluice;

#[test]
fn hostile_queries_are_refused_before_the_upstream() {
    let silent = Silent::start();
    let started = Instant::now();

    let s = Sluice::start(&config(&silent.url(), "query_timeout = \"30s\"\n", None));
    let ql = |q: &str| {
        let r = Request::new("POST", &format!("{}/query?db=telegraf", s.url()))
            .header("Authorization", &format!("Token {ACME}"))
            .header("Content-Type", "application/vnd.influxql")
            .body(Body::Fixed(q.as_bytes().to_vec()))
            .send()
            .expect("query");
        (r.status, r.text())
    };
    let (status, text) = ql(&format!(
        "SELECT * FROM cpu WHERE host = '{}'",
        "a".repeat(1 << 20)
    ));
    assert_eq!(status, 413, "{}", &text[..text.len().min(300)]);
    let deep = format!(
        "SELECT {}1{} FROM cpu",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    let (status, text) = ql(&deep);
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("error parsing query"), "{text}");
    let (status, text) = ql("SELECT * FROM cpu WHERE host =~ /((a{100}){100}){100}/");
    assert_eq!(status, 400, "{text}");
    let r = via_sluice(
        &s,
        ACME,
        "GET",
        &[("db", "telegraf"), ("q", "SELEC nonsense")],
    );
    assert_eq!(r.status, 400, "{}", r.text());

    let front = Sluice::start(&fronting_config(&silent.url(), "query_timeout = \"30s\"\n"));
    let big = format!(
        "x = \"{}\"\nfrom(bucket: \"telegraf\") |> range(start: -1h)",
        "a".repeat(1 << 20)
    );
    let r = flux(&front.url(), "x", ACME, &big);
    assert_eq!(r.status, 413, "{}", &r.text()[..r.text().len().min(300)]);
    let deep = format!(
        "x = {}1{}\nfrom(bucket: \"telegraf\") |> range(start: -1h)",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    let r = flux(&front.url(), "x", ACME, &deep);
    assert_eq!(r.status, 400, "{}", r.text());
    let bomb = "from(bucket: \"telegraf\") |> range(start: -1h) |> filter(fn: (r) => r.host =~ /((a{100}){100}){100}/)";
    let r = flux(&front.url(), "x", ACME, bomb);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("too large"), "{}", r.text());

    assert!(
        started.elapsed() < Duration::from_secs(20),
        "hostile queries took {:?}",
        started.elapsed()
    );
}
