//! Configuration: the TOML file → a validated `Config`, the only config type others see.
//!
//! Owns: the file format (key names, defaults, sizes like `"32MiB"`, durations like `"10s"`,
//! `${ENV}` interpolation in string values), validation with errors that name the key and
//! line, and the redacted dump for `sluice config check`. Does not own: building components
//! from it (`app`), tenant lookup (`tenant`).
//!
//! Rules: unknown keys are errors; `buckets = ["*"]` lets a tenant use every bucket;
//! an empty upstream `org`/`token`/`username`/`password` means "not set" (a tenant's
//! falls back to `[upstream]`'s); without `[upstream]` sluice runs embedded (no forwarding).

mod downsample;
mod interp;
mod raw;
mod redact;
mod store;
pub mod units;
mod validate;

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use downsample::{Aggregate, DownsampleRule, MAX_EVERY, MIN_EVERY};

use crate::model::TenantId;
use crate::tenant::BucketPattern;
use crate::tenant::token::TokenHash;

/// Default `[server] listen`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8086";
/// Default `[admin] listen`: `/metrics` and `POST /-/reload`, loopback only.
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:8087";
/// Default `data_dir`.
pub const DEFAULT_DATA_DIR: &str = "./data";

/// Why a config was refused. Every variant about the file names the key and the 1-based line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("`{key}` (line {line}): {message}")]
    Invalid {
        key: String,
        line: usize,
        message: String,
    },
    #[error("`{key}` (line {line}): environment variable `{var}` is not set")]
    EnvUnset {
        key: String,
        line: usize,
        var: String,
    },
}

impl ConfigError {
    /// The 1-based line the error is about, if it is about the file's content.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::Read { .. } => None,
            Self::Syntax { line, .. }
            | Self::Invalid { line, .. }
            | Self::EnvUnset { line, .. } => Some(*line),
        }
    }

    /// The key the error is about (`tenant[0].upstream.token`), if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Invalid { key, .. } | Self::EnvUnset { key, .. } => Some(key),
            Self::Read { .. } | Self::Syntax { .. } => None,
        }
    }
}

/// A secret string (upstream tokens and passwords). `Debug` and `Display` print `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself, for the one place that sends it (an upstream request).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub admin: AdminConfig,
    pub wal: WalSettings,
    /// `None`: embedded mode, nothing is forwarded.
    pub upstream: Option<UpstreamConfig>,
    /// `[store]`: the embedded store (on by default without an upstream).
    pub store: StoreSettings,
    /// `[limits]`: settings shared by every tenant's limits.
    pub limits: GlobalLimits,
    pub tenants: Vec<TenantConfig>,
    /// `[[downsample]]`: streaming rollup rules (see `downsample`).
    pub downsample: Vec<DownsampleRule>,
}

/// `[limits]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalLimits {
    /// Number of sluice replicas sharing each tenant's limits: every rate (not burst) is
    /// divided by it. `SLUICE_REPLICAS` in the environment overrides the file. Assumes the load
    /// balancer spreads each tenant evenly; with sticky keep-alive connections a tenant may get
    /// less than its limit (one busy replica) or more (several).
    pub replicas: u64,
}

/// `[server]`.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Request body limit, applied to the compressed and to the decompressed body.
    pub max_body_bytes: u64,
    pub shutdown_timeout: Duration,
    /// Write requests being handled at once; beyond: 503 + Retry-After before reading the body.
    pub max_in_flight_requests: usize,
    /// Body bytes of write requests being handled at once (Content-Length up front, chunked
    /// bodies as they are read).
    pub max_in_flight_bytes: u64,
    /// A client must send its whole request head within this time (slowloris).
    pub header_read_timeout: Duration,
    /// A client must send its whole body within this time.
    pub body_read_timeout: Duration,
    /// Open connections; further ones wait in the kernel's accept queue.
    pub max_connections: usize,
}

/// `[admin]`: the operator's listener (`GET /metrics`, `POST /-/reload`).
#[derive(Debug, Clone)]
pub struct AdminConfig {
    pub listen: SocketAddr,
}

/// `[wal] sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WalSync {
    /// fsync (group commit) before acknowledging.
    Always,
    /// No fsync: unsafe, for benchmarks only.
    None,
}

/// `[wal] compression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WalCompression {
    Lz4,
    None,
}

/// `[wal]`.
#[derive(Debug, Clone)]
pub struct WalSettings {
    pub dir: PathBuf,
    pub max_disk: u64,
    pub sync: WalSync,
    pub segment_size: u64,
    pub compression: WalCompression,
}

