//! Building one upstream write request: URL, query, headers and (gzipped) body.
//!
//! Owns: the exact shape of `POST /api/v2/write` (InfluxDB 2.x) and `POST /write` (InfluxDB 1.x,
//! as 1.6.7 accepts it), precision names per API, the v1 `db/rp` split. Pure: no IO.
//! Does not own: sending (see `client`), deciding what to send (see `lane`).

use std::io::Write as _;

use base64::Engine as _;
use bytes::Bytes;
use flate2::{Compression, write::GzEncoder};

use super::{Destination, UpstreamApi};
use crate::model::Precision;

/// A write request, ready to hand to an HTTP client.
#[derive(Debug, Clone)]
pub struct WriteRequest {
    pub url: url::Url,
    /// Header name (lowercase) and value, in the order they are sent.
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
}

/// The precision to send for lines stored in `precision`, and whether the timestamps must be
/// rewritten to nanoseconds first (v2 has no name for minutes and hours).
pub fn wire_precision(api: UpstreamApi, precision: Precision) -> (&'static str, bool) {
    match api {
        UpstreamApi::V1 => (precision.v1_name(), false),
        UpstreamApi::V2 => match precision.v2_name() {
            Some(name) => (name, false),
            None => ("ns", true),
        },
    }
}

/// `{base}` with `suffix` appended to its path (a path prefix such as `/influx` is kept, and so
/// are query parameters already in the configured URL).
pub fn endpoint(base: &url::Url, suffix: &str) -> url::Url {
    let mut url = base.clone();
    let path = format!("{}/{}", base.path().trim_end_matches('/'), suffix);
    url.set_path(&path);
    url
}

/// Splits a v1 bucket `db/rp` at the first `/`; an empty rp means "the default".
pub fn split_db_rp(bucket: &str) -> (&str, Option<&str>) {
    match bucket.split_once('/') {
        Some((db, rp)) if !rp.is_empty() => (db, Some(rp)),
        Some((db, _)) => (db, None),
        None => (bucket, None),
    }
}

/// Builds the request that writes `lines` (each without its `\n`) to `dest`.
/// `precision` is the wire precision (from [`wire_precision`]).
pub fn build(
    base: &url::Url,
    api: UpstreamApi,
    dest: &Destination,
    precision: &str,
    lines: &[Bytes],
    gzip: bool,
) -> WriteRequest {
    let mut url;
    let mut headers: Vec<(&'static str, String)> = Vec::with_capacity(4);
    match api {
        UpstreamApi::V2 => {
            url = endpoint(base, "api/v2/write");
            url.query_pairs_mut()
                .append_pair("org", &dest.org)
                .append_pair("bucket", &dest.bucket)
                .append_pair("precision", precision);
            if let Some(token) = &dest.token {
                headers.push(("authorization", format!("Token {token}")));
            }
        }
        UpstreamApi::V1 => {
            url = endpoint(base, "write");
            let (db, rp) = split_db_rp(&dest.bucket);
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("db", db);
                if let Some(rp) = rp {
                    q.append_pair("rp", rp);
                }
                q.append_pair("precision", precision);
            }
            headers.extend(v1_authorization(dest));
        }
    }
    headers.push(("content-type", "text/plain; charset=utf-8".to_owned()));
    let body = if gzip {
        headers.push(("content-encoding", "gzip".to_owned()));
        gzip_lines(lines)
    } else {
        join_lines(lines)
    };
    WriteRequest { url, headers, body }
}

/// The `Authorization` header of a v1 request: Basic when a user name or password is set,
/// else `Token <token>` (InfluxDB 2's v1 compatibility API; 1.x ignores it when
/// authentication is off).
pub fn v1_authorization(dest: &Destination) -> Option<(&'static str, String)> {
    if dest.username.is_some() || dest.password.is_some() {
        let user = dest.username.as_deref().unwrap_or("");
        let pass = dest.password.as_deref().unwrap_or("");
        let cred = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        Some(("authorization", format!("Basic {cred}")))
    } else {
        dest.token
            .as_ref()
            .map(|token| ("authorization", format!("Token {token}")))
    }
}

/// `POST {base}/query` with `q=CREATE DATABASE "<db>"`, as Telegraf's v1 output sends it when
/// a write answers "database not found" (the db of `dest.bucket`, with InfluxQL's
/// identifier escaping).
pub fn create_database(base: &url::Url, dest: &Destination) -> WriteRequest {
    let (db, _) = split_db_rp(&dest.bucket);
    let escaped = db
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("q", &format!("CREATE DATABASE \"{escaped}\""))
        .finish();
    let mut headers = vec![(
        "content-type",
        "application/x-www-form-urlencoded".to_owned(),
    )];
    headers.extend(v1_authorization(dest));
    WriteRequest {
        url: endpoint(base, "query"),
        headers,
        body: Bytes::from(body),
    }
}

