//! Raw file → validated `Config`: defaults, interpolation, cross-field rules.
//!
//! Owns: every default value and every rule that spans more than one value
//! (unique tenant ids and token hashes, non-empty lists, positive sizes).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use toml::de::DeTable;

use super::interp::{interpolate, key_path_at, line_col};
use super::raw::{RawConfig, RawTenant, RawTenantLimits, RawUpstream};
use super::units::ByteSize;
use super::units::HumanDuration;
use super::{
    AdminConfig, Config, ConfigError, DEFAULT_ADMIN_LISTEN, DEFAULT_DATA_DIR, DEFAULT_LISTEN,
    GlobalLimits, Secret, ServerConfig, TenantConfig, TenantLimits, TenantUpstream, UpstreamApi,
    UpstreamConfig, WalCompression, WalSettings, WalSync,
};
use crate::model::{BucketName, TenantId};
use crate::tenant::BucketPattern;
use crate::tenant::token::TokenHash;

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

pub(super) fn defaults(data_dir: PathBuf) -> Config {
    Config {
        server: ServerConfig {
            listen: DEFAULT_LISTEN
                .parse()
                .expect("DEFAULT_LISTEN is a valid socket address"),
            max_body_bytes: 32 * MIB,
            shutdown_timeout: Duration::from_secs(30),
            max_in_flight_requests: 1024,
            max_in_flight_bytes: GIB,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(60),
            max_connections: 4096,
        },
        admin: AdminConfig {
            listen: DEFAULT_ADMIN_LISTEN
                .parse()
                .expect("DEFAULT_ADMIN_LISTEN is a valid socket address"),
        },
        wal: WalSettings {
            dir: data_dir.join("wal"),
            max_disk: 20 * GIB,
            sync: WalSync::Always,
            segment_size: 64 * MIB,
            compression: WalCompression::Lz4,
        },
        upstream: None,
        store: super::store::defaults(&data_dir, false),
        limits: GlobalLimits { replicas: 1 },
        tenants: Vec::new(),
        downsample: Vec::new(),
        data_dir,
    }
}

pub(super) fn parse(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let mut root = DeTable::parse(text).map_err(|e| {
        let (line, column) = line_col(text, e.span().map_or(0, |s| s.start));
        ConfigError::Syntax {
            line,
            column,
            message: e.message().trim_end().to_string(),
        }
    })?;
    interpolate(text, root.get_mut(), env)?;
    let tree = root.get_ref().clone();
    let raw = RawConfig::deserialize(toml::de::Deserializer::from(root)).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        ConfigError::Invalid {
            key: key_path_at(&tree, offset),
            line: line_col(text, offset).0,
            message: e.message().trim_end().to_string(),
        }
    })?;
    let mut cfg = build(text, raw)?;
    if let Some(v) = env("SLUICE_REPLICAS") {
        cfg.limits.replicas = match v.trim().parse::<u64>() {
            Ok(n) if n > 0 => n,
            _ => {
                return Err(ConfigError::Invalid {
                    key: "SLUICE_REPLICAS (environment)".into(),
                    line: 0,
                    message: format!("must be a whole number greater than 0, not {v:?}"),
                });
            }
        };
    }
    Ok(cfg)
}

pub(super) fn invalid<T>(
    text: &str,
    key: String,
    span: std::ops::Range<usize>,
    message: &str,
) -> Result<T, ConfigError> {
    Err(ConfigError::Invalid {
        key,
        line: line_col(text, span.start).0,
        message: message.to_string(),
    })
}

pub(super) fn positive_size(
    text: &str,
    key: &str,
    v: Option<Spanned<ByteSize>>,
    default: u64,
) -> Result<u64, ConfigError> {
    match v {
        None => Ok(default),
        Some(v) if v.get_ref().0 == 0 => {
            invalid(text, key.into(), v.span(), "must be greater than 0")
        }
        Some(v) => Ok(v.get_ref().0),
    }
}

fn positive_count(
    text: &str,
    key: &str,
    v: Option<Spanned<u64>>,
    default: usize,
) -> Result<usize, ConfigError> {
    match v {
        None => Ok(default),
        Some(v) => match usize::try_from(*v.get_ref()) {
            Ok(0) => invalid(text, key.into(), v.span(), "must be greater than 0"),
            Ok(n) => Ok(n),
            Err(_) => invalid(text, key.into(), v.span(), "too large"),
        },
    }
}

