#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::Path;

use arrow::array::{
    Array, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampNanosecondArray, UInt64Array,
};
use arrow::datatypes::{DataType, Int32Type};
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::file::metadata::PageIndexPolicy;
use parquet::file::reader::{FileReader, SerializedFileReader};

use super::*;
use crate::error::HasErrorCode;
use crate::lineproto::{FieldType, ParseOptions, parse_line, split_lines};
use crate::model::{BucketName, Precision, TenantId};

const NOW: i64 = 1_700_000_000_500_000_000;

/// Parses `body` and pushes every line into per-measurement buffers; returns the buffers and the
/// refusals as strings.
fn ingest(body: &str, precision: Precision) -> (HashMap<String, MeasurementBuffer>, Vec<String>) {
    let opts = ParseOptions {
        precision,
        allow_unsigned: true,
    };
    let mut bufs: HashMap<String, MeasurementBuffer> = HashMap::new();
    let mut errors = Vec::new();
    for raw in split_lines(body.as_bytes()) {
        let line = parse_line(raw, &opts).unwrap();
        let m = String::from_utf8(
            crate::lineproto::unescape_measurement(line.measurement()).into_owned(),
        )
        .unwrap();
        let buf = bufs
            .entry(m.clone())
            .or_insert_with(|| MeasurementBuffer::new(&m));
        if let Err(e) = buf.push_line(&line, precision, NOW) {
            errors.push(e.to_string());
        }
    }
    (bufs, errors)
}

fn one(body: &str) -> RecordBatch {
    let (bufs, errors) = ingest(body, Precision::Nanoseconds);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(bufs.len(), 1);
    bufs.into_values()
        .next()
        .unwrap()
        .to_record_batch()
        .unwrap()
}

fn names(b: &RecordBatch) -> Vec<String> {
    b.schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

fn tag(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let col = b.column_by_name(name).unwrap();
    let dict = col.as_dictionary::<Int32Type>();
    let values = dict.values().as_string::<i32>();
    dict.keys()
        .iter()
        .map(|k| k.map(|k| values.value(k as usize).to_owned()))
        .collect()
}

fn col<'a, T: 'static>(b: &'a RecordBatch, name: &str) -> &'a T {
    b.column_by_name(name)
        .unwrap()
        .as_any()
        .downcast_ref::<T>()
        .unwrap()
}

fn times(b: &RecordBatch) -> Vec<i64> {
    col::<TimestampNanosecondArray>(b, "time").values().to_vec()
}

#[test]
fn builds_typed_columns_from_line_protocol_with_precision() {
    let (bufs, errors) = ingest(
        "cpu,host=a,region=eu\\ west usage=1.5,n=3i,u=7u,ok=true,msg=\"say \\\"hi\\\"\" 1700000000\n\
         cpu,host=b usage=2 1700000001\n\
         cpu,host=a,region=eu\\ west usage=0.5\n",
        Precision::Seconds,
    );
    assert!(errors.is_empty(), "{errors:?}");
    let b = bufs["cpu"].to_record_batch().unwrap();
    assert_eq!(
        names(&b),
        ["host", "region", "msg", "n", "ok", "u", "usage", "time"]
    );
    let schema = b.schema();
    assert_eq!(
        schema.field_with_name("host").unwrap().data_type(),
        &DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
    );
    assert_eq!(
        schema.field_with_name("usage").unwrap().metadata()[ROLE],
        ROLE_FIELD
    );
    assert_eq!(
        schema.field_with_name("region").unwrap().metadata()[ROLE_KEY],
        "region"
    );
    assert!(!schema.field_with_name("time").unwrap().is_nullable());
    // Sorted by (host, region), then time; the line without timestamp got NOW.
    assert_eq!(
        tag(&b, "host"),
        [Some("a"), Some("a"), Some("b")].map(|s| s.map(String::from))
    );
    assert_eq!(
        tag(&b, "region"),
        [Some("eu west".to_owned()), Some("eu west".to_owned()), None]
    );
    assert_eq!(
        times(&b),
        [1_700_000_000_000_000_000, NOW, 1_700_000_001_000_000_000]
    );
    let usage = col::<Float64Array>(&b, "usage");
    assert_eq!(
        usage.iter().collect::<Vec<_>>(),
        [Some(1.5), Some(0.5), Some(2.0)]
    );
    assert_eq!(
        col::<Int64Array>(&b, "n").iter().collect::<Vec<_>>(),
        [Some(3), None, None]
    );
    assert_eq!(col::<UInt64Array>(&b, "u").value(0), 7);
    assert_eq!(
        col::<BooleanArray>(&b, "ok").iter().collect::<Vec<_>>(),
        [Some(true), None, None]
    );
    assert_eq!(col::<StringArray>(&b, "msg").value(0), "say \"hi\"");
}

#[test]
fn schema_evolves_as_tags_and_fields_appear() {
    let b = one("m,a=1 x=1 10\nm,a=1,b=2 x=2,y=5i 20\nm z=\"s\" 30\n");
    assert_eq!(names(&b), ["a", "b", "x", "y", "z", "time"]);
    // The series without tags sorts first (nulls first), then a=1, then a=1,b=2.
    assert_eq!(
        tag(&b, "a"),
        [None, Some("1".to_owned()), Some("1".to_owned())]
    );
    assert_eq!(tag(&b, "b"), [None, None, Some("2".to_owned())]);
    assert_eq!(times(&b), [30, 10, 20]);
    assert_eq!(
        col::<Int64Array>(&b, "y").iter().collect::<Vec<_>>(),
        [None, None, Some(5)]
    );
    assert_eq!(col::<Float64Array>(&b, "x").null_count(), 1);
}

#[test]
fn field_type_conflict_refuses_the_whole_point_with_influxdb_message() {
    let (bufs, errors) = ingest(
        "m f=1i,g=1i 1\nm g=2i,f=1.5 2\nm f=2i 3\nm h=1,h=true 4\n",
        Precision::Nanoseconds,
    );
    assert_eq!(
        errors,
        [
            "field type conflict: input field \"f\" on measurement \"m\" is type float, already exists as type integer",
            "field type conflict: input field \"h\" on measurement \"m\" is type boolean, already exists as type float",
        ]
    );
    let buf = &bufs["m"];
    assert_eq!(buf.len(), 2, "refused points leave no row");
    let b = buf.to_record_batch().unwrap();
    assert_eq!(
        names(&b),
        ["f", "g", "time"],
        "refused points leave no column"
    );
    assert_eq!(
        col::<Int64Array>(&b, "g").iter().collect::<Vec<_>>(),
        [Some(1), None]
    );
    let types: Vec<_> = buf.field_types().collect();
    assert_eq!(
        types,
        [("f", FieldType::Integer), ("g", FieldType::Integer)]
    );

    let mut buf = MeasurementBuffer::new("m");
    buf.push_point(vec![], vec![("v".into(), Value::Integer(1))], 1)
        .unwrap();
    let err = buf
        .push_point(vec![], vec![("v".into(), Value::String("x".into()))], 2)
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::FieldTypeConflict {
            input: FieldType::String,
            existing: FieldType::Integer,
            ..
        }
    ));
    assert_eq!(
        err.error_code(),
        crate::error::ErrorCode::UnprocessableEntity
    );
}

