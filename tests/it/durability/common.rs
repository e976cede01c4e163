//! Shared pieces of the durability tests: tenants, configs, Telegraf-shaped writes that retry
//! the way a client must (connection errors, 503), a record of what was acknowledged, and
//! polling the upstream until it has what sluice acknowledged.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use toml::{Table, Value};

use crate::support::http::Request;
use crate::support::influxdb::{InfluxOpts, InfluxV1};
use crate::support::point::Point;
use crate::support::sluice::SluiceConfig;
use crate::support::telegraf;

/// One tenant as the tests use it: its token and the one bucket (= v1 db) it writes.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: String,
    pub token: String,
    pub bucket: String,
}

/// `n` tenants `<prefix>0..` with distinct tokens and buckets `<prefix>_db<i>`.
pub fn tenants(prefix: &str, n: usize) -> Vec<Tenant> {
    (0..n)
        .map(|i| Tenant {
            id: format!("{prefix}{i}"),
            token: format!("tok-{prefix}-{i}-s3cret"),
            bucket: format!("{prefix}_db{i}"),
        })
        .collect()
}

/// A real InfluxDB 1.6.7 holding the databases of `n` tenants `<prefix>…`, and the config of a
/// sluice forwarding to it (v1, `max_backoff = "1s"` so recovery after an outage is quick)
/// with `wal` extras. `None` when the peer is missing outside CI (the test then skips).
pub fn influx_behind_sluice(
    prefix: &str,
    n: usize,
    wal: &[(&str, Value)],
) -> Option<(InfluxV1, Vec<Tenant>, String)> {
    let influx = InfluxV1::try_start(InfluxOpts::default())?;
    let ts = tenants(prefix, n);
    for t in &ts {
        influx.create_db(&t.bucket);
    }
    let cfg = config(
        &influx.url(),
        "v1",
        &ts,
        &[("max_backoff", "1s".into())],
        wal,
    );
    Some((influx, ts, cfg))
}

/// A sluice config: `tenants`, `[upstream] url/api`, plus `[upstream]` and `[wal]` extras.
pub fn config(
    upstream_url: &str,
    api: &str,
    tenants: &[Tenant],
    upstream_extra: &[(&str, Value)],
    wal: &[(&str, Value)],
) -> String {
    let mut c = SluiceConfig::new().upstream(upstream_url, api);
    for t in tenants {
        c = c.simple_tenant(&t.id, &t.token, &[t.bucket.as_str()]);
    }
    for (k, v) in wal {
        c = c.wal(k, v.clone());
    }
    let mut table: Table = c.to_toml().parse().expect("builder writes TOML");
    let up = table
        .get_mut("upstream")
        .and_then(Value::as_table_mut)
        .expect("[upstream] was set");
    for (k, v) in upstream_extra {
        up.insert((*k).to_owned(), v.clone());
    }
    toml::to_string(&table).expect("serialize config")
}

/// Which write endpoint a request goes to (Telegraf's `influxdb_v2` or `influxdb` output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    V1,
    V2,
}

impl Dialect {
    /// V2 for even `i`, V1 for odd: a deterministic mix.
    pub fn alternate(i: usize) -> Dialect {
        if i.is_multiple_of(2) {
            Dialect::V2
        } else {
            Dialect::V1
        }
    }
}

/// One Telegraf-shaped write (gzip, chunked). v1 uses Basic auth with the token as password.
pub fn request(base: &str, t: &Tenant, d: Dialect, lines: &str) -> Request {
    match d {
        Dialect::V2 => telegraf::v2_write_request(base, &t.bucket, "org", &t.token, lines),
        Dialect::V1 => {
            telegraf::v1_write_request(base, &t.bucket, Some(("telegraf", &t.token)), lines)
        }
    }
}

/// How one write ended after retries.
#[derive(Debug, Clone, Copy, Default)]
pub struct Attempts {
    /// Connection errors (refused, reset, closed before the answer).
    pub io_errors: u32,
    /// 503 answers.
    pub unavailable: u32,
}