fn set(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

fn secret(s: Option<String>) -> Option<Secret> {
    set(s).map(Secret::new)
}

fn build(text: &str, raw: RawConfig) -> Result<Config, ConfigError> {
    let data_dir = PathBuf::from(raw.data_dir.as_deref().unwrap_or(DEFAULT_DATA_DIR));
    let mut cfg = defaults(data_dir);

    let s = raw.server;
    if let Some(listen) = s.listen {
        cfg.server.listen = listen;
    }
    cfg.server.max_body_bytes = positive_size(
        text,
        "server.max_body_bytes",
        s.max_body_bytes,
        cfg.server.max_body_bytes,
    )?;
    if let Some(d) = s.shutdown_timeout {
        cfg.server.shutdown_timeout = d.0;
    }
    let sv = &mut cfg.server;
    sv.max_in_flight_requests = positive_count(
        text,
        "server.max_in_flight_requests",
        s.max_in_flight_requests,
        sv.max_in_flight_requests,
    )?;
    sv.max_in_flight_bytes = positive_size(
        text,
        "server.max_in_flight_bytes",
        s.max_in_flight_bytes,
        sv.max_in_flight_bytes,
    )?;
    sv.max_connections = positive_count(
        text,
        "server.max_connections",
        s.max_connections,
        sv.max_connections,
    )?;
    if let Some(d) = s.header_read_timeout {
        sv.header_read_timeout = d.0;
    }
    if let Some(d) = s.body_read_timeout {
        sv.body_read_timeout = d.0;
    }
    if let Some(r) = raw.limits.replicas {
        cfg.limits.replicas = positive_u64(text, "limits.replicas", &r)?;
    }

    if let Some(listen) = raw.admin.listen {
        cfg.admin.listen = listen;
    }

    let w = raw.wal;
    if let Some(dir) = w.dir {
        cfg.wal.dir = PathBuf::from(dir);
    }
    cfg.wal.max_disk = positive_size(text, "wal.max_disk", w.max_disk, cfg.wal.max_disk)?;
    let seg_span = w.segment_size.as_ref().map(Spanned::span);
    cfg.wal.segment_size = positive_size(
        text,
        "wal.segment_size",
        w.segment_size,
        cfg.wal.segment_size,
    )?;
    if cfg.wal.segment_size > cfg.wal.max_disk {
        return invalid(
            text,
            "wal.segment_size".into(),
            seg_span.unwrap_or(0..0),
            "must not be larger than wal.max_disk",
        );
    }
    cfg.wal.sync = w.sync.unwrap_or(cfg.wal.sync);
    cfg.wal.compression = w.compression.unwrap_or(cfg.wal.compression);

    cfg.upstream = raw.upstream.map(|u| upstream(text, u)).transpose()?;
    cfg.store = super::store::build(text, &cfg.data_dir, cfg.upstream.is_some(), raw.store)?;
    cfg.tenants = tenants(text, raw.tenant)?;
    cfg.downsample = super::downsample::build(text, raw.downsample, &cfg.tenants)?;
    Ok(cfg)
}

fn upstream(text: &str, u: RawUpstream) -> Result<UpstreamConfig, ConfigError> {
    Ok(UpstreamConfig {
        url: u.url.0,
        api: u.api.unwrap_or(UpstreamApi::V2),
        timeout: u.timeout.map_or(Duration::from_secs(10), |d| d.0),
        batch_lines: positive_count(text, "upstream.batch_lines", u.batch_lines, 5000)?,
        batch_bytes: positive_size(text, "upstream.batch_bytes", u.batch_bytes, 4 * MIB)?,
        gzip: u.gzip.unwrap_or(true),
        max_in_flight: positive_count(text, "upstream.max_in_flight", u.max_in_flight, 4)?,
        max_backoff: u.max_backoff.map_or(Duration::from_secs(30), |d| d.0),
        query_timeout: u.query_timeout.map_or(Duration::from_secs(60), |d| d.0),
        query_max_bytes: positive_size(
            text,
            "upstream.query_max_bytes",
            u.query_max_bytes,
            1 << 30,
        )?,
        org: set(u.org),
        token: secret(u.token),
        username: set(u.username),
        password: secret(u.password),
    })
}

fn tenants(text: &str, raw: Vec<Spanned<RawTenant>>) -> Result<Vec<TenantConfig>, ConfigError> {
    let mut ids: HashMap<TenantId, usize> = HashMap::new();
    let mut hashes: HashMap<TokenHash, TenantId> = HashMap::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, t) in raw.into_iter().enumerate() {
        let t = t.into_inner();
        let id_span = t.id.span();
        let id = t.id.into_inner().0;
        if let Some(first) = ids.insert(id.clone(), i) {
            return invalid(
                text,
                format!("tenant[{i}].id"),
                id_span,
                &format!(
                    "duplicate tenant id {:?} (also tenant[{first}])",
                    id.as_str()
                ),
            );
        }
        let list_span = t.token_sha256.span();
        let list = t.token_sha256.into_inner();
        if list.is_empty() {
            return invalid(
                text,
                format!("tenant[{i}].token_sha256"),
                list_span,
                "needs at least one token hash",
            );
        }
        let mut token_sha256 = Vec::with_capacity(list.len());
        for (j, h) in list.into_iter().enumerate() {
            let span = h.span();
            let key = || format!("tenant[{i}].token_sha256[{j}]");
            let h = match TokenHash::parse(h.get_ref()) {
                Ok(h) => h,
                Err(e) => return invalid(text, key(), span, &e.to_string()),
            };
            if let Some(other) = hashes.insert(h, id.clone()) {
                return invalid(
                    text,
                    key(),
                    span,
                    &format!(
                        "duplicate token hash (also used by tenant {:?})",
                        other.as_str()
                    ),
                );
            }
            token_sha256.push(h);
        }
        let bucket_span = t.buckets.span();
        let mut buckets = Vec::new();
        for (j, b) in t.buckets.into_inner().into_iter().enumerate() {
            let pattern = if b.get_ref() == "*" {
                BucketPattern::Any
            } else {
                match BucketName::new(b.get_ref()) {
                    Ok(name) => BucketPattern::Exact(name),
                    Err(e) => {
                        return invalid(
                            text,
                            format!("tenant[{i}].buckets[{j}]"),
                            b.span(),
                            &e.to_string(),
                        );
                    }
                }
            };
            buckets.push(pattern);
        }
        if buckets.is_empty() {
            return invalid(
                text,
                format!("tenant[{i}].buckets"),
                bucket_span,
                "needs at least one bucket (or \"*\")",
            );
        }
        let limits = tenant_limits(text, i, t.limits)?;
        let u = t.upstream;
        out.push(TenantConfig {
            id,
            token_sha256,
            buckets,
            upstream: TenantUpstream {
                org: set(u.org),
                token: secret(u.token),
                username: set(u.username),
                password: secret(u.password),
                bucket_prefix: u.bucket_prefix.unwrap_or_default(),
            },
            limits,
            retention: t.retention.map(|r| r.0),
        });
    }
    Ok(out)
}

