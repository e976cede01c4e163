//! Reads lowered onto the shared plan answer byte for byte what the interpreter answers
//! (`flux::lower`): every query below runs both ways over one data set, and the annotated
//! CSV (or the error) must be the same; the queries meant to lower must have lowered.
//!
//! Data: SNMP-like interface counters with a reset, a gap, a series starting late, a series
//! with an extra tag and one without `agent_host`, large floats (summation order shows),
//! points exactly on window edges and just outside the range; cpu samples every 15 s (not on
//! the windows' grid) with float, string and boolean fields; a measurement with an unsigned
//! field.

use super::csv::{encode, encode_answers};
use super::tests_eval::{S, T0, grafana};
use super::tests_post::hosts;
use super::{FluxAnswer, FluxContext, FluxError, compile, execute_with};
use crate::model::{BucketName, TenantId};
use crate::query::exec::mem::MemStore;
use crate::store::Value as SV;

pub(super) const M: i64 = 60 * S;

/// An interface series: its tags, when it starts (after `T0 - 10s`), a gap in its points.
type Iface = (
    &'static [(&'static str, &'static str)],
    i64,
    Option<(i64, i64)>,
);

pub(super) fn data() -> MemStore {
    let mut m = MemStore::new();
    let mut seed: u64 = 0x5eed;
    let mut rnd = move |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    let ifaces: [Iface; 6] = [
        (&[("agent_host", "10.0.0.1"), ("ifName", "Gi0/1")], 0, None),
        (
            &[("agent_host", "10.0.0.1"), ("ifName", "Gi0/2")],
            0,
            Some((10 * M, 15 * M)),
        ),
        (
            &[("agent_host", "10.0.0.2"), ("ifName", "Gi0/1")],
            5 * M,
            None,
        ),
        (&[("agent_host", "10.0.0.2"), ("ifName", "Gi0/2")], 0, None),
        (
            &[
                ("agent_host", "10.0.0.2"),
                ("ifAlias", "uplink"),
                ("ifName", "Gi0/3"),
            ],
            0,
            None,
        ),
        (&[("ifName", "lo")], 0, None),
    ];
    for (k, (tags, from, gap)) in ifaces.iter().enumerate() {
        let mut counter: i64 = 1_000_000 * (k as i64 + 1);
        let mut t = T0 - 10 * S + from;
        while t <= T0 + 30 * M {
            let off = t - T0;
            let in_gap = gap.is_some_and(|(a, b)| off >= a && off < b);
            if !in_gap {
                counter = if k == 0 && off == 12 * M {
                    rnd(5000) as i64
                } else {
                    counter + rnd(900_000) as i64
                };
                let out = 1.0e15 + rnd(1000) as f64 / 7.0 + k as f64 * 1.0e14;
                m.push(
                    "acme",
                    "telegraf",
                    "interface",
                    tags,
                    vec![
                        ("ifHCInOctets", SV::Integer(counter)),
                        ("ifHCOutOctets", SV::Float(out)),
                        ("ifOperStatus", SV::Integer(1 + (rnd(7) == 0) as i64)),
                    ],
                    t,
                )
                .expect("push");
            }
            t += 10 * S;
        }
    }
    // One point 1 ns before a window edge, one exactly on the range's end.
    m.push(
        "acme",
        "telegraf",
        "interface",
        &[("agent_host", "10.0.0.1"), ("ifName", "Gi0/1")],
        vec![("ifHCOutOctets", SV::Float(2.5e15))],
        T0 + 20 * M - 1,
    )
    .expect("push");
    for host in ["a", "b"] {
        for cpu in ["cpu-total", "cpu0"] {
            let mut t = T0 + 3 * S;
            while t < T0 + 30 * M {
                let user = rnd(10_000) as f64 / 100.0 + 0.1;
                let mut fields = vec![
                    ("usage_user", SV::Float(user)),
                    ("usage_idle", SV::Float(100.0 - user)),
                ];
                if cpu == "cpu-total" {
                    fields.push((
                        "state",
                        SV::String(if user > 50.0 { "busy" } else { "ok" }.into()),
                    ));
                    fields.push(("up", SV::Boolean(rnd(3) != 0)));
                }
                m.push(
                    "acme",
                    "telegraf",
                    "cpu",
                    &[("host", host), ("cpu", cpu)],
                    fields,
                    t,
                )
                .expect("push");
                t += 15 * S;
            }
        }
    }
    for i in 0..20 {
        m.push(
            "acme",
            "telegraf",
            "mem",
            &[("host", "a")],
            vec![("used", SV::Unsigned(1 << 40 | rnd(1 << 30)))],
            T0 + i * 90 * S,
        )
        .expect("push");
    }
    m.seal().expect("seal");
    m
}

