//! Series cardinality per (tenant, bucket): which series were seen within the window.
//!
//! Each set maps a series hash ([`super::series_key`]) to its last-seen time in whole seconds
//! since the epoch (`u32`, good until 2106). A series whose last-seen is older than the window
//! no longer counts and is swept (at most once a second per set, when the set is at its limit,
//! and by the periodic snapshot). Existing series always pass; a new series is admitted while
//! the set holds fewer than `max_series`, otherwise its lines are refused.
//!
//! Admission happens before the WAL append. When the append then fails the admitted series stay
//! counted (they expire with the window): over-counting can refuse a *new* series early, it
//! never refuses an existing one. Persistence is in [`super::snapshot`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::model::{BucketName, TenantId};

/// One tracked set.
#[derive(Debug, Default, Clone)]
pub struct SeriesSet {
    pub(super) seen: HashMap<u64, u32>,
    last_sweep: u32,
}

/// What `admit` decided for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesVerdict {
    /// One flag per input hash: `true` = refused.
    pub refused: Vec<bool>,
    pub refused_count: usize,
    /// Series counted after this request.
    pub live: usize,
}

impl SeriesSet {
    /// Drops series not seen since `now - window`.
    pub fn sweep(&mut self, now: u32, window_secs: u32) {
        let cutoff = now.saturating_sub(window_secs);
        self.seen.retain(|_, seen| *seen >= cutoff);
        self.last_sweep = now;
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Admits `hashes` (one per line, in order) against `max`.
    pub fn admit(
        &mut self,
        hashes: &[u64],
        max: Option<u64>,
        now: u32,
        window_secs: u32,
    ) -> SeriesVerdict {
        let max = max.map_or(usize::MAX, |m| usize::try_from(m).unwrap_or(usize::MAX));
        let mut refused = Vec::new();
        let mut refused_count = 0;
        for (i, &h) in hashes.iter().enumerate() {
            if let Some(seen) = self.seen.get_mut(&h) {
                *seen = (*seen).max(now);
                continue;
            }
            if self.seen.len() >= max && self.last_sweep != now {
                self.sweep(now, window_secs);
            }
            if self.seen.len() < max {
                self.seen.insert(h, now);
            } else {
                if refused.is_empty() {
                    refused = vec![false; hashes.len()];
                }
                refused[i] = true;
                refused_count += 1;
            }
        }
        SeriesVerdict {
            refused,
            refused_count,
            live: self.seen.len(),
        }
    }

    /// Records series seen in the WAL (never refused: they were admitted before).
    pub fn restore(&mut self, h: u64, seen: u32) {
        let e = self.seen.entry(h).or_insert(seen);
        *e = (*e).max(seen);
    }
}

type Key = (TenantId, BucketName);

/// Every tracked set.
#[derive(Debug, Default)]
pub struct SeriesTracker {
    sets: Mutex<HashMap<Key, Arc<Mutex<SeriesSet>>>>,
}

impl SeriesTracker {
    pub fn set(&self, tenant: &TenantId, bucket: &BucketName) -> Arc<Mutex<SeriesSet>> {
        let mut sets = self.sets.lock().unwrap_or_else(PoisonError::into_inner);
        sets.entry((tenant.clone(), bucket.clone()))
            .or_default()
            .clone()
    }

    /// Series counted for `tenant` over all its buckets.
    pub fn live(&self, tenant: &TenantId) -> usize {
        let sets = self.sets.lock().unwrap_or_else(PoisonError::into_inner);
        sets.iter()
            .filter(|((t, _), _)| t == tenant)
            .map(|(_, s)| s.lock().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }

    /// Series counted per tenant, over all its buckets (for `/metrics`).
    pub fn live_per_tenant(&self) -> std::collections::BTreeMap<TenantId, usize> {
        let sets = self.sets.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = std::collections::BTreeMap::new();
        for ((t, _), s) in sets.iter() {
            *out.entry(t.clone()).or_insert(0) +=
                s.lock().unwrap_or_else(PoisonError::into_inner).len();
        }
        out
    }

    /// A copy of every set (for a snapshot), swept with each tenant's window.
    pub fn copy_all(
        &self,
        now: u32,
        window_of: impl Fn(&TenantId) -> u32,
    ) -> Vec<(Key, SeriesSet)> {
        let sets: Vec<(Key, Arc<Mutex<SeriesSet>>)> = {
            let sets = self.sets.lock().unwrap_or_else(PoisonError::into_inner);
            sets.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
        };
        sets.into_iter()
            .map(|(k, set)| {
                let mut s = set.lock().unwrap_or_else(PoisonError::into_inner);
                s.sweep(now, window_of(&k.0));
                (k, s.clone())
            })
            .collect()
    }

    /// Replaces every set (start-up, from a snapshot).
    pub fn load(&self, all: Vec<(Key, SeriesSet)>) {
        let mut sets = self.sets.lock().unwrap_or_else(PoisonError::into_inner);
        sets.clear();
        for (k, s) in all {
            sets.insert(k, Arc::new(Mutex::new(s)));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn existing_pass_new_beyond_limit_refused() {
        let mut s = SeriesSet::default();
        let v = s.admit(&[1, 2, 3], Some(2), 100, 60);
        assert_eq!(v.refused, vec![false, false, true]);
        assert_eq!(v.refused_count, 1);
        let v = s.admit(&[2, 1, 1, 4], Some(2), 101, 60);
        assert_eq!(v.refused, vec![false, false, false, true]);
        assert_eq!(v.live, 2);
        let v = s.admit(&[1, 2], Some(2), 102, 60);
        assert!(v.refused.is_empty() && v.refused_count == 0);
    }

    #[test]
    fn window_expiry_frees_room() {
        let mut s = SeriesSet::default();
        s.admit(&[1, 2], Some(2), 1_000, 60);
        s.admit(&[2], Some(2), 1_050, 60);
        // At 1 061 series 1 (last seen 1 000) has expired, series 2 (1 050) has not.
        let v = s.admit(&[3, 4], Some(2), 1_061, 60);
        assert_eq!(v.refused, vec![false, true]);
        assert!(s.seen.contains_key(&2) && s.seen.contains_key(&3));
        assert!(!s.seen.contains_key(&1));
    }

    #[test]
    fn unlimited_sets_still_count() {
        let mut s = SeriesSet::default();
        let v = s.admit(&[1, 2, 3, 3], None, 5, 60);
        assert_eq!((v.refused_count, v.live), (0, 3));
    }

    /// Memory per tracked series, measured from the map's allocation: printed with
    /// `cargo test --lib limits::series -- --nocapture`, and bounded here.
    #[test]
    fn memory_per_series() {
        let n = 300_000u64;
        let mut s = SeriesSet::default();
        let hashes: Vec<u64> = (0..n)
            .map(|i| super::super::series_key::series_hash(&i.to_le_bytes()))
            .collect();
        s.admit(&hashes, None, 1, 60);
        assert_eq!(s.len(), n as usize);
        // hashbrown: buckets = next_power_of_two(n * 8 / 7); each bucket holds a (u64, u32)
        // (16 bytes with padding) plus one control byte.
        let buckets = (s.seen.capacity() * 8).div_ceil(7).next_power_of_two();
        let bytes = buckets * (std::mem::size_of::<(u64, u32)>() + 1);
        let per = bytes as f64 / n as f64;
        eprintln!("series set: {n} series, {buckets} buckets, {per:.1} bytes/series");
        // Between 17 × 8/7 ≈ 19.4 (table just full) and twice that (just grown).
        assert!((19.0..=40.0).contains(&per), "{per} bytes/series");
    }
}
