//! The differential data set: deterministic, Telegraf-shaped lines for 3 tenants, cut into
//! gzip batches the way Telegraf sends them.
//!
//! Owns: what the data is (measurements, tags, fields, counter resets, gaps, late lines,
//! exact duplicates, same-series-same-time rewrites) and the batch bodies. Does not own:
//! sending them (`load`) or what is asked of them (`statements`).
//!
//! Shape, per tenant, one gather every 10 s from [`t0_ns`] (timestamps are whole
//! seconds, as Telegraf rounds them to the interval's order, except `snmp`, which carries
//! nanoseconds so epoch conversions have something to truncate):
//! - `interface` (tags `agent_host`, `host`, `ifDescr`, `ifName`; integer fields
//!   `ifHCInOctets`, `ifHCOutOctets` (counters), `ifInErrors`, `ifOutErrors`, `ifInDiscards`,
//!   `ifOperStatus`, `ifHighSpeed`): agent 0 reboots at 10:05 (every counter restarts near 0),
//!   the last agent is silent 10:20–10:30 (a gap, never sent), interface 4 of agent 0 is down
//!   10:40–10:50 (status 2, counters flat).
//! - `ping` (tags `host`, `url`; floats `average_response_ms`, `minimum_response_ms`,
//!   `maximum_response_ms`, `percent_packet_loss`; integers `packets_transmitted`,
//!   `packets_received`, `ttl`, `result_code`): at 100 % loss the response and ttl fields are
//!   absent, as Telegraf's ping input leaves them out.
//! - `cpu` (tags `cpu`, `host`; floats `usage_idle`, `usage_user`, `usage_system`,
//!   `usage_iowait`): `cpu0..3` and `cpu-total` per host.
//! - `snmp` (tags `agent_host`, `host`, `sysName`; integer `uptime` (hundredths of a second,
//!   restarts with the reboot), string `sysLocation`).
//!
//! Arrival quirks: agent 1's gathers 09:00–09:05 arrive after the 11:00 gather (late lines);
//! every 37th batch starts with the last 150 lines of the one before (exact duplicates, a
//! Telegraf retry after a timeout); the rewrite batches (sent after all others) change
//! `usage_idle` of `web<t>0`/`cpu-total` 10:10–10:12 and `ifInErrors` of agent 0's first
//! interface 10:30–10:31 (same series and time, a subset of the fields: InfluxDB merges field
//! by field, last write wins).

use std::fmt::Write as _;

use crate::support::telegraf::gzip;

/// Start of the data: 00:00 UTC two days before the test started (inside any retention
/// sluice applies by default, 30 d; InfluxDB's `autogen` keeps everything). Fixed for the run.
pub fn t0_ns() -> i64 {
    static T0: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *T0.get_or_init(|| {
        let day = 86_400 * S;
        crate::support::telegraf::now_ns() / day * day - 2 * day
    })
}
/// Telegraf's interval.
pub const INTERVAL_NS: i64 = 10_000_000_000;
/// One second in ns.
pub const S: i64 = 1_000_000_000;
/// One hour in ns.
pub const H: i64 = 3600 * S;

/// How big one tenant is.
#[derive(Debug, Clone, Copy)]
pub struct TenantShape {
    pub agents: u32,
    pub ifaces: u32,
    pub urls: u32,
    pub hosts: u32,
}

/// The whole data set.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Gathers per series (10 s apart from [`T0_NS`]).
    pub gathers: u32,
    pub tenants: Vec<TenantShape>,
    pub batch_lines: usize,
    pub seed: u64,
}

impl Spec {
    /// The differential set: 16 h, 3 tenants of different sizes, ≥ 1 M lines.
    pub fn full() -> Spec {
        Spec {
            gathers: 16 * 360,
            tenants: vec![
                TenantShape {
                    agents: 5,
                    ifaces: 12,
                    urls: 6,
                    hosts: 2,
                },
                TenantShape {
                    agents: 4,
                    ifaces: 12,
                    urls: 4,
                    hosts: 2,
                },
                TenantShape {
                    agents: 3,
                    ifaces: 12,
                    urls: 3,
                    hosts: 1,
                },
            ],
            batch_lines: 5000,
            seed: 0x05ee_d1f1_u64,
        }
    }