pub(super) fn run(m: &MemStore, q: &str, lower: bool) -> (String, usize) {
    let (answer, lowered) = execute_on(m, q, lower);
    let text = match answer {
        Ok(answers) => {
            // Written from the columns of lowered windows, and from their rows: the same.
            let text = encode_answers(&answers, &grafana()).concat();
            let results: Vec<_> = answers.into_iter().map(|a| a.into_result()).collect();
            assert_eq!(
                text,
                encode(&results, &grafana()),
                "columns and rows of\n{q}"
            );
            text
        }
        Err(e) => format!("error {:?}: {}", e.code, e.message),
    };
    (text, lowered)
}

/// `q` run over `m`, lowered (`lower: true`) or interpreted; how many reads lowered.
pub(super) fn execute_on(
    m: &MemStore,
    q: &str,
    lower: bool,
) -> (Result<Vec<FluxAnswer>, FluxError>, usize) {
    let tenant = TenantId::new("acme").expect("id");
    let resolve = |name: &str| (name == "telegraf").then(|| BucketName::new(name).expect("name"));
    let ctx = FluxContext {
        tenant: &tenant,
        store: Some(m),
        resolve: &resolve,
        buckets: vec![BucketName::new("telegraf").expect("name")],
        retention_ns: 0,
        now_ns: T0 + 40 * M,
        max_scan_bytes: 1 << 30,
        max_rows: 1_000_000,
    };
    let program = compile(q).unwrap_or_else(|e| panic!("{q}: {}", e.message));
    execute_with(&program, &ctx, lower)
}

/// `from |> range` over most of the data: starts between two points, ends on a point.
pub(super) const R: &str =
    "from(bucket: \"telegraf\") |> range(start: 2024-06-01T10:00:07Z, stop: 2024-06-01T10:30:00Z)";
/// Window-aligned bounds.
pub(super) const RA: &str =
    "from(bucket: \"telegraf\") |> range(start: 2024-06-01T10:00:00Z, stop: 2024-06-01T10:30:00Z)";

pub(super) const IN: &str =
    "filter(fn: (r) => r._measurement == \"interface\" and r._field == \"ifHCInOctets\")";
pub(super) const OUT: &str =
    "filter(fn: (r) => r._measurement == \"interface\" and r._field == \"ifHCOutOctets\")";
const USER: &str = "filter(fn: (r) => r._measurement == \"cpu\" and r._field == \"usage_user\")";