/// `[store]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    /// Default: true exactly when there is no `[upstream]`.
    pub enabled: bool,
    /// Default `<data_dir>/store`.
    pub dir: PathBuf,
    /// How long rows are kept (`None`: forever, the default); per tenant: `TenantConfig::retention`.
    pub retention: Option<Duration>,
    /// Buffers are flushed to Parquet once their oldest record is this old.
    pub flush_interval: Duration,
    /// ... or once they hold this many bytes.
    pub flush_bytes: u64,
    /// The store stops reading the WAL while its buffers hold this many bytes (the WAL keeps
    /// the records).
    pub max_buffer_bytes: u64,
    /// Time between two retention + compaction passes.
    pub maintenance_interval: Duration,
}

/// `[upstream] api`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamApi {
    V1,
    V2,
}

/// `[upstream]`: where forwarded writes go, and default credentials.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    pub url: url::Url,
    pub api: UpstreamApi,
    pub timeout: Duration,
    pub batch_lines: usize,
    pub batch_bytes: u64,
    pub gzip: bool,
    /// Concurrent upstream requests.
    pub max_in_flight: usize,
    pub max_backoff: Duration,
    /// Longest a passed-through query may take, answer included (`query_timeout`, 60 s).
    pub query_timeout: Duration,
    /// Most answer bytes a passed-through query may stream (`query_max_bytes`, 1 GiB).
    pub query_max_bytes: u64,
    /// Defaults for tenants that set none.
    pub org: Option<String>,
    pub token: Option<Secret>,
    pub username: Option<String>,
    pub password: Option<Secret>,
}

/// A tenant's `upstream = { ... }`; `None` falls back to `[upstream]`.
#[derive(Debug, Clone, Default)]
pub struct TenantUpstream {
    pub org: Option<String>,
    pub token: Option<Secret>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Prepended to the bucket name upstream.
    pub bucket_prefix: String,
}

/// `[[tenant]]`.
#[derive(Debug, Clone)]
pub struct TenantConfig {
    pub id: TenantId,
    /// At least one; unique across tenants.
    pub token_sha256: Vec<TokenHash>,
    /// At least one; `BucketPattern::Any` (`"*"`) allows every bucket.
    pub buckets: Vec<BucketPattern>,
    pub upstream: TenantUpstream,
    pub limits: TenantLimits,
    /// `retention`: `None` inherits `[store] retention`; `Some(None)` keeps forever.
    pub retention: Option<Option<Duration>>,
}

/// A tenant's `limits = { ... }`. Every limit is optional: absent means unlimited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantLimits {
    pub lines_per_sec: Option<u64>,
    /// Defaults to 5 × `lines_per_sec` when a rate is set.
    pub burst_lines: Option<u64>,
    pub bytes_per_sec: Option<u64>,
    /// Defaults to 5 × `bytes_per_sec` when a rate is set.
    pub burst_bytes: Option<u64>,
    /// Distinct series per bucket seen within `series_window`.
    pub max_series: Option<u64>,
    pub series_window: Duration,
    /// Concurrent queries.
    pub max_queries: Option<u32>,
    pub queries_per_min: Option<u64>,
}

/// Default `series_window`.
pub const DEFAULT_SERIES_WINDOW: Duration = Duration::from_secs(24 * 3600);

impl Default for TenantLimits {
    fn default() -> Self {
        Self {
            lines_per_sec: None,
            burst_lines: None,
            bytes_per_sec: None,
            burst_bytes: None,
            max_series: None,
            series_window: DEFAULT_SERIES_WINDOW,
            max_queries: None,
            queries_per_min: None,
        }
    }
}

impl Config {
    /// Parses and validates a config file's text. `env` looks up `${NAME}` variables.
    pub fn from_toml_str(
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        validate::parse(text, &env)
    }

    /// Reads and validates a config file, with `${NAME}` from the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml_str(&text, |name| std::env::var(name).ok())
    }

    /// The config without a file: data under `data_dir`, every default, no upstream, and
    /// no tenants (add the one from `tenant::ensure_default_tenant`).
    pub fn embedded_default(data_dir: &Path) -> Config {
        validate::defaults(data_dir.to_path_buf())
    }

    /// The effective config (defaults filled) as TOML, with `token` and `password`
    /// values replaced by `"<redacted>"`.
    pub fn redacted_toml(&self) -> String {
        redact::to_toml(self)
    }
}
