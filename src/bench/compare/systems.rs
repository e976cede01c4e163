//! The systems the harness compares, each started on 127.0.0.1 with its data in a temp dir:
//! sluice (embedded, and forwarding to InfluxDB 1.x), influxd alone, vmagent → VictoriaMetrics,
//! vmagent with its remote down, and nginx proxying to a `return 204` server.
//!
//! Owns: each system's config and start-up. Does not own: process lifetime (`procs`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::procs::{Proc, TempDir, free_port, wait_ready};
use crate::bench::BenchError;
use crate::bench::batches::{Api, TenantSpec};

const READY: Duration = Duration::from_secs(30);

/// A system under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum System {
    /// sluice, no upstream (WAL only; wal.sync = always).
    Sluice,
    /// sluice forwarding to InfluxDB 1.6.7 (v1).
    SluiceInfluxd,
    /// InfluxDB 1.6.7 alone.
    Influxd,
    /// vmagent → victoria-metrics.
    VmagentVm,
    /// vmagent whose remote is down (disk queue).
    VmagentDown,
    /// nginx proxying to a `return 204` server.
    Nginx,
}

impl System {
    pub const ALL: [System; 6] = [
        System::Sluice,
        System::SluiceInfluxd,
        System::Influxd,
        System::VmagentVm,
        System::VmagentDown,
        System::Nginx,
    ];

    pub fn label(self) -> &'static str {
        match self {
            System::Sluice => "sluice",
            System::SluiceInfluxd => "sluice → influxd",
            System::Influxd => "influxd 1.6",
            System::VmagentVm => "vmagent → VM",
            System::VmagentDown => "vmagent, remote down",
            System::Nginx => "nginx proxy → 204",
        }
    }
}

/// Binaries used; defaults are the Debian paths.
#[derive(Debug, Clone)]
pub struct Bins {
    pub sluice: PathBuf,
    pub influxd: PathBuf,
    pub victoria: PathBuf,
    pub vmagent: PathBuf,
    pub nginx: PathBuf,
}

/// A started system. Processes stop (front first) before their dirs are removed.
#[derive(Debug)]
pub struct Running {
    /// The process receiving the load first, then its backends.
    pub procs: Vec<Proc>,
    pub dirs: Vec<TempDir>,
    pub url: String,
}

const SLUICE_TOKEN: &str = "bench-token";

fn bench_tenant(token: &str) -> TenantSpec {
    TenantSpec {
        id: "bench".into(),
        token: token.into(),
        bucket: "bench".into(),
    }
}

/// The tenant (credentials) and API the pool for `sys` must use: sluice checks a token;
/// the peers run without auth; influxd 1.x has no `/api/v2/write`.
pub fn tenant_for(sys: System, api: Api) -> (TenantSpec, Api) {
    match sys {
        System::Sluice | System::SluiceInfluxd => (bench_tenant(SLUICE_TOKEN), api),
        System::Influxd => (bench_tenant(""), Api::V1),
        _ => (bench_tenant(""), api),
    }
}

