//! The downsampler's place in the process: start it when there are `[[downsample]]` rules,
//! hand it reloaded rules, stop it before the WAL closes.
//!
//! Owns: that wiring, and forgetting the `downsample` WAL cursor when no rule is configured
//! (or the WAL would keep every segment for it). A reload changes, adds or removes rules of a
//! running downsampler; one that starts without rules needs a restart to start it.
//! Does not own the downsampler (`downsample`).

use std::sync::Arc;

use tokio::sync::watch;

use super::AppError;
use crate::config::Config;
use crate::downsample::{self, DOWNSAMPLE_CONSUMER, DownsampleTask};
use crate::limits::Limits;
use crate::reload::Reloader;
use crate::wal::Wal;

/// Starts the downsampler; `None` when no rule is configured.
pub(super) async fn start_downsample(
    config: &Config,
    wal: &Wal,
    limits: &Arc<Limits>,
    reloader: &Reloader,
) -> Result<Option<DownsampleTask>, AppError> {
    if config.downsample.is_empty() {
        if wal
            .stats()
            .cursors
            .iter()
            .any(|(n, _)| n == DOWNSAMPLE_CONSUMER)
        {
            tracing::info!("no [[downsample]] rules: forgetting the downsampler's WAL cursor");
            wal.remove_consumer(DOWNSAMPLE_CONSUMER).await?;
        }
        reloader.add_hook(
            "downsample",
            Box::new(|c: &Config| {
                if !c.downsample.is_empty() {
                    tracing::warn!("[[downsample]] rules added: restart sluice to start them");
                }
            }),
        );
        return Ok(None);
    }
    let (tx, rx) = watch::channel(config.downsample.clone());
    reloader.add_hook(
        "downsample",
        Box::new(move |c: &Config| {
            let _ = tx.send(c.downsample.clone());
        }),
    );
    let task = downsample::start(
        wal.clone(),
        config.wal.dir.clone(),
        rx,
        Some(limits.clone()),
    )?;
    tracing::info!(rules = config.downsample.len(), "downsampler started");
    Ok(Some(task))
}
