//! `sluice-bench`: the load generator and the comparison harness behind BENCHMARKS.md.
//!
//! Owns: Telegraf-shaped data (`generate`), pre-built write requests (`batches`), the closed
//! and open send loops (`load`), `/proc` accounting (`procstat`), the report (`report`), the
//! command line (`cli`), the side-by-side run of sluice and its peers (`compare`) and the
//! InfluxQL timings against InfluxDB 1.6.7 on the same data (`query`).
//! Does not own: anything sluice itself does; it talks to sluice only over HTTP.

pub mod batches;
pub mod cli;
pub mod compare;
pub mod generate;
pub mod load;
pub mod procstat;
pub mod query;
pub mod report;

/// Everything that can stop a benchmark.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("tenant spec {spec:?} is not id:token:bucket")]
    BadTenant { spec: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("http client: {reason}")]
    Client { reason: String },
    #[error("server {name} (pid {pid}) is gone")]
    ProcessGone { name: String, pid: u32 },
    #[error("starting {name}: {reason}")]
    Start { name: String, reason: String },
    #[error("chart: {reason}")]
    Chart { reason: String },
    #[error("bad argument: {reason}")]
    Usage { reason: String },
    #[error("interrupted")]
    Interrupted,
}
