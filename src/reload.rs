//! Hot reload of the config file (SIGHUP, `POST /-/reload`).
//!
//! Owns: re-reading the file sluice was started with, refusing an invalid one (the running
//! config stays, the error is logged and returned), swapping the tenant registry (tokens,
//! buckets, upstream credentials) without touching connections, naming the settings that
//! only a restart applies, and running the reload hooks of other modules. Does not own:
//! validation (`config`), the registry (`tenant`), what a hook does with the new config.
//!
//! # Hooks
//!
//! A module whose live state follows the config (limiters) registers a hook with
//! [`Reloader::add_hook`]: `Fn(&Config)` called after a new config was validated and the
//! registry swapped, in registration order, under the reload lock (reloads never overlap).
//! A hook cannot refuse a config: whatever can be wrong with one is checked by `config`'s
//! validation, before any hook runs. A hook keeps the state of what did not change (e.g.
//! the bucket of an unchanged tenant).
//!
//! # Settings that need a restart
//!
//! `server.*`, `admin.listen`, `data_dir`, `wal.*`, and `[upstream]`'s connection settings
//! (`url`, `api`, `timeout`, batching, `gzip`, `max_in_flight`, `max_backoff`). A reload that
//! changes any of them applies the rest and logs (warn) which ones wait for a restart.
//! `[upstream]`'s default credentials do reload (they live in the tenant registry).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use crate::config::{Config, ConfigError};
use crate::error::{ErrorCode, HasErrorCode};
use crate::tenant::{Registry, SharedRegistry, TenantError};

/// Called with each accepted new config (see "Hooks").
pub type ReloadHook = Box<dyn Fn(&Config) + Send + Sync>;

/// Why a reload was refused; the running config stays.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("sluice was started without --config: there is no config file to reload")]
    NoFile,
    #[error("new config refused, the running one stays: {0}")]
    Config(#[from] ConfigError),
    #[error("new config refused, the running one stays: {0}")]
    Tenant(#[from] TenantError),
}

impl HasErrorCode for ReloadError {
    fn error_code(&self) -> ErrorCode {
        ErrorCode::Invalid
    }
}

/// What a successful reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadReport {
    pub tenants: usize,
    /// Changed settings that only a restart applies (key names as in the file).
    pub needs_restart: Vec<&'static str>,
}

struct Current {
    config: Config,
    hooks: Vec<(String, ReloadHook)>,
}

