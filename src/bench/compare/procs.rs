//! Processes the harness starts: spawned in their own process group (a terminal's Ctrl-C
//! reaches only us), stopped by PID with SIGTERM then SIGKILL when their guard drops (also on
//! error, panic or Ctrl-C, since guards live inside the future that is dropped), plus temp
//! dirs, free ports and readiness polling.
//!
//! Owns: process lifetime. Does not own: what each system's config says (`systems`).

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::bench::BenchError;

/// A started process; SIGTERM, then SIGKILL after 10 s, on drop.
#[derive(Debug)]
pub struct Proc {
    pub name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    /// Spawns `bin args` with stdout+stderr into `dir/NAME.log`.
    pub fn spawn(name: &str, bin: &Path, args: &[String], dir: &Path) -> Result<Proc, BenchError> {
        let log = dir.join(format!("{name}.log"));
        let io = |source| BenchError::Io {
            what: format!("log file of {name}"),
            source,
        };
        let out = std::fs::File::create(&log).map_err(io)?;
        let err = out.try_clone().map_err(io)?;
        let child = Command::new(bin)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| BenchError::Start {
                name: name.to_owned(),
                reason: format!("{}: {e}", bin.display()),
            })?;
        Ok(Proc {
            name: name.to_owned(),
            child,
            log,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last `n` bytes of the process's output.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read(&self.log).unwrap_or_default();
        String::from_utf8_lossy(&text[text.len().saturating_sub(n)..]).into_owned()
    }

    /// Whether it has exited.
    pub fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, wait up to `grace`, then SIGKILL; always reaps.
    pub fn stop(&mut self, grace: Duration) {
        if self.exited() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.exited() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(10));
    }
}

/// A directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Result<TempDir, BenchError> {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("{prefix}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).map_err(|source| BenchError::Io {
            what: format!("creating {}", p.display()),
            source,
        })?;
        Ok(TempDir(p))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> Result<u16, BenchError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|source| BenchError::Io {
            what: "finding a free port".into(),
            source,
        })
}

/// Polls `GET url` until it answers `status` (any status if None), the process exits, or
/// `timeout` passes.
pub async fn wait_ready(
    proc: &mut Proc,
    url: &str,
    status: Option<u16>,
    timeout: Duration,
) -> Result<(), BenchError> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(r) = client.get(url).send().await
            && status.is_none_or(|s| r.status().as_u16() == s)
        {
            return Ok(());
        }
        if proc.exited() || Instant::now() > deadline {
            return Err(BenchError::Start {
                name: proc.name.clone(),
                reason: format!("not ready at {url}; output:\n{}", proc.log_tail(3000)),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
