//! Property tests: `to_record_batch` equals a simple model (a sorted map from (tag values, time)
//! to the last non-null value of each field); so do `select` and the scan's k-way merge of
//! several sources, with a time range and a tag hint.
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

fn buffer(points: &[Point]) -> MeasurementBuffer {
    let mut buf = MeasurementBuffer::new("m");
    for p in points {
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
    buf
}

/// The model's rows in `[lo, hi]` whose tag `a` is `v0` or absent (the hint below).
fn wanted(rows: Vec<Row>, lo: i64, hi: i64) -> Vec<Row> {
    rows.into_iter()
        .filter(|(tags, time, _, _)| {
            *time >= lo && *time <= hi && tags[0].as_deref().is_none_or(|a| a == "v0")
        })
        .collect()
}

proptest! {
    #[test]
    fn select_and_merge_match_the_model(
        points in proptest::collection::vec(point(), 0..80),
        cuts in proptest::collection::vec(0usize..80, 0..4),
        lo in -4i64..2,
        len in 0i64..8,
        split in 0usize..20,
    ) {
        use crate::lineproto::FieldType;
        use crate::model::{BucketName, TenantId};
        use crate::store::read::{MeasurementSchema, ScanRequest};
        use crate::store::scan::{ScanStats, output_schema, scan_sources};
        let hi = lo + len;
        let hint = vec![("a".to_owned(), vec!["v0".to_owned(), String::new()])];
        let keep = |tags: &[(String, String)]| {
            crate::store::scan::series_may_match(tags, &hint)
        };
        // One buffer, a range and a hint.
        let sel = buffer(&points).select(lo, hi, Some(&keep), None).unwrap();
        prop_assert_eq!(rows(&sel), wanted(model(&points), lo, hi));
        // Several sources (arrival order split at `cuts`), merged by the scan.
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(points.len())).collect();
        cuts.sort_unstable();
        let mut sources = Vec::new();
        let mut at = 0;
        for c in cuts.into_iter().chain([points.len()]) {
            sources.push((buffer(&points[at..c]).to_record_batch().unwrap(), false));
            at = c;
        }
        let schema = MeasurementSchema {
            tags: vec!["a".into(), "b".into()],
            fields: vec![("f".into(), FieldType::Float), ("g".into(), FieldType::Integer)],
        };
        let out = output_schema(&schema, None);
        let (tenant, bucket) = (TenantId::new("t").unwrap(), BucketName::new("b").unwrap());
        let req = ScanRequest {
            tenant: &tenant,
            bucket: &bucket,
            measurement: "m",
            min_time: lo,
            max_time: hi,
            tag_equals: &hint,
            series_filter: None,
            fields: None,
            max_bytes: usize::MAX,
        };
        let merged = scan_sources(&req, &out, &[], &sources, &mut ScanStats::default()).unwrap();
        let expect: Vec<Row> = wanted(model(&points), lo, hi)
            .into_iter()
            .filter(|(_, _, f, g)| f.is_some() || g.is_some())
            .collect();
        prop_assert_eq!(rows(&merged), expect.clone());
        // The same sources each cut in two pieces (a file's row groups), merged directly.
        let mut pieces = Vec::new();
        for (k, (b, _)) in sources.iter().enumerate() {
            let c = crate::store::scan::conform(b, &out, &req, Default::default()).unwrap();
            let at = (k * 7 + split) % (c.num_rows() + 1);
            pieces.push(vec![c.slice(0, at), c.slice(at, c.num_rows() - at)]);
        }
        let merged = crate::store::scan::merge(&out, &pieces).unwrap();
        let non_empty: Vec<Row> = rows(&merged)
            .into_iter()
            .filter(|(_, _, f, g)| f.is_some() || g.is_some())
            .collect();
        prop_assert_eq!(non_empty, expect);
    }

    #[test]
    fn batch_matches_the_model(points in proptest::collection::vec(point(), 0..60)) {
        let batch = buffer(&points).to_record_batch().unwrap();
        prop_assert_eq!(rows(&batch), model(&points));
    }
}

/// A buffer of several zones (`ZONE_ROWS` rows each), times out of order across them: a
/// select skips only zones wholly outside its range.
#[test]
fn select_over_many_zones_matches_the_model() {
    let points: Vec<Point> = (0..20_000i64)
        .map(|i| Point {
            tags: vec![Some((i % 3) as u8), None],
            // Mostly rising, with a band of old times in the middle of the buffer.
            time: if (9_000..9_100).contains(&i) {
                i - 8_000
            } else {
                i
            },
            f: Some(i as f64),
            g: None,
        })
        .collect();
    let keep = |_: &[(String, String)]| true;
    for (lo, hi) in [
        (1_000, 1_099),
        (12_000, 12_500),
        (0, 30_000),
        (25_000, 26_000),
    ] {
        let sel = buffer(&points).select(lo, hi, Some(&keep), None).unwrap();
        let want: Vec<Row> = model(&points)
            .into_iter()
            .filter(|(_, t, _, _)| (lo..=hi).contains(t))
            .collect();
        assert_eq!(rows(&sel), want, "{lo}..={hi}");
    }
}

/// A select of more than 16 384 rows (sorted and built on rayon's pool), with series that
/// arrived out of time order, rows written several times and fields missing, equals the model.
#[test]
fn a_large_select_matches_the_model() {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let points: Vec<Point> = (0..30_000)
        .map(|_| Point {
            tags: vec![
                [None, Some(0), Some(1), Some(2)][next(4) as usize],
                Some(next(2) as u8),
            ],
            time: next(6_000) as i64,
            f: (next(4) > 0).then(|| next(100) as f64),
            g: (next(3) > 0).then(|| next(100) as i64),
        })
        .collect();
    let sel = buffer(&points)
        .select(i64::MIN, i64::MAX, None, None)
        .unwrap();
    assert!(sel.num_rows() > 16_384, "{}", sel.num_rows());
    assert_eq!(rows(&sel), model(&points));
}
