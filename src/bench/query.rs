//! `sluice-bench query`: the same data loaded into InfluxDB 1.6.7 and into sluice (embedded
//! store), then the same InfluxQL timed against each, as Grafana sends it; one table of
//! ratios from one run (issue 5's query benchmarks).
//!
//! Owns: the query data set (built from `generate::Fleet`), the queries, loading and
//! settling the systems; timing a query is `timing`'s, the table and output files `table`'s. Does not own: starting systems (`compare::systems`),
//! sending writes (`load`).
//!
//! Data (one bucket `bench`): a *deep* fleet, `deep_devices` × `interfaces` SNMP interfaces
//! (plus a ping and an snmp line per device) every 10 s for `hours`, and a *wide* fleet, one
//! round of `wide_devices` × `interfaces` just before it (50 016 `interface` series by
//! default). Queries, each run once to warm up then `repeat` times and for at least 1 s (median
//! and min reported):
//! - `mean 1h/10s, 100 series`: `mean("ifHCInOctets")` over the last hour, `GROUP BY time(10s)`,
//!   over 100 interface series (devices 0 and 1, and 4 interfaces of device 2), one answer
//!   series of 361 windows.
//! - `nnd 24h, 48 ifaces`: `non_negative_derivative(mean("ifHCInOctets"), 1s)` over `hours`,
//!   `GROUP BY time(1m), "ifName"` for device 0's 48 interfaces.
//! - `show tag values, 50k series`: `SHOW TAG VALUES FROM "interface" WITH KEY = "agent_host"`.
//! - `chained variable, 50k series`: `SHOW TAG VALUES FROM "interface" WITH KEY = "ifName"
//!   WHERE "agent_host" =~ /^(10\.0\.2\.9)$/`, a Grafana variable that depends on another
//!   (wire.md §2.11), for one device of the wide fleet: 48 values.
//!
//! sluice also answers the Flux equivalent of each query (issue 6's Flux benchmarks; the ratio
//! is InfluxDB's InfluxQL time over sluice's Flux time, InfluxDB 1.6.7 having no Flux):
//! `aggregateWindow(every: 10s, fn: mean)` after `group()`; `aggregateWindow(every: 1m, fn:
//! mean)` per `ifName`, `derivative(unit: 1s, nonNegative: true)` and `map` × 8;
//! `schema.measurementTagValues`; `schema.tagValues` with a predicate on `_measurement` and
//! `agent_host`. Flux stamps windows with their stop, InfluxQL with their
//! start; the row counts are the same, but for one case: when the range's end falls on a whole
//! minute, Flux's last 1m window, `[end, end + 1 ns)`, holds no point and `derivative` skips
//! its null, so the Flux nnd has one row fewer per interface (69 072 instead of 69 120).
//!
//! After its load, each system is left until it is idle (`settle`: its flushes and compactions
//! done); all of them stay up, and are idle again, before any query is timed. Each query is
//! timed on every system in three rounds in which the systems take turns (`time_all`), so a
//! burst of the host's noise falls on both sides of a ratio. A round is timed on a thread of
//! its own with a current-thread runtime (`time_apart`), and `/ping` is timed the same way as
//! the round-trip floor under every answer.
//!
//! A second table puts each system's server CPU per request (its processes' utime + stime
//! over its rounds of the query) and its median less its own `/ping` median side by side:
//! both leave out the loopback round trip, which is most of a sub-millisecond answer's
//! time and so bounds the first table's ratio for one (`SHOW TAG VALUES`).
//!
//! A system that answers an error is reported with the error, not timed; the run goes on.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;

use super::BenchError;
use super::batches::{self, Api, PoolSpec};
use super::compare::systems::{self, Bins, System};
use super::generate::{Fleet, ROUND_NS};
use super::load::{self, LoadSpec, Mode, Stop};

mod table;
mod timing;

pub use self::table::{table, write_outputs};

use self::table::ms;
use self::timing::{Lang, Target, cpu_s, time_all};

