//! Structural comparison of two `/query` answers, and the diff text a failure prints.
//!
//! Owns: the equality rule (same status; same JSON shape, keys, array lengths, strings,
//! booleans and nulls; integers equal; other numbers equal within 1e-9 relative, or 1e-12
//! absolute for results that cancel to about zero) and the first-mismatch listing. Does not
//! own: sending requests (`statements`) or documented differences (`differential`).

use serde_json::Value;

/// Relative tolerance for floats.
pub const REL: f64 = 1e-9;
/// Absolute floor (sums that cancel to ~0 differ in the last bits between summation orders).
pub const ABS: f64 = 1e-12;
/// Mismatches kept per statement.
pub const KEEP: usize = 6;

/// One difference: where, and both sides (JSON text, shortened).
#[derive(Debug, Clone)]
pub struct Mismatch {
    pub path: String,
    pub influx: String,
    pub sluice: String,
}

/// Differences between `influx` (the reference) and `sluice`, at most [`KEEP`] listed, plus
/// the total count.
pub fn diff(influx: &Value, sluice: &Value) -> (Vec<Mismatch>, usize) {
    let mut out = Vec::new();
    let mut total = 0;
    walk(influx, sluice, "$", &mut out, &mut total);
    (out, total)
}

fn short(v: Option<&Value>) -> String {
    match v {
        None => "<absent>".into(),
        Some(v) => {
            let s = v.to_string();
            if s.chars().count() > 160 {
                let cut: String = s.chars().take(160).collect();
                format!("{cut}…")
            } else {
                s
            }
        }
    }
}

fn push(
    out: &mut Vec<Mismatch>,
    total: &mut usize,
    path: &str,
    a: Option<&Value>,
    b: Option<&Value>,
) {
    *total += 1;
    if out.len() < KEEP {
        out.push(Mismatch {
            path: path.to_owned(),
            influx: short(a),
            sluice: short(b),
        });
    }
}

/// True when two JSON numbers are the same value under the tolerance rule.
pub fn same_number(a: &serde_json::Number, b: &serde_json::Number) -> bool {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x == y;
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return x == y;
    }
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => {
            let d = (x - y).abs();
            d <= ABS || d <= REL * x.abs().max(y.abs())
        }
        _ => false,
    }
}

fn walk(a: &Value, b: &Value, path: &str, out: &mut Vec<Mismatch>, total: &mut usize) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                let p = format!("{path}.{k}");
                match y.get(k) {
                    Some(vb) => walk(va, vb, &p, out, total),
                    None => push(out, total, &p, Some(va), None),
                }
            }
            for (k, vb) in y {
                if !x.contains_key(k) {
                    push(out, total, &format!("{path}.{k}"), None, Some(vb));
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                push(
                    out,
                    total,
                    &format!("{path}.length"),
                    Some(&Value::from(x.len())),
                    Some(&Value::from(y.len())),
                );
            }
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                walk(va, vb, &format!("{path}[{i}]"), out, total);
            }
            let longer = if x.len() > y.len() { x } else { y };
            if let Some(first_extra) = longer.get(x.len().min(y.len())) {
                let p = format!("{path}[{}]", x.len().min(y.len()));
                if x.len() > y.len() {
                    push(out, total, &p, Some(first_extra), None);
                } else {
                    push(out, total, &p, None, Some(first_extra));
                }
            }
        }
        (Value::Number(x), Value::Number(y)) => {
            if !same_number(x, y) {
                push(out, total, path, Some(a), Some(b));
            }
        }
        _ => {
            if a != b {
                push(out, total, path, Some(a), Some(b));
            }
        }
    }
}

/// The keys of every JSON object in `text`, in the order they appear, with the path of the
/// object (`$.results[0].series[1]`): what Grafana's streaming parser depends on.
pub fn key_orders(text: &str) -> Result<Vec<(String, Vec<String>)>, String> {
    use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
    struct Seed<'a> {
        path: String,
        out: &'a mut Vec<(String, Vec<String>)>,
    }
    impl<'de> DeserializeSeed<'de> for Seed<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Seed<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("any JSON")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
            let slot = self.out.len();
            self.out.push((self.path.clone(), Vec::new()));
            while let Some(k) = m.next_key::<String>()? {
                self.out[slot].1.push(k.clone());
                m.next_value_seed(Seed {
                    path: format!("{}.{k}", self.path),
                    out: self.out,
                })?;
            }
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
            let mut i = 0;
            while s
                .next_element_seed(Seed {
                    path: format!("{}[{i}]", self.path),
                    out: self.out,
                })?
                .is_some()
            {
                i += 1;
            }
            Ok(())
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
    }
    let mut out = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    Seed {
        path: "$".into(),
        out: &mut out,
    }
    .deserialize(&mut de)
    .map_err(|e| e.to_string())?;
    Ok(out)
}

#[test]
fn diff_finds_what_differs_and_tolerates_float_rounding() {
    let a: Value = serde_json::from_str(
        r#"{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","mean"],"values":[[1,0.30000000000000004],[2,42],[3,null]]}]}]}"#,
    )
    .expect("json");
    let b: Value = serde_json::from_str(
        r#"{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","mean"],"values":[[1,0.3],[2,42.0],[3,null]]}]}]}"#,
    )
    .expect("json");
    assert_eq!(diff(&a, &b).1, 0, "{:?}", diff(&a, &b).0);
    let c: Value = serde_json::from_str(
        r#"{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","mean"],"values":[[1,0.31],[2,42]]}]}]}"#,
    )
    .expect("json");
    let (m, n) = diff(&a, &c);
    assert_eq!(n, 3, "{m:?}");
    assert_eq!(m[0].path, "$.results[0].series[0].values.length");
    assert_eq!(m[1].path, "$.results[0].series[0].values[0][1]");
    assert_eq!(m[2].path, "$.results[0].series[0].values[2]");
    assert_eq!(
        (m[2].influx.as_str(), m[2].sluice.as_str()),
        ("[3,null]", "<absent>")
    );
}

#[test]
fn key_orders_follow_the_text() {
    let o = key_orders(r#"{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"b":"1","a":"2"},"columns":["time"],"values":[[1]]}]}]}"#)
        .expect("parse");
    let series = o
        .iter()
        .find(|(p, _)| p == "$.results[0].series[0]")
        .expect("series object");
    assert_eq!(series.1, ["name", "tags", "columns", "values"]);
    let tags = o.iter().find(|(p, _)| p.ends_with(".tags")).expect("tags");
    assert_eq!(tags.1, ["b", "a"]);
}
