//! Telegraf-shaped SNMP/ping line protocol, deterministic from a seed.
//!
//! Owns: the pure function "line index → line" and the fleet shape (tenants × devices ×
//! interfaces, 10 s rounds). Does not own: batching, compression or sending (`batches`).
//!
//! Order: round-major, then tenant, then device; each device emits its `interface` lines, one
//! `ping` line and one `snmp` line per round. Global line `i` therefore fixes its round,
//! tenant, device and kind, and every value is a hash of (seed, tenant, device, interface,
//! field) plus, for counters, `round × rate`: counters grow monotonically round by round.

use std::fmt::Write as _;

/// Nanoseconds between two collection rounds (Telegraf's default `interval = "10s"`).
pub const ROUND_NS: i64 = 10_000_000_000;

/// The counters of an `interface` line, in the order they are written (then ifOperStatus,
/// ifHighSpeed). Ten of them grow every round.
pub const COUNTERS: [&str; 10] = [
    "ifHCInOctets",
    "ifHCOutOctets",
    "ifHCInUcastPkts",
    "ifHCOutUcastPkts",
    "ifHCInMulticastPkts",
    "ifHCOutMulticastPkts",
    "ifInDiscards",
    "ifOutDiscards",
    "ifInErrors",
    "ifOutErrors",
];

/// The fleet and the seed: everything `line(i)` depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Fleet {
    pub tenants: u32,
    pub devices: u32,
    pub interfaces: u32,
    pub seed: u64,
    /// Timestamp of round 0, in ns.
    pub start_ns: i64,
}

/// What a line is, decoded from its index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineId {
    pub round: u64,
    pub tenant: u32,
    pub device: u32,
    pub kind: Kind,
}

/// The measurement of a line; `Interface(n)` is the n-th interface of its device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Interface(u32),
    Ping,
    Snmp,
}

impl Fleet {
    /// Lines one device emits per round: its interfaces, one ping, one snmp.
    pub fn lines_per_device(&self) -> u64 {
        u64::from(self.interfaces) + 2
    }

    /// Lines one tenant emits per round.
    pub fn lines_per_tenant_round(&self) -> u64 {
        u64::from(self.devices) * self.lines_per_device()
    }

    /// Lines the whole fleet emits per round.
    pub fn lines_per_round(&self) -> u64 {
        u64::from(self.tenants) * self.lines_per_tenant_round()
    }

    /// Which round, tenant, device and measurement line `i` is.
    pub fn id(&self, i: u64) -> LineId {
        let per_round = self.lines_per_round().max(1);
        let per_tenant = self.lines_per_tenant_round().max(1);
        let per_device = self.lines_per_device();
        let round = i / per_round;
        let k = i % per_round;
        let tenant = narrow(k / per_tenant);
        let k = k % per_tenant;
        let device = narrow(k / per_device);
        let j = narrow(k % per_device);
        let kind = if j < self.interfaces {
            Kind::Interface(j)
        } else if j == self.interfaces {
            Kind::Ping
        } else {
            Kind::Snmp
        };
        LineId {
            round,
            tenant,
            device,
            kind,
        }
    }

    /// The global index of the `j`-th line of `tenant` (tenants' lines interleave by round).
    pub fn tenant_line_index(&self, tenant: u32, j: u64) -> u64 {
        let per_tenant = self.lines_per_tenant_round().max(1);
        (j / per_tenant) * self.lines_per_round() + u64::from(tenant) * per_tenant + j % per_tenant
    }

    /// Line `i` (without the trailing newline).
    pub fn line(&self, i: u64) -> String {
        let mut s = String::with_capacity(448);
        self.write_line(i, &mut s);
        s.pop();
        s
    }

    /// Appends line `i` and a `\n` to `out`.
    pub fn write_line(&self, i: u64, out: &mut String) {
        let id = self.id(i);
        // Devices report a few ms apart inside a round, as real agents do.
        let ts = self.start_ns
            + i64::try_from(id.round).unwrap_or(i64::MAX / ROUND_NS) * ROUND_NS
            + i64::from(id.device % 1000) * 1_000_000;
        let host = format!("t{:03}-dev{:05}", id.tenant, id.device);
        let agent = format!(
            "10.{}.{}.{}",
            id.tenant % 256,
            id.device / 256 % 256,
            id.device % 256
        );
        let h = |parts: &[u64]| mix(self.seed, id.tenant, id.device, parts);
        let r = id.round;
        // Writing into a String cannot fail.
        let _ = match id.kind {
            Kind::Interface(n) => {
                let _ = write!(
                    out,
                    "interface,agent_host={agent},host=telegraf-{:02},hostname={host}.net.example,\
                     ifDescr=GigabitEthernet0/0/{n},ifName=Gi0/0/{n} ",
                    id.tenant % 100
                );
                for (f, name) in COUNTERS.iter().enumerate() {
                    let f = f as u64;
                    let base = h(&[u64::from(n), f, 0]) % 1_000_000_000_000;
                    let rate = h(&[u64::from(n), f, 1]) % rate_cap(f);
                    let _ = write!(out, "{name}={}i,", base + r * rate);
                }
                let oper = if h(&[u64::from(n), 99, 0]) % 10 == 0 {
                    2
                } else {
                    1
                };
                let speed = [1000, 10_000, 100_000][(h(&[u64::from(n), 98, 0]) % 3) as usize];
                writeln!(out, "ifOperStatus={oper}i,ifHighSpeed={speed}i {ts}")
            }
            Kind::Ping => {
                let base = 1.0 + (h(&[0, 0, 0]) % 40_000) as f64 / 1000.0;
                let jit = (h(&[0, 1, r]) % 5000) as f64 / 1000.0;
                let loss = if h(&[0, 2, r]) % 50 == 0 { 20.0 } else { 0.0 };
                let recv = if loss > 0.0 { 4 } else { 5 };
                writeln!(
                    out,
                    "ping,host=telegraf-{:02},url={agent} average_response_ms={:.3},\
                     maximum_response_ms={:.3},minimum_response_ms={:.3},packets_received={recv}i,\
                     packets_transmitted=5i,percent_packet_loss={loss:.1},result_code=0i,\
                     standard_deviation_ms={:.3},ttl=63i {ts}",
                    id.tenant % 100,
                    base + jit / 2.0,
                    base + jit,
                    base,
                    jit / 4.0,
                )
            }
            Kind::Snmp => {
                let cpu = h(&[0, 3, r]) % 100;
                let mem_total = 1u64 << (30 + h(&[0, 4, 0]) % 3);
                let mem_used = mem_total / 4 + h(&[0, 5, r]) % (mem_total / 2);
                let uptime = h(&[0, 6, 0]) % 100_000_000 + r * 1000;
                writeln!(
                    out,
                    "snmp,agent_host={agent},host=telegraf-{:02},hostname={host}.net.example \
                     cpu_load={cpu}i,mem_total={mem_total}i,mem_used={mem_used}i,\
                     sysUpTime={uptime}i {ts}",
                    id.tenant % 100
                )
            }
        };
    }
}

