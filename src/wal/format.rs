//! The record codec: `Entry` ⇄ bytes. Pure: no IO, no clock.
//!
//! Owns: the record header layout, the body layout, the CRC rule and optional
//! LZ4 compression of the line bytes. Does not own: where records live (see
//! `segment`) or how they are written (see `writer`). The layout is specified in
//! the module docs of `wal`.

use bytes::Bytes;

use crate::model::{BucketName, Entry, Precision, Record, RecordKind, TenantId, WalSeq};

/// The two magic bytes that open every record: `"SW"`.
pub const MAGIC: [u8; 2] = *b"SW";
/// The only record version this code writes and reads.
pub const VERSION: u8 = 1;
/// Header flag: the line bytes are an LZ4 block.
pub const FLAG_LZ4: u8 = 0x01;
/// The line bytes are a gzip stream (the client's own request body, stored as it came).
pub const FLAG_GZIP: u8 = 0x02;
/// Flags a record may carry (at most one of them).
const KNOWN_FLAGS: u8 = FLAG_LZ4 | FLAG_GZIP;
/// Fixed header size in bytes.
pub const HEADER_LEN: usize = 20;
/// The largest body a record may have (a bound on what a corrupt length can make us read).
pub const MAX_BODY: u32 = 256 * 1024 * 1024;

/// Why bytes are not a valid record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// Fewer bytes than the header, or than the length the header announces.
    Incomplete,
    /// The header does not start with `MAGIC`.
    Magic,
    /// A version this code does not know.
    Version,
    /// Unknown flag bits, or a length above `MAX_BODY`.
    Header,
    /// The CRC does not match.
    Crc,
    /// The CRC matches but the body does not parse (tenant, bucket, precision, kind, LZ4).
    Body,
}

/// The checked header of a record whose CRC matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub seq: u64,
    pub flags: u8,
    /// Total record length: header plus body.
    pub total_len: usize,
}

/// A record encoded up to its sequence number, which only the writer knows.
/// `finish` stamps the seq and the CRC.
#[derive(Debug)]
pub struct Encoded {
    bytes: Vec<u8>,
    body_crc: u32,
}

impl Encoded {
    /// Total record length on disk.
    pub fn encoded_len(&self) -> usize {
        self.bytes.len()
    }

    /// Stamps `seq` and the CRC; the result is the record as it goes to disk.
    pub fn finish(&mut self, seq: u64) -> &[u8] {
        self.bytes[8..16].copy_from_slice(&seq.to_le_bytes());
        let crc = header_crc(self.body_crc, &self.bytes[..HEADER_LEN]);
        self.bytes[16..20].copy_from_slice(&crc.to_le_bytes());
        &self.bytes
    }
}

/// CRC32C of the body, continued over header bytes 0..16 (magic … seq).
fn header_crc(body_crc: u32, header: &[u8]) -> u32 {
    crc32c::crc32c_append(body_crc, &header[..16])
}

fn kind_code(kind: RecordKind) -> u8 {
    match kind {
        RecordKind::Write => 0,
        RecordKind::Derived => 1,
    }
}

fn kind_from_code(c: u8) -> Option<RecordKind> {
    match c {
        0 => Some(RecordKind::Write),
        1 => Some(RecordKind::Derived),
        _ => None,
    }
}

/// Encodes `entry` (compressing the lines with LZ4 when `lz4` is set and it helps).
/// Returns `None` when the body would exceed `MAX_BODY`.
#[cfg(test)]
pub fn encode(entry: &Entry, lz4: bool) -> Option<Encoded> {
    encode_with(entry, lz4, None)
}