/// Owns the running config; shared by the SIGHUP task and the admin listener.
pub struct Reloader {
    path: Option<PathBuf>,
    tenants: Arc<SharedRegistry>,
    current: Mutex<Current>,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Reloader {
    /// `path`: the file `config` was read from (`None`: the embedded default, which cannot
    /// be reloaded). `tenants` is the registry built from `config`.
    pub fn new(path: Option<PathBuf>, config: Config, tenants: Arc<SharedRegistry>) -> Self {
        Self {
            path,
            tenants,
            current: Mutex::new(Current {
                config,
                hooks: Vec::new(),
            }),
        }
    }

    /// Registers `hook`, named for logs, to run on every accepted reload.
    pub fn add_hook(&self, name: &str, hook: ReloadHook) {
        self.lock().hooks.push((name.to_owned(), hook));
    }

    /// The running config.
    pub fn config(&self) -> Config {
        self.lock().config.clone()
    }

    /// Re-reads the file and applies it (blocking: file IO). Logs the outcome.
    pub fn reload(&self) -> Result<ReloadReport, ReloadError> {
        let result = match &self.path {
            None => Err(ReloadError::NoFile),
            Some(path) => Config::load(path)
                .map_err(ReloadError::from)
                .and_then(|c| self.apply(c)),
        };
        match &result {
            Ok(r) => tracing::info!(tenants = r.tenants, "config reloaded"),
            Err(e) => tracing::error!(error = %e, "config reload refused"),
        }
        result
    }

    /// Applies an already validated config: swaps the tenant registry, runs the hooks.
    pub fn apply(&self, new: Config) -> Result<ReloadReport, ReloadError> {
        let registry = Registry::from_config(&new)?;
        let tenants = registry.len();
        let mut cur = self.lock();
        let needs_restart = restart_only_changes(&cur.config, &new);
        if !needs_restart.is_empty() {
            tracing::warn!(
                settings = needs_restart.join(", "),
                "changed settings need a restart; the running values stay until then"
            );
        }
        self.tenants.store(registry);
        for (name, hook) in &cur.hooks {
            tracing::debug!(hook = %name, "running reload hook");
            hook(&new);
        }
        cur.config = new;
        Ok(ReloadReport {
            tenants,
            needs_restart,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Settings that differ between `old` and `new` and only a restart applies.
pub fn restart_only_changes(old: &Config, new: &Config) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut check = |changed: bool, key: &'static str| {
        if changed {
            out.push(key);
        }
    };
    let (s, t) = (&old.server, &new.server);
    check(s.listen != t.listen, "server.listen");
    check(
        s.max_body_bytes != t.max_body_bytes,
        "server.max_body_bytes",
    );
    check(
        s.shutdown_timeout != t.shutdown_timeout,
        "server.shutdown_timeout",
    );
    check(old.admin.listen != new.admin.listen, "admin.listen");
    check(old.data_dir != new.data_dir, "data_dir");
    let (w, x) = (&old.wal, &new.wal);
    check(w.dir != x.dir, "wal.dir");
    check(w.max_disk != x.max_disk, "wal.max_disk");
    check(w.sync != x.sync, "wal.sync");
    check(w.segment_size != x.segment_size, "wal.segment_size");
    check(w.compression != x.compression, "wal.compression");
    match (&old.upstream, &new.upstream) {
        (None, None) => {}
        (Some(u), Some(v)) => {
            check(u.url != v.url, "upstream.url");
            check(u.api != v.api, "upstream.api");
            check(u.timeout != v.timeout, "upstream.timeout");
            check(u.batch_lines != v.batch_lines, "upstream.batch_lines");
            check(u.batch_bytes != v.batch_bytes, "upstream.batch_bytes");
            check(u.gzip != v.gzip, "upstream.gzip");
            check(u.max_in_flight != v.max_in_flight, "upstream.max_in_flight");
            check(u.max_backoff != v.max_backoff, "upstream.max_backoff");
        }
        _ => check(true, "upstream"),
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::tenant::token;

    fn config(tenants: &[(&str, &str)], extra: &str) -> String {
        let mut s = format!("{extra}\n");
        for (id, tok) in tenants {
            s.push_str(&format!(
                "[[tenant]]\nid = \"{id}\"\ntoken_sha256 = [\"{}\"]\nbuckets = [\"*\"]\n",
                token::hash(tok)
            ));
        }
        s
    }

    fn setup(text: &str) -> (tempfile::TempDir, PathBuf, Reloader, Arc<SharedRegistry>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sluice.toml");
        std::fs::write(&path, text).unwrap();
        let cfg = Config::load(&path).unwrap();
        let shared = Arc::new(SharedRegistry::new(Registry::from_config(&cfg).unwrap()));
        let r = Reloader::new(Some(path.clone()), cfg, shared.clone());
        (dir, path, r, shared)
    }

    #[test]
    fn valid_reload_rotates_tokens_and_runs_hooks() {
        let (_d, path, r, shared) = setup(&config(&[("acme", "old-token")], ""));
        let seen = Arc::new(AtomicUsize::new(0));
        let s = seen.clone();
        r.add_hook(
            "count",
            Box::new(move |c: &Config| {
                s.store(c.tenants.len(), Ordering::SeqCst);
            }),
        );
        assert!(shared.load().authenticate("old-token").is_some());
        std::fs::write(
            &path,
            config(&[("acme", "new-token"), ("beta", "beta-token")], ""),
        )
        .unwrap();
        let report = r.reload().unwrap();
        assert_eq!(report.tenants, 2);
        assert!(report.needs_restart.is_empty(), "{report:?}");
        let reg = shared.load();
        assert!(reg.authenticate("old-token").is_none());
        assert_eq!(reg.authenticate("new-token").unwrap().id().as_str(), "acme");
        assert!(reg.authenticate("beta-token").is_some());
        assert_eq!(seen.load(Ordering::SeqCst), 2);
        assert_eq!(r.config().tenants.len(), 2);
    }

    #[test]
    fn invalid_reload_keeps_the_running_config() {
        let (_d, path, r, shared) = setup(&config(&[("acme", "tok")], ""));
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        r.add_hook(
            "count",
            Box::new(move |_: &Config| {
                c.fetch_add(1, Ordering::SeqCst);
            }),
        );
        // Duplicate token across tenants, then a syntax error, then an unknown key.
        for bad in [
            config(&[("acme", "x"), ("beta", "x")], ""),
            "[[tenant]\n".to_owned(),
            config(&[("acme", "new")], "bogus = 1"),
        ] {
            std::fs::write(&path, &bad).unwrap();
            let e = r.reload().unwrap_err();
            assert!(matches!(e, ReloadError::Config(_)), "{e}");
            assert!(e.to_string().contains("running one stays"), "{e}");
        }
        assert!(shared.load().authenticate("tok").is_some());
        assert!(shared.load().authenticate("new").is_none());
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        assert_eq!(r.config().tenants.len(), 1);
    }

    #[test]
    fn restart_only_settings_are_named_and_the_rest_applies() {
        let (_d, path, r, shared) = setup(&config(
            &[("acme", "a")],
            "[server]\nlisten = \"127.0.0.1:1\"",
        ));
        std::fs::write(
            &path,
            config(
                &[("acme", "b")],
                "[server]\nlisten = \"127.0.0.1:2\"\n[wal]\nsync = \"none\"",
            ),
        )
        .unwrap();
        let report = r.reload().unwrap();
        assert_eq!(report.needs_restart, vec!["server.listen", "wal.sync"]);
        assert!(shared.load().authenticate("b").is_some());
    }

    #[test]
    fn embedded_default_has_nothing_to_reload() {
        let cfg = Config::embedded_default(std::path::Path::new("/nonexistent"));
        let shared = Arc::new(SharedRegistry::new(Registry::from_config(&cfg).unwrap()));
        let r = Reloader::new(None, cfg, shared);
        assert!(matches!(r.reload(), Err(ReloadError::NoFile)));
    }
}
