//! The store's cache of per-measurement series indexes (what SHOW TAG VALUES, `schema.*` and
//! the series limits read without walking files): building an index from the catalog and the
//! buffers, and knowing when one went stale.
//!
//! Owns: `SeriesCache`, `Store::index_of`, `Store::indexes_current`. Does not own: the
//! generations' bumps (`Store::apply` interns new series, `Store::resync_catalog` bumps the
//! global generation when maintenance changed files).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use super::catalog::BucketKey;
use super::read::{SeriesIndex, SeriesKey};
use super::runtime::Store;
use crate::model::{BucketName, TenantId};

/// The cached series indexes. An index is current while neither `series_gen` nor its
/// measurement's generation changed since it was built. A measurement's generation changes
/// when a buffer interns a series its current index lacks (a series already indexed, which
/// each new buffer interns again after a flush, changes nothing); a flush moves series from
/// the buffers to files, which changes no index.
#[derive(Debug, Default)]
pub(super) struct SeriesCache {
    indexes: HashMap<(BucketKey, String), CachedIndex>,
    gens: HashMap<(BucketKey, String), u64>,
}

/// A series index and the (`series_gen`, measurement generation) it was built at.
pub(super) type CachedIndex = ((u64, u64), Arc<SeriesIndex>);

impl SeriesCache {
    fn gen_of(&self, key: &(BucketKey, String)) -> u64 {
        self.gens.get(key).copied().unwrap_or(0)
    }

    fn current(&self, key: &(BucketKey, String), global: u64) -> Option<&Arc<SeriesIndex>> {
        self.indexes
            .get(key)
            .filter(|(at, _)| *at == (global, self.gen_of(key)))
            .map(|(_, index)| index)
    }

    /// A buffer of `key` interned `series`: stales `key`'s index unless it holds it.
    pub(super) fn interned(
        &mut self,
        key: (BucketKey, String),
        series: &[(String, String)],
        global: u64,
    ) {
        let known = self.current(&key, global).is_some_and(|index| {
            index
                .series()
                .binary_search_by(|s| s.as_slice().cmp(series))
                .is_ok()
        });
        if !known {
            *self.gens.entry(key).or_default() += 1;
        }
    }
}

impl Store {
    /// [`ReadStore::series_indexes_current`]: whether every index cached for `tenant` is
    /// current.
    pub(super) fn indexes_current(&self, tenant: &TenantId) -> bool {
        let global = self.series_gen.load(Ordering::Acquire);
        let cache = self
            .series_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        cache
            .indexes
            .keys()
            .filter(|((t, _), _)| t == tenant)
            .all(|k| cache.current(k, global).is_some())
    }

    /// [`ReadStore::series_index`]: the cached index of a measurement, rebuilt when stale.
    pub(super) fn index_of(
        &self,
        tenant: &TenantId,
        bucket: &BucketName,
        measurement: &str,
    ) -> Arc<SeriesIndex> {
        let key = (tenant.clone(), bucket.clone());
        let cache_key = (key.clone(), measurement.to_owned());
        {
            let cache = self
                .series_cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(index) = cache.current(&cache_key, self.series_gen.load(Ordering::Acquire))
            {
                return index.clone();
            }
        }
        let (built_at, all) = {
            let st = self.lock();
            let cat = self.catalog_read();
            // Read under both locks (a buffer interns under `st`, the catalog changes under its
            // write lock): whatever changes the series after this changes a generation again.
            let built_at = (
                self.series_gen.load(Ordering::Acquire),
                self.series_cache
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .gen_of(&cache_key),
            );
            let mut all: Vec<SeriesKey> = Vec::new();
            if let Some(e) = cat
                .measurement(tenant, bucket, measurement)
                .filter(|e| e.file_count() > 0)
            {
                all.extend(e.series.iter().cloned());
            }
            if let Some(p) = st.flushing.as_ref().and_then(|f| f.parts.get(&cache_key)) {
                all.extend(p.series.iter().cloned());
            }
            if let Some(buf) = st
                .active
                .get(&key)
                .and_then(|b| b.get(measurement.as_bytes()))
            {
                all.extend(buf.series().map(<[(String, String)]>::to_vec));
            }
            (built_at, all)
        };
        let index = Arc::new(SeriesIndex::new(all));
        self.series_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .indexes
            .insert(cache_key, (built_at, index.clone()));
        index
    }
}
