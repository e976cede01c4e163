//! Tests of the engine, read like the semantics in the module docs.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::aggregate::Value;
use super::group::push_value;
use super::state::Engine;
use crate::config::{Config, DownsampleRule};
use crate::lineproto::{self, FieldValue, ParseOptions};
use crate::model::{BucketName, Entry, Precision, Record, RecordKind, TenantId, WalSeq};

const S: i64 = 1_000_000_000;
const M: i64 = 60 * S;

fn rules(extra: &str) -> Vec<DownsampleRule> {
    let every = if extra.contains("every") {
        ""
    } else {
        "every = \"5m\"\n"
    };
    let text = format!(
        "[[downsample]]\ntenant = \"*\"\nfrom = {{ bucket = \"raw\" }}\n{every}\
         to = {{ bucket = \"r5m\" }}\n{extra}"
    );
    Config::from_toml_str(&text, |_| None).unwrap().downsample
}

fn rec(seq: u64, lines: &str) -> Record {
    Record {
        seq: WalSeq(seq),
        entry: Entry {
            tenant: TenantId::new("acme").unwrap(),
            bucket: BucketName::new("raw").unwrap(),
            precision: Precision::Nanoseconds,
            kind: RecordKind::Write,
            lines: bytes::Bytes::from(lines.to_owned()),
        },
    }
}

