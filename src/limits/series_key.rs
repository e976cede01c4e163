//! The identity of a series: a stable 64-bit hash of its canonical key.
//!
//! Canonical key: the measurement unescaped as InfluxDB's `models.ParseName` does (`\,` `\␠`),
//! then the tags sorted by unescaped key, keys and values unescaped (`\,` `\=` `\␠`), all
//! escaped again the one canonical way. So `cpu,b=2,a=1` and `cpu,a=1,b=2` are one series.
//! A key as Telegraf writes it (sorted, no escapes) is already canonical and is hashed as it
//! is, without any copy. The hash ([`hash64`]) is fixed forever because snapshots store it.
//! It is not keyed: a tenant could craft colliding keys, which only lets two of its own series
//! count as one; the in-memory sets re-hash the value with a per-process key, so collisions do
//! not degrade lookups. Input is a line already validated by `lineproto`.

use std::borrow::Cow;

use crate::lineproto::{unescape, unescape_measurement};

/// An unescaped (key, value).
type Tag<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

const K: u64 = 0x9e37_79b9_7f4a_7c15;

/// A fixed 64-bit hash, 8 bytes at a time (multiply-xorshift rounds, murmur3's finaliser).
/// Part of the snapshot format: never change it without a new snapshot version.
pub fn hash64(b: &[u8]) -> u64 {
    let mut h = K ^ (b.len() as u64).wrapping_mul(K);
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K);
        h ^= h >> 29;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K);
        h ^= h >> 29;
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// First `p >= from` with `buf[p] == c` not preceded by a backslash (InfluxDB's rule).
fn find_unescaped(buf: &[u8], mut from: usize, c: u8) -> usize {
    while from < buf.len() {
        match memchr::memchr(c, &buf[from..]) {
            Some(o) if from + o == 0 || buf[from + o - 1] != b'\\' => return from + o,
            Some(o) => from += o + 1,
            None => break,
        }
    }
    buf.len()
}

/// The series key of a valid line: everything before the first unescaped space.
pub fn series_key_of(line: &[u8]) -> &[u8] {
    &line[..find_unescaped(line, 0, b' ')]
}

/// The hash of a series key as written (`cpu,host=a,region=b`).
pub fn series_hash(key: &[u8]) -> u64 {
    if is_canonical(key) {
        return hash64(key);
    }
    let mut buf = Vec::with_capacity(key.len() + 16);
    canonical_into(key, &mut buf);
    hash64(&buf)
}

/// Whether `key` already is its canonical form: no backslash, one `=` per tag, tag keys
/// strictly ascending (what Telegraf sends).
fn is_canonical(key: &[u8]) -> bool {
    if memchr::memchr(b'\\', key).is_some() {
        return false;
    }
    let Some(comma) = memchr::memchr(b',', key) else {
        return true;
    };
    let mut prev: Option<&[u8]> = None;
    for tag in key[comma + 1..].split(|&b| b == b',') {
        let mut eqs = memchr::memchr_iter(b'=', tag);
        let (Some(eq), None) = (eqs.next(), eqs.next()) else {
            return false;
        };
        let k = &tag[..eq];
        if prev.is_some_and(|p| p >= k) {
            return false;
        }
        prev = Some(k);
    }
    true
}

fn escape_into(out: &mut Vec<u8>, raw: &[u8], special: &[u8]) {
    for &b in raw {
        if special.contains(&b) {
            out.push(b'\\');
        }
        out.push(b);
    }
}

/// The canonical key: measurement and tags unescaped, tags sorted, then escaped the one
/// canonical way (`\,` `\␠` in the measurement; `\,` `\=` `\␠` in tag keys and values).
fn canonical_into(key: &[u8], out: &mut Vec<u8>) {
    let meas_end = find_unescaped(key, 0, b',');
    escape_into(out, &unescape_measurement(&key[..meas_end]), b", ");
    let mut tags: Vec<Tag<'_>> = Vec::new();
    let mut pos = meas_end + 1;
    while pos < key.len() {
        let end = find_unescaped(key, pos, b',');
        let tag = &key[pos..end];
        let eq = find_unescaped(tag, 1.min(tag.len()), b'=');
        let v = tag.get(eq + 1..).unwrap_or(&[]);
        tags.push((unescape(&tag[..eq]), unescape(v)));
        pos = end + 1;
    }
    tags.sort();
    for (k, v) in &tags {
        out.push(b',');
        escape_into(out, k, b",= ");
        out.push(b'=');
        escape_into(out, v, b",= ");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_order_does_not_matter() {
        assert_eq!(
            series_hash(b"cpu,host=a,region=eu"),
            series_hash(b"cpu,region=eu,host=a")
        );
        assert_ne!(series_hash(b"cpu,host=a"), series_hash(b"cpu,host=b"));
        assert_ne!(series_hash(b"cpu,host=a"), series_hash(b"cpu"));
        assert_ne!(series_hash(b"cpu,ab=c"), series_hash(b"cpu,a=bc"));
    }

    #[test]
    fn fast_path_agrees_with_the_canonical_form() {
        for key in [
            &b"cpu"[..],
            b"cpu,host=a",
            b"cpu,host=a,region=eu",
            b"m=x,a=1",
        ] {
            assert!(is_canonical(key));
            let mut buf = Vec::new();
            canonical_into(key, &mut buf);
            assert_eq!(buf, key, "{}", String::from_utf8_lossy(key));
        }
        for key in [
            &b"cpu,b=1,a=2"[..],
            b"cpu,a=1,a=0",
            br"cpu,h=a\ b",
            b"cpu,h=a=b",
        ] {
            assert!(!is_canonical(key), "{}", String::from_utf8_lossy(key));
        }
        assert_eq!(series_hash(b"cpu,a=0,a=1"), series_hash(b"cpu,a=1,a=0"));
        // A tag value with an unescaped `=` is the same series as with `\=`.
        assert_eq!(series_hash(b"cpu,h=a=b"), series_hash(br"cpu,h=a\=b"));
    }

    #[test]
    fn hash_spreads_short_and_long_keys() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..100_000u32 {
            assert!(seen.insert(hash64(format!("m,h={i}").as_bytes())));
        }
        assert_ne!(hash64(b""), hash64(b"\0"));
        assert_ne!(hash64(b"abcdefgh"), hash64(b"abcdefgh\0"));
    }

    #[test]
    fn escapes_are_canonical() {
        // `\=` in a measurement stays as written (ParseName), in a tag it is unescaped.
        assert_eq!(series_hash(br"c\ pu,h=a"), series_hash(br"c\ pu,h=a"));
        assert_eq!(series_hash(br"cpu,k\,x=v"), series_hash(br"cpu,k\,x=v"));
        assert_ne!(series_hash(br"cpu,k\,x=v"), series_hash(br"cpu,k=x,=v"));
        // Sorting uses unescaped keys.
        assert_eq!(series_hash(br"m,a\ b=1,a=2"), series_hash(br"m,a=2,a\ b=1"));
    }

    #[test]
    fn series_key_stops_at_first_unescaped_space() {
        assert_eq!(series_key_of(b"cpu,h=a v=1 5"), b"cpu,h=a");
        assert_eq!(series_key_of(br"c\ pu,h=a\ b v=1"), br"c\ pu,h=a\ b");
        assert_eq!(series_key_of(b"cpu"), b"cpu");
    }
}
