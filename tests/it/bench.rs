//! `sluice-bench run` against a real sluice forwarding to a real InfluxDB 1.6.7: the accepted
//! line count it reports must equal what reaches the upstream (every 204'd line is there).

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::influxdb::{InfluxOpts, InfluxV1};
use crate::support::sluice::{Sluice, SluiceConfig};

#[test]
fn reported_accepted_lines_all_reach_influxdb() {
    let Some(db) = InfluxV1::try_start(InfluxOpts::default()) else {
        return;
    };
    let cfg = SluiceConfig::new()
        .upstream(&db.url(), "v1")
        .wal("sync", "always")
        .simple_tenant("acme", "tok-acme", &["benchdb"])
        .to_toml();
    let s = Sluice::start(&cfg);
    let pid = s.pid().expect("sluice runs");
    // 2 devices × 8 interfaces: 20 lines per round, 6000 lines = 300 rounds, each line once.
    let out = Command::new(env!("CARGO_BIN_EXE_sluice-bench"))
        .args([
            "run",
            "--url",
            &s.url(),
            "--tenant",
            "acme:tok-acme:benchdb",
        ])
        .args([
            "--api",
            "v1",
            "--devices",
            "2",
            "--interfaces",
            "8",
            "--batch",
            "250",
        ])
        .args(["--lines", "6000", "-c", "4", "--quiet"])
        .arg(format!("--pid=sluice={pid}"))
        .output()
        .expect("run sluice-bench");
    assert!(
        out.status.success(),
        "sluice-bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let accepted = v["lines_accepted"].as_u64().expect("lines_accepted");
    assert_eq!(accepted, 6000, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(v["requests_ok"].as_u64(), Some(24));
    assert!(v["servers"][0]["cpu_s"].as_f64().is_some_and(|c| c > 0.0));
    assert!(v["latency"]["p99_ms"].as_f64().is_some_and(|p| p > 0.0));

    let deadline = Instant::now() + Duration::from_secs(20);
    let upstream = loop {
        if !db
            .exec("SHOW DATABASES")
            .to_string()
            .contains("\"benchdb\"")
        {
            assert!(
                Instant::now() < deadline,
                "no database upstream\n{}",
                s.stderr()
            );
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        let n: u64 = ["interface", "ping", "snmp"]
            .iter()
            .map(|m| db.count("benchdb", m))
            .sum();
        if n >= accepted || Instant::now() > deadline {
            break n;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(upstream, accepted, "sluice stderr:\n{}", s.stderr());
    // One ping line per device per round: 300 rounds × 2 devices.
    assert_eq!(db.count("benchdb", "ping"), 600);
}
