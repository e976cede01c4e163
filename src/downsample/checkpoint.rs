//! The downsampler's checkpoint: the watermark of every (rule, tenant), written atomically
//! before the WAL cursor moves.
//!
//! Owns: the file `downsample.checkpoint` in the WAL directory. Format: JSON
//! `{"marks": [{"rule", "tenant", "wm", "max_ts"}]}` followed by a line with the CRC32C of the
//! JSON bytes in hex; written as `.tmp`, fsynced, renamed, directory fsynced. A missing or
//! damaged file means "no watermarks": the replay then starts from the oldest data, which
//! only costs re-emitting windows.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::state::Mark;
use crate::model::TenantId;

pub const FILE: &str = "downsample.checkpoint";

#[derive(Serialize, Deserialize)]
struct OnDisk {
    marks: Vec<OnDiskMark>,
}

#[derive(Serialize, Deserialize)]
struct OnDiskMark {
    rule: String,
    tenant: String,
    wm: i64,
    max_ts: i64,
}

pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// Writes `marks` durably.
pub fn write(dir: &Path, marks: &[Mark]) -> std::io::Result<()> {
    let body = serde_json::to_vec(&OnDisk {
        marks: marks
            .iter()
            .map(|m| OnDiskMark {
                rule: m.rule.clone(),
                tenant: m.tenant.to_string(),
                wm: m.wm,
                max_ts: m.max_ts,
            })
            .collect(),
    })
    .map_err(std::io::Error::other)?;
    let tmp = dir.join(format!("{FILE}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&body)?;
        writeln!(f, "\n{:08x}", crc32c::crc32c(&body))?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path(dir))?;
    std::fs::File::open(dir)?.sync_all()
}

/// Reads the marks; `None` when the file is missing or damaged.
pub fn read(dir: &Path) -> Option<Vec<Mark>> {
    let text = std::fs::read(path(dir)).ok()?;
    let s = std::str::from_utf8(&text).ok()?;
    let (body, crc) = s.trim_end().rsplit_once('\n')?;
    if u32::from_str_radix(crc.trim(), 16).ok()? != crc32c::crc32c(body.as_bytes()) {
        tracing::warn!("downsample checkpoint is damaged; replaying without watermarks");
        return None;
    }
    let d: OnDisk = serde_json::from_str(body).ok()?;
    d.marks
        .into_iter()
        .map(|m| {
            Some(Mark {
                rule: m.rule,
                tenant: TenantId::new(&m.tenant).ok()?,
                wm: m.wm,
                max_ts: m.max_ts,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn round_trips_and_detects_damage() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path()).is_none());
        let m = vec![Mark {
            rule: "r#1".into(),
            tenant: TenantId::new("acme").unwrap(),
            wm: 42,
            max_ts: 41,
        }];
        write(dir.path(), &m).unwrap();
        assert_eq!(read(dir.path()).unwrap(), m);
        let p = path(dir.path());
        let mut b = std::fs::read(&p).unwrap();
        b[12] ^= 1;
        std::fs::write(&p, b).unwrap();
        assert!(read(dir.path()).is_none());
    }
}
