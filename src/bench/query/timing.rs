//! Timing one query: against one system, the request as Grafana sends it, the check that the
//! answer is not an error, and the runs on a thread of their own (`time_apart`); against
//! every system, rounds in which they take turns (`time_all`), added up into one `Timing`
//! each.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::{Method, Request, StatusCode, header};
use hyper_util::rt::TokioIo;

use super::Timing;
use crate::bench::compare::systems::System;
use crate::bench::procstat;

/// Which language a timed query is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lang {
    InfluxQl,
    Flux,
    /// `GET /ping`: the round trip with no query, the floor under every timing.
    Ping,
}

/// Where and how a query is sent.
#[derive(Clone)]
pub(super) struct Target {
    pub base: String,
    pub token: String,
    pub lang: Lang,
    /// The system's processes, whose CPU time is read around each round.
    pub pids: Vec<u32>,
}

impl Target {
    /// The request as Grafana sends it: InfluxQL as GET with `epoch=ms`, Flux as a JSON POST
    /// asking for annotated CSV; but without `Accept-Encoding: gzip`, so that the answer is
    /// timed rather than a compressor (both systems would gzip it).
    fn request(&self, authority: &str, q: &str) -> Result<Request<Full<Bytes>>, String> {
        let (method, path, body, json) = match self.lang {
            Lang::InfluxQl => {
                let params = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("db", "bench")
                    .append_pair("epoch", "ms")
                    .append_pair("q", q)
                    .finish();
                (
                    Method::GET,
                    format!("/query?{params}"),
                    String::new(),
                    false,
                )
            }
            Lang::Flux => {
                let body = serde_json::json!({
                    "query": q,
                    "dialect": {"annotations": ["datatype", "group", "default"]},
                })
                .to_string();
                (
                    Method::POST,
                    "/api/v2/query?org=bench".to_owned(),
                    body,
                    true,
                )
            }
            Lang::Ping => (Method::GET, "/ping".to_owned(), String::new(), false),
        };
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, authority);
        if json {
            req = req
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::ACCEPT, "application/csv");
        }
        if !self.token.is_empty() {
            req = req.header(header::AUTHORIZATION, format!("Token {}", self.token));
        }
        req.body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())
    }

    /// The error of an answer, if it is one, and its rows.
    fn judge(&self, status: StatusCode, body: &[u8]) -> Result<usize, String> {
        match self.lang {
            Lang::InfluxQl => {
                let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
                let err = v["error"]
                    .as_str()
                    .or_else(|| v["results"][0]["error"].as_str())
                    .map(str::to_owned);
                if !status.is_success() || err.is_some() {
                    return Err(format!("{status}: {}", err.unwrap_or_default()));
                }
                Ok(rows(&v))
            }
            Lang::Flux => {
                let text = String::from_utf8_lossy(body);
                if !status.is_success() {
                    return Err(format!(
                        "{status}: {}",
                        text.chars().take(200).collect::<String>()
                    ));
                }
                Ok(csv_rows(&text))
            }
            Lang::Ping if status.is_success() => Ok(0),
            Lang::Ping => Err(format!("{status}")),
        }
    }
}

/// Data rows of an annotated CSV answer: not annotations, headers or blank lines.
pub(super) fn csv_rows(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#') && !l.contains(",result,table"))
        .count()
}

/// `time_query` on a thread of its own with a current-thread runtime and one kept-alive
/// HTTP/1.1 connection (hyper's connection API, no pool): the request and the answer are then
/// handled where they are awaited, without the hand-offs between a multi-thread runtime's
/// workers or a pooled client's layers. On this machine those cost ~0.1–0.2 ms per answer, for
/// every system alike, which is most of a sub-millisecond answer's time (`/ping` took 0.1 ms
/// through reqwest, 0.04 ms through curl).
async fn time_apart(target: Target, q: String, repeat: usize, span: Duration) -> Timing {
    let failed = |e: String| Timing {
        error: Some(e),
        ..Timing::default()
    };
    let timed = tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let conn = Conn::open(&target.base).await?;
            Ok::<_, String>(time_query(conn, &target, &q, repeat, span).await)
        })
    })
    .await;
    match timed {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => failed(e),
        Err(e) => failed(format!("timing task failed: {e}")),
    }
}

/// One kept-alive connection to a system.
struct Conn {
    sender: http1::SendRequest<Full<Bytes>>,
    /// `host:port`, the `Host` header.
    authority: String,
}

impl Conn {
    async fn open(base: &str) -> Result<Self, String> {
        let url = url::Url::parse(base).map_err(|e| format!("{base}: {e}"))?;
        let authority = format!(
            "{}:{}",
            url.host_str().unwrap_or("127.0.0.1"),
            url.port_or_known_default().unwrap_or(80)
        );
        let stream = tokio::net::TcpStream::connect(&authority)
            .await
            .map_err(|e| format!("connect {authority}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self { sender, authority })
    }

    /// Sends `req`; the answer's status and whole body.
    async fn send(&mut self, req: Request<Full<Bytes>>) -> Result<(StatusCode, Bytes), String> {
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let resp = self
            .sender
            .send_request(req)
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, body))
    }
}

