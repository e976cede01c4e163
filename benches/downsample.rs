//! The downsampler's engine on issue 7's ingest benchmark (scripts/bench-downsample.sh):
//! 400 000 Telegraf-shaped lines (100 devices × 48 interfaces + ping + snmp, 80 rounds of 10 s,
//! one 5000-line record per round) through the three rules of BENCHMARKS.md, rollups written.
//! What the server's downsampler thread does, without the WAL around it.
//!
//! `DOWNSAMPLE_CPU_RUNS=N cargo bench --bench downsample` prints the CPU seconds of N runs
//! instead (wall time is unreliable on a busy machine; CPU time much less so).
#![allow(clippy::unwrap_used)]

use criterion::{Criterion, Throughput, criterion_group};
use sluice::bench::generate::Fleet;
use sluice::config::{Config, DownsampleRule};
use sluice::downsample::Engine;
use sluice::model::{BucketName, Entry, Precision, Record, RecordKind, TenantId, WalSeq};

const ROUNDS: u64 = 80;

/// A tenant-wide rule of the benchmark (as scripts/bench-downsample.sh writes them).
fn rule(measurements: &str, every: &str, aggregates: &str, to: &str) -> String {
    format!(
        "[[downsample]]\ntenant = \"*\"\nfrom = {{ bucket = \"telegraf\", measurements = [{measurements}] }}\n\
         every = \"{every}\"\naggregates = [{aggregates}]\nto = {{ bucket = \"{to}\" }}\ngrace = \"1m\"\n\n"
    )
}

/// The three rules of BENCHMARKS.md.
fn rules() -> Vec<DownsampleRule> {
    let rate = r#""mean", "max", "rate""#;
    let text = rule(r#""interface""#, "5m", rate, "telegraf_5m")
        + &rule(r#""ping", "snmp""#, "5m", r#""mean", "max""#, "telegraf_5m")
        + &rule(r#""interface""#, "1h", rate, "telegraf_1h");
    Config::from_toml_str(&text, |_| None).unwrap().downsample
}

fn records() -> Vec<Record> {
    let fleet = Fleet {
        tenants: 1,
        devices: 100,
        interfaces: 48,
        seed: 1,
        start_ns: 1_764_000_000_000_000_000,
    };
    let per_round = fleet.lines_per_round();
    (0..ROUNDS)
        .map(|r| {
            let mut body = String::new();
            for i in r * per_round..(r + 1) * per_round {
                fleet.write_line(i, &mut body);
            }
            Record {
                seq: WalSeq(r + 1),
                entry: Entry {
                    tenant: TenantId::new("acme").unwrap(),
                    bucket: BucketName::new("telegraf").unwrap(),
                    precision: Precision::Nanoseconds,
                    kind: RecordKind::Write,
                    lines: body.into(),
                },
            }
        })
        .collect()
}

/// Feeds every record, then closes every window; the rollup bytes written, and given to
/// `out`.
fn run(records: &Vec<Record>, out: &mut dyn FnMut(&[u8])) -> usize {
    let mut e = Engine::new(&rules());
    let mut bytes = 0;
    let mut take = |e: &mut Engine| {
        for o in e.take_output() {
            bytes += o.lines.len();
            out(&o.lines);
        }
    };
    for (i, r) in records.iter().enumerate() {
        e.apply(r, i as u64 * 10, records);
        take(&mut e);
    }
    e.close_all();
    take(&mut e);
    bytes
}

fn engine(c: &mut Criterion) {
    let records = records();
    let lines = records.iter().map(|r| r.entry.lines.len()).sum::<usize>();
    assert!(run(&records, &mut |_| {}) > 0 && lines > 0);
    let mut g = c.benchmark_group("downsample");
    g.sample_size(10);
    g.throughput(Throughput::Elements(ROUNDS * 5000));
    g.bench_function("three_rules_400k_lines", |b| {
        b.iter(|| run(&records, &mut |_| {}))
    });
    g.finish();
}

criterion_group!(benches, engine);

fn main() {
    if let Some(n) = std::env::var("DOWNSAMPLE_CPU_RUNS")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
    {
        let records = records();
        let cpu = sluice::bench::procstat::self_cpu_s;
        let t0 = cpu();
        for _ in 0..n {
            std::hint::black_box(run(&records, &mut |_| {}));
        }
        eprintln!("{n} runs: {:.2} CPU-s per run", (cpu() - t0) / f64::from(n));
        return;
    }
    // DOWNSAMPLE_DUMP=FILE: the rollup lines of one run, to compare two builds.
    if let Ok(path) = std::env::var("DOWNSAMPLE_DUMP") {
        let mut text = Vec::new();
        run(&records(), &mut |l| text.extend_from_slice(l));
        std::fs::write(path, text).unwrap();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
