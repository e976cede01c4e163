//! Query engine: the two dashboard queries of issue 5 on an in-memory store (`MemStore`), plan
//! execution only (scan of the measurement included; parsing and lowering are microseconds).
//!
//! - `mean_1h_10s_100_series`: `SELECT mean("usage_idle") FROM "cpu" WHERE <1 h> GROUP BY
//!   time(10s) fill(null)` over 100 hosts, data every 10 s for 2 h (72 000 points stored).
//! - `nnd_24h_48_ifaces`: `SELECT non_negative_derivative(mean("ifHCInOctets"), 1s) * 8 FROM
//!   "interface" WHERE <24 h> GROUP BY time(1m), "ifName" fill(null)` over 48 interfaces, data
//!   every 10 s for 24 h (414 720 points, counters with a reset every ~6 h).

#![allow(clippy::unwrap_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sluice::model::{BucketName, TenantId};
use sluice::query::exec::mem::MemStore;
use sluice::query::exec::{Limits, execute};
use sluice::query::plan::*;
use sluice::store::Value;

const S: i64 = 1_000_000_000;
const T0: i64 = 1_717_236_000 * S;

fn cpu() -> MemStore {
    let mut s = MemStore::new();
    for h in 0..100 {
        let host = format!("host{h:03}");
        for step in 0..720i64 {
            let v = 50.0 + ((h as f64) * 0.37 + step as f64 * 0.11).sin() * 40.0;
            s.push(
                "t",
                "telegraf",
                "cpu",
                &[("host", &host), ("cpu", "cpu-total")],
                vec![("usage_idle", Value::Float(v))],
                T0 - 3600 * S + step * 10 * S,
            )
            .unwrap();
        }
    }
    s.seal().unwrap();
    s
}

fn interfaces() -> MemStore {
    let mut s = MemStore::new();
    for i in 0..48 {
        let name = format!("Gi1/0/{i}");
        let mut counter: i64 = 1_000_000 * i;
        for step in 0..8640i64 {
            counter += 125_000 * (1 + (step + i) % 17);
            if step % 2160 == 2159 {
                counter = 0; // a reset every 6 h
            }
            s.push(
                "t",
                "telegraf",
                "interface",
                &[("agent_host", "10.0.0.1"), ("ifName", &name)],
                vec![("ifHCInOctets", Value::Integer(counter))],
                T0 + step * 10 * S,
            )
            .unwrap();
        }
    }
    s.seal().unwrap();
    s
}

fn var(n: &str) -> Expr {
    Expr::Var(VarRef {
        name: n.into(),
        kind: VarKind::Any,
    })
}

fn plan(
    measurement: &str,
    expr: Expr,
    start: i64,
    end: i64,
    every: i64,
    group_by: &[&str],
) -> SelectPlan {
    SelectPlan {
        sources: vec![Source {
            bucket: BucketName::new("telegraf").unwrap(),
            measurement: measurement.into(),
        }],
        time_column: "time".into(),
        fields: vec![OutputField {
            name: "v".into(),
            expr,
        }],
        condition: None,
        tag_hints: Vec::new(),
        start,
        end,
        interval: Some(Interval { every, offset: 0 }),
        group_by: group_by.iter().map(|s| s.to_string()).collect(),
        fill: Fill::Null,
        tz: None,
        ascending: true,
        limit: 0,
        offset: 0,
        slimit: 0,
        soffset: 0,
        dialect: Dialect::InfluxQl,
    }
}

fn bench(c: &mut Criterion) {
    let tenant = TenantId::new("t").unwrap();
    let limits = Limits {
        max_scan_bytes: 1 << 30,
        max_rows: 1_000_000,
    };
    let mut g = c.benchmark_group("query");

    let store = cpu();
    let mean = Expr::Call(Box::new(Call {
        func: Func::Mean,
        arg: var("usage_idle"),
    }));
    let p = plan("cpu", mean, T0 - 3600 * S, T0, 10 * S, &[]);
    let out = execute(&p, &tenant, &store, limits).unwrap();
    assert_eq!(out[0].values.len(), 361);
    g.throughput(Throughput::Elements(36_100));
    g.bench_function("mean_1h_10s_100_series", |b| {
        b.iter(|| execute(&p, &tenant, &store, limits).unwrap())
    });

    let store = interfaces();
    let nnd = Expr::Binary(
        Box::new(Expr::Call(Box::new(Call {
            func: Func::Derivative {
                unit: Some(S),
                non_negative: true,
            },
            arg: Expr::Call(Box::new(Call {
                func: Func::Mean,
                arg: var("ifHCInOctets"),
            })),
        }))),
        BinOp::Mul,
        Box::new(Expr::Integer(8)),
    );
    let p = plan("interface", nnd, T0, T0 + 86_400 * S, 60 * S, &["ifName"]);
    let out = execute(&p, &tenant, &store, limits).unwrap();
    assert_eq!(out.len(), 48);
    g.throughput(Throughput::Elements(414_720));
    g.bench_function("nnd_24h_48_ifaces", |b| {
        b.iter(|| execute(&p, &tenant, &store, limits).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
