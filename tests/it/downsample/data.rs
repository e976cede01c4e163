//! Telegraf-shaped SNMP and ping data for the downsampling checks, with what real networks
//! do to it: 32-bit counters that wrap, a 64-bit counter (float) that wraps, a device that
//! reboots (counter reset), a gap, resent batches (duplicates), one point rewritten with
//! another value, and two devices whose points arrive 3 and 2 minutes late for a while.
//!
//! Anomalies sit at fixed times after [`T0_S`], so a data set of any poll interval has them:
//! late points for polls in [`LATE_FROM_S`, `LATE_TO_S`) (across the first hour's end, so late
//! points land in closed 1h windows too), the gap at [`GAP_S`], the rewrite at [`REWRITE_S`],
//! the reboot at [`REBOOT_S`], both wrap series' wrap at [`WRAP_S`].

use std::collections::{BTreeMap, HashSet};

/// 2026-11-01T00:00:00Z: aligned to every window size the rules use.
pub const T0_S: i64 = 1_793_491_200;
pub const S: i64 = 1_000_000_000;
/// The polls in `[LATE_FROM_S, LATE_TO_S)` (from T0) of the devices in [`LATE`] arrive late.
pub const LATE_FROM_S: i64 = 2400;
pub const LATE_TO_S: i64 = 4800;
/// Late devices and how far behind the newest point already sent their points arrive (s).
pub const LATE: [(usize, i64); 2] = [(4, 180), (5, 120)];
/// Device 2 misses its polls in `[GAP_S, GAP_S + 60)`: one 1m window without a point.
pub const GAP_S: i64 = 3000;
/// The ping of device 0 at the first poll at or after this is written again with another value.
pub const REWRITE_S: i64 = 4000;
/// Device 1 reboots at the first poll at or after this: its counters start again near 0.
pub const REBOOT_S: i64 = 7000;
/// The wrap series pass their counter's top here (1:30:25, between two polls).
pub const WRAP_S: i64 = 5425;
/// The `wrap` series' counters grow this much per second (whatever the poll interval).
pub const C32_PER_S: i64 = 100;
/// A multiple of 4096: every value of the 64-bit counter, wrapped or not, is exact in f64.
pub const C64_PER_S: f64 = 2048.0 * 50.0;
const TWO_64: f64 = 18_446_744_073_709_551_616.0;
const TWO_32: i64 = 1 << 32;

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Devices, each with two interfaces and a ping target (plus the two `wrap` series).
    pub devices: usize,
    /// Seconds between two polls (divides 60).
    pub step_s: i64,
    pub steps: i64,
    /// Polls per regular batch.
    pub steps_per_batch: i64,
}

impl Shape {
    /// The size: 200 devices for a whole day, polled every 60 s (Telegraf's common
    /// SNMP interval), one batch per poll (602 lines: under Telegraf's `metric_batch_size`).
    pub const DAY: Shape = Shape {
        devices: 200,
        step_s: 60,
        steps: 1440,
        steps_per_batch: 1,
    };

    /// What CI runs: the same anomalies at the same times, for 8 devices over 4 hours (the
    /// day takes 3-8 minutes per test at opt-level 1 and more than the query timeout at 0;
    /// the `*_for_a_day` tests run it: `CARGO_PROFILE_DEV_OPT_LEVEL=1 cargo test --test it
    /// downsample -- --ignored --test-threads 1`).
    pub const CI: Shape = Shape {
        devices: 8,
        step_s: 60,
        steps: 240,
        steps_per_batch: 1,
    };

    /// The middle of the data, on a whole hour (noon for a day).
    pub fn middle_s(&self) -> i64 {
        (self.steps * self.step_s / 2).div_euclid(3600) * 3600
    }
}

/// The generated data: batches in the order they are written, and the newest timestamp.
pub struct Data {
    pub batches: Vec<String>,
    pub max_ts: i64,
    /// Lines over every batch (a resent batch counts again).
    pub lines: usize,
    /// Every late point's time and the newest time sent before it (ns).
    pub late: Vec<(i64, i64)>,
    /// When device 1 reboots (ns).
    pub reboot_ts: i64,
}

/// A small seeded generator (Knuth's MMIX LCG): the same data, or kill moments, every run.
pub struct Lcg(pub u64);

