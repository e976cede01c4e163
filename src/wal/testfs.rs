//! An in-memory `WalFs` that injects faults: a crash at a byte offset (the rest of that
//! write is torn and followed by garbage, every later operation fails), ENOSPC, slow or
//! counted fdatasyncs. Test-only.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::io::{WalFile, WalFs};

type Data = Arc<Mutex<FileData>>;

#[derive(Debug, Default)]
struct FileData {
    bytes: Vec<u8>,
}

#[derive(Debug, Default)]
struct Ctl {
    files: BTreeMap<PathBuf, Data>,
    /// Bytes that may still be appended before the crash.
    crash_budget: Option<u64>,
    /// Written at the crash point after the torn prefix.
    garbage: Vec<u8>,
    crashed: bool,
    /// Bytes that may still be appended before writes fail with ENOSPC.
    space: Option<u64>,
    /// The next fdatasync fails with EIO.
    fail_sync: bool,
}

/// The fault-injecting file system. Clones share the same files.
#[derive(Debug, Clone, Default)]
pub struct MemFs {
    ctl: Arc<Mutex<Ctl>>,
    pub fsyncs: Arc<AtomicU64>,
    sync_delay: Option<Duration>,
}

fn crashed() -> io::Error {
    io::Error::other("simulated crash")
}

impl MemFs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every fdatasync sleeps `d` (to let appends pile up behind it).
    pub fn with_sync_delay(mut self, d: Duration) -> Self {
        self.sync_delay = Some(d);
        self
    }

    fn ctl(&self) -> MutexGuard<'_, Ctl> {
        self.ctl
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// After `bytes` more appended bytes the process "crashes": the write in progress
    /// keeps only its first bytes, then `garbage`; every later mutation fails.
    pub fn crash_after(&self, bytes: u64, garbage: Vec<u8>) {
        let mut c = self.ctl();
        c.crash_budget = Some(bytes);
        c.garbage = garbage;
    }

    pub fn has_crashed(&self) -> bool {
        self.ctl().crashed
    }

    /// Appends fail with ENOSPC once `bytes` more were written (`None`: unlimited).
    pub fn set_space(&self, bytes: Option<u64>) {
        self.ctl().space = bytes;
    }

    /// Makes the next fdatasync fail with EIO.
    pub fn fail_next_sync(&self) {
        self.ctl().fail_sync = true;
    }

    /// The disk as a new process finds it after a crash: same bytes, no faults.
    pub fn restart(&self) -> MemFs {
        let c = self.ctl();
        let files = c
            .files
            .iter()
            .map(|(p, d)| {
                let bytes = d
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .bytes
                    .clone();
                (p.clone(), Arc::new(Mutex::new(FileData { bytes })))
            })
            .collect();
        MemFs {
            ctl: Arc::new(Mutex::new(Ctl {
                files,
                ..Ctl::default()
            })),
            fsyncs: Arc::new(AtomicU64::new(0)),
            sync_delay: self.sync_delay,
        }
    }

    /// Direct access to a file's bytes (to corrupt them).
    pub fn edit(&self, path: &Path, f: impl FnOnce(&mut Vec<u8>)) {
        let c = self.ctl();
        let data = c.files.get(path).expect("file exists");
        f(&mut data
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .bytes);
    }

    pub fn file_names(&self) -> Vec<String> {
        self.ctl()
            .files
            .keys()
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .collect()
    }

    fn check_alive(&self) -> io::Result<()> {
        if self.ctl().crashed {
            Err(crashed())
        } else {
            Ok(())
        }
    }
}

#[derive(Debug)]
struct MemFile {
    fs: MemFs,
    data: Data,
}

impl WalFs for MemFs {
    fn create_dir_all(&self, _dir: &Path) -> io::Result<()> {
        self.check_alive()
    }

    /// In memory there is one process: nothing to lock against.
    fn lock_dir(&self, _dir: &Path) -> io::Result<super::io::DirLock> {
        Ok(Box::new(()))
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        Ok(self
            .ctl()
            .files
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .collect())
    }

    fn open_write(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        self.check_alive()?;
        let data = Arc::clone(self.ctl().files.entry(path.to_owned()).or_default());
        Ok(Box::new(MemFile {
            fs: self.clone(),
            data,
        }))
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        let data = self
            .ctl()
            .files
            .get(path)
            .cloned()
            .ok_or(io::ErrorKind::NotFound)?;
        Ok(Box::new(MemFile {
            fs: self.clone(),
            data,
        }))
    }

    fn read_all(&self, path: &Path) -> io::Result<Vec<u8>> {
        let data = self
            .ctl()
            .files
            .get(path)
            .cloned()
            .ok_or(io::ErrorKind::NotFound)?;
        let bytes = data
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .bytes
            .clone();
        Ok(bytes)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.check_alive()?;
        self.ctl()
            .files
            .remove(path)
            .map(|_| ())
            .ok_or_else(|| io::ErrorKind::NotFound.into())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.check_alive()?;
        let mut c = self.ctl();
        let data = c.files.remove(from).ok_or(io::ErrorKind::NotFound)?;
        c.files.insert(to.to_owned(), data);
        Ok(())
    }

    fn sync_dir(&self, _dir: &Path) -> io::Result<()> {
        self.check_alive()
    }
}

impl WalFile for MemFile {
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()> {
        let mut c = self.fs.ctl();
        if c.crashed {
            return Err(crashed());
        }
        let mut d = self
            .data
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let put = |d: &mut FileData, bytes: &[u8]| {
            let at = offset as usize;
            if d.bytes.len() < at + bytes.len() {
                d.bytes.resize(at + bytes.len(), 0);
            }
            d.bytes[at..at + bytes.len()].copy_from_slice(bytes);
        };
        // Zero-filling (preallocation) is not counted: it keeps crash points deterministic.
        let counted = buf.iter().any(|b| *b != 0);
        if let Some(budget) = c.crash_budget.filter(|_| counted) {
            if (buf.len() as u64) > budget {
                let mut torn = buf[..budget as usize].to_vec();
                torn.extend_from_slice(&c.garbage);
                put(&mut d, &torn);
                c.crashed = true;
                return Err(crashed());
            }
            c.crash_budget = Some(budget - buf.len() as u64);
        }
        if let Some(space) = c.space {
            if (buf.len() as u64) > space {
                put(&mut d, &buf[..space as usize]);
                c.space = Some(0);
                return Err(io::ErrorKind::StorageFull.into());
            }
            c.space = Some(space - buf.len() as u64);
        }
        put(&mut d, buf);
        Ok(())
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.fs.check_alive()?;
        if std::mem::take(&mut self.fs.ctl().fail_sync) {
            return Err(io::Error::other("simulated EIO"));
        }
        if let Some(d) = self.fs.sync_delay {
            std::thread::sleep(d);
        }
        self.fs.fsyncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let d = self
            .data
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let start = (offset as usize).min(d.bytes.len());
        let n = buf.len().min(d.bytes.len() - start);
        buf[..n].copy_from_slice(&d.bytes[start..start + n]);
        Ok(n)
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.fs.check_alive()?;
        self.data
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .bytes
            .resize(len as usize, 0);
        Ok(())
    }

    fn file_len(&self) -> io::Result<u64> {
        Ok(self
            .data
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .bytes
            .len() as u64)
    }
}
