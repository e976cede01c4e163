//! A child server process owned by a test: spawn, signal, wait, respawn, kill on Drop.
//!
//! Owns: the `Child`, its stdout/stderr log files (appended across restarts) and signals by PID.
//! Does not own: readiness (see `ports`), configuration of any particular server.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A server process started by a test. Dropping it sends SIGKILL and reaps it.
#[derive(Debug)]
pub struct Proc {
    name: String,
    program: PathBuf,
    args: Vec<OsString>,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
    child: Option<Child>,
}

fn append(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open log file {}: {e}", path.display()))
}

impl Proc {
    /// Spawns `program args`, stdout/stderr appended to `<log_dir>/<name>.stdout|stderr`.
    pub fn spawn(name: &str, program: &Path, args: Vec<OsString>, log_dir: &Path) -> Proc {
        let mut p = Proc {
            name: name.to_owned(),
            program: program.to_owned(),
            args,
            stdout_path: log_dir.join(format!("{name}.stdout")),
            stderr_path: log_dir.join(format!("{name}.stderr")),
            child: None,
        };
        p.respawn();
        p
    }

    /// Starts the same command again (after `kill9`/`stop`). Panics if still running.
    pub fn respawn(&mut self) {
        assert!(
            !self.is_running(),
            "{}: respawn while still running",
            self.name
        );
        let child = Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(append(&self.stdout_path))
            .stderr(append(&self.stderr_path))
            .spawn()
            .unwrap_or_else(|e| panic!("{}: spawn {}: {e}", self.name, self.program.display()));
        self.child = Some(child);
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// True while the child has not exited (reaps it if it has).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            None => false,
            Some(c) => matches!(c.try_wait(), Ok(None)),
        }
    }

    /// The exit status if the child has exited, without blocking.
    pub fn try_exit_status(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// SIGKILL (what `Child::kill` sends on Unix) and reap. No-op if not running.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM via `kill -TERM <pid>` (no libc dependency). Does not wait.
    pub fn terminate(&mut self) {
        let Some(pid) = self.pid() else { return };
        if !self.is_running() {
            return;
        }
        let ok = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "{}: kill -TERM {pid} failed", self.name);
    }

    /// Waits up to `timeout` for the child to exit; panics (with stderr) if it does not.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.try_exit_status() {
                return st;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{}: did not exit within {timeout:?}\n--- stderr ---\n{}",
                    self.name,
                    self.stderr_tail(4000)
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGTERM, wait up to `grace`, then SIGKILL. Returns the exit status.
    pub fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        self.child.as_ref()?;
        self.terminate();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(st) = self.try_exit_status() {
                self.child = None;
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.kill9();
        None
    }

    pub fn stdout_path(&self) -> &Path {
        &self.stdout_path
    }

    pub fn stderr_path(&self) -> &Path {
        &self.stderr_path
    }

    /// The last `max` bytes of the captured stderr (lossy UTF-8).
    pub fn stderr_tail(&self, max: usize) -> String {
        tail(&self.stderr_path, max)
    }

    /// The last `max` bytes of the captured stdout (lossy UTF-8).
    pub fn stdout_tail(&self, max: usize) -> String {
        tail(&self.stdout_path, max)
    }
}

fn tail(path: &Path, max: usize) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let from = bytes.len().saturating_sub(max);
    String::from_utf8_lossy(&bytes[from..]).into_owned()
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Finds `name` on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// True when running under CI (`CI` set to anything but empty, `0` or `false`).
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// The path of a peer server binary, or `None` (with a loud message) when it is missing and we
/// are not under CI. Under CI a missing binary is a test failure.
pub fn peer_binary(name: &str, debian_package: &str) -> Option<PathBuf> {
    if let Some(p) = which(name) {
        return Some(p);
    }
    let msg = format!(
        "`{name}` not found: install the Debian package `{debian_package}` (scripts/test.sh does)"
    );
    assert!(!under_ci(), "{msg}; CI is set, so this is a failure");
    // Straight to the stderr handle: libtest captures `eprintln!` of passing tests.
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!! SKIPPING TEST: {msg} !!!!!!!!\n"
    );
    None
}

#[test]
fn proc_terminate_and_respawn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sleep = which("sleep").expect("sleep on PATH");
    let mut p = Proc::spawn("sleeper", &sleep, vec!["30".into()], dir.path());
    assert!(p.is_running());
    p.terminate();
    let st = p.wait_exit(Duration::from_secs(5));
    assert!(!st.success(), "SIGTERM'd sleep must not exit 0: {st:?}");
    p.respawn();
    assert!(p.is_running());
    p.kill9();
    assert!(!p.is_running());
}
