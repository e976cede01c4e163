//! The `sluice` command line: `serve`, `token`, `config check`, `wal inspect`, `store inspect`,
//! `downsample backfill`.

#![allow(clippy::print_stdout)]

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

// Queries and ingest allocate and free many short-lived buffers from several threads; glibc's
// allocator spent a large share of query time in malloc/free and page faults (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "sluice",
    version,
    about = "Multi-tenant time-series gateway speaking the InfluxDB HTTP API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway. Without --config: the embedded default (data under ./data,
    /// 127.0.0.1:8086, one tenant `default` whose token is printed at first start).
    /// SIGHUP or `POST /-/reload` on the admin listener re-reads --config.
    Serve {
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Log lines as text or as JSON objects (filter with RUST_LOG).
        #[arg(long, value_enum, default_value = "text")]
        log_format: sluice::telemetry::LogFormat,
    },
    /// Tenant tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// The write-ahead log.
    Wal {
        #[command(subcommand)]
        command: WalCommand,
    },
    /// The embedded store's Parquet files.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// Rollups (`[[downsample]]` rules).
    Downsample {
        #[command(subcommand)]
        command: DownsampleCommand,
    },
}

#[derive(Subcommand)]
enum DownsampleCommand {
    /// Recompute a rule's rollups for windows starting in [--from, --to) from the raw data in
    /// the embedded store, and append them to the WAL (the next `serve` stores or forwards
    /// them). Run it while sluice is stopped.
    Backfill {
        #[arg(long, short)]
        config: PathBuf,
        /// The rule's `name` (default names: `<to.bucket>#<n>`).
        #[arg(long)]
        rule: String,
        /// RFC 3339 time (`2026-11-01T00:00:00Z`) or nanoseconds since the epoch.
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
    },
}

/// RFC 3339 or integer nanoseconds.
fn parse_time(s: &str) -> anyhow::Result<i64> {
    if let Ok(ns) = s.parse::<i64>() {
        return Ok(ns);
    }
    let t = chrono::DateTime::parse_from_rfc3339(s)
        .with_context(|| format!("{s:?} is neither RFC 3339 nor nanoseconds"))?;
    t.timestamp_nanos_opt()
        .with_context(|| format!("{s:?} is out of range"))
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a new random token and its SHA-256 (put the hash in `token_sha256`).
    Generate,
    /// Print the SHA-256 of TOKEN.
    Hash { token: String },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate FILE and print the effective configuration, secrets redacted.
    Check { file: PathBuf },
}

#[derive(Subcommand)]
enum WalCommand {
    /// Segments, record counts, sequence range, consumer cursors and size of a WAL directory.
    Inspect {
        dir: PathBuf,
        /// One JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Partitions, files (WAL range, rows, bytes, time range), schema per measurement, and
    /// superseded, temporary or stray files of a store directory. Reads footers only.
    Inspect {
        dir: PathBuf,
        /// One JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config, log_format } => {
            sluice::telemetry::init_logging(log_format);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the tokio runtime")?;
            runtime.block_on(sluice::app::serve(config))?;
        }
        Command::Token {
            command: TokenCommand::Generate,
        } => {
            let token = sluice::tenant::token::generate();
            println!("token:        {token}");
            println!("token_sha256: {}", sluice::tenant::token::hash(&token));
        }
        Command::Token {
            command: TokenCommand::Hash { token },
        } => {
            println!("{}", sluice::tenant::token::hash(&token));
        }
        Command::Config {
            command: ConfigCommand::Check { file },
        } => {
            let config = sluice::config::Config::load(&file)
                .with_context(|| format!("{} is not a valid sluice config", file.display()))?;
            print!("{}", config.redacted_toml());
        }
        Command::Wal {
            command: WalCommand::Inspect { dir, json },
        } => {
            let report = sluice::wal::inspect(&dir)
                .with_context(|| format!("inspecting the WAL in {}", dir.display()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{report}");
            }
        }
        Command::Store {
            command: StoreCommand::Inspect { dir, json },
        } => {
            anyhow::ensure!(dir.is_dir(), "{} is not a directory", dir.display());
            let report = sluice::store::maintain::inspect(&dir)
                .with_context(|| format!("inspecting the store in {}", dir.display()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{report}");
            }
        }
        Command::Downsample {
            command:
                DownsampleCommand::Backfill {
                    config,
                    rule,
                    from,
                    to,
                },
        } => {
            let cfg = sluice::config::Config::load(&config)
                .with_context(|| format!("{} is not a valid sluice config", config.display()))?;
            let (from, to) = (parse_time(&from)?, parse_time(&to)?);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the tokio runtime")?;
            let r = runtime.block_on(sluice::downsample::backfill::backfill(
                &cfg, &rule, from, to,
            ))?;
            println!(
                "rule {rule}: {} raw rows read, {} rollup points in {} WAL records",
                r.raw_rows, r.rollup_points, r.records
            );
        }
    }
    Ok(())
}
