//! A point as tests compare it: what was written vs. what a peer server gives back.
//!
//! Owns: `Point`, `FieldVal` and their line-protocol encoding (Telegraf's escaping rules,
//! wire.md §1.6). Does not own: parsing line protocol (the crate's `lineproto` does that).

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One field value with its InfluxDB type.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldVal {
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Bool(bool),
}

/// One point: measurement, sorted tags, sorted fields, timestamp in ns.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub measurement: String,
    pub tags: BTreeMap<String, String>,
    pub fields: BTreeMap<String, FieldVal>,
    pub time_ns: i64,
}

fn escape(out: &mut String, s: &str, extra: &[char]) {
    for c in s.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{c}' => out.push_str("\\f"),
            ',' | ' ' => {
                out.push('\\');
                out.push(c);
            }
            c if extra.contains(&c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
}

impl Point {
    /// The line (without trailing newline) as Telegraf's serializer writes it: tags sorted,
    /// fields in key order, floats in shortest form without exponent, ns timestamp.
    pub fn to_line(&self) -> String {
        let mut s = String::new();
        escape(&mut s, &self.measurement, &[]);
        for (k, v) in &self.tags {
            s.push(',');
            escape(&mut s, k, &['=']);
            s.push('=');
            escape(&mut s, v, &['=']);
        }
        for (i, (k, v)) in self.fields.iter().enumerate() {
            s.push(if i == 0 { ' ' } else { ',' });
            escape(&mut s, k, &['=']);
            s.push('=');
            match v {
                FieldVal::Int(n) => {
                    let _ = write!(s, "{n}i");
                }
                FieldVal::UInt(n) => {
                    let _ = write!(s, "{n}u");
                }
                FieldVal::Float(f) => {
                    let _ = write!(s, "{f}");
                }
                FieldVal::Bool(b) => {
                    let _ = write!(s, "{b}");
                }
                FieldVal::Str(t) => {
                    s.push('"');
                    s.push_str(&t.replace('\\', "\\\\").replace('"', "\\\""));
                    s.push('"');
                }
            }
        }
        let _ = write!(s, " {}", self.time_ns);
        s
    }
}

/// Sorts points by (measurement, tags, time) so reads and expectations compare directly.
pub fn sort_points(points: &mut [Point]) {
    points.sort_by(|a, b| {
        (&a.measurement, &a.tags, a.time_ns).cmp(&(&b.measurement, &b.tags, b.time_ns))
    });
}

#[test]
fn to_line_escapes_like_telegraf() {
    let p = Point {
        measurement: "m ,x".into(),
        tags: [("t=k".to_string(), "a b".to_string())].into(),
        fields: [
            ("f".to_string(), FieldVal::Float(42.0)),
            ("i".to_string(), FieldVal::Int(-3)),
            ("s".to_string(), FieldVal::Str("q\"\\".into())),
        ]
        .into(),
        time_ns: 7,
    };
    assert_eq!(p.to_line(), r#"m\ \,x,t\=k=a\ b f=42,i=-3i,s="q\"\\" 7"#);
}