/// Encodes `entry`; when `gzip` is given (a gzip stream that decompresses to exactly
/// `entry.lines`), it is stored instead of compressing again.
pub fn encode_with(entry: &Entry, lz4: bool, gzip: Option<&[u8]>) -> Option<Encoded> {
    let tenant = entry.tenant.as_str().as_bytes();
    let bucket = entry.bucket.as_str().as_bytes();
    // TenantId and BucketName are at most 255 bytes (model.rs validates it).
    let tenant_len = u8::try_from(tenant.len()).ok()?;
    let bucket_len = u8::try_from(bucket.len()).ok()?;
    let raw_len = u32::try_from(entry.lines.len()).ok()?;
    let compressed = if gzip.is_some() {
        None
    } else if lz4 && !entry.lines.is_empty() {
        let c = lz4_flex::block::compress(&entry.lines);
        (c.len() < entry.lines.len()).then_some(c)
    } else {
        None
    };
    let (payload, flags): (&[u8], u8) = match (gzip, &compressed) {
        (Some(gz), _) => (gz, FLAG_GZIP),
        (None, Some(c)) => (c, FLAG_LZ4),
        (None, None) => (&entry.lines, 0),
    };
    let body_len = 1 + tenant.len() + 1 + bucket.len() + 2 + 4 + payload.len();
    let body_len_u32 = u32::try_from(body_len).ok().filter(|l| *l <= MAX_BODY)?;

    let mut bytes = Vec::with_capacity(HEADER_LEN + body_len);
    bytes.extend_from_slice(&MAGIC);
    bytes.push(VERSION);
    bytes.push(flags);
    bytes.extend_from_slice(&body_len_u32.to_le_bytes());
    bytes.extend_from_slice(&[0; 12]); // seq and crc, stamped by `finish`
    bytes.push(tenant_len);
    bytes.extend_from_slice(tenant);
    bytes.push(bucket_len);
    bytes.extend_from_slice(bucket);
    bytes.push(entry.precision.code());
    bytes.push(kind_code(entry.kind));
    bytes.extend_from_slice(&raw_len.to_le_bytes());
    bytes.extend_from_slice(payload);
    let body_crc = crc32c::crc32c(&bytes[HEADER_LEN..]);
    Some(Encoded { bytes, body_crc })
}

/// Checks the header at the start of `buf` and, if the whole record is present, its CRC.
pub fn check(buf: &[u8]) -> Result<Header, Invalid> {
    let head = buf.get(..HEADER_LEN).ok_or(Invalid::Incomplete)?;
    if head[..2] != MAGIC {
        return Err(Invalid::Magic);
    }
    if head[2] != VERSION {
        return Err(Invalid::Version);
    }
    let flags = head[3];
    let body_len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    if !flags_ok(flags) || body_len > MAX_BODY {
        return Err(Invalid::Header);
    }
    let total_len = HEADER_LEN + body_len as usize;
    let body = buf.get(HEADER_LEN..total_len).ok_or(Invalid::Incomplete)?;
    let stored = u32::from_le_bytes([head[16], head[17], head[18], head[19]]);
    if header_crc(crc32c::crc32c(body), head) != stored {
        return Err(Invalid::Crc);
    }
    let mut seq = [0; 8];
    seq.copy_from_slice(&head[8..16]);
    Ok(Header {
        seq: u64::from_le_bytes(seq),
        flags,
        total_len,
    })
}

fn flags_ok(flags: u8) -> bool {
    flags & !KNOWN_FLAGS == 0 && flags != KNOWN_FLAGS
}

/// Seq and total length from a header, without the CRC (which needs the body).
/// `None` if `head` is not a plausible header.
pub fn peek(head: &[u8]) -> Option<(u64, usize)> {
    let head = head.get(..HEADER_LEN)?;
    if head[..2] != MAGIC || head[2] != VERSION || !flags_ok(head[3]) {
        return None;
    }
    let body_len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    if body_len > MAX_BODY {
        return None;
    }
    let mut seq = [0; 8];
    seq.copy_from_slice(&head[8..16]);
    Some((u64::from_le_bytes(seq), HEADER_LEN + body_len as usize))
}

/// Decodes the record at the start of `buf`; returns it and its length on disk.
pub fn decode(buf: &[u8]) -> Result<(Record, usize), Invalid> {
    let header = check(buf)?;
    let body = &buf[HEADER_LEN..header.total_len];
    let entry = decode_body(body, header.flags).ok_or(Invalid::Body)?;
    Ok((
        Record {
            seq: WalSeq(header.seq),
            entry,
        },
        header.total_len,
    ))
}

fn take<'a>(body: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, rest) = (body.get(..n)?, body.get(n..)?);
    *body = rest;
    Some(head)
}

