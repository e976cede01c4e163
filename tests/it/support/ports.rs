//! Free loopback ports and waiting for servers to answer.
//!
//! Owns: picking a free `127.0.0.1` port, polling a TCP port or an HTTP endpoint with a deadline.
//! Does not own: starting processes (see `process`).
//!
//! A picked port is free when returned, but another process may take it before the server binds
//! it; servers that fail with "address already in use" are retried by their modules.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::http;
use super::process::Proc;

/// A port on 127.0.0.1 that was free a moment ago (bind :0, read, drop).
pub fn free_port() -> u16 {
    let [p] = free_ports();
    p
}

/// `N` distinct ports on 127.0.0.1 that were free a moment ago: all bound at once, then
/// dropped. Picked one at a time, the kernel may hand the same free port out twice.
pub fn free_ports<const N: usize>() -> [u16; N] {
    let held: [TcpListener; N] =
        std::array::from_fn(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"));
    held.map(|l| l.local_addr().expect("local_addr").port())
}

/// Polls until a TCP connect to `127.0.0.1:port` succeeds. Panics with the server's stderr on
/// timeout or if the process exits first.
pub fn wait_tcp(port: u16, timeout: Duration, proc: &mut Proc) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_until(timeout, proc, &format!("tcp 127.0.0.1:{port}"), || {
        TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
    });
}

/// Polls `GET url` until it answers `status`. Panics with the server's stderr on timeout or if
/// the process exits first.
pub fn wait_http(url: &str, status: u16, timeout: Duration, proc: &mut Proc) {
    let mut last = String::from("no answer yet");
    let outcome = try_wait_until(timeout, proc, || match http::get(url) {
        Ok(r) if r.status == status => true,
        Ok(r) => {
            last = format!("last answer {}: {}", r.status, r.text());
            false
        }
        Err(e) => {
            last = format!("last error: {e}");
            false
        }
    });
    fail_unless_ready(
        outcome,
        timeout,
        proc,
        &format!("GET {url} -> {status} ({last})"),
    );
}

/// Outcome of [`try_wait_until`].
#[derive(Debug, PartialEq, Eq)]
pub enum Wait {
    Ready,
    Exited,
    TimedOut,
}

/// Polls `ready` every 10 ms until it is true, the process exits, or `timeout` passes.
pub fn try_wait_until(timeout: Duration, proc: &mut Proc, mut ready: impl FnMut() -> bool) -> Wait {
    let deadline = Instant::now() + timeout;
    loop {
        if ready() {
            return Wait::Ready;
        }
        if !proc.is_running() {
            return Wait::Exited;
        }
        if Instant::now() >= deadline {
            return Wait::TimedOut;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_until(timeout: Duration, proc: &mut Proc, what: &str, ready: impl FnMut() -> bool) {
    let outcome = try_wait_until(timeout, proc, ready);
    fail_unless_ready(outcome, timeout, proc, what);
}

fn fail_unless_ready(outcome: Wait, timeout: Duration, proc: &mut Proc, what: &str) {
    match outcome {
        Wait::Ready => {}
        Wait::Exited => {
            let status = proc.try_exit_status();
            panic!(
                "{}: exited ({status:?}) before {what}\n--- stderr ---\n{}",
                proc.name(),
                proc.stderr_tail(4000)
            )
        }
        Wait::TimedOut => panic!(
            "{}: not ready within {timeout:?}: {what}\n--- stderr ---\n{}",
            proc.name(),
            proc.stderr_tail(4000)
        ),
    }
}

#[test]
fn free_port_is_bindable() {
    let p = free_port();
    assert_ne!(p, 0);
    TcpListener::bind(("127.0.0.1", p)).expect("picked port should be free");
}

#[test]
fn free_ports_are_distinct() {
    for _ in 0..50 {
        let [a, b, c] = free_ports();
        assert!(a != b && b != c && a != c, "{a} {b} {c}");
    }
}

#[test]
#[should_panic(expected = "exited")]
fn wait_http_reports_an_early_exit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sh = super::process::which("sh").expect("sh on PATH");
    let args = vec!["-c".into(), "echo boom-on-stderr >&2; exit 3".into()];
    let mut p = Proc::spawn("early-exit", &sh, args, dir.path());
    let url = format!("http://127.0.0.1:{}/ready", free_port());
    wait_http(&url, 200, Duration::from_secs(5), &mut p);
}

#[test]
fn wait_http_timeout_message_carries_stderr() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sh = super::process::which("sh").expect("sh on PATH");
    let args = vec!["-c".into(), "echo still-starting >&2; sleep 30".into()];
    let mut p = Proc::spawn("slow", &sh, args, dir.path());
    let url = format!("http://127.0.0.1:{}/ready", free_port());
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_http(&url, 200, Duration::from_millis(300), &mut p);
    }))
    .expect_err("must time out");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("not ready within"), "{msg}");
    assert!(msg.contains("still-starting"), "{msg}");
}
