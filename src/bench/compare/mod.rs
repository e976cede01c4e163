//! `sluice-bench compare`: each system in turn on 127.0.0.1, the same pre-built load against
//! each (every concurrency × gzip case), one table, one JSON file and one PNG chart.
//!
//! Owns: the case loop, waiting for a quiet machine, and the summary. Does not own: starting
//! systems (`systems`), process lifetime (`procs`), drawing (`chart`).

mod chart;
pub mod procs;
pub mod systems;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use super::BenchError;
use super::batches::{self, Api};
use super::generate::Fleet;
use super::load::{self, LoadSpec, Mode, Stop};
use super::procstat;
use super::report::{Report, fmt_opt};
use systems::{Bins, System};

#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// Systems to run, in order (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub systems: Vec<System>,
    /// Concurrencies (closed loop).
    #[arg(long, value_delimiter = ',', default_value = "4,16")]
    pub concurrency: Vec<usize>,
    /// gzip settings to run.
    #[arg(long, value_delimiter = ',', default_value = "true,false")]
    pub gzip: Vec<bool>,
    /// Measured time per case.
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Load before each case's measured window.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    pub warmup: Duration,
    /// Write API for every system but influxd (which only has v1).
    #[arg(long, value_enum, default_value = "v1")]
    pub api: Api,
    #[arg(long, default_value_t = 5000)]
    pub batch: u64,
    #[arg(long, default_value_t = 1000)]
    pub devices: u32,
    #[arg(long, default_value_t = 48)]
    pub interfaces: u32,
    /// Lines pre-built per (system, gzip) pool.
    #[arg(long, default_value_t = 200_000)]
    pub pool_lines: u64,
    /// Machine busy fraction (all cores, 0..1) under which a case may start.
    #[arg(long, default_value_t = 0.15)]
    pub quiet_below: f64,
    /// Longest wait for a quiet machine before a case starts anyway (recorded).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub quiet_max_wait: Duration,
    /// Where results.json, table.md and chart.png go.
    #[arg(long, default_value = "bench-results")]
    pub out: PathBuf,
    /// sluice binary (default: `sluice` next to this executable).
    #[arg(long)]
    pub sluice_bin: Option<PathBuf>,
    #[arg(long, default_value = "/usr/bin/influxd")]
    pub influxd_bin: PathBuf,
    #[arg(long, default_value = "/usr/bin/victoria-metrics")]
    pub victoria_bin: PathBuf,
    #[arg(long, default_value = "/usr/bin/vmagent")]
    pub vmagent_bin: PathBuf,
    #[arg(long, default_value = "/usr/sbin/nginx")]
    pub nginx_bin: PathBuf,
}

/// One case's result.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub system: System,
    pub label: String,
    pub concurrency: usize,
    pub gzip: bool,
    /// Busy fraction of the machine (all cores) just before the case started.
    pub busy_before: Option<f64>,
    pub report: Report,
}

impl CaseResult {
    /// Lines per CPU-second of the process receiving the load.
    pub fn front_lines_per_cpu_s(&self) -> Option<f64> {
        self.report.servers.first().and_then(|s| s.lines_per_cpu_s)
    }
}

/// Runs every case; partial results are returned with the error that stopped the run.
pub async fn run(
    args: &CompareArgs,
    interrupt: tokio::sync::watch::Receiver<bool>,
) -> Result<Vec<CaseResult>, BenchError> {
    let bins = Bins {
        sluice: args.sluice_bin.clone().unwrap_or_else(default_sluice),
        influxd: args.influxd_bin.clone(),
        victoria: args.victoria_bin.clone(),
        vmagent: args.vmagent_bin.clone(),
        nginx: args.nginx_bin.clone(),
    };
    let systems = if args.systems.is_empty() {
        System::ALL.to_vec()
    } else {
        args.systems.clone()
    };
    let mut results = Vec::new();
    for sys in systems {
        for &gzip in &args.gzip {
            let pool = build_pool(args, sys, gzip).await?;
            for &c in &args.concurrency {
                if *interrupt.borrow() {
                    return Err(BenchError::Interrupted);
                }
                let busy = wait_quiet(args).await;
                eprintln!(
                    "== {} c={c} gzip={gzip} (machine busy {:.0}%)",
                    sys.label(),
                    busy.unwrap_or(0.0) * 100.0
                );
                // A fresh system per case: no case inherits another's backlog or data.
                let running = systems::start(sys, &bins).await?;
                let spec = LoadSpec {
                    base_url: running.url.clone(),
                    mode: Mode::Closed { concurrency: c },
                    stop: Stop::Duration(args.duration),
                    warmup: args.warmup,
                    timeout: Duration::from_secs(60),
                    progress: false,
                    pids: running
                        .procs
                        .iter()
                        .map(|p| (p.name.clone(), p.pid()))
                        .collect(),
                };
                let report = load::run(&spec, pool.clone(), interrupt.clone()).await?;
                drop(running);
                eprint!("{}", report.table());
                results.push(CaseResult {
                    system: sys,
                    label: sys.label().to_owned(),
                    concurrency: c,
                    gzip,
                    busy_before: busy,
                    report,
                });
            }
        }
    }
    Ok(results)
}

