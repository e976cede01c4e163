//! Byte searches eight bytes at a time in a `u64` (SWAR), without `unsafe`.
//!
//! Owns: finding the first byte of a small set, the first non-digit, and decoding short runs
//! of digits. Each answer is exactly the byte-at-a-time answer (the tests check that against
//! the obvious loops). Does not own: what a byte means in line protocol (see `parse`).

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The eight bytes at `at`, little-endian, if there are eight.
#[inline(always)]
fn word_at(buf: &[u8], at: usize) -> Option<u64> {
    buf.get(at..)
        .and_then(|r| r.first_chunk::<8>())
        .map(|c| u64::from_le_bytes(*c))
}

/// The bytes from `from` to the end (fewer than eight, `from < buf.len()`) in the low bytes of a
/// word, zeros above, when the buffer has at least eight bytes.
#[inline(always)]
fn tail_word(buf: &[u8], from: usize) -> Option<u64> {
    let base = buf.len().checked_sub(8)?;
    let skip = from - base;
    word_at(buf, base).map(|w| w >> (8 * skip))
}

/// A small set of bytes (none of them NUL) to search for.
pub(crate) struct ByteSet<const N: usize> {
    bytes: [u8; N],
}

impl<const N: usize> ByteSet<N> {
    pub(crate) const fn new(bytes: [u8; N]) -> Self {
        let mut i = 0;
        while i < N {
            assert!(bytes[i] != 0, "NUL pads the last word");
            i += 1;
        }
        Self { bytes }
    }

    /// High bit of each byte of `w` in the set. The lowest set bit is exact; bits above it may
    /// be false positives (a borrow from a matching byte below).
    #[inline(always)]
    fn mask(&self, w: u64) -> u64 {
        let mut acc = 0;
        for &c in &self.bytes {
            let y = w ^ (LO * u64::from(c));
            acc |= y.wrapping_sub(LO) & !y;
        }
        acc & HI
    }

    #[inline(always)]
    fn contains(&self, b: u8) -> bool {
        self.bytes.contains(&b)
    }

    /// First position `>= from` holding a byte of the set.
    #[inline(always)]
    pub(crate) fn find(&self, buf: &[u8], mut from: usize) -> Option<usize> {
        while let Some(w) = word_at(buf, from) {
            let m = self.mask(w);
            if m != 0 {
                return Some(from + (m.trailing_zeros() / 8) as usize);
            }
            from += 8;
        }
        if from >= buf.len() {
            return None;
        }
        if let Some(w) = tail_word(buf, from) {
            let m = self.mask(w);
            // Padding is NUL: no match there unless above a real one.
            return (m != 0).then(|| from + (m.trailing_zeros() / 8) as usize);
        }
        buf[from..]
            .iter()
            .position(|&b| self.contains(b))
            .map(|o| from + o)
    }

    /// First position `>= from` (`from >= 1`) holding a byte of the set, not after a backslash.
    #[inline(always)]
    pub(crate) fn find_unescaped(&self, buf: &[u8], mut from: usize) -> Option<usize> {
        loop {
            let p = self.find(buf, from)?;
            if buf[p - 1] != b'\\' {
                return Some(p);
            }
            from = p + 1;
        }
    }
}

/// High bit of each byte of `w` that is not an ASCII digit (exact for every byte).
#[inline(always)]
fn non_digits(w: u64) -> u64 {
    let low7 = w & !HI;
    let ge_0 = low7.wrapping_add(LO * (0x80 - u64::from(b'0')));
    let ge_colon = low7.wrapping_add(LO * (0x80 - u64::from(b':')));
    !(ge_0 & !ge_colon & !w) & HI
}

