//! `/metrics` on the admin listener, checked with a real Prometheus text parser (Python's
//! `prometheus_client.parser`), and config reload (SIGHUP, `POST /-/reload`) under writes.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::http::{self, Body, Request};
use crate::support::process::under_ci;
use crate::support::sluice::{Sluice, SluiceConfig};
use crate::support::victoria::VictoriaMetrics;

/// Parses Prometheus text with `prometheus_client.parser.text_string_to_metric_families`.
/// Returns `name{k="v",...}` (labels sorted) → value, or `None` (skip, loudly) when Python's
/// `prometheus_client` is missing and `CI` is unset.
fn parse_with_prometheus_client(text: &str) -> Option<BTreeMap<String, f64>> {
    const SCRIPT: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        labels = ",".join('%s="%s"' % (k, v) for k, v in sorted(s.labels.items()))
        out.append([s.name + "{" + labels + "}", s.value])
print(json.dumps(out))
"#;
    let probe = Command::new("python3")
        .args(["-c", "import prometheus_client.parser"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        let msg = "python3 with `prometheus_client` not found (scripts/test.sh installs it)";
        assert!(!under_ci(), "{msg}; CI is set, so this is a failure");
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!!!!!! SKIPPING TEST: {msg} !!!!!!!!\n"
        );
        return None;
    }
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write metrics to python");
    let out = child.wait_with_output().expect("python3 output");
    assert!(
        out.status.success(),
        "prometheus_client could not parse /metrics: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let samples: Vec<(String, f64)> = serde_json::from_slice(&out.stdout).expect("python json");
    Some(samples.into_iter().collect())
}

fn write(s: &Sluice, path_query: &str, token: &str, body: &str) -> u16 {
    Request::new("POST", &format!("{}{path_query}", s.url()))
        .header("Authorization", &format!("Token {token}"))
        .body(Body::Fixed(body.as_bytes().to_vec()))
        .send()
        .expect("write request")
        .status
}

fn lines(prefix: &str, n: usize) -> String {
    (0..n)
        .map(|i| format!("{prefix},host=h{i} value={i} {}\n", 1_700_000_000 + i))
        .collect()
}

const V2: &str = "/api/v2/write?org=o&bucket=telegraf&precision=s";
const V1: &str = "/write?db=telegraf&precision=s";

#[test]
fn metrics_parse_and_count_what_was_sent() {
    let cfg = SluiceConfig::new()
        .simple_tenant("acme", "tok-acme", &["*"])
        .simple_tenant("beta", "tok-beta", &["*"])
        .to_toml();
    let s = Sluice::start(&cfg);
    let mut acme_accepted_bytes = 0;
    for i in 0..4 {
        let body = lines(&format!("cpu{i}"), 25);
        acme_accepted_bytes += body.len();
        assert_eq!(write(&s, V2, "tok-acme", &body), 204);
    }
    for i in 0..3 {
        assert_eq!(
            write(&s, V1, "tok-beta", &lines(&format!("mem{i}"), 10)),
            204
        );
    }
    for _ in 0..2 {
        assert_eq!(write(&s, V2, "not-a-token", &lines("cpu", 3)), 401);
    }
    // v2: one bad line refuses the whole body (5 lines).
    let bad_v2 = format!("{}cpu value= 1\n", lines("disk", 4));
    for _ in 0..2 {
        assert_eq!(write(&s, V2, "tok-acme", &bad_v2), 400);
    }
    // v1: a partial write stores 3 lines and refuses 1.
    let bad_v1 = format!("{}net,host=x value=\"unterminated 1\n", lines("net", 3));
    assert_eq!(write(&s, V1, "tok-beta", &bad_v1), 400);

    let resp = http::get(&format!("{}/metrics", s.admin_url())).expect("GET /metrics");
    assert_eq!(resp.status, 200);
    assert!(
        resp.header("content-type")
            .is_some_and(|c| c.starts_with("text/plain; version=0.0.4")),
        "{:?}",
        resp.headers
    );
    let text = resp.text();
    let Some(m) = parse_with_prometheus_client(&text) else {
        return;
    };
    let get = |k: &str| -> f64 {
        *m.get(k)
            .unwrap_or_else(|| panic!("no sample {k} in /metrics:\n{text}"))
    };
    let req = |tenant: &str, route: &str, outcome: &str| {
        get(&format!(
            "sluice_write_requests_total{{outcome=\"{outcome}\",route=\"{route}\",tenant=\"{tenant}\"}}"
        ))
    };
    assert_eq!(req("acme", "/api/v2/write", "accepted"), 4.0);
    assert_eq!(req("beta", "/write", "accepted"), 3.0);
    assert_eq!(req("", "/api/v2/write", "refused"), 2.0);
    assert_eq!(req("acme", "/api/v2/write", "refused"), 2.0);
    assert_eq!(req("beta", "/write", "partial"), 1.0);
    assert_eq!(get("sluice_write_lines_total{tenant=\"acme\"}"), 100.0);
    assert_eq!(get("sluice_write_lines_total{tenant=\"beta\"}"), 33.0);
    // Every accepted line above is its own series (measurement × host).
    assert_eq!(get("sluice_series_live{tenant=\"acme\"}"), 100.0);
    assert_eq!(get("sluice_series_live{tenant=\"beta\"}"), 33.0);
    assert_eq!(
        get("sluice_write_bytes_total{outcome=\"accepted\",tenant=\"acme\"}"),
        acme_accepted_bytes as f64
    );
    assert_eq!(
        get("sluice_write_bytes_total{outcome=\"refused\",tenant=\"acme\"}"),
        (2 * bad_v2.len()) as f64
    );
    let refused = |tenant: &str, reason: &str| {
        let l = format!("{{reason=\"{reason}\",tenant=\"{tenant}\"}}");
        (
            get(&format!("sluice_write_refusals_total{l}")),
            get(&format!("sluice_write_refused_lines_total{l}")),
        )
    };
    assert_eq!(refused("", "auth"), (2.0, 0.0));
    assert_eq!(refused("acme", "parse"), (2.0, 10.0));
    assert_eq!(refused("beta", "parse"), (1.0, 1.0));
    // 8 records (4 + 3 + the partial write's), one fsync each: the writes were sequential.
    assert_eq!(get("sluice_wal_group_commit_records_sum{}"), 8.0);
    assert_eq!(get("sluice_wal_fsync_seconds_count{}"), 8.0);
    assert!(get("sluice_wal_fsync_seconds_bucket{le=\"+Inf\"}") == 8.0);
    assert!(get("sluice_wal_disk_bytes{}") > 0.0);
    assert!(get("sluice_wal_segments{}") >= 1.0);
    assert!(get("sluice_process_resident_memory_bytes{}") > 1e6);
    assert!(get("sluice_process_open_fds{}") > 3.0);
    assert!(get("sluice_process_cpu_seconds_total{}") >= 0.0);
    // /metrics is on the admin listener only.
    let main = http::get(&format!("{}/metrics", s.url())).expect("GET main /metrics");
    assert_eq!(main.status, 404, "{}", main.text());
}

/// Tokens rotated by SIGHUP while two clients write: the old token is refused from the
/// moment the new one works, the untouched tenant never notices, nothing gets a 5xx.
#[test]
fn sighup_rotates_a_token_under_writes() {
    let before = SluiceConfig::new()
        .simple_tenant("acme", "old-token", &["*"])
        .simple_tenant("beta", "beta-token", &["*"]);
    let after = SluiceConfig::new()
        .simple_tenant("acme", "new-token", &["*"])
        .simple_tenant("beta", "beta-token", &["*"]);
    let mut s = Sluice::start(&before.to_toml());
    let url = s.url();
    let stop = Arc::new(AtomicBool::new(false));
    let client = |tokens: Vec<&'static str>| {
        let (url, stop) = (url.clone(), stop.clone());
        thread::spawn(move || {
            let mut seen = Vec::new();
            let mut i = 0usize;
            while !stop.load(Ordering::SeqCst) {
                let token = tokens[i % tokens.len()];
                let status = Request::new("POST", &format!("{url}{V2}"))
                    .header("Authorization", &format!("Token {token}"))
                    .body(Body::Fixed(
                        format!("cpu value={i} {}\n", 1_700_000_000 + i).into(),
                    ))
                    .send()
                    .expect("write")
                    .status;
                seen.push((token, status));
                i += 1;
            }
            seen
        })
    };
    let rotating = client(vec!["old-token", "new-token"]);
    let steady = client(vec!["beta-token"]);
    thread::sleep(Duration::from_millis(300));
    s.rewrite_config(&after.to_toml());
    s.hangup();
    // Wait until the new token works, then keep writing a little.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let st = write(&s, V2, "new-token", "cpu value=1 1\n");
        if st == 204 {
            break;
        }
        assert_eq!(st, 401);
        assert!(
            Instant::now() < deadline,
            "SIGHUP reload did not apply:\n{}",
            s.stderr()
        );
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    let rotating = rotating.join().expect("rotating client");
    let steady = steady.join().expect("steady client");

    assert!(steady.len() > 5, "{steady:?}");
    assert!(steady.iter().all(|(_, st)| *st == 204), "{steady:?}");
    assert!(rotating.iter().all(|(_, st)| *st < 500), "{rotating:?}");
    // One switch point: before it old → 204 and new → 401, after it the reverse.
    let switch = rotating
        .iter()
        .position(|(t, st)| (*t == "new-token" && *st == 204) || (*t == "old-token" && *st == 401))
        .expect("the reload happened while the client wrote");
    let (pre, post) = rotating.split_at(switch);
    assert!(!pre.is_empty() && !post.is_empty(), "{rotating:?}");
    for (t, st) in pre {
        assert_eq!(
            *st,
            if *t == "old-token" { 204 } else { 401 },
            "{rotating:?}"
        );
    }
    for (t, st) in post {
        assert_eq!(
            *st,
            if *t == "new-token" { 204 } else { 401 },
            "{rotating:?}"
        );
    }

    // An invalid file is refused by POST /-/reload (400 naming the problem); the running
    // config stays.
    s.rewrite_config("[[tenant]]\nid = \"acme\"\nbuckets = [\"*\"]\n");
    let reload = |s: &Sluice| {
        Request::new("POST", &format!("{}/-/reload", s.admin_url()))
            .send()
            .expect("POST /-/reload")
    };
    let r = reload(&s);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("token_sha256"), "{}", r.text());
    assert_eq!(write(&s, V2, "new-token", "cpu value=1 1\n"), 204);
    // A valid one is applied, and settings that need a restart are named.
    let mut back = before.to_toml();
    back.push_str("[wal]\nsync = \"none\"\n");
    s.rewrite_config(&back);
    let r = reload(&s);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().contains("needs a restart to apply: wal.sync"),
        "{}",
        r.text()
    );
    assert_eq!(write(&s, V2, "old-token", "cpu value=1 1\n"), 204);
    assert_eq!(write(&s, V2, "new-token", "cpu value=1 1\n"), 401);
    let log = s.stderr();
    assert!(log.contains("SIGHUP: reloading the config file"), "{log}");
    assert!(log.contains("config reload refused"), "{log}");
    assert!(log.contains("need a restart"), "{log}");
}

