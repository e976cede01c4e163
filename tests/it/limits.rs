//! Per-tenant limits and overload protection on a real `sluice serve` (issue 4's checks).
//!
//! Owns: write rate limits driven by clients that honour Retry-After (accepted lines ≈ rate ×
//! time + burst, every refusal has Retry-After, no client refused more than twice in a row),
//! 413 beyond the burst, 503 (never 429) for v1, series cardinality (exactly `max_series` new
//! series, partial writes naming the limit, across a graceful restart and a crash), the global
//! in-flight byte limit, and slowloris connections. Does not own: the bucket maths (unit tests
//! in `limits`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::http::{Body, Request, Response};
use crate::support::influxdb::{InfluxOpts, InfluxV1};
use crate::support::sluice::{Sluice, token_sha256};

const TOKEN: &str = "tok-limits";

fn config(limits: &str, extra: &str) -> String {
    format!(
        r#"{extra}
[[tenant]]
id = "acme"
token_sha256 = ["{}"]
buckets = ["*"]
limits = {{ {limits} }}
"#,
        token_sha256(TOKEN)
    )
}

fn write_v2(s: &Sluice, body: Vec<u8>) -> Response {
    Request::new(
        "POST",
        &format!("{}/api/v2/write?org=o&bucket=telegraf&precision=s", s.url()),
    )
    .header("Authorization", &format!("Token {TOKEN}"))
    .body(Body::Fixed(body))
    .send()
    .expect("send v2 write")
}

fn write_v1(s: &Sluice, body: Vec<u8>) -> Response {
    Request::new(
        "POST",
        &format!("{}/write?db=telegraf&precision=s", s.url()),
    )
    .basic_auth("acme", TOKEN)
    .body(Body::Fixed(body))
    .send()
    .expect("send v1 write")
}

fn lines(client: usize, n: usize, ts: u64) -> Vec<u8> {
    let mut out = String::new();
    for i in 0..n {
        out.push_str(&format!("load,client={client} v={i}i {ts}\n"));
    }
    out.into_bytes()
}

fn series_lines(range: std::ops::Range<usize>) -> Vec<u8> {
    range
        .map(|i| format!("card,host=h{i} v=1i 1700000000\n"))
        .collect::<String>()
        .into_bytes()
}

fn retry_after(r: &Response) -> u64 {
    r.header("retry-after")
        .unwrap_or_else(|| panic!("refusal without Retry-After: {} {}", r.status, r.text()))
        .parse()
        .expect("integer Retry-After")
}

/// 5 clients at 10 000 lines/s each (1 000-line batches every 100 ms) against a limit of
/// 10 000 lines/s with a burst of 20 000, for 20 s; each client sleeps Retry-After after a 429.
#[test]
fn rate_limit_paces_clients_that_honour_retry_after() {
    const RATE: u64 = 10_000;
    const BURST: u64 = 20_000;
    const RUN: Duration = Duration::from_secs(20);
    let s = Sluice::start(&config(
        &format!("lines_per_sec = {RATE}, burst_lines = {BURST}"),
        "",
    ));
    let s = Arc::new(s);
    let start = Instant::now();
    let handles: Vec<_> = (0..5)
        .map(|c| {
            let s = s.clone();
            thread::spawn(move || {
                let (mut accepted, mut refused, mut run, mut worst_run) = (0u64, 0u64, 0u32, 0u32);
                let mut next = Instant::now();
                while next.duration_since(start) < RUN {
                    let now = Instant::now();
                    if next > now {
                        thread::sleep(next - now);
                    }
                    let r = write_v2(&s, lines(c, 1_000, 1_700_000_000));
                    match r.status {
                        204 => {
                            accepted += 1_000;
                            run = 0;
                            next += Duration::from_millis(100);
                        }
                        429 => {
                            assert!(r.text().contains("limit of 10000 lines/s"), "{}", r.text());
                            refused += 1;
                            run += 1;
                            worst_run = worst_run.max(run);
                            next = Instant::now() + Duration::from_secs(retry_after(&r));
                        }
                        other => panic!("unexpected {other}: {}", r.text()),
                    }
                }
                (accepted, refused, worst_run)
            })
        })
        .collect();
    let results: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("client"))
        .collect();
    let elapsed = start.elapsed().as_secs_f64().min(RUN.as_secs_f64());
    let accepted: u64 = results.iter().map(|r| r.0).sum();
    let refused: u64 = results.iter().map(|r| r.1).sum();
    let worst = results.iter().map(|r| r.2).max().unwrap_or(0);
    let expected = RATE as f64 * elapsed + BURST as f64;
    eprintln!(
        "[limits] rate: {accepted} lines accepted in {elapsed:.1}s (expected {expected:.0}), \
         {refused} refusals, longest refusal run {worst}"
    );
    assert!(
        (accepted as f64 - expected).abs() <= 0.05 * expected,
        "accepted {accepted}, expected {expected:.0} ± 5%"
    );
    assert!(refused > 0, "the clients were never throttled");
    assert!(
        worst <= 2,
        "a client honouring Retry-After was refused {worst} times in a row"
    );
}

