//! The upstream end of the passthrough: one HTTP request per query, with the tenant's own
//! credentials, and its answer as a bounded stream.
//!
//! Owns: the request shapes (InfluxQL: `GET|POST {url}/query` with `q`, `db`, `rp`, `epoch`,
//! `chunked`, `chunk_size`, Basic auth from the tenant's upstream user/password or else
//! `Token <token>`, as the forwarder sends writes; Flux: `POST {url}/api/v2/query?org=<tenant
//! org>` with `Token <token>` and the JSON body; `Accept-Encoding: gzip` when the client
//! accepts gzip), the deadline (one per query, covering the
//! connection, the headers and every chunk of the answer), and the byte limit of an answer.
//! Does not own: what may be sent (`influxql`, `flux`), answering the client.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use tokio::time::Instant;

use super::PassError;
use crate::forward::{Destination, describe, endpoint, v1_authorization};
use crate::tenant::Tenant;

/// How to reach the upstream and the bounds of one query.
#[derive(Debug, Clone)]
pub struct UpstreamSettings {
    /// Base URL; a path prefix is kept.
    pub url: url::Url,
    /// Longest a query may take, answer included.
    pub timeout: Duration,
    /// Most answer bytes one query may stream.
    pub max_bytes: u64,
}

/// The upstream client, shared by every request (keep-alive pool).
#[derive(Debug, Clone)]
pub struct Upstream {
    client: reqwest::Client,
    settings: UpstreamSettings,
}

/// The InfluxQL request parameters passed on (already checked and rewritten).
#[derive(Debug, Clone, Default)]
pub struct V1Query {
    pub q: String,
    pub db: Option<String>,
    pub rp: Option<String>,
    pub epoch: Option<String>,
    pub chunked: Option<String>,
    pub chunk_size: Option<String>,
    /// The client's `Accept` (JSON, CSV or msgpack answers).
    pub accept: Option<String>,
    /// GET as the client did (InfluxDB adds a warning to write statements in a GET).
    pub get: bool,
    /// Ask for the answer gzipped (the client accepts gzip): it is then passed on as the
    /// upstream compressed it.
    pub gzip: bool,
}

/// The upstream's answer: status and content type known, the body still to read.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    /// The body's `Content-Encoding` (`gzip` when asked for and the upstream compressed it).
    pub content_encoding: Option<String>,
    /// The body's `Content-Length`, when the upstream sent one.
    pub content_length: Option<u64>,
    resp: reqwest::Response,
    deadline: Instant,
    timeout: Duration,
    limit: u64,
}

impl Upstream {
    pub fn new(settings: UpstreamSettings) -> Result<Self, PassError> {
        let client = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(60))
            .connect_timeout(settings.timeout)
            .build()
            .map_err(|e| PassError::Unreachable {
                reason: e.to_string(),
            })?;
        Ok(Self { client, settings })
    }

    pub fn settings(&self) -> &UpstreamSettings {
        &self.settings
    }

    /// Sends an InfluxQL query with `tenant`'s upstream credentials.
    pub async fn influxql(&self, tenant: &Tenant, query: &V1Query) -> Result<Answer, PassError> {
        let url = endpoint(&self.settings.url, "query");
        let mut pairs: Vec<(&str, &str)> = vec![("q", &query.q)];
        for (k, v) in [
            ("db", &query.db),
            ("rp", &query.rp),
            ("epoch", &query.epoch),
            ("chunked", &query.chunked),
            ("chunk_size", &query.chunk_size),
        ] {
            if let Some(v) = v {
                pairs.push((k, v));
            }
        }
        let mut builder = if query.get {
            let mut url = url;
            url.query_pairs_mut().extend_pairs(&pairs);
            self.client.get(url)
        } else {
            let form = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&pairs)
                .finish();
            self.client
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form)
        };
        if let Some((name, value)) = v1_authorization(&credentials(tenant)) {
            builder = builder.header(name, value);
        }
        if let Some(a) = &query.accept {
            builder = builder.header("accept", a);
        }
        self.send(builder, query.gzip).await
    }

    /// Sends a Flux query (`body`: the JSON request) in `tenant`'s upstream org, with its token;
    /// with `gzip`, asking for the answer gzipped.
    pub async fn flux(
        &self,
        tenant: &Tenant,
        body: Vec<u8>,
        gzip: bool,
    ) -> Result<Answer, PassError> {
        let mut url = endpoint(&self.settings.url, "api/v2/query");
        url.query_pairs_mut()
            .append_pair("org", tenant.upstream_org().unwrap_or_default());
        let mut builder = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(body);
        if let Some(token) = tenant.upstream_token() {
            builder = builder.header("authorization", format!("Token {}", token.expose()));
        }
        self.send(builder, gzip).await
    }

    /// Sends a request; with `gzip`, saying `Accept-Encoding: gzip` (reqwest is built without
    /// decompression, so the body comes as the upstream encoded it). Without it the request
    /// names no encoding, and InfluxDB answers plain.
    async fn send(
        &self,
        mut builder: reqwest::RequestBuilder,
        gzip: bool,
    ) -> Result<Answer, PassError> {
        if gzip {
            builder = builder.header(reqwest::header::ACCEPT_ENCODING, "gzip");
        }
        let deadline = Instant::now() + self.settings.timeout;
        let resp = match tokio::time::timeout_at(deadline, builder.send()).await {
            Err(_) => {
                return Err(PassError::Timeout {
                    limit: self.settings.timeout,
                });
            }
            Ok(Err(e)) => {
                return Err(PassError::Unreachable {
                    reason: describe(&e),
                });
            }
            Ok(Ok(r)) => r,
        };
        let header = |name| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let content_encoding = header(reqwest::header::CONTENT_ENCODING);
        Ok(Answer {
            status: resp.status().as_u16(),
            content_type,
            content_encoding,
            content_length: resp.content_length(),
            resp,
            deadline,
            timeout: self.settings.timeout,
            limit: self.settings.max_bytes,
        })
    }
}

