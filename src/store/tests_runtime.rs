//! The store at run time over a real WAL: fill, flush, scan, restart.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int32Type, Int64Type};
use bytes::Bytes;

use super::*;
use crate::model::{BucketName, Entry, Precision, RecordKind, TenantId, WalSeq};
use crate::wal::{Wal, WalConfig};

fn ids() -> (TenantId, BucketName) {
    (
        TenantId::new("acme").unwrap(),
        BucketName::new("telegraf").unwrap(),
    )
}

fn wal(dir: &Path) -> Wal {
    let mut cfg = WalConfig::new(dir.join("wal"), 1 << 30);
    cfg.preallocate = false;
    cfg.segment_bytes = 4096;
    Wal::open(cfg).unwrap().0
}

fn opts(dir: &Path) -> StoreOptions {
    let mut o = StoreOptions::new(dir.join("store"));
    // Flushes only when a test asks.
    o.flush_interval = Duration::from_secs(3600);
    o.flush_bytes = usize::MAX / 4;
    o.max_buffer_bytes = usize::MAX / 2;
    o
}

async fn append(wal: &Wal, lines: &str) -> WalSeq {
    let (tenant, bucket) = ids();
    wal.append(Entry {
        tenant,
        bucket,
        precision: Precision::Nanoseconds,
        kind: RecordKind::Write,
        lines: Bytes::copy_from_slice(lines.as_bytes()),
    })
    .await
    .unwrap()
}

async fn start(wal: &Wal, o: StoreOptions) -> (Arc<Store>, StoreTask) {
    let cursor = wal.register_consumer(STORE_CONSUMER).unwrap();
    let (store, _) = Store::open(o, cursor).unwrap();
    let store = Arc::new(store);
    let task = consumer::start(store.clone(), wal.clone(), cursor).unwrap();
    store
        .wait_applied(wal.last_durable(), Duration::from_secs(10))
        .await
        .unwrap();
    (store, task)
}

/// `append`, then waits until the store holds it.
async fn append_applied(store: &Store, wal: &Wal, lines: &str) {
    let seq = append(wal, lines).await;
    store
        .wait_applied(seq, Duration::from_secs(5))
        .await
        .unwrap();
}