/// Writes results.json, table.md and chart.png into `out`; returns the table.
pub fn write_outputs(args: &CompareArgs, results: &[CaseResult]) -> Result<String, BenchError> {
    let io = |what: String| move |source| BenchError::Io { what, source };
    std::fs::create_dir_all(&args.out).map_err(io(format!("creating {}", args.out.display())))?;
    let table = table(results);
    let json = serde_json::to_string_pretty(results).unwrap_or_default();
    std::fs::write(args.out.join("results.json"), json).map_err(io("results.json".into()))?;
    std::fs::write(args.out.join("table.md"), &table).map_err(io("table.md".into()))?;
    chart::draw(&args.out.join("chart.png"), results)?;
    Ok(table)
}

fn default_sluice() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("sluice")))
        .unwrap_or_else(|| PathBuf::from("sluice"))
}

async fn build_pool(
    args: &CompareArgs,
    sys: System,
    gzip: bool,
) -> Result<Vec<batches::Batch>, BenchError> {
    // Which tenant/credentials a system takes is only known once it runs; the pool is built
    // per system with that system's fixed tenant (see `systems::bench_tenant`).
    let (tenant, api) = systems::tenant_for(sys, args.api);
    let mut fleet = Fleet {
        tenants: 1,
        devices: args.devices.max(1),
        interfaces: args.interfaces,
        seed: 1,
        start_ns: 0,
    };
    let rounds = i64::try_from(args.pool_lines.div_ceil(fleet.lines_per_round())).unwrap_or(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(0));
    let round = super::generate::ROUND_NS;
    fleet.start_ns = now / round * round - (rounds + 1) * round;
    let spec = batches::PoolSpec {
        fleet,
        tenants: vec![tenant],
        api,
        gzip,
        batch_lines: args.batch.max(1),
        lines: args.pool_lines.max(1),
    };
    tokio::task::spawn_blocking(move || batches::build_pool(&spec))
        .await
        .map_err(|e| BenchError::Client {
            reason: format!("pool builder failed: {e}"),
        })
}

/// Waits until the machine is quiet or `quiet_max_wait` passes; returns the last busy fraction.
async fn wait_quiet(args: &CompareArgs) -> Option<f64> {
    let deadline = tokio::time::Instant::now() + args.quiet_max_wait;
    loop {
        let busy = procstat::busy_fraction(Duration::from_secs(1)).await;
        if busy.is_none_or(|b| b < args.quiet_below) || tokio::time::Instant::now() >= deadline {
            return busy;
        }
    }
}

/// The markdown table of all cases.
pub fn table(results: &[CaseResult]) -> String {
    let mut t = String::from(
        "| system | c | gzip | lines/s | req/s | front CPU-s | **lines / front CPU-s** | all servers CPU-s | lines / all-server CPU-s | p50 ms | p99 ms | max ms | non-2xx | errors | peak RSS MiB | busy before |\n\
         |---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in results {
        let rep = &r.report;
        let front_cpu = rep.servers.first().map_or(0.0, |s| s.cpu_s);
        let peak: f64 = rep.servers.iter().map(|s| s.peak_rss_mib).sum();
        let non2xx: u64 = rep.status_counts.values().sum();
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {:.1} | {:.1} | **{}** | {:.1} | {} | {:.1} | {:.1} | {:.1} | {} | {} | {:.0} | {:.0}% |",
            r.label,
            r.concurrency,
            if r.gzip { "on" } else { "off" },
            fmt_opt(Some(rep.lines_per_s)),
            rep.requests_per_s,
            front_cpu,
            fmt_opt(r.front_lines_per_cpu_s()),
            rep.server_cpu_s,
            fmt_opt(rep.lines_per_server_cpu_s),
            rep.latency.p50_ms,
            rep.latency.p99_ms,
            rep.latency.max_ms,
            non2xx,
            rep.transport_errors,
            peak,
            r.busy_before.unwrap_or(0.0) * 100.0
        );
    }
    t
}
