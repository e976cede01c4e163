//! `Limits` as the write path and a reload use it.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::clock::ManualClock;
use crate::config::TenantUpstream;
use crate::model::{Entry, Precision, RecordKind};

const S: i64 = 1_000_000_000;
const T0: i64 = 1_700_000_000 * S;

fn tenant(id: &str, limits: TenantLimits) -> TenantConfig {
    TenantConfig {
        id: TenantId::new(id).unwrap(),
        token_sha256: Vec::new(),
        buckets: Vec::new(),
        upstream: TenantUpstream::default(),
        limits,
        retention: None,
    }
}

fn lines_limit(per_sec: u64, burst: u64) -> TenantLimits {
    TenantLimits {
        lines_per_sec: Some(per_sec),
        burst_lines: Some(burst),
        ..TenantLimits::default()
    }
}

fn limits(tenants: &[TenantConfig], replicas: u64) -> (Limits, Arc<ManualClock>) {
    let clock = ManualClock::new(T0);
    let l = Limits::new(replicas, Overload::new(10, 1 << 20), tenants, clock.clone());
    (l, clock)
}

fn k(lines: u64, bytes: u64) -> RequestKey {
    RequestKey {
        lines,
        bytes,
        checksum: (lines ^ bytes) as u32,
    }
}

fn id(s: &str) -> TenantId {
    TenantId::new(s).unwrap()
}

#[test]
fn refusal_names_the_limit_and_retry_after_is_exact() {
    let (l, clock) = limits(&[tenant("acme", lines_limit(10_000, 20_000))], 1);
    let acme = id("acme");
    l.take_write(&acme, k(20_000, 0)).unwrap();
    let e = l.take_write(&acme, k(25_000, 0)).unwrap_err();
    assert_eq!(e.error_code(), ErrorCode::RequestTooLarge);
    assert!(e.to_string().contains("burst limit of 20000 lines"), "{e}");
    let e = l.take_write(&acme, k(25_000 - 5_000, 0)).unwrap_err();
    assert_eq!(e.retry_after(), Some(2));
    assert_eq!(
        e.to_string(),
        "tenant \"acme\" is over its limit of 10000 lines/s; retry in 2s"
    );
    assert_eq!(e.error_code(), ErrorCode::TooManyRequests);
    clock.set(T0 + 2 * S);
    l.take_write(&acme, k(20_000, 0)).unwrap();
    // Unknown or unlimited tenants pass.
    l.take_write(&id("other"), k(u64::MAX, u64::MAX)).unwrap();
}

#[test]
fn replicas_divide_the_rate_in_the_message_too() {
    let (l, _) = limits(&[tenant("acme", lines_limit(1_000, 1_000))], 4);
    l.take_write(&id("acme"), k(1_000, 0)).unwrap();
    let e = l.take_write(&id("acme"), k(500, 0)).unwrap_err();
    assert_eq!(e.retry_after(), Some(2));
    assert!(
        e.to_string()
            .contains("(250 lines/s on each of 4 replicas)"),
        "{e}"
    );
}

#[test]
fn check_bytes_is_a_peek() {
    let bytes = TenantLimits {
        bytes_per_sec: Some(1_000),
        burst_bytes: Some(1_000),
        ..TenantLimits::default()
    };
    let (l, _) = limits(&[tenant("acme", bytes)], 1);
    for _ in 0..10 {
        l.check_bytes(&id("acme"), 1_000).unwrap();
    }
    assert!(matches!(
        l.check_bytes(&id("acme"), 1_001),
        Err(LimitError::TooLarge {
            unit: Unit::Bytes,
            ..
        })
    ));
    l.take_write(&id("acme"), k(5, 600)).unwrap();
    assert_eq!(
        l.check_bytes(&id("acme"), 600).unwrap_err().retry_after(),
        Some(1)
    );
}

#[test]
fn reconcile_keeps_unchanged_tenants_state() {
    let a = tenant("a", lines_limit(10, 10));
    let b = tenant("b", lines_limit(10, 10));
    let (l, _) = limits(&[a.clone(), b], 1);
    l.take_write(&id("a"), k(10, 0)).unwrap();
    l.take_write(&id("b"), k(10, 0)).unwrap();
    // b's limit changes, a's does not, c is new.
    l.reconcile(&[
        a,
        tenant("b", lines_limit(20, 20)),
        tenant("c", lines_limit(1, 1)),
    ]);
    assert!(
        l.take_write(&id("a"), k(1, 0)).is_err(),
        "a keeps its empty bucket"
    );
    l.take_write(&id("b"), k(20, 0)).unwrap();
    l.take_write(&id("c"), k(1, 0)).unwrap();
    l.reconcile(&[]);
    l.take_write(&id("a"), k(1_000, 0)).unwrap();
}

