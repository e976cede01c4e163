//! Telegraf-shaped SNMP and ping data for the downsampling checks, with what real networks
//! do to it: 32-bit counters that wrap, a 64-bit counter (float) that wraps, a device that
//! reboots (counter reset), a gap, resent batches (duplicates), one point rewritten with
//! another value, and a device whose points arrive 3 minutes late for a while.

/// 2026-11-01T00:00:00Z: aligned to every window size the rules use.
pub const T0_S: i64 = 1_793_491_200;
pub const S: i64 = 1_000_000_000;
/// Seconds between two polls.
pub const STEP_S: i64 = 10;
/// A 64-bit counter near its top: a multiple of 2048, so every value is exact in f64.
pub const C64_START: f64 = 18_446_744_073_709_551_616.0 - 2048.0 * 2500.0;
pub const C64_INC: f64 = 2048.0 * 500.0;
pub const C32_START: i64 = 4_294_960_000;
pub const C32_INC: i64 = 1000;

/// The generated data: batches in the order they are written, and the newest timestamp.
pub struct Data {
    pub batches: Vec<String>,
    pub max_ts: i64,
}

struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// `devices` devices with two interfaces each, polled every 10 s for `steps` polls; one batch
/// per `steps_per_batch` polls.
pub fn generate(devices: usize, steps: i64, steps_per_batch: i64) -> Data {
    let mut rng = Lcg(7);
    let mut hc = vec![1_000_000_000i64; devices * 2];
    let mut c32 = vec![0i64; devices * 2];
    for (i, c) in c32.iter_mut().enumerate() {
        *c = (i as i64 * 977_777_777) % (1 << 32);
    }
    let mut pending: Vec<(i64, String)> = Vec::new();
    let mut batches = Vec::new();
    let mut batch = String::new();
    let mut late = String::new();
    let mut max_ts = 0;
    for k in 0..steps {
        let ts = (T0_S + k * STEP_S) * S;
        max_ts = ts;
        for d in 0..devices {
            // Device 2 is down for 50 s (one poll every 10 s: 5 missing).
            if d == 2 && (300..305).contains(&k) {
                continue;
            }
            let mut lines = String::new();
            for i in 0..2 {
                let j = d * 2 + i;
                hc[j] += 100_000 + rng.next(10_000_000) as i64;
                c32[j] = (c32[j] + 1_000_000 + rng.next(400_000_000) as i64) % (1 << 32);
                // Device 1 reboots: its counters start again near 0.
                if d == 1 && k == 700 {
                    hc[j] = rng.next(1000) as i64;
                    c32[j] = rng.next(1000) as i64;
                }
                lines += &format!(
                    "interface,agent_host=10.0.0.{d},ifName=Gi1/0/{i} ifHCInOctets={}i,ifInOctets={}i,ifOperStatus=1i {ts}\n",
                    hc[j], c32[j]
                );
            }
            lines += &format!(
                "ping,url=10.0.0.{d} average_response_ms={},percent_packet_loss={},result_code=0i {ts}\n",
                (1 + rng.next(5000)) as f64 / 100.0,
                if rng.next(20) == 0 { 20.0 } else { 0.0 }
            );
            // Device 4's points arrive 3 minutes late for a while.
            if d == 4 && (100..200).contains(&k) {
                pending.push((k + 18, lines));
            } else {
                batch += &lines;
            }
        }
        if devices > 0 {
            let c64 = (C64_START + C64_INC * k as f64) % 18_446_744_073_709_551_616.0;
            let c32w = (C32_START + C32_INC * k) % (1 << 32);
            batch += &format!("wrap,kind=64 c64={c64:?} {ts}\nwrap,kind=32 c32={c32w}i {ts}\n");
        }
        // The same point again with another value: the later write wins.
        if k == 400 {
            batch += &format!("ping,url=10.0.0.0 average_response_ms=1234.5 {ts}\n");
        }
        let (due, later): (Vec<_>, Vec<_>) = pending.drain(..).partition(|(at, _)| *at <= k);
        pending = later;
        for (_, l) in due {
            late += &l;
        }
        if (k + 1) % steps_per_batch == 0 {
            // The late points come from another agent catching up: a batch of their own.
            if !late.is_empty() {
                batches.push(std::mem::take(&mut late));
            }
            batches.push(std::mem::take(&mut batch));
            // Every 25th batch is sent twice (a retry after a lost answer).
            if batches.len() % 25 == 0 {
                let again = batches[batches.len() - 1].clone();
                batches.push(again);
            }
        }
    }
    for (_, l) in pending {
        batch += &l;
    }
    batch += &late;
    if !batch.is_empty() {
        batches.push(batch);
    }
    Data { batches, max_ts }
}
