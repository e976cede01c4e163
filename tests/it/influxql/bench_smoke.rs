//! One tiny run of `sluice-bench query` (InfluxDB 1.6.7 and sluice, a few thousand lines): the
//! mode runs end to end, InfluxDB's timings are there, and where sluice answers, it answers
//! the same number of rows; sluice answers the Flux equivalents too.

use std::process::Command;

#[test]
fn query_bench_runs_end_to_end() {
    if crate::support::process::peer_binary("influxd", "influxdb").is_none() {
        return;
    }
    let out_dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_sluice-bench"))
        .args([
            "query",
            "--hours",
            "1",
            "--deep-devices",
            "3",
            "--wide-devices",
            "20",
        ])
        .args([
            "--interfaces",
            "8",
            "--repeat",
            "1",
            "--sluice-bin",
            env!("CARGO_BIN_EXE_sluice"),
        ])
        .arg("--out")
        .arg(out_dir.path())
        .output()
        .expect("run sluice-bench query");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "sluice-bench query failed: {stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let timings = v["timings"].as_array().expect("timings");
    assert_eq!(
        timings.len(),
        14,
        "4 queries × 2 systems, sluice in Flux, and each system's /ping floor: {stderr}"
    );
    let floor = "/ping (round-trip floor)";
    for sys in ["influxd 1.6", "sluice"] {
        let t = timings
            .iter()
            .find(|t| t["system"] == sys && t["query"] == floor)
            .expect("a floor per system");
        assert!(t["error"].is_null() && t["median_ms"].is_f64(), "{t}");
    }
    for t in timings
        .iter()
        .filter(|t| t["query"].as_str().is_some_and(|q| q.ends_with(" [flux]")))
    {
        assert_eq!(t["system"], "sluice", "{t}");
        assert!(t["error"].is_null(), "Flux: {t}");
        assert!(t["rows"].as_u64().is_some_and(|r| r > 0), "Flux: {t}");
    }
    for t in timings
        .iter()
        .filter(|t| t["system"] == "influxd 1.6" && t["query"] != floor)
    {
        assert!(t["error"].is_null(), "influxd: {t}");
        assert!(t["rows"].as_u64().is_some_and(|r| r > 0), "influxd: {t}");
        let twin = timings
            .iter()
            .find(|s| s["system"] == "sluice" && s["query"] == t["query"])
            .expect("sluice ran the same query");
        if twin["error"].is_null() {
            assert_eq!(twin["rows"], t["rows"], "{}", t["query"]);
        }
    }
    let table = std::fs::read_to_string(out_dir.path().join("table.md")).expect("table.md");
    assert!(table.contains("| mean 1h/10s, 20 series |"), "{table}");
    assert!(
        table.contains("| chained variable, 160 series | ") && table.contains(", 8 rows) |"),
        "{table}"
    );
    assert!(
        table.contains("| nnd 1h, 8 ifaces: sluice in Flux |"),
        "{table}"
    );
    assert_eq!(v["loads"][0]["lines"].as_u64(), Some(11_000));
}
