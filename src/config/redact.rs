//! The effective config as TOML with secrets replaced, for `sluice config check`.
//!
//! Owns: the dump's shape, which uses the file's key names so it reads like a config file.
//! `token` and `password` values become `"<redacted>"`, a password in the upstream url
//! becomes `redacted`; `token_sha256` is not secret.

use serde::Serialize;

use super::units::{format_duration, format_size};
use super::{Config, Secret, UpstreamApi, WalCompression, WalSync};
use crate::tenant::BucketPattern;

const REDACTED: &str = "<redacted>";

#[derive(Serialize)]
struct Out {
    data_dir: String,
    server: OutServer,
    admin: OutAdmin,
    wal: OutWal,
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream: Option<OutUpstream>,
    store: OutStore,
    limits: OutGlobalLimits,
    tenant: Vec<OutTenant>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    downsample: Vec<super::downsample::OutDownsample>,
}

#[derive(Serialize)]
struct OutGlobalLimits {
    replicas: u64,
}

/// Only the limits that are set (absent = unlimited).
#[derive(Serialize)]
struct OutTenantLimits {
    #[serde(skip_serializing_if = "Option::is_none")]
    lines_per_sec: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    burst_lines: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes_per_sec: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    burst_bytes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_series: Option<u64>,
    series_window: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_queries: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    queries_per_min: Option<u64>,
}

#[derive(Serialize)]
struct OutServer {
    listen: String,
    max_body_bytes: String,
    shutdown_timeout: String,
    max_in_flight_requests: u64,
    max_in_flight_bytes: String,
    header_read_timeout: String,
    body_read_timeout: String,
    max_connections: u64,
}

#[derive(Serialize)]
struct OutAdmin {
    listen: String,
}

#[derive(Serialize)]
struct OutWal {
    dir: String,
    max_disk: String,
    sync: WalSync,
    segment_size: String,
    compression: WalCompression,
}

#[derive(Serialize)]
struct OutStore {
    enabled: bool,
    dir: String,
    retention: String,
    flush_interval: String,
    flush_bytes: String,
    max_buffer_bytes: String,
    maintenance_interval: String,
}

fn retention(r: Option<std::time::Duration>) -> String {
    r.map_or_else(|| "forever".to_string(), format_duration)
}

#[derive(Serialize)]
struct OutUpstream {
    url: String,
    api: UpstreamApi,
    timeout: String,
    batch_lines: u64,
    batch_bytes: String,
    gzip: bool,
    max_in_flight: u64,
    max_backoff: String,
    query_timeout: String,
    query_max_bytes: String,
    org: String,
    token: String,
    username: String,
    password: String,
}

#[derive(Serialize)]
struct OutTenant {
    id: String,
    token_sha256: Vec<String>,
    buckets: Vec<String>,
    upstream: OutTenantUpstream,
    limits: OutTenantLimits,
    #[serde(skip_serializing_if = "Option::is_none")]
    retention: Option<String>,
}

#[derive(Serialize)]
struct OutTenantUpstream {
    org: String,
    token: String,
    username: String,
    password: String,
    bucket_prefix: String,
}

fn redact(s: &Option<Secret>) -> String {
    match s {
        Some(_) => REDACTED.to_string(),
        None => String::new(),
    }
}

/// A password in the url's userinfo is a secret too.
fn redact_url(url: &url::Url) -> String {
    let mut u = url.clone();
    if u.password().is_some() && u.set_password(Some("redacted")).is_err() {
        return REDACTED.to_string();
    }
    u.to_string()
}

pub(super) fn to_toml(c: &Config) -> String {
    let out = Out {
        data_dir: c.data_dir.display().to_string(),
        server: OutServer {
            listen: c.server.listen.to_string(),
            max_body_bytes: format_size(c.server.max_body_bytes),
            shutdown_timeout: format_duration(c.server.shutdown_timeout),
            max_in_flight_requests: c.server.max_in_flight_requests as u64,
            max_in_flight_bytes: format_size(c.server.max_in_flight_bytes),
            header_read_timeout: format_duration(c.server.header_read_timeout),
            body_read_timeout: format_duration(c.server.body_read_timeout),
            max_connections: c.server.max_connections as u64,
        },
        admin: OutAdmin {
            listen: c.admin.listen.to_string(),
        },
        wal: OutWal {
            dir: c.wal.dir.display().to_string(),
            max_disk: format_size(c.wal.max_disk),
            sync: c.wal.sync,
            segment_size: format_size(c.wal.segment_size),
            compression: c.wal.compression,
        },
        upstream: c.upstream.as_ref().map(|u| OutUpstream {
            url: redact_url(&u.url),
            api: u.api,
            timeout: format_duration(u.timeout),
            batch_lines: u.batch_lines as u64,
            batch_bytes: format_size(u.batch_bytes),
            gzip: u.gzip,
            max_in_flight: u.max_in_flight as u64,
            max_backoff: format_duration(u.max_backoff),
            query_timeout: format_duration(u.query_timeout),
            query_max_bytes: format_size(u.query_max_bytes),
            org: u.org.clone().unwrap_or_default(),
            token: redact(&u.token),
            username: u.username.clone().unwrap_or_default(),
            password: redact(&u.password),
        }),
        store: OutStore {
            enabled: c.store.enabled,
            dir: c.store.dir.display().to_string(),
            retention: retention(c.store.retention),
            flush_interval: format_duration(c.store.flush_interval),
            flush_bytes: format_size(c.store.flush_bytes),
            max_buffer_bytes: format_size(c.store.max_buffer_bytes),
            maintenance_interval: format_duration(c.store.maintenance_interval),
        },
        limits: OutGlobalLimits {
            replicas: c.limits.replicas,
        },
        tenant: c
            .tenants
            .iter()
            .map(|t| OutTenant {
                id: t.id.to_string(),
                token_sha256: t.token_sha256.iter().map(ToString::to_string).collect(),
                buckets: t
                    .buckets
                    .iter()
                    .map(|b| match b {
                        BucketPattern::Any => "*".to_string(),
                        BucketPattern::Exact(name) => name.to_string(),
                    })
                    .collect(),
                upstream: OutTenantUpstream {
                    org: t.upstream.org.clone().unwrap_or_default(),
                    token: redact(&t.upstream.token),
                    username: t.upstream.username.clone().unwrap_or_default(),
                    password: redact(&t.upstream.password),
                    bucket_prefix: t.upstream.bucket_prefix.clone(),
                },
                limits: OutTenantLimits {
                    lines_per_sec: t.limits.lines_per_sec,
                    burst_lines: t.limits.burst_lines,
                    bytes_per_sec: t.limits.bytes_per_sec.map(format_size),
                    burst_bytes: t.limits.burst_bytes.map(format_size),
                    max_series: t.limits.max_series,
                    series_window: format_duration(t.limits.series_window),
                    max_queries: t.limits.max_queries,
                    queries_per_min: t.limits.queries_per_min,
                },
                retention: t.retention.map(retention),
            })
            .collect(),
        downsample: c.downsample.iter().map(super::downsample::out).collect(),
    };
    toml::to_string(&out).unwrap_or_else(|e| format!("# cannot render config: {e}\n"))
}
