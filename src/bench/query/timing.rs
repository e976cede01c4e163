//! Timing one query against one system: the request as Grafana sends it, the check that the
//! answer is not an error, and the runs on a thread of their own (`time_apart`).

use std::time::{Duration, Instant};

use super::Timing;

/// Which language a timed query is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lang {
    InfluxQl,
    Flux,
    /// `GET /ping`: the round trip with no query, the floor under every timing.
    Ping,
}

/// Where and how a query is sent.
pub(super) struct Target {
    pub base: String,
    pub token: String,
    pub lang: Lang,
}

impl Target {
    /// The request as Grafana sends it: InfluxQL as GET with `epoch=ms`, Flux as a JSON POST
    /// asking for annotated CSV.
    fn request(&self, client: &reqwest::Client, q: &str) -> reqwest::RequestBuilder {
        let req = match self.lang {
            Lang::InfluxQl => client.get(format!("{}/query", self.base)).query(&[
                ("db", "bench"),
                ("epoch", "ms"),
                ("q", q),
            ]),
            Lang::Flux => client
                .post(format!("{}/api/v2/query", self.base))
                .query(&[("org", "bench")])
                .header("Content-Type", "application/json")
                .header("Accept", "application/csv")
                .body(
                    serde_json::json!({
                        "query": q,
                        "dialect": {"annotations": ["datatype", "group", "default"]},
                    })
                    .to_string(),
                ),
            Lang::Ping => client.get(format!("{}/ping", self.base)),
        };
        if self.token.is_empty() {
            req
        } else {
            req.header("Authorization", format!("Token {}", self.token))
        }
    }

    /// The error of an answer, if it is one, and its rows.
    fn judge(&self, status: reqwest::StatusCode, body: &[u8]) -> Result<usize, String> {
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

/// `time_query` on a thread of its own with a current-thread runtime and a new client: the
/// request and the answer are then handled where they are awaited, without the hand-offs
/// between a multi-thread runtime's workers (~0.2 ms per query on this machine, which would
/// otherwise be most of a sub-millisecond answer's time, for every system alike).
pub(super) async fn time_apart(target: Target, q: String, repeat: usize) -> Timing {
    let failed = |e: String| Timing {
        error: Some(e),
        ..Timing::default()
    };
    let timed = tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(rt.block_on(time_query(&client, &target, &q, repeat)))
    })
    .await;
    match timed {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => failed(e),
        Err(e) => failed(format!("timing task failed: {e}")),
    }
}

/// One warm-up, then `repeat` timed runs of `q`.
async fn time_query(client: &reqwest::Client, target: &Target, q: &str, repeat: usize) -> Timing {
    let mut t = Timing::default();
    for i in 0..=repeat.max(1) {
        let req = target.request(client, q);
        let started = Instant::now();
        let answer = match req.send().await {
            Ok(r) => {
                let status = r.status();
                r.bytes().await.map(|b| (status, b))
            }
            Err(e) => Err(e),
        };
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        let (status, body) = match answer {
            Ok(x) => x,
            Err(e) => {
                t.error = Some(format!("request failed: {e}"));
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
        if i == 0 {
            t.bytes = body.len();
            t.rows = n;
            continue;
        }
        t.runs_ms.push(elapsed);
    }
    let mut sorted = t.runs_ms.clone();
    sorted.sort_by(f64::total_cmp);
    t.min_ms = sorted.first().copied();
    t.median_ms = sorted.get(sorted.len() / 2).copied();
    t
}

fn rows(v: &serde_json::Value) -> usize {
    v["results"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["series"].as_array().into_iter().flatten())
        .map(|s| s["values"].as_array().map_or(0, Vec::len))
        .sum()
}