#[test]
fn burst_overflow_is_413_and_v1_is_throttled_with_503() {
    let s = Sluice::start(&config(
        "lines_per_sec = 100, burst_lines = 200, bytes_per_sec = \"1MiB\", burst_bytes = 20000",
        "",
    ));
    // More lines than the burst: never fits.
    let r = write_v2(&s, lines(0, 201, 1));
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(
        r.text().contains("burst limit of 200 lines"),
        "{}",
        r.text()
    );
    // More bytes than the byte burst (checked from Content-Length before reading).
    let r = write_v2(&s, vec![b'#'; 20_001]);
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(
        r.text().contains("burst limit of 20000 bytes"),
        "{}",
        r.text()
    );
    // Nothing was consumed by the refusals: the whole burst is still there.
    assert_eq!(write_v1(&s, lines(0, 200, 1)).status, 204);
    let r = write_v1(&s, lines(0, 150, 2));
    assert_eq!(
        r.status,
        503,
        "v1 is throttled with 503, never 429: {}",
        r.text()
    );
    assert_eq!(retry_after(&r), 2, "150 lines at 100/s: 1.5 s, rounded up");
    assert!(
        r.text()
            .contains("tenant \\\"acme\\\" is over its limit of 100 lines/s"),
        "{}",
        r.text()
    );
    // A v2 client queues behind the refused v1 request (whose tokens are booked for it) and
    // is admitted when it comes back after its Retry-After.
    let r = write_v2(&s, lines(0, 150, 3));
    assert_eq!(r.status, 429, "{}", r.text());
    let wait = retry_after(&r);
    assert_eq!(wait, 3, "queued behind the v1 booking: 3 s");
    thread::sleep(Duration::from_secs(wait));
    assert_eq!(write_v2(&s, lines(0, 150, 3)).status, 204);
}

fn card_config() -> String {
    config("max_series = 500", "")
}

/// Exactly 500 of 1 000 new series are accepted; existing ones keep flowing; the refusals name
/// the limit; the count holds across a graceful restart and a crash (kill -9).
#[test]
fn cardinality_limit_holds_across_restart_and_crash() {
    let mut s = Sluice::start(&card_config());
    let r = write_v2(&s, series_lines(0..1_000));
    assert_eq!(r.status, 400, "{}", r.text());
    let body = r.json();
    assert_eq!(body["code"], "invalid");
    let msg = body["message"].as_str().unwrap_or_default();
    assert!(msg.contains("partial write"), "{msg}");
    assert!(
        msg.contains("limit of 500 series in bucket \"telegraf\""),
        "{msg}"
    );
    assert!(msg.contains("500 lines of new series refused"), "{msg}");
    let check = |s: &Sluice, when: &str| {
        let r = write_v2(s, series_lines(0..500));
        assert_eq!(
            r.status,
            204,
            "{when}: existing series must pass: {}",
            r.text()
        );
        let r = write_v1(s, series_lines(499..501));
        assert_eq!(r.status, 400, "{when}: {}", r.text());
        let t = r.text();
        assert!(
            t.contains("partial write") && t.contains("1 lines of new series refused"),
            "{when}: {t}"
        );
    };
    check(&s, "before restart");
    s.restart();
    check(&s, "after a graceful restart");
    // New series written after the last snapshot are rebuilt from the WAL after a crash.
    let mut s2 = Sluice::start(&card_config());
    assert_eq!(write_v2(&s2, series_lines(1_000..1_500)).status, 204);
    s2.kill9();
    s2.restart();
    let r = write_v2(&s2, series_lines(1_000..1_500));
    assert_eq!(r.status, 204, "after a crash: {}", r.text());
    let r = write_v2(&s2, series_lines(1_500..1_501));
    assert_eq!(r.status, 400, "after a crash: {}", r.text());
}

