//! A real single-node VictoriaMetrics (`victoria-metrics`, Debian `victoria-metrics`, 1.79.5
//! here) started by a test, used as an InfluxDB line-protocol receiver.
//!
//! Owns: the process (loopback port, data in a tempdir), `export` and waiting for data to
//! become searchable. Does not own: writing (tests use the Telegraf replay or `http`).
//!
//! Facts found on 1.79.5 (by experiment):
//! - Start-up to `/health` 200 takes 100-250 ms; SIGTERM stop ~100 ms, after which all
//!   acknowledged data is on disk and visible right after restart.
//! - Name mapping: measurement `m`, field `f` → metric `m_f` (`-influxMeasurementFieldSeparator`);
//!   tags become labels. Values become floats: `1i` → 1, `true` → 1, a string field → 0 (!).
//! - `db` label: `/write?db=D` adds `db="D"`; `/api/v2/write?bucket=B&org=O` adds **no** label
//!   for the bucket or the org (this version ignores both); `/api/v2/write?...&db=D` adds `db="D"`.
//! - Timestamps are truncated to milliseconds (`-influxTrimTimestamp=1ms`); export gives ms.
//!   Samples older than `now - retentionPeriod` or newer than `now + 2d` are dropped silently
//!   (`vm_rows_ignored_total{reason="small_timestamp"|"big_timestamp"}`; no flag changes the
//!   future limit in 1.79.5). With `-retentionPeriod=100y`, 2001 and 2024 timestamps are kept,
//!   now+1d is kept, now+3d is dropped. Use timestamps near now (in the past) in tests.
//! - Ingestion→search delay: without help a new sample shows up in `/api/v1/export` after
//!   ~5 s. `GET /internal/force_flush` makes pending rows searchable, but rows still in the
//!   insert buffers (flushed each ~1 s) are not, so one flush is not enough: [`export_until`]
//!   polls flush+export until the expected sample count is there (measured: 50-100 ms for
//!   new series on a fresh instance; up to ~1 s for a sample appended to an existing series).
//!
//! [`export_until`]: VictoriaMetrics::export_until

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::time::{Duration, Instant};

use super::http::{self, form_encode};
use super::ports::{Wait, free_port, try_wait_until, wait_http};
use super::process::{Proc, peer_binary};

const START_TIMEOUT: Duration = Duration::from_secs(20);

/// One series from `/api/v1/export`: labels (incl. `__name__`), values, timestamps in ms.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportedSeries {
    pub metric: BTreeMap<String, String>,
    pub values: Vec<f64>,
    pub timestamps: Vec<i64>,
}

impl ExportedSeries {
    /// The `__name__` label.
    pub fn name(&self) -> &str {
        self.metric
            .get("__name__")
            .map(String::as_str)
            .unwrap_or("")
    }

    /// The labels without `__name__`.
    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut m = self.metric.clone();
        m.remove("__name__");
        m
    }
}

/// A running VictoriaMetrics. Dropping it kills the process and removes its data.
#[derive(Debug)]
pub struct VictoriaMetrics {
    proc: Proc,
    port: u16,
    /// Time from spawn to `/health` 200 for the last (re)start.
    pub startup: Duration,
    dir: tempfile::TempDir,
}

impl VictoriaMetrics {
    /// Starts VictoriaMetrics, or returns `None` (loudly) when it is not installed and CI is
    /// not set.
    pub fn try_start() -> Option<VictoriaMetrics> {
        peer_binary("victoria-metrics", "victoria-metrics").map(|_| VictoriaMetrics::start())
    }

