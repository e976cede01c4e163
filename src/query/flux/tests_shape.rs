//! Evaluation tests of shaping, windows, programs and metadata (docs/flux.md §3, §5).

use super::csv::encode;
use super::tests_eval::{RANGE, S, T0, col, err, floats, grafana, names, run, store};
use super::value::Value;
use super::{FluxContext, compile, execute};
use crate::model::{BucketName, TenantId};

#[test]
fn group_sort_limit_keep_drop_rename() {
    let q = format!(
        "{RANGE} |> filter(fn: (r) => r._field == \"usage_idle\") |> group(columns: [\"_field\"]) |> sort(columns: [\"_value\"], desc: true) |> limit(n: 2)"
    );
    let r = run(&q);
    assert_eq!(r[0].tables.len(), 1);
    assert_eq!(floats(&r[0].tables[0]), [102.0, 101.0]);
    assert_eq!(r[0].tables[0].key.len(), 1);
    let q =
        format!("{RANGE} |> filter(fn: (r) => r._field == \"usage_idle\") |> group() |> count()");
    assert_eq!(col(&run(&q)[0].tables[0], "_value"), [Value::Int(24)]);
    let q = format!(
        "{RANGE} |> filter(fn: (r) => r._measurement == \"ping\") |> keep(columns: [\"_time\", \"_value\", \"url\"]) |> rename(columns: {{url: \"target\"}}) |> tail(n: 1)"
    );
    let t = &run(&q)[0].tables[0];
    assert_eq!(names(t), ["_time", "_value", "target"]);
    assert_eq!(t.key, vec![("target".to_owned(), Value::str("8.8.8.8"))]);
    let q = format!(
        "{RANGE} |> filter(fn: (r) => r._measurement == \"ping\") |> drop(columns: [\"_start\", \"_stop\"]) |> group(columns: [\"url\"], mode: \"except\")"
    );
    assert!(!run(&q)[0].tables[0].in_key("url"));
}

#[test]
fn pivot_fields_into_columns() {
    let q = format!(
        "{RANGE} |> filter(fn: (r) => r._measurement == \"cpu\" and r.host == \"web01\") |> pivot(rowKey: [\"_time\"], columnKey: [\"_field\"], valueColumn: \"_value\") |> limit(n: 2)"
    );
    let r = run(&q);
    assert_eq!(r[0].tables.len(), 1);
    let t = &r[0].tables[0];
    assert_eq!(
        names(t),
        [
            "_start",
            "_stop",
            "_time",
            "_measurement",
            "cpu",
            "host",
            "usage_idle",
            "usage_user"
        ]
    );
    assert_eq!(col(t, "usage_user"), [Value::Float(1.0), Value::Float(2.0)]);
}

#[test]
fn map_with_conversions_and_conditionals() {
    let q = format!(
        "{RANGE} |> filter(fn: (r) => r._field == \"ifOperStatus\" and r.ifName == \"Gi1/0/2\") |> limit(n: 1) |> map(fn: (r) => ({{r with _value: float(v: r._value) * 1.5, up: if r._value == 1 then \"up\" else \"down\", s: string(v: r._value)}}))"
    );
    let t = &run(&q)[0].tables[0];
    assert_eq!(col(t, "_value"), [Value::Float(3.0)]);
    assert_eq!(col(t, "up"), [Value::str("down")]);
    assert_eq!(col(t, "s"), [Value::str("2")]);
    let e = err(&format!(
        "{RANGE} |> filter(fn: (r) => r._field == \"ifOperStatus\") |> map(fn: (r) => ({{r with _value: r._value * 1.5}}))"
    ));
    assert!(e.message.contains("type error"), "{}", e.message);
}