#[test]
fn sorted_by_series_then_time() {
    let b = one(
        "m,host=b,dc=1 v=1 5\nm,host=a,dc=2 v=2 9\nm,host=a,dc=2 v=3 1\nm,host=a,dc=1 v=4 7\n\
         m,host=b,dc=1 v=5 2\nm,dc=1 v=6 3\n",
    );
    assert_eq!(names(&b), ["dc", "host", "v", "time"]);
    let dc = tag(&b, "dc");
    let host = tag(&b, "host");
    let t = times(&b);
    let keys: Vec<_> = (0..b.num_rows())
        .map(|i| (dc[i].clone(), host[i].clone(), t[i]))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(t, [3, 7, 2, 5, 1, 9]);
    assert_eq!(
        col::<Float64Array>(&b, "v").values().to_vec(),
        [6.0, 4.0, 5.0, 1.0, 3.0, 2.0]
    );
}

#[test]
fn duplicates_merge_last_write_wins_field_by_field() {
    let b = one("m,h=a x=1,y=1 100\n\
         m,h=a y=2,z=true 100\n\
         m,h=b x=9 100\n\
         m,h=a x=3 100\n\
         m,h=a y=4 200\n");
    assert_eq!(b.num_rows(), 3);
    assert_eq!(times(&b), [100, 200, 100]);
    assert_eq!(tag(&b, "h"), ["a", "a", "b"].map(|s| Some(s.to_owned())));
    // x: 1 then 3 → 3; y: 1 then 2 → 2 (x's later point has no y: a null does not erase); z only once.
    assert_eq!(
        col::<Float64Array>(&b, "x").iter().collect::<Vec<_>>(),
        [Some(3.0), None, Some(9.0)]
    );
    assert_eq!(
        col::<Float64Array>(&b, "y").iter().collect::<Vec<_>>(),
        [Some(2.0), Some(4.0), None]
    );
    assert_eq!(
        col::<BooleanArray>(&b, "z").iter().collect::<Vec<_>>(),
        [Some(true), None, None]
    );
}