#[derive(Debug, Clone, Args)]
pub struct QueryArgs {
    /// Hours of data of the deep fleet (the derivative query spans all of it).
    #[arg(long, default_value_t = 24)]
    pub hours: u32,
    /// Devices of the deep fleet (at least 3: the 100-series query reads devices 0–2).
    #[arg(long, default_value_t = 3)]
    pub deep_devices: u32,
    /// Devices of the wide fleet (one round): × interfaces = series for SHOW TAG VALUES.
    #[arg(long, default_value_t = 1042)]
    pub wide_devices: u32,
    #[arg(long, default_value_t = 48)]
    pub interfaces: u32,
    /// Timed runs per query and system at least (over three rounds, each after a warm-up
    /// run); a fast query runs for 1 s.
    #[arg(long, default_value_t = 5)]
    pub repeat: usize,
    /// Concurrent writers while loading.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    #[arg(long, default_value_t = 5000)]
    pub batch: u64,
    /// Where results.json and table.md go.
    #[arg(long, default_value = "bench-results/query")]
    pub out: PathBuf,
    /// sluice binary (default: `sluice` next to this executable).
    #[arg(long)]
    pub sluice_bin: Option<PathBuf>,
    #[arg(long, default_value = "/usr/bin/influxd")]
    pub influxd_bin: PathBuf,
    /// Load and time sluice only (no InfluxDB), e.g. while working on sluice's side.
    #[arg(long)]
    pub sluice_only: bool,
    /// After timing, keep the systems running with their data until Ctrl-C (to profile
    /// or query them by hand); their URLs are printed.
    #[arg(long)]
    pub hold: bool,
}

/// One query against one system.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timing {
    pub system: String,
    pub query: String,
    pub median_ms: Option<f64>,
    pub min_ms: Option<f64>,
    pub runs_ms: Vec<f64>,
    /// Rows over all series of the answer.
    pub rows: usize,
    pub bytes: usize,
    pub error: Option<String>,
    /// CPU time of the system's processes (utime + stime) per request, in ms: over all its
    /// requests of this query, warm-ups included (`time_all`).
    pub cpu_ms: Option<f64>,
    /// CPU seconds summed over the rounds, and the requests they served.
    #[serde(skip)]
    pub cpu_s: f64,
    #[serde(skip)]
    pub requests: usize,
}

