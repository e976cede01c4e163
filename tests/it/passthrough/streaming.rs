//! A 100 MB answer passes through with flat memory, and the byte limit cuts a larger one.
//!
//! influxd 1.6.7 generates the answer cheaply: one point, and `GROUP BY time(1s) fill(0)` over
//! 36 days gives a row per second (3.1 million rows, ~103 MB of chunked JSON). The client reads
//! the answer as it arrives, de-chunks it (and gunzips it: the InfluxQL answer is asked for
//! with `Accept-Encoding: gzip`, as Grafana does) and hashes it; sluice's peak RSS (`VmHWM` in
//! `/proc/PID/status`) is read before and after.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::flux::{UPSTREAM_TOKEN, fronting_config, upstream_with_two_points};
use super::influxql::{ACME, config};
use super::report;
use crate::support::http::form_encode;
use crate::support::influxdb::{ADMIN_PASSWORD, ADMIN_USER, InfluxOpts, InfluxV1};
use crate::support::sluice::Sluice;

/// 36 days of one-second windows, four columns each.
const BIG: &str = "SELECT count(v) AS a, count(v) AS b, count(v) AS c, count(v) AS d FROM big WHERE time >= 0s AND time < 3110400s GROUP BY time(1s) fill(0)";

/// What a streamed answer came to.
#[derive(Debug, PartialEq, Eq)]
struct Streamed {
    status: u16,
    bytes: u64,
    sha256: String,
    /// The chunked body ended with its last (empty) chunk, or all of a Content-Length came.
    complete: bool,
}

/// `GET <path>` on `addr` with one header, the body read chunk by chunk and discarded.
fn stream_get(addr: &str, path: &str, auth: &str) -> Streamed {
    stream(addr, "GET", path, auth, "", false)
}

/// [`stream_get`] asking for gzip, as Grafana's InfluxQL client does.
fn stream_get_gzip(addr: &str, path: &str, auth: &str) -> Streamed {
    stream(addr, "GET", path, auth, "", true)
}

/// `<method> <path>` on `addr` (with a JSON `body` when not empty), the answer's body read
/// as it arrives, hashed and discarded. With `gzip` the request says `Accept-Encoding: gzip`
/// (as Grafana's client does), the answer must come gzipped, and what is hashed and counted
/// is the decoded body.
fn stream(addr: &str, method: &str, path: &str, auth: &str, body: &str, gzip: bool) -> Streamed {
    let mut tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(120)))
        .expect("timeout");
    let len = body.len();
    let accept = if gzip {
        "Accept-Encoding: gzip\r\n"
    } else {
        ""
    };
    write!(
        tcp,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {auth}\r\n{accept}Content-Type: application/json\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n{body}"
    )
    .expect("send");
    let mut r = BufReader::with_capacity(64 << 10, tcp);
    let mut line = String::new();
    r.read_line(&mut line).expect("status line");
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let mut chunked = false;
    let mut length: Option<u64> = None;
    let mut gzipped = false;
    loop {
        line.clear();
        r.read_line(&mut line).expect("header");
        if line.trim().is_empty() {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("transfer-encoding: chunked") {
            chunked = true;
        }
        if lower.starts_with("content-encoding: gzip") {
            gzipped = true;
        }
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().ok();
        }
    }
    assert_eq!(
        gzipped, gzip,
        "Content-Encoding gzip exactly when asked for"
    );
    // A whole answer with a Content-Length (the embedded upstream's), or a chunked one.
    let framing = if chunked {
        Framing::Chunked { left: 0 }
    } else {
        Framing::Length {
            left: length.expect("a chunked answer or a Content-Length"),
        }
    };
    let mut body = Body {
        r,
        framing,
        done: false,
    };
    let (bytes, sha256) = if gzip {
        drain(&mut flate2::read::GzDecoder::new(&mut body))
    } else {
        drain(&mut body)
    };
    // The gzip reader stops at the gzip trailer: the framing's end comes after it.
    let _ = std::io::copy(&mut body, &mut std::io::sink());
    Streamed {
        status,
        bytes,
        sha256,
        complete: body.done,
    }
}

/// Reads `source` to its end (or a read error) 64 KiB at a time: its length and SHA-256.
fn drain(source: &mut dyn Read) -> (u64, String) {
    let (mut bytes, mut hash, mut buf) = (0u64, Sha256::new(), vec![0u8; 64 << 10]);
    loop {
        match source.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                hash.update(&buf[..n]);
                bytes += n as u64;
            }
        }
    }
    (bytes, hex::encode(hash.finalize()))
}

