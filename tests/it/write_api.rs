//! sluice's write API as Telegraf and InfluxDB see it: real `sluice serve` processes in front of
//! a real InfluxDB 1.6.7 (`[upstream] api = "v1"`), requests replayed byte for byte.
//!
//! Owns: Telegraf's exact requests (v2 write, v1 `CREATE DATABASE` + write) and their answers;
//! body limits (413, plain and gzip-chunked); credentials (401 in each dialect, Basic with any
//! user, `u`/`p`, `Token`, `Bearer`); bucket permissions (403, the same answer for another
//! tenant's bucket and a bucket that does not exist); v1 `db`/`rp` → bucket; `precision` on
//! both APIs; `/ping`, `/health`, `/ready`; and that accepted lines arrive in InfluxDB. The
//! This file holds the shared helpers; the tests are in the submodules: `telegraf` (Telegraf's
//! requests, credentials, rp, precision, refusals, probes), `corpus` (the wire.md §4.4 table on
//! both APIs) and `batches` (batch-level cases, partial writes, tricky splitting, unsigned).
//! Does not own: the harness (`support`).

mod batches;
mod corpus;
mod telegraf;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::support::http::{Body, Request, Response, form_encode};
use crate::support::influxdb::{InfluxOpts, InfluxV1, ident};
use crate::support::point::{FieldVal, Point, sort_points};
use crate::support::sluice::{Sluice, SluiceConfig};

/// The token of tenant `acme` in every test here.
pub const TOKEN: &str = "tok-acme";
/// `Authorization` for [`TOKEN`], accepted on both APIs.
pub const TOKEN_AUTH: (&str, &str) = ("Authorization", "Token tok-acme");
pub const GLOBEX_TOKEN: &str = "tok-globex";
/// How long accepted lines may take to reach InfluxDB (the forwarder is asynchronous).
const ARRIVAL: Duration = Duration::from_secs(10);

/// One InfluxDB 1.6.7 and one sluice forwarding to it.
pub struct Stack {
    pub influx: InfluxV1,
    pub sluice: Sluice,
}

impl Stack {
    /// Tenant `acme` ([`TOKEN`], every bucket); `None` (loudly) when influxd is missing.
    pub fn start(extra_server: &[(&str, &str)]) -> Option<Stack> {
        Stack::start_with(extra_server, |cfg| cfg.simple_tenant("acme", TOKEN, &["*"]))
    }

    /// `tenants` adds the tenants; `server` adds `[server]` keys.
    pub fn start_with(
        server: &[(&str, &str)],
        tenants: impl FnOnce(SluiceConfig) -> SluiceConfig,
    ) -> Option<Stack> {
        let influx = InfluxV1::try_start(InfluxOpts::default())?;
        let cfg = tenants(SluiceConfig::new().upstream(&influx.url(), "v1")).to_toml();
        let mut t: toml::Table = cfg.parse().expect("builder TOML parses");
        let mut s = toml::Table::new();
        for (k, v) in server {
            s.insert((*k).to_owned(), (*v).into());
        }
        t.insert("server".into(), s.into());
        let sluice = Sluice::start(&t.to_string());
        Some(Stack { influx, sluice })
    }
}

/// `POST /api/v2/write?bucket=&org=acme[&k=v]` on `s` (empty values are left out).
pub fn v2_url(s: &Sluice, bucket: &str, extra: &[(&str, &str)]) -> String {
    let mut q = vec![("bucket", bucket), ("org", "acme")];
    q.extend(extra.iter().filter(|(_, v)| !v.is_empty()));
    format!("{}/api/v2/write?{}", s.url(), form_encode(&q))
}

/// `POST /write?db=[&k=v]` on `s` (empty values are left out).
pub fn v1_url(s: &Sluice, db: &str, extra: &[(&str, &str)]) -> String {
    let mut q = vec![("db", db)];
    q.extend(extra.iter().filter(|(_, v)| !v.is_empty()));
    format!("{}/write?{}", s.url(), form_encode(&q))
}

/// A plain POST (identity, `Content-Length`) with an optional header.
pub fn plain(url: &str, header: Option<(&str, &str)>, body: &[u8]) -> Response {
    let mut req = Request::new("POST", url);
    if let Some((k, v)) = header {
        req = req.header(k, v);
    }
    req.body(Body::Fixed(body.to_vec()))
        .send()
        .unwrap_or_else(|e| panic!("POST {url}: {e}"))
}

/// The body as JSON, or `null` when empty.
pub fn json_or_null(r: &Response) -> Value {
    if r.body.is_empty() {
        Value::Null
    } else {
        r.json()
    }
}

/// Asserts the status, a JSON content type and the JSON body.
pub fn expect_json(r: &Response, status: u16, body: &Value, ctx: &str) {
    assert_eq!(r.status, status, "{ctx}: {}", r.text());
    let ct = r.header("content-type").unwrap_or("");
    assert!(
        ct.starts_with("application/json"),
        "{ctx}: content-type {ct:?}"
    );
    assert_eq!(&r.json(), body, "{ctx}");
}

/// Nanoseconds since the epoch.
pub fn now_ns() -> i64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(d.as_nanos()).expect("ns fit i64")
}

/// When a request was in flight, for lines sluice stamps with its reception time (in the
/// request's precision, so the low end is rounded down to that unit).
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub lo: i64,
    pub hi: i64,
}