/// In front of InfluxDB: the stored series are exactly the first 500.
#[test]
fn cardinality_partial_write_stores_the_other_lines_upstream() {
    let Some(influx) = InfluxV1::try_start(InfluxOpts::default()) else {
        return;
    };
    influx.create_db("telegraf");
    let s = Sluice::start(&config(
        "max_series = 500",
        &format!("[upstream]\nurl = \"{}\"\napi = \"v1\"\n", influx.url()),
    ));
    let r = write_v1(&s, series_lines(0..1_000));
    assert_eq!(r.status, 400, "{}", r.text());
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut count = 0;
    while Instant::now() < deadline {
        let v = influx.query("telegraf", "SHOW SERIES FROM card");
        count = v["results"][0]["series"][0]["values"]
            .as_array()
            .map_or(0, Vec::len);
        if count >= 500 {
            break;
        }
        thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(count, 500, "series stored upstream");
    let v = influx.query("telegraf", "SHOW SERIES FROM card WHERE host = 'h500'");
    assert!(
        v["results"][0]["series"].is_null(),
        "a refused series reached InfluxDB: {v}"
    );
}

#[test]
fn in_flight_bytes_limit_answers_503_before_reading() {
    let s = Sluice::start(&config("", "[server]\nmax_in_flight_bytes = \"1KiB\"\n"));
    let r = write_v2(&s, lines(0, 100, 1));
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(retry_after(&r), 1);
    assert!(r.text().contains("overloaded"), "{}", r.text());
    assert_eq!(write_v2(&s, lines(0, 10, 1)).status, 204);
}

/// 500 connections trickling one header byte per second: normal writes still succeed, and the
/// trickling connections are closed after `header_read_timeout`.
#[test]
fn slowloris_connections_do_not_stop_writes() {
    let s = Sluice::start(&config("", "[server]\nheader_read_timeout = \"3s\"\n"));
    let addr = s.listen().to_owned();
    let baseline: Vec<f64> = (0..20).map(|_| timed_write(&s)).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let mut socks: Vec<TcpStream> = (0..500)
        .map(|_| TcpStream::connect(&addr).expect("connect"))
        .collect();
    let head = b"POST /api/v2/write?bucket=x HTTP/1.1\r\nHost: x\r\n";
    let trickler = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) && i < head.len() {
                for sock in &mut socks {
                    let _ = sock.write_all(&head[i..=i]);
                }
                i += 1;
                thread::sleep(Duration::from_secs(1));
            }
            // Cut off by sluice: a read gives EOF or a reset rather than timing out.
            socks
                .iter_mut()
                .filter(|sock: &&mut TcpStream| {
                    let _ = sock.set_read_timeout(Some(Duration::from_millis(5)));
                    let mut buf = [0u8; 256];
                    match (&**sock).read(&mut buf) {
                        // EOF, or an error answer before the close.
                        Ok(n) => n == 0 || buf[..n].starts_with(b"HTTP/1.1 4"),
                        Err(e) => !matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ),
                    }
                })
                .count()
        })
    };
    thread::sleep(Duration::from_secs(1));
    let loaded: Vec<f64> = (0..40)
        .map(|_| {
            let t = timed_write(&s);
            thread::sleep(Duration::from_millis(100));
            t
        })
        .collect();
    stop.store(true, Ordering::Relaxed);
    let closed = trickler.join().expect("trickler");
    eprintln!(
        "[limits] slowloris: write p50/p99 {:.1}/{:.1} ms unloaded, {:.1}/{:.1} ms with 500 trickling \
         connections ({closed} of them cut off by sluice)",
        pct(&baseline, 0.5),
        pct(&baseline, 0.99),
        pct(&loaded, 0.5),
        pct(&loaded, 0.99)
    );
    assert!(
        closed >= 450,
        "only {closed} of 500 trickling connections were cut off"
    );
}