/// Polls `/metrics` (parsed by `prometheus_client`) until `done` holds; returns the samples.
fn wait_metrics(
    s: &Sluice,
    what: &str,
    done: impl Fn(&BTreeMap<String, f64>) -> bool,
) -> Option<BTreeMap<String, f64>> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = http::get(&format!("{}/metrics", s.admin_url()))
            .expect("GET /metrics")
            .text();
        let m = parse_with_prometheus_client(&text)?;
        if done(&m) {
            return Some(m);
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}:\n{text}\n{}",
            s.stderr()
        );
        thread::sleep(Duration::from_millis(100));
    }
}

/// The forwarder's counters follow what reaches a real upstream, and its lag and network
/// errors show when the upstream goes away.
#[test]
fn forwarder_metrics_follow_a_real_upstream() {
    let Some(mut vm) = VictoriaMetrics::try_start() else {
        return;
    };
    let cfg = SluiceConfig::new()
        .upstream(&vm.url(), "v2")
        .simple_tenant("acme", "tok-acme", &["*"])
        .to_toml();
    let s = Sluice::start(&cfg);
    for i in 0..3 {
        assert_eq!(
            write(&s, V2, "tok-acme", &lines(&format!("fw{i}"), 20)),
            204
        );
    }
    let v = |m: &BTreeMap<String, f64>, k: &str| m.get(k).copied().unwrap_or(-1.0);
    let delivered = "sluice_forward_delivered_lines_total{tenant=\"acme\"}";
    let Some(m) = wait_metrics(&s, "60 delivered lines", |m| {
        v(m, delivered) == 60.0 && v(m, "sluice_forward_lag_records{}") == 0.0
    }) else {
        return;
    };
    assert!(v(&m, "sluice_forward_requests_total{tenant=\"acme\"}") >= 1.0);
    assert!(v(&m, "sluice_forward_upstream_responses_total{class=\"2xx\"}") >= 1.0);
    assert_eq!(
        v(&m, "sluice_forward_upstream_responses_total{class=\"5xx\"}"),
        0.0
    );
    assert_eq!(
        v(
            &m,
            "sluice_forward_dead_lettered_lines_total{tenant=\"acme\"}"
        ),
        0.0
    );
    assert_eq!(v(&m, "sluice_forward_retries_total{tenant=\"acme\"}"), 0.0);
    assert_eq!(v(&m, "sluice_forward_in_flight{}"), 0.0);
    assert_eq!(v(&m, "sluice_forward_failing{tenant=\"acme\"}"), 0.0);

    vm.stop();
    assert_eq!(write(&s, V2, "tok-acme", &lines("late", 5)), 204);
    wait_metrics(&s, "a network error and lag", |m| {
        v(
            m,
            "sluice_forward_upstream_responses_total{class=\"network\"}",
        ) >= 1.0
            && v(m, "sluice_forward_retries_total{tenant=\"acme\"}") >= 1.0
            && v(m, "sluice_forward_lag_records{}") >= 1.0
            && v(m, "sluice_forward_lag_seconds{}") > 0.0
            && v(m, "sluice_forward_failing{tenant=\"acme\"}") == 1.0
    });
}