/// The lines, each followed by `\n`.
pub fn join_lines(lines: &[Bytes]) -> Bytes {
    let len: usize = lines.iter().map(|l| l.len() + 1).sum();
    let mut out = Vec::with_capacity(len);
    for l in lines {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    Bytes::from(out)
}

fn gzip_lines(lines: &[Bytes]) -> Bytes {
    let len: usize = lines.iter().map(|l| l.len() + 1).sum();
    let mut enc = GzEncoder::new(Vec::with_capacity(len / 4 + 64), Compression::fast());
    for l in lines {
        enc.write_all(l).expect("writing into a Vec cannot fail");
        enc.write_all(b"\n")
            .expect("writing into a Vec cannot fail");
    }
    Bytes::from(enc.finish().expect("writing into a Vec cannot fail"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Read as _;

    use super::*;

    fn dest(bucket: &str) -> Destination {
        Destination {
            org: "acme org".into(),
            bucket: bucket.into(),
            token: Some("s3cr&t".into()),
            username: None,
            password: None,
        }
    }

    fn header<'a>(r: &'a WriteRequest, name: &str) -> Option<&'a str> {
        r.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    fn lines() -> Vec<Bytes> {
        vec![
            Bytes::from_static(b"cpu v=1 1"),
            Bytes::from_static(b"cpu v=2 2"),
        ]
    }

    #[test]
    fn v2_request_shape() {
        let base = url::Url::parse("http://influx:8086/prefix/").unwrap();
        let r = build(
            &base,
            UpstreamApi::V2,
            &dest("tele/graf"),
            "ms",
            &lines(),
            false,
        );
        assert_eq!(
            r.url.as_str(),
            "http://influx:8086/prefix/api/v2/write?org=acme+org&bucket=tele%2Fgraf&precision=ms"
        );
        assert_eq!(header(&r, "authorization"), Some("Token s3cr&t"));
        assert_eq!(header(&r, "content-encoding"), None);
        assert_eq!(
            header(&r, "content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(&r.body[..], b"cpu v=1 1\ncpu v=2 2\n");
    }

    #[test]
    fn v1_request_shape_with_rp_and_basic_auth() {
        let base = url::Url::parse("http://influx:8086").unwrap();
        let mut d = dest("telegraf/autogen");
        d.username = Some("user".into());
        d.password = Some("pa:ss".into());
        let r = build(&base, UpstreamApi::V1, &d, "n", &lines(), false);
        assert_eq!(
            r.url.as_str(),
            "http://influx:8086/write?db=telegraf&rp=autogen&precision=n"
        );
        let expected = base64::engine::general_purpose::STANDARD.encode("user:pa:ss");
        assert_eq!(
            header(&r, "authorization"),
            Some(format!("Basic {expected}").as_str())
        );
    }

    #[test]
    fn v1_without_rp_sends_no_rp() {
        let base = url::Url::parse("http://influx:8086/").unwrap();
        let mut d = dest("telegraf");
        d.token = None;
        let r = build(&base, UpstreamApi::V1, &d, "s", &lines(), false);
        assert_eq!(
            r.url.as_str(),
            "http://influx:8086/write?db=telegraf&precision=s"
        );
        assert_eq!(header(&r, "authorization"), None);
        assert_eq!(split_db_rp("db/"), ("db", None));
        assert_eq!(split_db_rp("db/rp/x"), ("db", Some("rp/x")));
    }

    #[test]
    fn gzip_body_round_trips() {
        let base = url::Url::parse("http://influx:8086").unwrap();
        let r = build(&base, UpstreamApi::V2, &dest("b"), "ns", &lines(), true);
        assert_eq!(header(&r, "content-encoding"), Some("gzip"));
        let mut out = String::new();
        flate2::read::GzDecoder::new(&r.body[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "cpu v=1 1\ncpu v=2 2\n");
    }

    #[test]
    fn precision_mapping() {
        use Precision::*;
        assert_eq!(wire_precision(UpstreamApi::V2, Nanoseconds), ("ns", false));
        assert_eq!(wire_precision(UpstreamApi::V2, Microseconds), ("us", false));
        assert_eq!(wire_precision(UpstreamApi::V2, Seconds), ("s", false));
        assert_eq!(wire_precision(UpstreamApi::V2, Minutes), ("ns", true));
        assert_eq!(wire_precision(UpstreamApi::V2, Hours), ("ns", true));
        assert_eq!(wire_precision(UpstreamApi::V1, Nanoseconds), ("n", false));
        assert_eq!(wire_precision(UpstreamApi::V1, Microseconds), ("u", false));
        assert_eq!(wire_precision(UpstreamApi::V1, Milliseconds), ("ms", false));
        assert_eq!(wire_precision(UpstreamApi::V1, Minutes), ("m", false));
        assert_eq!(wire_precision(UpstreamApi::V1, Hours), ("h", false));
    }
}
