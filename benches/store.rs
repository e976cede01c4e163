//! Store foundations: points/s into a `MeasurementBuffer` (parse included), the sort + merge of
//! `to_record_batch`, and writing that batch as a durable Parquet file (a flush), on
//! Telegraf-shaped SNMP interface lines (4 tags, 12 integer fields; 480 series × 42 timestamps =
//! 20 160 points). Then scans through `Store` over 4 such files of one day (4 × 20 160 rows,
//! overlapping in time, so the last-write-wins merge runs): everything, and one device's 48
//! series with two fields (row groups pruned by the `agent_host` statistics).

#![allow(clippy::unwrap_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sluice::lineproto::{ParseOptions, parse_line, split_lines};
use sluice::model::Precision;
use sluice::model::{BucketName, TenantId, WalSeq};
use sluice::store::{
    Day, FileName, MeasurementBuffer, PartitionKey, ReadStore, ScanRequest, Store, StoreOptions,
    WriteOptions, write_parquet,
};

const SERIES: usize = 480;
const STEPS: usize = 42;

fn body() -> String {
    let mut out = String::new();
    let t0 = 1_764_000_000_000_000_000u64;
    // Time-major, as Telegraf sends it: every interval, every interface.
    for step in 0..STEPS {
        for i in 0..SERIES {
            let (dev, port) = (i / 48, i % 48);
            let k = (step * SERIES + i) as u64;
            out.push_str(&format!(
                "interface,agent_host=10.20.0.{dev},hostname=sw-{dev:04}.example.net,ifDescr=GigabitEthernet1/0/{port},ifName=Gi1/0/{port} \
ifHCInOctets={}i,ifHCOutOctets={}i,ifHCInUcastPkts={}i,ifHCOutUcastPkts={}i,ifHCInMulticastPkts={}i,\
ifHCOutMulticastPkts={}i,ifInErrors={}i,ifOutErrors={}i,ifInDiscards={}i,ifOutDiscards={}i,ifOperStatus=1i,ifHighSpeed=1000i {}\n",
                k * 1_234_567,
                k * 7_654_321,
                k * 1_234,
                k * 4_321,
                k % 97,
                k % 89,
                k % 7,
                k % 5,
                k % 11,
                k % 13,
                t0 + step as u64 * 10_000_000_000,
            ));
        }
    }
    out
}

fn fill(body: &str) -> MeasurementBuffer {
    let opts = ParseOptions {
        precision: Precision::Nanoseconds,
        allow_unsigned: true,
    };
    let mut buf = MeasurementBuffer::new("interface");
    for raw in split_lines(body.as_bytes()) {
        let line = parse_line(raw, &opts).unwrap();
        buf.push_line(&line, Precision::Nanoseconds, 0).unwrap();
    }
    buf
}

fn bench(c: &mut Criterion) {
    let body = body();
    let points = (SERIES * STEPS) as u64;
    let mut g = c.benchmark_group("store");
    g.sample_size(10);
    g.throughput(Throughput::Elements(points));
    g.bench_function("push_lines", |b| b.iter(|| fill(&body)));
    let buf = fill(&body);
    g.bench_function("to_record_batch", |b| {
        b.iter(|| buf.to_record_batch().unwrap())
    });
    let batch = buf.to_record_batch().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p/f.parquet");
    g.bench_function("write_parquet", |b| {
        b.iter(|| write_parquet(&path, &batch, &WriteOptions::default()).unwrap())
    });
    // A store with 4 files in one partition.
    let root = dir.path().join("store");
    let tenant = TenantId::new("acme").unwrap();
    let bucket = BucketName::new("telegraf").unwrap();
    let key = PartitionKey {
        tenant: tenant.clone(),
        bucket: bucket.clone(),
        measurement: "interface".into(),
        day: Day::from_nanos(1_764_000_000_000_000_000),
    };
    let opts = WriteOptions {
        max_row_group_rows: 8192,
    };
    for f in 0..4u64 {
        let name = FileName {
            first: WalSeq(f * 10 + 1),
            last: WalSeq(f * 10 + 10),
        };
        let file = key.dir(&root).unwrap().join(name.to_string());
        write_parquet(&file, &batch, &opts).unwrap();
    }
    let (store, _) = Store::open(StoreOptions::new(&root), WalSeq(40)).unwrap();
    let all = ScanRequest {
        tenant: &tenant,
        bucket: &bucket,
        measurement: "interface",
        min_time: i64::MIN,
        max_time: i64::MAX,
        tag_equals: &[],
        series_filter: None,
        fields: None,
        max_bytes: 1 << 30,
    };
    g.throughput(Throughput::Elements(4 * points));
    g.bench_function("scan_4_files_merge", |b| {
        b.iter(|| store.scan(&all).unwrap())
    });
    let host = [("agent_host".to_owned(), vec!["10.20.0.3".to_owned()])];
    let fields = ["ifHCInOctets".to_owned(), "ifHCOutOctets".to_owned()];
    let one_device = ScanRequest {
        tag_equals: &host,
        series_filter: None,
        fields: Some(&fields),
        ..all.clone()
    };
    g.bench_function("scan_one_device_two_fields", |b| {
        b.iter(|| store.scan(&one_device).unwrap())
    });
    g.finish();
    let (_, stats) = store.scan_with_stats(&one_device).unwrap();
    eprintln!("one-device scan: {stats:?}");
    let size = std::fs::metadata(&path).unwrap().len();
    eprintln!(
        "parquet file: {size} bytes for {points} points ({:.1} bytes/point; line protocol {:.1})",
        size as f64 / points as f64,
        body.len() as f64 / points as f64
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