/// Sends `req` until a 204, retrying on connection errors and 503 (after `pause`), until
/// `deadline`. Any other status is an error, and so is the deadline passing.
pub fn send_until_acked(
    req: &Request,
    pause: Duration,
    deadline: Instant,
) -> Result<Attempts, String> {
    let mut a = Attempts::default();
    loop {
        match req.send() {
            Ok(r) if r.status == 204 => return Ok(a),
            Ok(r) if r.status == 503 => a.unavailable += 1,
            Ok(r) => return Err(format!("{} answered {}: {}", req.url, r.status, r.text())),
            Err(_) => a.io_errors += 1,
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "{} not acknowledged before the deadline: {a:?}",
                req.url
            ));
        }
        std::thread::sleep(pause);
    }
}

impl std::ops::AddAssign for Attempts {
    fn add_assign(&mut self, o: Attempts) {
        self.io_errors += o.io_errors;
        self.unavailable += o.unavailable;
    }
}

/// Polls `probe` every 200 ms until it returns `Ok`, or panics after `timeout` with the last
/// `Err` text. Returns the value and how long it took.
pub fn poll<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> (T, Duration) {
    let started = Instant::now();
    loop {
        match probe() {
            Ok(v) => return (v, started.elapsed()),
            Err(e) => assert!(
                started.elapsed() < timeout,
                "{what}: not reached within {timeout:?}: {e}"
            ),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until `count(measurement)` in `db` is `want`; panics if it ever exceeds it or the
/// timeout passes.
pub fn wait_influx_count(
    influx: &InfluxV1,
    db: &str,
    measurement: &str,
    want: u64,
    timeout: Duration,
) -> Duration {
    poll(&format!("influxdb {db}.{measurement}"), timeout, || {
        let n = influx.count(db, measurement);
        assert!(
            n <= want,
            "{db}.{measurement} holds {n} points, more than the {want} written"
        );
        if n == want {
            Ok(())
        } else {
            Err(format!("{n} of {want} points"))
        }
    })
    .1
}

/// `None` when equal, else a short description of the first differences.
pub fn diff_points(want: &[Point], got: &[Point]) -> Option<String> {
    if want == got {
        return None;
    }
    let w: BTreeSet<String> = want.iter().map(Point::to_line).collect();
    let g: BTreeSet<String> = got.iter().map(Point::to_line).collect();
    let missing: Vec<&String> = w.difference(&g).take(3).collect();
    let extra: Vec<&String> = g.difference(&w).take(3).collect();
    Some(format!(
        "want {} points, got {}; {} missing (e.g. {missing:?}), {} unexpected (e.g. {extra:?})",
        want.len(),
        got.len(),
        w.difference(&g).count(),
        g.difference(&w).count(),
    ))
}

/// Prints a result line to the real stderr (libtest captures `eprintln!` of passing tests;
/// these numbers are the report).
pub fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "[durability] {line}");
}

/// Batches of numbered lines whose presence upstream is checkable line by line: writer `w`'s
/// line `j` of batch `b` is `<measurement>,writer=w<w> b=<b>i,j=<j>i <t>` with
/// `t = base + w·10¹² + b·lines + j` ns, unique over all writers and batches.
#[derive(Debug, Clone, Copy)]
pub struct Batches {
    pub measurement: &'static str,
    pub base: i64,
    pub lines: u64,
}

impl Batches {
    /// `lines` per batch, timestamps starting an hour ago.
    pub fn new(measurement: &'static str, lines: u64) -> Batches {
        Batches {
            measurement,
            base: telegraf::now_ns() - 3_600_000_000_000,
            lines,
        }
    }

    pub fn time(&self, w: usize, b: u64, j: u64) -> i64 {
        self.base
            + i64::try_from(w).expect("fits") * 1_000_000_000_000
            + i64::try_from(b * self.lines + j).expect("fits")
    }

    pub fn body(&self, w: usize, b: u64) -> String {
        (0..self.lines)
            .map(|j| {
                let t = self.time(w, b, j);
                format!("{},writer=w{w} b={b}i,j={j}i {t}\n", self.measurement)
            })
            .collect()
    }

    /// `(time, b)` of every point of writer `w` in `db`.
    fn rows(&self, influx: &InfluxV1, db: &str, w: usize) -> Vec<(i64, u64)> {
        let q = format!(
            "SELECT b FROM {} WHERE writer = 'w{w}'",
            crate::support::influxdb::ident(self.measurement)
        );
        let v = influx.query(db, &q);
        v["results"][0]["series"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s["values"].as_array().into_iter().flatten())
            .filter_map(|row| Some((row[0].as_i64()?, row[1].as_u64()?)))
            .collect()
    }

    /// Batch → number of its lines writer `w` has in `db`.
    pub fn counts(&self, influx: &InfluxV1, db: &str, w: usize) -> BTreeMap<u64, u64> {
        let mut out = BTreeMap::new();
        for (_, b) in self.rows(influx, db, w) {
            *out.entry(b).or_default() += 1;
        }
        out
    }

    /// Of the lines of the `acked` batches of each writer (`(w, db, batches)`), how many are
    /// in InfluxDB, and up to 5 missing `(writer, batch, line)`.
    pub fn found(
        &self,
        influx: &InfluxV1,
        acked: &[(usize, &str, &[u64])],
    ) -> (u64, Vec<(usize, u64, u64)>) {
        let mut found = 0;
        let mut missing = Vec::new();
        for &(w, db, batches) in acked {
            let have: BTreeSet<i64> = self.rows(influx, db, w).into_iter().map(|r| r.0).collect();
            for &b in batches {
                for j in 0..self.lines {
                    if have.contains(&self.time(w, b, j)) {
                        found += 1;
                    } else if missing.len() < 5 {
                        missing.push((w, b, j));
                    }
                }
            }
        }
        (found, missing)
    }
}

/// What one [`writer`] saw.
#[derive(Debug, Default)]
pub struct WriterLog {
    /// Batches answered 204, in order.
    pub acked: Vec<u64>,
    /// The batch given up on when the run ended, if it was never answered 204.
    pub abandoned: Option<u64>,
    pub attempts: Attempts,
    /// Answers other than 204/503.
    pub unexpected: Vec<String>,
}

/// Writes batches 0, 1, 2, … of `w` until `stop`, each retried (connection errors, 503,
/// 50 ms apart) until it gets a 204 or the run ends.
pub fn writer(
    base_url: &str,
    t: &Tenant,
    d: Dialect,
    batches: Batches,
    w: usize,
    stop: &AtomicBool,
) -> WriterLog {
    let mut log = WriterLog::default();
    let mut b = 0;
    while !stop.load(Ordering::Relaxed) {
        let req = request(base_url, t, d, &batches.body(w, b));
        loop {
            match req.send() {
                Ok(r) if r.status == 204 => {
                    log.acked.push(b);
                    break;
                }
                Ok(r) if r.status == 503 => log.attempts.unavailable += 1,
                Ok(r) => log
                    .unexpected
                    .push(format!("batch {b}: {} {}", r.status, r.text())),
                Err(_) => log.attempts.io_errors += 1,
            }
            if stop.load(Ordering::Relaxed) {
                log.abandoned = Some(b);
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        b += 1;
    }
    log
}

/// Waits until sluice's `/health` reports the upstream check passing with `lag_records` 0.
pub fn wait_forwarder_idle(sluice_url: &str, timeout: Duration) {
    poll("forwarder idle", timeout, || {
        let r = crate::support::http::get(&format!("{sluice_url}/health"))
            .map_err(|e| e.to_string())?;
        let v = r.json();
        let up = v["checks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["name"] == "upstream")
            .cloned()
            .unwrap_or_default();
        if up["status"] == "pass" && up["lag_records"] == 0 {
            Ok(())
        } else {
            Err(format!("upstream check {up}"))
        }
    });
}