/// Tenant `flood` hammers far past its limit without honouring Retry-After; tenant `acme`
/// keeps writing: all its writes succeed. Latencies go to the report, not into assertions.
#[test]
fn a_flooding_tenant_does_not_refuse_another() {
    let cfg = format!(
        "{}\n[[tenant]]\nid = \"flood\"\ntoken_sha256 = [\"{}\"]\nbuckets = [\"*\"]\n\
         limits = {{ lines_per_sec = 1000, burst_lines = 1000 }}\n",
        config("", ""),
        token_sha256("tok-flood")
    );
    let s = Arc::new(Sluice::start(&cfg));
    let baseline: Vec<f64> = (0..30).map(|_| timed_write(&s)).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let flooders: Vec<_> = (0..4)
        .map(|c| {
            let (s, stop) = (s.clone(), stop.clone());
            thread::spawn(move || {
                let mut refused = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let r = Request::new(
                        "POST",
                        &format!("{}/api/v2/write?org=o&bucket=b&precision=s", s.url()),
                    )
                    .header("Authorization", "Token tok-flood")
                    .body(Body::Fixed(lines(c, 500, 1)))
                    .send()
                    .expect("flood write");
                    if r.status == 429 {
                        refused += 1;
                    }
                }
                refused
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(500));
    let loaded: Vec<f64> = (0..30).map(|_| timed_write(&s)).collect();
    stop.store(true, Ordering::Relaxed);
    let refused: u64 = flooders
        .into_iter()
        .map(|h| h.join().expect("flooder"))
        .sum();
    eprintln!(
        "[limits] flood: other tenant's write p50/p99 {:.1}/{:.1} ms alone, {:.1}/{:.1} ms while \
         `flood` got {refused} 429s",
        pct(&baseline, 0.5),
        pct(&baseline, 0.99),
        pct(&loaded, 0.5),
        pct(&loaded, 0.99)
    );
    assert!(refused > 0, "the flooding tenant was never throttled");
}

fn timed_write(s: &Sluice) -> f64 {
    let t = Instant::now();
    let r = write_v2(s, lines(9, 10, 1));
    assert_eq!(r.status, 204, "{}", r.text());
    t.elapsed().as_secs_f64() * 1000.0
}

fn pct(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// A limit changed in the file and reloaded with SIGHUP applies at once, without a restart
/// and without a 5xx: a batch over the old burst gets 413, the same batch fits the new one.
#[test]
fn a_limit_raised_by_sighup_applies_at_once() {
    let mut s = Sluice::start(&config("lines_per_sec = 100, burst_lines = 200", ""));
    let r = write_v2(&s, lines(0, 500, 1));
    assert_eq!(r.status, 413, "{}", r.text());
    s.rewrite_config(&config("lines_per_sec = 1000, burst_lines = 2000", ""));
    s.hangup();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = write_v2(&s, lines(0, 500, 2));
        assert!(
            r.status < 500,
            "a 5xx during the reload: {} {}",
            r.status,
            r.text()
        );
        if r.status == 204 {
            break;
        }
        assert_eq!(r.status, 413, "{}", r.text());
        assert!(
            Instant::now() < deadline,
            "the new limit never applied\n{}",
            s.stderr()
        );
        thread::sleep(Duration::from_millis(50));
    }
    // And lowered again: the old burst is back.
    s.rewrite_config(&config("lines_per_sec = 100, burst_lines = 200", ""));
    s.hangup();
    let deadline = Instant::now() + Duration::from_secs(10);
    while write_v2(&s, lines(0, 500, 3)).status != 413 {
        assert!(Instant::now() < deadline, "the lowered limit never applied");
        thread::sleep(Duration::from_millis(50));
    }
}
