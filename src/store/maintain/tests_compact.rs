//! Compaction: rows preserved, last write wins across files, schema evolution, superseded files,
//! the byte budget, the closed-partition rule, and every crash point.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use tempfile::TempDir;

use super::Step;
use super::compact::{compact_partition_with, plan_runs};
use super::testutil::*;
use super::*;
use crate::store::{Day, FileName, PartitionKey, StoreError, Value};

const D: Day = Day(19_876); // 2024-06-02
fn now() -> i64 {
    // Two days after D started: D is closed (grace 1h), D + 2 is today.
    Day(D.0 + 2).start_nanos() + 5 * HOUR_NS
}

fn t(h: i64) -> i64 {
    D.start_nanos() + h * HOUR_NS
}

fn f(v: f64) -> Value {
    Value::Float(v)
}

/// Three flush files of one partition: overlapping series, a duplicate rewritten later.
fn three_files(root: &std::path::Path, k: &PartitionKey) -> Rows {
    let a = vec![
        pt(&[("host", "a")], &[("x", f(1.0)), ("y", f(10.0))], t(1)),
        pt(&[("host", "b")], &[("x", f(2.0))], t(1)),
        pt(&[("host", "a")], &[("x", f(3.0))], t(2)),
    ];
    let b = vec![
        pt(&[("host", "a")], &[("x", f(4.0))], t(1)), // overwrites x, keeps y
        pt(&[("host", "c")], &[("x", f(5.0))], t(0)),
    ];
    let c = vec![
        pt(&[("host", "b")], &[("y", f(6.0))], t(1)),
        pt(&[("host", "a")], &[("x", f(7.0))], t(23)),
    ];
    write_file(root, k, 1, 3, &a);
    write_file(root, k, 4, 6, &b);
    write_file(root, k, 7, 9, &c);
    model(&[&a, &b, &c])
}

fn opts() -> CompactOptions {
    CompactOptions {
        min_files: 3,
        min_small_files: 3,
        ..CompactOptions::default()
    }
}

#[test]
fn compaction_preserves_every_row_and_merges_last_write_wins() {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    let k = key("acme", "telegraf", "cpu", D);
    let expected = three_files(root, &k);
    assert_eq!(read_partition(root, &k), expected);
    let a1 = &expected[&(vec![("host".into(), "a".into())], t(1))];
    assert_eq!(a1["x"], "Float(4.0)");
    assert_eq!(a1["y"], "Float(10.0)");

    let out = compact_partition(root, &k, now(), &opts())
        .unwrap()
        .unwrap();
    assert_eq!(out.runs.len(), 1);
    let run = &out.runs[0];
    assert_eq!(run.output, fname(1, 9));
    assert_eq!(run.inputs, vec![fname(1, 3), fname(4, 6), fname(7, 9)]);
    assert_eq!((run.rows_in, run.rows_out), (7, 5));
    assert_eq!(all_files(root, &k), vec![fname(1, 9).to_string()]);
    assert_eq!(read_partition(root, &k), expected);

    // The output is sorted by series then time, like a flush.
    let merged = merged_partition(root, &k).unwrap().unwrap();
    let path = k.dir(root).unwrap().join(fname(1, 9).to_string());
    let on_disk = crate::store::read_parquet(&path).unwrap();
    assert_eq!(on_disk.len(), 1);
    assert_eq!(on_disk[0], merged);

    // Nothing left to do.
    assert_eq!(compact_partition(root, &k, now(), &opts()).unwrap(), None);
}

