//! Retention: exactly the expired days go, overrides apply, the rest reads the same, and a crash
//! at any step leaves the partition whole or invisible.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use tempfile::TempDir;

use super::Step;
use super::retention::enforce_retention_with;
use super::testutil::*;
use super::*;
use crate::model::{BucketName, TenantId};
use crate::store::{Day, PartitionKey, StoreError, Value};

const TODAY: Day = Day(19_880);
const TWO_DAYS: Duration = Duration::from_secs(2 * 86_400);

/// Writes one small file into each of the six days TODAY-5..=TODAY; returns the keys.
fn six_days(root: &Path, tenant: &str, bucket: &str, m: &str) -> Vec<PartitionKey> {
    (0..6)
        .map(|i| {
            let k = key(tenant, bucket, m, Day(TODAY.0 - 5 + i));
            let time = k.day.start_nanos() + 3 * HOUR_NS;
            write_file(
                root,
                &k,
                1,
                1,
                &[pt(&[("h", "a")], &[("x", Value::Integer(i.into()))], time)],
            );
            k
        })
        .collect()
}

fn days(root: &Path) -> Vec<(String, String, String, Day)> {
    walk(root)
        .unwrap()
        .partitions
        .into_iter()
        .map(|p| {
            (
                p.key.tenant.to_string(),
                p.key.bucket.to_string(),
                p.key.measurement,
                p.key.day,
            )
        })
        .collect()
}

#[test]
fn removes_exactly_the_days_whose_every_row_has_expired() {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    let keys = six_days(root, "acme", "telegraf", "cpu");
    let policy = RetentionPolicy::uniform(Some(TWO_DAYS));
    let kept: Vec<Rows> = keys[3..].iter().map(|k| read_partition(root, k)).collect();

    // One nanosecond before TODAY starts, the cutoff is inside TODAY-2: only TODAY-5..-4 go.
    let out = enforce_retention(root, &policy, TODAY.start_nanos() - 1).unwrap();
    let gone: Vec<Day> = out.removed.iter().map(|r| r.key.day).collect();
    assert_eq!(gone, vec![Day(TODAY.0 - 5), Day(TODAY.0 - 4)]);
    assert!(out.removed.iter().all(|r| r.files == 1 && r.bytes > 0));
    assert!(out.failed.is_empty());

    // At TODAY's start the cutoff is TODAY-2's start: TODAY-3 (ending there) goes too.
    let out = enforce_retention(root, &policy, TODAY.start_nanos()).unwrap();
    let gone: Vec<Day> = out.removed.iter().map(|r| r.key.day).collect();
    assert_eq!(gone, vec![Day(TODAY.0 - 3)]);
    let left: Vec<Day> = days(root).into_iter().map(|d| d.3).collect();
    assert_eq!(left, vec![Day(TODAY.0 - 2), Day(TODAY.0 - 1), TODAY]);
    for (k, rows) in keys[3..].iter().zip(&kept) {
        assert_eq!(&read_partition(root, k), rows);
    }
    // Idempotent.
    let out = enforce_retention(root, &policy, TODAY.start_nanos()).unwrap();
    assert!(out.removed.is_empty());
}

#[test]
fn bucket_overrides_beat_tenant_overrides_beat_the_default() {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    six_days(root, "acme", "telegraf", "cpu");
    six_days(root, "acme", "keep", "cpu");
    six_days(root, "globex", "telegraf", "cpu");
    six_days(root, "initech", "telegraf", "cpu");
    let mut policy = RetentionPolicy::uniform(Some(TWO_DAYS));
    let acme = TenantId::new("acme").unwrap();
    policy
        .tenants
        .insert(acme.clone(), Some(Duration::from_secs(86_400)));
    policy
        .buckets
        .insert((acme, BucketName::new("keep").unwrap()), None);
    policy
        .tenants
        .insert(TenantId::new("globex").unwrap(), None);
    enforce_retention(root, &policy, TODAY.start_nanos() + HOUR_NS).unwrap();
    let count = |t: &str, b: &str| days(root).iter().filter(|d| d.0 == t && d.1 == b).count();
    assert_eq!(count("acme", "telegraf"), 2, "1 day: yesterday and today");
    assert_eq!(count("acme", "keep"), 6, "bucket override: forever");
    assert_eq!(count("globex", "telegraf"), 6, "tenant override: forever");
    assert_eq!(count("initech", "telegraf"), 3, "default: 2 days");
}

