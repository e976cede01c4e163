//! Property test: `to_record_batch` equals a simple model (a sorted map from (tag values, time)
//! to the last non-null value of each field).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int32Type, Int64Type, TimestampNanosecondType};
use proptest::prelude::*;

use super::{MeasurementBuffer, Value};

const TAG_KEYS: [&str; 2] = ["a", "b"];

#[derive(Debug, Clone)]
struct Point {
    tags: Vec<Option<u8>>,
    time: i64,
    f: Option<f64>,
    g: Option<i64>,
}

fn point() -> impl Strategy<Value = Point> {
    (
        proptest::collection::vec(proptest::option::of(0u8..3), 2),
        -3i64..4,
        proptest::option::of(-5i32..5),
        proptest::option::of(-5i64..5),
    )
        .prop_map(|(tags, time, f, g)| Point {
            tags,
            time,
            f: f.map(f64::from),
            g,
        })
}

type Row = (Vec<Option<String>>, i64, Option<f64>, Option<i64>);
type Model = BTreeMap<(Vec<Option<String>>, i64), (Option<f64>, Option<i64>)>;

fn model(points: &[Point]) -> Vec<Row> {
    let mut m = Model::new();
    for p in points {
        let tags = p.tags.iter().map(|v| v.map(|v| format!("v{v}"))).collect();
        let slot = m.entry((tags, p.time)).or_default();
        slot.0 = p.f.or(slot.0);
        slot.1 = p.g.or(slot.1);
    }
    m.into_iter()
        .map(|((t, time), (f, g))| (t, time, f, g))
        .collect()
}

fn rows(b: &RecordBatch) -> Vec<Row> {
    let n = b.num_rows();
    let tag = |key: &str| -> Vec<Option<String>> {
        match b.column_by_name(key) {
            None => vec![None; n],
            Some(c) => {
                let d = c.as_dictionary::<Int32Type>();
                let v = d.values().as_string::<i32>();
                d.keys()
                    .iter()
                    .map(|k| k.map(|k| v.value(k as usize).to_owned()))
                    .collect()
            }
        }
    };
    let tags: Vec<Vec<Option<String>>> = TAG_KEYS.iter().map(|k| tag(k)).collect();
    let time = b
        .column_by_name("time")
        .unwrap()
        .as_primitive::<TimestampNanosecondType>();
    let f = b
        .column_by_name("f")
        .map(|c| c.as_primitive::<Float64Type>().clone());
    let g = b
        .column_by_name("g")
        .map(|c| c.as_primitive::<Int64Type>().clone());
    (0..n)
        .map(|i| {
            (
                tags.iter().map(|t| t[i].clone()).collect(),
                time.value(i),
                f.as_ref().and_then(|f| f.is_valid(i).then(|| f.value(i))),
                g.as_ref().and_then(|g| g.is_valid(i).then(|| g.value(i))),
            )
        })
        .collect()
}

proptest! {
    #[test]
    fn batch_matches_the_model(points in proptest::collection::vec(point(), 0..60)) {
        let mut buf = MeasurementBuffer::new("m");
        for p in &points {
            let tags = TAG_KEYS
                .iter()
                .zip(&p.tags)
                .filter_map(|(k, v)| v.map(|v| ((*k).to_owned(), format!("v{v}"))))
                .collect();
            let mut fields = Vec::new();
            if let Some(f) = p.f {
                fields.push(("f".to_owned(), Value::Float(f)));
            }
            if let Some(g) = p.g {
                fields.push(("g".to_owned(), Value::Integer(g)));
            }
            buf.push_point(tags, fields, p.time).unwrap();
        }
        let batch = buf.to_record_batch().unwrap();
        prop_assert_eq!(rows(&batch), model(&points));
    }
}