#[test]
fn schemas_are_unioned_and_a_field_keeps_its_type() {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    let k = key("acme", "telegraf", "net", D);
    let a = vec![pt(&[("host", "a")], &[("rx", Value::Integer(1))], t(1))];
    let b = vec![pt(
        &[("host", "a"), ("if", "eth0")],
        &[("rx", Value::Integer(2)), ("up", Value::Boolean(true))],
        t(2),
    )];
    // A field with a tag's key: the tag column becomes `host_1`, both keep their keys.
    let c = vec![pt(
        &[("host", "b")],
        &[
            ("host", Value::String("x".into())),
            ("n", Value::Unsigned(7)),
        ],
        t(3),
    )];
    write_file(root, &k, 1, 1, &a);
    write_file(root, &k, 2, 2, &b);
    write_file(root, &k, 3, 3, &c);
    let expected = model(&[&a, &b, &c]);
    compact_partition(root, &k, now(), &opts())
        .unwrap()
        .unwrap();
    assert_eq!(read_partition(root, &k), expected);
    let batch = merged_partition(root, &k).unwrap().unwrap();
    let cols: Vec<String> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| format!("{}:{}", f.name(), f.data_type()))
        .collect();
    assert_eq!(
        cols,
        [
            "host_1:Dictionary(Int32, Utf8)",
            "if:Dictionary(Int32, Utf8)",
            "host:Utf8",
            "n:UInt64",
            "rx:Int64",
            "up:Boolean",
            "time:Timestamp(ns)",
        ]
    );
}

#[test]
fn files_disagreeing_on_a_field_type_are_left_alone() {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    let k = key("acme", "telegraf", "cpu", D);
    write_file(root, &k, 1, 1, &[pt(&[], &[("x", f(1.0))], t(1))]);
    write_file(
        root,
        &k,
        2,
        2,
        &[pt(&[], &[("x", Value::Integer(1))], t(2))],
    );
    write_file(root, &k, 3, 3, &[pt(&[], &[("x", f(2.0))], t(3))]);
    let before = all_files(root, &k);
    let err = compact_partition(root, &k, now(), &opts()).unwrap_err();
    assert!(matches!(err, StoreError::FieldTypeConflict { .. }), "{err}");
    assert_eq!(all_files(root, &k), before);
}

#[test]
fn superseded_leftovers_are_deleted_and_tmp_files_never_touched() {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    let k = key("acme", "telegraf", "cpu", D);
    let expected = three_files(root, &k);
    // A crashed compaction: the output renamed, the inputs not yet deleted.
    let full = merged_partition(root, &k).unwrap().unwrap();
    let out_path = k.dir(root).unwrap().join(fname(1, 9).to_string());
    crate::store::write_parquet(&out_path, &full, &Default::default()).unwrap();
    // And a flush in progress (a .tmp) of a later range.
    let tmp = k.dir(root).unwrap().join(format!("{}.tmp", fname(10, 12)));
    std::fs::write(&tmp, b"partial").unwrap();
    assert_eq!(live(root, &k), vec![fname(1, 9)]);
    assert_eq!(read_partition(root, &k), expected);

    let out = compact_partition(root, &k, now(), &opts())
        .unwrap()
        .unwrap();
    assert_eq!(
        out.removed_superseded,
        vec![fname(1, 3), fname(4, 6), fname(7, 9)]
    );
    assert!(out.runs.is_empty());
    assert_eq!(
        all_files(root, &k),
        vec![fname(1, 9).to_string(), format!("{}.tmp", fname(10, 12))]
    );
    assert_eq!(read_partition(root, &k), expected);
}

#[test]
fn open_partitions_are_never_compacted() {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    let k = key("acme", "telegraf", "cpu", D);
    let expected = three_files(root, &k);
    let o = opts();
    // During the day, and within the grace after it.
    for now in [t(12), t(24), t(24) + HOUR_NS - 1] {
        assert_eq!(compact_partition(root, &k, now, &o).unwrap(), None);
        assert!(partitions_to_compact(root, now, &o).unwrap().is_empty());
    }
    assert_eq!(live(root, &k).len(), 3);
    let closed = t(24) + HOUR_NS;
    assert_eq!(
        partitions_to_compact(root, closed, &o).unwrap(),
        vec![k.clone()]
    );
    compact_partition(root, &k, closed, &o).unwrap().unwrap();
    assert_eq!(read_partition(root, &k), expected);
}

