//! Behaviour tests of the WAL through its public API, on the fault-injecting `MemFs`
//! and on the real file system.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::io::WalFs;
use super::testfs::MemFs;
use super::*;
use crate::error::{ErrorCode, HasErrorCode};
use crate::model::{BucketName, Entry, Precision, RecordKind, TenantId, WalSeq};

pub fn entry(i: u64, size: usize) -> Entry {
    let mut lines = format!("cpu,host=h{i} v={i} {i}\n");
    while lines.len() < size {
        lines.push_str(&format!("mem,host=h{i} used={} {i}\n", lines.len()));
    }
    Entry {
        tenant: TenantId::new("acme").unwrap(),
        bucket: BucketName::new("telegraf").unwrap(),
        precision: Precision::Nanoseconds,
        kind: RecordKind::Write,
        lines: Bytes::from(lines),
    }
}

pub fn cfg(segment_bytes: u64) -> WalConfig {
    WalConfig {
        dir: PathBuf::from("/wal"),
        max_disk: u64::MAX,
        segment_bytes,
        sync: SyncMode::Always,
        compression: Compression::None,
        preallocate: false,
    }
}

fn open(fs: &MemFs, c: WalConfig) -> (Wal, ReplayReport) {
    Wal::open_with_fs(c, Arc::new(fs.clone())).unwrap()
}

fn read_all(wal: &Wal) -> Vec<crate::model::Record> {
    let mut r = wal.reader(WalSeq(0));
    let mut out = Vec::new();
    while let Some(rec) = r.try_next().unwrap() {
        out.push(rec);
    }
    out
}

fn seg(first: u64) -> PathBuf {
    PathBuf::from("/wal").join(segment::segment_name(first))
}

#[tokio::test]
async fn appends_survive_reopen_and_seqs_continue() {
    let fs = MemFs::new();
    let (wal, report) = open(&fs, cfg(4096));
    assert_eq!(report.records, 0);
    for i in 1..=20 {
        assert_eq!(wal.append(entry(i, 300)).await.unwrap(), WalSeq(i));
    }
    assert!(wal.stats().segments > 1, "small segments rotate");
    wal.close().await.unwrap();
    assert!(matches!(
        wal.append(entry(0, 10)).await,
        Err(WalError::Closed)
    ));

    let (wal, report) = open(&fs.restart(), cfg(4096));
    assert_eq!(
        (report.records, report.last_seq, report.truncated),
        (20, WalSeq(20), None)
    );
    let recs = read_all(&wal);
    assert_eq!(recs.len(), 20);
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r.seq, WalSeq(i as u64 + 1));
        assert_eq!(r.entry, entry(i as u64 + 1, 300));
    }
    assert_eq!(wal.append(entry(21, 10)).await.unwrap(), WalSeq(21));
}

#[tokio::test]
async fn lz4_records_are_smaller_and_read_back() {
    let fs = MemFs::new();
    let mut c = cfg(1 << 20);
    c.compression = Compression::Lz4;
    let (wal, _) = open(&fs, c);
    wal.append(entry(1, 20_000)).await.unwrap();
    assert!(
        wal.stats().disk_bytes < 10_000,
        "{} bytes",
        wal.stats().disk_bytes
    );
    assert_eq!(read_all(&wal)[0].entry, entry(1, 20_000));
}

#[tokio::test]
async fn torn_tail_is_truncated_and_appends_continue() {
    let fs = MemFs::new();
    let (wal, _) = open(&fs, cfg(1 << 20));
    for i in 1..=3 {
        wal.append(entry(i, 100)).await.unwrap();
    }
    let size = wal.stats().disk_bytes;
    wal.close().await.unwrap();
    fs.edit(&seg(1), |b| {
        b.truncate(b.len() - 5);
        b.extend_from_slice(&[0xEE; 40]);
    });
    let (wal, report) = open(&fs, cfg(1 << 20));
    let cut = report.truncated.expect("tail cut");
    assert_eq!(report.records, 2);
    assert_eq!(cut.bytes_cut, size - cut.offset - 5 + 40);
    assert_eq!(wal.append(entry(9, 10)).await.unwrap(), WalSeq(3));
    wal.close().await.unwrap();
    let (wal, report) = open(&fs, cfg(1 << 20));
    assert_eq!((report.records, report.truncated), (3, None));
    assert_eq!(read_all(&wal)[2].entry, entry(9, 10));
}