#[test]
fn a_measurement_directory_emptied_by_retention_goes_too() {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    let old = key("acme", "telegraf", "old", Day(TODAY.0 - 10));
    write_file(
        root,
        &old,
        1,
        1,
        &[pt(
            &[],
            &[("x", Value::Boolean(true))],
            old.day.start_nanos(),
        )],
    );
    six_days(root, "acme", "telegraf", "cpu");
    let mdir = old.dir(root).unwrap().parent().unwrap().to_path_buf();
    assert!(mdir.exists());
    let out = enforce_retention(
        root,
        &RetentionPolicy::uniform(Some(TWO_DAYS)),
        TODAY.start_nanos(),
    )
    .unwrap();
    assert_eq!(out.removed_dirs, vec![mdir.clone()]);
    assert!(!mdir.exists());
    assert!(
        old.dir(root)
            .unwrap()
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .exists()
    );
}

#[test]
fn forever_removes_nothing() {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    six_days(root, "acme", "telegraf", "cpu");
    let out = enforce_retention(root, &RetentionPolicy::uniform(None), i64::MAX).unwrap();
    assert!(out.removed.is_empty());
    assert_eq!(days(root).len(), 6);
}

#[test]
fn a_crash_leaves_the_partition_whole_or_invisible_and_the_next_pass_finishes() {
    for stop in [
        Step::AfterDropRename,
        Step::AfterDelete(0),
        Step::AfterDelete(1),
    ] {
        let dir = TempDir::new().unwrap();
        let root = dir.path();
        let k = key("acme", "telegraf", "cpu", Day(TODAY.0 - 5));
        let time = k.day.start_nanos();
        write_file(
            root,
            &k,
            1,
            4,
            &[pt(&[], &[("x", Value::Float(1.0))], time)],
        );
        write_file(
            root,
            &k,
            5,
            9,
            &[pt(&[], &[("x", Value::Float(2.0))], time)],
        );
        let keep = key("acme", "telegraf", "cpu", TODAY);
        write_file(
            root,
            &keep,
            1,
            9,
            &[pt(&[], &[("x", Value::Float(3.0))], TODAY.start_nanos())],
        );
        let keep_rows = read_partition(root, &keep);
        let policy = RetentionPolicy::uniform(Some(TWO_DAYS));
        let now = TODAY.start_nanos();
        let res = enforce_retention_with(root, &policy, now, &mut |s| {
            if s == stop {
                Err(StoreError::EmptyName)
            } else {
                Ok(())
            }
        })
        .unwrap();
        assert_eq!(res.failed.len(), 1, "{stop:?}");
        // The partition is gone for readers at once; the drop directory remains.
        let tree = walk(root).unwrap();
        assert_eq!(tree.partitions.len(), 1, "{stop:?}");
        assert_eq!(tree.drops.len(), 1, "{stop:?}");
        assert_eq!(read_partition(root, &keep), keep_rows);
        let out = enforce_retention(root, &policy, now).unwrap();
        assert_eq!(out.swept.len(), 1);
        let tree = walk(root).unwrap();
        assert!(tree.drops.is_empty() && tree.strays.is_empty());
        assert_eq!(tree.partitions.len(), 1);
        assert_eq!(read_partition(root, &keep), keep_rows);
    }
}

#[test]
fn tmp_and_stray_files_of_an_expired_partition_go_with_it() {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    let k = key("acme", "telegraf", "cpu", Day(TODAY.0 - 5));
    write_file(
        root,
        &k,
        1,
        1,
        &[pt(&[], &[("x", Value::Float(1.0))], k.day.start_nanos())],
    );
    let d = k.dir(root).unwrap();
    std::fs::write(
        d.join("00000000000000000002-00000000000000000002.parquet.tmp"),
        b"x",
    )
    .unwrap();
    std::fs::write(d.join("notes.txt"), b"x").unwrap();
    let out = enforce_retention(
        root,
        &RetentionPolicy::uniform(Some(TWO_DAYS)),
        TODAY.start_nanos(),
    )
    .unwrap();
    assert_eq!(out.removed.len(), 1);
    assert_eq!(out.removed[0].files, 3);
    assert!(!d.exists());
}
