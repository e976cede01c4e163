//! The `sluice-bench` command line: `run` (one load against a running server), `compare`
//! (sluice and its peers side by side) and `query` (InfluxQL timings vs InfluxDB 1.6.7).
//!
//! Owns: argument shapes and turning them into a pool and a `LoadSpec`. Does not own: the
//! send loops (`load`) or the harness (`compare`).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use super::BenchError;
use super::batches::{self, Api, PoolSpec, TenantSpec};
use super::compare::CompareArgs;
use super::generate::{Fleet, ROUND_NS};
use super::load::{self, LoadSpec, Mode, Stop};
use super::query::QueryArgs;
use super::report::Report;

#[derive(Debug, Parser)]
#[command(
    name = "sluice-bench",
    version,
    about = "Load generator and peer comparison for sluice"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send Telegraf-shaped writes to a running server; table on stderr, JSON on stdout.
    Run(RunArgs),
    /// Start sluice and each peer in turn on 127.0.0.1, run the same load, table + PNG chart.
    Compare(CompareArgs),
    /// Load the same data into InfluxDB 1.6.7 and sluice, time the same InfluxQL on each.
    Query(QueryArgs),
}

/// The data and the request shape.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Tenant as id:token:bucket (repeatable). v1 sends Basic id:token, v2 `Token token`.
    #[arg(long = "tenant")]
    pub tenants: Vec<TenantSpec>,
    /// File of id:token:bucket lines, added to --tenant.
    #[arg(long)]
    pub tokens_file: Option<PathBuf>,
    /// Write API.
    #[arg(long, value_enum, default_value = "v2")]
    pub api: Api,
    /// gzip request bodies (Telegraf's default for v2).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub gzip: bool,
    /// Devices per tenant.
    #[arg(long, default_value_t = 1000)]
    pub devices: u32,
    /// Interfaces per device.
    #[arg(long, default_value_t = 48)]
    pub interfaces: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Timestamp of round 0 in ns; default: now (floored to 10 s) minus the pool's span.
    #[arg(long)]
    pub start_ns: Option<i64>,
    /// Lines per request (Telegraf's metric_batch_size).
    #[arg(long, default_value_t = 1000)]
    pub batch: u64,
    /// Closed loop: concurrent senders.
    #[arg(long, short = 'c', default_value_t = 4)]
    pub concurrency: usize,
    /// Open loop: target lines/s (overrides --concurrency).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Open loop: most requests in flight at once (later sends wait, latency still counts).
    #[arg(long, default_value_t = 1024)]
    pub max_in_flight: usize,
    /// Measured duration (the pool wraps around if it runs out; timestamps then repeat).
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Fixed line count instead of a duration: every line sent exactly once.
    #[arg(long)]
    pub lines: Option<u64>,
    /// Lines pre-generated for a duration run.
    #[arg(long, default_value_t = 200_000)]
    pub pool_lines: u64,
    /// Load before the measured window (duration runs).
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub warmup: Duration,
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Server base URL.
    #[arg(long, default_value = "http://127.0.0.1:8086")]
    pub url: String,
    #[command(flatten)]
    pub load: LoadArgs,
    /// Server to account as NAME=PID (repeatable; the process and its descendants).
    #[arg(long = "pid", value_parser = parse_pid)]
    pub pids: Vec<(String, u32)>,
    /// No per-second progress line.
    #[arg(long)]
    pub quiet: bool,
}

fn parse_pid(s: &str) -> Result<(String, u32), String> {
    let (name, pid) = s.split_once('=').ok_or("expected NAME=PID")?;
    Ok((name.to_owned(), pid.parse().map_err(|e| format!("{e}"))?))
}

/// What `run` prints on stdout.
#[derive(Debug, Serialize)]
pub struct RunOutput {
    pub fleet: Fleet,
    pub tenants: Vec<TenantSpec>,
    pub pool_lines: u64,
    #[serde(flatten)]
    pub report: Report,
}

impl LoadArgs {
    /// Tenants from --tenant and --tokens-file (at least one).
    pub fn all_tenants(&self) -> Result<Vec<TenantSpec>, BenchError> {
        let mut t = self.tenants.clone();
        if let Some(f) = &self.tokens_file {
            t.extend(batches::read_tenants_file(f)?);
        }
        if t.is_empty() {
            return Err(BenchError::Usage {
                reason: "give at least one --tenant id:token:bucket".into(),
            });
        }
        Ok(t)
    }

    /// The pool spec (fleet fixed, start time chosen) for `base` tenants.
    pub fn pool_spec(&self, tenants: Vec<TenantSpec>) -> PoolSpec {
        let lines = self.lines.unwrap_or(self.pool_lines).max(1);
        let mut fleet = Fleet {
            tenants: u32::try_from(tenants.len()).unwrap_or(u32::MAX),
            devices: self.devices.max(1),
            interfaces: self.interfaces,
            seed: self.seed,
            start_ns: 0,
        };
        fleet.start_ns = self.start_ns.unwrap_or_else(|| {
            let rounds = i64::try_from(lines.div_ceil(fleet.lines_per_round()))
                .unwrap_or(0)
                .saturating_add(1);
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(0));
            now / ROUND_NS * ROUND_NS - rounds * ROUND_NS
        });
        PoolSpec {
            fleet,
            tenants,
            api: self.api,
            gzip: self.gzip,
            batch_lines: self.batch.max(1),
            lines,
        }
    }

    pub fn mode(&self) -> Mode {
        match self.rate {
            Some(r) => Mode::Open {
                lines_per_s: r,
                max_in_flight: self.max_in_flight,
            },
            None => Mode::Closed {
                concurrency: self.concurrency,
            },
        }
    }

    pub fn stop(&self) -> Stop {
        match self.lines {
            Some(_) => Stop::PoolOnce,
            None => Stop::Duration(self.duration),
        }
    }
}

/// `sluice-bench run`: builds the pool, runs, returns what to print.
pub async fn run(
    args: &RunArgs,
    interrupt: tokio::sync::watch::Receiver<bool>,
) -> Result<RunOutput, BenchError> {
    let tenants = args.load.all_tenants()?;
    let spec = args.load.pool_spec(tenants.clone());
    let started = std::time::Instant::now();
    let pool = tokio::task::spawn_blocking({
        let spec = spec.clone();
        move || batches::build_pool(&spec)
    })
    .await
    .map_err(|e| BenchError::Client {
        reason: format!("pool builder failed: {e}"),
    })?;
    if !args.quiet {
        let bytes: usize = pool.iter().map(|b| b.body.len()).sum();
        eprintln!(
            "pool: {} requests, {} lines, {:.1} MB of bodies, built in {:.1?}",
            pool.len(),
            pool.iter().map(|b| b.lines).sum::<u64>(),
            bytes as f64 / 1e6,
            started.elapsed()
        );
    }
    let load_spec = LoadSpec {
        base_url: args.url.clone(),
        mode: args.load.mode(),
        stop: args.load.stop(),
        warmup: args.load.warmup,
        timeout: args.load.timeout,
        progress: !args.quiet,
        pids: args.pids.clone(),
    };
    let report = load::run(&load_spec, pool, interrupt).await?;
    Ok(RunOutput {
        fleet: spec.fleet,
        tenants,
        pool_lines: spec.lines,
        report,
    })
}