#[test]
fn tag_and_field_with_the_same_key_are_told_apart() {
    let b = one("m,v=tagged,v_1=x v=1,w=2 1\n");
    assert_eq!(names(&b), ["v_2", "v_1", "v", "w", "time"]);
    let schema = b.schema();
    let tagged = schema.field_with_name("v_2").unwrap();
    assert_eq!(tagged.metadata()[ROLE], ROLE_TAG);
    assert_eq!(tagged.metadata()[ROLE_KEY], "v");
    assert_eq!(tag(&b, "v_2"), [Some("tagged".to_owned())]);
    assert_eq!(
        schema.field_with_name("v").unwrap().metadata()[ROLE],
        ROLE_FIELD
    );

    let mut buf = MeasurementBuffer::new("m");
    let err = buf
        .push_point(
            vec![("time".into(), "x".into())],
            vec![("v".into(), Value::Float(1.0))],
            1,
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::ReservedKey { what: "tag", .. }));
    assert!(buf.is_empty());
}

#[test]
fn empty_buffer_gives_an_empty_batch() {
    let b = MeasurementBuffer::new("m").to_record_batch().unwrap();
    assert_eq!(b.num_rows(), 0);
    assert_eq!(names(&b), ["time"]);
}

fn sample_batch(rows: usize) -> RecordBatch {
    let mut body = String::new();
    for i in 0..rows {
        body.push_str(&format!(
            "ifc,host=h{},if=eth{} in={}i,up={},name=\"n{}\",load={} {}\n",
            i % 7,
            i % 3,
            i * 10,
            i % 2 == 0,
            i % 5,
            i as f64 / 4.0,
            1_000 + i
        ));
    }
    one(&body)
}

#[test]
fn parquet_round_trip_equals_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t/b/ifc/2024-01-01/f1.parquet");
    let batch = sample_batch(500);
    write_parquet(
        &path,
        &batch,
        &WriteOptions {
            max_row_group_rows: 128,
        },
    )
    .unwrap();
    assert!(path.exists());
    assert!(
        !parquet_file::tmp_path(&path).exists(),
        "the .tmp is renamed away"
    );
    let back = read_parquet(&path).unwrap();
    let back = arrow::compute::concat_batches(&back[0].schema(), &back).unwrap();
    assert_eq!(back.schema(), batch.schema(), "types and metadata survive");
    assert_eq!(back, batch);
}

#[test]
fn parquet_has_statistics_page_index_and_bounded_row_groups() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.parquet");
    let batch = sample_batch(1000);
    write_parquet(
        &path,
        &batch,
        &WriteOptions {
            max_row_group_rows: 300,
        },
    )
    .unwrap();

    let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let meta = reader.metadata();
    assert_eq!(meta.num_row_groups(), 4);
    assert!(meta.row_groups().iter().all(|rg| rg.num_rows() <= 300));
    let schema = meta.file_metadata().schema_descr();
    let time_idx = (0..schema.num_columns())
        .find(|&i| schema.column(i).name() == "time")
        .unwrap();
    let host_idx = (0..schema.num_columns())
        .find(|&i| schema.column(i).name() == "host")
        .unwrap();
    let rg0 = meta.row_group(0);
    let stats = rg0.column(time_idx).statistics().expect("time statistics");
    assert!(stats.min_bytes_opt().is_some() && stats.max_bytes_opt().is_some());
    let host = rg0.column(host_idx).statistics().expect("tag statistics");
    assert_eq!(host.min_bytes_opt(), Some(&b"h0"[..]));
    let sorting = rg0.sorting_columns().expect("sorting columns recorded");
    assert_eq!(sorting.len(), 3, "two tags and time");

    let file = std::fs::File::open(&path).unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(
        file,
        ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Required),
    )
    .unwrap();
    let md = builder.metadata();
    assert!(
        md.column_index().is_some(),
        "column index (page min/max) written"
    );
    assert!(md.offset_index().is_some(), "offset index written");
}

fn key(tenant: &str, bucket: &str, measurement: &str, ns: i64) -> PartitionKey {
    PartitionKey {
        tenant: TenantId::new(tenant).unwrap(),
        bucket: BucketName::new(bucket).unwrap(),
        measurement: measurement.to_owned(),
        day: Day::from_nanos(ns),
    }
}