/// One warm-up, then timed runs of `q`: `repeat` of them, and more until they span `span`
/// (at most `MAX_RUNS`). A sub-millisecond answer's median is then taken over many runs rather
/// than over a few ms, in which one burst of the host's noise can move it by 2×.
async fn time_query(
    mut conn: Conn,
    target: &Target,
    q: &str,
    repeat: usize,
    span: Duration,
) -> Timing {
    let mut t = Timing::default();
    let mut spent = Duration::ZERO;
    let mut i = 0;
    while i <= repeat.max(1) || (spent < span && i <= MAX_RUNS) {
        i += 1;
        let req = match target.request(&conn.authority, q) {
            Ok(r) => r,
            Err(e) => {
                t.error = Some(format!("request: {e}"));
                return t;
            }
        };
        let started = Instant::now();
        let answer = tokio::time::timeout(ANSWER_TIMEOUT, conn.send(req)).await;
        let took = started.elapsed();
        let elapsed = took.as_secs_f64() * 1000.0;
        let (status, body) = match answer {
            Ok(Ok(x)) => x,
            Ok(Err(e)) => {
                t.error = Some(format!("request failed: {e}"));
                return t;
            }
            Err(_) => {
                t.error = Some(format!("no answer within {ANSWER_TIMEOUT:?}"));
                return t;
            }
        };
        let n = match target.judge(status, &body) {
            Ok(n) => n,
            Err(e) => {
                t.error = Some(e);
                return t;
            }
        };
        if i == 1 {
            t.bytes = body.len();
            t.rows = n;
            continue;
        }
        spent += took;
        t.runs_ms.push(elapsed);
    }
    t
}

/// How many timed runs one call makes at most.
const MAX_RUNS: usize = 5000;

/// How long one answer may take.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(300);

fn rows(v: &serde_json::Value) -> usize {
    v["results"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["series"].as_array().into_iter().flatten())
        .map(|s| s["values"].as_array().map_or(0, Vec::len))
        .sum()
}

/// Rounds in which the systems take turns on one query.
const ROUNDS: usize = 3;
/// How long the timed runs of one query on one system last at least, over all rounds.
const MIN_SPAN: Duration = Duration::from_secs(1);

/// CPU seconds (utime + stime) of `pids` and their descendants so far.
pub(super) fn cpu_s(pids: &[u32]) -> f64 {
    pids.iter()
        .filter_map(|&p| procstat::sample_tree(p))
        .map(|s| s.cpu_s)
        .sum()
}

/// Times `q` on every target, in `ROUNDS` rounds in which the targets take turns (each round
/// with its warm-up run, `repeat / ROUNDS` runs and `MIN_SPAN / ROUNDS` at least). A burst of
/// the host's noise then falls on every system's runs alike, not on one system's whole turn.
pub(super) async fn time_all(
    targets: Vec<(System, Target)>,
    q: &str,
    repeat: usize,
) -> Vec<(System, Timing)> {
    let rounds = u32::try_from(ROUNDS).unwrap_or(1);
    let mut out: Vec<(System, Timing)> = targets
        .iter()
        .map(|(sys, _)| (*sys, Timing::default()))
        .collect();
    for _ in 0..ROUNDS {
        for ((_, target), (_, acc)) in targets.iter().zip(&mut out) {
            if acc.error.is_some() {
                continue;
            }
            let before = cpu_s(&target.pids);
            let mut t = time_apart(
                target.clone(),
                q.to_owned(),
                repeat.div_ceil(ROUNDS),
                MIN_SPAN / rounds,
            )
            .await;
            t.cpu_s = cpu_s(&target.pids) - before;
            // The warm-up run is served too.
            t.requests = t.runs_ms.len() + 1;
            acc.absorb(t);
        }
    }
    for (_, acc) in &mut out {
        acc.summarize();
    }
    out
}

impl Timing {
    /// Adds the runs of another call on the same query and system; an error wins.
    fn absorb(&mut self, other: Timing) {
        if self.runs_ms.is_empty() && self.error.is_none() {
            self.rows = other.rows;
            self.bytes = other.bytes;
        }
        self.runs_ms.extend(other.runs_ms);
        self.cpu_s += other.cpu_s;
        self.requests += other.requests;
        if self.error.is_none() {
            self.error = other.error;
        }
    }

    /// `min_ms` and `median_ms` of `runs_ms`, and `cpu_ms` per request.
    fn summarize(&mut self) {
        self.cpu_ms = (self.requests > 0).then(|| self.cpu_s * 1000.0 / self.requests as f64);
        let mut sorted = self.runs_ms.clone();
        sorted.sort_by(f64::total_cmp);
        self.min_ms = sorted.first().copied();
        self.median_ms = sorted.get(sorted.len() / 2).copied();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_add_up_to_one_timing() {
        let round = |runs: &[f64], cpu_s: f64| Timing {
            runs_ms: runs.to_vec(),
            rows: 7,
            bytes: 70,
            cpu_s,
            requests: runs.len() + 1,
            ..Timing::default()
        };
        let mut t = Timing::default();
        t.absorb(round(&[5.0, 1.0], 0.02));
        t.absorb(round(&[9.0, 2.0, 3.0], 0.05));
        t.summarize();
        assert_eq!((t.min_ms, t.median_ms), (Some(1.0), Some(3.0)));
        // 70 ms over 7 requests (two warm-ups).
        assert!(
            t.cpu_ms.is_some_and(|c| (c - 10.0).abs() < 1e-9),
            "{:?}",
            t.cpu_ms
        );
        assert_eq!((t.rows, t.bytes, t.runs_ms.len()), (7, 70, 5));
        t.absorb(Timing {
            error: Some("no answer".into()),
            ..Timing::default()
        });
        t.absorb(round(&[4.0], 0.0));
        assert_eq!(t.error.as_deref(), Some("no answer"));
    }
}