impl Lcg {
    /// A number in `[0, n)`.
    pub fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// The `wrap` series' values at `t_s` seconds after T0: a 32-bit integer and a 64-bit float
/// counter, both passing their top at [`WRAP_S`].
pub fn wrap_values(t_s: i64) -> (i64, f64) {
    let c32 = (TWO_32 - C32_PER_S * WRAP_S + C32_PER_S * t_s) % TWO_32;
    let c64 = (TWO_64 - C64_PER_S * WRAP_S as f64 + C64_PER_S * t_s as f64) % TWO_64;
    (c32, c64)
}

/// Generates `shape`'s batches.
pub fn generate(shape: Shape) -> Data {
    let Shape {
        devices,
        step_s,
        steps,
        steps_per_batch,
    } = shape;
    assert!(
        60 % step_s == 0,
        "poll interval {step_s}s must divide a minute"
    );
    let mut rng = Lcg(7);
    let mut hc = vec![1_000_000_000i64; devices * 2];
    let mut c32 = vec![0i64; devices * 2];
    for (i, c) in c32.iter_mut().enumerate() {
        *c = (i as i64 * 977_777_777) % TWO_32;
    }
    let mut pending: Vec<(i64, i64, String)> = Vec::new();
    let mut d = Data {
        batches: Vec::new(),
        max_ts: 0,
        lines: 0,
        late: Vec::new(),
        reboot_ts: 0,
    };
    let mut batch = String::new();
    let mut late = String::new();
    let mut late_ts = Vec::new();
    let at = |s: i64| s.div_euclid(step_s) + i64::from(s % step_s != 0);
    let (reboot, rewrite) = (at(REBOOT_S), at(REWRITE_S));
    d.reboot_ts = (T0_S + reboot * step_s) * S;
    for k in 0..steps {
        let t_s = k * step_s;
        let ts = (T0_S + t_s) * S;
        for dev in 0..devices {
            if dev == 2 && (GAP_S..GAP_S + 60).contains(&t_s) {
                continue;
            }
            let mut lines = String::new();
            for i in 0..2 {
                let j = dev * 2 + i;
                // At most 906 MB a minute: below a quarter of 2^32, so every wrap is seen.
                hc[j] += (100_000 + rng.next(10_000_000) as i64) * step_s / 10;
                c32[j] =
                    (c32[j] + (1_000_000 + rng.next(150_000_000) as i64) * step_s / 10) % TWO_32;
                if dev == 1 && k == reboot {
                    hc[j] = rng.next(1000) as i64;
                    c32[j] = rng.next(1000) as i64;
                }
                lines += &format!(
                    "interface,agent_host=10.0.0.{dev},ifName=Gi1/0/{i} ifHCInOctets={}i,ifInOctets={}i,ifOperStatus=1i {ts}\n",
                    hc[j], c32[j]
                );
            }
            lines += &format!(
                "ping,url=10.0.0.{dev} average_response_ms={},percent_packet_loss={},result_code=0i {ts}\n",
                (1 + rng.next(5000)) as f64 / 100.0,
                if rng.next(20) == 0 { 20.0 } else { 0.0 }
            );
            let late_by = LATE.iter().find(|(l, _)| *l == dev).map(|(_, by)| by);
            match late_by {
                // Sent before the regular batch whose previous poll is `late_by` after it.
                Some(by) if (LATE_FROM_S..LATE_TO_S).contains(&t_s) => {
                    pending.push((k + by / step_s + 1, ts, lines));
                }
                _ => batch += &lines,
            }
        }
        if devices > 0 {
            let (c32w, c64) = wrap_values(t_s);
            batch += &format!("wrap,kind=64 c64={c64:?} {ts}\nwrap,kind=32 c32={c32w}i {ts}\n");
        }
        // The same point again with another value: the later write wins.
        if k == rewrite {
            batch += &format!("ping,url=10.0.0.0 average_response_ms=1234.5 {ts}\n");
        }
        let (due, later): (Vec<_>, Vec<_>) = pending.drain(..).partition(|(at, _, _)| *at <= k);
        pending = later;
        for (_, t, l) in due {
            late += &l;
            late_ts.push(t);
        }
        if (k + 1) % steps_per_batch == 0 {
            // The late points come from another agent catching up: a batch of their own.
            if !late.is_empty() {
                d.late.extend(late_ts.drain(..).map(|t| (t, d.max_ts)));
                d.batches.push(std::mem::take(&mut late));
            }
            d.batches.push(std::mem::take(&mut batch));
            d.max_ts = ts;
            // Every 25th batch is sent twice (a retry after a lost answer).
            if d.batches.len().is_multiple_of(25) {
                let again = d.batches[d.batches.len() - 1].clone();
                d.batches.push(again);
            }
        }
    }
    for (_, t, l) in pending {
        batch += &l;
        late_ts.push(t);
    }
    batch += &late;
    d.late.extend(late_ts.into_iter().map(|t| (t, d.max_ts)));
    if !batch.is_empty() {
        d.batches.push(batch);
        d.max_ts = (T0_S + (steps - 1) * step_s) * S;
    }
    d.lines = d.batches.iter().map(|b| b.lines().count()).sum();
    d
}

/// How many late points land in a window of `every_s` that closed before they came, and how
/// many of those it still corrects (arriving before the window expires), with `grace_s` and
/// `late_s` as a rule has them. The watermark is the newest point sent before (no idle time).
pub fn late_in_closed(d: &Data, every_s: i64, grace_s: i64, late_s: i64) -> (usize, usize) {
    let (mut closed, mut corrected) = (0, 0);
    for &(ts, wm) in &d.late {
        let end = ts.div_euclid(every_s * S) * every_s * S + every_s * S;
        if wm >= end + grace_s * S {
            closed += 1;
            if wm < end + (grace_s + late_s) * S {
                corrected += 1;
            }
        }
    }
    (closed, corrected)
}

/// The rollup rows a rule makes, per window start (ns): the series with a point in the window
/// that came before the window expired, the watermark being the newest point written so far
/// (no idle time).
pub fn rollup_rows(d: &Data, every_s: i64, grace_s: i64, late_s: i64) -> BTreeMap<i64, usize> {
    let every = every_s * S;
    let mut wm = i64::MIN;
    let mut rows = HashSet::new();
    for line in d.batches.iter().flat_map(|b| b.lines()) {
        let (series, rest) = line.split_once(' ').expect("line has fields");
        let (_, ts) = rest.rsplit_once(' ').expect("line has a timestamp");
        let ts: i64 = ts.parse().expect("timestamp");
        wm = wm.max(ts);
        let start = ts.div_euclid(every) * every;
        if wm < start + every + (grace_s + late_s) * S {
            rows.insert((series, start));
        }
    }
    let mut per_window = BTreeMap::new();
    for (_, start) in rows {
        *per_window.entry(start).or_default() += 1;
    }
    per_window
}
