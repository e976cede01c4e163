//! Crash test: 4 writers for (at least) 20 s while sluice is SIGKILLed and restarted (same
//! data dir and port) at least 5 times; every line of every batch that got a 204 must reach
//! the upstream.
//!
//! Upstream: InfluxDB 1.6.7 (v1). A point is identified by series and timestamp, so the
//! redelivery that a crash causes (at-least-once: a batch delivered but not yet past the
//! persisted cursor is sent again after restart) overwrites identical points instead of adding
//! samples: presence is exact and cheap to read back (`SELECT j WHERE writer=..` gives every
//! timestamp). InfluxDB itself is run with `wal-fsync-delay = 0s`, so it is not a source of
//! loss. VictoriaMetrics would count redelivered samples twice.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::common::{
    Attempts, Batches, Dialect, WriterLog, influx_behind_sluice, poll, report, wait_forwarder_idle,
    writer,
};
use crate::support::sluice::Sluice;

const WRITERS: usize = 4;
/// The writers run at least this long, and until at least [`KILLS`] kills were done.
const RUN: Duration = Duration::from_secs(20);
const KILLS: usize = 5;
/// Pauses between a restart's `/ready` and the next kill (deterministic, uneven, to hit
/// different phases of the work).
const KILL_EVERY_MS: [u64; 8] = [1900, 2500, 1300, 2900, 1700, 2200, 1500, 2700];

#[test]
fn sigkill_loses_no_acknowledged_write() {
    let Some((influx, ts, cfg)) = influx_behind_sluice("crash", 2, &[]) else {
        return;
    };
    let mut sluice = Sluice::start(&cfg);
    let url = sluice.url();
    let batches = Batches::new("crash", 500);
    let tenant_of = |w: usize| &ts[w % ts.len()];
    let stop = AtomicBool::new(false);
    let mut restarts = Vec::new();

    let started = Instant::now();
    let logs: Vec<WriterLog> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (t, url, stop) = (tenant_of(w), &url, &stop);
                let d = if w < WRITERS / 2 {
                    Dialect::V2
                } else {
                    Dialect::V1
                };
                s.spawn(move || writer(url, t, d, batches, w, stop))
            })
            .collect();
        for pause in KILL_EVERY_MS.iter().cycle() {
            let pause = Duration::from_millis(*pause);
            if restarts.len() >= KILLS && started.elapsed() + pause > RUN {
                break;
            }
            std::thread::sleep(pause);
            sluice.kill9();
            sluice.restart();
            restarts.push(sluice.startup);
        }
        std::thread::sleep(RUN.saturating_sub(started.elapsed()));
        stop.store(true, Ordering::Relaxed);
        handles
            .into_iter()
            .map(|h| h.join().expect("writer thread"))
            .collect()
    });
    let ran = started.elapsed();
    for (w, l) in logs.iter().enumerate() {
        assert!(l.unexpected.is_empty(), "writer {w}: {:?}", l.unexpected);
    }
    assert!(restarts.len() >= KILLS, "only {} kills", restarts.len());
    let acknowledged: u64 = logs.iter().map(|l| l.acked.len() as u64).sum::<u64>() * batches.lines;
    assert!(acknowledged > 0, "no write was acknowledged");
    report(&format!(
        "crash: {} SIGKILLs in {ran:.1?}, restart to /ready {restarts:.0?}; {} batches \
         acknowledged ({acknowledged} lines, {:.0} lines/s), {} abandoned at the end; \
         retries: {:?}",
        restarts.len(),
        logs.iter().map(|l| l.acked.len()).sum::<usize>(),
        acknowledged as f64 / ran.as_secs_f64(),
        logs.iter().filter(|l| l.abandoned.is_some()).count(),
        logs.iter().fold(Attempts::default(), |mut a, l| {
            a += l.attempts;
            a
        }),
    ));

    let acked: Vec<(usize, &str, &[u64])> = logs
        .iter()
        .enumerate()
        .map(|(w, l)| (w, tenant_of(w).bucket.as_str(), l.acked.as_slice()))
        .collect();
    let waited = Instant::now();
    let arrived = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        poll(
            "acknowledged lines upstream",
            Duration::from_secs(120),
            || {
                let (found, missing) = batches.found(&influx, &acked);
                if found == acknowledged {
                    Ok(())
                } else {
                    Err(format!(
                        "{found} of {acknowledged} found, e.g. missing {missing:?}"
                    ))
                }
            },
        )
    }));
    let (found, missing) = batches.found(&influx, &acked);
    let lost = acknowledged - found;
    report(&format!(
        "crash: acknowledged={acknowledged} found={found} lost={lost} \
         (checked {:.1?} after the writers stopped)",
        waited.elapsed()
    ));
    assert_eq!(
        lost,
        0,
        "acknowledged lines lost, e.g. (writer, batch, line) {missing:?}\n{}",
        sluice.stderr()
    );
    assert!(arrived.is_ok(), "all found only after the poll gave up");

    // A batch is one WAL record, delivered whole: none may be half there, acked or not.
    wait_forwarder_idle(&url, Duration::from_secs(60));
    for (w, l) in logs.iter().enumerate() {
        let counts = batches.counts(&influx, &tenant_of(w).bucket, w);
        let torn: BTreeMap<&u64, &u64> = counts
            .iter()
            .filter(|(_, n)| **n != batches.lines)
            .collect();
        assert!(
            torn.is_empty(),
            "writer {w}: torn batches (batch → lines) {torn:?}"
        );
        if let Some(b) = l.abandoned {
            report(&format!(
                "crash: writer {w}: batch {b}, abandoned without a 204, is {}upstream",
                if counts.contains_key(&b) { "" } else { "not " }
            ));
        }
    }
}
