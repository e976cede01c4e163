//! Soak: a writer keeps adding flush-like files (current points, late points, rewrites that
//! change fields and add new ones) on a simulated clock, while a second thread runs retention
//! and compaction in a loop. At every epoch the two pause, one last maintenance pass runs, and
//! the store is checked against a model: expired partitions are gone, every other partition
//! reads exactly as the model says, closed partitions hold one file, disk usage stays bounded.
//!
//! `soak_short` runs in the suite; `soak_long` (ignored) runs `SLUICE_SOAK_SECS` seconds
//! (default 600) and prints its numbers: `SLUICE_SOAK_SECS=600 cargo test --release --lib
//! store::maintain::tests_soak::soak_long -- --ignored --nocapture`.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tempfile::TempDir;

use super::compact::is_closed;
use super::testutil::*;
use super::*;
use crate::store::{Day, PartitionKey, Value};

const STEP_NS: i64 = 3_600 * 1_000_000_000; // simulated time per writer iteration
const GRID_NS: i64 = 300 * 1_000_000_000; // one point per series every 5 minutes
const SERIES: usize = 8;
const EPOCH: usize = 12; // writer iterations between checks (half a simulated day)
const RETENTION: Duration = Duration::from_secs(86_400);

#[derive(Debug, Default)]
struct Numbers {
    epochs: usize,
    files_written: u64,
    sim_days: f64,
    partitions_removed: usize,
    runs_merged: usize,
    /// Bytes on disk after each epoch's last maintenance pass, once retention has started.
    steady_bytes: Vec<u64>,
    max_partitions: usize,
}

fn disk_usage(root: &Path) -> u64 {
    fn walk_dir(d: &Path) -> u64 {
        let Ok(rd) = std::fs::read_dir(d) else {
            return 0;
        };
        rd.filter_map(Result::ok)
            .map(|e| match e.metadata() {
                Ok(m) if m.is_dir() => walk_dir(&e.path()),
                Ok(m) => m.len(),
                Err(_) => 0,
            })
            .sum()
    }
    walk_dir(root)
}

struct Writer {
    rng: StdRng,
    seq: u64,
    model: HashMap<PartitionKey, Rows>,
    files: u64,
}

impl Writer {
    fn points_for(&mut self, m: &str, from: i64, to: i64, late: bool) -> Vec<Point> {
        let mut pts = Vec::new();
        let mut t = from - from.rem_euclid(GRID_NS);
        while t < to {
            for s in 0..SERIES {
                if late && self.rng.random_range(0..4) != 0 {
                    continue;
                }
                let host = format!("host{s}");
                let mut fields = vec![("v".to_owned(), Value::Float(self.rng.random()))];
                if m == "net" {
                    fields.push((
                        "rx".to_owned(),
                        Value::Integer(self.rng.random_range(0..1 << 40)),
                    ));
                }
                if late {
                    // Rewrites: a new field appears, and one that is only in rewrites.
                    fields.push(("fixed".to_owned(), Value::Boolean(true)));
                }
                let mut tags = vec![("host".to_owned(), host)];
                if m == "net" && s % 2 == 0 {
                    tags.push(("if".to_owned(), format!("eth{}", s / 2)));
                }
                pts.push((tags, fields, t));
            }
            t += GRID_NS;
        }
        pts
    }

    /// Writes `pts` (all in one day) as the next file of partition (m, day) and applies them to
    /// the model.
    fn flush(&mut self, root: &Path, m: &str, pts: Vec<Point>) {
        if pts.is_empty() {
            return;
        }
        let k = key("acme", "telegraf", m, Day::from_nanos(pts[0].2));
        let first = self.seq + 1;
        self.seq += 3;
        write_file(root, &k, first, self.seq, &pts);
        self.files += 1;
        let rows = self.model.entry(k).or_default();
        for (mut tags, fields, t) in pts {
            tags.sort();
            let e = rows.entry((tags, t)).or_default();
            for (f, v) in fields {
                e.insert(f, format!("{v:?}"));
            }
        }
    }

    /// One simulated step ending at `now`: current points, sometimes late rewrites of yesterday.
    fn step(&mut self, root: &Path, now: i64) {
        let from = now - STEP_NS;
        for m in ["cpu", "net"] {
            // The step may straddle midnight: one file per day, like a flush split by day.
            let midnight = Day::from_nanos(now).start_nanos();
            for (a, b) in [(from, midnight.max(from)), (midnight.max(from), now)] {
                let pts = self.points_for(m, a, b, false);
                self.flush(root, m, pts);
            }
            if self.rng.random_range(0..5) == 0 {
                let y = Day(Day::from_nanos(now).0 - 1).start_nanos();
                let start = y + self.rng.random_range(0..24) * STEP_NS;
                let pts = self.points_for(m, start, start + STEP_NS, true);
                self.flush(root, m, pts);
            }
        }
    }
}

