//! `sluice-bench`: load generator and peer comparison (logic in `sluice::bench`).

#![allow(clippy::print_stdout)]

use anyhow::Context as _;
use clap::Parser as _;
use sluice::bench::cli::{self, Cli, Command};
use sluice::bench::{compare, query};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(async move {
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("interrupted: stopping");
                let _ = tx.send(true);
            }
        });
        match cli.command {
            Command::Run(args) => {
                let out = cli::run(&args, rx).await?;
                eprint!("{}", out.report.table());
                println!("{}", serde_json::to_string(&out)?);
            }
            Command::Compare(args) => {
                // Every process started lives inside `compare::run`'s future: returning (ok,
                // error or interrupted) drops it and stops them, by PID.
                let results = compare::run(&args, rx).await;
                let done = match &results {
                    Ok(r) => r.as_slice(),
                    Err(_) => &[],
                };
                if !done.is_empty() {
                    let table = compare::write_outputs(&args, done)?;
                    eprintln!("\n{table}");
                    println!("{}", serde_json::to_string(done)?);
                }
                results?;
            }
            Command::Query(args) => {
                // As for compare: the processes live inside `query::run`'s future.
                let report = query::run(&args, rx).await?;
                let table = query::write_outputs(&args, &report)?;
                eprintln!("\n{table}");
                println!("{}", serde_json::to_string(&report)?);
            }
        }
        Ok(())
    })
}