#[test]
fn partition_paths_round_trip_odd_names() {
    let root = Path::new("/var/lib/sluice/store");
    for (t, b, m, f) in [
        ("acme", "telegraf", "cpu", "000001"),
        ("a/b", "db/rp", "net stat", "x y"),
        ("..", ".", ".hidden", "..."),
        ("ünï", "bücket", "温度", "%41"),
        ("a%2F", "-_.", "m,=\\\"", "f"),
    ] {
        let k = key(t, b, m, 1_717_236_000_000_000_000);
        let path = k.file(root, f).unwrap();
        let rel = path.strip_prefix(root).unwrap();
        assert_eq!(rel.components().count(), 5, "{path:?}");
        for c in rel.components() {
            let s = c.as_os_str().to_str().unwrap();
            assert!(s != "." && s != ".." && !s.starts_with('.'), "{path:?}");
            assert!(
                s.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"._-%".contains(&c))
            );
        }
        assert_eq!(
            PartitionKey::parse_file(root, &path).unwrap(),
            (k, f.to_owned())
        );
    }
    assert_eq!(
        key("a/b", "db/rp", "net stat", 1_717_236_000_000_000_000)
            .dir(root)
            .unwrap(),
        root.join("a%2Fb/db%2Frp/net%20stat/2024-06-01")
    );
    assert!(PartitionKey::parse_file(root, &root.join("a/b/c/2024-02-30/f.parquet")).is_err());
    assert!(PartitionKey::parse_file(root, &root.join("a/b/c/2024-02-03/f.parquet.tmp")).is_err());
    assert!(PartitionKey::parse_file(root, &root.join("a/b%2f/c/2024-02-03/f.parquet")).is_err());
    assert!(matches!(
        key("t", "b", &"é".repeat(100), 0).dir(root),
        Err(StoreError::NameTooLong { .. })
    ));
}

#[test]
fn days_convert_both_ways() {
    assert_eq!(Day::from_nanos(0).to_string(), "1970-01-01");
    assert_eq!(Day::from_nanos(-1).to_string(), "1969-12-31");
    assert_eq!(
        Day::from_nanos(1_709_164_800_000_000_000).to_string(),
        "2024-02-29"
    );
    assert_eq!(Day::from_nanos(i64::MAX).to_string(), "2262-04-11");
    for d in -100_000..100_000 {
        let day = Day(d * 7);
        assert_eq!(Day::parse(&day.to_string()), Some(day));
        assert!(day.start_nanos() <= day.start_nanos().saturating_add(1));
    }
    assert_eq!(Day::parse("2023-02-29"), None);
    assert_eq!(Day::parse("2024-13-01"), None);
    assert_eq!(Day::parse("24-01-01"), None);
}

#[test]
fn splits_a_batch_by_utc_day_keeping_order() {
    const DAY: i64 = 86_400_000_000_000;
    let b = one(&format!(
        "m,h=a v=1 {}\nm,h=a v=2 {}\nm,h=b v=3 {}\nm,h=b v=4 {}\n",
        DAY + 5,
        2 * DAY - 1,
        2 * DAY,
        DAY + 1
    ));
    let parts = split_by_day(&b).unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].0.to_string(), "1970-01-02");
    assert_eq!(times(&parts[0].1), [DAY + 5, 2 * DAY - 1, DAY + 1]);
    assert_eq!(
        tag(&parts[0].1, "h"),
        ["a", "a", "b"].map(|s| Some(s.to_owned()))
    );
    assert_eq!(parts[1].0, Day(2));
    assert_eq!(times(&parts[1].1), [2 * DAY]);
    let whole = split_by_day(&parts[1].1).unwrap();
    assert_eq!(whole, vec![(Day(2), parts[1].1.clone())]);
}

#[test]
fn tracks_size_and_time_range() {
    let mut buf = MeasurementBuffer::new("m");
    assert_eq!((buf.estimated_bytes(), buf.time_range()), (0, None));
    buf.push_point(
        vec![("h".into(), "a".into())],
        vec![("v".into(), Value::Float(1.0))],
        50,
    )
    .unwrap();
    let one_point = buf.estimated_bytes();
    assert!(one_point > 0);
    buf.push_point(
        vec![("h".into(), "a".into())],
        vec![("s".into(), Value::String("x".repeat(1000)))],
        -5,
    )
    .unwrap();
    assert!(buf.estimated_bytes() > one_point + 1000);
    assert_eq!(buf.time_range(), Some((-5, 50)));
    assert_eq!(buf.series_count(), 1);
}

#[test]
fn a_string_field_that_is_not_utf8_is_kept_lossily_not_as_half_a_point() {
    let opts = ParseOptions {
        precision: Precision::Nanoseconds,
        allow_unsigned: true,
    };
    let line = parse_line(b"m i=1i,s=\"a\xffb\" 5", &opts).unwrap();
    let mut buf = MeasurementBuffer::new("m");
    buf.push_line(&line, Precision::Nanoseconds, NOW).unwrap();
    let b = buf.to_record_batch().unwrap();
    let s = b.column_by_name("s").unwrap().as_string::<i32>();
    assert_eq!((b.num_rows(), s.value(0)), (1, "a\u{fffd}b"));
}
