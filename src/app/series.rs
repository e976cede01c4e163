//! The series sets of the cardinality limits across restarts: load the snapshot and replay the
//! WAL after it before the server is ready; write the snapshot periodically and at shutdown (in
//! fronting mode also moving the `series` WAL cursor).
//!
//! Owns: those two tasks. Does not own the series sets (`limits`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::AppError;
use crate::limits::Limits;
use crate::model::WalSeq;
use crate::wal::Wal;

/// The WAL consumer name of the series tracker (fronting mode only; see `limits::snapshot`).
const SERIES_CONSUMER: &str = "series";

/// Loads the series snapshot and replays the WAL after it (before the server is ready).
pub(super) async fn restore_series(
    limits: &Arc<Limits>,
    wal: &Wal,
    data_dir: &std::path::Path,
    consumer: bool,
) -> Result<(), AppError> {
    if consumer {
        wal.register_consumer(SERIES_CONSUMER)?;
    }
    let limits = limits.clone();
    let wal = wal.clone();
    let dir = data_dir.to_path_buf();
    let task = tokio::task::spawn_blocking(move || {
        let after = match limits.load_snapshot(&dir) {
            Ok(seq) => seq,
            Err(e) => {
                tracing::warn!(error = %e, "series snapshot unusable; counting series from the whole WAL");
                WalSeq(0)
            }
        };
        let mut reader = wal.reader(after);
        let mut records = 0u64;
        loop {
            match reader.try_next() {
                Ok(Some(record)) => {
                    limits.replay(&record);
                    records += 1;
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "replaying the WAL into the series sets stopped early");
                    break;
                }
            }
        }
        tracing::info!(after = after.0, records, "series sets restored");
    });
    task.await?;
    Ok(())
}

/// Writes the series snapshot every `SNAPSHOT_EVERY` and once more at shutdown; in fronting
/// mode then moves the series consumer's WAL cursor to the snapshot's seq.
pub(super) async fn snapshot_series(
    limits: Arc<Limits>,
    wal: Wal,
    dir: PathBuf,
    consumer: bool,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let stopping = tokio::select! {
            _ = tokio::time::sleep(crate::limits::snapshot::SNAPSHOT_EVERY) => false,
            _ = stopped(&mut stop) => true,
        };
        if stopping {
            // Let in-flight writes finish their appends before the last snapshot.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let seq = wal.stats().last_seq.unwrap_or_default();
        let (l, d) = (limits.clone(), dir.clone());
        match tokio::task::spawn_blocking(move || l.write_snapshot(&d, seq)).await {
            Ok(Ok(())) => {
                if consumer && let Err(e) = wal.commit_cursor(SERIES_CONSUMER, seq).await {
                    tracing::warn!(error = %e, "moving the series WAL cursor failed");
                }
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "writing the series snapshot failed"),
            Err(e) => tracing::warn!(error = %e, "series snapshot task failed"),
        }
        if stopping {
            return;
        }
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