fn positive_u64(text: &str, key: &str, v: &Spanned<u64>) -> Result<u64, ConfigError> {
    match *v.get_ref() {
        0 => invalid(text, key.into(), v.span(), "must be greater than 0"),
        n => Ok(n),
    }
}

fn opt_u64(text: &str, key: String, v: Option<&Spanned<u64>>) -> Result<Option<u64>, ConfigError> {
    v.map(|v| positive_u64(text, &key, v)).transpose()
}

fn opt_size(
    text: &str,
    key: String,
    v: Option<&Spanned<ByteSize>>,
) -> Result<Option<u64>, ConfigError> {
    match v {
        None => Ok(None),
        Some(v) if v.get_ref().0 == 0 => invalid(text, key, v.span(), "must be greater than 0"),
        Some(v) => Ok(Some(v.get_ref().0)),
    }
}

/// A rate and its burst: a burst needs a rate; the burst defaults to 5 s of the rate.
fn rate_and_burst(
    text: &str,
    burst_key: String,
    rate: Option<u64>,
    burst: Option<u64>,
    burst_span: Option<std::ops::Range<usize>>,
) -> Result<Option<u64>, ConfigError> {
    match (rate, burst) {
        (None, Some(_)) => invalid(
            text,
            burst_key,
            burst_span.unwrap_or(0..0),
            "a burst needs its rate (lines_per_sec / bytes_per_sec)",
        ),
        (Some(r), None) => Ok(Some(r.saturating_mul(5))),
        (_, b) => Ok(b),
    }
}

fn tenant_limits(text: &str, i: usize, l: RawTenantLimits) -> Result<TenantLimits, ConfigError> {
    let key = |k: &str| format!("tenant[{i}].limits.{k}");
    let mut out = TenantLimits {
        lines_per_sec: opt_u64(text, key("lines_per_sec"), l.lines_per_sec.as_ref())?,
        bytes_per_sec: opt_size(text, key("bytes_per_sec"), l.bytes_per_sec.as_ref())?,
        max_series: opt_u64(text, key("max_series"), l.max_series.as_ref())?,
        queries_per_min: opt_u64(text, key("queries_per_min"), l.queries_per_min.as_ref())?,
        ..TenantLimits::default()
    };
    let burst_lines = opt_u64(text, key("burst_lines"), l.burst_lines.as_ref())?;
    out.burst_lines = rate_and_burst(
        text,
        key("burst_lines"),
        out.lines_per_sec,
        burst_lines,
        l.burst_lines.as_ref().map(Spanned::span),
    )?;
    let burst_bytes = opt_size(text, key("burst_bytes"), l.burst_bytes.as_ref())?;
    out.burst_bytes = rate_and_burst(
        text,
        key("burst_bytes"),
        out.bytes_per_sec,
        burst_bytes,
        l.burst_bytes.as_ref().map(Spanned::span),
    )?;
    if let Some(q) = &l.max_queries {
        let n = positive_u64(text, &key("max_queries"), q)?;
        out.max_queries = Some(u32::try_from(n).map_or_else(
            |_| invalid(text, key("max_queries"), q.span(), "too large"),
            Ok,
        )?);
    }
    if let Some(w) = &l.series_window {
        let HumanDuration(d) = *w.get_ref();
        if d.as_secs() == 0 || d.as_secs() > u64::from(u32::MAX) {
            return invalid(
                text,
                key("series_window"),
                w.span(),
                "must be at least 1s (and below 136 years)",
            );
        }
        out.series_window = d;
    }
    Ok(out)
}