/// First position `>= from` that is not an ASCII digit, or `buf.len()`.
#[inline(always)]
pub(crate) fn digits_end(buf: &[u8], mut from: usize) -> usize {
    while let Some(w) = word_at(buf, from) {
        let m = non_digits(w);
        if m != 0 {
            return from + (m.trailing_zeros() / 8) as usize;
        }
        from += 8;
    }
    if from >= buf.len() {
        return from;
    }
    if let Some(w) = tail_word(buf, from) {
        // NUL padding is a non-digit, so the answer is at most the end.
        return from + (non_digits(w).trailing_zeros() / 8) as usize;
    }
    from + buf[from..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count()
}

/// The value of eight ASCII digits, the first one in the low byte.
#[inline(always)]
fn eight_digits(w: u64) -> u64 {
    let v = w.wrapping_sub(LO * u64::from(b'0'));
    let v = v.wrapping_mul(10).wrapping_add(v >> 8) & 0x00FF_00FF_00FF_00FF;
    let v = v.wrapping_mul(100).wrapping_add(v >> 16) & 0x0000_FFFF_0000_FFFF;
    v.wrapping_mul(10_000).wrapping_add(v >> 32) & 0xFFFF_FFFF
}

/// The value of at most 19 ASCII digits (which cannot overflow a `u64`).
#[inline(always)]
pub(crate) fn parse_digits19(digits: &[u8]) -> u64 {
    debug_assert!(digits.len() <= 19 && digits.iter().all(u8::is_ascii_digit));
    let mut v = 0u64;
    let mut rest = digits;
    while let Some((chunk, tail)) = rest.split_first_chunk::<8>() {
        v = v * 100_000_000 + eight_digits(u64::from_le_bytes(*chunk));
        rest = tail;
    }
    for &d in rest {
        v = v * 10 + u64::from(d - b'0');
    }
    v
}

/// Powers of ten up to 10⁸.
const POW10: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// The value of the `n` (1 to 8) ASCII digits that start `w` (the first one in the low byte):
/// the digits moved to the top of the word, `0`s below them.
#[inline(always)]
fn leading_digits(w: u64, n: usize) -> u64 {
    let low = 8 * (8 - n as u32);
    let zeros = (LO * u64::from(b'0')) & ((1u64 << low) - 1);
    eight_digits((w << low) | zeros)
}

/// The value of the ASCII digits `buf[from..to]` (1 to 19 of them, all digits), reading whole
/// words of `buf` (the bytes after `to` are ignored) where there are eight bytes to read.
#[inline(always)]
pub(crate) fn digits_value(buf: &[u8], from: usize, to: usize) -> u64 {
    let n = to - from;
    debug_assert!((1..=19).contains(&n) && buf[from..to].iter().all(u8::is_ascii_digit));
    match (n, word_at(buf, from)) {
        (1..=8, Some(w)) => leading_digits(w, n),
        (9..=16, Some(w)) => match word_at(buf, from + 8) {
            Some(w2) => eight_digits(w) * POW10[n - 8] + leading_digits(w2, n - 8),
            None => parse_digits19(&buf[from..to]),
        },
        _ => parse_digits19(&buf[from..to]),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SET: ByteSet<5> = ByteSet::new(*b"\\\"=, ");

    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            4 => proptest::sample::select(&b"ab09:/\\\"=, \0\x01\x7f\x80\xff"[..]),
            1 => any::<u8>(),
        ];
        proptest::collection::vec(byte, 0..40)
    }

    proptest! {
        #[test]
        fn find_matches_bytewise(buf in bytes(), from in 0usize..45) {
            let want = buf.get(from..).and_then(|r| {
                r.iter().position(|b| b"\\\"=, ".contains(b)).map(|o| from + o)
            });
            prop_assert_eq!(SET.find(&buf, from), want);
        }

        #[test]
        fn digits_end_matches_bytewise(buf in bytes(), from in 0usize..45) {
            let want = if from >= buf.len() {
                from
            } else {
                from + buf[from..].iter().take_while(|b| b.is_ascii_digit()).count()
            };
            prop_assert_eq!(digits_end(&buf, from), want);
        }

        #[test]
        fn parse_digits19_matches_std(v in any::<u64>(), width in 1usize..20) {
            let s = format!("{v:0width$}");
            let s = &s[s.len().saturating_sub(19)..];
            prop_assert_eq!(parse_digits19(s.as_bytes()), s.parse::<u64>().unwrap());
        }
    }

    proptest! {
        #[test]
        fn digits_value_matches_std(v in any::<u64>(), width in 1usize..20, pad in 0usize..12) {
            let s = format!("{v:0width$}");
            let s = &s[s.len().saturating_sub(19)..];
            // Digits followed by other bytes (a comma, a timestamp) or by nothing.
            let buf = format!("k={s}i,{}", "7".repeat(pad));
            let to = 2 + s.len();
            let buf = &buf.as_bytes()[..to + pad.min(1) * (pad + 2)];
            prop_assert_eq!(digits_value(buf, 2, to), s.parse::<u64>().unwrap());
        }
    }

    #[test]
    fn digit_classes_all_bytes() {
        for b in 0..=255u8 {
            let w = u64::from_le_bytes([b; 8]);
            let want = if b.is_ascii_digit() { 0 } else { HI };
            assert_eq!(non_digits(w), want, "byte {b:#x}");
        }
    }
}
