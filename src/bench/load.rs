//! Sending the pre-built pool: closed loop (C senders, each sends its next request when the
//! previous one is answered) or open loop (requests start on a fixed schedule; latency counts
//! from the intended start, so a stalled server cannot hide behind a slowed client).
//!
//! Owns: the send loops, counters, the per-second progress line, and the CPU/RSS samples
//! around the measured window. Does not own: building requests (`batches`) or rendering
//! (`report`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;

use super::BenchError;
use super::batches::Batch;
use super::procstat::{self, TreeSample};
use super::report::{Latency, Report, ServerUsage, new_histogram};

/// Closed or open loop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    Closed {
        concurrency: usize,
    },
    Open {
        lines_per_s: f64,
        max_in_flight: usize,
    },
}

/// When the run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// After this long (the pool is reused, wrapping around, if it runs out).
    Duration(Duration),
    /// After every batch of the pool was sent once (the pool holds exactly the lines asked).
    PoolOnce,
}

/// One run.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// `http://host:port`, no trailing slash.
    pub base_url: String,
    pub mode: Mode,
    pub stop: Stop,
    /// Load sent before the measured window (duration mode only); its results are discarded.
    pub warmup: Duration,
    pub timeout: Duration,
    pub progress: bool,
    /// Servers to account: (name, pid).
    pub pids: Vec<(String, u32)>,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    ok: AtomicU64,
    lines: AtomicU64,
    bytes: AtomicU64,
    body_bytes: AtomicU64,
    transport_errors: AtomicU64,
}

struct Shared {
    pool: Vec<Batch>,
    client: reqwest::Client,
    base_url: String,
    next: AtomicU64,
    measuring: AtomicBool,
    counters: Counters,
    hist: Mutex<Histogram<u64>>,
    /// Per-second histogram for the progress line.
    tick_hist: Mutex<Histogram<u64>>,
    statuses: Mutex<BTreeMap<u16, u64>>,
    errors: Mutex<Vec<String>>,
}

impl Shared {
    /// Index of the next batch, or None when `PoolOnce` has sent them all.
    fn take(&self, stop: Stop) -> Option<usize> {
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.pool.len() as u64;
        if n == 0 || (stop == Stop::PoolOnce && k >= n) {
            return None;
        }
        usize::try_from(k % n).ok()
    }

