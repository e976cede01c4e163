//! `sluice store inspect DIR [--json]` over a store written through the library.

use std::process::Command;

use sluice::model::{BucketName, TenantId, WalSeq};
use sluice::store::{Day, FileName, MeasurementBuffer, PartitionKey, Value, write_parquet};

use crate::support::sluice::sluice_bin;

fn write(root: &std::path::Path, m: &str, day: Day, first: u64, last: u64, n: usize) {
    let key = PartitionKey {
        tenant: TenantId::new("acme").expect("tenant"),
        bucket: BucketName::new("telegraf").expect("bucket"),
        measurement: m.to_owned(),
        day,
    };
    let mut buf = MeasurementBuffer::new(m);
    for i in 0..n {
        buf.push_point(
            vec![("host".into(), format!("h{}", i % 3))],
            vec![("v".into(), Value::Float(i as f64))],
            day.start_nanos() + i as i64 * 1_000_000_000,
        )
        .expect("push");
    }
    let name = FileName {
        first: WalSeq(first),
        last: WalSeq(last),
    };
    let path = key.dir(root).expect("dir").join(name.to_string());
    write_parquet(
        &path,
        &buf.to_record_batch().expect("batch"),
        &Default::default(),
    )
    .expect("write");
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(sluice_bin())
        .args(args)
        .output()
        .expect("run sluice");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn store_inspect_prints_a_table_and_json() {
    let dir = tempfile::TempDir::new().expect("tempdir");
    let root = dir.path();
    let day = Day::parse("2024-06-02").expect("day");
    write(root, "cpu", day, 1, 2, 10);
    write(root, "cpu", day, 3, 3, 5);
    write(root, "cpu", day, 1, 3, 10); // supersedes both
    write(root, "mem", day, 4, 4, 1);
    let dirs = root.to_str().expect("utf-8 path");

    let (ok, out, err) = run(&["store", "inspect", dirs, "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["partitions"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["live_files"], 2);
    assert_eq!(v["live_rows"], 11);
    let states: Vec<&str> = v["partitions"][0]["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["state"].as_str().expect("state"))
        .collect();
    assert_eq!(states, ["superseded", "live", "superseded"]);
    assert_eq!(v["measurements"][0]["tags"][0], "host");
    assert_eq!(v["measurements"][0]["fields"][0][1], "float");

    let (ok, out, err) = run(&["store", "inspect", dirs]);
    assert!(ok, "{err}");
    assert!(out.contains("acme/telegraf/cpu  partitions 1"), "{out}");
    assert!(out.contains("2024-06-02"), "{out}");

    let (ok, _, err) = run(&["store", "inspect", &format!("{dirs}/missing")]);
    assert!(!ok);
    assert!(err.contains("is not a directory"), "{err}");
}