/// Largest per-round increment of counter `f`: octets grow fast, errors slowly.
fn rate_cap(f: u64) -> u64 {
    match f {
        0 | 1 => 1_250_000_000,
        2..=5 => 1_000_000,
        _ => 100,
    }
}

fn narrow(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// splitmix64 over (seed, tenant, device, parts): a stable, well-spread hash.
fn mix(seed: u64, tenant: u32, device: u32, parts: &[u64]) -> u64 {
    let mut x = seed ^ (u64::from(tenant) << 32 | u64::from(device));
    x = splitmix(x);
    for p in parts {
        x = splitmix(x ^ p.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    }
    x
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn fleet() -> Fleet {
        Fleet {
            tenants: 3,
            devices: 5,
            interfaces: 4,
            seed: 42,
            start_ns: 1_700_000_000_000_000_000,
        }
    }

    #[test]
    fn line_is_a_pure_function_of_its_index() {
        let f = fleet();
        for i in [0, 1, 5, 6, 89, 90, 1000, 123_456] {
            assert_eq!(f.line(i), f.line(i));
            assert_eq!(f.line(i), fleet().line(i));
        }
        let other_seed = Fleet { seed: 43, ..f };
        assert_ne!(f.line(0), other_seed.line(0));
    }

    #[test]
    fn index_decodes_round_tenant_device_kind() {
        let f = fleet();
        assert_eq!(f.lines_per_round(), 3 * 5 * 6);
        let id = f.id(90 + 30 + 6 + 4);
        assert_eq!(
            id,
            LineId {
                round: 1,
                tenant: 1,
                device: 1,
                kind: Kind::Ping
            }
        );
        assert_eq!(f.id(5).kind, Kind::Snmp);
        assert_eq!(f.id(3).kind, Kind::Interface(3));
        for j in 0..200 {
            assert_eq!(f.id(f.tenant_line_index(2, j)).tenant, 2);
        }
        assert_eq!(f.tenant_line_index(1, 30), 90 + 30);
    }

    #[test]
    fn lines_parse_as_line_protocol_with_ns_timestamps_and_monotone_counters() {
        let f = fleet();
        let per_round = f.lines_per_round();
        let mut prev: Option<Vec<i64>> = None;
        for round in 0..4 {
            let line = f.line(round * per_round + 2);
            assert!(line.starts_with("interface,agent_host=10.0.0.0,"), "{line}");
            let (_, rest) = line.split_once(' ').unwrap();
            let (fields, ts) = rest.rsplit_once(' ').unwrap();
            let ts: i64 = ts.parse().unwrap();
            assert_eq!(ts, f.start_ns + round as i64 * ROUND_NS);
            let vals: Vec<i64> = fields
                .split(',')
                .take(COUNTERS.len())
                .map(|kv| {
                    kv.split_once('=')
                        .unwrap()
                        .1
                        .trim_end_matches('i')
                        .parse()
                        .unwrap()
                })
                .collect();
            if let Some(p) = &prev {
                assert!(vals.iter().zip(p).all(|(v, p)| v >= p), "{vals:?} {p:?}");
            }
            prev = Some(vals);
        }
        let mut body = String::new();
        for i in 0..per_round * 2 {
            f.write_line(i, &mut body);
        }
        let parsed: Vec<_> = influxdb_line_protocol::parse_lines(&body).collect();
        assert_eq!(parsed.len() as u64, per_round * 2);
        assert!(parsed.iter().all(Result::is_ok));
    }

    #[test]
    fn interface_lines_are_about_433_bytes() {
        let f = Fleet {
            tenants: 1,
            devices: 100,
            interfaces: 48,
            seed: 1,
            start_ns: 1_764_000_000_000_000_000,
        };
        let mut body = String::new();
        for i in 0..f.lines_per_round() {
            f.write_line(i, &mut body);
        }
        let avg = body.len() as u64 / f.lines_per_round();
        assert!((380..=480).contains(&avg), "average line {avg} B");
    }
}