    /// Sends one batch; latency runs from `intended`.
    async fn send(&self, b: &Batch, intended: Instant) {
        let mut req = self
            .client
            .post(format!("{}{}", self.base_url, b.path))
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(b.body.clone());
        if let Some(a) = &b.auth {
            req = req.header("Authorization", a);
        }
        if b.gzip {
            req = req.header("Content-Encoding", "gzip");
        }
        let result = match req.send().await {
            // Read the whole answer so the connection is reused.
            Ok(resp) => {
                let status = resp.status().as_u16();
                resp.bytes().await.map(|_| status)
            }
            Err(e) => Err(e),
        };
        let us = u64::try_from(intended.elapsed().as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        if !self.measuring.load(Ordering::Relaxed) {
            return;
        }
        let c = &self.counters;
        c.requests.fetch_add(1, Ordering::Relaxed);
        c.body_bytes
            .fetch_add(b.body.len() as u64, Ordering::Relaxed);
        match result {
            Ok(status) if (200..300).contains(&status) => {
                c.ok.fetch_add(1, Ordering::Relaxed);
                c.lines.fetch_add(b.lines, Ordering::Relaxed);
                c.bytes.fetch_add(b.raw_bytes, Ordering::Relaxed);
            }
            Ok(status) => {
                *lock(&self.statuses).entry(status).or_default() += 1;
            }
            Err(e) => {
                c.transport_errors.fetch_add(1, Ordering::Relaxed);
                let mut errs = lock(&self.errors);
                if errs.len() < 5 {
                    errs.push(error_chain(&e));
                }
            }
        }
        let _ = lock(&self.hist).record(us);
        let _ = lock(&self.tick_hist).record(us);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        s.push_str(": ");
        s.push_str(&x.to_string());
        src = x.source();
    }
    s
}

/// Runs the load and returns the report (rates filled). `interrupt` ends the run early, as
/// a normal end (Ctrl-C in the CLI).
pub async fn run(
    spec: &LoadSpec,
    pool: Vec<Batch>,
    interrupt: tokio::sync::watch::Receiver<bool>,
) -> Result<Report, BenchError> {
    let concurrency = match spec.mode {
        Mode::Closed { concurrency } => concurrency.max(1),
        Mode::Open { max_in_flight, .. } => max_in_flight.max(1),
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .tcp_nodelay(true)
        .timeout(spec.timeout)
        .build()
        .map_err(|e| BenchError::Client {
            reason: error_chain(&e),
        })?;
    let batch_lines = pool.first().map_or(0, |b| b.lines);
    let (api, gzip) = pool.first().map_or((String::new(), false), |b| {
        let api = if b.path.starts_with("/write") {
            "v1"
        } else {
            "v2"
        };
        (api.to_owned(), b.gzip)
    });
    let shared = Arc::new(Shared {
        pool,
        client,
        base_url: spec.base_url.trim_end_matches('/').to_owned(),
        next: AtomicU64::new(0),
        measuring: AtomicBool::new(false),
        counters: Counters::default(),
        hist: Mutex::new(new_histogram()),
        tick_hist: Mutex::new(new_histogram()),
        statuses: Mutex::new(BTreeMap::new()),
        errors: Mutex::new(Vec::new()),
    });

    let stop_at = Arc::new(Mutex::new(None::<Instant>));
    let done = Arc::new(AtomicBool::new(false));
    let senders = tokio::spawn(drive(
        spec.mode,
        spec.stop,
        Arc::clone(&shared),
        Arc::clone(&stop_at),
        Arc::clone(&done),
    ));

    if spec.stop != Stop::PoolOnce && !spec.warmup.is_zero() {
        wait_or_interrupt(spec.warmup, interrupt.clone()).await;
        if spec.progress {
            eprintln!("warm-up done ({:?})", spec.warmup);
        }
    }
    // The measured window starts here.
    let load_start = procstat::loadavg_1m();
    let cpu0: Vec<Option<TreeSample>> = spec
        .pids
        .iter()
        .map(|(_, p)| procstat::sample_tree(*p))
        .collect();
    let client0 = procstat::self_cpu_s();
    let t0 = Instant::now();
    shared.measuring.store(true, Ordering::Relaxed);
    if let Stop::Duration(d) = spec.stop {
        *lock(&stop_at) = Some(t0 + d);
    }
    let progress = spec
        .progress
        .then(|| tokio::spawn(progress_loop(Arc::clone(&shared), t0, Arc::clone(&done))));
    let mut intr = interrupt.clone();
    let mut senders = senders;
    tokio::select! {
        _ = &mut senders => {}
        _ = intr.wait_for(|v| *v) => {
            *lock(&stop_at) = Some(Instant::now());
            let _ = (&mut senders).await;
        }
    }
    done.store(true, Ordering::Relaxed);
    let window = t0.elapsed();
    let cpu1: Vec<Option<TreeSample>> = spec
        .pids
        .iter()
        .map(|(_, p)| procstat::sample_tree(*p))
        .collect();
    let client_cpu = procstat::self_cpu_s() - client0;
    if let Some(p) = progress {
        let _ = p.await;
    }

    let c = &shared.counters;
    let mut report = Report {
        url: spec.base_url.clone(),
        api,
        gzip,
        mode: match spec.mode {
            Mode::Closed { concurrency } => format!("closed c={concurrency}"),
            Mode::Open { lines_per_s, .. } => format!("open {lines_per_s:.0} lines/s"),
        },
        batch_lines,
        window_s: window.as_secs_f64(),
        requests: c.requests.load(Ordering::Relaxed),
        requests_ok: c.ok.load(Ordering::Relaxed),
        lines_accepted: c.lines.load(Ordering::Relaxed),
        bytes_accepted: c.bytes.load(Ordering::Relaxed),
        body_bytes_sent: c.body_bytes.load(Ordering::Relaxed),
        latency: Latency::from_histogram(&lock(&shared.hist)),
        status_counts: lock(&shared.statuses).clone(),
        transport_errors: c.transport_errors.load(Ordering::Relaxed),
        error_samples: lock(&shared.errors).clone(),
        client_cpu_s: client_cpu,
        loadavg_start: load_start,
        loadavg_end: procstat::loadavg_1m(),
        ..Report::default()
    };
    for (((name, pid), a), b) in spec.pids.iter().zip(cpu0).zip(cpu1) {
        let (a, b) = match (a, b) {
            (Some(a), Some(b)) => (a, b),
            _ => {
                return Err(BenchError::ProcessGone {
                    name: name.clone(),
                    pid: *pid,
                });
            }
        };
        report.servers.push(ServerUsage {
            name: name.clone(),
            pid: *pid,
            cpu_s: (b.cpu_s - a.cpu_s).max(0.0),
            peak_rss_mib: b.hwm_kib as f64 / 1024.0,
            rss_mib: b.rss_kib as f64 / 1024.0,
            procs: b.procs,
            ..ServerUsage::default()
        });
    }
    report.finish();
    Ok(report)
}

async fn wait_or_interrupt(d: Duration, mut interrupt: tokio::sync::watch::Receiver<bool>) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = interrupt.wait_for(|v| *v) => {}
    }
}

