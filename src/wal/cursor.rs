//! Consumer cursor files and segment garbage collection.
//!
//! Owns: the cursor file codec (`<name>.cursor`, 16 bytes with a CRC), writing it
//! atomically, loading all cursors at open, and deleting segments every consumer has
//! passed. Does not own what consumers do with records.

use std::collections::BTreeMap;
use std::path::Path;

use tokio::time::Instant;

use super::WalError;
use super::io::{WalFs, write_atomic};
use super::state::Shared;

const CURSOR_MAGIC: [u8; 4] = *b"SLCU";
const CURSOR_SUFFIX: &str = ".cursor";
const CURSOR_LEN: usize = 16;

/// Consumer names: 1–64 ASCII letters, digits, `_` or `-`.
pub fn validate_name(name: &str) -> Result<(), WalError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(WalError::InvalidConsumer {
            name: name.to_owned(),
        })
    }
}

pub fn encode_cursor(seq: u64) -> [u8; CURSOR_LEN] {
    let mut out = [0; CURSOR_LEN];
    out[..4].copy_from_slice(&CURSOR_MAGIC);
    out[4..12].copy_from_slice(&seq.to_le_bytes());
    let crc = crc32c::crc32c(&out[..12]);
    out[12..].copy_from_slice(&crc.to_le_bytes());
    out
}

pub fn decode_cursor(bytes: &[u8]) -> Option<u64> {
    if bytes.len() != CURSOR_LEN || bytes[..4] != CURSOR_MAGIC {
        return None;
    }
    let crc = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
    if crc32c::crc32c(&bytes[..12]) != crc {
        return None;
    }
    let mut seq = [0; 8];
    seq.copy_from_slice(&bytes[4..12]);
    Some(u64::from_le_bytes(seq))
}

/// Loads every `<name>.cursor` in `dir`.
pub fn load_cursors(fs: &dyn WalFs, dir: &Path) -> Result<BTreeMap<String, u64>, WalError> {
    let mut out = BTreeMap::new();
    for file in fs.list(dir).map_err(|e| WalError::io("list", dir, e))? {
        let Some(name) = file.strip_suffix(CURSOR_SUFFIX) else {
            continue;
        };
        if validate_name(name).is_err() {
            continue;
        }
        let path = dir.join(&file);
        let bytes = fs
            .read_all(&path)
            .map_err(|e| WalError::io("read", &path, e))?;
        let seq = decode_cursor(&bytes).ok_or_else(|| WalError::CorruptCursor {
            name: name.to_owned(),
        })?;
        out.insert(name.to_owned(), seq);
    }
    Ok(out)
}

/// Writes the cursor file of `name` durably.
pub fn store_cursor(shared: &Shared, name: &str, seq: u64) -> Result<(), WalError> {
    let dir = &shared.cfg.dir;
    let file = format!("{name}{CURSOR_SUFFIX}");
    write_atomic(&*shared.fs, dir, &file, &encode_cursor(seq))
        .map_err(|e| WalError::io("write cursor", dir.join(&file), e))
}

/// Deletes the cursor file of `name` durably.
pub fn remove_cursor(shared: &Shared, name: &str) -> Result<(), WalError> {
    let dir = &shared.cfg.dir;
    let path = dir.join(format!("{name}{CURSOR_SUFFIX}"));
    shared
        .fs
        .remove(&path)
        .map_err(|e| WalError::io("remove cursor", &path, e))?;
    shared
        .fs
        .sync_dir(dir)
        .map_err(|e| WalError::io("sync dir", dir, e))
}

/// Deletes the oldest segments whose last record every consumer has processed.
/// Never the newest segment; nothing without consumers. Returns bytes freed.
pub fn collect_garbage(shared: &Shared, now: Instant) -> Result<u64, WalError> {
    let victims: Vec<(u64, u64)> = {
        let st = shared.lock();
        let Some(min) = st.cursors.values().min().copied() else {
            return Ok(0);
        };
        let newest = st.segments.keys().next_back().copied();
        st.segments
            .iter()
            .take_while(|(first, meta)| {
                Some(**first) != newest && meta.last_seq.is_none_or(|l| l <= min)
            })
            .map(|(first, meta)| (*first, meta.size))
            .collect()
    };
    let mut freed = 0;
    for (first, size) in &victims {
        let path = shared.segment_path(*first);
        match shared.fs.remove(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(WalError::io("remove", &path, e)),
        }
        let mut st = shared.lock();
        st.segments.remove(first);
        st.used = st.used.saturating_sub(*size);
        st.record_drain(now, *size);
        freed += size;
    }
    if !victims.is_empty() {
        let dir = &shared.cfg.dir;
        shared
            .fs
            .sync_dir(dir)
            .map_err(|e| WalError::io("sync dir", dir, e))?;
        tracing::debug!(
            segments = victims.len(),
            bytes = freed,
            "wal segments deleted"
        );
    }
    Ok(freed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_codec_round_trips_and_detects_corruption() {
        let bytes = encode_cursor(12345);
        assert_eq!(decode_cursor(&bytes), Some(12345));
        for i in 0..CURSOR_LEN {
            let mut bad = bytes;
            bad[i] ^= 0x04;
            assert_eq!(decode_cursor(&bad), None, "byte {i}");
        }
        assert_eq!(decode_cursor(&bytes[..15]), None);
    }

    #[test]
    fn consumer_names_are_checked() {
        assert!(validate_name("forward").is_ok());
        assert!(validate_name("store_2-b").is_ok());
        for bad in ["", "a/b", "..", "a b", &"x".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }
}
