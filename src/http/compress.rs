//! Query answers gzipped for clients that ask for it, as InfluxDB does (tower-http's
//! `CompressionLayer`). Grafana's Go transport sends `Accept-Encoding: gzip` with every
//! InfluxQL request and influxdb-client-go with every Flux request (wire.md §2.1).
//!
//! Owns: which answers are compressed, and how hard. Does not own: decoding gzip request
//! bodies (`http::body`), or answers passed through from an upstream that are gzipped already
//! (a response that has a `Content-Encoding` is never compressed again).
//!
//! - `/query`: InfluxDB 1.x compresses a 200 answer of any size and nothing else: its lazy
//!   gzip writer turns on at `WriteHeader(200)`. A 400 parse error or a 401 stays plain
//!   (checked against influxd 1.6.7).
//! - `/api/v2/query`: InfluxDB 2 wraps its query handler in `gziphandler`, which compresses
//!   answers of at least 1400 bytes.
//!
//! Both use the fastest deflate level: a Flux answer of several MB is compressed on the
//! connection's task, and level 1 keeps that a few ms per MB at about a quarter of the
//! plain size (InfluxDB uses Go's default level, 6, about three times slower).

use axum::http::{HeaderMap, StatusCode, header};
use tower_http::compression::predicate::{Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};

/// Smallest Flux answer InfluxDB 2 compresses (`gziphandler.DefaultMinSize`).
const FLUX_MIN_BYTES: u16 = 1400;

/// The layer for `/query`: 200 answers, gzipped when the client accepts gzip.
pub(super) fn influxql() -> CompressionLayer<impl Predicate> {
    gzip().compress_when(|status: StatusCode, _, _: &_, _: &_| status == StatusCode::OK)
}

/// The layer for `/api/v2/query`: answers of at least 1400 bytes (a streamed answer of
/// unknown length is compressed).
pub(super) fn flux() -> CompressionLayer<impl Predicate> {
    gzip().compress_when(SizeAbove::new(FLUX_MIN_BYTES))
}

/// Whether a request's `Accept-Encoding` accepts gzip (`gzip` or `x-gzip`, not with `q=0`).
pub(super) fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| {
                p.split_once('=').is_some_and(|(k, q)| {
                    k.trim().eq_ignore_ascii_case("q")
                        && q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
                })
            });
            (name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip")) && !refused
        })
}

fn gzip() -> CompressionLayer {
    CompressionLayer::new()
        .gzip(true)
        .quality(CompressionLevel::Fastest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_accepted_when_named_without_q_zero() {
        let accepts = |values: &[&str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append(header::ACCEPT_ENCODING, v.parse().expect("header value"));
            }
            accepts_gzip(&h)
        };
        assert!(accepts(&["gzip"]));
        assert!(accepts(&["deflate, GZIP;q=0.5"]));
        assert!(accepts(&["br", "gzip"]));
        assert!(!accepts(&[]));
        assert!(!accepts(&["identity"]));
        assert!(accepts(&["x-gzip"]));
        assert!(!accepts(&["gzip;q=0", "br"]));
        assert!(!accepts(&["gzip; Q = 0"]));
        assert!(!accepts(&["x-gzip-like"]));
    }
}