/// The tenant's upstream credentials in the forwarder's shape (the same rules choose the
/// `Authorization` header for queries as for writes).
fn credentials(tenant: &Tenant) -> Destination {
    Destination {
        org: tenant.upstream_org().unwrap_or_default().to_owned(),
        bucket: String::new(),
        token: tenant.upstream_token().map(|s| s.expose().to_owned()),
        username: tenant.upstream_username().map(str::to_owned),
        password: tenant.upstream_password().map(|s| s.expose().to_owned()),
    }
}

impl Answer {
    /// `TooLarge` when the upstream's `Content-Length` already says the body passes the
    /// query's byte limit: refused before anything is sent, rather than cut on the way.
    pub fn check_length(&self) -> Result<(), PassError> {
        match self.content_length {
            Some(n) if n > self.limit => Err(PassError::TooLarge { limit: self.limit }),
            _ => Ok(()),
        }
    }

    /// The whole body, when it fits in `max` bytes (and the query's own limit).
    pub async fn collect(mut self, max: u64) -> Result<Bytes, PassError> {
        let limit = max.min(self.limit);
        let mut out = BytesMut::new();
        while let Some(chunk) = self.next_chunk().await? {
            if (out.len() + chunk.len()) as u64 > limit {
                return Err(PassError::TooLarge { limit });
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out.freeze())
    }

    async fn next_chunk(&mut self) -> Result<Option<Bytes>, PassError> {
        match tokio::time::timeout_at(self.deadline, self.resp.chunk()).await {
            Err(_) => Err(PassError::Timeout {
                limit: self.timeout,
            }),
            Ok(Err(e)) => Err(PassError::Unreachable {
                reason: describe(&e),
            }),
            Ok(Ok(c)) => Ok(c),
        }
    }

    /// The body as a stream of chunks as they arrive (nothing buffered beyond one chunk, and
    /// nothing decoded: the limit counts the bytes as they came, compressed or not),
    /// holding `guard` (the tenant's query permit) until the stream ends or is dropped. Past
    /// the deadline or the byte limit the stream ends with an error, which aborts the answer.
    pub fn into_stream<G: Send + 'static>(
        self,
        guard: G,
    ) -> impl Stream<Item = Result<Bytes, PassError>> + Send + 'static {
        struct State<G> {
            answer: Answer,
            sent: u64,
            done: bool,
            _guard: G,
        }
        let state = State {
            answer: self,
            sent: 0,
            done: false,
            _guard: guard,
        };
        futures_util::stream::unfold(state, |mut st| async move {
            if st.done {
                return None;
            }
            match st.answer.next_chunk().await {
                Ok(Some(chunk)) => {
                    st.sent += chunk.len() as u64;
                    if st.sent > st.answer.limit {
                        st.done = true;
                        let limit = st.answer.limit;
                        tracing::warn!(limit, "passthrough answer cut at the byte limit");
                        return Some((Err(PassError::TooLarge { limit }), st));
                    }
                    Some((Ok(chunk), st))
                }
                Ok(None) => None,
                Err(e) => {
                    st.done = true;
                    tracing::warn!(error = %e, "passthrough answer cut");
                    Some((Err(e), st))
                }
            }
        })
        // Fused: a reader may ask again after the end (the gzip layer's does), and an unfused
        // `unfold` panics then.
        .fuse()
    }
}