/// Loading one system.
#[derive(Debug, Clone, Serialize)]
pub struct Loaded {
    pub system: String,
    pub lines: u64,
    pub seconds: f64,
    /// Seconds from the end of the load until the system was idle (`settle`).
    pub settled_s: f64,
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct QueryReport {
    pub loads: Vec<Loaded>,
    pub timings: Vec<Timing>,
    pub queries: Vec<(String, String)>,
    /// `(label, Flux)`: the Flux equivalents, same labels as `queries`, sluice only.
    pub flux: Vec<(String, String)>,
}

/// The label of the `/ping` timing of each system.
pub const FLOOR: &str = "/ping (round-trip floor)";

/// The label of a Flux timing of query `label`.
fn flux_label(label: &str) -> String {
    format!("{label} [flux]")
}

/// The systems compared, InfluxDB first (the reference).
const SYSTEMS: [System; 2] = [System::Influxd, System::Sluice];

/// `(label, InfluxQL)` of the queries, for data ending at `end_ns`.
pub fn queries(args: &QueryArgs, end_ns: i64) -> Vec<(String, String)> {
    let ms = |ns: i64| ns / 1_000_000;
    let hour = 3_600_000_000_000;
    let span = i64::from(args.hours) * hour;
    vec![
        (
            format!(
                "mean 1h/10s, {} series",
                2 * args.interfaces + args.interfaces.min(4)
            ),
            format!(
                "SELECT mean(\"ifHCInOctets\") FROM \"interface\" WHERE (\"agent_host\" =~ /^10\\.0\\.0\\.[01]$/ OR (\"agent_host\" = '10.0.0.2' AND \"ifName\" =~ /^Gi0\\/0\\/[0-3]$/)) AND time >= {}ms and time <= {}ms GROUP BY time(10s) fill(null)",
                ms(end_ns - hour),
                ms(end_ns)
            ),
        ),
        (
            format!("nnd {}h, {} ifaces", args.hours, args.interfaces),
            format!(
                "SELECT non_negative_derivative(mean(\"ifHCInOctets\"), 1s) *8 FROM \"interface\" WHERE \"agent_host\" = '10.0.0.0' AND time >= {}ms and time <= {}ms GROUP BY time(1m), \"ifName\" fill(null)",
                ms(end_ns - span),
                ms(end_ns)
            ),
        ),
        (
            format!(
                "show tag values, {} series",
                u64::from(args.wide_devices.max(args.deep_devices)) * u64::from(args.interfaces)
            ),
            "SHOW TAG VALUES FROM \"interface\" WITH KEY = \"agent_host\"".into(),
        ),
        (
            format!(
                "chained variable, {} series",
                u64::from(args.wide_devices.max(args.deep_devices)) * u64::from(args.interfaces)
            ),
            format!(
                "SHOW TAG VALUES FROM \"interface\" WITH KEY = \"ifName\" WHERE \"agent_host\" =~ /^({})$/",
                chained_agent(args).replace('.', "\\.")
            ),
        ),
    ]
}

/// The `agent_host` the chained variable query selects: a device in the middle of the wide
/// fleet (`generate::Fleet`'s address scheme, tenant 0).
fn chained_agent(args: &QueryArgs) -> String {
    let d = args.wide_devices / 2;
    format!("10.0.{}.{}", d / 256 % 256, d % 256)
}

/// `(label, Flux)` equivalents of `queries`, same labels and order.
pub fn flux_queries(args: &QueryArgs, end_ns: i64) -> Vec<(String, String)> {
    let hour = 3_600_000_000_000;
    let span = i64::from(args.hours) * hour;
    let t = |ns: i64| {
        chrono::DateTime::from_timestamp_nanos(ns)
            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
    };
    let labels = queries(args, end_ns);
    let texts = [
        format!(
            "from(bucket: \"bench\")\n  |> range(start: {}, stop: {})\n  |> filter(fn: (r) => r._measurement == \"interface\" and r._field == \"ifHCInOctets\" and (r.agent_host =~ /^10\\.0\\.0\\.[01]$/ or (r.agent_host == \"10.0.0.2\" and r.ifName =~ /^Gi0\\/0\\/[0-3]$/)))\n  |> group()\n  |> aggregateWindow(every: 10s, fn: mean, createEmpty: true)",
            t(end_ns - hour),
            t(end_ns + 1)
        ),
        format!(
            "from(bucket: \"bench\")\n  |> range(start: {}, stop: {})\n  |> filter(fn: (r) => r._measurement == \"interface\" and r._field == \"ifHCInOctets\" and r.agent_host == \"10.0.0.0\")\n  |> group(columns: [\"ifName\"])\n  |> aggregateWindow(every: 1m, fn: mean, createEmpty: true)\n  |> derivative(unit: 1s, nonNegative: true)\n  |> map(fn: (r) => ({{r with _value: r._value * 8.0}}))",
            t(end_ns - span),
            t(end_ns + 1)
        ),
        "import \"influxdata/influxdb/schema\"\nschema.measurementTagValues(bucket: \"bench\", measurement: \"interface\", tag: \"agent_host\")".to_owned(),
        format!(
            "import \"influxdata/influxdb/schema\"\nschema.tagValues(bucket: \"bench\", tag: \"ifName\", predicate: (r) => r._measurement == \"interface\" and r.agent_host =~ /^({})$/)",
            chained_agent(args).replace('.', "\\.")
        ),
    ];
    labels
        .into_iter()
        .zip(texts)
        .map(|((label, _), q)| (label, q))
        .collect()
}

/// Runs the benchmark; every process started is stopped before it returns.
pub async fn run(
    args: &QueryArgs,
    interrupt: tokio::sync::watch::Receiver<bool>,
) -> Result<QueryReport, BenchError> {
    if args.deep_devices < 3 {
        return Err(BenchError::Usage {
            reason: "--deep-devices must be at least 3".into(),
        });
    }
    let bins = Bins {
        sluice: args.sluice_bin.clone().unwrap_or_else(default_sluice),
        influxd: args.influxd_bin.clone(),
        victoria: PathBuf::new(),
        vmagent: PathBuf::new(),
        nginx: PathBuf::new(),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(0));
    let end_ns = now / ROUND_NS * ROUND_NS;
    let qs = queries(args, end_ns);
    let fluxes = flux_queries(args, end_ns);
    let mut report = QueryReport {
        loads: Vec::new(),
        timings: Vec::new(),
        queries: qs.clone(),
        flux: fluxes.clone(),
    };
    // Every system is loaded and settled first, and stays up: the queries are then timed
    // on all of them in alternation (`time_all`).
    let mut up = Vec::new();
    for sys in SYSTEMS {
        if args.sluice_only && sys != System::Sluice {
            continue;
        }
        if *interrupt.borrow() {
            return Err(BenchError::Interrupted);
        }
        let (tenant, api) = systems::tenant_for(sys, Api::V2);
        let pools = pools(args, end_ns, &tenant, api).await?;
        let lines: u64 = pools.iter().flatten().map(|b| b.lines).sum();
        eprintln!("== {}: loading {lines} lines", sys.label());
        let running = systems::start(sys, &bins).await?;
        let started = Instant::now();
        for pool in pools {
            let want: u64 = pool.iter().map(|b| b.lines).sum();
            let spec = LoadSpec {
                base_url: running.url.clone(),
                mode: Mode::Closed {
                    concurrency: args.concurrency,
                },
                stop: Stop::PoolOnce,
                warmup: Duration::ZERO,
                timeout: Duration::from_secs(120),
                progress: false,
                pids: Vec::new(),
            };
            let r = load::run(&spec, pool, interrupt.clone()).await?;
            if r.lines_accepted != want {
                return Err(BenchError::Client {
                    reason: format!(
                        "{} accepted {} of {want} lines (statuses {:?}, errors {:?})",
                        sys.label(),
                        r.lines_accepted,
                        r.status_counts,
                        r.error_samples
                    ),
                });
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        let settled_s = settle(&running).await;
        eprintln!("   settled {settled_s:.0} s after the load");
        report.loads.push(Loaded {
            system: sys.label().into(),
            lines,
            seconds,
            settled_s,
        });
        up.push((sys, running, tenant));
    }
    // The second system's load may have woken the first (page cache, timers): idle again.
    for (_, running, _) in &up {
        settle(running).await;
    }
    let timed = qs
        .iter()
        .map(|(l, q)| (l.clone(), q.as_str(), Lang::InfluxQl))
        .chain(
            fluxes
                .iter()
                .map(|(l, q)| (flux_label(l), q.as_str(), Lang::Flux)),
        )
        .chain([(FLOOR.to_owned(), "", Lang::Ping)]);
    for (label, q, lang) in timed {
        if *interrupt.borrow() {
            return Err(BenchError::Interrupted);
        }
        // influxd has no Flux: the Flux ratios divide its InfluxQL time.
        let targets: Vec<(System, Target)> = up
            .iter()
            .filter(|(sys, _, _)| lang != Lang::Flux || *sys == System::Sluice)
            .map(|(sys, running, tenant)| {
                let target = Target {
                    base: running.url.clone(),
                    token: tenant.token.clone(),
                    lang,
                    pids: running.procs.iter().map(|p| p.pid()).collect(),
                };
                (*sys, target)
            })
            .collect();
        for (sys, t) in time_all(targets, q, args.repeat).await {
            eprintln!(
                "   {} {label}: {}",
                sys.label(),
                t.error.clone().unwrap_or_else(|| format!(
                    "median {} ms, {} rows",
                    ms(t.median_ms.unwrap_or(0.0)),
                    t.rows
                ))
            );
            report.timings.push(Timing {
                system: sys.label().into(),
                query: label.clone(),
                ..t
            });
        }
    }
    if args.hold {
        for (sys, running, tenant) in &up {
            eprintln!(
                "== holding {} at {} (token {:?}) until Ctrl-C",
                sys.label(),
                running.url,
                tenant.token
            );
        }
        let mut stop = interrupt.clone();
        let _ = stop.wait_for(|&s| s).await;
    }
    drop(up);
    Ok(report)
}

/// CPU seconds per second under which a system counts as idle.
const IDLE_CPU: f64 = 0.05;
/// Longest wait for a system to become idle after its load.
const SETTLE_MAX: Duration = Duration::from_secs(120);

/// Waits until `running`'s processes use less than `IDLE_CPU` over a second: the flushes and
/// compactions that follow a load are done, so every system is timed on settled data (a
/// dashboard's steady state), however fast it took the load. Answers the seconds waited
/// (`SETTLE_MAX` at most).
async fn settle(running: &systems::Running) -> f64 {
    let pids: Vec<u32> = running.procs.iter().map(|p| p.pid()).collect();
    let cpu = || cpu_s(&pids);
    let started = Instant::now();
    let mut last = cpu();
    while started.elapsed() < SETTLE_MAX {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = cpu();
        if now - last < IDLE_CPU {
            break;
        }
        last = now;
    }
    started.elapsed().as_secs_f64()
}

async fn pools(
    args: &QueryArgs,
    end_ns: i64,
    tenant: &batches::TenantSpec,
    api: Api,
) -> Result<Vec<Vec<batches::Batch>>, BenchError> {
    let rounds = i64::from(args.hours) * 360;
    let deep = Fleet {
        tenants: 1,
        devices: args.deep_devices,
        interfaces: args.interfaces,
        seed: 1,
        start_ns: end_ns - rounds * ROUND_NS,
    };
    let wide = Fleet {
        devices: args.wide_devices,
        start_ns: deep.start_ns - ROUND_NS,
        ..deep
    };
    let specs = [
        (wide, wide.lines_per_round()),
        (
            deep,
            deep.lines_per_round() * u64::try_from(rounds).unwrap_or(0),
        ),
    ];
    let mut out = Vec::new();
    for (fleet, lines) in specs {
        let spec = PoolSpec {
            fleet,
            tenants: vec![tenant.clone()],
            api,
            gzip: true,
            batch_lines: args.batch.max(1),
            lines,
        };
        out.push(
            tokio::task::spawn_blocking(move || batches::build_pool(&spec))
                .await
                .map_err(|e| BenchError::Client {
                    reason: format!("pool builder failed: {e}"),
                })?,
        );
    }
    Ok(out)
}

fn default_sluice() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("sluice")))
        .unwrap_or_else(|| PathBuf::from("sluice"))
}

