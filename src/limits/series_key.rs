//! The identity of a series: a stable 64-bit hash of its canonical key.
//!
//! Canonical key: the measurement unescaped as InfluxDB's `models.ParseName` does (`\,` `\␠`),
//! then the tags sorted by unescaped key, keys and values unescaped (`\,` `\=` `\␠`), each part
//! length-prefixed. So `cpu,b=2,a=1` and `cpu,a=1,b=2` are one series. The hash is 64-bit
//! FNV-1a: fixed forever because snapshots store it (changing it needs a new snapshot version).
//! It is not keyed: a tenant could craft colliding keys, which only lets two of its own series
//! count as one; the in-memory sets re-hash the value with a per-process key, so collisions do
//! not degrade lookups. Input is a line already validated by `lineproto`.

use std::borrow::Cow;

use crate::lineproto::{unescape, unescape_measurement};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

struct Fnv(u64);

impl Fnv {
    fn bytes(&mut self, b: &[u8]) {
        for &x in b {
            self.0 ^= u64::from(x);
            self.0 = self.0.wrapping_mul(FNV_PRIME);
        }
    }

    fn part(&mut self, b: &[u8]) {
        self.bytes(&(b.len() as u32).to_le_bytes());
        self.bytes(b);
    }
}

/// An unescaped (key, value).
type Tag<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

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
    let meas_end = find_unescaped(key, 0, b',');
    let mut h = Fnv(FNV_OFFSET);
    h.part(&unescape_measurement(&key[..meas_end]));
    if meas_end >= key.len() {
        return h.0;
    }
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
    if !tags.windows(2).all(|w| w[0].0 <= w[1].0) {
        tags.sort();
    }
    for (k, v) in &tags {
        h.part(k);
        h.part(v);
    }
    h.0
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
