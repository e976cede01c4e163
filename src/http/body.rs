//! Reading a request body within a byte budget, and decoding `Content-Encoding: gzip`
//! through a decoder capped at the same budget.
//!
//! Owns: the size rules of a write body (compressed and decompressed, each at most
//! `max_body_bytes`), refusing before buffering when `Content-Length` already says too much.
//! Does not own: what the body means.

use std::io::Read;

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use flate2::read::MultiGzDecoder;
use http_body_util::BodyExt;

use crate::error::{ErrorCode, HasErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("decompressed request body is larger than {limit} bytes")]
    InflatedTooLarge { limit: usize },
    #[error("unable to read data: {source}")]
    Read { source: axum::Error },
    #[error("unable to read data: gzip: {source}")]
    Gzip { source: std::io::Error },
    /// The global in-flight byte budget ran out while a chunked body was arriving.
    #[error("sluice is overloaded: request body bytes in flight are at their limit; retry in 1s")]
    Overloaded,
}

impl HasErrorCode for BodyError {
    fn error_code(&self) -> ErrorCode {
        match self {
            Self::TooLarge { .. } | Self::InflatedTooLarge { .. } => ErrorCode::RequestTooLarge,
            Self::Read { .. } | Self::Gzip { .. } => ErrorCode::Invalid,
            Self::Overloaded => ErrorCode::Unavailable,
        }
    }
}

/// Reads the whole body, failing as soon as it passes `limit` bytes.
/// `content_length`, when the client sent one, is checked before anything is read.
pub async fn read_capped(
    body: Body,
    content_length: Option<u64>,
    limit: usize,
) -> Result<Bytes, BodyError> {
    read_capped_charged(body, content_length, limit, &mut |_| true).await
}

/// [`read_capped`], calling `charge(n)` for every `n` bytes received when there is no
/// `Content-Length` (a chunked body); `false` stops reading with `Overloaded`.
pub async fn read_capped_charged(
    body: Body,
    content_length: Option<u64>,
    limit: usize,
    charge: &mut (dyn FnMut(u64) -> bool + Send),
) -> Result<Bytes, BodyError> {
    if content_length.is_some_and(|len| len > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    let capacity = content_length.map_or(64 * 1024, |len| len as usize);
    let mut buf = BytesMut::with_capacity(capacity);
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|source| BodyError::Read { source })?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                return Err(BodyError::TooLarge { limit });
            }
            if content_length.is_none() && !charge(data.len() as u64) {
                return Err(BodyError::Overloaded);
            }
            if buf.is_empty() && content_length.is_some() && data.len() == capacity {
                // One frame holding the whole body: keep it without copying.
                return finish_single(data, body, limit).await;
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

/// The first frame was the whole announced body; make sure nothing follows it.
async fn finish_single(first: Bytes, mut body: Body, limit: usize) -> Result<Bytes, BodyError> {
    let mut rest = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|source| BodyError::Read { source })?;
        if let Ok(data) = frame.into_data() {
            if first.len() + rest.len() + data.len() > limit {
                return Err(BodyError::TooLarge { limit });
            }
            rest.extend_from_slice(&data);
        }
    }
    if rest.is_empty() {
        return Ok(first);
    }
    let mut all = BytesMut::with_capacity(first.len() + rest.len());
    all.extend_from_slice(&first);
    all.extend_from_slice(&rest);
    Ok(all.freeze())
}

/// Decompresses a gzip body (several members are read as one stream, as Go's reader does),
/// failing once the output passes `limit` bytes.
pub fn gunzip_capped(compressed: &[u8], limit: usize) -> Result<Bytes, BodyError> {
    let hint = compressed.len().saturating_mul(8).min(limit);
    let mut out = Vec::with_capacity(hint);
    let mut decoder = MultiGzDecoder::new(compressed).take(limit as u64 + 1);
    decoder
        .read_to_end(&mut out)
        .map_err(|source| BodyError::Gzip { source })?;
    if out.len() > limit {
        return Err(BodyError::InflatedTooLarge { limit });
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[tokio::test]
    async fn content_length_over_limit_is_refused_before_reading() {
        let err = read_capped(Body::from("x".repeat(10)), Some(10), 5)
            .await
            .unwrap_err();
        assert!(matches!(err, BodyError::TooLarge { limit: 5 }));
    }

    #[tokio::test]
    async fn streamed_body_over_limit_is_refused() {
        let chunks: Vec<Result<Bytes, std::io::Error>> =
            (0..4).map(|_| Ok(Bytes::from_static(b"abcd"))).collect();
        let body = Body::from_stream(futures_util::stream::iter(chunks));
        let err = read_capped(body, None, 10).await.unwrap_err();
        assert_eq!(err.error_code(), ErrorCode::RequestTooLarge);
        let chunks: Vec<Result<Bytes, std::io::Error>> =
            (0..2).map(|_| Ok(Bytes::from_static(b"abcd"))).collect();
        let body = Body::from_stream(futures_util::stream::iter(chunks));
        assert_eq!(read_capped(body, None, 10).await.unwrap(), "abcdabcd");
    }

    #[tokio::test]
    async fn chunked_bodies_are_charged_as_they_arrive() {
        let chunks = || -> Body {
            let c: Vec<Result<Bytes, std::io::Error>> =
                (0..4).map(|_| Ok(Bytes::from_static(b"abcd"))).collect();
            Body::from_stream(futures_util::stream::iter(c))
        };
        let mut charged = 0u64;
        let mut budget = |n: u64| {
            charged += n;
            charged <= 10
        };
        let err = read_capped_charged(chunks(), None, 100, &mut budget)
            .await
            .unwrap_err();
        assert!(matches!(err, BodyError::Overloaded));
        assert_eq!(err.error_code(), ErrorCode::Unavailable);
        // With a Content-Length the caller charged up front: nothing is charged here.
        let mut never = |_: u64| false;
        let body = read_capped_charged(chunks(), Some(16), 100, &mut never)
            .await
            .unwrap();
        assert_eq!(body.len(), 16);
    }

    #[test]
    fn gzip_is_capped_and_multimember() {
        let mut two = gzip(b"cpu v=1 1\n");
        two.extend(gzip(b"cpu v=2 2\n"));
        assert_eq!(gunzip_capped(&two, 100).unwrap(), "cpu v=1 1\ncpu v=2 2\n");
        let bomb = gzip(&vec![b'a'; 1 << 20]);
        assert!(matches!(
            gunzip_capped(&bomb, 1000),
            Err(BodyError::InflatedTooLarge { limit: 1000 })
        ));
        assert!(matches!(
            gunzip_capped(b"not gzip", 100),
            Err(BodyError::Gzip { .. })
        ));
    }
}