#[cfg(test)]
mod tests {
    use super::timing::csv_rows;
    use super::*;

    fn args() -> QueryArgs {
        QueryArgs {
            hours: 24,
            deep_devices: 3,
            wide_devices: 1042,
            interfaces: 48,
            repeat: 5,
            concurrency: 4,
            batch: 5000,
            out: PathBuf::from("x"),
            sluice_bin: None,
            influxd_bin: PathBuf::from("influxd"),
            sluice_only: false,
            hold: false,
        }
    }

    #[test]
    fn queries_name_the_sizes_and_span_the_data() {
        let q = queries(&args(), 7_200_000_000_000);
        assert_eq!(q[0].0, "mean 1h/10s, 100 series");
        assert!(q[0].1.contains("time >= 3600000ms and time <= 7200000ms"));
        assert_eq!(q[1].0, "nnd 24h, 48 ifaces");
        assert!(q[1].1.contains("time >= -79200000ms"));
        assert_eq!(q[2].0, "show tag values, 50016 series");
        assert_eq!(q[3].0, "chained variable, 50016 series");
        assert!(
            q[3].1
                .ends_with("WHERE \"agent_host\" =~ /^(10\\.0\\.2\\.9)$/"),
            "{}",
            q[3].1
        );
    }

    #[test]
    fn flux_equivalents_keep_the_labels_and_span() {
        let q = flux_queries(&args(), 7_200_000_000_000);
        assert_eq!(q.len(), 4);
        assert_eq!(q[0].0, "mean 1h/10s, 100 series");
        assert!(
            q[0].1.contains(
                "range(start: 1970-01-01T01:00:00.000000000Z, stop: 1970-01-01T02:00:00.000000001Z)"
            ),
            "{}",
            q[0].1
        );
        assert!(q[1].1.contains("derivative(unit: 1s, nonNegative: true)"));
        assert!(q[2].1.contains("schema.measurementTagValues"));
        assert!(
            q[3].1.contains("r.agent_host =~ /^(10\\.0\\.2\\.9)$/)"),
            "{}",
            q[3].1
        );
        let csv =
            "#datatype,string,long\r\n,result,table,_value\r\n,_result,0,a\r\n,_result,0,b\r\n\r\n";
        assert_eq!(csv_rows(csv), 2);
    }
}