/// Every emitted rollup line, in order.
fn lines(e: &mut Engine) -> Vec<String> {
    e.take_output()
        .into_iter()
        .flat_map(|en| {
            assert_eq!(en.kind, RecordKind::Derived);
            assert_eq!(en.bucket.as_str(), "r5m");
            String::from_utf8(en.lines.to_vec())
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Appends a record to `wal` and feeds it (`wal` is the engine's history).
fn feed(e: &mut Engine, wal: &mut Vec<Record>, body: String) {
    wal.push(rec(wal.len() as u64 + 1, &body));
    if let Some(r) = wal.last() {
        e.apply(r, 0, wal);
    }
}

#[test]
fn a_window_closes_at_end_plus_grace_and_names_fields() {
    let mut e = Engine::new(&rules(
        "aggregates = [\"mean\", \"max\", \"count\"]\ngrace = \"1m\"\n",
    ));
    let mut wal = Vec::new();
    feed(
        &mut e,
        &mut wal,
        format!("cpu,host=a u=1,s=\"x\" {}\n", 10 * S),
    );
    feed(&mut e, &mut wal, format!("cpu,host=a u=3i {}\n", 20 * S));
    // End of window 0 is 5m: not closed until 6m.
    feed(
        &mut e,
        &mut wal,
        format!("cpu,host=a u=5 {}\n", 5 * M + 59 * S),
    );
    assert!(lines(&mut e).is_empty());
    feed(&mut e, &mut wal, format!("cpu,host=a u=7 {}\n", 6 * M));
    assert_eq!(
        lines(&mut e),
        vec!["cpu,host=a u_mean=2.0,u_max=3.0,u_count=2i 0".to_string()]
    );
    // Only client writes feed rules.
    let mut d = rec(9, &format!("cpu,host=a u=100 {}\n", 7 * M));
    d.entry.kind = RecordKind::Derived;
    e.apply(&d, 0, &Vec::new());
    assert_eq!(e.marks()[0].max_ts, 6 * M);
}

#[test]
fn late_points_correct_within_late_window_and_are_dropped_after() {
    let mut e = Engine::new(&rules(
        "aggregates = [\"sum\"]\ngrace = \"1m\"\nlate_window = \"2m\"\n",
    ));
    let mut wal = Vec::new();
    feed(&mut e, &mut wal, format!("m v=1 {}\n", 10 * S));
    feed(&mut e, &mut wal, format!("m v=1 {}\n", 6 * M));
    assert_eq!(lines(&mut e), vec!["m v_sum=1.0 0"]);
    // Late but within late_window: the corrected value, same series and timestamp.
    feed(&mut e, &mut wal, format!("m v=2 {}\n", 20 * S));
    assert_eq!(lines(&mut e), vec!["m v_sum=3.0 0"]);
    // The watermark reaches 5m + 1m + 2m: window 0 expires.
    feed(&mut e, &mut wal, format!("m v=1 {}\n", 8 * M));
    let _ = lines(&mut e);
    feed(&mut e, &mut wal, format!("m v=50 {}\n", 30 * S));
    assert!(lines(&mut e).is_empty());
    let c = e.counts()[&TenantId::new("acme").unwrap()];
    assert_eq!(c.late_dropped, 1);
    assert_eq!(c.emitted, 2);
}

#[test]
fn duplicate_points_count_once_and_the_later_write_wins() {
    let mut e = Engine::new(&rules("aggregates = [\"mean\", \"count\"]\n"));
    let mut wal = Vec::new();
    feed(&mut e, &mut wal, format!("m v=1 {0}\nm v=5 {0}\n", 10 * S));
    feed(&mut e, &mut wal, format!("m v=3 {}\n", 10 * S));
    feed(&mut e, &mut wal, format!("m v=1 {}\n", 20 * S));
    feed(&mut e, &mut wal, format!("m v=1 {}\n", 7 * M));
    assert_eq!(lines(&mut e), vec!["m v_mean=2.0,v_count=2i 0"]);
}

#[test]
fn rate_uses_the_previous_window_and_the_wrap_rule() {
    let mut e = Engine::new(&rules("aggregates = [\"rate\"]\nlate_window = \"0s\"\n"));
    let mut wal = Vec::new();
    let w32 = 4_294_967_296.0_f64;
    feed(
        &mut e,
        &mut wal,
        format!("if,d=a o={} {}\n", w32 - 3000.0, 290 * S),
    );
    // Window 1: wraps at 2^32: increase 3000 + 600 = 3600 counts over 300 s.
    feed(
        &mut e,
        &mut wal,
        format!("if,d=a o=600 {}\n", 5 * M + 290 * S),
    );
    // Window 2: a reset (100 → 10 is not near a wrap) adds nothing; 10 → 310 does.
    feed(
        &mut e,
        &mut wal,
        format!("if,d=a o=100 {}\n", 10 * M + 10 * S),
    );
    feed(
        &mut e,
        &mut wal,
        format!("if,d=a o=10 {}\n", 10 * M + 20 * S),
    );
    feed(
        &mut e,
        &mut wal,
        format!("if,d=a o=310 {}\n", 10 * M + 290 * S),
    );
    feed(&mut e, &mut wal, format!("if,d=a o=310 {}\n", 20 * M));
    assert_eq!(
        lines(&mut e),
        vec![
            format!("if,d=a o_rate=12.0 {}", 5 * M),
            // 600 → 100 and 100 → 10 are resets (nothing), 10 → 310 is 300 counts.
            format!("if,d=a o_rate=1.0 {}", 10 * M),
        ]
    );
}

#[test]
fn group_by_keeps_listed_tags_and_sums_rates() {
    let mut e = Engine::new(&rules(
        "aggregates = [\"sum\", \"rate\"]\ngroup_by = [\"site\"]\nlate_window = \"0s\"\n",
    ));
    let mut wal = Vec::new();
    for (t, v) in [(0, 0), (5 * M, 300)] {
        feed(
            &mut e,
            &mut wal,
            format!("if,d=a,site=x o={v} {t}\nif,d=b,site=x o={} {t}\n", 2 * v),
        );
    }
    feed(&mut e, &mut wal, format!("if,d=a,site=x o=0 {}\n", 20 * M));
    assert_eq!(
        lines(&mut e),
        vec![
            "if,site=x o_sum=0.0 0".to_string(),
            format!("if,site=x o_sum=900.0,o_rate=3.0 {}", 5 * M),
        ]
    );
}

#[test]
fn the_cursor_keeps_what_retained_windows_need() {
    let mut e = Engine::new(&rules("aggregates = [\"mean\"]\nlate_window = \"1m\"\n"));
    let mut wal = Vec::new();
    feed(&mut e, &mut wal, format!("m v=1 {}\n", 10 * S));
    feed(&mut e, &mut wal, format!("m v=1 {}\n", 5 * M));
    assert_eq!(e.cursor(WalSeq(2)), WalSeq(0));
    // Window 0 expires at 5m + 1m + 1m.
    feed(&mut e, &mut wal, format!("m v=1 {}\n", 7 * M));
    assert_eq!(e.cursor(WalSeq(3)), WalSeq(1));
    assert!(e.stats().open_windows >= 1);
}

/// One point of the generated data: series, field value and event time (s).
#[derive(Debug, Clone)]
struct Pt {
    series: u8,
    v: u32,
    t: i64,
}

fn arb_points() -> impl Strategy<Value = Vec<Pt>> {
    // Time mostly advances, sometimes jumps back up to 4 minutes (late data), duplicates happen.
    prop::collection::vec((0u8..3, 0u32..1000, -240i64..60), 1..120).prop_map(|steps| {
        let mut t = 0i64;
        let mut max = 0i64;
        steps
            .into_iter()
            .map(|(series, v, dt)| {
                t = (max + dt).max(0);
                max = max.max(t);
                Pt { series, v, t }
            })
            .collect()
    })
}

fn body(p: &Pt) -> String {
    format!("m,s={} v={} {}\n", p.series, p.v, p.t * S)
}

/// Runs the records through an engine, crashing after `crash` of them: the state is lost, a
/// new engine restores the checkpoint (taken after `checkpoint` records) and replays the WAL
/// from the cursor. Returns the last value emitted per (series, window).
fn run(
    points: &[Pt],
    rule: &[DownsampleRule],
    crash: Option<(usize, usize)>,
) -> BTreeMap<String, String> {
    let recs: Vec<Record> = points
        .iter()
        .enumerate()
        .map(|(i, p)| rec(i as u64 + 1, &body(p)))
        .collect();
    let mut out = BTreeMap::new();
    let mut collect = |e: &mut Engine| {
        for l in lines(e) {
            let (key, rest) = l.split_once(' ').unwrap();
            let (fields, ts) = rest.rsplit_once(' ').unwrap();
            out.insert(format!("{key} {ts}"), fields.to_owned());
        }
    };
    let mut e = Engine::new(rule);
    let mut start = 0;
    if let Some((checkpoint, crash)) = crash {
        let mut marks = None;
        let mut cursor = WalSeq(0);
        for (i, r) in recs[..crash].iter().enumerate() {
            e.apply(r, 0, &recs);
            collect(&mut e);
            if i + 1 == checkpoint {
                marks = Some(e.marks());
                cursor = e.cursor(r.seq);
            }
        }
        e = Engine::new(rule);
        if let Some(m) = &marks {
            e.restore(m, 0);
        }
        e.emitting = false;
        for r in &recs[cursor.0 as usize..crash] {
            e.apply(r, 0, &recs);
        }
        e.emitting = true;
        e.emit_pending();
        collect(&mut e);
        start = crash;
    }
    for r in &recs[start..] {
        e.apply(r, 0, &recs);
        collect(&mut e);
    }
    e.advance_idle(1_000_000_000);
    collect(&mut e);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// A crash anywhere, with the checkpoint taken at any earlier moment, leaves the same
    /// final rollups as an uninterrupted run.
    #[test]
    fn restart_from_the_cursor_gives_the_same_rollups(
        points in arb_points(),
        a in 0usize..1000,
        b in 0usize..1000,
        late in prop::sample::select(vec!["0s", "1m", "3m"]),
    ) {
        let rule = rules(&format!(
            "every = \"1m\"\naggregates = [\"mean\", \"min\", \"max\", \"sum\", \"count\", \"first\", \"last\", \"rate\"]\n\
             grace = \"30s\"\nlate_window = \"{late}\"\n"
        ));
        let crash = b % (points.len() + 1);
        let checkpoint = if crash == 0 { 0 } else { a % crash + 1 };
        let whole = run(&points, &rule, None);
        let crashed = run(&points, &rule, Some((checkpoint, crash)));
        prop_assert_eq!(whole, crashed);
    }

    /// With every point inside late_window, each window's final rollup is the aggregate of
    /// its points (duplicates: the later write wins).
    #[test]
    fn final_rollups_equal_a_batch_computation(points in arb_points()) {
        let rule = rules(
            "every = \"1m\"\naggregates = [\"mean\", \"min\", \"max\", \"count\", \"first\", \"last\"]\n\
             grace = \"0s\"\nlate_window = \"10m\"\n",
        );
        let got = run(&points, &rule, None);
        let mut model: BTreeMap<(u8, i64), BTreeMap<i64, u32>> = BTreeMap::new();
        for p in &points {
            model.entry((p.series, p.t.div_euclid(60) * 60)).or_default().insert(p.t, p.v);
        }
        prop_assert_eq!(got.len(), model.len());
        for ((s, w), pts) in model {
            let vals: Vec<f64> = pts.values().map(|&v| f64::from(v)).collect();
            let mean = vals.iter().sum::<f64>() / vals.len() as f64;
            let min = vals.iter().copied().fold(f64::INFINITY, f64::min);
            let max = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let want = vec![
                ("v_mean", Value::Float(mean)),
                ("v_min", Value::Float(min)),
                ("v_max", Value::Float(max)),
                ("v_count", Value::Int(vals.len() as i64)),
                ("v_first", Value::Float(vals[0])),
                ("v_last", Value::Float(vals[vals.len() - 1])),
            ];
            prop_assert_eq!(values(&got[&format!("m,s={s} {}", w * S)]), want);
        }
    }

    /// A rollup's float reads back (through the full parser and the downsampler's own) to
    /// the same bits, whatever its size: shortest text, exponent forms included.
    #[test]
    fn rollup_values_read_back_exactly(bits in any::<u64>(), i in any::<i64>()) {
        let f = f64::from_bits(bits);
        prop_assume!(f.is_finite());
        let mut line = b"m x=".to_vec();
        push_value(&mut line, Value::Float(f));
        line.extend_from_slice(b",n=");
        push_value(&mut line, Value::Int(i));
        line.extend_from_slice(b" 1");
        let text = String::from_utf8(line.clone()).unwrap();
        let got = values(&text["m ".len()..text.len() - " 1".len()]);
        prop_assert_eq!(got[0].0, "x");
        prop_assert!(matches!(got[0].1, Value::Float(g) if g.to_bits() == f.to_bits()), "{}", text);
        prop_assert_eq!(got[1], ("n", Value::Int(i)));
        let opts = ParseOptions { precision: Precision::Nanoseconds, allow_unsigned: true };
        let accepted = lineproto::parse_accepted(&line, &opts).unwrap();
        let mut numeric = Vec::new();
        accepted.numeric_fields(&mut numeric);
        prop_assert_eq!(numeric[0].1.to_bits(), f.to_bits());
        prop_assert_eq!(numeric[1].1, i as f64);
    }
}

/// The fields of a rollup line's field section, read by the full line-protocol parser.
fn values(fields: &str) -> Vec<(&str, Value)> {
    let line = format!("m {fields} 1");
    let opts = ParseOptions {
        precision: Precision::Nanoseconds,
        allow_unsigned: true,
    };
    let parsed = lineproto::parse_line(line.as_bytes(), &opts).unwrap();
    let got: Vec<Value> = parsed
        .fields()
        .map(|(_, v)| match v {
            FieldValue::Float(f) => Value::Float(f),
            FieldValue::Integer(i) => Value::Int(i),
            other => panic!("not a rollup value: {other:?}"),
        })
        .collect();
    let names = fields.split(',').map(|f| f.split_once('=').unwrap().0);
    names.zip(got).collect()
}
