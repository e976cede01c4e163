//! The start-up sweep: what crashes leave behind, removed before the store starts writing.
//!
//! Owns: `startup_sweep`, which deletes `.tmp` files (writes a crash cut short), superseded
//! files (inputs of a compaction that renamed its output but did not finish deleting them) and
//! `.drop-*` directories (an interrupted retention pass). None of them is visible to readers,
//! so the sweep changes no answer. It must run while nothing writes into the store (at
//! start-up, before the WAL consumer flushes): a `.tmp` file may otherwise be a flush in
//! progress. Does not own the rules it applies (`files`, `maintain` docs).

use std::path::{Path, PathBuf};

use super::retention::remove_drop_dir;
use super::walk::{list_partition, remove_file, sync_dir, walk};
use crate::store::{StoreError, live_files};

/// What the sweep removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepOutcome {
    pub tmp_files: Vec<PathBuf>,
    pub superseded_files: Vec<PathBuf>,
    pub drop_dirs: Vec<PathBuf>,
}

/// Removes what crashes left under `root` (see the module docs). Only while nothing writes.
pub fn startup_sweep(root: &Path) -> Result<SweepOutcome, StoreError> {
    let tree = walk(root)?;
    let mut out = SweepOutcome::default();
    for dir in tree.drops {
        remove_drop_dir(&dir, &mut |_| Ok(()))?;
        out.drop_dirs.push(dir);
    }
    for p in tree.partitions {
        let listing = list_partition(&p.dir)?;
        let all = listing.names();
        let live = live_files(all.clone());
        let before = out.tmp_files.len() + out.superseded_files.len();
        for name in &listing.tmp {
            let path = p.dir.join(name);
            remove_file(&path)?;
            out.tmp_files.push(path);
        }
        for name in all.iter().filter(|n| !live.contains(n)) {
            let path = p.dir.join(name.to_string());
            remove_file(&path)?;
            out.superseded_files.push(path);
        }
        if out.tmp_files.len() + out.superseded_files.len() > before {
            sync_dir(&p.dir)?;
        }
    }
    Ok(out)
}
