//! The Flux data set: one hour of Telegraf-shaped lines (cpu, interface counters with a
//! reset, ping with gaps), written to InfluxDB 1.6.7 and to sluice alike.
//!
//! Owns: what the data is and loading it. The hour starts at [`t0`]: 10:00 UTC yesterday
//! (inside sluice's default retention), one gather every 10 s, timestamps in whole seconds.

use crate::support::http::{Body, Request, form_encode};
use crate::support::influxdb::InfluxV1;
use crate::support::sluice::Sluice;

pub const S: i64 = 1_000_000_000;
pub const TOKEN: &str = "flux-acme-token";
pub const OTHER_TOKEN: &str = "flux-other-token";

/// 10:00 UTC yesterday, ns.
pub fn t0() -> i64 {
    let now = crate::support::telegraf::now_ns();
    let day = 86_400 * S;
    now / day * day - day + 10 * 3600 * S
}

/// RFC3339 of `t0 + minutes`.
pub fn at(minutes: i64) -> String {
    let secs = t0() / S + minutes * 60;
    let dt = chrono::DateTime::from_timestamp(secs, 0).expect("time");
    dt.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Deterministic pseudo-random numbers (xorshift).
struct Rng(u64);
impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The lines, seconds precision.
pub fn lines() -> Vec<String> {
    let mut out = Vec::new();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let base = t0() / S;
    let (mut in1, mut in2, mut out1, mut out2) = (5_000_000i64, 9_000i64, 1_000i64, 77i64);
    for g in 0..360i64 {
        let t = base + g * 10;
        for host in ["web01", "web02"] {
            for cpu in ["cpu-total", "cpu0"] {
                let idle = 40.0 + 60.0 * rng.unit();
                let user = 100.0 * rng.unit() / 3.0;
                out.push(format!(
                    "cpu,cpu={cpu},host={host} usage_idle={idle},usage_user={user} {t}"
                ));
            }
        }
        in1 += (rng.unit() * 100_000.0) as i64;
        in2 += (rng.unit() * 1_000.0) as i64;
        out1 += (rng.unit() * 50_000.0) as i64;
        out2 += (rng.unit() * 500.0) as i64;
        if g == 180 {
            in1 = 1_234; // the agent rebooted: the counter starts again
        }
        let status = if (200..230).contains(&g) { 2 } else { 1 };
        out.push(format!("interface,agent_host=10.0.0.1,ifName=Gi1/0/1 ifHCInOctets={in1}i,ifHCOutOctets={out1}i,ifOperStatus=1i {t}"));
        out.push(format!("interface,agent_host=10.0.0.1,ifName=Gi1/0/2 ifHCInOctets={in2}i,ifHCOutOctets={out2}i,ifOperStatus={status}i {t}"));
        out.push(format!(
            "ping,url=8.8.8.8 average_response_ms={},percent_packet_loss={} {t}",
            10.0 + 5.0 * rng.unit(),
            if g % 11 == 0 { 20.0 } else { 0.0 }
        ));
        if g % 7 != 3 {
            out.push(format!(
                "ping,url=1.1.1.1 average_response_ms={},percent_packet_loss=0 {t}",
                20.0 + 8.0 * rng.unit()
            ));
        }
    }
    out
}

fn until_204(req: &Request) {
    for _ in 0..200 {
        match req.send() {
            Ok(r) if r.status == 204 => return,
            Ok(r) if r.status == 503 => {}
            Ok(r) => panic!("{} answered {}: {}", req.url, r.status, r.text()),
            Err(_) => {}
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{} never acknowledged the write", req.url);
}

pub fn into_influx(influx: &InfluxV1, lines: &[String]) {
    influx.create_db("telegraf");
    for chunk in lines.chunks(5000) {
        let url = format!(
            "{}/write?{}",
            influx.url(),
            form_encode(&[("db", "telegraf"), ("precision", "s")])
        );
        until_204(&Request::new("POST", &url).body(Body::Fixed(chunk.join("\n").into_bytes())));
    }
}

pub fn into_sluice(sluice: &Sluice, lines: &[String]) {
    for chunk in lines.chunks(5000) {
        let url = format!(
            "{}/api/v2/write?{}",
            sluice.url(),
            form_encode(&[("org", "acme"), ("bucket", "telegraf"), ("precision", "s")])
        );
        until_204(
            &Request::new("POST", &url)
                .header("Authorization", &format!("Token {TOKEN}"))
                .body(Body::Fixed(chunk.join("\n").into_bytes())),
        );
    }
}

/// An embedded-mode sluice with tenant `acme` (bucket `telegraf`) and tenant `other`
/// (bucket `secret`, holding one point), loaded with [`lines`].
pub fn sluice_loaded() -> Sluice {
    let config = crate::support::sluice::SluiceConfig::new()
        .simple_tenant("acme", TOKEN, &["telegraf"])
        .simple_tenant("other", OTHER_TOKEN, &["secret"])
        .to_toml();
    let sluice = Sluice::start(&config);
    into_sluice(&sluice, &lines());
    let url = format!(
        "{}/api/v2/write?{}",
        sluice.url(),
        form_encode(&[("org", "other"), ("bucket", "secret"), ("precision", "s")])
    );
    until_204(
        &Request::new("POST", &url)
            .header("Authorization", &format!("Token {OTHER_TOKEN}"))
            .body(Body::Fixed(
                format!("cpu,host=secret-host usage_idle=1 {}", t0() / S).into_bytes(),
            )),
    );
    sluice
}
