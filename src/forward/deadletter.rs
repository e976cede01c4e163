//! Dead letters: lines the upstream refused for good, kept for an operator.
//!
//! Owns: the dead-letter record (one JSON object per line in `<dir>/<tenant>.jsonl`:
//! `{"time","bucket","status","message","precision","lines",["dropped","note"]}`) and its
//! durable append (write + fsync before the batch counts as handled). File access goes through
//! [`DeadLetterSink`] so tests can inject failures.
//! Does not own: deciding what is dead (see `response`).

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

use bytes::Bytes;

use crate::model::{BucketName, TenantId};

/// One dead-letter record.
#[derive(Debug, Clone)]
pub struct DeadLetter<'a> {
    pub time: SystemTime,
    pub bucket: &'a BucketName,
    /// The upstream's HTTP status (`None` when sluice refused the lines itself).
    pub status: Option<u16>,
    pub message: &'a str,
    /// Precision of the timestamps in `lines`, as a v1 name (`n u ms s m h`).
    pub precision: &'a str,
    pub lines: &'a [Bytes],
    /// The upstream's `dropped=N`, when it said.
    pub dropped: Option<u64>,
    /// Caveats, e.g. that `lines` could not be identified.
    pub note: Option<&'a str>,
}

impl DeadLetter<'_> {
    /// The record as one JSON line, `\n`-terminated.
    pub fn encode(&self) -> Vec<u8> {
        let lines: Vec<String> = self
            .lines
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect();
        let mut obj = serde_json::json!({
            "time": humantime::format_rfc3339_millis(self.time).to_string(),
            "bucket": self.bucket.as_str(),
            "status": self.status,
            "message": self.message,
            "precision": self.precision,
            "lines": lines,
        });
        if let Some(d) = self.dropped {
            obj["dropped"] = d.into();
        }
        if let Some(n) = self.note {
            obj["note"] = n.into();
        }
        let mut out = obj.to_string().into_bytes();
        out.push(b'\n');
        out
    }
}

/// Durable, blocking append of encoded records (called from `spawn_blocking`).
pub trait DeadLetterSink: Send + Sync + 'static {
    /// Appends `record` to `tenant`'s dead letters and makes it durable before returning.
    fn append(&self, tenant: &TenantId, record: &[u8]) -> std::io::Result<()>;
}

/// Dead letters as files: `<dir>/<tenant>.jsonl`.
#[derive(Debug)]
pub struct FileSink {
    dir: PathBuf,
    /// Serialises appends so records never interleave.
    lock: Mutex<()>,
}

impl FileSink {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            lock: Mutex::new(()),
        }
    }

    /// The file of `tenant`. Tenant ids are free text, so anything but `[A-Za-z0-9_.-]`
    /// becomes `_` (and a leading `.` too) to keep the file inside `dir`.
    pub fn path(&self, tenant: &TenantId) -> PathBuf {
        let mut name: String = tenant
            .as_str()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if name.starts_with('.') {
            name.replace_range(..1, "_");
        }
        self.dir.join(format!("{name}.jsonl"))
    }
}

impl DeadLetterSink for FileSink {
    fn append(&self, tenant: &TenantId, record: &[u8]) -> std::io::Result<()> {
        let _guard = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        std::fs::create_dir_all(&self.dir)?;
        let path = self.path(tenant);
        let mut f = OpenOptions::new().create(true).append(true).open(&path)?;
        f.write_all(record)?;
        f.sync_data()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn encodes_one_json_line() {
        let bucket = BucketName::new("telegraf").unwrap();
        let lines = [Bytes::from_static(b"cpu s=\"a \\\"b\\\"\" 1")];
        let dl = DeadLetter {
            time: SystemTime::UNIX_EPOCH,
            bucket: &bucket,
            status: Some(400),
            message: "unable to parse",
            precision: "n",
            lines: &lines,
            dropped: Some(1),
            note: None,
        };
        let enc = dl.encode();
        assert_eq!(enc.last(), Some(&b'\n'));
        assert_eq!(enc.iter().filter(|&&b| b == b'\n').count(), 1);
        let v: serde_json::Value = serde_json::from_slice(&enc).unwrap();
        assert_eq!(v["time"], "1970-01-01T00:00:00.000Z");
        assert_eq!(v["bucket"], "telegraf");
        assert_eq!(v["status"], 400);
        assert_eq!(v["lines"][0], "cpu s=\"a \\\"b\\\"\" 1");
        assert_eq!(v["dropped"], 1);
        assert!(v.get("note").is_none());
    }

    #[test]
    fn appends_to_a_per_tenant_file_inside_the_dir() {
        let dir = tempfile::tempdir().unwrap();
        let sink = FileSink::new(dir.path().join("dl"));
        let t = TenantId::new("../evil/x").unwrap();
        sink.append(&t, b"{}\n").unwrap();
        sink.append(&t, b"{}\n").unwrap();
        let p = sink.path(&t);
        assert_eq!(p.parent(), Some(dir.path().join("dl").as_path()));
        assert_eq!(std::fs::read_to_string(p).unwrap(), "{}\n{}\n");
    }
}
