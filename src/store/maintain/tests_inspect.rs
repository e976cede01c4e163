//! The `store inspect` report: counts, time ranges, schema union, flagged files.
#![allow(clippy::unwrap_used)]

use tempfile::TempDir;

use super::testutil::*;
use super::*;
use crate::store::{Day, Value};

const D: Day = Day(19_876); // 2024-06-02

#[test]
fn reports_partitions_files_rows_times_schema_and_flags() {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    let k = key("acme", "tele/graf", "cpu", D);
    let t0 = D.start_nanos();
    write_file(
        root,
        &k,
        1,
        3,
        &[
            pt(&[("host", "a")], &[("x", Value::Float(1.0))], t0 + 5),
            pt(&[("host", "b")], &[("x", Value::Float(2.0))], t0 + 9),
        ],
    );
    write_file(
        root,
        &k,
        4,
        4,
        &[pt(
            &[("host", "a"), ("cpu", "0")],
            &[("n", Value::Integer(1))],
            t0 + 1,
        )],
    );
    // Superseded by 1-4 (left by a crashed compaction), a tmp and a stray.
    write_file(
        root,
        &k,
        1,
        4,
        &[
            pt(&[("host", "a")], &[("x", Value::Float(1.0))], t0 + 5),
            pt(&[("host", "b")], &[("x", Value::Float(2.0))], t0 + 9),
            pt(
                &[("host", "a"), ("cpu", "0")],
                &[("n", Value::Integer(1))],
                t0 + 1,
            ),
        ],
    );
    let pdir = k.dir(root).unwrap();
    std::fs::write(
        pdir.join("00000000000000000005-00000000000000000005.parquet.tmp"),
        b"x",
    )
    .unwrap();
    std::fs::write(pdir.join("README"), b"x").unwrap();
    // A second day and a second measurement.
    let k2 = key("acme", "tele/graf", "cpu", Day(D.0 + 1));
    write_file(
        root,
        &k2,
        9,
        9,
        &[pt(
            &[("host", "a")],
            &[("x", Value::Float(3.0))],
            Day(D.0 + 1).start_nanos(),
        )],
    );
    let k3 = key("acme", "tele/graf", "mem", D);
    write_file(
        root,
        &k3,
        2,
        2,
        &[pt(&[], &[("s", Value::String("up".into()))], t0)],
    );
    std::fs::create_dir_all(root.join("not%zz")).unwrap();

    let r = inspect(root).unwrap();
    assert_eq!(r.partitions.len(), 3);
    let p = &r.partitions[0];
    assert_eq!(
        (p.bucket.as_str(), p.measurement.as_str(), p.day.as_str()),
        ("tele/graf", "cpu", "2024-06-02")
    );
    let states: Vec<(&str, &str)> = p.files.iter().map(|f| (&f.name[..], f.state)).collect();
    assert_eq!(
        states,
        vec![
            (
                "00000000000000000001-00000000000000000003.parquet",
                "superseded"
            ),
            ("00000000000000000001-00000000000000000004.parquet", "live"),
            (
                "00000000000000000004-00000000000000000004.parquet",
                "superseded"
            ),
        ]
    );
    assert_eq!(p.rows, 3);
    assert_eq!((p.min_time, p.max_time), (Some(t0 + 1), Some(t0 + 9)));
    assert_eq!(p.files[0].rows, Some(2));
    assert_eq!((p.files[1].first_seq, p.files[1].last_seq), (1, 4));
    assert_eq!(
        p.tmp,
        vec!["00000000000000000005-00000000000000000005.parquet.tmp"]
    );
    assert_eq!(p.strays, vec!["README"]);
    assert_eq!(r.live_files, 3);
    assert_eq!(r.live_rows, 5);
    assert!(r.total_bytes > r.live_bytes);
    assert_eq!(r.strays, vec![root.join("not%zz").display().to_string()]);

    let cpu = &r.measurements[0];
    assert_eq!(cpu.partitions, 2);
    assert_eq!(cpu.tags, vec!["cpu", "host"]);
    assert_eq!(
        cpu.fields,
        vec![
            ("n".to_owned(), "integer".to_owned()),
            ("x".to_owned(), "float".to_owned())
        ]
    );
    assert_eq!(
        r.measurements[1].fields,
        vec![("s".to_owned(), "string".to_owned())]
    );

    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["partitions"][0]["files"][1]["state"], "live");
    assert_eq!(json["measurements"][0]["fields"][0][1], "integer");
    let text = r.to_string();
    assert!(text.contains("acme/tele/graf/cpu  partitions 2"), "{text}");
    assert!(text.contains("fields n integer, x float"), "{text}");
    assert!(
        text.contains("2024-06-02T00:00:00.000000001Z .. 2024-06-02T00:00:00.000000009Z"),
        "{text}"
    );
    assert!(text.contains("superseded"), "{text}");
}

#[test]
fn an_unreadable_file_is_flagged_not_fatal() {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    let k = key("acme", "telegraf", "cpu", D);
    let pdir = k.dir(root).unwrap();
    std::fs::create_dir_all(&pdir).unwrap();
    std::fs::write(pdir.join(fname(1, 1).to_string()), b"not parquet").unwrap();
    let r = inspect(root).unwrap();
    let f = &r.partitions[0].files[0];
    assert_eq!(f.state, "unreadable");
    assert!(f.error.is_some());
    assert_eq!(r.live_files, 0);
}

#[test]
fn a_missing_root_is_an_empty_store() {
    let dir = TempDir::new().unwrap();
    let r = inspect(&dir.path().join("nothing")).unwrap();
    assert!(r.partitions.is_empty() && r.measurements.is_empty());
}
