//! The sluice process harness end to end: start, `/ready`, SIGTERM, restart, SIGKILL.

use std::time::Duration;

use crate::support::http::{Body, Request};
use crate::support::influxdb::{InfluxOpts, InfluxV1};
use crate::support::sluice::{Sluice, SluiceConfig, token_hash_cli, token_sha256};

#[test]
fn token_hash_cli_matches_sha256_hex() {
    assert_eq!(token_hash_cli("s3cret"), token_sha256("s3cret"));
}

#[test]
fn sluice_starts_stops_and_restarts_on_the_same_port() {
    let Some(db) = InfluxV1::try_start(InfluxOpts::default()) else {
        return;
    };
    let cfg = SluiceConfig::new()
        .upstream(&db.url(), "v1")
        .simple_tenant("acme", "tok-acme", &["telegraf"])
        .to_toml();
    let mut s = Sluice::start(&cfg);
    eprintln!("sluice start-up: {:?}", s.startup);
    let url = s.url();
    s.terminate();
    let st = s.wait_exit(Duration::from_secs(10));
    assert!(
        st.success(),
        "SIGTERM should be a clean exit: {st:?}\n{}",
        s.stderr()
    );
    s.restart();
    assert_eq!(s.url(), url);
    s.kill9();
    s.restart();
    assert!(s.dir().join("data").exists(), "data_dir was not created");
}

/// A second sluice on a data directory in use refuses to start, naming the first's pid, and
/// the first keeps serving: two processes appending to one WAL would lose acknowledged
/// writes. Once the first is killed, the directory opens again.
#[test]
fn a_second_sluice_on_the_same_data_dir_refuses_to_start() {
    let cfg = SluiceConfig::new()
        .simple_tenant("acme", "tok-acme", &["telegraf"])
        .to_toml();
    let mut first = Sluice::start(&cfg);
    let data = first.dir().join("data");
    let mut second = Sluice::spawn(&format!(
        "data_dir = {:?}\n{cfg}",
        data.display().to_string()
    ));
    let st = second.wait_exit(Duration::from_secs(60));
    let err = second.stderr();
    assert!(
        !st.success(),
        "the second sluice must not run: {st:?}\n{err}"
    );
    let pid = first.pid().expect("first sluice's pid");
    assert!(
        err.contains("is in use by another sluice process")
            && err.contains(&format!("held by pid {pid}")),
        "{err}"
    );
    let w = Request::new(
        "POST",
        &format!("{}/api/v2/write?bucket=telegraf", first.url()),
    )
    .header("Authorization", "Token tok-acme")
    .body(Body::Fixed(b"cpu v=1 1717236000000000000\n".to_vec()))
    .send()
    .expect("write");
    assert_eq!(w.status, 204, "{}", w.text());
    first.kill9();
    second.restart();
    let q = Request::new(
        "GET",
        &format!("{}/query?db=telegraf&q=SELECT+v+FROM+cpu", second.url()),
    )
    .header("Authorization", "Token tok-acme")
    .send()
    .expect("query");
    assert!(
        q.text().contains("[\"2024-06-01T10:00:00Z\",1]"),
        "{}",
        q.text()
    );
}
