//! Forwarding to a real InfluxDB 1.6.7 whose database does not exist yet: sluice creates it,
//! as Telegraf's v1 output does, instead of holding the data forever.

use std::time::{Duration, Instant};

use crate::support::influxdb::{InfluxOpts, InfluxV1};
use crate::support::sluice::{Sluice, SluiceConfig};
use crate::support::telegraf::{self, InterfaceLines};

#[test]
fn v1_upstream_database_is_created_on_first_write() {
    let Some(db) = InfluxV1::try_start(InfluxOpts::default()) else {
        return;
    };
    let cfg = SluiceConfig::new()
        .upstream(&db.url(), "v1")
        .simple_tenant("acme", "tok-acme", &["fresh"])
        .to_toml();
    let s = Sluice::start(&cfg);
    let lines_gen = InterfaceLines::near_now(2);
    let lines = lines_gen.batch(0..64);
    let resp = telegraf::v1_write(&s.url(), "fresh", Some(("telegraf", "tok-acme")), &lines);
    assert_eq!(resp.status, 204, "{}", resp.text());

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let exists = db.exec("SHOW DATABASES").to_string().contains("\"fresh\"");
        if exists && db.count("fresh", "interface") == 64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "lines did not arrive in the new database\n{}",
            s.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut got = db.select_all("fresh", "interface");
    let mut want = lines_gen.points(0..64);
    crate::support::point::sort_points(&mut got);
    crate::support::point::sort_points(&mut want);
    assert_eq!(got, want);
}
