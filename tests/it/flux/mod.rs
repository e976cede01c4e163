//! Flux checks of issue 6 (embedded mode): sluice answers Grafana's Flux on its own store.
//!
//! - `data`: one hour of Telegraf-shaped lines, loaded into sluice and InfluxDB 1.6.7.
//! - `grafana`: wire.md's exact Grafana requests (Save & test `buckets()`, variable and
//!   dashboard queries, JSON bodies with `|\u003e`), the CSV shape Grafana reads, errors
//!   before the answer, hostile queries.
//! - `pairs` / `agreement`: 30+ Flux queries, each parsed by the official Python client
//!   (`client.py`: query_csv and FluxTables) and equal to InfluxDB 1.6.7's answer to the
//!   paired InfluxQL (conventions in `pairs` and docs/flux.md §8).
//!
//! Run: `cargo test --test it flux -- --nocapture` (numbers are printed as `[flux]`).

mod agreement;
mod data;
pub mod grafana;
mod pairs;

use std::io::Write as _;

/// Prints a result line to the real stderr.
pub fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "[flux] {line}");
}
