//! The embedded store's place in the process: open it, replay the WAL into it before the server
//! is ready, run its consumer, stop it at shutdown.
//!
//! Owns: the `[store]` → `StoreOptions` mapping, start-up replay (`/ready` and writes wait for
//! it, so ingest's field-type check knows everything the WAL holds) and forgetting the `store`
//! WAL cursor when the store is turned off (or the WAL would keep every segment for it).
//! Retention (`[store] retention`, `[[tenant]] retention`) and compaction run every
//! `[store] maintenance_interval` (`store::maintenance`) with the store's retention policy,
//! which a config reload replaces (the `store-retention` hook in `app`).
//! Shutdown leaves the buffers to the WAL: a flush in flight is finished and its cursor
//! committed; what is only buffered is replayed at the next start.
//! Does not own the store (`store`).

use std::sync::Arc;
use std::time::Duration;

use super::AppError;
use crate::clock::Clock;
use crate::config::Config;
use crate::store::maintain::{CompactOptions, RetentionPolicy};
use crate::store::maintenance::{self, MaintenanceOptions, MaintenanceTask};
use crate::store::{self, STORE_CONSUMER, Store, StoreOptions, StoreTask};
use crate::wal::Wal;

/// The running store.
pub(super) struct Embedded {
    pub(super) store: Arc<Store>,
    task: StoreTask,
    maintenance: MaintenanceTask,
}

impl Embedded {
    pub(super) async fn stop(self) {
        self.maintenance.stop().await;
        self.task.stop().await;
    }
}

/// `[store] retention` and the tenants' overrides.
pub(super) fn retention(config: &Config) -> RetentionPolicy {
    let mut p = RetentionPolicy::uniform(config.store.retention);
    for t in &config.tenants {
        if let Some(r) = t.retention {
            p.tenants.insert(t.id.clone(), r);
        }
    }
    p
}

fn options(config: &Config) -> StoreOptions {
    let s = &config.store;
    let mut o = StoreOptions::new(s.dir.clone());
    o.flush_interval = s.flush_interval;
    o.flush_bytes = usize::try_from(s.flush_bytes).unwrap_or(usize::MAX);
    o.max_buffer_bytes = usize::try_from(s.max_buffer_bytes).unwrap_or(usize::MAX);
    o
}

/// Opens the store and replays the WAL after its cursor; `None` when the store is off.
pub(super) async fn start_store(
    config: &Config,
    wal: &Wal,
    clock: Arc<dyn Clock>,
) -> Result<Option<Embedded>, AppError> {
    if !config.store.enabled {
        if wal.stats().cursors.iter().any(|(n, _)| n == STORE_CONSUMER) {
            tracing::info!("store disabled: forgetting its WAL cursor");
            wal.remove_consumer(STORE_CONSUMER).await?;
        }
        return Ok(None);
    }
    let cursor = wal.register_consumer(STORE_CONSUMER)?;
    let opts = options(config);
    let (store, report) = tokio::task::spawn_blocking(move || Store::open(opts, cursor)).await??;
    tracing::info!(
        files = report.files,
        tmp_deleted = report.tmp_deleted,
        superseded_deleted = report.superseded_deleted,
        cursor = cursor.0,
        "store catalog loaded"
    );
    let store = Arc::new(store);
    let task = store::consumer::start(store.clone(), wal.clone(), cursor)?;
    let target = wal.last_durable();
    loop {
        match store.wait_applied(target, Duration::from_secs(10)).await {
            Ok(()) => break,
            Err(_) => tracing::info!(
                applied = store.applied().0,
                target = target.0,
                "store: replaying the WAL"
            ),
        }
    }
    tracing::info!(
        records = target.0.saturating_sub(cursor.0),
        "store: WAL replayed"
    );
    store.set_retention(retention(config));
    let opts = MaintenanceOptions {
        every: config.store.maintenance_interval,
        retention: retention(config),
        compact: CompactOptions::default(),
    };
    let maintenance = maintenance::start(store.clone(), opts, clock)?;
    Ok(Some(Embedded {
        store,
        task,
        maintenance,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use super::*;
    use crate::model::{BucketName, TenantId};

    #[test]
    fn retention_takes_the_default_and_tenant_overrides() {
        let h = |n: u32| crate::tenant::token::hash(&format!("t{n}"));
        let text = format!(
            "[store]\nretention = \"2d\"\n\
             [[tenant]]\nid = \"a\"\ntoken_sha256 = [\"{}\"]\nbuckets = [\"*\"]\nretention = \"forever\"\n\
             [[tenant]]\nid = \"b\"\ntoken_sha256 = [\"{}\"]\nbuckets = [\"*\"]\nretention = \"7d\"\n\
             [[tenant]]\nid = \"c\"\ntoken_sha256 = [\"{}\"]\nbuckets = [\"*\"]\n",
            h(1),
            h(2),
            h(3)
        );
        let c = Config::from_toml_str(&text, |_| None).unwrap();
        let p = retention(&c);
        let r = |t: &str| p.retention(&TenantId::new(t).unwrap(), &BucketName::new("x").unwrap());
        assert_eq!(r("a"), None);
        assert_eq!(r("b"), Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(r("c"), Some(Duration::from_secs(2 * 86_400)));
    }
}
