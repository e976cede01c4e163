//! Builds every component from a `Config` and owns the tasks and the shutdown order.
//!
//! Start-up: bind the listener (so probes answer at once), replay the WAL in the background,
//! then attach the forwarder and the embedded store (which replays the WAL after its cursor)
//! and mark the server ready. Submodules: `downsample` (the rollup consumer), `forwarding`, `series` (cardinality snapshots),
//! `store` (the embedded store's start and stop). Shutdown (SIGTERM/SIGINT): stop
//! accepting, let in-flight writes finish (each gets its fsync and its answer), stop the
//! forwarder at a clean cursor, persist that cursor, close the WAL (final fsync), exit 0.
//!
//! Also: the admin listener (`/metrics`, `/-/reload`), the metrics registry (built here and
//! handed to each component), SIGHUP → config reload, and the periodic refusal log.

mod downsample;
mod forwarding;
mod series;
mod store;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::admin::{self, AdminState};
use crate::clock::SystemClock;
use crate::config::{Config, UpstreamApi, WalCompression, WalSync};
use crate::forward;
use crate::http::serve::ServeSettings;
use crate::http::{self, AppState, Core, HttpSettings};
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::reload::Reloader;
use crate::tenant::{self, Registry, SharedRegistry};
use crate::wal::{Compression, SyncMode, Wal, WalConfig};
use forwarding::start_forwarding;
use series::{restore_series, snapshot_series};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Tenant(#[from] tenant::TenantError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Wal(#[from] crate::wal::WalError),
    #[error(transparent)]
    Forward(#[from] forward::ForwardError),
    #[error("query passthrough: {0}")]
    Passthrough(#[from] crate::query::passthrough::PassError),
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("server failed: {0}")]
    Serve(std::io::Error),
    #[error("a background task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// `sluice serve [--config FILE]`: runs until SIGTERM/SIGINT.
pub async fn serve(config_path: Option<PathBuf>) -> Result<(), AppError> {
    let config = match &config_path {
        Some(path) => Config::load(path)?,
        None => embedded_default()?,
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: draining in-flight requests");
        let _ = stop_tx.send(true);
    });
    run_from(config, config_path, stop_rx).await
}

/// The embedded default: `./data`, one tenant `default` whose token is printed once.
fn embedded_default() -> Result<Config, AppError> {
    let data_dir = PathBuf::from("./data");
    let mut config = Config::embedded_default(&data_dir);
    let (tenant, new_token) = tenant::ensure_default_tenant(&data_dir)?;
    config.tenants.push(tenant);
    if let Some(token) = new_token {
        // The only time the plaintext token exists outside the client: tell the operator.
        eprintln!("\n  sluice: tenant `default` token (shown once): {token}\n");
    }
    Ok(config)
}

/// Runs sluice with `config` until `stop` turns true (without a file to reload).
pub async fn run(config: Config, stop: watch::Receiver<bool>) -> Result<(), AppError> {
    run_from(config, None, stop).await
}

/// Runs sluice with `config`, read from `path` (what SIGHUP and `POST /-/reload` re-read),
/// until `stop` turns true.
pub async fn run_from(
    config: Config,
    path: Option<PathBuf>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), AppError> {
    // Before anything else: SIGHUP's default action would kill the process.
    let sighup = sighup_stream();
    if config.wal.sync == WalSync::None {
        tracing::warn!(
            "wal.sync = \"none\": acknowledged writes can be lost on a crash; benchmarks only"
        );
    }
    let listen = config.server.listen;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| AppError::Listen {
            addr: listen,
            source,
        })?;
    let local = listener.local_addr().map_err(|source| AppError::Listen {
        addr: listen,
        source,
    })?;
    tracing::info!(%local, "listening");
    let admin_addr = config.admin.listen;
    let admin_listener =
        TcpListener::bind(admin_addr)
            .await
            .map_err(|source| AppError::Listen {
                addr: admin_addr,
                source,
            })?;
    let admin_local = admin_listener.local_addr().unwrap_or(admin_addr);
    tracing::info!(local = %admin_local, "admin listening (/metrics, /-/reload)");

    let metrics = Metrics::new();
    let tenants = Arc::new(SharedRegistry::new(Registry::from_config(&config)?));
    let clock = Arc::new(SystemClock);
    let limits = Arc::new(Limits::from_config(&config, clock.clone()));
    let reloader = Arc::new(Reloader::new(path, config.clone(), tenants.clone()));
    {
        // Limiter state of unchanged tenants survives a reload; changed ones start afresh.
        let limits = limits.clone();
        reloader.add_hook(
            "limits",
            Box::new(move |c: &Config| limits.reconcile(&c.tenants)),
        );
    }
    let state = Arc::new(AppState {
        tenants,
        limits: limits.clone(),
        settings: HttpSettings {
            max_body_bytes: usize::try_from(config.server.max_body_bytes).unwrap_or(usize::MAX),
            allow_unsigned: !matches!(
                config.upstream.as_ref().map(|u| u.api),
                Some(UpstreamApi::V1)
            ),
            body_read_timeout: config.server.body_read_timeout,
        },
        clock: clock.clone(),
        started: SystemTime::now(),
        core: OnceLock::new(),
        query_metrics: metrics.query.clone(),
        passthrough: passthrough(&config)?,
    });
    let server = {
        // `track` counts every answer of a write route: layers that answer writes themselves
        // (load shedding) must sit inside it (in `http::router`) to be counted.
        let app = http::router(state.clone()).layer(axum::middleware::from_fn_with_state(
            metrics.write.clone(),
            crate::metrics::track,
        ));
        let settings = ServeSettings {
            max_connections: config.server.max_connections,
            header_read_timeout: config.server.header_read_timeout,
        };
        tokio::spawn(http::serve::serve(listener, app, settings, stop.clone()))
    };

    let mut admin = {
        let app = admin::router(AdminState {
            metrics: metrics.clone(),
            reloader: reloader.clone(),
        });
        let mut stop = stop.clone();
        tokio::spawn(async move {
            axum::serve(admin_listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await
        })
    };
    let hup_task = sighup.map(|hup| tokio::spawn(reload_on_sighup(hup, reloader.clone())));
    let refusal_log = tokio::spawn(
        metrics
            .write
            .refusal_log()
            .clone()
            .run(REFUSAL_LOG_PERIOD, stop.clone()),
    );

    let wal_cfg = wal_config(&config);
    let (wal, report) = tokio::task::spawn_blocking(move || Wal::open(wal_cfg)).await??;
    tracing::info!(
        segments = report.segments,
        records = report.records,
        last_seq = report.last_seq.0,
        "write-ahead log replayed"
    );

    let series_consumer = config.upstream.is_some();
    restore_series(&limits, &wal, &config.data_dir, series_consumer).await?;
    let snapshots = tokio::spawn(snapshot_series(
        limits.clone(),
        wal.clone(),
        config.data_dir.clone(),
        series_consumer,
        stop.clone(),
    ));

    let forwarding = match &config.upstream {
        Some(_) => Some(start_forwarding(
            &config,
            &state.tenants,
            &wal,
            stop.clone(),
        )?),
        None => None,
    };
    // Before the server is ready: writes are checked against the field types the replay found.
    let embedded = store::start_store(&config, &wal, clock.clone()).await?;
    let downsampler = downsample::start_downsample(&config, &wal, &limits, &reloader).await?;
    metrics.sources.attach_wal(wal.clone());
    metrics.sources.attach_limits(limits.clone());
    if let Some(f) = &forwarding {
        metrics.sources.attach_forward(f.status.clone());
    }
    if let Some(e) = &embedded {
        metrics.sources.attach_store(e.store.clone());
        let st = e.store.clone();
        reloader.add_hook(
            "store-retention",
            Box::new(move |c: &Config| st.set_retention(store::retention(c))),
        );
    }
    if let Some(d) = &downsampler {
        metrics.sources.attach_downsample(d.status.clone());
    }
    let core = Core {
        wal: wal.clone(),
        forward: forwarding.as_ref().map(|f| f.status.clone()),
        store: embedded.as_ref().map(|e| e.store.clone()),
    };
    let _ = state.core.set(core);
    tracing::info!("ready");

    let _ = stop.wait_for(|s| *s).await;
    // 1. No new requests; in-flight ones finish (their WAL appends complete first).
    let timeout = config.server.shutdown_timeout;
    match tokio::time::timeout(timeout, server).await {
        Ok(joined) => joined?.map_err(AppError::Serve)?,
        Err(_) => tracing::warn!(?timeout, "in-flight requests did not finish in time"),
    }
    if let Some(t) = hup_task {
        t.abort();
    }
    // A scraper's keep-alive connection must not hold up shutdown.
    if tokio::time::timeout(Duration::from_secs(1), &mut admin)
        .await
        .is_err()
    {
        admin.abort();
    }
    let _ = refusal_log.await;
    // 2. The series sets are written (no write can add to them any more).
    let _ = snapshots.await;
    // 3. The downsampler writes its rollups, checkpoint and cursor.
    if let Some(d) = downsampler {
        d.stop().await;
    }
    // 4. The forwarder stops at a clean watermark, which is persisted.
    if let Some(f) = forwarding {
        f.stop().await?;
    }
    // 5. The store finishes a flush in flight; its buffers are replayed from the WAL next time.
    if let Some(e) = embedded {
        e.stop().await;
    }
    // 6. Final fsync.
    wal.close().await?;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// The query passthrough: fronting mode without a local store copy.
fn passthrough(config: &Config) -> Result<Option<crate::query::passthrough::Upstream>, AppError> {
    let Some(u) = config.upstream.as_ref().filter(|_| !config.store.enabled) else {
        return Ok(None);
    };
    let settings = crate::query::passthrough::UpstreamSettings {
        url: u.url.clone(),
        timeout: u.query_timeout,
        max_bytes: u.query_max_bytes,
    };
    Ok(Some(crate::query::passthrough::Upstream::new(settings)?))
}

/// The WAL settings of `config` (also for offline tools that open the WAL).
pub fn wal_config(config: &Config) -> WalConfig {
    let w = &config.wal;
    WalConfig {
        dir: w.dir.clone(),
        max_disk: w.max_disk,
        segment_bytes: w.segment_size,
        sync: match w.sync {
            WalSync::Always => SyncMode::Always,
            WalSync::None => SyncMode::None,
        },
        compression: match w.compression {
            WalCompression::Lz4 => Compression::Lz4,
            WalCompression::None => Compression::None,
        },
        preallocate: true,
    }
}

/// How often refusals are logged as per-tenant aggregates.
const REFUSAL_LOG_PERIOD: Duration = Duration::from_secs(10);

#[cfg(unix)]
type Hangup = tokio::signal::unix::Signal;
#[cfg(not(unix))]
type Hangup = ();

/// The SIGHUP stream, registered at once (`None` where there is none).
fn sighup_stream() -> Option<Hangup> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::hangup()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP; reload with POST /-/reload");
                None
            }
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Reloads the config file on every SIGHUP (logging the outcome).
async fn reload_on_sighup(mut hup: Hangup, reloader: Arc<Reloader>) {
    #[cfg(unix)]
    while hup.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading the config file");
        let r = reloader.clone();
        let _ = tokio::task::spawn_blocking(move || r.reload()).await;
    }
    #[cfg(not(unix))]
    let _ = (hup, reloader);
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
