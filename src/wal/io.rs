//! File access behind a small trait, so tests can inject torn writes, crashes and ENOSPC.
//!
//! Owns: `WalFs`/`WalFile` and `StdFs`, the production implementation on `std::fs`.
//! Does not own: what is written (see `writer`, `cursor`).

use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The file-system operations the WAL uses. All calls are blocking.
pub trait WalFs: Send + Sync + Debug {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Names (not paths) of the regular files in `dir`.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Opens `path` for reading and writing, creating it if missing (never truncating).
    fn open_write(&self, path: &Path) -> io::Result<Box<dyn WalFile>>;
    /// Opens an existing `path` for reading.
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn WalFile>>;
    fn read_all(&self, path: &Path) -> io::Result<Vec<u8>>;
    fn remove(&self, path: &Path) -> io::Result<()>;
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes creations, renames and removals in `dir` durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Takes `dir` for this process alone, until the lock is dropped (or the process ends).
    /// `WouldBlock` when another holds it; then the error's text names the holder.
    fn lock_dir(&self, dir: &Path) -> io::Result<DirLock>;
}

/// An open WAL directory's lock; dropping it frees the directory.
pub type DirLock = Box<dyn Debug + Send + Sync>;

/// One open file.
pub trait WalFile: Send + Sync + Debug {
    /// Writes all of `buf` at `offset` (extending the file if needed).
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()>;
    /// fdatasync.
    fn sync_data(&mut self) -> io::Result<()>;
    /// Reads at `offset`; returns how many bytes were read (0 at the end of the file).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
    fn set_len(&mut self, len: u64) -> io::Result<()>;
    fn file_len(&self) -> io::Result<u64>;
}

/// The production file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdFs;

#[derive(Debug)]
struct StdFile(File);

impl WalFs for StdFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            if e.file_type()?.is_file()
                && let Some(name) = e.file_name().to_str()
            {
                names.push(name.to_owned());
            }
        }
        Ok(names)
    }

    fn open_write(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .read(true)
            .open(path)?;
        Ok(Box::new(StdFile(f)))
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        Ok(Box::new(StdFile(File::open(path)?)))
    }

    fn read_all(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn lock_dir(&self, dir: &Path) -> io::Result<DirLock> {
        Ok(Box::new(crate::dirlock::try_lock(
            dir,
            crate::dirlock::WAL_LOCK,
        )?))
    }
}

impl WalFile for StdFile {
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()> {
        self.0.write_all_at(buf, offset)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read_at(buf, offset)
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }

    fn file_len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
}

/// Reads exactly `buf.len()` bytes at `offset`, or fewer at the end of the file.
pub fn read_full(f: &dyn WalFile, mut offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match f.read_at(offset, &mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => {
                done += n;
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Writes `data` to `path` atomically: `tmp` + fsync + rename + fsync of the directory.
pub fn write_atomic(fs: &dyn WalFs, dir: &Path, name: &str, data: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let _ = fs.remove(&tmp);
    let mut f = fs.open_write(&tmp)?;
    f.write_at(0, data)?;
    f.sync_data()?;
    drop(f);
    fs.rename(&tmp, &dir.join(name))?;
    fs.sync_dir(dir)
}

/// Writes zeros over `[from, to)` of `file` and fdatasyncs: preallocation that makes
/// later fdatasyncs cheap (no block allocation, no size change to journal).
pub fn zero_fill(file: &mut dyn WalFile, from: u64, to: u64) -> io::Result<()> {
    const CHUNK: u64 = 1 << 20;
    let zeros = vec![0; CHUNK.min(to.saturating_sub(from)) as usize];
    let mut at = from;
    while at < to {
        let n = CHUNK.min(to - at);
        file.write_at(at, &zeros[..n as usize])?;
        at += n;
    }
    file.sync_data()
}