    /// A small set with the same names and quirks (09:00–12:00 is covered): for the Grafana
    /// requests test.
    pub fn small() -> Spec {
        Spec {
            gathers: 12 * 360,
            tenants: vec![
                TenantShape {
                    agents: 2,
                    ifaces: 4,
                    urls: 3,
                    hosts: 1,
                },
                TenantShape {
                    agents: 2,
                    ifaces: 2,
                    urls: 2,
                    hosts: 1,
                },
                TenantShape {
                    agents: 2,
                    ifaces: 2,
                    urls: 2,
                    hosts: 1,
                },
            ],
            batch_lines: 5000,
            seed: 7,
        }
    }
}

/// One request body.
#[derive(Debug, Clone)]
pub struct Batch {
    pub lines: usize,
    pub gz: Vec<u8>,
}

/// One tenant's data: its names and its batches in sending order.
#[derive(Debug, Clone)]
pub struct TenantData {
    pub id: String,
    pub token: String,
    pub bucket: String,
    /// Sent first, in any order and concurrently (exact duplicates and late lines only).
    pub batches: Vec<Batch>,
    /// Sent after every batch of every tenant was acknowledged, one at a time, in order.
    pub rewrites: Vec<Batch>,
}

impl TenantData {
    pub fn lines(&self) -> usize {
        self.batches
            .iter()
            .chain(&self.rewrites)
            .map(|b| b.lines)
            .sum()
    }
}

/// Tenant `t`'s names: id `tenant<t>`, bucket (= InfluxDB database) `telegraf_<t>`.
pub fn tenant_names(t: usize) -> (String, String, String) {
    (
        format!("tenant{t}"),
        format!("tok-iq-{t}-s3cret"),
        format!("telegraf_{t}"),
    )
}

/// The agent address of agent `a` of tenant `t` (tenant 0's first is wire.md's `10.0.0.1`).
pub fn agent_host(t: usize, a: u32) -> String {
    format!("10.{t}.0.{}", a + 1)
}

/// `ifName` and `ifDescr` of interface `i`: `Gi1/0/<i+1>`, the last one `Te1/1/1`.
pub fn iface_names(i: u32, ifaces: u32) -> (String, String) {
    if i + 1 == ifaces && ifaces > 2 {
        ("Te1/1/1".into(), "TenGigabitEthernet1/1/1".into())
    } else {
        (
            format!("Gi1/0/{}", i + 1),
            format!("GigabitEthernet1/0/{}", i + 1),
        )
    }
}

/// Ping targets (tenant 0 has wire.md's `8.8.8.8` and `1.1.1.1`).
pub const URLS: [&str; 6] = [
    "8.8.8.8",
    "1.1.1.1",
    "9.9.9.9",
    "example.org",
    "208.67.222.222",
    "sluice.test",
];

/// cpu host `h` of tenant `t`: `web<t><h>` (tenant 0's first is wire.md's `web01`... as `web00`
/// would not match it, hosts count from 1).
pub fn cpu_host(t: usize, h: u32) -> String {
    format!("web{t}{}", h + 1)
}

/// Time of gather `g`.
pub fn gather_ns(g: u32) -> i64 {
    t0_ns() + i64::from(g) * INTERVAL_NS
}

/// The gather at wall-clock `hh:mm` of the data's day.
pub const fn at(hh: u32, mm: u32) -> u32 {
    (hh * 3600 + mm * 60) / 10
}

