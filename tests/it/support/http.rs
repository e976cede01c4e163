//! A minimal blocking HTTP/1.1 client over `std::net::TcpStream`.
//!
//! Owns: writing a request byte for byte as given (header order, chunked bodies) and reading
//! the response (Content-Length, chunked, or read-to-close; gzip bodies decoded).
//! Does not own: connection reuse, TLS, redirects. Every request uses `Connection: close`.
//!
//! A hand-written client (rather than reqwest) lets the Telegraf replay send exactly Go's
//! header order and a chunked body with no Content-Length, and keeps the harness synchronous.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use flate2::read::GzDecoder;

/// How a request body goes on the wire.
#[derive(Debug, Clone)]
pub enum Body {
    /// No body, no Content-Length.
    Empty,
    /// `Content-Length: n` then the bytes.
    Fixed(Vec<u8>),
    /// `Transfer-Encoding: chunked`, one chunk per element (empty elements are skipped).
    Chunked(Vec<Vec<u8>>),
}

impl Body {
    /// Splits `bytes` into chunks of at most `chunk` bytes, sent chunked.
    pub fn chunked(bytes: &[u8], chunk: usize) -> Body {
        Body::Chunked(bytes.chunks(chunk.max(1)).map(<[u8]>::to_vec).collect())
    }
}

/// One request. Headers are written in the given order after `Host`.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Request {
    pub fn new(method: &str, url: &str) -> Request {
        Request {
            method: method.to_owned(),
            url: url.to_owned(),
            headers: Vec::new(),
            body: Body::Empty,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: Body) -> Request {
        self.body = body;
        self
    }

    /// `Authorization: Basic base64(user:password)`.
    pub fn basic_auth(self, user: &str, password: &str) -> Request {
        use base64::Engine as _;
        let enc = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.header("Authorization", &format!("Basic {enc}"))
    }

    pub fn send(&self) -> io::Result<Response> {
        send(self)
    }

    /// Like [`send`](Request::send) with another read/write timeout (slow answers of debug
    /// builds).
    pub fn send_within(&self, timeout: Duration) -> io::Result<Response> {
        send_timeout(self, timeout)
    }
}

/// A response with its body already de-chunked and (if `Content-Encoding: gzip`) gunzipped.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// A gzipped body as it came, before it was gunzipped into `body`.
    pub gzipped: Option<Vec<u8>>,
}

impl Response {
    /// First header with this name, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response body is not JSON ({e}); status {}: {}",
                self.status,
                self.text()
            )
        })
    }
}

/// `GET url` with no extra headers.
pub fn get(url: &str) -> io::Result<Response> {
    Request::new("GET", url).send()
}

/// Percent-encodes `pairs` as `application/x-www-form-urlencoded` (space as `+`).
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// Sends one request on a fresh connection and reads the whole response.
pub fn send(req: &Request) -> io::Result<Response> {
    send_timeout(req, IO_TIMEOUT)
}

/// [`send`] with `timeout` for each read and write.
pub fn send_timeout(req: &Request, timeout: Duration) -> io::Result<Response> {
    let url = url::Url::parse(&req.url).map_err(|e| io::Error::other(format!("{e}")))?;
    let host = url
        .host_str()
        .ok_or_else(|| io::Error::other("url has no host"))?;
    let port = url.port_or_known_default().unwrap_or(80);
    let mut target = url.path().to_owned();
    if let Some(q) = url.query() {
        target.push('?');
        target.push_str(q);
    }
    let stream = TcpStream::connect((host, port))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.set_nodelay(true)?;

    let mut head = format!(
        "{} {target} HTTP/1.1\r\nHost: {host}:{port}\r\n",
        req.method
    );
    for (k, v) in &req.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    match &req.body {
        Body::Empty => {}
        Body::Fixed(b) => head.push_str(&format!("Content-Length: {}\r\n", b.len())),
        Body::Chunked(_) => {
            if !req
                .headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("transfer-encoding"))
            {
                head.push_str("Transfer-Encoding: chunked\r\n");
            }
        }
    }
    head.push_str("Connection: close\r\n\r\n");

    let mut w = io::BufWriter::new(&stream);
    w.write_all(head.as_bytes())?;
    match &req.body {
        Body::Empty => {}
        Body::Fixed(b) => w.write_all(b)?,
        Body::Chunked(chunks) => {
            for c in chunks.iter().filter(|c| !c.is_empty()) {
                write!(w, "{:x}\r\n", c.len())?;
                w.write_all(c)?;
                w.write_all(b"\r\n")?;
            }
            w.write_all(b"0\r\n\r\n")?;
        }
    }
    w.flush()?;
    drop(w);
    read_response(BufReader::new(&stream))
}

fn read_response<R: BufRead>(mut r: R) -> io::Result<Response> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            break;
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _): &&(String, String)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let size_hex = line.trim().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(size_hex, 16)
                .map_err(|e| io::Error::other(format!("bad chunk size {line:?}: {e}")))?;
            if size == 0 {
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..])?;
            line.clear();
            r.read_line(&mut line)?;
        }
    } else if let Some(n) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(n, 0);
        r.read_exact(&mut body)?;
    } else if status != 204 && status != 304 {
        r.read_to_end(&mut body)?;
    }
    let mut gzipped = None;
    if find("content-encoding").is_some_and(|v| v.eq_ignore_ascii_case("gzip")) && !body.is_empty()
    {
        let mut out = Vec::new();
        GzDecoder::new(&body[..]).read_to_end(&mut out)?;
        gzipped = Some(std::mem::replace(&mut body, out));
    }
    Ok(Response {
        status,
        headers,
        body,
        gzipped,
    })
}

#[test]
fn reads_chunked_and_fixed_responses() {
    let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
    let r = read_response(&raw[..]).expect("parse chunked");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"abcde"[..]));
    let raw = b"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\nhiEXTRA";
    let r = read_response(&raw[..]).expect("parse fixed");
    assert_eq!((r.status, r.text().as_str()), (404, "hi"));
    assert_eq!(r.header("Content-Length"), Some("2"));
}