/// How an answer's body ends.
enum Framing {
    /// Chunked: `left` bytes of the current chunk to read.
    Chunked { left: usize },
    /// `left` bytes of a Content-Length to read.
    Length { left: u64 },
}

/// An answer's body as it arrives, de-chunked; `done` once its end (the last, empty chunk, or
/// all of the Content-Length) was read.
struct Body<R> {
    r: R,
    framing: Framing,
    done: bool,
}

impl<R: BufRead> Read for Body<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.done || out.is_empty() {
            return Ok(0);
        }
        match &mut self.framing {
            Framing::Length { left } => {
                let want = out.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                let n = self.r.read(&mut out[..want])?;
                *left -= n as u64;
                self.done = *left == 0;
                Ok(n)
            }
            Framing::Chunked { left } => {
                if *left == 0 {
                    let mut line = String::new();
                    if self.r.read_line(&mut line)? == 0 {
                        return Ok(0);
                    }
                    let Ok(size) = usize::from_str_radix(line.trim(), 16) else {
                        return Ok(0);
                    };
                    if size == 0 {
                        self.done = true;
                        return Ok(0);
                    }
                    *left = size;
                }
                let want = out.len().min(*left);
                let n = self.r.read(&mut out[..want])?;
                *left -= n;
                if n > 0 && *left == 0 {
                    // The CRLF after the chunk.
                    let mut crlf = String::new();
                    self.r.read_line(&mut crlf)?;
                }
                Ok(n)
            }
        }
    }
}

/// `VmHWM` (peak resident set) of `pid`, in bytes.
fn vm_hwm(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kb: u64 = s
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kb * 1024
}

/// The answer through sluice is the upstream's (≥ 100 MB, complete, same bytes), and sluice's
/// peak RSS grew by less than 32 MB while it passed (a buffered answer would add its size).
fn judge(lang: &str, got: &Streamed, want: &Streamed, before: u64, after: u64, took: Duration) {
    assert!(
        want.bytes >= 100_000_000,
        "the direct answer is {} bytes",
        want.bytes
    );
    assert!(want.complete);
    assert_eq!(
        got, want,
        "the answer through sluice is the upstream's, byte for byte"
    );
    let grew = after.saturating_sub(before);
    report(&format!(
        "streaming {lang}: {} MB through sluice in {took:.1?}; sluice VmHWM {} MB before, {} MB after (+{} MB)",
        got.bytes / 1_000_000,
        before >> 20,
        after >> 20,
        grew >> 20
    ));
    assert!(
        grew < 32 << 20,
        "sluice's peak RSS grew by {} MB while passing a {} MB answer",
        grew >> 20,
        got.bytes >> 20
    );
}

fn big_path(db: &str) -> String {
    format!(
        "/query?{}",
        form_encode(&[("db", db), ("chunked", "true"), ("q", BIG)])
    )
}

fn influx_with_one_point() -> Option<InfluxV1> {
    let db = InfluxV1::try_start(InfluxOpts {
        auth_enabled: true,
        ..InfluxOpts::default()
    })?;
    db.create_db("acme_telegraf");
    let r = db.write("acme_telegraf", "big v=1 0\n");
    assert_eq!(r.status, 204, "{}", r.text());
    Some(db)
}

#[test]
fn a_100_mb_answer_streams_with_flat_memory() {
    let Some(db) = influx_with_one_point() else {
        return;
    };
    let s = Sluice::start(&config(&db.url(), "", None));
    let pid = s.pid().expect("sluice runs");
    // Warm up (connection pool, allocator) with a small answer.
    let small = form_encode(&[("db", "telegraf"), ("q", "SELECT count(v) FROM big")]);
    let auth = format!("Token {ACME}");
    let warm = stream_get(s.listen(), &format!("/query?{small}&chunked=true"), &auth);
    assert_eq!(warm.status, 200);
    let before = vm_hwm(pid);
    let started = Instant::now();
    // Gzipped, as Grafana asks for it: compressed as it streams, not buffered first.
    let got = stream_get_gzip(s.listen(), &big_path("telegraf"), &auth);
    let took = started.elapsed();
    let after = vm_hwm(pid);
    let basic = {
        use base64::Engine as _;
        let enc = base64::engine::general_purpose::STANDARD
            .encode(format!("{ADMIN_USER}:{ADMIN_PASSWORD}"));
        format!("Basic {enc}")
    };
    let want = stream_get(
        &format!("127.0.0.1:{}", db.port()),
        &big_path("acme_telegraf"),
        &basic,
    );
    judge("influxql", &got, &want, before, after, took);
}

