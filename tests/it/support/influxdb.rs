//! A real InfluxDB 1.x (`influxd`, Debian `influxdb`, 1.6.7 here) started by a test.
//!
//! Owns: the generated config (every listener on a free loopback port, all dirs in a tempdir),
//! the process, and reading data back as `Point`s. Does not own: writing (tests use the
//! Telegraf replay or plain `http`).
//!
//! Facts found on 1.6.7 (Debian build):
//! - Start-up to `/ping` 204 takes 35-60 ms (empty or small data dir); SIGTERM stop ~20 ms.
//! - The Debian build reads `reporting-enabled` (not upstream's `reporting-disabled`); both
//!   keys are written, unknown keys are ignored.
//! - The top-level RPC `bind-address` (default 127.0.0.1:8088) must be moved too, or two
//!   instances collide.
//! - `SELECT *` returns floats that happen to be whole (`42.0`) as JSON `42`, the same as
//!   integers, so field types come from `SHOW FIELD KEYS`. Absent fields come back as `null`.
//! - With `auth-enabled`, the first `CREATE USER ... WITH ALL PRIVILEGES` is allowed without
//!   credentials; `/ping` never needs auth.
//! - `max-body-size` limits identity bodies only (413 `Request Entity Too Large`); a gzip
//!   body bypasses it whatever its size (seen with a 1 MB body and a 2 kB limit).
//! - `wal-fsync-delay = 0s`: a 204 means the WAL was fsynced, so SIGKILL loses nothing.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::http::{self, Body, Request, Response, form_encode};
use super::point::{FieldVal, Point, sort_points};
use super::ports::{Wait, free_ports, try_wait_until, wait_http};
use super::process::{Proc, peer_binary};

/// Options for [`InfluxV1::start`].
#[derive(Debug, Clone, Default)]
pub struct InfluxOpts {
    /// `[http] auth-enabled`; an admin user (`admin`/`admin-pw`) is created at start.
    pub auth_enabled: bool,
    /// `[http] max-body-size` in bytes (InfluxDB default 25 000 000).
    pub max_body_size: Option<u64>,
}

/// The admin user created when `auth_enabled`.
pub const ADMIN_USER: &str = "admin";
/// The admin password created when `auth_enabled`.
pub const ADMIN_PASSWORD: &str = "admin-pw";

const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `influxd`. Dropping it kills the process and removes its data.
#[derive(Debug)]
pub struct InfluxV1 {
    proc: Proc,
    http_port: u16,
    opts: InfluxOpts,
    /// Time from spawn to `/ping` 204 for the last (re)start.
    pub startup: Duration,
    dir: tempfile::TempDir,
}

impl InfluxV1 {
    /// Starts influxd, or returns `None` (loudly) when it is not installed and CI is not set.
    pub fn try_start(opts: InfluxOpts) -> Option<InfluxV1> {
        peer_binary("influxd", "influxdb").map(|_| InfluxV1::start(opts))
    }

