//! Issue 6, fronting mode: sluice passes Grafana's InfluxQL and Flux through to the upstream,
//! checked so that a tenant's token reaches only its own data.
//!
//! - `influxql`: sluice fronting a real InfluxDB 1.6.7 (`[upstream] api = "v1"`), whose
//!   credentials (admin) are broader than the tenant's: answers byte-identical to querying
//!   influxd directly, `SHOW DATABASES` filtered, names mapped (`bucket_prefix`), the query
//!   limit held while the upstream is silent, an upstream that never answers → a clean 503.
//! - `flux`: sluice fronting sluice — a second sluice in embedded mode is the InfluxDB 2
//!   upstream: answers byte-identical to querying it directly, `org` and token rewritten.
//! - `streaming`: a 100 MB answer passes with flat memory (sluice's VmHWM), in each language;
//!   `query_max_bytes` cuts a larger one; the query slot is held while a slow reader reads.
//! - `hostile`: 1 MB of query text, 10 000 nested parentheses, a regex bomb: clean errors,
//!   quickly, before the upstream.
//!
//! The isolation attack suite (both modes) is `tests/it/isolation`.
//!
//! Run: `cargo test --test it passthrough -- --nocapture` (numbers print as `[passthrough]`).

pub mod flux;
mod hostile;
pub mod influxql;
pub mod silent;
mod streaming;

use std::io::Write as _;

/// Prints a result line to the real stderr.
pub fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "[passthrough] {line}");
}
