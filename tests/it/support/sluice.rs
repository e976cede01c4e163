//! A real `sluice serve` process started by a test (`CARGO_BIN_EXE_sluice`).
//!
//! Owns: writing the config file (filling `data_dir`, `[server] listen` and `[admin] listen`
//! when the test's TOML leaves them out; both listeners on free ports), rewriting it for a
//! reload, the process, readiness (`GET /ready` → 200), signals (SIGTERM, SIGHUP, SIGKILL),
//! restart on the same ports and data dir. Also `SluiceConfig`, a builder for the common config shape:
//! top-level `data_dir`; `[server] listen`; `[wal] dir/sync/max_disk`; `[upstream] url/api`;
//! `[[tenant]] id, token_sha256 = [hex], buckets = [..], upstream = {org, token, username,
//! password, bucket_prefix}`. Does not own: what sluice does with the config.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use toml::{Table, Value};

use super::ports::{free_ports, wait_http};
use super::process::Proc;

const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// The sluice binary cargo built for this test run.
pub fn sluice_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sluice"))
}

/// SHA-256 hex of a tenant token, as `sluice token hash T` prints and `token_sha256` expects.
pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Runs `sluice token hash <token>` and returns its trimmed stdout.
pub fn token_hash_cli(token: &str) -> String {
    let out = Command::new(sluice_bin())
        .args(["token", "hash", token])
        .output()
        .expect("run sluice token hash");
    assert!(
        out.status.success(),
        "sluice token hash failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Fills `data_dir` and `[server] listen` into `config_toml` when absent; returns the TOML and
/// the listen address actually configured.
pub fn fill_config(config_toml: &str, listen: &str, data_dir: &Path) -> (String, String) {
    let mut t: Table = config_toml
        .parse()
        .unwrap_or_else(|e| panic!("test's sluice config is not TOML: {e}\n{config_toml}"));
    t.entry("data_dir")
        .or_insert_with(|| Value::String(data_dir.display().to_string()));
    let server = t
        .entry("server")
        .or_insert_with(|| Value::Table(Table::new()))
        .as_table_mut()
        .expect("[server] must be a table");
    let listen = server
        .entry("listen")
        .or_insert_with(|| Value::String(listen.to_owned()))
        .as_str()
        .expect("server.listen must be a string")
        .to_owned();
    (toml::to_string(&t).expect("serialize config"), listen)
}

/// Fills `[admin] listen` into `config_toml` when absent; returns the TOML and the admin
/// address actually configured.
pub fn fill_admin(config_toml: &str, admin: &str) -> (String, String) {
    let mut t: Table = config_toml
        .parse()
        .unwrap_or_else(|e| panic!("test's sluice config is not TOML: {e}\n{config_toml}"));
    let table = t
        .entry("admin")
        .or_insert_with(|| Value::Table(Table::new()))
        .as_table_mut()
        .expect("[admin] must be a table");
    let admin = table
        .entry("listen")
        .or_insert_with(|| Value::String(admin.to_owned()))
        .as_str()
        .expect("admin.listen must be a string")
        .to_owned();
    (toml::to_string(&t).expect("serialize config"), admin)
}

/// A running `sluice serve`. Dropping it sends SIGKILL and removes its temp dir.
#[derive(Debug)]
pub struct Sluice {
    proc: Proc,
    listen: String,
    admin_listen: String,
    config_path: PathBuf,
    /// Time from spawn to `/ready` 200 for the last (re)start.
    pub startup: Duration,
    dir: tempfile::TempDir,
}

impl Sluice {
    /// Writes the config (see [`fill_config`]), starts `sluice serve --config FILE` and waits
    /// for `GET /ready` → 200. Panics with sluice's stderr if it exits or is not ready in 90 s (a debug build replaying a large WAL after kill -9 needs tens of seconds).
    pub fn start(config_toml: &str) -> Sluice {
        let mut s = Sluice::spawn(config_toml);
        s.wait_ready();
        s
    }

    /// Like [`start`](Sluice::start), with more arguments after `serve --config FILE`.
    pub fn start_with_args(config_toml: &str, extra: &[&str]) -> Sluice {
        let mut s = Sluice::spawn_with_args(config_toml, extra);
        s.wait_ready();
        s
    }

    /// Like [`start`](Sluice::start) but does not wait: for tests that expect a start-up failure.
    pub fn spawn(config_toml: &str) -> Sluice {
        Sluice::spawn_with_args(config_toml, &[])
    }

    fn spawn_with_args(config_toml: &str, extra: &[&str]) -> Sluice {
        let dir = tempfile::Builder::new()
            .prefix("it-sluice-")
            .tempdir()
            .expect("tempdir");
        let [port, admin_port] = free_ports();
        let listen = format!("127.0.0.1:{port}");
        let (toml, listen) = fill_config(config_toml, &listen, &dir.path().join("data"));
        let (toml, admin_listen) = fill_admin(&toml, &format!("127.0.0.1:{admin_port}"));
        let config_path = dir.path().join("sluice.toml");
        std::fs::write(&config_path, toml).expect("write sluice.toml");
        let mut args: Vec<OsString> =
            vec!["serve".into(), "--config".into(), (&config_path).into()];
        args.extend(extra.iter().map(OsString::from));
        let proc = Proc::spawn("sluice", &sluice_bin(), args, dir.path());
        Sluice {
            proc,
            listen,
            admin_listen,
            config_path,
            startup: Duration::ZERO,
            dir,
        }
    }

    /// Waits for `GET /ready` → 200 (records [`startup`](Sluice::startup)).
    pub fn wait_ready(&mut self) {
        self.wait_ready_within(READY_TIMEOUT);
    }

    /// Like [`wait_ready`](Sluice::wait_ready) with another limit (replaying a big WAL and
    /// store takes longer, in debug builds on a busy machine tens of seconds).
    pub fn wait_ready_within(&mut self, timeout: Duration) {
        let started = Instant::now();
        let url = format!("{}/ready", self.url());
        wait_http(&url, 200, timeout, &mut self.proc);
        self.startup = started.elapsed();
    }

    /// `http://<listen>`
    pub fn url(&self) -> String {
        format!("http://{}", self.listen)
    }

    /// `http://<admin listen>`: `/metrics`, `/-/reload`.
    pub fn admin_url(&self) -> String {
        format!("http://{}", self.admin_listen)
    }

    /// Replaces the config file with `config_toml`, keeping this instance's `data_dir` and
    /// listen addresses where the new TOML leaves them out. Sluice reads it on SIGHUP,
    /// `POST /-/reload` or restart.
    pub fn rewrite_config(&self, config_toml: &str) {
        let (toml, _) = fill_config(config_toml, &self.listen, &self.dir.path().join("data"));
        let (toml, _) = fill_admin(&toml, &self.admin_listen);
        std::fs::write(&self.config_path, toml).expect("rewrite sluice.toml");
    }

    /// Sends SIGHUP (`kill -HUP <pid>`): reload the config file.
    pub fn hangup(&mut self) {
        let pid = self.pid().expect("sluice is running");
        let ok = Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -HUP {pid} failed");
    }

    /// The configured `[server] listen` address.
    pub fn listen(&self) -> &str {
        &self.listen
    }

    pub fn pid(&self) -> Option<u32> {
        self.proc.pid()
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The temp dir (config, logs, and the default data dir `<dir>/data`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Captured stdout so far.
    pub fn stdout(&self) -> String {
        self.proc.stdout_tail(1 << 20)
    }

    /// Captured stderr so far.
    pub fn stderr(&self) -> String {
        self.proc.stderr_tail(1 << 20)
    }

    /// SIGKILL and reap: a crash. Data dir and port are kept.
    pub fn kill9(&mut self) {
        self.proc.kill9();
    }

    /// SIGTERM (via `kill -TERM <pid>`), without waiting.
    pub fn terminate(&mut self) {
        self.proc.terminate();
    }

    /// Waits up to `timeout` for the process to exit; panics (with stderr) if it does not.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        self.proc.wait_exit(timeout)
    }

    /// Stops (SIGTERM, SIGKILL after 10 s) if running, then starts again with the same config,
    /// port and data dir, and waits for `/ready`.
    pub fn restart(&mut self) {
        self.restart_within(READY_TIMEOUT);
    }

    /// Like [`restart`](Sluice::restart), waiting up to `timeout` for `/ready`.
    pub fn restart_within(&mut self, timeout: Duration) {
        self.proc.stop(Duration::from_secs(10));
        self.proc.respawn();
        self.wait_ready_within(timeout);
    }
}

/// One `[[tenant]]`. Tokens are given in clear and written hashed.
#[derive(Debug, Clone, Default)]
pub struct TenantConf {
    pub id: String,
    pub tokens: Vec<String>,
    pub buckets: Vec<String>,
    pub upstream_org: Option<String>,
    pub upstream_token: Option<String>,
    pub upstream_username: Option<String>,
    pub upstream_password: Option<String>,
    pub upstream_bucket_prefix: Option<String>,
}

/// Builder for the common config. `to_toml()` leaves `data_dir`/`listen` to [`Sluice::start`].
#[derive(Debug, Clone, Default)]
pub struct SluiceConfig {
    /// `[upstream] url`, `api` (`"v1"` or `"v2"`).
    pub upstream: Option<(String, String)>,
    /// `[wal]` keys (`dir`, `sync`, `max_disk`, ...) with their TOML values.
    pub wal: Vec<(String, Value)>,
    pub tenants: Vec<TenantConf>,
}

impl SluiceConfig {
    pub fn new() -> SluiceConfig {
        SluiceConfig::default()
    }

    pub fn upstream(mut self, url: &str, api: &str) -> SluiceConfig {
        self.upstream = Some((url.to_owned(), api.to_owned()));
        self
    }

    pub fn wal(mut self, key: &str, value: impl Into<Value>) -> SluiceConfig {
        self.wal.push((key.to_owned(), value.into()));
        self
    }

    pub fn tenant(mut self, t: TenantConf) -> SluiceConfig {
        self.tenants.push(t);
        self
    }

    /// A tenant `id` with one token and some buckets, no upstream credentials.
    pub fn simple_tenant(self, id: &str, token: &str, buckets: &[&str]) -> SluiceConfig {
        self.tenant(TenantConf {
            id: id.to_owned(),
            tokens: vec![token.to_owned()],
            buckets: buckets.iter().map(|b| (*b).to_owned()).collect(),
            ..TenantConf::default()
        })
    }

    pub fn to_toml(&self) -> String {
        let mut t = Table::new();
        if let Some((url, api)) = &self.upstream {
            let mut u = Table::new();
            u.insert("url".into(), url.clone().into());
            u.insert("api".into(), api.clone().into());
            t.insert("upstream".into(), u.into());
        }
        if !self.wal.is_empty() {
            let w: Table = self.wal.iter().cloned().collect();
            t.insert("wal".into(), w.into());
        }
        let tenants: Vec<Value> = self.tenants.iter().map(tenant_table).collect();
        if !tenants.is_empty() {
            t.insert("tenant".into(), tenants.into());
        }
        toml::to_string(&t).expect("serialize sluice config")
    }
}

fn tenant_table(tc: &TenantConf) -> Value {
    let mut t = Table::new();
    t.insert("id".into(), tc.id.clone().into());
    let hashes: Vec<Value> = tc.tokens.iter().map(|k| token_sha256(k).into()).collect();
    t.insert("token_sha256".into(), hashes.into());
    let buckets: Vec<Value> = tc.buckets.iter().map(|b| b.clone().into()).collect();
    t.insert("buckets".into(), buckets.into());
    let mut up = Table::new();
    for (k, v) in [
        ("org", &tc.upstream_org),
        ("token", &tc.upstream_token),
        ("username", &tc.upstream_username),
        ("password", &tc.upstream_password),
        ("bucket_prefix", &tc.upstream_bucket_prefix),
    ] {
        if let Some(v) = v {
            up.insert(k.into(), v.clone().into());
        }
    }
    if !up.is_empty() {
        t.insert("upstream".into(), up.into());
    }
    t.into()
}

#[test]
fn fill_config_adds_listen_and_data_dir_but_keeps_given_ones() {
    let (out, listen) = fill_config(
        "[server]\nmax_body = 5\n[wal]\nsync = \"always\"\n",
        "127.0.0.1:9",
        Path::new("/tmp/x"),
    );
    assert_eq!(listen, "127.0.0.1:9");
    let t: Table = out.parse().expect("round trip");
    assert_eq!(t["data_dir"].as_str(), Some("/tmp/x"));
    assert_eq!(t["server"]["listen"].as_str(), Some("127.0.0.1:9"));
    assert_eq!(t["server"]["max_body"].as_integer(), Some(5));
    assert_eq!(t["wal"]["sync"].as_str(), Some("always"));

    let (_, listen) = fill_config(
        "data_dir = \"/d\"\n[server]\nlisten = \"127.0.0.1:7\"\n",
        "127.0.0.1:9",
        Path::new("/tmp/x"),
    );
    assert_eq!(listen, "127.0.0.1:7");
}

#[test]
fn fill_admin_adds_the_admin_listener_but_keeps_a_given_one() {
    let (out, admin) = fill_admin("[server]\nlisten = \"127.0.0.1:1\"\n", "127.0.0.1:2");
    assert_eq!(admin, "127.0.0.1:2");
    let t: Table = out.parse().expect("round trip");
    assert_eq!(t["admin"]["listen"].as_str(), Some("127.0.0.1:2"));
    assert_eq!(t["server"]["listen"].as_str(), Some("127.0.0.1:1"));
    let (_, admin) = fill_admin("[admin]\nlisten = \"127.0.0.1:3\"\n", "127.0.0.1:2");
    assert_eq!(admin, "127.0.0.1:3");
}

#[test]
fn config_builder_renders_the_documented_shape() {
    let toml = SluiceConfig::new()
        .upstream("http://127.0.0.1:8086", "v1")
        .wal("sync", "always")
        .tenant(TenantConf {
            id: "acme".into(),
            tokens: vec!["secret".into()],
            buckets: vec!["telegraf".into()],
            upstream_username: Some("u".into()),
            upstream_password: Some("p".into()),
            ..TenantConf::default()
        })
        .to_toml();
    let t: Table = toml.parse().expect("valid TOML");
    assert_eq!(t["upstream"]["api"].as_str(), Some("v1"));
    assert_eq!(t["wal"]["sync"].as_str(), Some("always"));
    let tenant = &t["tenant"][0];
    assert_eq!(tenant["id"].as_str(), Some("acme"));
    // sha256("secret")
    assert_eq!(
        tenant["token_sha256"][0].as_str(),
        Some("2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b")
    );
    assert_eq!(tenant["buckets"][0].as_str(), Some("telegraf"));
    assert_eq!(tenant["upstream"]["username"].as_str(), Some("u"));
    assert!(tenant["upstream"].get("org").is_none());
}
