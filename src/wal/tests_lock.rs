//! The WAL directory's lock (`io::WalFs::lock_dir`, `Wal::close`) on a real directory.
#![allow(clippy::unwrap_used)]

use super::tests::{cfg, entry};
use super::*;
use crate::model::WalSeq;

/// A WAL directory opens in one handle at a time: a second open waits for the lock, then
/// fails naming the holder; after `close` the directory opens again, with the records.
#[tokio::test]
async fn a_wal_directory_opens_once_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(1 << 20);
    c.dir = dir.path().join("wal");
    let (wal, _) = Wal::open(c.clone()).unwrap();
    wal.append(entry(1, 100)).await.unwrap();
    wal.register_consumer("c").unwrap();
    let again = c.clone();
    let second = tokio::task::spawn_blocking(move || Wal::open(again))
        .await
        .unwrap();
    match second {
        Err(WalError::Locked { holder, .. }) => assert!(
            holder.starts_with(&format!("held by pid {} on ", std::process::id())),
            "the holder is named: {holder}"
        ),
        other => panic!("a second open of an open WAL: {other:?}"),
    }
    wal.close().await.unwrap();
    // Closed, the old handle no longer touches cursor files or segments: they are the
    // next opener's.
    assert!(matches!(
        wal.commit_cursor("c", WalSeq(1)).await,
        Err(WalError::Closed)
    ));
    let (wal, report) = Wal::open(c).unwrap();
    assert_eq!(report.last_seq, WalSeq(1));
    assert_eq!(wal.register_consumer("c").unwrap(), WalSeq(0));
    wal.close().await.unwrap();
}
