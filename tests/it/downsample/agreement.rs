//! Agreement with InfluxDB 1.6.7: the same raw data written to InfluxDB directly and through
//! sluice (fronting mode, rules at 1m, 5m, 1h); every rollup sluice forwarded equals
//! InfluxDB's `GROUP BY time(every), *` aggregate, and `rate` its
//! `non_negative_derivative(last(x), 1s)` wherever no counter wrapped or reset.
//!
//! Size: 8 devices × 2 interfaces + ping, 4 hours at 10 s (~37 000 lines, written twice),
//! not the 200 devices × a day: InfluxDB 1.6.7 takes both copies in seconds at this
//! size, and the anomalies (wraps, reset, gap, duplicates, 3-minute-late points) are all in it.

use std::time::{Duration, Instant};

use super::common::{Rows, TOKEN, close, rows, rules};
use super::data::{self, S, T0_S};
use crate::support::influxdb::{InfluxOpts, InfluxV1};
use crate::support::sluice::{Sluice, SluiceConfig};
use crate::support::telegraf;

const FIELDS: [(&str, &str); 5] = [
    ("interface", "ifHCInOctets"),
    ("interface", "ifInOctets"),
    ("interface", "ifOperStatus"),
    ("ping", "average_response_ms"),
    ("ping", "percent_packet_loss"),
];
const AGGS: [&str; 7] = ["mean", "min", "max", "sum", "count", "first", "last"];
const TWO_32: f64 = 4_294_967_296.0;

#[test]
fn rollups_agree_with_influxdb_1_6_7() {
    let Some(db) = InfluxV1::try_start(InfluxOpts::default()) else {
        return;
    };
    let buckets = ["telegraf", "telegraf_1m", "telegraf_5m", "telegraf_1h"];
    for b in ["raw"].iter().chain(&buckets) {
        db.create_db(b);
    }
    let cfg = format!(
        "{}{}",
        SluiceConfig::new()
            .upstream(&db.url(), "v1")
            .simple_tenant("acme", TOKEN, &buckets)
            .to_toml(),
        rules("1m", "5m")
    );
    let s = Sluice::start(&cfg);
    let d = data::generate(8, 4 * 360, 3);
    for batch in &d.batches {
        let r = db.write("raw", batch);
        assert_eq!(r.status, 204, "{}", r.text());
        let r = telegraf::v2_write(&s.url(), "telegraf", "acme", TOKEN, batch);
        assert_eq!(r.status, 204, "{}", r.text());
    }
    let mut compared = 0;
    for (every_s, bucket) in [
        (60, "telegraf_1m"),
        (300, "telegraf_5m"),
        (3600, "telegraf_1h"),
    ] {
        // Windows closed by the data: end + grace (1m) before the newest point.
        let from = T0_S * S;
        let until =
            (d.max_ts - 60 * S - every_s * S).div_euclid(every_s * S) * every_s * S + every_s * S;
        let range = format!("time >= {from} AND time < {until}");
        // Reference rows per measurement, then wait for the forwarded rollups to match.
        let mut reference: Vec<(&str, &str, Rows)> = Vec::new();
        for (m, f) in FIELDS {
            let sel: Vec<String> = AGGS
                .iter()
                .map(|a| format!("{a}(\"{f}\") AS {a}"))
                .collect();
            let q = format!(
                "SELECT {} FROM \"{m}\" WHERE {range} GROUP BY time({every_s}s), *",
                sel.join(", ")
            );
            let r: Rows = rows(&db.query("raw", &q))
                .into_iter()
                .filter(|(_, v)| v.get("count").is_some_and(|c| *c > 0.0))
                .collect();
            reference.push((m, f, r));
        }
        let got = |m: &str| {
            let q = format!("SELECT * FROM \"{m}\" WHERE {range} GROUP BY *");
            rows(&db.query(bucket, &q))
        };
        let want_rows = |m: &str| {
            reference
                .iter()
                .filter(|(rm, _, _)| *rm == m)
                .map(|(_, _, r)| r.len())
                .max()
                .unwrap_or(0)
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while ["interface", "ping"]
            .iter()
            .any(|m| got(m).len() < want_rows(m))
        {
            assert!(
                Instant::now() < deadline,
                "{bucket}: rollups incomplete after 60 s\n{}",
                s.stderr()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        for (m, f, r) in &reference {
            let g = got(m);
            assert_eq!(g.len(), r.len(), "{bucket} {m}: rollup rows");
            for (key, want) in r {
                let row = g
                    .get(key)
                    .unwrap_or_else(|| panic!("{bucket} {m} {key:?}: no rollup"));
                for a in AGGS {
                    let col = format!("{f}_{a}");
                    let v = row.get(&col).copied();
                    assert!(
                        v.is_some_and(|v| close(v, want[a])),
                        "{bucket} {m} {key:?} {col}: sluice {v:?}, InfluxDB {}",
                        want[a]
                    );
                    compared += 1;
                }
            }
        }
        // rate: InfluxDB's derivative where it has one; a counter that wrapped differs by
        // whole multiples of 2^32 counts over the window.
        for f in ["ifHCInOctets", "ifInOctets"] {
            let q = format!(
                "SELECT non_negative_derivative(last(\"{f}\"), 1s) AS rate FROM interface \
                 WHERE {range} GROUP BY time({every_s}s), *"
            );
            let g = got("interface");
            let mut matched = 0;
            // Device 1 reboots at poll 700: InfluxDB's difference of lasts is not a rate there.
            let reset = (T0_S + 700 * data::STEP_S) * S;
            for (key, want) in rows(&db.query("raw", &q)) {
                if key.0.contains("10.0.0.1,") && (key.1..key.1 + every_s * S).contains(&reset) {
                    continue;
                }
                let have = g[&key].get(&format!("{f}_rate")).copied();
                let have = have.unwrap_or_else(|| panic!("{bucket} {key:?}: no {f}_rate"));
                let wraps = (have - want["rate"]) * every_s as f64 / TWO_32;
                let whole = f == "ifInOctets" && wraps.round() >= 1.0;
                assert!(
                    close(have, want["rate"]) || (whole && (wraps - wraps.round()).abs() < 1e-6),
                    "{bucket} {key:?} {f}_rate: sluice {have}, InfluxDB {}",
                    want["rate"]
                );
                matched += 1;
            }
            assert!(matched > 0, "{bucket} {f}: no rate compared");
            compared += matched;
        }
        // Wraps by hand: the 32-bit counter grows 1000 per 10 s, the 64-bit one 2048 × 500,
        // across their wrap; every window after the first has exactly that rate.
        let w = got("wrap");
        for (kind, col, per_s) in [
            ("kind=32", "c32_rate", data::C32_INC as f64 / 10.0),
            ("kind=64", "c64_rate", data::C64_INC / 10.0),
        ] {
            let rates: Vec<f64> = w
                .iter()
                .filter(|((t, _), _)| t == kind)
                .filter_map(|(_, r)| r.get(col).copied())
                .collect();
            assert_eq!(
                rates.len() as i64,
                (until - from) / (every_s * S) - 1,
                "{bucket} {kind}"
            );
            for r in rates {
                assert!(close(r, per_s), "{bucket} {kind} {col}: {r}, want {per_s}");
            }
        }
    }
    assert!(compared > 1000, "only {compared} values compared");
}
