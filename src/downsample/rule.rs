//! A `[[downsample]]` rule made ready for the hot path: which lines, fields and groups it
//! takes, and the window a timestamp falls in.
//!
//! Owns: glob matching, window alignment (epoch + offset, like `GROUP BY time(every, offset)`),
//! the group key of a line (the output series) and the series id inside a group. Does not own
//! the window state (`state`).

use std::borrow::Cow;
use std::hash::{Hash, Hasher};

use crate::config::{Aggregate, DownsampleRule};
use crate::lineproto::{self, Line};
use crate::model::{BucketName, TenantId};

/// `*` matches any run of characters, `?` one character; everything else itself.
pub fn glob(pattern: &str, s: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pattern.chars().collect(), s.chars().collect());
    let (mut pi, mut si) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// A rule as the engine uses it.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub rule: DownsampleRule,
    pub every_ns: i64,
    pub offset_ns: i64,
    pub grace_ns: i64,
    pub late_ns: i64,
    pub has_rate: bool,
}

fn ns(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

impl Compiled {
    pub fn new(rule: DownsampleRule) -> Self {
        Self {
            every_ns: ns(rule.every),
            offset_ns: ns(rule.offset),
            grace_ns: ns(rule.grace),
            late_ns: ns(rule.late_window),
            has_rate: rule.aggregates.contains(&Aggregate::Rate),
            rule,
        }
    }

    /// Whether records of `tenant`'s `bucket` feed this rule.
    pub fn takes(&self, tenant: &TenantId, bucket: &BucketName) -> bool {
        bucket == &self.rule.from_bucket && self.rule.tenant.as_ref().is_none_or(|t| t == tenant)
    }

    /// The start of the window holding `ts`: `k × every + offset ≤ ts` for the largest `k`.
    pub fn window(&self, ts: i64) -> i64 {
        ts - (ts - self.offset_ns).rem_euclid(self.every_ns)
    }

    /// The watermark at which the window starting at `start` closes (is emitted).
    pub fn closes_at(&self, start: i64) -> i64 {
        start
            .saturating_add(self.every_ns)
            .saturating_add(self.grace_ns)
    }

    /// The watermark at which it expires (late points are dropped from then on).
    pub fn expires_at(&self, start: i64) -> i64 {
        self.closes_at(start).saturating_add(self.late_ns)
    }

    /// Whether the last points of the expired window `carry` are `rate`'s previous points
    /// for the window `start`: at most one empty window between them.
    pub fn carries_to(&self, carry: i64, start: i64) -> bool {
        carry < start && start - carry <= 2 * self.every_ns
    }

    /// The watermark from which an expired window's last points serve no window any more:
    /// when the last window they serve expires.
    pub fn carry_ends_at(&self, start: i64) -> i64 {
        self.expires_at(start.saturating_add(2 * self.every_ns))
    }

    pub fn takes_measurement(&self, m: &[u8]) -> bool {
        let m = lineproto::unescape_measurement(m);
        let m = String::from_utf8_lossy(&m);
        self.rule.measurements.iter().any(|g| glob(g, &m))
    }

    /// Whether field `key` (escaped, as written) is aggregated: listed, or any numeric field.
    pub fn takes_field(&self, key: &[u8]) -> bool {
        match &self.rule.fields {
            None => true,
            Some(globs) => {
                let k = lineproto::unescape_field_key(key);
                let k = String::from_utf8_lossy(&k);
                globs.iter().any(|g| glob(g, &k))
            }
        }
    }

    /// The group (output series key, escaped, tags sorted) and the series id in it.
    pub fn group_of<'a>(&self, line: &Line<'a>) -> (Cow<'a, [u8]>, u64) {
        let sorted = line.tags_sorted();
        if self.rule.group_by.is_none() && sorted {
            // The common case (Telegraf sorts tags): the series key as written, no copy.
            return (Cow::Borrowed(line.series_key()), 0);
        }
        let mut tags: Vec<(&[u8], &[u8])> = line.tags().collect();
        if !sorted {
            tags.sort_by(|a, b| a.0.cmp(b.0));
        }
        let mut key = line.measurement().to_vec();
        let full_key = |tags: &[(&[u8], &[u8])]| {
            let mut k = key.clone();
            for (t, v) in tags {
                k.push(b',');
                k.extend_from_slice(t);
                k.push(b'=');
                k.extend_from_slice(v);
            }
            k
        };
        let sid = match &self.rule.group_by {
            None => 0,
            Some(keep) => {
                let mut h = std::hash::DefaultHasher::new();
                full_key(&tags).hash(&mut h);
                tags.retain(|(t, _)| {
                    let t = lineproto::unescape(t);
                    keep.iter().any(|k| k.as_bytes() == t.as_ref())
                });
                h.finish()
            }
        };
        key = full_key(&tags);
        (Cow::Owned(key), sid)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn globs() {
        assert!(glob("*", "anything"));
        assert!(glob("if*Octets", "ifHCInOctets"));
        assert!(!glob("if*Octets", "ifHCInOctetsX"));
        assert!(glob("p?ng", "ping"));
        assert!(!glob("ping", "pong"));
        assert!(glob("a*b*c", "aXbYbZc"));
    }

    fn rule(every: u64, offset: u64) -> Compiled {
        let text = format!(
            "[[downsample]]\ntenant = \"*\"\nfrom = {{ bucket = \"a\" }}\nevery = \"{every}s\"\n\
             offset = \"{offset}s\"\naggregates = [\"mean\"]\nto = {{ bucket = \"b\" }}\n"
        );
        let c = crate::config::Config::from_toml_str(&text, |_| None).unwrap();
        Compiled::new(c.downsample[0].clone())
    }

    #[test]
    fn windows_align_to_the_epoch_with_offset() {
        let s = 1_000_000_000i64;
        let r = rule(300, 0);
        assert_eq!(r.window(0), 0);
        assert_eq!(r.window(299 * s), 0);
        assert_eq!(r.window(300 * s), 300 * s);
        assert_eq!(r.window(-1), -300 * s);
        let r = rule(300, 60);
        assert_eq!(r.window(59 * s), -240 * s);
        assert_eq!(r.window(60 * s), 60 * s);
        assert_eq!(r.closes_at(0), 300 * s + 60 * s);
    }
}