#[test]
fn planner_picks_closed_partitions_with_enough_or_small_files() {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    let p = |n: f64| vec![pt(&[("h", "a")], &[("x", f(n))], t(1))];
    let many = key("acme", "telegraf", "cpu", D);
    for i in 0..4 {
        write_file(root, &many, i * 10 + 1, i * 10 + 5, &p(i as f64));
    }
    let one = key("acme", "telegraf", "mem", D);
    write_file(root, &one, 1, 1, &p(1.0));
    let two_small = key("acme", "telegraf", "disk", D);
    write_file(root, &two_small, 1, 1, &p(1.0));
    write_file(root, &two_small, 2, 2, &p(2.0));
    let today = key("acme", "telegraf", "cpu", Day(D.0 + 2));
    for i in 0..4 {
        write_file(root, &today, i + 1, i + 1, &p(1.0));
    }
    let o = CompactOptions::default();
    let plan = partitions_to_compact(root, now(), &o).unwrap();
    assert_eq!(plan, vec![many.clone(), two_small.clone()]);
    // Nothing small and fewer than min_files: left alone.
    let big_only = CompactOptions {
        small_file_bytes: 0,
        ..o.clone()
    };
    assert_eq!(
        partitions_to_compact(root, now(), &big_only).unwrap(),
        vec![many]
    );
}

#[test]
fn a_partition_over_the_budget_is_split_into_runs() {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    let k = key("acme", "telegraf", "cpu", D);
    let mut all = Vec::new();
    for i in 0..6u64 {
        let pts: Vec<Point> = (0..50)
            .map(|j| {
                pt(
                    &[("h", "a")],
                    &[("x", f((i * 100 + j) as f64))],
                    t(0) + j as i64,
                )
            })
            .collect();
        write_file(root, &k, i * 10 + 1, i * 10 + 9, &pts);
        all.push(pts);
    }
    let refs: Vec<&[Point]> = all.iter().map(Vec::as_slice).collect();
    let expected = model(&refs);
    let size = super::compact::footer_stats(&k.dir(root).unwrap().join(fname(1, 9).to_string()))
        .unwrap()
        .1;
    let o = CompactOptions {
        max_input_bytes: size * 2 + size / 2, // two files fit, three do not
        min_files: 2,
        ..CompactOptions::default()
    };
    let out = compact_partition(root, &k, now(), &o).unwrap().unwrap();
    let outputs: Vec<FileName> = out.runs.iter().map(|r| r.output).collect();
    assert_eq!(outputs, vec![fname(1, 19), fname(21, 39), fname(41, 59)]);
    assert_eq!(read_partition(root, &k), expected);
    assert_eq!(live(root, &k), outputs);
}

#[test]
fn runs_never_hide_a_file_that_is_not_an_input() {
    // Overlapping ranges (neither inside the other): merging 1-5 with 8-9 would give 1-9,
    // which would supersede 4-7 without holding its rows.
    let live = [(fname(1, 5), 1), (fname(4, 7), 1), (fname(8, 9), 1)];
    let names: Vec<FileName> = live.iter().map(|(n, _)| *n).collect();
    let (runs, over) = plan_runs(&live, &names, 100);
    assert_eq!(runs, vec![names.clone()]);
    assert!(over.is_empty());
    // Budget for two: 1-5 + 4-7 → 1-7 is fine; 8-9 alone is no run.
    let (runs, _) = plan_runs(&live, &names, 2);
    assert_eq!(runs, vec![vec![fname(1, 5), fname(4, 7)]]);
    // A big file alone is over the budget, the others still merge around it.
    let live = [
        (fname(1, 1), 1),
        (fname(2, 2), 50),
        (fname(3, 3), 1),
        (fname(4, 4), 1),
    ];
    let names: Vec<FileName> = live.iter().map(|(n, _)| *n).collect();
    let (runs, over) = plan_runs(&live, &names, 10);
    assert_eq!(runs, vec![vec![fname(3, 3), fname(4, 4)]]);
    assert_eq!(over, vec![fname(2, 2)]);
}