fn past(stop_at: &Mutex<Option<Instant>>, now: Instant) -> bool {
    lock(stop_at).is_some_and(|s| now >= s)
}

async fn drive(
    mode: Mode,
    stop: Stop,
    shared: Arc<Shared>,
    stop_at: Arc<Mutex<Option<Instant>>>,
    done: Arc<AtomicBool>,
) {
    match mode {
        Mode::Closed { concurrency } => {
            let tasks: Vec<_> = (0..concurrency.max(1))
                .map(|_| {
                    let shared = Arc::clone(&shared);
                    let stop_at = Arc::clone(&stop_at);
                    tokio::spawn(async move {
                        loop {
                            let now = Instant::now();
                            if past(&stop_at, now) {
                                break;
                            }
                            let Some(i) = shared.take(stop) else { break };
                            shared.send(&shared.pool[i], now).await;
                        }
                    })
                })
                .collect();
            for t in tasks {
                let _ = t.await;
            }
        }
        Mode::Open {
            lines_per_s,
            max_in_flight,
        } => {
            let batch = shared.pool.first().map_or(1, |b| b.lines.max(1));
            let interval = Duration::from_secs_f64(batch as f64 / lines_per_s.max(1e-6));
            let sem = Arc::new(tokio::sync::Semaphore::new(max_in_flight.max(1)));
            let start = Instant::now();
            let mut tasks = tokio::task::JoinSet::new();
            for k in 0u32.. {
                let intended = start + interval * k;
                tokio::time::sleep_until(intended).await;
                if past(&stop_at, Instant::now()) {
                    break;
                }
                // A full window delays the send but not `intended`: the wait is counted.
                let Ok(permit) = Arc::clone(&sem).acquire_owned().await else {
                    break;
                };
                let Some(i) = shared.take(stop) else { break };
                let shared = Arc::clone(&shared);
                tasks.spawn(async move {
                    shared.send(&shared.pool[i], intended).await;
                    drop(permit);
                });
                while tasks.try_join_next().is_some() {}
            }
            while tasks.join_next().await.is_some() {}
        }
    }
    done.store(true, Ordering::Relaxed);
}

async fn progress_loop(shared: Arc<Shared>, t0: Instant, done: Arc<AtomicBool>) {
    let mut last_lines = 0;
    let mut tick = tokio::time::interval_at(t0 + Duration::from_secs(1), Duration::from_secs(1));
    while !done.load(Ordering::Relaxed) {
        tick.tick().await;
        let c = &shared.counters;
        let lines = c.lines.load(Ordering::Relaxed);
        let p99 = {
            let mut h = lock(&shared.tick_hist);
            let v = h.value_at_quantile(0.99);
            h.reset();
            v
        };
        let bad: u64 = lock(&shared.statuses).values().sum();
        eprintln!(
            "[{:>5.1}s] {:>9} lines/s  {:>11} lines  p99(1s) {:>8.1} ms  non-2xx {}  transport errors {}",
            t0.elapsed().as_secs_f64(),
            lines - last_lines,
            lines,
            p99 as f64 / 1000.0,
            bad,
            c.transport_errors.load(Ordering::Relaxed)
        );
        last_lines = lines;
    }
}
