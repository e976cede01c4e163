//! The result of one load run: counts, rates, latency percentiles (HDR histogram), errors,
//! server CPU and memory; rendered as one JSON object and as a human table.
//!
//! Owns: the report's shape and arithmetic. Does not own: measuring (`load`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latency histogram in µs, 1 µs .. 1 h, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("static bounds are valid")
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Latency {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn from_histogram(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            count: h.len(),
            mean_ms: h.mean() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

/// CPU and memory of one server (a process and its descendants) during the measured window.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServerUsage {
    pub name: String,
    pub pid: u32,
    pub cpu_s: f64,
    /// cpu_s / window seconds (1.0 = one core busy).
    pub cores: f64,
    pub lines_per_cpu_s: Option<f64>,
    /// Peak RSS (VmHWM, since process start), MiB, summed over the process tree.
    pub peak_rss_mib: f64,
    /// RSS at the end of the window, MiB.
    pub rss_mib: f64,
    pub procs: usize,
}

/// One run's result.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    pub url: String,
    pub api: String,
    pub gzip: bool,
    /// `closed c=N` or `open N lines/s`.
    pub mode: String,
    pub batch_lines: u64,
    pub window_s: f64,
    pub requests: u64,
    pub requests_ok: u64,
    pub lines_accepted: u64,
    /// Uncompressed line-protocol bytes in accepted requests.
    pub bytes_accepted: u64,
    /// Bytes put on the wire in request bodies (after gzip), all requests.
    pub body_bytes_sent: u64,
    pub lines_per_s: f64,
    pub mb_per_s: f64,
    pub requests_per_s: f64,
    pub latency: Latency,
    /// Responses outside 2xx, by status.
    pub status_counts: BTreeMap<u16, u64>,
    pub transport_errors: u64,
    /// The first few transport error messages.
    pub error_samples: Vec<String>,
    pub client_cpu_s: f64,
    pub servers: Vec<ServerUsage>,
    pub server_cpu_s: f64,
    /// The headline: accepted lines per CPU-second of all given servers together.
    pub lines_per_server_cpu_s: Option<f64>,
    pub loadavg_start: Option<f64>,
    pub loadavg_end: Option<f64>,
}

impl Report {
    /// Fills the rates and per-CPU figures from the counts and `window_s`.
    pub fn finish(&mut self) {
        let w = self.window_s.max(1e-9);
        self.lines_per_s = self.lines_accepted as f64 / w;
        self.mb_per_s = self.bytes_accepted as f64 / w / 1e6;
        self.requests_per_s = self.requests_ok as f64 / w;
        for s in &mut self.servers {
            s.cores = s.cpu_s / w;
            s.lines_per_cpu_s = per_cpu(self.lines_accepted, s.cpu_s);
        }
        self.server_cpu_s = self.servers.iter().map(|s| s.cpu_s).sum();
        self.lines_per_server_cpu_s = if self.servers.is_empty() {
            None
        } else {
            per_cpu(self.lines_accepted, self.server_cpu_s)
        };
    }

    /// The human table (for stderr).
    pub fn table(&self) -> String {
        let mut t = String::new();
        let l = &self.latency;
        let _ = writeln!(
            t,
            "{} {:?} gzip={} {} batch={} window={:.1}s",
            self.url, self.api, self.gzip, self.mode, self.batch_lines, self.window_s
        );
        let _ = writeln!(
            t,
            "  accepted   {} lines  {:.0} lines/s  {:.1} MB/s  {:.1} req/s  ({} of {} requests 2xx)",
            self.lines_accepted,
            self.lines_per_s,
            self.mb_per_s,
            self.requests_per_s,
            self.requests_ok,
            self.requests
        );
        let _ = writeln!(
            t,
            "  latency ms p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}  mean {:.1}",
            l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms, l.mean_ms
        );
        if !self.status_counts.is_empty() || self.transport_errors > 0 {
            let _ = writeln!(
                t,
                "  errors     non-2xx {:?}  transport {}  {:?}",
                self.status_counts, self.transport_errors, self.error_samples
            );
        }
        for s in &self.servers {
            let _ = writeln!(
                t,
                "  server {:<12} pid {:<7} cpu {:.2}s ({:.2} cores)  {} lines/cpu-s  rss {:.0} MiB (peak {:.0})",
                s.name,
                s.pid,
                s.cpu_s,
                s.cores,
                fmt_opt(s.lines_per_cpu_s),
                s.rss_mib,
                s.peak_rss_mib
            );
        }
        let _ = writeln!(
            t,
            "  HEADLINE   {} lines per server CPU-second  (client used {:.2} CPU-s; load {:?} → {:?})",
            fmt_opt(self.lines_per_server_cpu_s),
            self.client_cpu_s,
            self.loadavg_start,
            self.loadavg_end
        );
        t
    }
}

fn per_cpu(lines: u64, cpu_s: f64) -> Option<f64> {
    (cpu_s > 0.0).then(|| lines as f64 / cpu_s)
}

/// `12,345` style, or `-`.
pub fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| group(v.round() as u64))
}

/// Thousands separators.
pub fn group(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_from_the_histogram() {
        let mut h = new_histogram();
        for ms in 1..=1000u64 {
            h.record(ms * 1000).unwrap();
        }
        let l = Latency::from_histogram(&h);
        assert_eq!(l.count, 1000);
        assert!((l.p50_ms - 500.0).abs() <= 1.0, "{l:?}");
        assert!((l.p90_ms - 900.0).abs() <= 1.0, "{l:?}");
        assert!((l.p99_ms - 990.0).abs() <= 1.0, "{l:?}");
        assert!((l.max_ms - 1000.0).abs() <= 1.0, "{l:?}");
        assert!((l.mean_ms - 500.5).abs() <= 1.0, "{l:?}");
        assert_eq!(
            Latency::from_histogram(&new_histogram()),
            Latency::default()
        );
    }

    #[test]
    fn rates_and_lines_per_cpu_second() {
        let mut r = Report {
            window_s: 10.0,
            requests: 12,
            requests_ok: 10,
            lines_accepted: 50_000,
            bytes_accepted: 21_650_000,
            servers: vec![
                ServerUsage {
                    cpu_s: 2.0,
                    ..ServerUsage::default()
                },
                ServerUsage {
                    cpu_s: 3.0,
                    ..ServerUsage::default()
                },
            ],
            ..Report::default()
        };
        r.finish();
        assert_eq!(r.lines_per_s, 5000.0);
        assert!((r.mb_per_s - 2.165).abs() < 1e-9);
        assert_eq!(r.requests_per_s, 1.0);
        assert_eq!(r.servers[0].lines_per_cpu_s, Some(25_000.0));
        assert_eq!(r.servers[1].cores, 0.3);
        assert_eq!(r.server_cpu_s, 5.0);
        assert_eq!(r.lines_per_server_cpu_s, Some(10_000.0));
        assert!(r.table().contains("10,000 lines per server CPU-second"));
        assert_eq!(group(1_234_567), "1,234,567");
        assert_eq!(group(999), "999");
    }
}