/// splitmix64: small, deterministic, good enough for test data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// Round to 3 decimals, as ping's parser gives ms values.
fn ms3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Telegraf's float format: shortest round-trip, no exponent (`42` for 42.0).
fn fmt_f(v: f64) -> String {
    let s = format!("{v}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

struct IfState {
    inx: i64,
    out: i64,
    in_rate: f64,
    out_rate: f64,
    errors: i64,
    discards: i64,
    speed: i64,
}

/// Generates every tenant's batches (a thread per tenant).
pub fn generate(spec: &Spec) -> Vec<TenantData> {
    std::thread::scope(|sc| {
        let handles: Vec<_> = spec
            .tenants
            .iter()
            .enumerate()
            .map(|(t, shape)| sc.spawn(move || tenant(spec, t, *shape)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("generator thread"))
            .collect()
    })
}

fn tenant(spec: &Spec, t: usize, shape: TenantShape) -> TenantData {
    let mut rng = Rng::new(spec.seed ^ ((t as u64 + 1) << 32));
    let mut ifs: Vec<IfState> = (0..shape.agents * shape.ifaces)
        .map(|k| {
            let ten_g = k % shape.ifaces == shape.ifaces - 1 && shape.ifaces > 2;
            IfState {
                inx: rng.below(1 << 40) as i64,
                out: rng.below(1 << 39) as i64,
                in_rate: 1e5 + rng.unit() * 5e7,
                out_rate: 5e4 + rng.unit() * 2e7,
                errors: 0,
                discards: 0,
                speed: if ten_g { 10_000 } else { 1000 },
            }
        })
        .collect();
    let mut uptime: Vec<i64> = (0..shape.agents)
        .map(|_| 100 * (86_400 + rng.below(3_000_000) as i64))
        .collect();
    let reboot = at(10, 5);
    let (gap_from, gap_to) = (at(10, 20), at(10, 30));
    let (down_from, down_to) = (at(10, 40), at(10, 50));
    let (late_from, late_to, late_release) = (at(9, 0), at(9, 5), at(11, 0));
    let mut stream: Vec<String> = Vec::with_capacity(spec.gathers as usize * 200);
    let mut late: Vec<String> = Vec::new();
    let mut rewrites = String::new();
    let mut rewrite_lines = 0;
    for g in 0..spec.gathers {
        let ts = gather_ns(g);
        for a in 0..shape.agents {
            let silent = a + 1 == shape.agents && a > 0 && (gap_from..gap_to).contains(&g);
            let held = a == 1 && (late_from..late_to).contains(&g);
            let agent_ts = ts + i64::from(a % 2) * S;
            for i in 0..shape.ifaces {
                let st = &mut ifs[(a * shape.ifaces + i) as usize];
                let down = a == 0 && i == 4 && (down_from..down_to).contains(&g);
                let wave = 1.0 + 0.5 * (f64::from(g) / 180.0 + f64::from(i)).sin();
                if !down {
                    st.inx += (st.in_rate * wave * 10.0 * (0.9 + 0.2 * rng.unit())) as i64;
                    st.out += (st.out_rate * wave * 10.0 * (0.9 + 0.2 * rng.unit())) as i64;
                    if rng.below(50) == 0 {
                        st.errors += rng.below(4) as i64 + 1;
                    }
                    if rng.below(80) == 0 {
                        st.discards += 1;
                    }
                }
                if a == 0 && g == reboot {
                    st.inx = rng.below(100_000) as i64;
                    st.out = rng.below(100_000) as i64;
                    st.errors = 0;
                    st.discards = 0;
                }
                if silent {
                    continue;
                }
                let (name, descr) = iface_names(i, shape.ifaces);
                let line = format!(
                    "interface,agent_host={},host=telegraf-{t},ifDescr={descr},ifName={name} \
                     ifHCInOctets={}i,ifHCOutOctets={}i,ifInErrors={}i,ifOutErrors={}i,\
                     ifInDiscards={}i,ifOperStatus={}i,ifHighSpeed={}i {agent_ts}",
                    agent_host(t, a),
                    st.inx,
                    st.out,
                    st.errors,
                    st.errors / 3,
                    st.discards,
                    if down { 2 } else { 1 },
                    st.speed,
                );
                if a == 0 && i == 0 && (at(10, 30)..at(10, 31)).contains(&g) {
                    let _ = writeln!(
                        rewrites,
                        "interface,agent_host={},host=telegraf-{t},ifDescr={descr},ifName={name} \
                         ifInErrors={}i {agent_ts}",
                        agent_host(t, a),
                        st.errors + 1000
                    );
                    rewrite_lines += 1;
                }
                if held {
                    late.push(line)
                } else {
                    stream.push(line)
                }
            }
            uptime[a as usize] += 1000;
            if a == 0 && g == reboot {
                uptime[0] = 100 * rng.below(60) as i64;
            }
            if !silent {
                let line = format!(
                    "snmp,agent_host={},host=telegraf-{t},sysName=sw{t}-{a} \
                     uptime={}i,sysLocation=\"rack {a}, row \\\"{t}\\\"\" {}",
                    agent_host(t, a),
                    uptime[a as usize],
                    agent_ts + 250_000_000 + i64::from(a) * 1_234_567,
                );
                if held {
                    late.push(line)
                } else {
                    stream.push(line)
                }
            }
        }
        for u in 0..shape.urls as usize {
            let url = URLS[u % URLS.len()];
            let base = 5.0 + 3.0 * u as f64 + t as f64;
            let r = rng.unit();
            let received = if r < 0.01 {
                0
            } else if r < 0.03 {
                2
            } else {
                3
            };
            let loss = f64::from(3 - received) / 3.0 * 100.0;
            let mut line = format!(
                "ping,host=telegraf-{t},url={url} packets_transmitted=3i,packets_received={received}i,percent_packet_loss={}",
                fmt_f(loss)
            );
            if received > 0 {
                let avg = ms3(base + rng.unit() * 4.0);
                let min = ms3(avg - rng.unit());
                let max = ms3(avg + rng.unit() * 2.0);
                let _ = write!(
                    line,
                    ",ttl={}i,average_response_ms={},minimum_response_ms={},maximum_response_ms={}",
                    117 - u,
                    fmt_f(avg),
                    fmt_f(min),
                    fmt_f(max)
                );
            }
            let _ = write!(line, ",result_code=0i {ts}");
            stream.push(line);
        }
        for h in 0..shape.hosts {
            for c in 0..5 {
                let cpu = if c == 4 {
                    "cpu-total".to_owned()
                } else {
                    format!("cpu{c}")
                };
                let user = ms3(5.0 + rng.unit() * 30.0 * (1.0 + (f64::from(g) / 90.0).sin()));
                let system = ms3(1.0 + rng.unit() * 5.0);
                let iowait = if rng.below(3) == 0 {
                    0.0
                } else {
                    ms3(rng.unit())
                };
                let idle = ms3(100.0 - user - system - iowait);
                let host = cpu_host(t, h);
                stream.push(format!(
                    "cpu,cpu={cpu},host={host} usage_idle={},usage_user={},usage_system={},usage_iowait={} {ts}",
                    fmt_f(idle),
                    fmt_f(user),
                    fmt_f(system),
                    fmt_f(iowait)
                ));
                if h == 0 && c == 4 && (at(10, 10)..at(10, 12)).contains(&g) {
                    let _ = writeln!(
                        rewrites,
                        "cpu,cpu={cpu},host={host} usage_idle={} {ts}",
                        fmt_f(ms3(idle - 10.0))
                    );
                    rewrite_lines += 1;
                }
            }
        }
        if g + 1 == late_release {
            stream.append(&mut late);
        }
    }
    stream.append(&mut late);
    let (id, token, bucket) = tenant_names(t);
    let mut batches = Vec::new();
    let mut start = 0;
    let mut n = 0;
    while start < stream.len() {
        let end = (start + spec.batch_lines).min(stream.len());
        let mut body = String::with_capacity((end - start + 150) * 220);
        let mut lines = end - start;
        if n % 37 == 36 {
            for l in &stream[start.saturating_sub(150)..start] {
                body.push_str(l);
                body.push('\n');
                lines += 1;
            }
        }
        for l in &stream[start..end] {
            body.push_str(l);
            body.push('\n');
        }
        batches.push(Batch {
            lines,
            gz: gzip(body.as_bytes()),
        });
        start = end;
        n += 1;
    }
    let rewrites = if rewrite_lines == 0 {
        Vec::new()
    } else {
        vec![Batch {
            lines: rewrite_lines,
            gz: gzip(rewrites.as_bytes()),
        }]
    };
    TenantData {
        id,
        token,
        bucket,
        batches,
        rewrites,
    }
}

#[test]
fn small_set_is_deterministic_and_parses() {
    let a = generate(&Spec::small());
    let b = generate(&Spec::small());
    assert_eq!(a.len(), 3);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.batches.len(), y.batches.len());
        assert!(x.batches.iter().zip(&y.batches).all(|(p, q)| p.gz == q.gz));
    }
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&a[0].batches[0].gz[..]),
        &mut text,
    )
    .expect("gunzip");
    let parsed: Vec<_> = influxdb_line_protocol::parse_lines(&text)
        .collect::<Result<_, _>>()
        .expect("generated lines parse");
    assert_eq!(parsed.len(), a[0].batches[0].lines);
    assert!(text.starts_with("interface,agent_host=10.0.0.1,host=telegraf-0,ifDescr=GigabitEthernet1/0/1,ifName=Gi1/0/1 ifHCInOctets="));
    assert!(!a[0].rewrites.is_empty());
}
