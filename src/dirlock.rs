//! An exclusive, advisory lock on a directory that one process alone may write: the WAL's
//! directory and the store's root.
//!
//! Owns: the lock file (an `flock` on it; it holds the holder's pid and host, for the error
//! another opener gets), and waiting briefly for a lock this process is about to free.
//! Does not own: what the directory holds, or what a caller answers when it is held.
//!
//! `flock` is freed when the file is closed: by dropping the lock, or by the end of the
//! process, a `kill -9` included. It is advisory and per open file, so a second open in this
//! process is refused too. On NFS (a Longhorn RWX volume) `flock` may not exclude another
//! node's process; each sluice replica must have its own volume.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// The WAL directory's lock file.
pub const WAL_LOCK: &str = "LOCK";
/// The store root's lock file: a leading `.` is never a tenant's directory (`encode_name`
/// escapes it), and the name differs from the WAL's, for a `[store] dir` that is the WAL's.
pub const STORE_LOCK: &str = ".lock";

/// How long [`waiting`] retries a held lock: this process's previous handle of the directory
/// frees it just after it is dropped (its threads end then).
pub const WAIT: Duration = Duration::from_secs(2);

/// Takes the lock `dir/name` now (creating the file if missing). `WouldBlock` when another
/// open file holds it; the error's text then names the holder (`held by pid <pid> on <host>`).
pub fn try_lock(dir: &Path, name: &str) -> io::Result<File> {
    let path = dir.join(name);
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)?;
    match f.try_lock() {
        Ok(()) => {
            // Who holds it, for the error another process gets: the host too, since a pid in
            // a container is often 1. Written before the old text is cut off, so a reader
            // never sees it empty.
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
            let holder = format!("{} on {}", std::process::id(), host.trim());
            f.write_all_at(holder.as_bytes(), 0)?;
            f.set_len(holder.len() as u64)?;
            Ok(f)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("held by pid {}", holder.trim()),
            ))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(io::Error::new(
            e.kind(),
            format!(
                "cannot flock {}: {e} (the file system must support flock)",
                path.display()
            ),
        )),
    }
}

/// `take` retried while it answers `WouldBlock`, for at most [`WAIT`]; then its last
/// `WouldBlock`. Any other error is returned at once.
pub fn waiting<T>(mut take: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    let started = Instant::now();
    loop {
        match take() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && started.elapsed() < WAIT => {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}