/// Stops a compaction at `stop` (a simulated crash), checks what readers see, then lets a
/// second compaction finish.
fn crash_at(stop: Step) {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    let k = key("acme", "telegraf", "cpu", D);
    let expected = three_files(root, &k);
    let err = compact_partition_with(root, &k, now(), &opts(), &mut |s| {
        if s == stop {
            Err(StoreError::EmptyName) // any error: the operation stops here
        } else {
            Ok(())
        }
    });
    assert!(err.is_err(), "{stop:?} was not reached");
    assert_eq!(
        read_partition(root, &k),
        expected,
        "after a crash at {stop:?}"
    );
    let live_now = live(root, &k);
    match stop {
        Step::BeforeWrite => assert_eq!(live_now.len(), 3),
        _ => assert_eq!(live_now, vec![fname(1, 9)]),
    }
    // Recovery: the next pass finishes the job.
    let _ = compact_partition(root, &k, now(), &opts()).unwrap();
    assert_eq!(
        all_files(root, &k),
        vec![fname(1, 9).to_string()],
        "{stop:?}"
    );
    assert_eq!(read_partition(root, &k), expected);
}

#[test]
fn a_crash_at_any_step_leaves_the_same_rows_visible() {
    for stop in [
        Step::BeforeWrite,
        Step::AfterRename(fname(1, 9)),
        Step::AfterDelete(0),
        Step::AfterDelete(1),
        Step::AfterDelete(2),
    ] {
        crash_at(stop);
    }
}

#[test]
fn a_torn_tmp_output_from_a_crash_is_ignored_then_overwritten() {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    let k = key("acme", "telegraf", "cpu", D);
    let expected = three_files(root, &k);
    let tmp = k.dir(root).unwrap().join(format!("{}.tmp", fname(1, 9)));
    std::fs::write(&tmp, b"PAR1 torn").unwrap();
    assert_eq!(read_partition(root, &k), expected);
    compact_partition(root, &k, now(), &opts())
        .unwrap()
        .unwrap();
    assert_eq!(all_files(root, &k), vec![fname(1, 9).to_string()]);
    assert_eq!(read_partition(root, &k), expected);
}

#[test]
fn grace_is_a_duration_after_the_end_of_the_day() {
    use super::compact::is_closed;
    let g = Duration::from_secs(600);
    let end = Day(D.0 + 1).start_nanos();
    assert!(!is_closed(D, end, g));
    assert!(!is_closed(D, end + 600_000_000_000 - 1, g));
    assert!(is_closed(D, end + 600_000_000_000, g));
}

#[test]
fn the_startup_sweep_removes_only_what_readers_ignore() {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    let k = key("acme", "telegraf", "cpu", D);
    let expected = three_files(root, &k);
    // A compaction that stopped after its rename, a torn flush, an interrupted retention pass.
    let _ = compact_partition_with(root, &k, now(), &opts(), &mut |s| {
        if s == Step::AfterRename(fname(1, 9)) {
            Err(StoreError::EmptyName)
        } else {
            Ok(())
        }
    });
    let pdir = k.dir(root).unwrap();
    std::fs::write(pdir.join(format!("{}.tmp", fname(10, 10))), b"torn").unwrap();
    let drop = pdir.parent().unwrap().join(".drop-2024-05-01");
    std::fs::create_dir(&drop).unwrap();
    std::fs::write(drop.join(fname(1, 1).to_string()), b"x").unwrap();
    assert_eq!(all_files(root, &k).len(), 5);

    let out = startup_sweep(root).unwrap();
    assert_eq!(out.tmp_files.len(), 1);
    assert_eq!(out.superseded_files.len(), 3);
    assert_eq!(out.drop_dirs, vec![drop.clone()]);
    assert!(!drop.exists());
    assert_eq!(all_files(root, &k), vec![fname(1, 9).to_string()]);
    assert_eq!(read_partition(root, &k), expected);
}
