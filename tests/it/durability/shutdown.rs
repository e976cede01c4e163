//! Graceful shutdown: SIGTERM while three writers are active → exit status 0 (in-flight
//! requests get their fsync and their answer first), and after a restart every line that got
//! a 204 reaches the upstream.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::common::{
    Attempts, Batches, Dialect, WriterLog, influx_behind_sluice, poll, report, writer,
};
use crate::support::sluice::Sluice;

#[test]
fn sigterm_under_load_exits_0_and_loses_nothing() {
    let Some((influx, ts, cfg)) = influx_behind_sluice("term", 2, &[]) else {
        return;
    };
    let mut sluice = Sluice::start(&cfg);
    let url = sluice.url();
    let batches = Batches::new("term", 500);
    let tenant_of = |w: usize| &ts[w % ts.len()];
    let stop = AtomicBool::new(false);

    let (logs, status, took) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|w| {
                let (t, url, stop) = (tenant_of(w), &url, &stop);
                s.spawn(move || writer(url, t, Dialect::alternate(w), batches, w, stop))
            })
            .collect();
        std::thread::sleep(Duration::from_secs(2));
        let term = Instant::now();
        sluice.terminate();
        let status = sluice.wait_exit(Duration::from_secs(30));
        let took = term.elapsed();
        sluice.restart();
        std::thread::sleep(Duration::from_secs(1));
        stop.store(true, Ordering::Relaxed);
        let logs: Vec<WriterLog> = handles
            .into_iter()
            .map(|h| h.join().expect("writer thread"))
            .collect();
        (logs, status, took)
    });
    assert!(
        status.success(),
        "SIGTERM under load must exit 0, got {status:?}\n{}",
        sluice.stderr()
    );
    assert!(
        sluice.stderr().contains("stopped cleanly"),
        "no clean-stop log line:\n{}",
        sluice.stderr()
    );
    for (w, l) in logs.iter().enumerate() {
        assert!(l.unexpected.is_empty(), "writer {w}: {:?}", l.unexpected);
    }
    let acknowledged: u64 = logs.iter().map(|l| l.acked.len() as u64).sum::<u64>() * batches.lines;
    report(&format!(
        "shutdown: SIGTERM → {status} in {took:.2?} under load; {acknowledged} lines \
         acknowledged; retries {:?}",
        logs.iter().fold(Attempts::default(), |mut a, l| {
            a += l.attempts;
            a
        })
    ));
    let acked: Vec<(usize, &str, &[u64])> = logs
        .iter()
        .enumerate()
        .map(|(w, l)| (w, tenant_of(w).bucket.as_str(), l.acked.as_slice()))
        .collect();
    poll(
        "acknowledged lines upstream",
        Duration::from_secs(120),
        || {
            let (found, missing) = batches.found(&influx, &acked);
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
        "shutdown: acknowledged={acknowledged} found={acknowledged} lost=0"
    ));
}