    /// Starts VictoriaMetrics and waits for `/health`. Panics if it is not installed.
    pub fn start() -> VictoriaMetrics {
        let bin = peer_binary("victoria-metrics", "victoria-metrics")
            .expect("victoria-metrics is not installed");
        let dir = tempfile::Builder::new()
            .prefix("it-vm-")
            .tempdir()
            .expect("tempdir");
        for attempt in 1..=3 {
            let port = free_port();
            let args: Vec<OsString> = vec![
                format!("-httpListenAddr=127.0.0.1:{port}").into(),
                format!("-storageDataPath={}", dir.path().join("data").display()).into(),
                "-retentionPeriod=100y".into(),
                "-search.disableCache".into(),
                "-loggerLevel=WARN".into(),
            ];
            let started = Instant::now();
            let mut proc = Proc::spawn("victoria-metrics", &bin, args, dir.path());
            let health = format!("http://127.0.0.1:{port}/health");
            let ready = try_wait_until(START_TIMEOUT, &mut proc, || {
                http::get(&health).is_ok_and(|r| r.status == 200)
            });
            if ready == Wait::Exited
                && attempt < 3
                && proc.stderr_tail(4000).contains("address already in use")
            {
                continue;
            }
            wait_http(&health, 200, Duration::ZERO, &mut proc);
            return VictoriaMetrics {
                proc,
                port,
                startup: started.elapsed(),
                dir,
            };
        }
        unreachable!("the last attempt either returns or panics")
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> Option<u32> {
        self.proc.pid()
    }

    /// The captured stderr (last 16 kB).
    pub fn stderr(&self) -> String {
        self.proc.stderr_tail(16_000)
    }

    /// Graceful stop (SIGTERM, SIGKILL after 10 s). Data dir and port are kept.
    pub fn stop(&mut self) {
        self.proc.stop(Duration::from_secs(10));
    }

    /// SIGKILL: rows still in VM's in-memory buffers (≤ ~1 s worth) are lost.
    pub fn kill9(&mut self) {
        self.proc.kill9();
    }

    /// Starts again on the same port and data dir (stops first if needed).
    pub fn restart(&mut self) {
        self.stop();
        let started = Instant::now();
        self.proc.respawn();
        wait_http(
            &format!("{}/health", self.url()),
            200,
            START_TIMEOUT,
            &mut self.proc,
        );
        self.startup = started.elapsed();
    }

    /// `GET /internal/force_flush`: pending storage rows become searchable. See the module
    /// docs: this alone does not cover rows still in the insert buffers.
    pub fn flush(&self) {
        let r = http::get(&format!("{}/internal/force_flush", self.url())).expect("force_flush");
        assert_eq!(r.status, 200, "force_flush: {}", r.text());
    }

    /// `GET /api/v1/export?match[]=<selector>&start=0&end=<now+3d>`, parsed, sorted by
    /// labels. (Export's default `end` is now, which would hide near-future samples.)
    pub fn export(&self, selector: &str) -> Vec<ExportedSeries> {
        let end = (super::telegraf::now_ns() / 1_000_000_000 + 3 * 86_400).to_string();
        let url = format!(
            "{}/api/v1/export?{}",
            self.url(),
            form_encode(&[("match[]", selector), ("start", "0"), ("end", &end)])
        );
        let r = http::get(&url).expect("GET /api/v1/export");
        assert_eq!(r.status, 200, "export {selector}: {}", r.text());
        let mut out: Vec<ExportedSeries> = r
            .text()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(parse_export_line)
            .collect();
        out.sort_by(|a, b| a.metric.cmp(&b.metric));
        out
    }

    /// Flushes and exports until at least `min_samples` samples match `selector`, or panics
    /// after `timeout` showing what was there.
    pub fn export_until(
        &self,
        selector: &str,
        min_samples: usize,
        timeout: Duration,
    ) -> Vec<ExportedSeries> {
        let deadline = Instant::now() + timeout;
        loop {
            self.flush();
            let got = self.export(selector);
            let n: usize = got.iter().map(|s| s.values.len()).sum();
            if n >= min_samples {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "victoria-metrics: {n} of {min_samples} samples for {selector} after {timeout:?}: \
                 {got:?}\n--- stderr ---\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The `/metrics` page (e.g. `vm_rows_ignored_total{reason="big_timestamp"}` tells why
    /// samples are missing).
    pub fn metrics_text(&self) -> String {
        http::get(&format!("{}/metrics", self.url()))
            .expect("GET /metrics")
            .text()
    }

    /// The temp dir holding data and logs.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

fn parse_export_line(line: &str) -> ExportedSeries {
    let v: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("export line {line:?}: {e}"));
    let metric = v["metric"]
        .as_object()
        .expect("export line has metric")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    let values = v["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|x| x.as_f64().expect("numeric value"))
        .collect();
    let timestamps = v["timestamps"]
        .as_array()
        .expect("timestamps")
        .iter()
        .map(|x| x.as_i64().expect("integer ms timestamp"))
        .collect();
    ExportedSeries {
        metric,
        values,
        timestamps,
    }
}

#[test]
fn parses_export_lines() {
    let s = parse_export_line(
        r#"{"metric":{"__name__":"m_f","db":"x"},"values":[1,2.5],"timestamps":[10,20]}"#,
    );
    assert_eq!(s.name(), "m_f");
    assert_eq!(s.labels().get("db").map(String::as_str), Some("x"));
    assert_eq!((s.values, s.timestamps), (vec![1.0, 2.5], vec![10, 20]));
}
