//! Numbers written as Go writes them, fast: both answers (InfluxQL JSON, Flux CSV) are mostly
//! numbers, and `format!`'s float path was most of the time spent encoding a large answer.
//!
//! Owns: Go's float layouts (`strconv.FormatFloat(f, 'f', -1, 64)` and `encoding/json`'s) and
//! integer text. Does not own: which layout an answer uses.

/// A finite float's shortest round-trip digits (`ryu`), as `0.d₁d₂…dₙ × 10^point`: no
/// leading or trailing zeros; `digits` is empty for zero.
struct Shortest {
    neg: bool,
    digits: [u8; 24],
    len: usize,
    point: i32,
}

impl Shortest {
    fn of(f: f64, buf: &mut ryu::Buffer) -> Self {
        let s = buf.format_finite(f).as_bytes();
        let (neg, s) = match s.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, s),
        };
        let (mantissa, exp) = match s.iter().position(|&b| b == b'e') {
            Some(e) => (&s[..e], parse_exp(&s[e + 1..])),
            None => (s, 0),
        };
        let mut out = Self {
            neg,
            digits: [0; 24],
            len: 0,
            point: exp,
        };
        let mut seen_point = false;
        for &b in mantissa {
            if b == b'.' {
                seen_point = true;
                continue;
            }
            if !seen_point {
                out.point += 1;
            }
            if out.len == 0 && b == b'0' {
                // A leading zero moves the point, it is not a digit.
                out.point -= 1;
                continue;
            }
            out.digits[out.len] = b;
            out.len += 1;
        }
        while out.len > 0 && out.digits[out.len - 1] == b'0' {
            out.len -= 1;
        }
        if out.len == 0 {
            out.point = 0;
        }
        out
    }

    fn digits(&self) -> &str {
        // Only ASCII digits were copied in.
        std::str::from_utf8(&self.digits[..self.len]).unwrap_or("0")
    }

    /// `strconv.FormatFloat(f, 'f', -1, 64)`.
    fn push_plain(&self, out: &mut String) {
        if self.neg {
            out.push('-');
        }
        if self.len == 0 {
            out.push('0');
            return;
        }
        let d = self.digits();
        let n = self.len as i32;
        if self.point <= 0 {
            out.push_str("0.");
            push_zeros(out, -self.point);
            out.push_str(d);
        } else if self.point >= n {
            out.push_str(d);
            push_zeros(out, self.point - n);
        } else {
            let (int, frac) = d.split_at(self.point as usize);
            out.push_str(int);
            out.push('.');
            out.push_str(frac);
        }
    }

    /// Go's `'e'` layout with `encoding/json`'s clean-up: `1.5e-7`, `1e+21`.
    fn push_exponent(&self, out: &mut String) {
        if self.neg {
            out.push('-');
        }
        let d = self.digits();
        out.push_str(&d[..1]);
        if d.len() > 1 {
            out.push('.');
            out.push_str(&d[1..]);
        }
        let e = self.point - 1;
        out.push_str(if e < 0 { "e-" } else { "e+" });
        let a = e.unsigned_abs();
        if e >= 0 && a < 10 {
            out.push('0');
        }
        push_int(out, a);
    }
}

fn parse_exp(s: &[u8]) -> i32 {
    let (neg, s) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let v = s
        .iter()
        .fold(0i32, |v, &b| v * 10 + i32::from(b.wrapping_sub(b'0')));
    if neg { -v } else { v }
}

fn push_zeros(out: &mut String, n: i32) {
    for _ in 0..n {
        out.push('0');
    }
}

/// An integer's decimal text appended to `out`.
pub fn push_int(out: &mut String, i: impl itoa::Integer) {
    out.push_str(itoa::Buffer::new().format(i));
}

/// A finite float as Go's `strconv.FormatFloat(f, 'f', -1, 64)` writes it (Flux's CSV): the
/// shortest round-trip digits, never an exponent.
pub fn push_plain_float(out: &mut String, f: f64) {
    debug_assert!(f.is_finite());
    let mut buf = ryu::Buffer::new();
    if !push_ryu_plain(out, f, &mut buf) {
        Shortest::of(f, &mut buf).push_plain(out);
    }
}

/// `ryu`'s text of `f` when it has no exponent (`1e-5 <= |f| < 1e16`, and zero), less the
/// `.0` it puts on an integral value: then it is already Go's plain layout, the same
/// shortest digits (both round a tie half to even) with the point in place. Returns whether
/// it wrote.
fn push_ryu_plain(out: &mut String, f: f64, buf: &mut ryu::Buffer) -> bool {
    let s = buf.format_finite(f);
    if s.as_bytes().contains(&b'e') {
        return false;
    }
    out.push_str(s.strip_suffix(".0").unwrap_or(s));
    true
}

