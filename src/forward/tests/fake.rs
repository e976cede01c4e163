//! A fault-injecting InfluxDB write endpoint on 127.0.0.1:0, for the forwarder's behaviour tests.
//!
//! It answers scripted faults first (status + Retry-After + body, or a dropped connection),
//! then applies rules: a required token (401), a line budget (413), lines containing `bad=`
//! (400 in the 2.x or 1.x dialect), lines containing `huge` (always 413), lines containing
//! `conflict=` (2.x: 422 field type conflict, the rest written). It records every
//! request (gzip decoded) and every line it wrote.

use std::collections::VecDeque;
use std::io::Read as _;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use bytes::Bytes;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    V1,
    V2,
}

#[derive(Debug, Clone)]
pub enum Fault {
    Status {
        code: u16,
        retry_after: Option<&'static str>,
        body: &'static str,
    },
    /// Headers sent, then the connection dies mid-body.
    Drop,
}

#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub query: String,
    pub auth: Option<String>,
    pub gzip: bool,
    pub lines: Vec<String>,
    pub at: tokio::time::Instant,
}

#[derive(Debug, Default)]
pub struct Inner {
    pub faults: VecDeque<Fault>,
    pub require_auth: Option<String>,
    pub max_lines: Option<usize>,
    pub requests: Vec<Received>,
    /// (query string, line) of every line written.
    pub written: Vec<(String, String)>,
}

pub struct Fake {
    pub dialect: Dialect,
    pub inner: Mutex<Inner>,
}

impl Fake {
    pub async fn start(dialect: Dialect) -> (Arc<Fake>, url::Url) {
        let fake = Arc::new(Fake {
            dialect,
            inner: Mutex::new(Inner::default()),
        });
        let app = axum::Router::new()
            .route("/api/v2/write", axum::routing::post(handle))
            .route("/write", axum::routing::post(handle))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        (
            fake,
            url::Url::parse(&format!("http://{addr}")).expect("url"),
        )
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        f(&mut self.inner.lock().expect("lock"))
    }

    pub fn written_lines(&self) -> Vec<String> {
        self.with(|i| i.written.iter().map(|(_, l)| l.clone()).collect())
    }
}

fn respond(code: u16, retry_after: Option<&str>, body: String) -> Response {
    let mut b = Response::builder().status(StatusCode::from_u16(code).expect("status"));
    if let Some(ra) = retry_after {
        b = b.header("retry-after", ra);
    }
    b.header("content-type", "application/json")
        .body(Body::from(body))
        .expect("response")
}

async fn handle(
    State(fake): State<Arc<Fake>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let gzip = headers.get("content-encoding").is_some_and(|v| v == "gzip");
    let text = if gzip {
        let mut s = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut s)
            .expect("gzip body");
        s
    } else {
        String::from_utf8(body.to_vec()).expect("utf-8 body")
    };
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "body must end in a newline"
    );
    let query = uri.query().unwrap_or("").to_owned();
    let auth = headers
        .get("authorization")
        .map(|v| v.to_str().expect("ascii").to_owned());
    let dialect = fake.dialect;
    fake.with(|inner| {
        inner.requests.push(Received {
            path: uri.path().to_owned(),
            query: query.clone(),
            auth: auth.clone(),
            gzip,
            lines: lines.clone(),
            at: tokio::time::Instant::now(),
        });
        if let Some(fault) = inner.faults.pop_front() {
            return match fault {
                Fault::Status {
                    code,
                    retry_after,
                    body,
                } => respond(code, retry_after, body.to_owned()),
                Fault::Drop => {
                    let err = futures_util::stream::once(async {
                        Err::<Bytes, std::io::Error>(std::io::Error::other("connection dropped"))
                    });
                    Response::builder()
                        .status(200)
                        .body(Body::from_stream(err))
                        .expect("response")
                }
            };
        }
        if let Some(tok) = &inner.require_auth
            && auth.as_deref() != Some(tok.as_str()) {
                return respond(
                    401,
                    None,
                    r#"{"code":"unauthorized","message":"unauthorized access"}"#.into(),
                );
            }
        let too_many = inner.max_lines.is_some_and(|m| lines.len() > m);
        if too_many || lines.iter().any(|l| l.contains("huge")) {
            return respond(
                413,
                None,
                r#"{"code":"request too large","message":"points batch is too large"}"#.into(),
            );
        }
        let (conflict, ok): (Vec<&String>, Vec<&String>) = lines.iter().partition(|l| l.contains("conflict="));
        if !conflict.is_empty() && dialect == Dialect::V2 {
            inner.written.extend(ok.into_iter().map(|l| (query.clone(), l.clone())));
            let msg = format!(
                "failure writing points to database: partial write: field type conflict: input field \"conflict\" \
                 on measurement \"m\" is type string, already exists as type float dropped={}",
                conflict.len()
            );
            let body = serde_json::json!({"code": "unprocessable entity", "message": msg});
            return respond(422, None, body.to_string());
        }
        let (bad, good): (Vec<&String>, Vec<&String>) = lines.iter().partition(|l| l.contains("bad="));
        if bad.is_empty() {
            inner
                .written
                .extend(good.into_iter().map(|l| (query.clone(), l.clone())));
            return respond(204, None, String::new());
        }
        let named: Vec<String> = bad
            .iter()
            .map(|l| format!("unable to parse '{l}': invalid field format"))
            .collect();
        let named = named.join("\n");
        match dialect {
            Dialect::V2 => respond(
                400,
                None,
                serde_json::json!({"code": "invalid", "message": named}).to_string(),
            ),
            Dialect::V1 => {
                inner
                    .written
                    .extend(good.into_iter().map(|l| (query.clone(), l.clone())));
                let msg = format!("partial write: {named} dropped=0");
                respond(400, None, serde_json::json!({ "error": msg }).to_string())
            }
        }
    })
}