#[test]
fn top_bottom_unique_distinct_fill_duplicate() {
    let base = format!("{RANGE} |> filter(fn: (r) => r._measurement == \"ping\")");
    assert_eq!(
        floats(&run(&format!("{base} |> top(n: 2)"))[0].tables[0]),
        [20.0, 18.0]
    );
    assert_eq!(
        floats(&run(&format!("{base} |> bottom(n: 1)"))[0].tables[0]),
        [10.0]
    );
    let q =
        format!("{RANGE} |> filter(fn: (r) => r._field == \"usage_user\" and r.host == \"web02\")");
    assert_eq!(run(&format!("{q} |> unique()"))[0].tables[0].rows.len(), 1);
    let d = &run(&format!("{q} |> distinct()"))[0].tables[0];
    assert_eq!(col(d, "_value"), [Value::Float(2.0)]);
    let f = &run(&format!(
        "{base} |> aggregateWindow(every: 10s, fn: last) |> fill(usePrevious: true) |> limit(n: 3)"
    ))[0]
        .tables[0];
    assert_eq!(floats(f), [10.0, 10.0, 12.0]);
    let f = &run(&format!(
        "{base} |> aggregateWindow(every: 10s, fn: mean) |> fill(value: 0.0) |> limit(n: 2)"
    ))[0]
        .tables[0];
    assert_eq!(floats(f), [10.0, 0.0]);
    let f = &run(&format!(
        "{base} |> duplicate(column: \"url\", as: \"u\") |> limit(n: 1)"
    ))[0]
        .tables[0];
    assert_eq!(col(f, "u"), [Value::str("8.8.8.8")]);
}

#[test]
fn extreme_windows_are_bounded() {
    let e = err(&format!(
        "{RANGE} |> aggregateWindow(every: 1ns, period: 1h, fn: mean)"
    ));
    assert!(e.message.contains("at most 1000 times"), "{}", e.message);
    let e = err(&format!(
        "{RANGE} |> aggregateWindow(every: 1ns, fn: count)"
    ));
    assert!(
        e.message.contains("more than 1000000 windows"),
        "{}",
        e.message
    );
    let r = run(&format!(
        "{RANGE} |> filter(fn: (r) => r._measurement == \"ping\") |> aggregateWindow(every: 106751d, offset: -106751d, fn: count)"
    ));
    assert_eq!(col(&r[0].tables[0], "_value"), [Value::Int(6)]);
}

#[test]
fn window_then_aggregate() {
    let q = format!(
        "{RANGE} |> filter(fn: (r) => r._measurement == \"ping\") |> window(every: 1m) |> mean()"
    );
    let r = run(&q);
    assert_eq!(r[0].tables.len(), 2);
    assert_eq!(col(&r[0].tables[1], "_start"), [Value::Time(T0 + 60 * S)]);
    assert_eq!(floats(&r[0].tables[1]), [18.0]);
}

#[test]
fn variables_functions_and_several_yields() {
    let q = format!(
        "data = {RANGE} |> filter(fn: (r) => r._measurement == \"ping\")\nhalf = (x) => x / 2.0\ndata |> max() |> map(fn: (r) => ({{r with _value: half(x: r._value)}})) |> yield(name: \"max\")\ndata |> min() |> yield(name: \"min\")"
    );
    let r = run(&q);
    assert_eq!(
        r.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(),
        ["max", "min"]
    );
    assert_eq!(floats(&r[0].tables[0]), [10.0]);
    let e = err(&format!(
        "{RANGE} |> yield(name: \"a\")\n{RANGE} |> yield(name: \"a\")"
    ));
    assert!(e.message.contains("duplicate yield name"), "{}", e.message);
}