/// (query, whether its read runs on the plan).
fn queries() -> Vec<(String, bool)> {
    let q = |s: String, lowers: bool| (s, lowers);
    vec![
        // Raw reads and filters.
        q(format!("{R} |> {IN}"), true),
        q(
            format!("{R} |> filter(fn: (r) => r._measurement == \"cpu\")"),
            true,
        ),
        q(
            format!(
                "{R} |> filter(fn: (r) => r._measurement == \"interface\" and r.agent_host != \"10.0.0.1\")"
            ),
            true,
        ),
        q(
            format!(
                "{R} |> filter(fn: (r) => r._measurement == \"interface\" and not (r.agent_host == \"10.0.0.1\"))"
            ),
            true,
        ),
        q(
            format!(
                "{R} |> filter(fn: (r) => r._measurement == \"interface\" and not (r.ifAlias != \"uplink\") or r[\"_measurement\"] == \"mem\")"
            ),
            true,
        ),
        q(
            format!(
                "{R} |> filter(fn: (r) => r._measurement == \"interface\" and (r.ifName =~ /Gi0\\/[12]/ or r.ifAlias == \"uplink\")) |> filter(fn: (r) => r._field == \"ifOperStatus\")"
            ),
            true,
        ),
        q(
            format!(
                "{R} |> filter(fn: (r) => r[\"_measurement\"] == \"interface\" and r.ifName !~ /^Gi/ and r._field != \"ifHCOutOctets\")"
            ),
            true,
        ),
        q(
            format!("{R} |> filter(fn: (r) => \"b\" == r.host and r._field =~ /^(state|up)$/)"),
            true,
        ),
        q(
            format!("{R} |> filter(fn: (r) => r.host == \"\" or r._measurement == \"mem\")"),
            true,
        ),
        q(
            format!(
                "{R} |> filter(fn: (r) => not (r.agent_host =~ /1$/) and r._field == \"ifOperStatus\")"
            ),
            true,
        ),
        // aggregateWindow, each function, on series of their own.
        q(
            format!("{R} |> {OUT} |> aggregateWindow(every: 1m, fn: mean)"),
            true,
        ),
        q(
            format!("{R} |> {IN} |> aggregateWindow(every: 1m, fn: sum, createEmpty: false)"),
            true,
        ),
        q(
            format!("{R} |> {IN} |> aggregateWindow(every: 2m, fn: count)"),
            true,
        ),
        q(
            format!("{R} |> {USER} |> aggregateWindow(every: 1m, fn: min)"),
            true,
        ),
        q(
            format!("{R} |> {IN} |> aggregateWindow(every: 1m, fn: max)"),
            true,
        ),
        q(
            format!(
                "{R} |> filter(fn: (r) => r._measurement == \"cpu\" and r._field == \"state\") |> aggregateWindow(every: 1m, fn: first)"
            ),
            true,
        ),
        q(
            format!(
                "{R} |> filter(fn: (r) => r._field == \"up\") |> aggregateWindow(every: 1m, fn: last, createEmpty: false)"
            ),
            true,
        ),
        q(
            format!("{R} |> {USER} |> aggregateWindow(every: 45s, fn: median)"),
            true,
        ),
        q(
            format!("{R} |> {IN} |> aggregateWindow(every: 5m, fn: spread)"),
            true,
        ),
        q(
            format!("{R} |> {USER} |> aggregateWindow(every: 30s, fn: stddev)"),
            true,
        ),
        q(
            format!(
                "{R} |> filter(fn: (r) => r._measurement == \"mem\") |> aggregateWindow(every: 5m, fn: sum)"
            ),
            true,
        ),
        q(
            format!("{R} |> {OUT} |> aggregateWindow(every: 1m, offset: 20s, fn: max)"),
            true,
        ),
        q(
            format!(
                "{RA} |> {OUT} |> aggregateWindow(every: 10m, period: 10m, fn: mean, createEmpty: true)"
            ),
            true,
        ),
        // Regrouped windows (several series per window, in Flux's row order).
        q(
            format!("{R} |> {OUT} |> group() |> aggregateWindow(every: 1m, fn: mean)"),
            true,
        ),
        q(
            format!(
                "{R} |> {OUT} |> group(columns: [\"agent_host\"]) |> aggregateWindow(every: 5m, fn: sum)"
            ),
            true,
        ),
        q(
            format!(
                "{R} |> {IN} |> group(columns: [\"ifName\"]) |> aggregateWindow(every: 1m, fn: mean, createEmpty: true) |> derivative(unit: 1s, nonNegative: true) |> map(fn: (r) => ({{r with _value: r._value * 8.0}}))"
            ),
            true,
        ),
        q(
            format!(
                "{R} |> filter(fn: (r) => r._measurement == \"cpu\" and r._field =~ /usage/) |> group(columns: [\"_field\", \"host\"]) |> aggregateWindow(every: 2m, fn: stddev)"
            ),
            true,
        ),
        q(
            format!(
                "{R} |> {USER} |> group(columns: [\"_measurement\", \"_start\", \"cpu\"]) |> aggregateWindow(every: 1m, fn: median, createEmpty: false)"
            ),
            true,
        ),
        q(
            format!(
                "{R} |> {IN} |> group(columns: [\"agent_host\", \"ifAlias\"]) |> aggregateWindow(every: 3m, fn: count)"
            ),
            true,
        ),
        // Transforms and yields after lowered reads.
        q(
            format!(
                "{R} |> {IN} |> aggregateWindow(every: 1m, fn: mean) |> derivative(unit: 1s, nonNegative: true)"
            ),
            true,
        ),
        q(
            format!(
                "{R} |> {IN} |> difference(nonNegative: true) |> map(fn: (r) => ({{r with _value: r._value * 8}}))"
            ),
            true,
        ),
        q(
            format!(
                "{R} |> {IN} |> aggregateWindow(every: 1m, fn: last) |> difference() |> yield(name: \"d\")\n{R} |> {USER} |> aggregateWindow(every: 5m, fn: mean) |> yield(name: \"u\")"
            ),
            true,
        ),
        q(
            format!(
                "{R} |> {IN} |> group(columns: [\"ifName\"]) |> sort(columns: [\"_time\"]) |> limit(n: 3)"
            ),
            true,
        ),
        // derivative and a scaling map computed with the window (`lower::post`), and what
        // stays with the interpreter.
        q(
            format!(
                "{R} |> {OUT} |> group(columns: [\"agent_host\"]) |> aggregateWindow(every: 1m, fn: mean) |> derivative(unit: 1m, nonNegative: false) |> map(fn: (r) => ({{r with _value: 8.0 * r._value}}))"
            ),
            true,
        ),
        q(
            format!(
                "{R} |> {IN} |> aggregateWindow(every: 2m, fn: count, createEmpty: false) |> derivative()"
            ),
            true,
        ),
        q(
            format!(
                "{R} |> {IN} |> aggregateWindow(every: 1m, fn: max) |> derivative(unit: 10s, nonNegative: true) |> map(fn: (r) => ({{r with _value: r._value / 1024.0}}))"
            ),
            true,
        ),
        q(
            format!(
                "{R} |> {IN} |> group() |> aggregateWindow(every: 1m, fn: sum) |> derivative(nonNegative: true) |> map(fn: (r) => ({{r with _value: r._value - 1.5}}))"
            ),
            true,
        ),
        q(
            format!(
                "{R} |> {IN} |> aggregateWindow(every: 1m, fn: mean) |> derivative(nonNegative: true, initialZero: true) |> map(fn: (r) => ({{r with _value: r._value * 8.0}}))"
            ),
            true,
        ),
        q(
            format!(
                "{R} |> {IN} |> aggregateWindow(every: 1m, fn: mean) |> derivative(nonNegative: true, columns: [\"_value\"]) |> map(fn: (r) => ({{r with _value: r._value * 8.0}}))"
            ),
            true,
        ),
        q(
            format!(
                "{R} |> {IN} |> aggregateWindow(every: 1m, fn: mean) |> derivative(nonNegative: true) |> map(fn: (r) => ({{r with _value: r._value * 8.0 + 1.0}}))"
            ),
            true,
        ),
        q(
            format!(
                "{R} |> {IN} |> aggregateWindow(every: 1m, fn: mean) |> derivative(nonNegative: true) |> map(fn: (r) => ({{r with _value: r._value * 8}}))"
            ),
            false,
        ),
        q(
            format!(
                "{R} |> {IN} |> aggregateWindow(every: 1m, fn: mean) |> derivative(nonNegative: true) |> map(fn: (r) => ({{r with _value: r._value * 8.0}})) |> map(fn: (r) => ({{r with _value: r._value * 2.0}}))"
            ),
            true,
        ),
        q(
            format!(
                "{R} |> filter(fn: (r) => r._measurement == \"cpu\" and r._field == \"state\") |> aggregateWindow(every: 1m, fn: last) |> derivative()"
            ),
            false,
        ),
        q(
            format!(
                "{R} |> {IN} |> group() |> aggregateWindow(every: 1m, fn: max) |> derivative()"
            ),
            true,
        ),
        // map's arithmetic fast path (against the general map when interpreted).
        q(
            format!(
                "{R} |> {OUT} |> aggregateWindow(every: 5m, fn: max) |> map(fn: (r) => ({{r with _value: r._value / 1024.0}}))"
            ),
            true,
        ),
        q(
            format!(
                "{R} |> {IN} |> aggregateWindow(every: 5m, fn: sum) |> map(fn: (r) => ({{r with _value: 8 * r._value}}))"
            ),
            true,
        ),
        q(
            format!("{R} |> {IN} |> map(fn: (r) => ({{r with _value: r._value * 8.0}}))"),
            true,
        ),
        q(
            format!(
                "{R} |> {IN} |> aggregateWindow(every: 1m, fn: mean, createEmpty: true) |> map(fn: (r) => ({{r with _value: r._value - 1.5}}))"
            ),
            true,
        ),
        q(
            format!(
                "{R} |> {IN} |> filter(fn: (r) => r.agent_host == \"10.0.0.1\" and r.ifName == \"Gi0/1\") |> aggregateWindow(every: 1m, fn: mean) |> derivative(nonNegative: true) |> filter(fn: (r) => not exists r._value) |> map(fn: (r) => ({{r with _value: r._value * 8.0}}))"
            ),
            true,
        ),
        // Read lowered, the rest interpreted (a selector after a regroup, mixed fields).
        q(
            format!("{R} |> {OUT} |> group() |> aggregateWindow(every: 5m, fn: max)"),
            true,
        ),
        q(
            format!(
                "{R} |> filter(fn: (r) => r._measurement == \"cpu\" and r._field =~ /usage/) |> group() |> aggregateWindow(every: 5m, fn: mean)"
            ),
            false,
        ),
        // Not lowered: the interpreter answers alone.
        q(
            format!(
                "{R} |> filter(fn: (r) => r._measurement == \"cpu\" and r._field == \"usage_user\" and r._value > 50.0) |> aggregateWindow(every: 5m, fn: mean)"
            ),
            false,
        ),
        q(
            format!(
                "{R} |> {IN} |> aggregateWindow(every: 1m, fn: (column, tables=<-) => tables |> quantile(q: 0.9, column))"
            ),
            true,
        ),
        // Errors: both ways alike.
        q(
            format!(
                "{R} |> filter(fn: (r) => r._field == \"state\") |> aggregateWindow(every: 1m, fn: mean)"
            ),
            false,
        ),
        q(
            format!(
                "from(bucket: \"telegraf\") |> range(start: 2024-06-01T10:00:00Z, stop: 2024-06-01T10:00:00Z) |> {IN} |> aggregateWindow(every: 1m, fn: mean)"
            ),
            false,
        ),
    ]
}