#[tokio::test]
async fn corruption_before_the_tail_is_an_error() {
    let fs = MemFs::new();
    let (wal, _) = open(&fs, cfg(1 << 20));
    for i in 1..=3 {
        wal.append(entry(i, 100)).await.unwrap();
    }
    wal.close().await.unwrap();
    fs.edit(&seg(1), |b| b[30] ^= 0x01); // inside record 1's body
    let before = fs.read_all(&seg(1)).unwrap().len();
    match Wal::open_with_fs(cfg(1 << 20), Arc::new(fs.clone())) {
        Err(WalError::Corrupt { segment, offset }) => {
            assert_eq!((segment.as_str(), offset), ("00000000000000000001.seg", 0));
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert_eq!(fs.read_all(&seg(1)).unwrap().len(), before, "nothing cut");
}

#[tokio::test]
async fn a_corrupt_segment_before_a_valid_one_is_an_error() {
    let fs = MemFs::new();
    let (wal, _) = open(&fs, cfg(300));
    for i in 1..=4 {
        wal.append(entry(i, 200)).await.unwrap();
    }
    wal.close().await.unwrap();
    fs.edit(&seg(2), |b| b.truncate(b.len() - 1)); // tear a record that has a successor
    assert!(matches!(
        Wal::open_with_fs(cfg(300), Arc::new(fs.clone())),
        Err(WalError::Corrupt { offset: 0, .. })
    ));
}

#[tokio::test]
async fn a_seq_gap_between_segments_is_corruption() {
    let fs = MemFs::new();
    let (wal, _) = open(&fs, cfg(300));
    for i in 1..=4 {
        wal.append(entry(i, 200)).await.unwrap();
    }
    wal.close().await.unwrap();
    fs.rename(&seg(3), &PathBuf::from("/wal/x")).unwrap();
    assert!(matches!(
        Wal::open_with_fs(cfg(300), Arc::new(fs.clone())),
        Err(WalError::Corrupt { offset: 0, ref segment }) if segment == "00000000000000000004.seg"
    ));
}

#[tokio::test]
async fn segments_are_deleted_only_when_every_consumer_passed_them() {
    let fs = MemFs::new();
    let (wal, _) = open(&fs, cfg(300)); // one 200-byte record per segment
    assert_eq!(wal.register_consumer("forward").unwrap(), WalSeq(0));
    for i in 1..=5 {
        wal.append(entry(i, 200)).await.unwrap();
    }
    assert_eq!(wal.stats().segments, 5);
    wal.commit_cursor("forward", WalSeq(3)).await.unwrap();
    assert_eq!(
        wal.stats().first_seq,
        Some(WalSeq(4)),
        "forward alone passed 1..3"
    );
    assert_eq!(
        wal.register_consumer("store").unwrap(),
        WalSeq(3),
        "a late consumer starts at the oldest record"
    );
    wal.commit_cursor("forward", WalSeq(5)).await.unwrap();
    assert_eq!(wal.stats().segments, 2, "store still needs seq 4");
    wal.commit_cursor("store", WalSeq(4)).await.unwrap();
    assert_eq!(wal.stats().segments, 1);
    wal.commit_cursor("store", WalSeq(5)).await.unwrap();
    assert_eq!(
        wal.stats().segments,
        1,
        "the newest segment is never deleted"
    );
    assert!(matches!(
        wal.commit_cursor("store", WalSeq(9)).await,
        Err(WalError::CursorAhead { .. })
    ));
    assert!(matches!(
        wal.commit_cursor("store", WalSeq(2)).await,
        Err(WalError::CursorBehind { .. })
    ));
    assert!(matches!(
        wal.commit_cursor("nobody", WalSeq(1)).await,
        Err(WalError::UnknownConsumer { .. })
    ));
    wal.close().await.unwrap();

    let (wal, report) = open(&fs, cfg(300));
    assert_eq!(report.records, 1);
    let cursors = wal.stats().cursors;
    assert_eq!(
        cursors,
        vec![
            ("forward".to_owned(), WalSeq(5)),
            ("store".to_owned(), WalSeq(5))
        ]
    );
    assert_eq!(wal.append(entry(6, 10)).await.unwrap(), WalSeq(6));
}

#[tokio::test]
async fn removing_a_stuck_consumer_frees_its_segments() {
    let fs = MemFs::new();
    let (wal, _) = open(&fs, cfg(300));
    wal.register_consumer("forward").unwrap();
    wal.register_consumer("gone").unwrap();
    for i in 1..=4 {
        wal.append(entry(i, 200)).await.unwrap();
    }
    wal.commit_cursor("forward", WalSeq(4)).await.unwrap();
    assert_eq!(wal.stats().segments, 4, "gone still pins everything");
    wal.remove_consumer("gone").await.unwrap();
    assert_eq!(wal.stats().segments, 1);
    assert!(!fs.file_names().contains(&"gone.cursor".to_owned()));
    assert!(matches!(
        wal.remove_consumer("gone").await,
        Err(WalError::UnknownConsumer { .. })
    ));
}

#[tokio::test]
async fn without_consumers_nothing_is_deleted() {
    let fs = MemFs::new();
    let (wal, _) = open(&fs, cfg(300));
    for i in 1..=4 {
        wal.append(entry(i, 200)).await.unwrap();
    }
    assert_eq!(wal.stats().segments, 4);
    assert_eq!(fs.file_names().len(), 4);
}

#[tokio::test]
async fn quota_refuses_then_accepts_after_consumers_drain() {
    let rec = format::encode(&entry(1, 200), false).unwrap().encoded_len() as u64;
    let fs = MemFs::new();
    let mut c = cfg(300); // one record per segment
    c.max_disk = 4 * rec + rec / 2;
    let (wal, _) = open(&fs, c);
    wal.register_consumer("forward").unwrap();
    let mut accepted = 0;
    let err = loop {
        match wal.append(entry(accepted + 1, 200)).await {
            Ok(_) => accepted += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(accepted, 4);
    match &err {
        WalError::Full {
            used,
            limit,
            retry_after_secs,
        } => {
            assert_eq!(
                (*used, *limit, *retry_after_secs),
                (4 * rec, 4 * rec + rec / 2, 10),
                "nothing drained yet"
            );
        }
        other => panic!("expected Full, got {other:?}"),
    }
    assert_eq!(err.error_code(), ErrorCode::Unavailable);
    wal.commit_cursor("forward", WalSeq(2)).await.unwrap();
    assert_eq!(wal.stats().disk_bytes, 2 * rec);
    assert_eq!(wal.append(entry(5, 200)).await.unwrap(), WalSeq(5));
    assert_eq!(wal.append(entry(6, 200)).await.unwrap(), WalSeq(6));
    let err = wal.append(entry(7, 200)).await.unwrap_err();
    let WalError::Full {
        retry_after_secs, ..
    } = err
    else {
        panic!("expected Full")
    };
    assert!((1..=60).contains(&retry_after_secs));
    let seqs: Vec<u64> = {
        let mut r = wal.reader(WalSeq(2));
        std::iter::from_fn(|| r.try_next().unwrap())
            .map(|r| r.seq.0)
            .collect()
    };
    assert_eq!(seqs, vec![3, 4, 5, 6], "nothing accepted was dropped");
}

#[tokio::test]
async fn reader_follows_appends_across_segments_and_deletions() {
    let fs = MemFs::new();
    let (wal, _) = open(&fs, cfg(300));
    wal.register_consumer("c").unwrap();
    let mut reader = wal.reader(WalSeq(0));
    assert!(reader.try_next().unwrap().is_none());
    let task = tokio::spawn(async move {
        let mut got = Vec::new();
        for _ in 0..10 {
            got.push(reader.next().await.unwrap());
        }
        (got, reader)
    });
    let writer = wal.clone();
    for i in 1..=10 {
        writer.append(entry(i, 200)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
        if i == 6 {
            // Delete segments behind the reader while it reads.
            writer.commit_cursor("c", WalSeq(3)).await.unwrap();
        }
    }
    let (got, mut reader) = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    let seqs: Vec<u64> = got.iter().map(|r| r.seq.0).collect();
    assert_eq!(seqs, (1..=10).collect::<Vec<_>>());
    assert_eq!(got[9].entry, entry(10, 200));
    wal.close().await.unwrap();
    assert!(matches!(reader.next().await, Err(WalError::Closed)));
    // A reader that starts behind deleted segments is told so.
    assert!(matches!(
        wal.reader(WalSeq(0)).try_next(),
        Err(WalError::Gone { seq: 1, oldest: 4 })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_share_fsyncs() {
    let fs = MemFs::new().with_sync_delay(Duration::from_millis(5));
    let (wal, _) = open(&fs, cfg(1 << 20));
    let before = fs.fsyncs.load(std::sync::atomic::Ordering::Relaxed);
    let tasks: Vec<_> = (1..=64)
        .map(|i| {
            let wal = wal.clone();
            tokio::spawn(async move { wal.append(entry(i, 100)).await })
        })
        .collect();
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap().unwrap().0);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=64).collect::<Vec<_>>());
    let fsyncs = fs.fsyncs.load(std::sync::atomic::Ordering::Relaxed) - before;
    assert!(fsyncs < 32, "{fsyncs} fsyncs for 64 concurrent appends");
    assert_eq!(wal.stats().fsyncs, fsyncs);
    // The histograms /metrics exports: one observation per group commit.
    let obs = wal.observations();
    assert_eq!(obs.group_records.count(), fsyncs);
    assert_eq!(obs.group_records.sum(), 64.0);
    assert_eq!(obs.fsync_seconds.count(), fsyncs);
    assert!(obs.fsync_seconds.sum() >= 0.005 * fsyncs as f64);
}

#[tokio::test]
async fn enospc_fails_the_group_and_later_appends_succeed() {
    let fs = MemFs::new();
    let (wal, _) = open(&fs, cfg(1 << 20));
    wal.append(entry(1, 100)).await.unwrap();
    fs.set_space(Some(50));
    let err = wal.append(entry(2, 100)).await.unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::Unavailable, "{err}");
    fs.set_space(None);
    assert_eq!(wal.append(entry(3, 100)).await.unwrap(), WalSeq(2));
    wal.close().await.unwrap();
    let (wal, report) = open(&fs.restart(), cfg(1 << 20));
    assert_eq!(
        (report.records, report.truncated),
        (2, None),
        "the partial write was undone"
    );
    assert_eq!(read_all(&wal)[1].entry, entry(3, 100));
}

#[tokio::test]
async fn sync_none_never_fsyncs() {
    let fs = MemFs::new();
    let mut c = cfg(1 << 20);
    c.sync = SyncMode::None;
    let (wal, _) = open(&fs, c);
    for i in 1..=5 {
        wal.append(entry(i, 100)).await.unwrap();
    }
    assert_eq!(wal.stats().fsyncs, 0);
    assert_eq!(read_all(&wal).len(), 5);
}

#[tokio::test]
async fn std_fs_round_trip_and_inspect_is_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(400);
    c.dir = dir.path().join("wal");
    c.compression = Compression::Lz4;
    let (wal, _) = Wal::open(c.clone()).unwrap();
    wal.register_consumer("forward").unwrap();
    for i in 1..=5 {
        wal.append(entry(i, 300)).await.unwrap();
    }
    wal.close().await.unwrap();
    drop(wal);
    let last = c.dir.join(segment::segment_name(5));
    let mut bytes = std::fs::read(&last).unwrap();
    bytes.extend_from_slice(b"SW\x01torn");
    std::fs::write(&last, &bytes).unwrap();

    let report = inspect(&c.dir).unwrap();
    assert_eq!(report.total_records, 5);
    assert_eq!((report.first_seq, report.last_seq), (Some(1), Some(5)));
    assert_eq!(
        report.cursors,
        [("forward".to_owned(), 0)].into_iter().collect()
    );
    assert_eq!(report.torn_tail.as_ref().map(|t| t.bytes_cut), Some(7));
    assert_eq!(
        std::fs::read(&last).unwrap().len(),
        bytes.len(),
        "inspect cut nothing"
    );
    let text = report.to_string();
    assert!(
        text.contains("records 5") && text.contains("torn tail"),
        "{text}"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["segments"].as_array().unwrap().len(),
        report.segments.len()
    );

    let (wal, replay) = Wal::open(c).unwrap();
    assert_eq!(replay.truncated.map(|t| t.bytes_cut), Some(7));
    assert_eq!(read_all(&wal).len(), 5);
}

#[tokio::test]
async fn preallocated_segments_end_at_zeros_and_keep_their_size() {
    let fs = MemFs::new();
    let mut c = cfg(1000);
    c.preallocate = true;
    let (wal, _) = open(&fs, c.clone());
    for i in 1..=6 {
        wal.append(entry(i, 300)).await.unwrap();
    }
    assert_eq!(wal.stats().segments, 3, "two records per segment");
    wal.close().await.unwrap();
    let names = fs.file_names();
    assert_eq!(
        names.len(),
        3,
        "no preallocated file left behind: {names:?}"
    );
    for name in &names {
        assert_eq!(
            fs.read_all(&PathBuf::from("/wal").join(name))
                .unwrap()
                .len(),
            1000
        );
    }
    let (wal, report) = open(&fs, c.clone());
    assert_eq!(
        (report.records, report.truncated),
        (6, None),
        "zeros are end of data"
    );
    let data_end = wal.stats().disk_bytes
        - 2 * fs
            .read_all(&seg(1))
            .unwrap()
            .iter()
            .rposition(|b| *b != 0)
            .map_or(0, |p| p as u64 + 1);
    wal.close().await.unwrap();
    // A torn write inside the preallocated space of the newest segment.
    fs.edit(&seg(5), |b| {
        b[data_end as usize + 3..data_end as usize + 9].copy_from_slice(b"SW\x01xyz")
    });
    let (wal, report) = open(&fs, c.clone());
    let cut = report.truncated.expect("torn write cut");
    assert_eq!(
        (cut.offset, cut.bytes_cut, report.records),
        (data_end, 9, 6)
    );
    assert_eq!(wal.append(entry(7, 300)).await.unwrap(), WalSeq(7));
    wal.close().await.unwrap();
    assert_eq!(
        fs.read_all(&seg(5)).unwrap().len(),
        1000,
        "re-preallocated after the cut"
    );
    assert_eq!(
        fs.read_all(&seg(7)).unwrap().len(),
        1000,
        "rotated into a preallocated file"
    );
    let (wal, report) = open(&fs, c);
    assert_eq!((report.records, report.truncated), (7, None));
    assert_eq!(read_all(&wal)[6].entry, entry(7, 300));
}

#[tokio::test]
async fn a_failed_fsync_poisons_the_wal_until_restart() {
    let fs = MemFs::new();
    let (wal, _) = open(&fs, cfg(1 << 20));
    wal.append(entry(1, 100)).await.unwrap();
    fs.fail_next_sync();
    assert!(matches!(
        wal.append(entry(2, 100)).await,
        Err(WalError::Io { .. })
    ));
    assert!(matches!(
        wal.append(entry(3, 100)).await,
        Err(WalError::Poisoned)
    ));
    assert_eq!(
        read_all(&wal).len(),
        1,
        "readers still get what was durable"
    );
    drop(wal);
    let (wal, report) = open(&fs.restart(), cfg(1 << 20));
    assert_eq!(report.records, 1, "the unsynced record was cut back");
    assert_eq!(wal.append(entry(4, 100)).await.unwrap(), WalSeq(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_never_see_a_record_before_its_fsync() {
    let fs = MemFs::new().with_sync_delay(Duration::from_millis(300));
    let (wal, _) = open(&fs, cfg(1 << 20));
    let mut reader = wal.reader(WalSeq(0));
    let writer = wal.clone();
    let pending = tokio::spawn(async move { writer.append(entry(1, 100)).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !fs.read_all(&seg(1)).unwrap().is_empty(),
        "written, fsync still running"
    );
    assert!(reader.try_next().unwrap().is_none(), "not durable yet");
    assert!(!pending.is_finished(), "append waits for the fsync");
    assert_eq!(pending.await.unwrap().unwrap(), WalSeq(1));
    assert_eq!(reader.try_next().unwrap().map(|r| r.seq), Some(WalSeq(1)));
}
