//! The store root's lock (`dirlock`): one open store per root, freed when the store is
//! dropped; and the lock file is not a stray to `sluice store inspect`.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::model::WalSeq;

#[test]
fn a_store_root_opens_once_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let (store, _) = Store::open(StoreOptions::new(&root), WalSeq(0)).unwrap();
    match Store::open(StoreOptions::new(&root), WalSeq(0)) {
        Err(StoreError::Locked { holder, .. }) => assert!(
            holder.starts_with(&format!("held by pid {} on ", std::process::id())),
            "the holder is named: {holder}"
        ),
        other => panic!("a second open of an open store: {:?}", other.map(|_| ())),
    }
    let report = maintain::inspect::inspect(&root).unwrap();
    assert!(report.strays.is_empty(), "{:?}", report.strays);
    drop(store);
    let (_again, _) = Store::open(StoreOptions::new(&root), WalSeq(0)).unwrap();
}

/// A `[store] dir` that is the WAL's directory still opens: the two locks are different files.
#[test]
fn a_store_opens_in_the_wal_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = crate::wal::WalConfig::new(dir.path().to_owned(), 1 << 30);
    cfg.preallocate = false;
    let (_wal, _) = crate::wal::Wal::open(cfg).unwrap();
    let (_store, _) = Store::open(StoreOptions::new(dir.path()), WalSeq(0)).unwrap();
}