#[test]
fn lowered_reads_answer_as_the_interpreter() {
    let m = data();
    let mut lowered_total = 0;
    for (q, lowers) in queries() {
        let (want, interpreted) = run(&m, &q, false);
        assert_eq!(interpreted, 0, "the interpreter lowered nothing: {q}");
        let (got, lowered) = run(&m, &q, true);
        assert_eq!(got, want, "lowered answer differs for\n{q}");
        assert_eq!(lowered > 0, lowers, "lowered {lowered} reads of\n{q}");
        let empty_range = q.contains("10:00:00Z, stop: 2024-06-01T10:00:00Z");
        assert!(
            want.lines().count() > 1 || want.starts_with("error") || empty_range,
            "an answer to compare: {q}\n{want}"
        );
        lowered_total += lowered;
    }
    assert!(lowered_total >= 30);
}

#[test]
fn several_series_per_window_are_summed_in_flux_row_order() {
    // Series a then b: 1e17 − 1e17 + 1 + 1 = 2; in time order 1e17 + 1 − 1e17 + 1 = 1.
    let m = hosts(
        &[
            ("a", vec![SV::Float(1.0e17), SV::Float(-1.0e17)]),
            ("b", vec![SV::Float(1.0), SV::Float(1.0)]),
        ],
        S,
    );
    let q = format!(
        "{RA} |> filter(fn: (r) => r._measurement == \"x\") |> group() |> aggregateWindow(every: 1m, fn: sum, createEmpty: false)"
    );
    let (want, _) = run(&m, &q, false);
    let (got, lowered) = run(&m, &q, true);
    assert_eq!(lowered, 1);
    assert_eq!(got, want);
    assert!(want.contains(",2\r\n"), "{want}");
}

