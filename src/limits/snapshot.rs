//! Persistence of the series sets: a snapshot file plus the WAL after it.
//!
//! `series.snap` holds every set and the WAL seq `S` it covers, written atomically (temp file,
//! fsync, rename, fsync dir) every `SNAPSHOT_EVERY` and at shutdown. `S` is read *before* the
//! sets are copied, and a series is admitted before its record is appended, so every series of
//! a record ≤ `S` is in the snapshot. On start-up the snapshot is loaded and the WAL records
//! after `S` are replayed into the sets (last-seen = now). In fronting mode the tracker is a WAL
//! consumer whose cursor is `S`, so those records are still on disk after a crash: a crash
//! between snapshots loses nothing and never makes an existing series look new. A missing or
//! corrupt snapshot means a replay of the whole WAL still on disk (logged).
//!
//! Format (little-endian): `b"SLSERIES"`, u32 version (1), u64 seq, u32 set count; per set:
//! u16 tenant len + bytes, u16 bucket len + bytes, u64 n, n × (u64 hash, u32 last-seen);
//! then u32 CRC32C of everything before it.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use super::series::SeriesSet;
use crate::model::{BucketName, TenantId, WalSeq};

const MAGIC: &[u8; 8] = b"SLSERIES";
const VERSION: u32 = 1;

/// How often the sets are written. Short, because in fronting mode the WAL keeps the segments
/// after the snapshot seq until the next one (counted in the WAL quota).
pub const SNAPSHOT_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

/// The file name under `data_dir`.
pub const FILE: &str = "series.snap";

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("series snapshot is corrupt: {what}")]
    Corrupt { what: &'static str },
    #[error("series snapshot {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: String,
        source: std::io::Error,
    },
}

pub type Sets = Vec<((TenantId, BucketName), SeriesSet)>;

pub fn encode(seq: WalSeq, sets: &Sets) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(24 + sets.iter().map(|(_, s)| 40 + 12 * s.len()).sum::<usize>());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&seq.0.to_le_bytes());
    out.extend_from_slice(&(sets.len() as u32).to_le_bytes());
    for ((tenant, bucket), set) in sets {
        for s in [tenant.as_str(), bucket.as_str()] {
            out.extend_from_slice(&(s.len() as u16).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        out.extend_from_slice(&(set.len() as u64).to_le_bytes());
        for (h, seen) in &set.seen {
            out.extend_from_slice(&h.to_le_bytes());
            out.extend_from_slice(&seen.to_le_bytes());
        }
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        if self.0.len() < n {
            return Err(SnapshotError::Corrupt { what: "truncated" });
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u16(&mut self) -> Result<u16, SnapshotError> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().map_err(|_| truncated())?,
        ))
    }
    fn u32(&mut self) -> Result<u32, SnapshotError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().map_err(|_| truncated())?,
        ))
    }
    fn u64(&mut self) -> Result<u64, SnapshotError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().map_err(|_| truncated())?,
        ))
    }
    fn str(&mut self) -> Result<&'a str, SnapshotError> {
        let n = usize::from(self.u16()?);
        std::str::from_utf8(self.take(n)?).map_err(|_| SnapshotError::Corrupt { what: "name" })
    }
}

fn truncated() -> SnapshotError {
    SnapshotError::Corrupt { what: "truncated" }
}

pub fn decode(buf: &[u8]) -> Result<(WalSeq, Sets), SnapshotError> {
    if buf.len() < 24 {
        return Err(truncated());
    }
    let (body, crc) = buf.split_at(buf.len() - 4);
    let crc = u32::from_le_bytes(crc.try_into().map_err(|_| truncated())?);
    if crc32c::crc32c(body) != crc {
        return Err(SnapshotError::Corrupt { what: "checksum" });
    }
    let mut r = Reader(body);
    if r.take(8)? != MAGIC {
        return Err(SnapshotError::Corrupt { what: "magic" });
    }
    if r.u32()? != VERSION {
        return Err(SnapshotError::Corrupt { what: "version" });
    }
    let seq = WalSeq(r.u64()?);
    let count = r.u32()?;
    let mut sets = Vec::new();
    for _ in 0..count {
        let tenant =
            TenantId::new(r.str()?).map_err(|_| SnapshotError::Corrupt { what: "tenant" })?;
        let bucket =
            BucketName::new(r.str()?).map_err(|_| SnapshotError::Corrupt { what: "bucket" })?;
        let n = r.u64()?;
        if n.saturating_mul(12) > r.0.len() as u64 {
            return Err(truncated());
        }
        let mut seen = HashMap::with_capacity(n as usize);
        for _ in 0..n {
            let h = r.u64()?;
            seen.insert(h, r.u32()?);
        }
        let mut set = SeriesSet::default();
        set.seen = seen;
        sets.push(((tenant, bucket), set));
    }
    if !r.0.is_empty() {
        return Err(SnapshotError::Corrupt {
            what: "trailing bytes",
        });
    }
    Ok((seq, sets))
}

fn io(op: &'static str, path: &Path, source: std::io::Error) -> SnapshotError {
    SnapshotError::Io {
        op,
        path: path.display().to_string(),
        source,
    }
}

/// Writes `bytes` to `dir/FILE` atomically and durably (blocking).
pub fn write(dir: &Path, bytes: &[u8]) -> Result<(), SnapshotError> {
    std::fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
    let tmp = dir.join(format!("{FILE}.tmp"));
    let path = dir.join(FILE);
    let mut f = std::fs::File::create(&tmp).map_err(|e| io("create", &tmp, e))?;
    f.write_all(bytes).map_err(|e| io("write", &tmp, e))?;
    f.sync_all().map_err(|e| io("fsync", &tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, &path).map_err(|e| io("rename", &path, e))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("fsync", dir, e))
}

/// Reads `dir/FILE`; `Ok(None)` when there is none.
pub fn read(dir: &Path) -> Result<Option<(WalSeq, Sets)>, SnapshotError> {
    let path = dir.join(FILE);
    match std::fs::read(&path) {
        Ok(buf) => decode(&buf).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("read", &path, e)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sets() -> Sets {
        let mut a = SeriesSet::default();
        a.admit(&[1, 2, 3], None, 100, 60);
        let mut b = SeriesSet::default();
        b.admit(&[u64::MAX], None, 7, 60);
        vec![
            (
                (
                    TenantId::new("acme").unwrap(),
                    BucketName::new("telegraf").unwrap(),
                ),
                a,
            ),
            (
                (TenantId::new("b").unwrap(), BucketName::new("x/y").unwrap()),
                b,
            ),
        ]
    }

    #[test]
    fn round_trip_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path()).unwrap().is_none());
        write(dir.path(), &encode(WalSeq(42), &sets())).unwrap();
        let (seq, back) = read(dir.path()).unwrap().unwrap();
        assert_eq!(seq, WalSeq(42));
        assert_eq!(back.len(), 2);
        let want = sets();
        for (i, (k, s)) in back.iter().enumerate() {
            assert_eq!(k, &want[i].0);
            assert_eq!(s.seen, want[i].1.seen);
        }
    }

    #[test]
    fn corruption_is_detected() {
        let mut buf = encode(WalSeq(1), &sets());
        let mid = buf.len() / 2;
        buf[mid] ^= 1;
        assert!(matches!(
            decode(&buf),
            Err(SnapshotError::Corrupt { what: "checksum" })
        ));
        assert!(decode(&buf[..10]).is_err());
    }
}
