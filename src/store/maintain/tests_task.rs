//! A maintenance pass of the runtime (`store::maintenance`) over files made here: scans answer
//! the same for unexpired data, expired partitions leave the catalog and the disk, compaction
//! outputs replace their inputs, and a restart sees the same.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use tempfile::TempDir;

use super::testutil::*;
use super::*;
use crate::model::WalSeq;
use crate::store::maintenance::{MaintenanceOptions, run_pass};
use crate::store::{Day, ReadStore, ScanRequest, Store, StoreOptions, Value};

const TODAY: Day = Day(19_880);

fn scan(store: &Store, min: i64, max: i64) -> arrow::array::RecordBatch {
    let k = key("acme", "telegraf", "cpu", TODAY);
    store
        .scan(&ScanRequest {
            tenant: &k.tenant,
            bucket: &k.bucket,
            measurement: "cpu",
            min_time: min,
            max_time: max,
            tag_equals: &[],
            series_filter: None,
            fields: None,
            max_bytes: 1 << 30,
        })
        .unwrap()
}

#[test]
fn a_pass_keeps_answers_for_the_rest_and_the_catalog_in_step() {
    let dir = TempDir::new().unwrap();
    let root = dir.path().join("store");
    let mut seq = 0;
    for d in [TODAY.0 - 5, TODAY.0 - 1, TODAY.0] {
        let k = key("acme", "telegraf", "cpu", Day(d));
        for i in 0..3 {
            let t = k.day.start_nanos() + i * HOUR_NS;
            let pts = vec![
                pt(&[("host", "a")], &[("x", Value::Float(i as f64))], t),
                // Rewrites the previous file's point: last write wins must survive the merge.
                pt(
                    &[("host", "a")],
                    &[("y", Value::Integer(i))],
                    k.day.start_nanos(),
                ),
            ];
            write_file(&root, &k, seq + 1, seq + 2, &pts);
            seq += 2;
        }
    }
    let (store, _) = Store::open(StoreOptions::new(&root), WalSeq(seq)).unwrap();
    let kept_from = Day(TODAY.0 - 1).start_nanos();
    let all_before = scan(&store, 0, i64::MAX);
    let kept_before = scan(&store, kept_from, i64::MAX);
    assert_eq!(all_before.num_rows(), 3 * 3);
    assert_eq!(kept_before.num_rows(), 2 * 3);

    let opts = MaintenanceOptions {
        every: Duration::from_secs(60),
        retention: RetentionPolicy::uniform(Some(Duration::from_secs(2 * 86_400))),
        compact: CompactOptions {
            min_files: 3,
            ..CompactOptions::default()
        },
    };
    let now = TODAY.start_nanos() + 2 * HOUR_NS;
    let r = run_pass(&store, &opts, now).unwrap();
    assert_eq!(
        (r.partitions_dropped, r.partitions_compacted),
        (1, 1),
        "{r:?}"
    );
    assert_eq!((r.files_merged, r.failures), (3, 0));

    assert_eq!(scan(&store, kept_from, i64::MAX), kept_before);
    assert_eq!(scan(&store, 0, i64::MAX), kept_before);
    assert_eq!(store.stats().files, 1 + 3);
    let yesterday = key("acme", "telegraf", "cpu", Day(TODAY.0 - 1));
    assert_eq!(live(&root, &yesterday), vec![fname(7, 12)]);
    assert!(
        !key("acme", "telegraf", "cpu", Day(TODAY.0 - 5))
            .dir(&root)
            .unwrap()
            .exists()
    );
    // A restart sees the same.
    drop(store);
    let (store, _) = Store::open(StoreOptions::new(&root), WalSeq(seq)).unwrap();
    assert_eq!(scan(&store, 0, i64::MAX), kept_before);
}
