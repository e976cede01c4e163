//! Fronting mode: the forwarder and the two tasks that connect it to the WAL (the pump that
//! reads records, the committer that persists its watermark as the `forward` cursor).
//!
//! Owns: building the forwarder from `[upstream]` and the tenants, its WAL consumer and
//! shutdown. Does not own forwarding itself (`forward`).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::AppError;
use crate::config::{Config, UpstreamApi};
use crate::forward::{self, ForwardConfig, Forwarder};
use crate::model::{BucketName, TenantId, WalSeq};
use crate::tenant::SharedRegistry;
use crate::wal::Wal;

/// The WAL consumer name of the forwarder.
const FORWARD_CONSUMER: &str = "forward";

/// The forwarder and the two tasks that connect it to the WAL.
pub(super) struct Forwarding {
    pub(super) status: forward::ForwardStatus,
    pump: JoinHandle<()>,
    forwarder: JoinHandle<Result<(), forward::ForwardError>>,
    committer: JoinHandle<()>,
}

impl Forwarding {
    pub(super) async fn stop(self) -> Result<(), AppError> {
        // `run` returns on shutdown; the committer persists the last watermark when the
        // forwarder drops its sender.
        self.pump.abort();
        let result = self.forwarder.await?;
        self.committer.await?;
        result.map_err(AppError::from)
    }
}

pub(super) fn start_forwarding(
    config: &Config,
    tenants: &Arc<SharedRegistry>,
    wal: &Wal,
    stop: watch::Receiver<bool>,
) -> Result<Forwarding, AppError> {
    let upstream = config
        .upstream
        .as_ref()
        .expect("start_forwarding is called only with an upstream");
    let api = match upstream.api {
        UpstreamApi::V1 => forward::UpstreamApi::V1,
        UpstreamApi::V2 => forward::UpstreamApi::V2,
    };
    let mut cfg = ForwardConfig::new(
        upstream.url.clone(),
        api,
        config.data_dir.join("deadletter"),
    );
    cfg.timeout = upstream.timeout;
    cfg.batch_lines = upstream.batch_lines;
    cfg.batch_bytes = usize::try_from(upstream.batch_bytes).unwrap_or(usize::MAX);
    cfg.gzip = upstream.gzip;
    cfg.max_in_flight = upstream.max_in_flight;
    cfg.max_backoff = upstream.max_backoff;
    let resolver = Arc::new(TenantResolver(tenants.clone()));
    let forwarder = Forwarder::new(cfg, resolver)?;
    let status = forwarder.status();
    let cursor = wal.register_consumer(FORWARD_CONSUMER)?;
    let (tx, rx) = mpsc::channel(64);
    let mut reader = wal.reader(cursor);
    let pump = tokio::spawn(async move {
        loop {
            match reader.next().await {
                Ok(record) => {
                    if tx.send(record).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "reading the WAL for forwarding failed; forwarding stops");
                    return;
                }
            }
        }
    });
    let (ack_tx, ack_rx) = watch::channel(cursor);
    let forwarder = tokio::spawn(forwarder.run(rx, ack_tx, stop));
    let committer = tokio::spawn(commit_cursor(wal.clone(), ack_rx, cursor));
    Ok(Forwarding {
        status,
        pump,
        forwarder,
        committer,
    })
}

/// Persists the forwarder's watermark as the durable cursor, at most every 100 ms, and a
/// last time when the forwarder stops.
async fn commit_cursor(wal: Wal, mut acked: watch::Receiver<WalSeq>, mut committed: WalSeq) {
    loop {
        let open = acked.changed().await.is_ok();
        let seq = *acked.borrow_and_update();
        if seq > committed {
            match wal.commit_cursor(FORWARD_CONSUMER, seq).await {
                Ok(()) => committed = seq,
                Err(e) => tracing::error!(error = %e, "persisting the forward cursor failed"),
            }
        }
        if !open {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Upstream destinations from the tenant registry (read afresh for every attempt, so a
/// reloaded token applies to the next retry).
struct TenantResolver(Arc<SharedRegistry>);

impl forward::Resolve for TenantResolver {
    fn destination(&self, tenant: &TenantId, bucket: &BucketName) -> Option<forward::Destination> {
        let t = self.0.load().tenant(tenant)?;
        Some(forward::Destination {
            org: t.upstream_org().unwrap_or_default().to_owned(),
            bucket: t.upstream_bucket(bucket),
            token: t.upstream_token().map(|s| s.expose().to_owned()),
            username: t.upstream_username().map(str::to_owned),
            password: t.upstream_password().map(|s| s.expose().to_owned()),
        })
    }
}
