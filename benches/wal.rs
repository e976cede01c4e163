//! WAL append throughput: lines/s with 1, 4 and 16 concurrent writers, 1000- and
//! 5000-line batches of ~433-byte Telegraf SNMP lines, compression none vs lz4,
//! into a temp dir with `sync = always` (every append waits for its fdatasync).

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::{Rng, SeedableRng, rngs::StdRng};
use sluice::model::{BucketName, Entry, Precision, RecordKind, TenantId, WalSeq};
use sluice::wal::{Compression, SyncMode, Wal, WalConfig};

/// A Telegraf `interface` line as the SNMP input writes it (5 tags, 12 fields).
fn snmp_lines(n: usize, rng: &mut StdRng) -> Bytes {
    let mut out = String::with_capacity(n * 440);
    let ts = 1_764_000_000_000_000_000u64;
    for i in 0..n {
        let dev = i / 48;
        let port = i % 48;
        out.push_str(&format!(
            "interface,agent_host=10.20.{}.{},hostname=sw-{:04}.pop{}.example.net,ifDescr=GigabitEthernet1/0/{},ifName=Gi1/0/{} \
ifHCInOctets={}i,ifHCOutOctets={}i,ifHCInUcastPkts={}i,ifHCOutUcastPkts={}i,ifHCInMulticastPkts={}i,\
ifHCOutMulticastPkts={}i,ifInErrors={}i,ifOutErrors={}i,ifInDiscards={}i,ifOutDiscards={}i,ifOperStatus=1i,ifHighSpeed=1000i {}\n",
            dev / 250,
            dev % 250,
            dev,
            dev % 7,
            port,
            port,
            rng.random_range(1u64 << 40..1u64 << 44),
            rng.random_range(1u64 << 40..1u64 << 44),
            rng.random_range(1u64 << 30..1u64 << 34),
            rng.random_range(1u64 << 30..1u64 << 34),
            rng.random_range(0u64..1 << 24),
            rng.random_range(0u64..1 << 24),
            rng.random_range(0u64..1000),
            rng.random_range(0u64..1000),
            rng.random_range(0u64..10000),
            rng.random_range(0u64..10000),
            ts + i as u64,
        ));
    }
    Bytes::from(out)
}

fn entry(lines: Bytes) -> Entry {
    Entry {
        tenant: TenantId::new("acme").unwrap(),
        bucket: BucketName::new("telegraf").unwrap(),
        precision: Precision::Nanoseconds,
        kind: RecordKind::Write,
        lines,
    }
}

fn config(dir: &std::path::Path, compression: Compression, preallocate: bool) -> WalConfig {
    WalConfig {
        dir: dir.to_owned(),
        max_disk: 8 << 30,
        segment_bytes: 64 << 20,
        sync: SyncMode::Always,
        compression,
        preallocate,
    }
}

fn bench_append(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let mut group = c.benchmark_group("wal_append");
    for batch in [1000usize, 5000] {
        let batches: Vec<Bytes> = (0..16).map(|_| snmp_lines(batch, &mut rng)).collect();
        let avg = batches[0].len() as f64 / batch as f64;
        let modes = [
            ("none", Compression::None, false),
            ("none_prealloc", Compression::None, true),
            ("lz4", Compression::Lz4, false),
            ("lz4_prealloc", Compression::Lz4, true),
        ];
        for (cname, compression, preallocate) in modes {
            // Bytes on disk for one batch, raw vs lz4.
            let dir = tempfile::tempdir_in("/tmp").unwrap();
            let (wal, _) = Wal::open(config(dir.path(), compression, preallocate)).unwrap();
            rt.block_on(wal.append(entry(batches[0].clone()))).unwrap();
            eprintln!(
                "wal bytes for one {batch}-line batch ({avg:.0} B/line, {} B raw lines), {cname}: {} B",
                batches[0].len(),
                wal.stats().disk_bytes
            );
            drop(wal);
            for writers in [1usize, 4, 16] {
                let dir = tempfile::tempdir_in("/tmp").unwrap();
                let (wal, _) = Wal::open(config(dir.path(), compression, preallocate)).unwrap();
                wal.register_consumer("bench").unwrap();
                group.throughput(Throughput::Elements((writers * batch) as u64));
                let id = BenchmarkId::new(
                    format!("{batch}_lines_{cname}"),
                    format!("{writers}_writers"),
                );
                group.bench_function(id, |b| {
                    b.iter_custom(|iters| {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            let start = Instant::now();
                            let last = rt.block_on(async {
                                let tasks: Vec<_> = (0..writers)
                                    .map(|w| {
                                        let wal = wal.clone();
                                        let lines = batches[w].clone();
                                        tokio::spawn(async move {
                                            wal.append(entry(lines)).await.unwrap()
                                        })
                                    })
                                    .collect();
                                let mut last = WalSeq(0);
                                for t in tasks {
                                    last = last.max(t.await.unwrap());
                                }
                                last
                            });
                            total += start.elapsed();
                            // Let old segments go, outside the timed part.
                            rt.block_on(wal.commit_cursor("bench", last)).unwrap();
                        }
                        total
                    })
                });
                eprintln!(
                    "  fsyncs so far for {writers} writers: {:?}",
                    wal.stats().fsyncs
                );
                rt.block_on(wal.close()).unwrap();
            }
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench_append
}
criterion_main!(benches);