#[test]
fn series_limit_refuses_new_series_only() {
    let limit = TenantLimits {
        max_series: Some(2),
        series_window: Duration::from_secs(60),
        ..TenantLimits::default()
    };
    let (l, clock) = limits(&[tenant("acme", limit)], 1);
    let bucket = BucketName::new("telegraf").unwrap();
    let body = b"cpu,host=a v=1 1\ncpu,host=b v=1 1\ncpu,host=c v=1 1\ncpu,host=a v=2 2\n";
    let hashes = line_series(body);
    let (v, err) = l.admit_series(&id("acme"), &bucket, &hashes);
    assert_eq!(v.refused, vec![false, false, true, false]);
    let err = err.unwrap();
    assert_eq!(err.error_code(), ErrorCode::Invalid);
    assert!(
        err.to_string()
            .contains("at its limit of 2 series in bucket \"telegraf\""),
        "{err}"
    );
    assert_eq!(
        drop_lines(body, &v.refused),
        Bytes::from_static(b"cpu,host=a v=1 1\ncpu,host=b v=1 1\ncpu,host=a v=2 2\n")
    );
    // Tag order does not make a new series.
    let (v, err) = l.admit_series(&id("acme"), &bucket, &line_series(b"cpu,host=b v=3 3\n"));
    assert!(err.is_none() && v.refused.is_empty());
    // Another bucket has its own count.
    let other = BucketName::new("other").unwrap();
    assert!(
        l.admit_series(&id("acme"), &other, &hashes[..2])
            .1
            .is_none()
    );
    assert_eq!(l.live_series(&id("acme")), 4);
    // After the window, host=c fits.
    clock.set(T0 + 61 * S);
    let (v, err) = l.admit_series(&id("acme"), &bucket, &line_series(b"cpu,host=c v=1 1\n"));
    assert!(err.is_none(), "{v:?}");
}

#[test]
fn series_survive_snapshot_and_wal_replay() {
    let limit = TenantLimits {
        max_series: Some(3),
        ..TenantLimits::default()
    };
    let t = [tenant("acme", limit)];
    let dir = tempfile::tempdir().unwrap();
    let bucket = BucketName::new("telegraf").unwrap();
    let (l, _) = limits(&t, 1);
    l.admit_series(
        &id("acme"),
        &bucket,
        &line_series(b"m,h=1 v=1\nm,h=2 v=1\n"),
    );
    l.write_snapshot(dir.path(), WalSeq(7)).unwrap();

    // A fresh process: the snapshot plus a WAL record after it.
    let (l2, _) = limits(&t, 1);
    assert_eq!(l2.load_snapshot(dir.path()).unwrap(), WalSeq(7));
    l2.replay(&Record {
        seq: WalSeq(8),
        entry: Entry {
            tenant: id("acme"),
            bucket: bucket.clone(),
            precision: Precision::Nanoseconds,
            kind: RecordKind::Write,
            lines: Bytes::from_static(b"m,h=3 v=1 5\n"),
        },
    });
    let (v, err) = l2.admit_series(
        &id("acme"),
        &bucket,
        &line_series(b"m,h=3 v=1\nm,h=1 v=1\nm,h=2 v=1\nm,h=4 v=1\n"),
    );
    assert_eq!(v.refused, vec![false, false, false, true]);
    assert_eq!(err.unwrap().to_string().matches("1 lines").count(), 1);
    // No snapshot at all: nothing to load, replay from the start.
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(l2.load_snapshot(empty.path()).unwrap(), WalSeq(0));
}

#[test]
fn queries_and_overload_map_to_codes() {
    let q = TenantLimits {
        max_queries: Some(1),
        ..TenantLimits::default()
    };
    let (l, _) = limits(&[tenant("acme", q)], 1);
    let p = l.start_query(&id("acme")).unwrap();
    let e = l.start_query(&id("acme")).unwrap_err();
    assert_eq!(
        (e.error_code(), e.retry_after()),
        (ErrorCode::TooManyRequests, Some(1))
    );
    drop(p);
    assert!(l.start_query(&id("acme")).is_ok());
    let guards: Vec<_> = (0..10).map(|_| l.enter(0).unwrap()).collect();
    let e = l.enter(0).unwrap_err();
    assert_eq!(e.error_code(), ErrorCode::Unavailable);
    assert!(e.to_string().contains("10 write requests in flight"), "{e}");
    drop(guards);
    assert!(l.enter(1 << 20).is_ok());
}