    /// Starts influxd and waits for `/ping`. Panics if it is not installed.
    pub fn start(opts: InfluxOpts) -> InfluxV1 {
        let bin = peer_binary("influxd", "influxdb").expect("influxd is not installed");
        let dir = tempfile::Builder::new()
            .prefix("it-influxd-")
            .tempdir()
            .expect("tempdir");
        // Ports are picked, then bound by influxd: retry if another process took one meanwhile.
        for attempt in 1..=3 {
            let [http_port, rpc_port] = free_ports();
            let conf = dir.path().join("influxdb.conf");
            std::fs::write(&conf, config(dir.path(), http_port, rpc_port, &opts))
                .expect("write influxdb.conf");
            let args: Vec<OsString> = vec!["run".into(), "-config".into(), conf.into()];
            let started = Instant::now();
            let mut proc = Proc::spawn("influxd", &bin, args, dir.path());
            let ping = format!("http://127.0.0.1:{http_port}/ping");
            let ready = try_wait_until(START_TIMEOUT, &mut proc, || {
                http::get(&ping).is_ok_and(|r| r.status == 204)
            });
            if ready == Wait::Exited
                && attempt < 3
                && proc.stderr_tail(4000).contains("address already in use")
            {
                continue;
            }
            wait_http(&ping, 204, Duration::ZERO, &mut proc);
            let db = InfluxV1 {
                proc,
                http_port,
                opts,
                startup: started.elapsed(),
                dir,
            };
            if db.opts.auth_enabled {
                db.exec(&format!(
                    "CREATE USER \"{ADMIN_USER}\" WITH PASSWORD '{ADMIN_PASSWORD}' WITH ALL PRIVILEGES"
                ));
            }
            return db;
        }
        unreachable!("the last attempt either returns or panics")
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    pub fn port(&self) -> u16 {
        self.http_port
    }

    pub fn pid(&self) -> Option<u32> {
        self.proc.pid()
    }

    /// Where influxd's stdout/stderr are captured.
    pub fn stderr(&self) -> String {
        self.proc.stderr_tail(16_000)
    }

    /// Graceful stop (SIGTERM, then SIGKILL after 10 s). The data dir and port are kept.
    pub fn stop(&mut self) {
        self.proc.stop(Duration::from_secs(10));
    }

    /// SIGKILL. The data dir and port are kept.
    pub fn kill9(&mut self) {
        self.proc.kill9();
    }

    /// Starts again on the same port and data dir (after `stop`/`kill9`; stops first if needed).
    pub fn restart(&mut self) {
        self.stop();
        let started = Instant::now();
        self.proc.respawn();
        wait_http(
            &format!("{}/ping", self.url()),
            204,
            START_TIMEOUT,
            &mut self.proc,
        );
        self.startup = started.elapsed();
    }

    fn authed(&self, req: Request) -> Request {
        if self.opts.auth_enabled {
            req.basic_auth(ADMIN_USER, ADMIN_PASSWORD)
        } else {
            req
        }
    }

    /// `GET /query?db=..&epoch=ns&q=..` (as admin when auth is on). Panics unless 200 and no
    /// statement error.
    pub fn query(&self, db: &str, q: &str) -> Value {
        self.query_within(db, q, Duration::from_secs(30))
    }

    /// Like [`query`](InfluxV1::query), waiting up to `timeout` for each read (a GROUP BY over
    /// a day of data takes InfluxDB ~10 µs per value it returns).
    pub fn query_within(&self, db: &str, q: &str, timeout: Duration) -> Value {
        let url = format!(
            "{}/query?{}",
            self.url(),
            form_encode(&[("db", db), ("epoch", "ns"), ("q", q)])
        );
        checked(
            self.authed(Request::new("GET", &url)).send_within(timeout),
            q,
        )
    }

    /// `POST /query` with a form body, for statements that change state. Panics on error.
    pub fn exec(&self, q: &str) -> Value {
        let req = Request::new("POST", &format!("{}/query", self.url()))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(Body::Fixed(form_encode(&[("q", q)]).into_bytes()));
        checked(self.authed(req).send(), q)
    }

    /// `CREATE DATABASE "name"`.
    pub fn create_db(&self, name: &str) {
        self.exec(&format!("CREATE DATABASE {}", ident(name)));
    }

    /// Plain (identity, Content-Length) `POST /write?db=..` of `lines`; returns the response.
    pub fn write(&self, db: &str, lines: &str) -> Response {
        let url = format!("{}/write?{}", self.url(), form_encode(&[("db", db)]));
        self.authed(Request::new("POST", &url))
            .body(Body::Fixed(lines.as_bytes().to_vec()))
            .send()
            .expect("POST /write")
    }

    /// Field name → InfluxDB type (`integer`, `float`, `string`, `boolean`, `unsigned`).
    pub fn field_types(&self, db: &str, measurement: &str) -> BTreeMap<String, String> {
        let v = self.query(db, &format!("SHOW FIELD KEYS FROM {}", ident(measurement)));
        let mut out = BTreeMap::new();
        for series in series(&v) {
            for row in rows(series) {
                if let (Some(k), Some(t)) = (row[0].as_str(), row[1].as_str()) {
                    out.insert(k.to_owned(), t.to_owned());
                }
            }
        }
        out
    }

    /// Every point of `measurement`, rebuilt from `SELECT * FROM m GROUP BY *` and typed with
    /// `SHOW FIELD KEYS`, sorted by (tags, time). Empty if the measurement does not exist.
    pub fn select_all(&self, db: &str, measurement: &str) -> Vec<Point> {
        let types = self.field_types(db, measurement);
        let v = self.query(
            db,
            &format!("SELECT * FROM {} GROUP BY *", ident(measurement)),
        );
        let mut out = Vec::new();
        for s in series(&v) {
            let tags: BTreeMap<String, String> = s["tags"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                        .filter(|(_, v)| !v.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            let cols: Vec<&str> = s["columns"]
                .as_array()
                .expect("columns")
                .iter()
                .map(|c| c.as_str().expect("column name"))
                .collect();
            for row in rows(s) {
                let time_ns = row[0].as_i64().expect("epoch=ns time is an integer");
                let mut fields = BTreeMap::new();
                for (name, val) in cols.iter().zip(row.iter()).skip(1) {
                    if val.is_null() {
                        continue;
                    }
                    let ty = types.get(*name).map(String::as_str).unwrap_or("?");
                    fields.insert((*name).to_owned(), field_val(ty, val, name));
                }
                out.push(Point {
                    measurement: s["name"].as_str().unwrap_or(measurement).to_owned(),
                    tags: tags.clone(),
                    fields,
                    time_ns,
                });
            }
        }
        sort_points(&mut out);
        out
    }

    /// Number of points in `measurement`: the largest `count(field)` over its fields (exact when
    /// every point carries the most common field, as Telegraf's do). Use `select_all().len()`
    /// for an exact count of sparse data.
    pub fn count(&self, db: &str, measurement: &str) -> u64 {
        let v = self.query(db, &format!("SELECT count(*) FROM {}", ident(measurement)));
        series(&v)
            .flat_map(rows)
            .flat_map(|row| row.iter().skip(1).filter_map(Value::as_u64))
            .max()
            .unwrap_or(0)
    }

    /// The temp dir holding config, data, and logs.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

/// Quotes an InfluxQL identifier.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

fn checked(r: std::io::Result<Response>, q: &str) -> Value {
    let r = r.unwrap_or_else(|e| panic!("influxd query {q:?}: {e}"));
    assert_eq!(r.status, 200, "influxd query {q:?}: {}", r.text());
    let v = r.json();
    if let Some(e) = v["results"][0]["error"].as_str() {
        panic!("influxd query {q:?}: statement error: {e}");
    }
    v
}

fn series(v: &Value) -> impl Iterator<Item = &Value> {
    v["results"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["series"].as_array().into_iter().flatten())
}

fn rows(series: &Value) -> impl Iterator<Item = &Vec<Value>> {
    series["values"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
}

fn field_val(ty: &str, v: &Value, name: &str) -> FieldVal {
    let got = match ty {
        "integer" => v.as_i64().map(FieldVal::Int),
        "unsigned" => v.as_u64().map(FieldVal::UInt),
        "float" => v.as_f64().map(FieldVal::Float),
        "boolean" => v.as_bool().map(FieldVal::Bool),
        "string" => v.as_str().map(|s| FieldVal::Str(s.to_owned())),
        _ => panic!("field {name}: unknown type {ty:?} (value {v})"),
    };
    got.unwrap_or_else(|| panic!("field {name}: value {v} does not fit type {ty}"))
}

fn config(dir: &std::path::Path, http_port: u16, rpc_port: u16, opts: &InfluxOpts) -> String {
    let d = dir.display();
    let max_body = opts.max_body_size.unwrap_or(25_000_000);
    format!(
        r#"reporting-enabled = false
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

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
  bind-address = "127.0.0.1:{http_port}"
  auth-enabled = {auth}
  log-enabled = false
  pprof-enabled = false
  max-body-size = {max_body}

[logging]
  level = "warn"
  suppress-logo = true
"#,
        auth = opts.auth_enabled,
    )
}
