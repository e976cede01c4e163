//! kill -9 at 10 moments while data streams in (each followed by a restart and the client
//! sending its unacknowledged batch again): the final rollups equal an uninterrupted run's.
//!
//! Size: 4 devices, 2 hours at 10 s (~240 batches), embedded mode: each restart replays the
//! WAL into the store and the downsampler, which a debug build does in about a second.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::common::{Rows, TOKEN, close, embedded_config, rows, rules, sluice_query};
use super::data::{self, S, T0_S};
use crate::support::sluice::Sluice;
use crate::support::telegraf;

fn send(s: &Sluice, batch: &str) {
    let r = telegraf::v2_write(&s.url(), "telegraf", "acme", TOKEN, batch);
    assert_eq!(r.status, 204, "{}", r.text());
}

/// Every rollup of windows closed by the data, once `expect(bucket)` rows are there.
fn final_rollups(s: &Sluice, max_ts: i64, expect: &dyn Fn(&str, i64) -> usize) -> Vec<Rows> {
    let mut all = Vec::new();
    for (every_s, bucket) in [
        (60, "telegraf_1m"),
        (300, "telegraf_5m"),
        (3600, "telegraf_1h"),
    ] {
        let until =
            (max_ts - 60 * S - every_s * S).div_euclid(every_s * S) * every_s * S + every_s * S;
        let q = format!(
            "SELECT * FROM /.*/ WHERE time >= {} AND time < {until} GROUP BY *",
            T0_S * S
        );
        let want = expect(bucket, until);
        let deadline = Instant::now() + Duration::from_secs(30);
        let r = loop {
            let r = rows(&sluice_query(&s.url(), bucket, &q));
            if r.len() >= want || Instant::now() > deadline {
                break r;
            }
            std::thread::sleep(Duration::from_millis(300));
        };
        assert_eq!(r.len(), want, "{bucket}: rollup rows\n{}", s.stderr());
        all.push(r);
    }
    all
}

#[test]
fn kill_9_while_streaming_leaves_the_same_rollups() {
    let d = data::generate(4, 2 * 360, 3);
    // late_window 1m: device 4's 3-minute-late points are dropped from the 1m rollups, which
    // a restart must decide the same way (the checkpointed watermark).
    let cfg = embedded_config(&rules("1m", "1m"));
    // 4 devices × (2 interfaces + ping) + 2 wrap series, in every window.
    let expect = |bucket: &str, until: i64| {
        let every = match bucket {
            "telegraf_1m" => 60,
            "telegraf_5m" => 300,
            _ => 3600,
        };
        14 * ((until - T0_S * S) / (every * S)) as usize
    };
    let whole = {
        let s = Sluice::start(&cfg);
        for b in &d.batches {
            send(&s, b);
        }
        final_rollups(&s, d.max_ts, &expect)
    };
    let mut s = Sluice::start(&cfg);
    // 10 distinct batch indexes, spread by a fixed pseudo-random sequence.
    let n = d.batches.len();
    let kills: BTreeSet<usize> = (1..=10u64)
        .map(|i| ((i * 2_654_435_761) % (n as u64 - 2)) as usize + 1)
        .collect();
    assert_eq!(kills.len(), 10);
    for (i, b) in d.batches.iter().enumerate() {
        send(&s, b);
        if kills.contains(&i) {
            s.kill9();
            s.restart();
            // The client did not see an answer for its last batch: it sends it again.
            send(&s, b);
        }
    }
    let crashed = final_rollups(&s, d.max_ts, &expect);
    for (w, c) in whole.iter().zip(&crashed) {
        assert_eq!(w.keys().collect::<Vec<_>>(), c.keys().collect::<Vec<_>>());
        for (k, row) in w {
            for (col, v) in row {
                let got = c[k].get(col).copied();
                assert!(
                    got.is_some_and(|g| close(g, *v)),
                    "{k:?} {col}: uninterrupted {v}, after kill -9 {got:?}"
                );
            }
        }
    }
}