async fn flush(store: &Store, wal: &Wal) {
    let target = wal.last_durable();
    store
        .wait_applied(target, Duration::from_secs(10))
        .await
        .unwrap();
    store.flush_soon();
    for _ in 0..200 {
        if store.committed() >= target {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "no flush: committed {:?}, applied {:?}",
        store.committed(),
        target
    );
}

fn scan(
    store: &Store,
    fields: Option<&[String]>,
    tag_equals: &[(String, Vec<String>)],
) -> RecordBatch {
    let (tenant, bucket) = ids();
    store
        .scan(&ScanRequest {
            tenant: &tenant,
            bucket: &bucket,
            measurement: "cpu",
            min_time: i64::MIN,
            max_time: i64::MAX,
            tag_equals,
            series_filter: None,
            fields,
            max_bytes: 1 << 30,
        })
        .unwrap()
}

/// Rows as text: `tag=..;field=..;time` per row (null as `-`), for compact assertions.
fn rows(b: &RecordBatch) -> Vec<String> {
    let schema = b.schema();
    (0..b.num_rows())
        .map(|r| {
            schema
                .fields()
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let c = b.column(i);
                    let v = if c.is_null(r) {
                        "-".to_owned()
                    } else if let Some(d) = c.as_dictionary_opt::<Int32Type>() {
                        let k = d.keys().value(r) as usize;
                        d.values().as_string::<i32>().value(k).to_owned()
                    } else if let Some(x) = c.as_primitive_opt::<Float64Type>() {
                        x.value(r).to_string()
                    } else if let Some(x) = c.as_primitive_opt::<Int64Type>() {
                        x.value(r).to_string()
                    } else if let Some(x) =
                        c.as_primitive_opt::<arrow::datatypes::TimestampNanosecondType>()
                    {
                        x.value(r).to_string()
                    } else {
                        "?".to_owned()
                    };
                    format!("{}={v}", f.name())
                })
                .collect::<Vec<_>>()
                .join(";")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffer_then_files_then_buffer_merge_last_write_wins_field_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let wal = wal(dir.path());
    let (store, task) = start(&wal, opts(dir.path())).await;
    append(&wal, "cpu,host=a v=1,w=1 10\ncpu,host=b v=2 10\n").await;
    store
        .wait_applied(wal.last_durable(), Duration::from_secs(5))
        .await
        .unwrap();
    let want1 = vec![
        "host=a;v=1;w=1;time=10".to_owned(),
        "host=b;v=2;w=-;time=10".to_owned(),
    ];
    assert_eq!(rows(&scan(&store, None, &[])), want1, "from the buffer");
    flush(&store, &wal).await;
    assert_eq!(store.stats().files, 1);
    assert_eq!(rows(&scan(&store, None, &[])), want1, "from the file");
    // A later write of the same point: v replaced, w kept.
    append(&wal, "cpu,host=a v=5 10\ncpu,host=a v=6 20\n").await;
    store
        .wait_applied(wal.last_durable(), Duration::from_secs(5))
        .await
        .unwrap();
    let want2 = vec![
        "host=a;v=5;w=1;time=10".to_owned(),
        "host=a;v=6;w=-;time=20".to_owned(),
        "host=b;v=2;w=-;time=10".to_owned(),
    ];
    assert_eq!(rows(&scan(&store, None, &[])), want2, "file + buffer");
    flush(&store, &wal).await;
    assert_eq!(store.stats().files, 2);
    assert_eq!(rows(&scan(&store, None, &[])), want2, "two files");
    // Only `w` asked: rows without it are dropped.
    let w = ["w".to_owned()];
    assert_eq!(
        rows(&scan(&store, Some(&w), &[])),
        vec!["host=a;w=1;time=10"]
    );
    let (t, b) = ids();
    assert_eq!(store.measurements(&t, &b), vec!["cpu"]);
    assert_eq!(
        store.series(&t, &b, "cpu"),
        vec![
            vec![("host".to_owned(), "a".to_owned())],
            vec![("host".to_owned(), "b".to_owned())]
        ]
    );
    task.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn series_filter_and_fields_apply_to_files_and_buffer_alike() {
    let dir = tempfile::tempdir().unwrap();
    let wal = wal(dir.path());
    let (store, task) = start(&wal, opts(dir.path())).await;
    append(
        &wal,
        "cpu,dc=x,host=a v=1,w=2 1000\ncpu,host=b v=3,w=4 1000\ncpu,dc=y,host=c v=5,w=6 1000\n",
    )
    .await;
    flush(&store, &wal).await;
    // The buffer: a point with only `v`, a rewrite of a file point's `w`.
    append_applied(
        &store,
        &wal,
        "cpu,dc=x,host=a v=7 2000\ncpu,host=b w=8 2000\ncpu,dc=y,host=c w=9 1000\n",
    )
    .await;
    let seen = std::sync::Mutex::new(Vec::new());
    let not_b = |tags: &[(String, String)]| {
        seen.lock().unwrap().push(tags.to_vec());
        !tags.iter().any(|(k, v)| k == "host" && v == "b")
    };
    let (tenant, bucket) = ids();
    let w = ["w".to_owned()];
    let req = ScanRequest {
        tenant: &tenant,
        bucket: &bucket,
        measurement: "cpu",
        min_time: i64::MIN,
        max_time: i64::MAX,
        tag_equals: &[],
        series_filter: Some(SeriesPredicate(&not_b)),
        fields: Some(&w),
        max_bytes: 1 << 20,
    };
    assert_eq!(
        rows(&store.scan(&req).unwrap()),
        vec!["dc=x;host=a;w=2;time=1000", "dc=y;host=c;w=9;time=1000"]
    );
    // The predicate saw each series' tags sorted by key, a missing tag left out.
    let seen = seen.lock().unwrap().clone();
    assert!(seen.contains(&vec![("host".to_owned(), "b".to_owned())]));
    assert!(seen.contains(&vec![
        ("dc".to_owned(), "y".to_owned()),
        ("host".to_owned(), "c".to_owned())
    ]));
    // Without the filter, every series (a missing tag first); with every field, the buffer's `v`-only point too.
    let all = ScanRequest {
        series_filter: None,
        fields: None,
        ..req
    };
    assert_eq!(
        rows(&store.scan(&all).unwrap()),
        vec![
            "dc=-;host=b;v=3;w=4;time=1000",
            "dc=-;host=b;v=-;w=8;time=2000",
            "dc=x;host=a;v=1;w=2;time=1000",
            "dc=x;host=a;v=7;w=-;time=2000",
            "dc=y;host=c;v=5;w=9;time=1000",
        ]
    );
    task.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn series_indexes_stay_current_until_a_new_series_appears() {
    let dir = tempfile::tempdir().unwrap();
    let wal = wal(dir.path());
    let (store, task) = start(&wal, opts(dir.path())).await;
    let (t, b) = ids();
    append_applied(&store, &wal, "cpu,host=a v=1 10\n").await;
    // Nothing built yet: nothing stale (a first build is the caller's one-off cost).
    assert!(store.series_indexes_current(&t));
    assert_eq!(store.series_index(&t, &b, "cpu").series().len(), 1);
    assert!(store.series_indexes_current(&t));
    // A point of a known series changes no index.
    append_applied(&store, &wal, "cpu,host=a v=2 20\n").await;
    assert!(store.series_indexes_current(&t));
    // A new series does, until the index is rebuilt.
    append_applied(&store, &wal, "cpu,host=b v=1 10\n").await;
    assert!(!store.series_indexes_current(&t));
    assert_eq!(store.series_index(&t, &b, "cpu").series().len(), 2);
    assert!(store.series_indexes_current(&t));
    // A flush moves the series from the buffer to a file: no index changes.
    flush(&store, &wal).await;
    assert!(store.series_indexes_current(&t));
    // The next buffer interns known series again: still current.
    append_applied(&store, &wal, "cpu,host=a v=3 30\ncpu,host=b v=3 30\n").await;
    assert!(store.series_indexes_current(&t));
    // Another measurement's new series leaves this one's index current.
    append_applied(&store, &wal, "mem,host=a v=1 10\n").await;
    assert!(store.series_indexes_current(&t));
    assert_eq!(store.series_index(&t, &b, "cpu").series().len(), 2);
    // A series that is new after the flush stales it.
    append_applied(&store, &wal, "cpu,host=c v=1 40\n").await;
    assert!(!store.series_indexes_current(&t));
    let index = store.series_index(&t, &b, "cpu");
    assert_eq!(index.series().len(), 3);
    assert!(store.series_indexes_current(&t));
    // Another tenant's indexes are not this tenant's concern.
    assert!(store.series_indexes_current(&TenantId::new("other").unwrap()));
    task.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_evolves_across_files_and_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let wal = wal(dir.path());
    let (store, task) = start(&wal, opts(dir.path())).await;
    append(&wal, "cpu,host=a v=1 10\n").await;
    flush(&store, &wal).await;
    append(&wal, "cpu,host=a,dc=x s=\"up\" 20\n").await;
    flush(&store, &wal).await;
    append(&wal, "cpu n=3i 30\n").await;
    store
        .wait_applied(wal.last_durable(), Duration::from_secs(5))
        .await
        .unwrap();
    let (t, b) = ids();
    let schema = store.schema(&t, &b, "cpu").unwrap();
    assert_eq!(schema.tags, vec!["dc", "host"]);
    assert_eq!(
        schema.fields,
        vec![
            ("n".to_owned(), crate::lineproto::FieldType::Integer),
            ("s".to_owned(), crate::lineproto::FieldType::String),
            ("v".to_owned(), crate::lineproto::FieldType::Float),
        ]
    );
    let got = scan(&store, Some(&["n".to_owned(), "v".to_owned()]), &[]);
    // Series order: a null tag sorts first (dc null, host null) < (dc null, host a).
    assert_eq!(
        rows(&got),
        vec!["dc=-;host=-;n=3;v=-;time=30", "dc=-;host=a;n=-;v=1;time=10"]
    );
    task.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruning_skips_row_groups_by_time_and_tag() {
    let dir = tempfile::tempdir().unwrap();
    let wal = wal(dir.path());
    let mut o = opts(dir.path());
    o.write.max_row_group_rows = 10;
    let (store, task) = start(&wal, o).await;
    let mut body = String::new();
    for host in ["a", "b", "c", "d"] {
        for t in 0..10 {
            body.push_str(&format!("cpu,host={host} v={t} {}\n", 1000 + t));
        }
    }
    append(&wal, &body).await;
    flush(&store, &wal).await;
    let (tenant, bucket) = ids();
    let tags = [("host".to_owned(), vec!["c".to_owned()])];
    let req = ScanRequest {
        tenant: &tenant,
        bucket: &bucket,
        measurement: "cpu",
        min_time: 1000,
        max_time: 1004,
        tag_equals: &tags,
        series_filter: None,
        fields: None,
        max_bytes: 1 << 20,
    };
    let (batch, stats) = store.scan_with_stats(&req).unwrap();
    // 4 row groups of one host each: only host c's is read.
    assert_eq!((stats.row_groups_read, stats.row_groups_skipped), (1, 3));
    assert_eq!(batch.num_rows(), 5);
    // Out of the time range: the file itself is skipped.
    let late = ScanRequest {
        min_time: 5000,
        max_time: 6000,
        ..req.clone()
    };
    let (batch, stats) = store.scan_with_stats(&late).unwrap();
    assert_eq!((batch.num_rows(), stats.files), (0, 0));
    // The bound on memory.
    let small = ScanRequest {
        tag_equals: &[],
        series_filter: None,
        max_bytes: 16,
        ..req
    };
    assert!(matches!(
        store.scan(&small),
        Err(StoreError::ScanTooLarge { limit: 16 })
    ));
    task.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursor_moves_only_after_the_files_are_durable_and_restart_replays_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    {
        let wal = wal(dir.path());
        let (store, task) = start(&wal, opts(dir.path())).await;
        let s1 = append(&wal, "cpu,host=a v=1 10\n").await;
        store
            .wait_applied(s1, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(store.committed(), WalSeq(0), "nothing flushed yet");
        let cursor = |wal: &Wal| {
            wal.stats()
                .cursors
                .into_iter()
                .find(|(n, _)| n == STORE_CONSUMER)
                .unwrap()
                .1
        };
        assert_eq!(cursor(&wal), WalSeq(0));
        flush(&store, &wal).await;
        assert_eq!(cursor(&wal), s1);
        let s2 = append(&wal, "cpu,host=a v=2 20\ncpu,host=b v=3 30\n").await;
        store
            .wait_applied(s2, Duration::from_secs(5))
            .await
            .unwrap();
        // Stop without flushing: record 2 lives only in the WAL.
        task.stop().await;
        assert_eq!(cursor(&wal), s1);
        wal.close().await.unwrap();
    }
    // Leftovers of a crash: a torn tmp file and a file superseded by a wider one.
    let part = dir.path().join("store/acme/telegraf/cpu/1970-01-01");
    std::fs::write(part.join("junk.parquet.tmp"), b"torn").unwrap();
    let name = |first, last| {
        files::FileName {
            first: WalSeq(first),
            last: WalSeq(last),
        }
        .to_string()
    };
    std::fs::copy(part.join(name(1, 1)), part.join(name(0, 1))).unwrap();
    let wal = wal(dir.path());
    let (store, task) = start(&wal, opts(dir.path())).await;
    assert!(!part.join("junk.parquet.tmp").exists());
    assert!(!part.join(name(1, 1)).exists(), "superseded");
    assert!(part.join(name(0, 1)).exists());
    let got = rows(&scan(&store, None, &[]));
    assert_eq!(
        got,
        vec![
            "host=a;v=1;time=10",
            "host=a;v=2;time=20",
            "host=b;v=3;time=30"
        ]
    );
    let (t, b) = ids();
    assert_eq!(
        store.field_types().snapshot(&t, &b).get(b"cpu", b"v"),
        Some(crate::lineproto::FieldType::Float),
        "rebuilt from files and replay"
    );
    task.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_drops_expired_days_and_compacts_with_the_catalog_in_step() {
    use super::maintain::{CompactOptions, RetentionPolicy};
    use super::maintenance::{MaintenanceOptions, run_pass};
    let dir = tempfile::tempdir().unwrap();
    let wal = wal(dir.path());
    let (store, task) = start(&wal, opts(dir.path())).await;
    const DAY: i64 = 86_400_000_000_000;
    // Day 0 (old) gets three flushes of the same series; day 10 one.
    for v in 1..=3 {
        append(&wal, &format!("cpu,host=a v={v} {}\n", 100 + v)).await;
        flush(&store, &wal).await;
    }
    append(&wal, &format!("cpu,host=a v=9 {}\n", 10 * DAY + 5)).await;
    flush(&store, &wal).await;
    assert_eq!(store.stats().files, 4);
    let before = rows(&scan(&store, None, &[]));
    let mut opts = MaintenanceOptions {
        every: Duration::from_secs(60),
        retention: RetentionPolicy::uniform(None),
        compact: CompactOptions {
            grace: Duration::from_secs(60),
            ..CompactOptions::default()
        },
    };
    let (t, b) = ids();
    let index = |store: &Store| store.series_index(&t, &b, "cpu").series().len();
    assert_eq!(index(&store), 1);
    // A pass with nothing to do changes no file, so it leaves the series indexes current.
    let r = run_pass(&store, &opts, DAY).unwrap();
    assert_eq!(
        (r.partitions_compacted, r.partitions_dropped),
        (0, 0),
        "{r:?}"
    );
    assert!(store.series_indexes_current(&t));
    // Day 0 is closed at day 5: its three files become one; answers do not change. The
    // files changed, so the indexes are rebuilt (with the same series).
    let r = run_pass(&store, &opts, 5 * DAY).unwrap();
    assert_eq!((r.partitions_compacted, r.files_merged), (1, 3), "{r:?}");
    assert_eq!(store.stats().files, 2);
    assert_eq!(rows(&scan(&store, None, &[])), before);
    assert!(!store.series_indexes_current(&t));
    assert_eq!(index(&store), 1);
    // A 2-day retention at day 11 drops day 0, keeps day 10.
    opts.retention = RetentionPolicy::uniform(Some(Duration::from_secs(2 * 86_400)));
    let r = run_pass(&store, &opts, 11 * DAY).unwrap();
    assert_eq!(r.partitions_dropped, 1, "{r:?}");
    assert_eq!(store.stats().files, 1);
    assert_eq!(
        rows(&scan(&store, None, &[])),
        vec![format!("host=a;v=9;time={}", 10 * DAY + 5)]
    );
    task.stop().await;
}
