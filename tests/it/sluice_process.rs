//! The sluice process harness end to end: start, `/ready`, SIGTERM, restart, SIGKILL.

use std::time::Duration;

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
