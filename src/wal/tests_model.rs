//! Model-based property test: random appends (sizes, compression, concurrency), crashes
//! at random byte offsets with torn/garbage tails, clean restarts. Invariant: every
//! append that returned Ok is read back identically after every restart, in order, with
//! contiguous seqs; any extra record is one that was attempted; nothing corrupt is
//! returned; a torn tail is cut once; appends continue after a restart.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;

use super::testfs::MemFs;
use super::tests::{cfg, entry};
use super::*;
use crate::model::{Entry, WalSeq};

#[derive(Debug, Clone)]
enum Op {
    /// Concurrent appends of these line sizes (one group commit, or a few).
    Append(Vec<usize>),
    /// Crash after this many more bytes, leaving this garbage after the torn write.
    Crash { after: u64, garbage: Vec<u8> },
    /// Close cleanly and reopen, with or without compression and preallocation.
    Restart { lz4: bool, prealloc: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop::collection::vec(0usize..1500, 1..5).prop_map(Op::Append),
        2 => (0u64..4000, prop::collection::vec(any::<u8>(), 0..48))
            .prop_map(|(after, garbage)| Op::Crash { after, garbage }),
        1 => (any::<bool>(), any::<bool>()).prop_map(|(lz4, prealloc)| Op::Restart { lz4, prealloc }),
    ]
}

struct Model {
    /// seq → entry of every append that returned Ok (or survived a restart).
    durable: BTreeMap<u64, Entry>,
    /// Entries whose append failed or never answered: they may or may not survive.
    attempted: Vec<Entry>,
    next_id: u64,
}

#[derive(Debug, Clone, Copy)]
struct Mode {
    lz4: bool,
    prealloc: bool,
}

fn config(mode: Mode) -> WalConfig {
    let mut c = cfg(2000);
    c.preallocate = mode.prealloc;
    c.compression = if mode.lz4 {
        Compression::Lz4
    } else {
        Compression::None
    };
    c
}

fn reopen(fs: &MemFs, mode: Mode, model: &mut Model) -> Wal {
    let (wal, report) = Wal::open_with_fs(config(mode), Arc::new(fs.clone())).unwrap();
    let mut reader = wal.reader(WalSeq(0));
    let mut got = BTreeMap::new();
    while let Some(rec) = reader.try_next().unwrap() {
        assert_eq!(rec.seq.0, got.len() as u64 + 1, "contiguous seqs");
        got.insert(rec.seq.0, rec.entry);
    }
    assert_eq!(report.records, got.len() as u64);
    for (seq, e) in &model.durable {
        assert_eq!(
            got.get(seq),
            Some(e),
            "acknowledged record {seq} lost or changed"
        );
    }
    for (seq, e) in &got {
        if !model.durable.contains_key(seq) {
            assert!(
                model.attempted.contains(e),
                "record {seq} was never appended"
            );
        }
    }
    model.durable = got;
    model.attempted.clear();
    wal
}

async fn append_group(wal: &Wal, sizes: &[usize], model: &mut Model) {
    let entries: Vec<Entry> = sizes
        .iter()
        .map(|s| {
            model.next_id += 1;
            entry(model.next_id, *s)
        })
        .collect();
    let results =
        futures_util::future::join_all(entries.iter().map(|e| wal.append(e.clone()))).await;
    for (e, r) in entries.into_iter().zip(results) {
        match r {
            Ok(seq) => {
                assert!(
                    model.durable.insert(seq.0, e).is_none(),
                    "seq {} given twice",
                    seq.0
                );
            }
            Err(_) => model.attempted.push(e),
        }
    }
}

fn run(ops: Vec<Op>, prealloc: bool) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut fs = MemFs::new();
        let mut model = Model {
            durable: BTreeMap::new(),
            attempted: Vec::new(),
            next_id: 0,
        };
        let mut mode = Mode {
            lz4: false,
            prealloc,
        };
        let mut wal = reopen(&fs, mode, &mut model);
        for op in ops {
            match op {
                Op::Append(sizes) => append_group(&wal, &sizes, &mut model).await,
                Op::Crash { after, garbage } => {
                    fs.crash_after(after, garbage);
                    // Keep appending until the crash hits (or give up: it may be far away).
                    for _ in 0..8 {
                        if fs.has_crashed() {
                            break;
                        }
                        append_group(&wal, &[700, 300], &mut model).await;
                    }
                    drop(wal);
                    fs = fs.restart();
                    wal = reopen(&fs, mode, &mut model);
                    // The torn tail was cut: a second open finds nothing to cut.
                    wal.close().await.unwrap();
                    let (_, again) =
                        Wal::open_with_fs(config(mode), Arc::new(fs.restart())).unwrap();
                    assert_eq!(again.truncated, None);
                    wal = reopen(&fs, mode, &mut model);
                }
                Op::Restart { lz4, prealloc } => {
                    wal.close().await.unwrap();
                    mode = Mode { lz4, prealloc };
                    fs = fs.restart();
                    wal = reopen(&fs, mode, &mut model);
                }
            }
        }
        // Appends continue after everything.
        let last = model.durable.keys().next_back().copied().unwrap_or(0);
        let seq = wal.append(entry(u64::MAX, 10)).await.unwrap();
        assert_eq!(seq, WalSeq(last + 1));
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn acknowledged_appends_survive_crashes(
        ops in prop::collection::vec(op(), 1..24),
        prealloc in any::<bool>(),
    ) {
        run(ops, prealloc);
    }
}