fn maintain_once(
    root: &Path,
    now: i64,
    policy: &RetentionPolicy,
    opts: &CompactOptions,
    n: &Mutex<Numbers>,
) {
    let r = enforce_retention(root, policy, now).unwrap();
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let mut merged = 0;
    for k in partitions_to_compact(root, now, opts).unwrap() {
        if let Some(out) = compact_partition(root, &k, now, opts).unwrap() {
            merged += out.runs.len();
        }
    }
    let mut n = n.lock().unwrap();
    n.partitions_removed += r.removed.len();
    n.runs_merged += merged;
}

fn soak(wall: Duration) -> Numbers {
    let dir = TempDir::new().unwrap();
    let root = Arc::new(dir.path().to_path_buf());
    let start = Day(19_876).start_nanos();
    let clock = Arc::new(AtomicI64::new(start));
    let stop = Arc::new(AtomicBool::new(false));
    // Held by the maintenance thread during a pass, and by the checker during a check.
    let pass = Arc::new(Mutex::new(()));
    let numbers = Arc::new(Mutex::new(Numbers::default()));
    let policy = RetentionPolicy::uniform(Some(RETENTION));
    let opts = CompactOptions {
        grace: Duration::from_secs(3600),
        ..CompactOptions::default()
    };

    let bg = {
        let (root, clock, stop, pass, numbers, policy, opts) = (
            root.clone(),
            clock.clone(),
            stop.clone(),
            pass.clone(),
            numbers.clone(),
            policy.clone(),
            opts.clone(),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                {
                    let _g = pass.lock().unwrap();
                    let now = clock.load(Ordering::SeqCst);
                    maintain_once(&root, now, &policy, &opts, &numbers);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };

    let mut w = Writer {
        rng: StdRng::seed_from_u64(5),
        seq: 0,
        model: HashMap::new(),
        files: 0,
    };
    let began = Instant::now();
    let mut i = 0usize;
    while began.elapsed() < wall {
        let now = clock.load(Ordering::SeqCst) + STEP_NS;
        clock.store(now, Ordering::SeqCst);
        w.step(&root, now);
        i += 1;
        if !i.is_multiple_of(EPOCH) {
            continue;
        }
        // Check: maintenance paused, one last pass, then everything against the model.
        let _g = pass.lock().unwrap();
        maintain_once(&root, now, &policy, &opts, &numbers);
        let tree = walk(&root).unwrap();
        assert!(tree.drops.is_empty() && tree.strays.is_empty());
        let on_disk: Vec<PartitionKey> = tree.partitions.iter().map(|p| p.key.clone()).collect();
        w.model
            .retain(|k, _| !policy.expired(&k.tenant, &k.bucket, k.day, now));
        let mut expected: Vec<PartitionKey> = w.model.keys().cloned().collect();
        expected.sort();
        assert_eq!(on_disk, expected, "partitions at {now}");
        for (k, rows) in &w.model {
            assert_eq!(&read_partition(&root, k), rows, "{k:?}");
            if is_closed(k.day, now, opts.grace) {
                assert_eq!(all_files(&root, k).len(), 1, "{k:?} not compacted");
            }
        }
        let mut n = numbers.lock().unwrap();
        n.epochs += 1;
        n.max_partitions = n.max_partitions.max(on_disk.len());
        // Today and yesterday per measurement: with a 1-day retention, day X goes once
        // now >= start(X + 2), and writes reach only today and yesterday.
        assert!(on_disk.len() <= 2 * 2, "{on_disk:?}");
        if now - start > 2 * 86_400_000_000_000 {
            n.steady_bytes.push(disk_usage(&root));
        }
    }
    stop.store(true, Ordering::SeqCst);
    bg.join().unwrap();
    let mut n = Arc::try_unwrap(numbers).unwrap().into_inner().unwrap();
    n.files_written = w.files;
    n.sim_days = (clock.load(Ordering::SeqCst) - start) as f64 / 86_400e9;
    // Bounded: in the steady state, usage does not trend up. The last third's peak stays within
    // 1.5x of the first third's peak (a day's worth of uncompacted files is the only slack).
    let s = &n.steady_bytes;
    if s.len() >= 6 {
        let third = s.len() / 3;
        let early = s[..third].iter().max().unwrap();
        let late = s[s.len() - third..].iter().max().unwrap();
        assert!(*late <= early * 3 / 2, "disk usage grows: {s:?}");
    }
    n
}

#[test]
fn soak_short() {
    let n = soak(Duration::from_secs(4));
    assert!(n.epochs >= 1, "{n:?}");
    assert!(n.runs_merged > 0, "{n:?}");
}

#[test]
#[ignore = "long: set SLUICE_SOAK_SECS (default 600)"]
fn soak_long() {
    let secs = std::env::var("SLUICE_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let n = soak(Duration::from_secs(secs));
    let s = &n.steady_bytes;
    eprintln!(
        "soak {secs}s: {} epochs, {:.1} simulated days, {} files written, {} partitions removed, \
         {} compaction runs, max {} partitions; steady-state bytes min {} max {} last {}",
        n.epochs,
        n.sim_days,
        n.files_written,
        n.partitions_removed,
        n.runs_merged,
        n.max_partitions,
        s.iter().min().unwrap_or(&0),
        s.iter().max().unwrap_or(&0),
        s.last().unwrap_or(&0),
    );
    assert!(n.partitions_removed > 0 && s.len() >= 6, "{n:?}");
}
