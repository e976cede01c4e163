//! Walking the store tree: every partition directory under a root, and what one holds.
//!
//! Owns: finding `<root>/<tenant>/<bucket>/<measurement>/<YYYY-MM-DD>/` directories whose names
//! decode to a valid `PartitionKey`, sorting a partition's entries into Parquet files (with
//! their WAL range and size), `.tmp` files and anything else (strays), and the fsync of a
//! directory. Reads only; never creates or deletes. Does not own the naming rules
//! (`layout`, `files`).

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use crate::model::{BucketName, TenantId};
use crate::store::layout::decode_name;
use crate::store::{Day, FileName, PartitionKey, StoreError};

/// Prefix of a day directory being dropped by retention (see the module docs of `maintain`).
pub const DROP_PREFIX: &str = ".drop-";

/// One partition directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub key: PartitionKey,
    pub dir: PathBuf,
}

/// Everything under a root, sorted by key.
#[derive(Debug, Clone, Default)]
pub struct Walk {
    pub partitions: Vec<Partition>,
    /// `.drop-<day>` directories a crashed retention pass left behind.
    pub drops: Vec<PathBuf>,
    /// Entries whose names are not part of the layout (not decodable, not directories).
    pub strays: Vec<PathBuf>,
}

/// What one partition directory holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirListing {
    /// `<first>-<last>.parquet` files with their size in bytes, sorted by name.
    pub files: Vec<(FileName, u64)>,
    /// `*.tmp` files (a write in progress, or left by a crash).
    pub tmp: Vec<String>,
    /// Anything else.
    pub strays: Vec<String>,
}

impl DirListing {
    pub fn names(&self) -> Vec<FileName> {
        self.files.iter().map(|(n, _)| *n).collect()
    }

    pub fn size_of(&self, name: &FileName) -> u64 {
        self.files
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, s)| *s)
    }
}

pub(crate) fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
    let path = path.display().to_string();
    move |source| StoreError::Io { op, path, source }
}

/// Subdirectories of `dir` (name, path), sorted; other entries go to `strays`. A missing
/// `dir` is empty (it may have just been removed).
fn subdirs(dir: &Path, strays: &mut Vec<PathBuf>) -> Result<Vec<(String, PathBuf)>, StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("list", dir)(e)),
    };
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(io_err("list", dir))?;
        let path = e.path();
        let is_dir = e.file_type().map_err(io_err("stat", &path))?.is_dir();
        match e.file_name().to_str() {
            Some(name) if is_dir => out.push((name.to_owned(), path)),
            _ => strays.push(path),
        }
    }
    out.sort();
    Ok(out)
}

/// Every partition under `root` (a missing root has none).
pub fn walk(root: &Path) -> Result<Walk, StoreError> {
    let mut w = Walk::default();
    let tenants = subdirs(root, &mut w.strays)?;
    // The open store's lock file is not a stray.
    let lock = root.join(crate::dirlock::STORE_LOCK);
    w.strays.retain(|p| *p != lock);
    for (t, tdir) in tenants {
        let Some(tenant) = decode_name(&t).and_then(|s| TenantId::new(&s).ok()) else {
            w.strays.push(tdir);
            continue;
        };
        for (b, bdir) in subdirs(&tdir, &mut w.strays)? {
            let Some(bucket) = decode_name(&b).and_then(|s| BucketName::new(&s).ok()) else {
                w.strays.push(bdir);
                continue;
            };
            for (m, mdir) in subdirs(&bdir, &mut w.strays)? {
                let Some(measurement) = decode_name(&m) else {
                    w.strays.push(mdir);
                    continue;
                };
                for (d, ddir) in subdirs(&mdir, &mut w.strays)? {
                    if d.starts_with(DROP_PREFIX) {
                        w.drops.push(ddir);
                        continue;
                    }
                    let Some(day) = Day::parse(&d) else {
                        w.strays.push(ddir);
                        continue;
                    };
                    w.partitions.push(Partition {
                        key: PartitionKey {
                            tenant: tenant.clone(),
                            bucket: bucket.clone(),
                            measurement: measurement.clone(),
                            day,
                        },
                        dir: ddir,
                    });
                }
            }
        }
    }
    w.partitions.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(w)
}

/// The entries of one partition directory (a missing directory is empty).
pub fn list_partition(dir: &Path) -> Result<DirListing, StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(DirListing::default()),
        Err(e) => return Err(io_err("list", dir)(e)),
    };
    let mut out = DirListing::default();
    for e in entries {
        let e = e.map_err(io_err("list", dir))?;
        let Some(name) = e.file_name().to_str().map(str::to_owned) else {
            out.strays
                .push(e.file_name().to_string_lossy().into_owned());
            continue;
        };
        let meta = match e.metadata() {
            Ok(m) => m,
            // Deleted between the listing and the stat (a concurrent compaction or sweep).
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            Err(err) => return Err(io_err("stat", &e.path())(err)),
        };
        if !meta.is_file() {
            out.strays.push(name);
        } else if let Some(f) = FileName::parse(&name) {
            out.files.push((f, meta.len()));
        } else if name.ends_with(".tmp") {
            out.tmp.push(name);
        } else {
            out.strays.push(name);
        }
    }
    out.files.sort();
    out.tmp.sort();
    out.strays.sort();
    Ok(out)
}

/// Makes creations, renames and removals in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("fsync dir", dir))
}

/// Removes a file; one already gone counts as removed.
pub(crate) fn remove_file(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("remove", path)(e)),
    }
}