fn arg(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn write(path: &Path, text: &str) -> Result<(), BenchError> {
    std::fs::write(path, text).map_err(|source| BenchError::Io {
        what: format!("writing {}", path.display()),
        source,
    })
}

/// Starts `sys` and waits until it is ready.
pub async fn start(sys: System, bins: &Bins) -> Result<Running, BenchError> {
    match sys {
        System::Sluice => start_sluice(bins, None).await,
        System::SluiceInfluxd => {
            let influx = start_influxd(bins).await?;
            let mut s = start_sluice(bins, Some(&influx.url)).await?;
            s.procs.extend(influx.procs);
            s.dirs.extend(influx.dirs);
            Ok(s)
        }
        System::Influxd => start_influxd(bins).await,
        System::VmagentVm => {
            let vm = start_vm(bins).await?;
            let mut a = start_vmagent(bins, &format!("{}/api/v1/write", vm.url)).await?;
            a.procs.extend(vm.procs);
            a.dirs.extend(vm.dirs);
            Ok(a)
        }
        System::VmagentDown => {
            let nowhere = format!("http://127.0.0.1:{}/api/v1/write", free_port()?);
            start_vmagent(bins, &nowhere).await
        }
        System::Nginx => start_nginx(bins).await,
    }
}

async fn start_sluice(bins: &Bins, upstream: Option<&str>) -> Result<Running, BenchError> {
    let dir = TempDir::new("bench-sluice")?;
    let port = free_port()?;
    let admin = free_port()?;
    let hash = hex::encode(Sha256::digest(SLUICE_TOKEN.as_bytes()));
    let mut conf = format!(
        "data_dir = \"{d}/data\"\n\n[server]\nlisten = \"127.0.0.1:{port}\"\n\n\
         [admin]\nlisten = \"127.0.0.1:{admin}\"\n\n[wal]\nsync = \"always\"\n\n",
        d = dir.path().display()
    );
    if let Some(u) = upstream {
        conf.push_str(&format!("[upstream]\nurl = \"{u}\"\napi = \"v1\"\n\n"));
    }
    conf.push_str(&format!(
        "[[tenant]]\nid = \"bench\"\ntoken_sha256 = [\"{hash}\"]\nbuckets = [\"bench\"]\n"
    ));
    let path = dir.path().join("sluice.toml");
    write(&path, &conf)?;
    let mut p = Proc::spawn(
        "sluice",
        &bins.sluice,
        &[
            "serve".into(),
            "--config".into(),
            path.display().to_string(),
        ],
        dir.path(),
    )?;
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(&mut p, &format!("{url}/ready"), Some(200), READY).await?;
    Ok(Running {
        procs: vec![p],
        dirs: vec![dir],
        url,
    })
}

async fn start_influxd(bins: &Bins) -> Result<Running, BenchError> {
    let dir = TempDir::new("bench-influxd")?;
    let (http, rpc) = (free_port()?, free_port()?);
    let path = dir.path().join("influxdb.conf");
    write(&path, &influx_config(dir.path(), http, rpc))?;
    let mut p = Proc::spawn(
        "influxd",
        &bins.influxd,
        &["run".into(), "-config".into(), path.display().to_string()],
        dir.path(),
    )?;
    let url = format!("http://127.0.0.1:{http}");
    wait_ready(&mut p, &format!("{url}/ping"), Some(204), READY).await?;
    let created = reqwest::Client::new()
        .post(format!("{url}/query"))
        .form(&[("q", "CREATE DATABASE bench")])
        .send()
        .await
        .map(|r| r.status().is_success());
    if !matches!(created, Ok(true)) {
        return Err(BenchError::Start {
            name: "influxd".into(),
            reason: format!("CREATE DATABASE failed: {created:?}"),
        });
    }
    Ok(Running {
        procs: vec![p],
        dirs: vec![dir],
        url,
    })
}

async fn start_vm(bins: &Bins) -> Result<Running, BenchError> {
    start_health_checked(
        "victoria-metrics",
        &bins.victoria,
        "bench-vm",
        |port, dir| {
            vec![
                format!("-httpListenAddr=127.0.0.1:{port}"),
                format!("-storageDataPath={}/data", dir.display()),
                "-loggerLevel=ERROR".into(),
            ]
        },
    )
    .await
}

async fn start_vmagent(bins: &Bins, remote: &str) -> Result<Running, BenchError> {
    start_health_checked("vmagent", &bins.vmagent, "bench-vmagent", |port, dir| {
        vec![
            format!("-httpListenAddr=127.0.0.1:{port}"),
            format!("-remoteWrite.url={remote}"),
            format!("-remoteWrite.tmpDataPath={}/queue", dir.display()),
            "-loggerLevel=ERROR".into(),
        ]
    })
    .await
}

/// Starts one VictoriaMetrics-family process on a free loopback port with data in a new temp
/// dir (`args` gets both) and waits for its `/health`.
async fn start_health_checked(
    name: &str,
    bin: &Path,
    dir_prefix: &str,
    args: impl FnOnce(u16, &Path) -> Vec<String>,
) -> Result<Running, BenchError> {
    let dir = TempDir::new(dir_prefix)?;
    let port = free_port()?;
    let mut p = Proc::spawn(name, bin, &args(port, dir.path()), dir.path())?;
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(&mut p, &format!("{url}/health"), Some(200), READY).await?;
    Ok(Running {
        procs: vec![p],
        dirs: vec![dir],
        url,
    })
}

async fn start_nginx(bins: &Bins) -> Result<Running, BenchError> {
    let dir = TempDir::new("bench-nginx")?;
    let (front, sink) = (free_port()?, free_port()?);
    let d = dir.path().display();
    let as_root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(str::to_owned))
        .is_some_and(|l| l.split_whitespace().nth(2) == Some("0"));
    // Workers must be able to write the temp paths inside our (root-owned) dir.
    let user = if as_root { "user root;" } else { "" };
    let conf = format!(
        r#"daemon off;
master_process on;
worker_processes 2;
{user}
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  client_max_body_size 0;
  client_body_buffer_size 64m;
  upstream sink {{ server 127.0.0.1:{sink}; keepalive 32; }}
  server {{
    listen 127.0.0.1:{front};
    location / {{
      proxy_pass http://sink;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
  server {{
    listen 127.0.0.1:{sink};
    location / {{ return 204; }}
  }}
}}
"#
    );
    let path = dir.path().join("nginx.conf");
    write(&path, &conf)?;
    let mut p = Proc::spawn(
        "nginx",
        &bins.nginx,
        &arg(&[
            "-p",
            &d.to_string(),
            "-c",
            &path.display().to_string(),
            "-e",
            &format!("{d}/error.log"),
        ]),
        dir.path(),
    )?;
    let url = format!("http://127.0.0.1:{front}");
    wait_ready(&mut p, &format!("{url}/"), Some(204), READY).await?;
    Ok(Running {
        procs: vec![p],
        dirs: vec![dir],
        url,
    })
}

/// influxd 1.x with every listener on loopback ports and all dirs in `dir` (as the
/// integration tests' generator): Debian defaults otherwise, WAL fsync on every write.
fn influx_config(dir: &Path, http: u16, rpc: u16) -> String {
    let d = dir.display();
    format!(
        r#"reporting-enabled = false
reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{d}/meta"
  logging-enabled = false
[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  wal-fsync-delay = "0s"
  index-version = "inmem"
  query-log-enabled = false
  trace-logging-enabled = false
[retention]
  enabled = false
[shard-precreation]
  enabled = false
[monitor]
  store-enabled = false
[subscriber]
  enabled = false
[continuous_queries]
  enabled = false
[ifql]
  enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{http}"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false
[logging]
  level = "warn"
  suppress-logo = true
"#
    )
}
