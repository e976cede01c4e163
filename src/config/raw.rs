//! The config file as serde reads it: every table denies unknown keys, and every value
//! with rules is parsed by a type whose `Deserialize` fails, so toml reports the line.
//!
//! Owns: the file's shape. Does not own: defaults and cross-field rules (`validate`).

use std::net::SocketAddr;

use serde::Deserialize;
use toml::Spanned;

use super::units::{ByteSize, HumanDuration};
use super::{UpstreamApi, WalCompression, WalSync};
use crate::model::TenantId;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub data_dir: Option<String>,
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub admin: RawAdmin,
    #[serde(default)]
    pub wal: RawWal,
    pub upstream: Option<RawUpstream>,
    #[serde(default)]
    pub store: RawStore,
    #[serde(default)]
    pub limits: RawGlobalLimits,
    #[serde(default)]
    pub tenant: Vec<Spanned<RawTenant>>,
    #[serde(default)]
    pub downsample: Vec<Spanned<super::downsample::RawDownsample>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGlobalLimits {
    pub replicas: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    pub listen: Option<SocketAddr>,
    pub max_body_bytes: Option<Spanned<ByteSize>>,
    pub shutdown_timeout: Option<HumanDuration>,
    pub max_in_flight_requests: Option<Spanned<u64>>,
    pub max_in_flight_bytes: Option<Spanned<ByteSize>>,
    pub header_read_timeout: Option<HumanDuration>,
    pub body_read_timeout: Option<HumanDuration>,
    pub max_connections: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdmin {
    pub listen: Option<SocketAddr>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWal {
    pub dir: Option<String>,
    pub max_disk: Option<Spanned<ByteSize>>,
    pub sync: Option<WalSync>,
    pub segment_size: Option<Spanned<ByteSize>>,
    pub compression: Option<WalCompression>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    pub enabled: Option<bool>,
    pub dir: Option<String>,
    pub retention: Option<RetentionValue>,
    pub flush_interval: Option<Spanned<HumanDuration>>,
    pub flush_bytes: Option<Spanned<ByteSize>>,
    pub max_buffer_bytes: Option<Spanned<ByteSize>>,
    pub maintenance_interval: Option<Spanned<HumanDuration>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUpstream {
    pub url: UrlValue,
    pub api: Option<UpstreamApi>,
    pub timeout: Option<HumanDuration>,
    pub batch_lines: Option<Spanned<u64>>,
    pub batch_bytes: Option<Spanned<ByteSize>>,
    pub gzip: Option<bool>,
    pub max_in_flight: Option<Spanned<u64>>,
    pub max_backoff: Option<HumanDuration>,
    pub query_timeout: Option<HumanDuration>,
    pub query_max_bytes: Option<Spanned<ByteSize>>,
    /// Defaults for tenants that set none; empty means "not set".
    pub org: Option<String>,
    pub token: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTenant {
    pub id: Spanned<TenantIdValue>,
    /// Checked in `validate` (with each entry's own line).
    pub token_sha256: Spanned<Vec<Spanned<String>>>,
    /// Checked in `validate`: bucket names, or `"*"`.
    pub buckets: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub upstream: RawTenantUpstream,
    #[serde(default)]
    pub limits: RawTenantLimits,
    /// The store's retention for this tenant's buckets (overrides `[store] retention`).
    pub retention: Option<RetentionValue>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTenantLimits {
    pub lines_per_sec: Option<Spanned<u64>>,
    pub burst_lines: Option<Spanned<u64>>,
    pub bytes_per_sec: Option<Spanned<ByteSize>>,
    pub burst_bytes: Option<Spanned<ByteSize>>,
    pub max_series: Option<Spanned<u64>>,
    pub series_window: Option<Spanned<HumanDuration>>,
    pub max_queries: Option<Spanned<u64>>,
    pub queries_per_min: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTenantUpstream {
    pub org: Option<String>,
    pub token: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub bucket_prefix: Option<String>,
}

macro_rules! parsed_string {
    ($(#[$doc:meta])* $name:ident($inner:ty), $parse:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub(super) struct $name(pub $inner);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                let parse: fn(&str) -> Result<$inner, String> = $parse;
                parse(&s).map($name).map_err(serde::de::Error::custom)
            }
        }
    };
}

parsed_string!(
    /// `[upstream] url`: must parse and be http(s).
    UrlValue(url::Url),
    |s| {
        let u = url::Url::parse(s).map_err(|e| format!("invalid url {s:?}: {e}"))?;
        match u.scheme() {
            "http" | "https" => Ok(u),
            other => Err(format!("invalid url {s:?}: scheme {other:?} is not http or https")),
        }
    }
);
parsed_string!(
    /// `[[tenant]] id`.
    TenantIdValue(TenantId),
    |s| TenantId::new(s).map_err(|e| e.to_string())
);

parsed_string!(
    /// A retention: `"forever"` or a positive duration (`"2d"`, `"36h"`).
    RetentionValue(Option<std::time::Duration>),
    |s| {
        if s.trim() == "forever" {
            return Ok(None);
        }
        match super::units::parse_duration(s)? {
            d if d.is_zero() => Err(format!("retention {s:?} must be longer than 0 (or \"forever\")")),
            d => Ok(Some(d)),
        }
    }
);