/// `--log-format json`: every log line is one JSON object; a refused write is logged at debug
/// with its reason, so not at the default level (`info`, when `RUST_LOG` is unset).
#[test]
fn log_format_json_writes_json_lines() {
    let cfg = SluiceConfig::new()
        .simple_tenant("acme", "tok-acme", &["*"])
        .to_toml();
    let s = Sluice::start_with_args(&cfg, &["--log-format", "json"]);
    assert_eq!(write(&s, V2, "nope", "cpu value=1 1\n"), 401);
    let log = s.stderr();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|v| v["fields"]["message"] == "ready" && v["level"] == "INFO"),
        "{log}"
    );
    if std::env::var_os("RUST_LOG").is_none() {
        assert!(
            !log.contains("write refused"),
            "debug line at info level: {log}"
        );
    }
}

/// A half-sent request on the admin listener (a stuck scraper) does not hold up SIGTERM.
#[test]
fn a_stuck_admin_connection_does_not_delay_shutdown() {
    let cfg = SluiceConfig::new()
        .simple_tenant("acme", "tok-acme", &["*"])
        .to_toml();
    let mut s = Sluice::start(&cfg);
    let admin = s.admin_url();
    let addr = admin.trim_start_matches("http://");
    let mut stuck = std::net::TcpStream::connect(addr).expect("connect admin");
    stuck
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .expect("half a request");
    thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    s.terminate();
    let st = s.wait_exit(Duration::from_secs(10));
    assert!(st.success(), "{st:?}\n{}", s.stderr());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        started.elapsed()
    );
    drop(stuck);
}
