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

/// Open loop measures latency from each request's intended send time: when sluice is frozen
/// (SIGSTOP) for 1 s mid-run, requests queue behind the stall and the reported maximum
/// includes the pause, while the median stays near the service time.
#[test]
fn open_loop_latency_includes_a_stall() {
    let cfg = SluiceConfig::new()
        .wal("sync", "always")
        .simple_tenant("acme", "tok-acme", &["benchdb"])
        .to_toml();
    let s = Sluice::start(&cfg);
    let pid = s.pid().expect("sluice runs");
    let bench = Command::new(env!("CARGO_BIN_EXE_sluice-bench"))
        .args([
            "run",
            "--url",
            &s.url(),
            "--tenant",
            "acme:tok-acme:benchdb",
        ])
        .args(["--devices", "2", "--interfaces", "8", "--batch", "100"])
        .args([
            "--rate",
            "2000",
            "--duration",
            "6s",
            "--warmup",
            "0s",
            "--pool-lines",
            "4000",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run sluice-bench");
    // The pool is built before the clock starts: stall sluice only once progress lines show
    // the load running.
    let mut bench = bench;
    let stderr = bench.stderr.take().expect("piped stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead as _;
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.trim_start().starts_with('[') {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("sluice-bench never started sending");
    std::thread::sleep(Duration::from_millis(1000));
    let signal = |sig: &str| {
        let st = Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .expect("kill");
        assert!(st.success(), "kill {sig}");
    };
    signal("-STOP");
    std::thread::sleep(Duration::from_millis(1000));
    signal("-CONT");
    let out = bench.wait_with_output().expect("sluice-bench output");
    let err = reader.join().expect("stderr reader");
    assert!(out.status.success(), "sluice-bench failed: {err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let max = v["latency"]["max_ms"].as_f64().expect("max_ms");
    let p50 = v["latency"]["p50_ms"].as_f64().expect("p50_ms");
    eprintln!("[bench] open loop with a 1 s SIGSTOP: p50 {p50} ms, max {max} ms");
    // Requests are 50 ms apart: the first one due after the stop waits at least 950 ms.
    assert!(max >= 900.0, "the stall is hidden: max {max} ms\n{err}");
    assert!(
        p50 < 500.0,
        "median {p50} ms is not the service time\n{err}"
    );
}
