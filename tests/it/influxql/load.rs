//! Sending the data set: into InfluxDB 1.6.7 (one database per tenant) and through sluice's
//! write API (each tenant with its own token), as Telegraf would: gzip, chunked, every batch
//! re-sent until it gets its 204.
//!
//! Owns: the send loops (a few threads over one shared queue of batches, then the rewrite
//! batches one at a time), the kill -9 plan (sluice SIGKILLed and restarted while batches are
//! in flight) and the numbers printed. Does not own: what the batches hold (`dataset`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::dataset::{Batch, TenantData};
use crate::support::http::{Body, Request, form_encode};
use crate::support::influxdb::InfluxV1;
use crate::support::sluice::Sluice;
use crate::support::telegraf::{CHUNK, USER_AGENT};

/// Concurrent senders.
pub const SENDERS: usize = 4;
/// Longest a restart may take to be ready (WAL and store replay; debug build, busy machine).
pub const RESTART_TIMEOUT: Duration = Duration::from_secs(180);
/// Longest a batch may take to be acknowledged (retries included).
const BATCH_DEADLINE: Duration = Duration::from_secs(300);

/// Where the batches go.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// `POST /write?db=<bucket>` without credentials.
    Influx(&'a str),
    /// sluice: even batches `POST /api/v2/write` (Token), odd `POST /write` (Basic, token as
    /// password), as Telegraf's two outputs send them.
    Sluice(&'a str),
}

/// What a load did.
#[derive(Debug, Default, Clone)]
pub struct LoadStats {
    pub lines: usize,
    pub batches: usize,
    pub elapsed: Duration,
    /// Sends that did not get a 204 and were repeated (connection errors, 503).
    pub resent: usize,
    /// sluice kill -9 + restart cycles done during the load.
    pub kills: usize,
    /// Time to `/ready` of each restart after a kill.
    pub restarts: Vec<Duration>,
}

impl LoadStats {
    pub fn lines_per_s(&self) -> f64 {
        self.lines as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The request for batch `i` (its index in sending order) of tenant `t`.
pub fn request(target: Target<'_>, t: &TenantData, i: usize, b: &Batch) -> Request {
    let body = Body::Chunked(b.gz.chunks(CHUNK).map(<[u8]>::to_vec).collect());
    let req = match target {
        Target::Influx(base) => {
            let url = format!("{base}/write?{}", form_encode(&[("db", &t.bucket)]));
            Request::new("POST", &url)
                .header("User-Agent", USER_AGENT)
                .header("Transfer-Encoding", "chunked")
        }
        Target::Sluice(base) if i.is_multiple_of(2) => {
            let url = format!(
                "{base}/api/v2/write?{}",
                form_encode(&[("bucket", &t.bucket), ("org", "org")])
            );
            Request::new("POST", &url)
                .header("User-Agent", USER_AGENT)
                .header("Transfer-Encoding", "chunked")
                .header("Authorization", &format!("Token {}", t.token))
        }
        Target::Sluice(base) => {
            let url = format!("{base}/write?{}", form_encode(&[("db", &t.bucket)]));
            Request::new("POST", &url)
                .header("User-Agent", USER_AGENT)
                .header("Transfer-Encoding", "chunked")
                .basic_auth("telegraf", &t.token)
        }
    };
    req.header("Content-Encoding", "gzip")
        .header("Content-Type", "text/plain; charset=utf-8")
        .header("Accept-Encoding", "gzip")
        .body(body)
}

/// Sends `req` until it gets a 204; connection errors and 503 are retried 50 ms apart. Returns
/// the number of failed sends, or what went wrong.
fn until_acked(req: &Request) -> Result<usize, String> {
    let deadline = Instant::now() + BATCH_DEADLINE;
    let mut failed = 0;
    loop {
        match req.send() {
            Ok(r) if r.status == 204 => return Ok(failed),
            Ok(r) if r.status == 503 => failed += 1,
            Ok(r) => return Err(format!("{} answered {}: {}", req.url, r.status, r.text())),
            Err(_) => failed += 1,
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "{} not acknowledged within {BATCH_DEADLINE:?}",
                req.url
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Creates the tenants' databases in InfluxDB and loads every batch into it.
pub fn into_influx(influx: &InfluxV1, data: &[TenantData]) -> LoadStats {
    for t in data {
        influx.create_db(&t.bucket);
    }
    let url = influx.url();
    send_all(Target::Influx(&url), data, |_| {})
}

/// Loads every batch through sluice; `kill_at` lists fractions of the batches (e.g. `[0.3,
/// 0.7]`) after whose acknowledgement sluice is SIGKILLed and restarted while the other senders
/// go on (their batches are then re-sent until acknowledged, as Telegraf does).
pub fn into_sluice(sluice: &mut Sluice, data: &[TenantData], kill_at: &[f64]) -> LoadStats {
    let url = sluice.url();
    let total: usize = data.iter().map(|t| t.batches.len()).sum();
    let mut plan: Vec<usize> = kill_at
        .iter()
        .map(|f| ((total as f64) * f) as usize)
        .collect();
    plan.sort_unstable();
    let plan = Mutex::new((plan, 0usize));
    let sluice = Mutex::new(sluice);
    let restarts = Mutex::new(Vec::new());
    let mut stats = send_all(Target::Sluice(&url), data, |acked| {
        let mut p = plan.lock().expect("kill plan lock");
        let next = p.1;
        if p.0.get(next).is_some_and(|&at| acked >= at) {
            p.1 += 1;
            let mut s = sluice.lock().expect("sluice lock");
            s.kill9();
            // Let the other senders hit the closed port for a moment.
            std::thread::sleep(Duration::from_millis(200));
            s.restart_within(RESTART_TIMEOUT);
            restarts.lock().expect("restarts lock").push(s.startup);
        }
    });
    stats.kills = plan.lock().expect("kill plan lock").1;
    stats.restarts = restarts.into_inner().expect("restarts lock");
    stats
}

pub fn send_all(
    target: Target<'_>,
    data: &[TenantData],
    on_ack: impl Fn(usize) + Sync,
) -> LoadStats {
    let started = Instant::now();
    let work: Vec<(usize, usize)> = {
        // Interleave tenants so all three load at once.
        let most = data.iter().map(|t| t.batches.len()).max().unwrap_or(0);
        (0..most)
            .flat_map(|i| (0..data.len()).map(move |t| (t, i)))
            .filter(|&(t, i)| i < data[t].batches.len())
            .collect()
    };
    let next = AtomicUsize::new(0);
    let acked = AtomicUsize::new(0);
    let resent = AtomicUsize::new(0);
    let errors = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..SENDERS {
            s.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(t, i)) = work.get(k) else { break };
                    let td = &data[t];
                    match until_acked(&request(target, td, i, &td.batches[i])) {
                        Ok(n) => {
                            resent.fetch_add(n, Ordering::Relaxed);
                            on_ack(acked.fetch_add(1, Ordering::Relaxed) + 1);
                        }
                        Err(e) => errors.lock().expect("errors lock").push(e),
                    }
                }
            });
        }
    });
    // Rewrites: after everything else, in order (last write wins).
    for td in data {
        for (i, b) in td.rewrites.iter().enumerate() {
            match until_acked(&request(target, td, i, b)) {
                Ok(n) => {
                    resent.fetch_add(n, Ordering::Relaxed);
                }
                Err(e) => errors.lock().expect("errors lock").push(e),
            }
        }
    }
    let errors = errors.into_inner().expect("errors lock");
    assert!(
        errors.is_empty(),
        "{} batches failed, e.g. {:?}",
        errors.len(),
        &errors[..errors.len().min(3)]
    );
    LoadStats {
        lines: data.iter().map(TenantData::lines).sum(),
        batches: work.len() + data.iter().map(|t| t.rewrites.len()).sum::<usize>(),
        elapsed: started.elapsed(),
        resent: resent.into_inner(),
        kills: 0,
        restarts: Vec::new(),
    }
}
