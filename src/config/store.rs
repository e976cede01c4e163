//! `[store]`: the embedded store's settings and their defaults.
//!
//! Owns: the defaults (on exactly when there is no `[upstream]`, files under
//! `<data_dir>/store`, keep forever, flush every 5 min or 64 MiB, pause reading the WAL at
//! 256 MiB of buffers) and their rules. Does not own: what the store does with them (`store`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::raw::RawStore;
use super::units::HumanDuration;
use super::validate::{invalid, positive_size};
use super::{ConfigError, StoreSettings};

const MIB: u64 = 1 << 20;

pub(super) fn defaults(data_dir: &Path, upstream: bool) -> StoreSettings {
    StoreSettings {
        enabled: !upstream,
        dir: data_dir.join("store"),
        retention: None,
        flush_interval: Duration::from_secs(300),
        flush_bytes: 64 * MIB,
        max_buffer_bytes: 256 * MIB,
        maintenance_interval: Duration::from_secs(60),
    }
}

pub(super) fn build(
    text: &str,
    data_dir: &Path,
    upstream: bool,
    raw: RawStore,
) -> Result<StoreSettings, ConfigError> {
    let mut s = defaults(data_dir, upstream);
    if let Some(e) = raw.enabled {
        s.enabled = e;
    }
    if let Some(dir) = raw.dir {
        s.dir = PathBuf::from(dir);
    }
    if let Some(r) = raw.retention {
        s.retention = r.0;
    }
    if let Some(d) = raw.flush_interval {
        let HumanDuration(v) = *d.get_ref();
        if v.is_zero() {
            return invalid(
                text,
                "store.flush_interval".into(),
                d.span(),
                "must be longer than 0",
            );
        }
        s.flush_interval = v;
    }
    if let Some(d) = raw.maintenance_interval {
        let HumanDuration(v) = *d.get_ref();
        if v.is_zero() {
            return invalid(
                text,
                "store.maintenance_interval".into(),
                d.span(),
                "must be longer than 0",
            );
        }
        s.maintenance_interval = v;
    }
    s.flush_bytes = positive_size(text, "store.flush_bytes", raw.flush_bytes, s.flush_bytes)?;
    let max_span = raw.max_buffer_bytes.as_ref().map(Spanned::span);
    s.max_buffer_bytes = positive_size(
        text,
        "store.max_buffer_bytes",
        raw.max_buffer_bytes,
        s.max_buffer_bytes,
    )?;
    if s.max_buffer_bytes < s.flush_bytes {
        return invalid(
            text,
            "store.max_buffer_bytes".into(),
            max_span.unwrap_or(0..0),
            "must not be smaller than store.flush_bytes",
        );
    }
    Ok(s)
}
