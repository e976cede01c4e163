//! Line-protocol validation throughput: sluice's scanner vs the `influxdb-line-protocol` crate,
//! on Telegraf-shaped bodies of 5000 lines.
#![allow(clippy::unwrap_used)]

use criterion::{Criterion, Throughput, criterion_group};
use sluice::ingest::{Api, IngestOptions, ingest};
use sluice::lineproto::{ParseOptions, parse_line, split_lines};
use sluice::model::Precision;
use std::hint::black_box;

const LINES: usize = 5000;
const OPTS: ParseOptions = ParseOptions {
    precision: Precision::Nanoseconds,
    allow_unsigned: true,
};

/// A Telegraf SNMP `interface` table row (~430 bytes): sorted tags, integer counters, ns time.
fn snmp_line(n: usize) -> String {
    let c = |k: u64| 1_000_003u64.wrapping_mul(n as u64 + k) % 987_654_321_012;
    format!(
        "interface,agent_host=10.20.{a}.{b},host=telegraf-collector-01,hostname=core-sw-{a:02}.dc1.example.net,\
         ifDescr=GigabitEthernet1/0/{p},ifName=Gi1/0/{p} \
         ifHCInBroadcastPkts={}i,ifHCInMulticastPkts={}i,ifHCInOctets={}i,ifHCInUcastPkts={}i,\
         ifHCOutBroadcastPkts={}i,ifHCOutMulticastPkts={}i,ifHCOutOctets={}i,ifHCOutUcastPkts={}i,\
         ifInDiscards={}i,ifInErrors={}i,ifOutDiscards={}i,ifOutErrors={}i,ifHighSpeed=1000i,ifOperStatus=1i \
         {}\n",
        c(1) / 1000,
        c(2) / 100,
        c(3),
        c(4),
        c(5) / 1000,
        c(6) / 100,
        c(7),
        c(8),
        c(9) % 1000,
        c(10) % 100,
        c(11) % 1000,
        c(12) % 100,
        1_717_236_000_000_000_000u64 + n as u64 * 10_000_000_000,
        a = n % 7,
        b = n % 250,
        p = n % 48,
    )
}

/// A Telegraf `ping` line: floats, integers, ns time.
fn ping_line(n: usize) -> String {
    format!(
        "ping,host=web{:02},url=8.8.{}.8 packets_transmitted=3i,packets_received=3i,percent_packet_loss=0,\
         ttl=117i,average_response_ms={}.{:03},minimum_response_ms=10.9,maximum_response_ms=12.1,\
         standard_deviation_ms=0.{:03},result_code=0i {}\n",
        n % 40,
        n % 200,
        10 + n % 5,
        n % 997,
        n % 991,
        1_717_236_000_000_000_000u64 + n as u64
    )
}

fn body(f: fn(usize) -> String) -> Vec<u8> {
    (0..LINES).flat_map(|n| f(n).into_bytes()).collect()
}

fn validate(body: &[u8]) -> usize {
    let mut ok = 0;
    for line in split_lines(body) {
        if parse_line(line, &OPTS).is_ok() {
            ok += 1;
        }
    }
    ok
}

fn validate_and_decode(body: &[u8]) -> (usize, f64) {
    let (mut ok, mut sum) = (0, 0.0);
    for line in split_lines(body) {
        if let Ok(l) = parse_line(line, &OPTS) {
            ok += 1;
            for (_, v) in l.fields() {
                sum += match v {
                    sluice::lineproto::FieldValue::Float(f) => f,
                    sluice::lineproto::FieldValue::Integer(i) => i as f64,
                    _ => 1.0,
                };
            }
        }
    }
    (ok, sum)
}

fn crate_parse(body: &str) -> usize {
    influxdb_line_protocol::parse_lines(body)
        .filter(|r| r.is_ok())
        .count()
}

fn bench_body(c: &mut Criterion, name: &str, f: fn(usize) -> String) {
    let bytes = body(f);
    let text = std::str::from_utf8(&bytes).unwrap().to_owned();
    assert_eq!(validate(&bytes), LINES);
    assert_eq!(crate_parse(&text), LINES);
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("sluice_validate", |b| {
        b.iter(|| validate(black_box(&bytes)))
    });
    g.bench_function("sluice_validate_decode", |b| {
        b.iter(|| validate_and_decode(black_box(&bytes)))
    });
    // The whole write-path verdict: split, parse, reserved keys, in-batch type conflicts.
    let shared = bytes::Bytes::from(bytes.clone());
    let ingest_opts = IngestOptions {
        api: Api::V2,
        precision: Precision::Nanoseconds,
        allow_unsigned: true,
        now_ns: 0,
    };
    assert_eq!(ingest(shared.clone(), &ingest_opts).accepted.points, LINES);
    g.bench_function("sluice_ingest_verdict", |b| {
        b.iter(|| {
            ingest(black_box(shared.clone()), &ingest_opts)
                .accepted
                .points
        })
    });
    // What the limits add per request: counting lines (rate limits) and hashing each accepted
    // line's series key (cardinality).
    assert_eq!(sluice::limits::line_series(&bytes).len(), LINES);
    g.bench_function("limits_count_lines", |b| {
        b.iter(|| sluice::lineproto::split_lines(black_box(&bytes)).count())
    });
    g.bench_function("limits_series_hashes", |b| {
        b.iter(|| sluice::limits::line_series(black_box(&bytes)).len())
    });
    // What a gzip body (Telegraf's default) costs before any parsing.
    let gz = {
        use std::io::Write as _;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&bytes).unwrap();
        enc.finish().unwrap()
    };
    g.bench_function("gunzip", |b| {
        b.iter(|| {
            sluice::http::body::gunzip_capped(black_box(&gz), 64 << 20)
                .unwrap()
                .len()
        })
    });
    g.bench_function("influxdb_line_protocol", |b| {
        b.iter(|| crate_parse(black_box(&text)))
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    eprintln!(
        "snmp line {} bytes, ping line {} bytes",
        snmp_line(1).len(),
        ping_line(1).len()
    );
    bench_body(c, "snmp_5000", snmp_line);
    bench_body(c, "ping_5000", ping_line);
}

/// A fixed-work driver for instruction counts (`valgrind --tool=callgrind`), which are repeatable
/// where wall-clock numbers on a shared machine are not: `LINEPROTO_DRIVER=validate|ingest` with
/// `LINEPROTO_ROUNDS=n` parses the SNMP body `n` times; the cost per line is the difference
/// between two round counts divided by the lines parsed.
fn driver(mode: &str) {
    let rounds: usize = std::env::var("LINEPROTO_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(10);
    let bytes = body(snmp_line);
    let shared = bytes::Bytes::from(bytes.clone());
    let ingest_opts = IngestOptions {
        api: Api::V2,
        precision: Precision::Nanoseconds,
        allow_unsigned: true,
        now_ns: 0,
    };
    let mut total = 0;
    for _ in 0..rounds {
        total += match mode {
            "validate" => validate(black_box(&bytes)),
            "decode" => validate_and_decode(black_box(&bytes)).0,
            "ingest" => {
                ingest(black_box(shared.clone()), &ingest_opts)
                    .accepted
                    .points
            }
            _ => panic!("LINEPROTO_DRIVER is validate, decode or ingest"),
        };
    }
    eprintln!("{mode}: {total} lines in {rounds} rounds");
}

criterion_group!(lineproto, benches);

fn main() {
    if let Ok(mode) = std::env::var("LINEPROTO_DRIVER") {
        driver(&mode);
        return;
    }
    lineproto();
    Criterion::default().configure_from_args().final_summary();
}