fn decode_body(mut body: &[u8], flags: u8) -> Option<Entry> {
    let b = &mut body;
    let tenant_len = take(b, 1)?[0] as usize;
    let tenant = TenantId::new(std::str::from_utf8(take(b, tenant_len)?).ok()?).ok()?;
    let bucket_len = take(b, 1)?[0] as usize;
    let bucket = BucketName::new(std::str::from_utf8(take(b, bucket_len)?).ok()?).ok()?;
    let precision = Precision::from_code(take(b, 1)?[0])?;
    let kind = kind_from_code(take(b, 1)?[0])?;
    let raw = take(b, 4)?;
    let raw_len = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize;
    let lines = if flags & FLAG_LZ4 != 0 {
        let out = lz4_flex::block::decompress(b, raw_len).ok()?;
        (out.len() == raw_len).then_some(out)?.into()
    } else if flags & FLAG_GZIP != 0 {
        use std::io::Read as _;
        let mut out = Vec::with_capacity(raw_len);
        flate2::read::MultiGzDecoder::new(*b)
            .take(raw_len as u64 + 1)
            .read_to_end(&mut out)
            .ok()?;
        (out.len() == raw_len).then_some(out)?.into()
    } else {
        (b.len() == raw_len).then(|| Bytes::copy_from_slice(b))?
    };
    Some(Entry {
        tenant,
        bucket,
        precision,
        kind,
        lines,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn entry(lines: &str) -> Entry {
        Entry {
            tenant: TenantId::new("acme").unwrap(),
            bucket: BucketName::new("telegraf").unwrap(),
            precision: Precision::Milliseconds,
            kind: RecordKind::Derived,
            lines: Bytes::copy_from_slice(lines.as_bytes()),
        }
    }

    fn sample(lz4: bool) -> Vec<u8> {
        let lines = "cpu,host=a usage=1 1\n".repeat(20);
        encode(&entry(&lines), lz4).unwrap().finish(42).to_vec()
    }

    #[test]
    fn round_trip_plain_and_lz4() {
        for lz4 in [false, true] {
            let bytes = sample(lz4);
            assert_eq!(
                bytes[3] & FLAG_LZ4 != 0,
                lz4,
                "flag says whether lines are compressed"
            );
            let (rec, len) = decode(&bytes).unwrap();
            assert_eq!(len, bytes.len());
            assert_eq!(rec.seq, WalSeq(42));
            assert_eq!(rec.entry, entry(&"cpu,host=a usage=1 1\n".repeat(20)));
        }
        assert!(sample(true).len() < sample(false).len());
    }

    #[test]
    fn empty_and_incompressible_lines_stay_plain() {
        let bytes = encode(&entry(""), true).unwrap().finish(1).to_vec();
        assert_eq!(bytes[3], 0);
        assert_eq!(decode(&bytes).unwrap().0.entry.lines.len(), 0);
        let bytes = encode(&entry("x"), true).unwrap().finish(1).to_vec();
        assert_eq!(bytes[3], 0);
    }

    #[test]
    fn every_header_byte_corruption_is_detected() {
        for lz4 in [false, true] {
            let good = sample(lz4);
            for i in 0..HEADER_LEN {
                for flip in [0x01u8, 0x80, 0xff] {
                    let mut bad = good.clone();
                    bad[i] ^= flip;
                    assert!(decode(&bad).is_err(), "byte {i} ^ {flip:#x} went unnoticed");
                }
            }
        }
    }

    #[test]
    fn body_corruption_and_truncation_are_detected() {
        let good = sample(true);
        for i in HEADER_LEN..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x10;
            assert_eq!(decode(&bad).err(), Some(Invalid::Crc), "body byte {i}");
        }
        for cut in 0..good.len() {
            assert_eq!(
                decode(&good[..cut]).err(),
                Some(Invalid::Incomplete),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn trailing_bytes_are_not_part_of_the_record() {
        let mut bytes = sample(false);
        let len = bytes.len();
        bytes.extend_from_slice(&[0xAB; 7]);
        assert_eq!(decode(&bytes).unwrap().1, len);
    }

    #[test]
    fn gzip_payload_round_trips_and_is_checked() {
        use std::io::Write as _;
        let lines = "cpu,host=a v=1 1\ncpu,host=b v=2 2\n".repeat(50);
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(lines.as_bytes()).unwrap();
        let gz = enc.finish().unwrap();
        let e = entry(&lines);
        let bytes = encode_with(&e, true, Some(&gz)).unwrap().finish(7).to_vec();
        assert_eq!(bytes[3], FLAG_GZIP);
        assert!(
            bytes.len() < lines.len(),
            "the gzip stream is what is stored"
        );
        let (rec, len) = decode(&bytes).unwrap();
        assert_eq!(len, bytes.len());
        assert_eq!(rec.entry, e);
        // A stream that does not decompress to the announced length is refused.
        let short = entry("cpu v=1 1\n");
        let bad = encode_with(&short, false, Some(&gz))
            .unwrap()
            .finish(8)
            .to_vec();
        assert!(decode(&bad).is_err());
        // Both compression flags at once is not a valid header.
        let mut both = bytes.clone();
        both[3] = FLAG_LZ4 | FLAG_GZIP;
        assert!(peek(&both).is_none());
    }
}