/// A float as Go's `encoding/json` writes it (InfluxQL's JSON): shortest round-trip digits, no
/// `.0` on integral values, exponent form (`1e+21`, `1e-7`) outside `[1e-6, 1e21)`. NaN and
/// infinities (which InfluxDB cannot store) are `null`.
pub fn push_json_float(out: &mut String, f: f64) {
    if !f.is_finite() {
        out.push_str("null");
        return;
    }
    let abs = f.abs();
    let plain = abs == 0.0 || (1e-6..1e21).contains(&abs);
    let mut buf = ryu::Buffer::new();
    if plain && push_ryu_plain(out, f, &mut buf) {
        return;
    }
    let s = Shortest::of(f, &mut buf);
    if plain {
        s.push_plain(out);
    } else {
        s.push_exponent(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The layouts by `format!` (the std library's shortest digits), as they were written
    /// before this module.
    fn json_by_fmt(f: f64) -> String {
        let abs = f.abs();
        if !f.is_finite() {
            "null".into()
        } else if abs == 0.0 || (1e-6..1e21).contains(&abs) {
            format!("{f}")
        } else {
            let e = format!("{f:e}");
            match e.split_once('e') {
                Some((m, exp)) if !exp.starts_with('-') => format!("{m}e+{exp}"),
                _ => e,
            }
        }
    }

    fn json(f: f64) -> String {
        let mut s = String::new();
        push_json_float(&mut s, f);
        s
    }

    fn plain(f: f64) -> String {
        let mut s = String::new();
        push_plain_float(&mut s, f);
        s
    }

    #[test]
    fn go_layouts() {
        assert_eq!(json(90.0), "90");
        assert_eq!(json(-0.5), "-0.5");
        assert_eq!(json(97.53), "97.53");
        assert_eq!(json(1e21), "1e+21");
        assert_eq!(json(1.5e-7), "1.5e-7");
        assert_eq!(json(-2.5e300), "-2.5e+300");
        assert_eq!(json(0.000001), "0.000001");
        assert_eq!(json(123456789012345680000.0), "123456789012345680000");
        assert_eq!(json(0.0), "0");
        assert_eq!(json(-0.0), "-0");
        assert_eq!(json(f64::NAN), "null");
        assert_eq!(plain(1e21), "1000000000000000000000");
        assert_eq!(plain(1.5e-7), "0.00000015");
        assert_eq!(plain(100.25), "100.25");
        assert_eq!(plain(5e-324), format!("{}", 5e-324));
    }

    /// Shortest digits that are exactly halfway between two candidates: Go (and `ryu`) round
    /// half to even, the std library rounds up.
    #[test]
    fn ties_round_half_to_even_as_go_does() {
        // Exactly 27196917530466.3125.
        let f = f64::from_bits(4_807_799_613_664_748_112);
        assert_eq!(plain(f), "27196917530466.312");
        assert_eq!(format!("{f}"), "27196917530466.313");
    }

    /// The digits of `s` (sign, point and exponent left out, and leading zeros).
    fn significant(s: &str) -> usize {
        let m = s.split('e').next().unwrap_or(s);
        m.trim_start_matches(['-', '0', '.'])
            .chars()
            .filter(char::is_ascii_digit)
            .count()
    }

    /// `ours` is `std`'s layout, or differs only in a tie's last digit: as many digits, the
    /// point and exponent in the same place, reading back as `f`.
    fn same_layout(f: f64, ours: &str, std: &str) -> Result<(), TestCaseError> {
        if ours != std {
            prop_assert_eq!(ours.parse::<f64>().ok(), Some(f));
            prop_assert_eq!(significant(ours), significant(std));
            prop_assert_eq!(ours.len(), std.len());
            prop_assert_eq!(ours.find(['.', 'e']), std.find(['.', 'e']));
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn equal_to_the_std_library_layouts(bits in any::<u64>()) {
            let f = f64::from_bits(bits);
            same_layout(f, &json(f), &json_by_fmt(f))?;
            if f.is_finite() {
                same_layout(f, &plain(f), &format!("{f}"))?;
            }
        }

        /// `ryu`'s own text, where it is taken, is what the digit-by-digit layout writes.
        #[test]
        fn ryu_plain_text_is_the_go_layout(bits in any::<u64>(), m in -1_000_000_000i64..1_000_000_000, e in -8i32..18) {
            for f in [f64::from_bits(bits), m as f64 * 10f64.powi(e)] {
                if !f.is_finite() {
                    continue;
                }
                let mut fast = String::new();
                if push_ryu_plain(&mut fast, f, &mut ryu::Buffer::new()) {
                    let mut slow = String::new();
                    Shortest::of(f, &mut ryu::Buffer::new()).push_plain(&mut slow);
                    prop_assert_eq!(fast, slow);
                }
            }
        }

        #[test]
        fn equal_for_everyday_values(m in -1_000_000_000i64..1_000_000_000, e in -12i32..12) {
            let f = m as f64 * 10f64.powi(e);
            same_layout(f, &json(f), &json_by_fmt(f))?;
            same_layout(f, &plain(f), &format!("{f}"))?;
        }
    }
}
