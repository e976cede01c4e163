//! Upstream outage: InfluxDB is stopped for 30 s while two writers go on. Every write must get
//! a 204 at the first try (sluice holds the lines in its WAL), `/health` must show the upstream
//! failing with records waiting, and after InfluxDB restarts everything arrives.
//!
//! Order: each batch also rewrites one point (same series and timestamp) with its batch number.
//! InfluxDB keeps the last write of a point, so after delivery that point must hold the last
//! acknowledged batch number of its writer (one writer per bucket): a batch delivered out of
//! order at the end would leave an older number. This observes order only partly; in-order
//! delivery per lane is covered by the forwarder's unit tests (`src/forward/tests`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::common::{Batches, Dialect, influx_behind_sluice, poll, report, request};
use crate::support::http;
use crate::support::sluice::Sluice;

const OUTAGE: Duration = Duration::from_secs(30);
const EVERY: Duration = Duration::from_millis(250);

#[test]
fn upstream_down_for_30s_loses_nothing_and_keeps_order() {
    let Some((mut influx, ts, cfg)) = influx_behind_sluice("outage", 2, &[]) else {
        return;
    };
    let sluice = Sluice::start(&cfg);
    let url = sluice.url();
    let batches = Batches::new("outage", 500);
    let order_time = batches.base - 1_000_000_000;
    let stop = AtomicBool::new(false);

    let started = Instant::now();
    let (acked, health_during) = std::thread::scope(|s| {
        let handles: Vec<_> = ts
            .iter()
            .enumerate()
            .map(|(w, t)| {
                let (url, stop) = (&url, &stop);
                s.spawn(move || {
                    let d = Dialect::alternate(w);
                    let mut acked = Vec::new();
                    let mut b = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let body = format!(
                            "{}order,writer=w{w} n={b}i {order_time}\n",
                            batches.body(w, b)
                        );
                        let r = request(url, t, d, &body)
                            .send()
                            .unwrap_or_else(|e| panic!("writer {w} batch {b}: {e}"));
                        assert_eq!(r.status, 204, "writer {w} batch {b}: {}", r.text());
                        acked.push(b);
                        b += 1;
                        std::thread::sleep(EVERY);
                    }
                    acked
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs(2));
        influx.stop();
        let down = Instant::now();
        std::thread::sleep(OUTAGE);
        let health = http::get(&format!("{url}/health"))
            .expect("GET /health")
            .json();
        influx.restart();
        report(&format!("outage: InfluxDB down for {:.1?}", down.elapsed()));
        std::thread::sleep(Duration::from_secs(2));
        stop.store(true, Ordering::Relaxed);
        let acked: Vec<Vec<u64>> = handles
            .into_iter()
            .map(|h| h.join().expect("writer thread"))
            .collect();
        (acked, health)
    });
    let up = health_during["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == "upstream")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        up["status"], "fail",
        "upstream check during the outage: {health_during}"
    );
    assert!(
        up["lag_records"].as_u64().is_some_and(|n| n > 0),
        "records must wait in sluice during the outage: {health_during}"
    );

    let acknowledged: u64 = acked.iter().map(|a| a.len() as u64).sum::<u64>() * batches.lines;
    report(&format!(
        "outage: {} batches ({acknowledged} lines) acknowledged in {:.1?}, all at the first try; \
         /health during the outage: {up}",
        acked.iter().map(Vec::len).sum::<usize>(),
        started.elapsed()
    ));
    let per: Vec<(usize, &str, &[u64])> = acked
        .iter()
        .enumerate()
        .map(|(w, a)| (w, ts[w].bucket.as_str(), a.as_slice()))
        .collect();
    let (_, waited) = poll(
        "acknowledged lines upstream",
        Duration::from_secs(120),
        || {
            let (found, missing) = batches.found(&influx, &per);
            if found == acknowledged {
                Ok(())
            } else {
                Err(format!(
                    "{found} of {acknowledged}, e.g. missing {missing:?}"
                ))
            }
        },
    );
    report(&format!(
        "outage: acknowledged={acknowledged} found={acknowledged} lost=0, all upstream \
         {waited:.1?} after the writers stopped"
    ));
    for (w, a) in acked.iter().enumerate() {
        let v = influx.query(
            &ts[w].bucket,
            &format!("SELECT n FROM \"order\" WHERE writer = 'w{w}'"),
        );
        let last = &v["results"][0]["series"][0]["values"][0];
        assert_eq!(
            last[0].as_i64(),
            Some(order_time),
            "order point of w{w}: {v}"
        );
        assert_eq!(
            last[1].as_u64(),
            a.last().copied(),
            "writer {w}: the order point must hold the last batch written"
        );
    }
}
