//! Retention: dropping whole partitions once every row they could hold has expired.
//!
//! Owns: `RetentionPolicy` (default, per-tenant and per-bucket retention) and
//! `enforce_retention`, which finds expired day partitions and removes them durably, plus the
//! sweep of `.drop-*` directories a crash left. The rules and the crash argument are in the
//! `maintain` module docs. Does not own: where the policy comes from (config) or when to run.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Step;
use super::walk::{DROP_PREFIX, io_err, list_partition, remove_file, sync_dir, walk};
use crate::model::{BucketName, TenantId};
use crate::store::{Day, PartitionKey, StoreError};

/// How long each bucket keeps its rows. `None` keeps them forever.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// For buckets without an override.
    pub default: Option<Duration>,
    /// Per tenant, for all its buckets without a bucket override.
    pub tenants: HashMap<TenantId, Option<Duration>>,
    /// Per (tenant, bucket); wins over the tenant's and the default.
    pub buckets: HashMap<(TenantId, BucketName), Option<Duration>>,
}

impl RetentionPolicy {
    /// Everything kept for `d` (or forever with `None`), no overrides.
    pub fn uniform(d: Option<Duration>) -> Self {
        Self {
            default: d,
            ..Self::default()
        }
    }

    /// The retention of one bucket: the bucket's override, else the tenant's, else the default.
    pub fn retention(&self, tenant: &TenantId, bucket: &BucketName) -> Option<Duration> {
        if let Some(r) = self.buckets.get(&(tenant.clone(), bucket.clone())) {
            return *r;
        }
        if let Some(r) = self.tenants.get(tenant) {
            return *r;
        }
        self.default
    }

    /// True when every row day `day` of this bucket can hold is older than `now_ns - retention`.
    pub fn expired(&self, tenant: &TenantId, bucket: &BucketName, day: Day, now_ns: i64) -> bool {
        let Some(r) = self.retention(tenant, bucket) else {
            return false;
        };
        let r = i64::try_from(r.as_nanos()).unwrap_or(i64::MAX);
        let cutoff = now_ns.saturating_sub(r);
        Day(day.0.saturating_add(1)).start_nanos() <= cutoff
    }
}

/// One partition that retention removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedPartition {
    pub key: PartitionKey,
    /// Files unlinked (Parquet, `.tmp` and strays alike).
    pub files: usize,
    /// Their bytes on disk.
    pub bytes: u64,
}

/// What one retention pass did.
#[derive(Debug, Default)]
pub struct RetentionOutcome {
    pub removed: Vec<RemovedPartition>,
    /// `.drop-*` directories from an earlier, interrupted pass that this pass finished removing.
    pub swept: Vec<PathBuf>,
    /// Measurement directories removed because this pass emptied them.
    pub removed_dirs: Vec<PathBuf>,
    /// Partitions this pass could not remove (it carries on with the others).
    pub failed: Vec<(PartitionKey, StoreError)>,
}

impl RetentionOutcome {
    pub fn bytes_removed(&self) -> u64 {
        self.removed.iter().map(|r| r.bytes).sum()
    }
}

/// Removes every expired partition under `root` (see the `maintain` module docs).
pub fn enforce_retention(
    root: &Path,
    policy: &RetentionPolicy,
    now_ns: i64,
) -> Result<RetentionOutcome, StoreError> {
    enforce_retention_with(root, policy, now_ns, &mut |_| Ok(()))
}

pub(crate) fn enforce_retention_with(
    root: &Path,
    policy: &RetentionPolicy,
    now_ns: i64,
    hook: &mut dyn FnMut(Step) -> Result<(), StoreError>,
) -> Result<RetentionOutcome, StoreError> {
    let tree = walk(root)?;
    let mut out = RetentionOutcome::default();
    for dir in tree.drops {
        remove_drop_dir(&dir, hook)?;
        out.swept.push(dir);
    }
    let mut emptied: Vec<PathBuf> = Vec::new();
    for p in tree.partitions {
        if !policy.expired(&p.key.tenant, &p.key.bucket, p.key.day, now_ns) {
            continue;
        }
        match drop_partition(&p.dir, p.key.day, hook) {
            Ok((files, bytes)) => {
                if let Some(m) = p.dir.parent()
                    && emptied.last().map(PathBuf::as_path) != Some(m)
                {
                    emptied.push(m.to_path_buf());
                }
                out.removed.push(RemovedPartition {
                    key: p.key,
                    files,
                    bytes,
                });
            }
            Err(e) => out.failed.push((p.key, e)),
        }
    }
    for m in emptied {
        // Fails harmlessly (ENOTEMPTY) when other partitions remain or a flush just added one.
        if fs::remove_dir(&m).is_ok() {
            if let Some(b) = m.parent() {
                sync_dir(b)?;
            }
            out.removed_dirs.push(m);
        }
    }
    Ok(out)
}

/// Renames the day directory out of the readers' sight, then empties and removes it.
/// Returns (files removed, bytes).
fn drop_partition(
    dir: &Path,
    day: Day,
    hook: &mut dyn FnMut(Step) -> Result<(), StoreError>,
) -> Result<(usize, u64), StoreError> {
    let parent = dir.parent().ok_or_else(|| StoreError::BadPath {
        path: dir.display().to_string(),
        why: "no parent directory",
    })?;
    let drop = parent.join(format!("{DROP_PREFIX}{day}"));
    fs::rename(dir, &drop).map_err(io_err("rename", dir))?;
    sync_dir(parent)?;
    hook(Step::AfterDropRename)?;
    remove_drop_dir(&drop, hook)
}

/// Unlinks every file of a `.drop-*` directory, removes it and fsyncs its parent.
pub(crate) fn remove_drop_dir(
    drop: &Path,
    hook: &mut dyn FnMut(Step) -> Result<(), StoreError>,
) -> Result<(usize, u64), StoreError> {
    let listing = list_partition(drop)?;
    let mut names: Vec<(String, u64)> = listing
        .files
        .iter()
        .map(|(n, s)| (n.to_string(), *s))
        .collect();
    names.extend(
        listing
            .tmp
            .into_iter()
            .chain(listing.strays)
            .map(|n| (n, 0)),
    );
    let mut bytes = 0;
    for (i, (name, size)) in names.iter().enumerate() {
        let path = drop.join(name);
        if path.is_dir() {
            // Nothing of ours nests deeper; a foreign directory is removed whole.
            fs::remove_dir_all(&path).map_err(io_err("remove dir", &path))?;
        } else {
            remove_file(&path)?;
        }
        bytes += size;
        hook(Step::AfterDelete(i))?;
    }
    match fs::remove_dir(drop) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("remove dir", drop)(e)),
    }
    if let Some(parent) = drop.parent() {
        sync_dir(parent)?;
    }
    Ok((names.len(), bytes))
}