/// `query_max_bytes` cuts an answer that grows past it: the chunked body ends without its
/// last chunk (the client sees a broken answer, not a complete-looking truncated one).
#[test]
fn the_byte_limit_cuts_a_larger_answer() {
    let Some(db) = influx_with_one_point() else {
        return;
    };
    let s = Sluice::start(&config(&db.url(), "query_max_bytes = \"10MiB\"\n", None));
    let got = stream_get(s.listen(), &big_path("telegraf"), &format!("Token {ACME}"));
    assert_eq!(got.status, 200);
    assert!(!got.complete, "{got:?}");
    assert!(got.bytes <= 10 << 20, "{got:?}");
    assert!(got.bytes >= 5 << 20, "{got:?}");
    report(&format!(
        "streaming: query_max_bytes = 10MiB cut the answer after {} bytes",
        got.bytes
    ));
}

/// The same through the Flux passthrough (sluice fronting sluice): `aggregateWindow` with
/// `createEmpty: true` over 8 days of one-second windows and two series of one point each
/// gives two tables of 700 200 rows of annotated CSV (~100 MB) from the embedded upstream.
#[test]
fn a_100_mb_flux_answer_streams_with_flat_memory() {
    let up = upstream_with_two_points();
    // The embedded upstream's answer takes tens of seconds in a debug build on a busy machine:
    // the fronting timeout (60 s by default, answer included) is not what this test checks.
    let front = Sluice::start(&fronting_config(&up.url(), "query_timeout = \"300s\"\n"));
    let pid = front.pid().expect("sluice runs");
    let q = |bucket: &str| {
        let flux = format!(
            "from(bucket: \"{bucket}\") |> range(start: 1970-01-01T00:00:00Z, stop: 1970-01-09T02:30:00Z) |> filter(fn: (r) => r._measurement == \"big\") |> aggregateWindow(every: 1s, fn: count, createEmpty: true)"
        );
        serde_json::json!({"query": flux, "type": "flux", "dialect": {"annotations": ["datatype", "group", "default"]}}).to_string()
    };
    let warm = crate::passthrough::flux::flux(
        &front.url(),
        "main",
        ACME,
        "from(bucket: \"telegraf\") |> range(start: 0) |> count()",
    );
    assert_eq!(warm.status, 200, "{}", warm.text());
    let before = vm_hwm(pid);
    let started = Instant::now();
    let got = stream(
        front.listen(),
        "POST",
        "/api/v2/query?org=x",
        &format!("Token {ACME}"),
        &q("telegraf"),
        false,
    );
    let took = started.elapsed();
    let after = vm_hwm(pid);
    let want = stream(
        up.listen(),
        "POST",
        "/api/v2/query?org=main",
        &format!("Token {UPSTREAM_TOKEN}"),
        &q("acme_telegraf"),
        false,
    );
    judge("flux", &got, &want, before, after, took);
}

/// The tenant's query slot (`max_queries = 1`) is held while an answer streams, and freed when
/// the client goes away: a second query during a slow reader's 100 MB answer is refused (503,
/// v1 throttling), one after the reader hung up is answered.
#[test]
fn the_query_slot_is_held_while_the_answer_streams() {
    let Some(db) = influx_with_one_point() else {
        return;
    };
    let s = Sluice::start(&config(&db.url(), "", Some(1)));
    let addr = s.listen().to_owned();
    let mut tcp = TcpStream::connect(&addr).expect("connect");
    write!(
        tcp,
        "GET {} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Token {ACME}\r\nConnection: close\r\n\r\n",
        big_path("telegraf")
    )
    .expect("send");
    // Read the head and the first bytes of the answer, then stop reading.
    let mut first = vec![0u8; 64 << 10];
    let n = tcp.read(&mut first).expect("first bytes");
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
    let small = [("db", "telegraf"), ("q", "SELECT count(v) FROM big")];
    let r = super::influxql::via_sluice(&s, ACME, "GET", &small);
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().contains("concurrent queries"), "{}", r.text());
    drop(tcp);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = super::influxql::via_sluice(&s, ACME, "GET", &small);
        if r.status == 200 {
            assert!(r.text().contains("\"count\""), "{}", r.text());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the slot was not freed: {}",
            r.text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
