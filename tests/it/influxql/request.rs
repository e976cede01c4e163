//! One `/query` request as Grafana (or a user with curl) sends it, and its answer.
//!
//! Owns: `Stmt` (statement text, tenant, method, `db`/`rp`/`epoch` parameters, credentials,
//! what the reference answer must look like, and a documented difference if any), building the
//! same request for InfluxDB and for sluice, and `Answer`. Does not own: the statement list
//! (`statements`) or comparing (`compare`).

use serde_json::Value;

use super::dataset::{H, t0_ns, tenant_names};
use crate::support::http::{Body, Request, form_encode};

/// Longest wait for one answer: the whole-data-set checksums take a debug build of sluice
/// tens of seconds on a busy machine (InfluxDB: 1–4 s).
pub const ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(180);

/// Grafana's User-Agent (wire.md §2.1).
pub const GRAFANA_UA: &str = "Grafana/11.3.0";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET /query?db=..&epoch=..&q=..` (keys sorted, space as `+`).
    Get,
    /// `POST /query?db=..&epoch=..` with the form body `q=..`.
    PostForm,
}

/// How the request authenticates to sluice (InfluxDB runs without auth and ignores both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Grafana's User/Password fields: `Authorization: Basic base64(user:token)`.
    Basic,
    /// A custom header `Authorization: Token <token>`.
    Token,
}

/// What InfluxDB's answer must show, so that a statement that matches nothing by mistake (a
/// typo in a tag value) cannot pass by comparing two empty answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// At least one row in some series.
    Rows,
    /// 200 and no series, no error (e.g. an unknown measurement).
    Empty,
    /// An error: non-2xx, top-level `error` or `results[i].error`.
    Error,
}

/// A documented difference (docs/influxql-differences.md), checked as far as it can be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Same answer.
    Same,
    /// `SHOW DATABASES`: sluice lists only the tenant's buckets; InfluxDB lists every database.
    /// sluice's values must be InfluxDB's, filtered to the tenant's buckets, in InfluxDB's order.
    OwnDatabases,
    /// Rows of one series with the same `time` (points of several series merged, no GROUP BY)
    /// may come in any order: InfluxDB's own order for them changes with the time range and
    /// the WHERE clause (an unstable merge). Both answers are compared with such rows sorted.
    TiesUnordered,
    /// Tenant isolation: sluice must answer exactly what it answers for an absent database.
    /// InfluxDB is asked the same request with `foreign` replaced by `absent`; its answer, with
    /// `absent` replaced back by `foreign`, is the reference.
    AsAbsent { foreign: String, absent: String },
}

#[derive(Debug, Clone)]
pub struct Stmt {
    pub name: String,
    pub tenant: usize,
    pub method: Method,
    pub db: Option<String>,
    pub rp: Option<String>,
    pub epoch: Option<String>,
    pub q: String,
    pub auth: Auth,
    pub expect: Expect,
    pub check: Check,
}

/// `time >= <a>ms and time <= <b>ms` for `h0:m0`–`h1:m1` of the data's day, as Grafana's
/// `$timeFilter` renders it.
pub fn tf(h0: i64, m0: i64, h1: i64, m1: i64) -> String {
    format!("time >= {}ms and time <= {}ms", ms(h0, m0), ms(h1, m1))
}

/// Epoch ms of `hh:mm` UTC on the data's day.
pub fn ms(hh: i64, mm: i64) -> i64 {
    (t0_ns() + hh * H + mm * 60_000_000_000) / 1_000_000
}

/// Epoch ns of `hh:mm` UTC on the data's day.
pub fn ns(hh: i64, mm: i64) -> i64 {
    ms(hh, mm) * 1_000_000
}

/// `'YYYY-MM-DDThh:mm:00Z'` (an InfluxQL time string) of `hh:mm` UTC on the data's day.
pub fn iso(hh: i64, mm: i64) -> String {
    let t = chrono::DateTime::from_timestamp_millis(ms(hh, mm)).expect("in range");
    format!("'{}'", t.format("%Y-%m-%dT%H:%M:%SZ"))
}

/// The usual window of the dashboards: 10:00–11:00.
pub fn w() -> String {
    tf(10, 0, 11, 0)
}

/// A GET with `epoch=ms` for tenant 0 on its own database, expecting rows.
pub fn s(name: &str, q: impl Into<String>) -> Stmt {
    Stmt {
        name: name.to_owned(),
        tenant: 0,
        method: Method::Get,
        db: Some(tenant_names(0).2),
        rp: None,
        epoch: Some("ms".into()),
        q: q.into(),
        auth: Auth::Basic,
        expect: Expect::Rows,
        check: Check::Same,
    }
}

impl Stmt {
    pub fn post(mut self) -> Stmt {
        self.method = Method::PostForm;
        self
    }
    pub fn epoch(mut self, e: Option<&str>) -> Stmt {
        self.epoch = e.map(str::to_owned);
        self
    }
    pub fn db(mut self, db: Option<&str>) -> Stmt {
        self.db = db.map(str::to_owned);
        self
    }
    pub fn rp(mut self, rp: &str) -> Stmt {
        self.rp = Some(rp.to_owned());
        self
    }
    /// Tenant `t` on its own database.
    pub fn tenant(mut self, t: usize) -> Stmt {
        self.tenant = t;
        self.db = Some(tenant_names(t).2);
        self
    }
    pub fn token_auth(mut self) -> Stmt {
        self.auth = Auth::Token;
        self
    }
    pub fn empty(mut self) -> Stmt {
        self.expect = Expect::Empty;
        self
    }
    pub fn error(mut self) -> Stmt {
        self.expect = Expect::Error;
        self
    }
    pub fn check(mut self, c: Check) -> Stmt {
        self.check = c;
        self
    }

    /// The request to `base`; `swap` replaces a string in `db` and `q` (for [`Check::AsAbsent`]).
    pub fn request(&self, base: &str, token: Option<&str>, swap: Option<(&str, &str)>) -> Request {
        let fix = |s: &str| match swap {
            Some((from, to)) => s.replace(from, to),
            None => s.to_owned(),
        };
        let q = fix(&self.q);
        let db = self.db.as_deref().map(fix);
        // Go's url.Values.Encode: keys sorted (db, epoch, q, rp).
        let mut params: Vec<(&str, &str)> = Vec::new();
        if let Some(db) = &db {
            params.push(("db", db));
        }
        if let Some(e) = &self.epoch {
            params.push(("epoch", e));
        }
        if self.method == Method::Get {
            params.push(("q", &q));
        }
        if let Some(rp) = &self.rp {
            params.push(("rp", rp));
        }
        let url = format!("{base}/query?{}", form_encode(&params));
        let mut req = Request::new(
            if self.method == Method::Get {
                "GET"
            } else {
                "POST"
            },
            &url,
        )
        .header("User-Agent", GRAFANA_UA);
        if let Some(token) = token {
            req = match self.auth {
                Auth::Basic => req.basic_auth("grafana", token),
                Auth::Token => req.header("Authorization", &format!("Token {token}")),
            };
        }
        if self.method == Method::PostForm {
            req = req
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(Body::Fixed(form_encode(&[("q", &q)]).into_bytes()));
        }
        req.header("Accept-Encoding", "gzip")
    }
}

/// A `/query` answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    /// `Content-Encoding` (`gzip` or none); the text is decoded already.
    pub content_encoding: Option<String>,
    pub text: String,
    /// The body as JSON, or `null` when it is not JSON.
    pub json: Value,
}

impl Answer {
    pub fn send(req: &Request) -> Result<Answer, String> {
        let r = req
            .send_within(ANSWER_TIMEOUT)
            .map_err(|e| format!("{} {}: {e}", req.method, req.url))?;
        let text = r.text();
        Ok(Answer {
            status: r.status,
            content_type: r.header("Content-Type").unwrap_or("").to_owned(),
            content_encoding: r.header("Content-Encoding").map(str::to_owned),
            json: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        })
    }

    /// Rows over all series of all results.
    pub fn rows(&self) -> usize {
        self.json["results"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r["series"].as_array().into_iter().flatten())
            .map(|s| s["values"].as_array().map_or(0, Vec::len))
            .sum()
    }

    /// The first error anywhere (top level, then per statement), with a non-2xx status too.
    pub fn error(&self) -> Option<String> {
        if let Some(e) = self.json["error"].as_str() {
            return Some(e.to_owned());
        }
        let per = self.json["results"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|r| r["error"].as_str().map(str::to_owned));
        per.or_else(|| {
            (self.status >= 300).then(|| format!("status {}: {}", self.status, self.text))
        })
    }

    /// Does the answer look like `e` says?
    pub fn meets(&self, e: Expect) -> bool {
        match e {
            Expect::Rows => self.status == 200 && self.error().is_none() && self.rows() > 0,
            Expect::Empty => self.status == 200 && self.error().is_none() && self.rows() == 0,
            Expect::Error => self.error().is_some(),
        }
    }
}