#[test]
fn a_last_window_without_points_has_no_derivative_both_ways() {
    // Points every 10 s up to 10 s before the range's stop (as the benchmark's data): with the
    // stop on a minute, the last window `[stop, stop + 1ns)` is empty and the derivative has
    // one row fewer per series than with the stop 40 s past a minute.
    let aligned = T0 + 30 * M;
    let mut m = MemStore::new();
    for (measurement, stop) in [("x1", aligned), ("x2", aligned + 40 * S)] {
        for ifname in ["a", "b", "c"] {
            let mut t = stop - 10 * M;
            let mut v = 0;
            while t < stop {
                v += 1000 + (t / S) % 7;
                m.push(
                    "acme",
                    "telegraf",
                    measurement,
                    &[("host", "h"), ("ifName", ifname)],
                    vec![("in", SV::Integer(v))],
                    t,
                )
                .expect("push");
                t += 10 * S;
            }
        }
    }
    m.seal().expect("seal");
    let time = |ns: i64| crate::query::flux::csv::format_time(ns);
    for (measurement, stop, rows) in [("x1", aligned, 27), ("x2", aligned + 40 * S, 30)] {
        let q = format!(
            "from(bucket: \"telegraf\") |> range(start: {}, stop: {}) |> filter(fn: (r) => r._measurement == \"{measurement}\" and r.host == \"h\") |> group(columns: [\"ifName\"]) |> aggregateWindow(every: 1m, fn: mean, createEmpty: true) |> derivative(unit: 1s, nonNegative: true)",
            time(stop - 10 * M),
            time(stop + 1)
        );
        let (want, _) = run(&m, &q, false);
        let (got, lowered) = run(&m, &q, true);
        assert_eq!(lowered, 1);
        assert_eq!(got, want, "{q}");
        assert_eq!(
            want.lines().filter(|l| l.starts_with(",,")).count(),
            rows,
            "{q}"
        );
    }
}