impl Window {
    pub fn open(precision: &str) -> Window {
        let unit = match precision {
            "s" => 1_000_000_000,
            "ms" => 1_000_000,
            "us" | "u" => 1_000,
            _ => 1,
        };
        let now = now_ns();
        Window {
            lo: now - now % unit,
            hi: i64::MAX,
        }
    }

    pub fn close(self) -> Window {
        Window {
            hi: now_ns(),
            ..self
        }
    }
}

/// Every point of `db` (`rp`: a non-default retention policy), typed with `SHOW FIELD KEYS`,
/// from `SELECT * FROM /.*/ GROUP BY *` (so odd measurement names need no quoting).
pub fn read_db(influx: &InfluxV1, db: &str, rp: Option<&str>) -> Vec<Point> {
    // Data only ever arrives: read the points first, so every field they have has a type.
    let from = rp.map_or_else(String::new, |rp| format!("{}.", ident(rp)));
    let v = influx.query(db, &format!("SELECT * FROM {from}/.*/ GROUP BY *"));
    let mut types: BTreeMap<(String, String), String> = BTreeMap::new();
    for s in series(&influx.query(db, "SHOW FIELD KEYS")) {
        let name = s["name"].as_str().unwrap_or_default();
        for row in rows(s) {
            if let (Some(k), Some(t)) = (row[0].as_str(), row[1].as_str()) {
                types.insert((name.to_owned(), k.to_owned()), t.to_owned());
            }
        }
    }
    let mut out = Vec::new();
    for s in series(&v) {
        let name = s["name"].as_str().expect("series name").to_owned();
        let tags: BTreeMap<String, String> = s["tags"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let cols: Vec<&str> = s["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .map(|c| c.as_str().expect("column name"))
            .collect();
        for row in rows(s) {
            let mut fields = BTreeMap::new();
            for (col, val) in cols.iter().zip(row).skip(1) {
                if val.is_null() {
                    continue;
                }
                let ty = types.get(&(name.clone(), (*col).to_owned()));
                fields.insert((*col).to_owned(), typed(ty.map(String::as_str), val, col));
            }
            out.push(Point {
                measurement: name.clone(),
                tags: tags.clone(),
                fields,
                time_ns: row[0].as_i64().expect("epoch=ns time"),
            });
        }
    }
    sort_points(&mut out);
    out
}

fn series(v: &Value) -> impl Iterator<Item = &Value> {
    v["results"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["series"].as_array().into_iter().flatten())
}

fn rows(s: &Value) -> impl Iterator<Item = &Vec<Value>> {
    s["values"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
}

fn typed(ty: Option<&str>, v: &Value, col: &str) -> FieldVal {
    let got = match ty {
        Some("integer") => v.as_i64().map(FieldVal::Int),
        Some("unsigned") => v.as_u64().map(FieldVal::UInt),
        Some("float") => v.as_f64().map(FieldVal::Float),
        Some("boolean") => v.as_bool().map(FieldVal::Bool),
        Some("string") => v.as_str().map(|s| FieldVal::Str(s.to_owned())),
        other => panic!("field {col:?}: type {other:?} (value {v})"),
    };
    got.unwrap_or_else(|| panic!("field {col:?}: {v} is not a {ty:?}"))
}

/// Polls `db` until it holds at least `n` points (panics after [`ARRIVAL`]), then returns them.
pub fn wait_points(influx: &InfluxV1, db: &str, rp: Option<&str>, n: usize) -> Vec<Point> {
    let deadline = Instant::now() + ARRIVAL;
    loop {
        let got = read_db(influx, db, rp);
        if got.len() >= n {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "{db}: {} of {n} points after {ARRIVAL:?}: {got:?}",
            got.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asserts that `got` is the point `want` describes (a missing time: within `w`).
pub fn point_matches(got: &Point, want: &corpus::Expect, w: &Window, ctx: &str) {
    assert_eq!(got.measurement, want.measurement, "{ctx}: measurement");
    let tags: BTreeMap<String, String> = want
        .tags
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    assert_eq!(got.tags, tags, "{ctx}: tags");
    let fields: BTreeMap<String, FieldVal> = want
        .fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.val()))
        .collect();
    assert_eq!(got.fields, fields, "{ctx}: fields and their types");
    match want.time {
        Some(t) => assert_eq!(got.time_ns, t, "{ctx}: time"),
        None => assert!(
            (w.lo..=w.hi).contains(&got.time_ns),
            "{ctx}: stamped {} outside the send window {w:?}",
            got.time_ns
        ),
    }
}

pub fn point(measurement: &str, tags: &[(&str, &str)], v: i64, time_ns: i64) -> Point {
    Point {
        measurement: measurement.to_owned(),
        tags: tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        fields: [("v".to_owned(), FieldVal::Int(v))].into(),
        time_ns,
    }
}

/// Tenants `acme` (`telegraf`, `telegraf/weekly`, `prec`) and `globex` (`globex`), a 64 KiB
/// body limit; InfluxDB has the databases and a non-default `weekly` retention policy.
pub fn telegraf_stack() -> Option<Stack> {
    let st = Stack::start_with(&[("max_body_bytes", "64KiB")], |cfg| {
        cfg.simple_tenant("acme", TOKEN, &["telegraf", "telegraf/weekly", "prec"])
            .simple_tenant("globex", GLOBEX_TOKEN, &["globex"])
    })?;
    for db in ["telegraf", "prec", "globex"] {
        st.influx.create_db(db);
    }
    st.influx
        .exec("CREATE RETENTION POLICY \"weekly\" ON \"telegraf\" DURATION 7d REPLICATION 1");
    Some(st)
}