#[test]
fn a_yielded_stream_goes_on_unchanged() {
    // The result of `yield` is shared with the stream it passes on: a later step must not
    // change it, and the later yield sees the steps.
    let q = format!(
        "{RANGE} |> filter(fn: (r) => r._measurement == \"ping\") |> max() |> yield(name: \"a\") |> map(fn: (r) => ({{r with _value: r._value * 2.0}})) |> yield(name: \"b\")"
    );
    let r = run(&q);
    assert_eq!(
        r.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(floats(&r[0].tables[0]), [20.0]);
    assert_eq!(floats(&r[1].tables[0]), [40.0]);
}

#[test]
fn buckets_and_schema() {
    let csv = encode(&run("buckets()"), &grafana());
    assert!(csv.starts_with("#datatype,string,long,string,string,string,string,long\r\n#group,false,false,false,false,true,false,false\r\n#default,_result,,,,,,\r\n,result,table,name,id,organizationID,retentionPolicy,retentionPeriod\r\n,,0,other,"), "{csv}");
    let values = |q: &str| -> Vec<Value> { col(&run(q)[0].tables[0], "_value") };
    let imp = "import \"influxdata/influxdb/schema\"\n";
    assert_eq!(
        values(&format!("{imp}schema.measurements(bucket: \"telegraf\")")),
        [
            Value::str("cpu"),
            Value::str("interface"),
            Value::str("ping")
        ]
    );
    assert_eq!(
        values(&format!(
            "{imp}schema.tagValues(bucket: \"telegraf\", tag: \"host\")"
        )),
        [Value::str("web01"), Value::str("web02")]
    );
    assert_eq!(
        values(&format!(
            "{imp}schema.measurementTagValues(bucket: \"telegraf\", measurement: \"interface\", tag: \"ifName\")"
        )),
        [Value::str("Gi1/0/1"), Value::str("Gi1/0/2")]
    );
    assert_eq!(
        values(&format!(
            "{imp}schema.measurementFieldKeys(bucket: \"telegraf\", measurement: \"cpu\")"
        )),
        [Value::str("usage_idle"), Value::str("usage_user")]
    );
    assert_eq!(
        values(&format!(
            "{imp}schema.tagKeys(bucket: \"telegraf\", predicate: (r) => r._measurement == \"ping\")"
        )),
        [
            Value::str("_field"),
            Value::str("_measurement"),
            Value::str("_start"),
            Value::str("_stop"),
            Value::str("url")
        ]
    );
    assert_eq!(
        values(&format!(
            "{imp}schema.tagValues(bucket: \"telegraf\", tag: \"host\", predicate: (r) => r.host != \"web01\")"
        )),
        [Value::str("web02")]
    );
    assert_eq!(
        values(&format!("{imp}schema.fieldKeys(bucket: \"other\")")),
        [Value::str("used")]
    );
    let csv = encode(
        &run(&format!("{imp}schema.measurements(bucket: \"telegraf\")")),
        &grafana(),
    );
    assert!(csv.starts_with("#datatype,string,long,string\r\n#group,false,false,false\r\n#default,_result,,\r\n,result,table,_value\r\n,,0,cpu\r\n"), "{csv}");
}

#[test]
fn other_tenants_buckets_and_unbounded_reads_are_errors() {
    let e = err("from(bucket: \"secret\") |> range(start: -1h)");
    assert_eq!(e.code, crate::error::ErrorCode::NotFound);
    assert!(e.message.contains("could not find bucket \"secret\""));
    let e = err("import \"influxdata/influxdb/schema\"\nschema.measurements(bucket: \"secret\")");
    assert_eq!(e.code, crate::error::ErrorCode::NotFound);
    let e = err("from(bucket: \"telegraf\") |> filter(fn: (r) => true)");
    assert!(e.message.contains("unbounded read"), "{}", e.message);
    let e = err(&format!("{RANGE} |> mean(foo: 1)"));
    assert!(
        e.message.contains("unexpected argument \"foo\""),
        "{}",
        e.message
    );
    let e = err(&format!("{RANGE} |> aggregateWindow(every: 1mo, fn: mean)"));
    assert!(e.message.contains("calendar"), "{}", e.message);
    let e = err(&format!(
        "{RANGE} |> filter(fn: (r) => r._value =~ /(a{{1000}}){{1000}}/)"
    ));
    assert!(e.message.contains("too large"), "{}", e.message);
}

#[test]
fn row_bound_is_an_error_not_a_truncation() {
    let m = store();
    let tenant = TenantId::new("acme").expect("id");
    let resolve = |name: &str| BucketName::new(name).ok();
    let ctx = FluxContext {
        tenant: &tenant,
        store: Some(&m),
        resolve: &resolve,
        buckets: vec![],
        retention_ns: 0,
        now_ns: T0,
        max_scan_bytes: 1 << 30,
        max_rows: 10,
    };
    let e = execute(&compile(RANGE).expect("compiles"), &ctx).expect_err("bounded");
    assert!(e.message.contains("more than 10 rows"), "{}", e.message);
}

#[test]
fn aggregate_window_after_group_keeps_the_range_bounds() {
    // group() drops _start/_stop from the key; the windows still span range()'s bounds, so
    // createEmpty yields every window of [10:00, 10:02), also those after the last point.
    let q = format!(
        "{RANGE} |> filter(fn: (r) => r._field == \"usage_idle\") |> group() |> aggregateWindow(every: 30s, fn: count)"
    );
    let t = &run(&q)[0].tables[0];
    let stop = T0 + 120 * S;
    assert_eq!(
        col(t, "_time"),
        [30, 60, 90, 120].map(|s| Value::Time(T0 + s * S))
    );
    assert_eq!(col(t, "_stop").last(), Some(&Value::Time(stop)));
}
