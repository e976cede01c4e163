//! Evaluation tests over an in-memory store: the semantics of docs/flux.md §3–5.

use super::csv::{Annotation, Dialect, encode};
use super::table::Table;
use super::value::Value;
use super::{FluxContext, FluxError, FluxResult, compile, execute};
use crate::model::{BucketName, TenantId};
use crate::query::exec::mem::MemStore;
use crate::store::Value as SV;

pub const T0: i64 = 1_717_236_000_000_000_000;
pub const S: i64 = 1_000_000_000;

pub fn store() -> MemStore {
    let mut m = MemStore::new();
    for i in 0..12i64 {
        let t = T0 + i * 10 * S;
        let fi = i as f64;
        m.push(
            "acme",
            "telegraf",
            "cpu",
            &[("cpu", "cpu-total"), ("host", "web01")],
            vec![
                ("usage_idle", SV::Float(90.0 + fi)),
                ("usage_user", SV::Float(1.0 + fi)),
            ],
            t,
        )
        .expect("push");
        m.push(
            "acme",
            "telegraf",
            "cpu",
            &[("cpu", "cpu-total"), ("host", "web02")],
            vec![
                ("usage_idle", SV::Float(80.0 + 2.0 * fi)),
                ("usage_user", SV::Float(2.0)),
            ],
            t,
        )
        .expect("push");
        let gi1 = if i < 3 {
            1000 * (i + 1)
        } else {
            100 + 1000 * (i - 3)
        };
        m.push(
            "acme",
            "telegraf",
            "interface",
            &[("agent_host", "10.0.0.1"), ("ifName", "Gi1/0/1")],
            vec![
                ("ifHCInOctets", SV::Integer(gi1)),
                ("ifOperStatus", SV::Integer(1)),
            ],
            t,
        )
        .expect("push");
        m.push(
            "acme",
            "telegraf",
            "interface",
            &[("agent_host", "10.0.0.1"), ("ifName", "Gi1/0/2")],
            vec![
                ("ifHCInOctets", SV::Integer(500 * i)),
                ("ifOperStatus", SV::Integer(2)),
            ],
            t,
        )
        .expect("push");
        if i % 2 == 0 {
            m.push(
                "acme",
                "telegraf",
                "ping",
                &[("url", "8.8.8.8")],
                vec![("average_response_ms", SV::Float(10.0 + fi))],
                t,
            )
            .expect("push");
        }
    }
    m.push(
        "acme",
        "other",
        "mem",
        &[("host", "web01")],
        vec![("used", SV::Integer(7))],
        T0,
    )
    .expect("push");
    m.push(
        "evil",
        "secret",
        "cpu",
        &[("host", "x")],
        vec![("usage_idle", SV::Float(1.0))],
        T0,
    )
    .expect("push");
    m.seal().expect("seal");
    m
}

pub fn run_on(m: &MemStore, q: &str) -> Result<Vec<FluxResult>, FluxError> {
    let tenant = TenantId::new("acme").expect("id");
    let owned = ["other", "telegraf"];
    let resolve = |name: &str| {
        owned
            .contains(&name)
            .then(|| BucketName::new(name).expect("name"))
    };
    let ctx = FluxContext {
        tenant: &tenant,
        store: Some(m),
        resolve: &resolve,
        buckets: owned
            .iter()
            .map(|b| BucketName::new(b).expect("name"))
            .collect(),
        retention_ns: 0,
        now_ns: T0 + 3600 * S,
        max_scan_bytes: 1 << 30,
        max_rows: 1_000_000,
    };
    execute(&compile(q)?, &ctx)
}

pub fn run(q: &str) -> Vec<FluxResult> {
    run_on(&store(), q).unwrap_or_else(|e| panic!("{q}: {}", e.message))
}

pub fn err(q: &str) -> FluxError {
    run_on(&store(), q).expect_err(q)
}

pub fn grafana() -> Dialect {
    Dialect {
        header: true,
        delimiter: ',',
        annotations: vec![Annotation::Datatype, Annotation::Group, Annotation::Default],
    }
}

pub fn col(t: &Table, name: &str) -> Vec<Value> {
    let i = t
        .idx(name)
        .unwrap_or_else(|| panic!("no column {name} in {:?}", t.cols));
    t.rows.iter().map(|r| r[i].clone()).collect()
}

pub fn floats(t: &Table) -> Vec<f64> {
    col(t, "_value")
        .iter()
        .map(|v| v.as_f64().unwrap_or(f64::NAN))
        .collect()
}

pub fn names(t: &Table) -> Vec<&str> {
    t.cols.iter().map(|c| c.name.as_str()).collect()
}

pub const RANGE: &str =
    "from(bucket: \"telegraf\") |> range(start: 2024-06-01T10:00:00Z, stop: 2024-06-01T10:02:00Z)";

#[test]
fn from_range_filter_makes_one_table_per_series_and_field() {
    let r = run(&format!(
        "{RANGE} |> filter(fn: (r) => r._measurement == \"cpu\")"
    ));
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].name, "_result");
    let ts = &r[0].tables;
    assert_eq!(ts.len(), 4, "2 hosts × 2 fields");
    assert_eq!(
        names(&ts[0]),
        [
            "_start",
            "_stop",
            "_time",
            "_value",
            "_field",
            "_measurement",
            "cpu",
            "host"
        ]
    );
    let keys: Vec<(Value, Value)> = ts
        .iter()
        .map(|t| {
            (
                t.key_value("host").cloned().expect("host"),
                t.key_value("_field").cloned().expect("field"),
            )
        })
        .collect();
    assert_eq!(keys[0], (Value::str("web01"), Value::str("usage_idle")));
    assert_eq!(keys[1], (Value::str("web01"), Value::str("usage_user")));
    assert_eq!(keys[2], (Value::str("web02"), Value::str("usage_idle")));
    assert_eq!(floats(&ts[0])[..3], [90.0, 91.0, 92.0]);
    assert!(ts.iter().all(|t| t.rows.len() == 12));
}

#[test]
fn range_stop_is_exclusive_and_relative_starts_use_now() {
    let r = run(
        "from(bucket: \"telegraf\") |> range(start: 2024-06-01T10:00:00Z, stop: 2024-06-01T10:00:30Z) |> filter(fn: (r) => r._measurement == \"cpu\" and r._field == \"usage_idle\" and r.host == \"web01\")",
    );
    assert_eq!(r[0].tables[0].rows.len(), 3);
    let r = run(
        "from(bucket: \"telegraf\") |> range(start: -1h) |> filter(fn: (r) => r._measurement == \"ping\")",
    );
    assert_eq!(r[0].tables[0].rows.len(), 6);
    assert_eq!(col(&r[0].tables[0], "_start")[0], Value::Time(T0));
}

#[test]
fn wire_query_6_has_the_csv_grafana_reads() {
    let q = "from(bucket: \"telegraf\")\n  |> range(start: 2024-06-01T10:00:00Z, stop: 2024-06-01T11:00:00Z)\n  |> filter(fn: (r) => r[\"_measurement\"] == \"cpu\")\n  |> filter(fn: (r) => r[\"_field\"] == \"usage_idle\")\n  |> filter(fn: (r) => r[\"cpu\"] == \"cpu-total\")\n  |> aggregateWindow(every: 1m, fn: mean, createEmpty: false)\n  |> yield(name: \"mean\")";
    let csv = encode(&run(q), &grafana());
    let want = "#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string,string,string\r\n#group,false,false,true,true,false,false,true,true,true,true\r\n#default,mean,,,,,,,,,\r\n,result,table,_start,_stop,_time,_value,_field,_measurement,cpu,host\r\n,,0,2024-06-01T10:00:00Z,2024-06-01T11:00:00Z,2024-06-01T10:01:00Z,92.5,usage_idle,cpu,cpu-total,web01\r\n,,0,2024-06-01T10:00:00Z,2024-06-01T11:00:00Z,2024-06-01T10:02:00Z,98.5,usage_idle,cpu,cpu-total,web01\r\n,,1,2024-06-01T10:00:00Z,2024-06-01T11:00:00Z,2024-06-01T10:01:00Z,85,usage_idle,cpu,cpu-total,web02\r\n,,1,2024-06-01T10:00:00Z,2024-06-01T11:00:00Z,2024-06-01T10:02:00Z,97,usage_idle,cpu,cpu-total,web02\r\n\r\n";
    assert_eq!(csv, want);
}

#[test]
fn aggregate_window_create_empty_time_src_and_offset() {
    let base = format!("{RANGE} |> filter(fn: (r) => r._measurement == \"ping\")");
    let r = run(&format!("{base} |> aggregateWindow(every: 30s, fn: count)"));
    let t = &r[0].tables[0];
    assert_eq!(
        col(t, "_value"),
        [Value::Int(2), Value::Int(1), Value::Int(2), Value::Int(1)]
    );
    let r = run(&format!("{base} |> aggregateWindow(every: 15s, fn: mean)"));
    let t = &r[0].tables[0];
    assert_eq!(t.rows.len(), 8, "createEmpty defaults to true");
    assert_eq!(col(t, "_value")[1], Value::Float(12.0));
    assert_eq!(col(t, "_value")[3], Value::Null);
    assert_eq!(col(t, "_time")[0], Value::Time(T0 + 15 * S));
    let r = run(&format!(
        "{base} |> aggregateWindow(every: 30s, fn: first, timeSrc: \"_start\")"
    ));
    assert_eq!(col(&r[0].tables[0], "_time")[1], Value::Time(T0 + 30 * S));
    assert_eq!(floats(&r[0].tables[0]), [10.0, 14.0, 16.0, 20.0]);
    let r = run(&format!(
        "{base} |> aggregateWindow(every: 30s, offset: 10s, fn: sum, createEmpty: false)"
    ));
    let t = &r[0].tables[0];
    assert_eq!(
        col(t, "_time")[0],
        Value::Time(T0 + 10 * S),
        "the first window is clipped to the range"
    );
    assert_eq!(
        floats(t),
        [10.0, 12.0, 14.0 + 16.0, 18.0, 20.0],
        "windows start at 10s + k·30s"
    );
    let r = run(&format!(
        "{base} |> aggregateWindow(every: 1m, fn: (column, tables=<-) => tables |> quantile(q: 0.5, column: column))"
    ));
    assert_eq!(floats(&r[0].tables[0]), [12.0, 18.0]);
}

#[test]
fn aggregates_and_selectors() {
    let base = format!("{RANGE} |> filter(fn: (r) => r._measurement == \"ping\")");
    let one =
        |f: &str| -> Vec<Value> { col(&run(&format!("{base} |> {f}"))[0].tables[0], "_value") };
    assert_eq!(one("mean()"), [Value::Float(15.0)]);
    assert_eq!(one("sum()"), [Value::Float(90.0)]);
    assert_eq!(one("count()"), [Value::Int(6)]);
    assert_eq!(one("median()"), [Value::Float(15.0)]);
    assert_eq!(one("spread()"), [Value::Float(10.0)]);
    assert_eq!(one("min()"), [Value::Float(10.0)]);
    assert_eq!(one("max()"), [Value::Float(20.0)]);
    assert_eq!(one("first()"), [Value::Float(10.0)]);
    assert_eq!(one("last()"), [Value::Float(20.0)]);
    assert_eq!(
        one("quantile(q: 0.9, method: \"exact_selector\")"),
        [Value::Float(20.0)]
    );
    assert_eq!(one("mode()"), [Value::Float(10.0)]);
    let sd = one("stddev()")[0].as_f64().expect("float");
    assert!((sd - 3.7416573867739413).abs() < 1e-12, "{sd}");
    let mean = &run(&format!("{base} |> mean()"))[0].tables[0];
    assert_eq!(
        names(mean),
        ["_start", "_stop", "_field", "_measurement", "url", "_value"]
    );
    let last = &run(&format!("{base} |> last()"))[0].tables[0];
    assert_eq!(col(last, "_time"), [Value::Time(T0 + 100 * S)]);
    let ints = run(&format!(
        "{RANGE} |> filter(fn: (r) => r._field == \"ifOperStatus\") |> sum()"
    ));
    assert_eq!(col(&ints[0].tables[0], "_value"), [Value::Int(12)]);
    let e = err(&format!(
        "{RANGE} |> filter(fn: (r) => r._measurement == \"ping\") |> map(fn: (r) => ({{r with _value: \"x\"}})) |> mean()"
    ));
    assert!(
        e.message.contains("mean cannot aggregate a string column"),
        "{}",
        e.message
    );
}

#[test]
fn derivative_difference_increase_as_counters_need() {
    let base = format!(
        "{RANGE} |> filter(fn: (r) => r._field == \"ifHCInOctets\" and r.ifName == \"Gi1/0/1\")"
    );
    let d = run(&format!(
        "{base} |> derivative(unit: 1s, nonNegative: true)"
    ));
    let v = col(&d[0].tables[0], "_value");
    assert_eq!(
        v[..4],
        [
            Value::Float(100.0),
            Value::Float(100.0),
            Value::Null,
            Value::Float(100.0)
        ]
    );
    assert_eq!(v.len(), 11);
    let d = run(&format!("{base} |> difference()"));
    assert_eq!(
        col(&d[0].tables[0], "_value")[..3],
        [Value::Int(1000), Value::Int(1000), Value::Int(-2900)]
    );
    let d = run(&format!("{base} |> difference(nonNegative: true)"));
    assert_eq!(col(&d[0].tables[0], "_value")[2], Value::Null);
    let d = run(&format!("{base} |> increase()"));
    assert_eq!(
        col(&d[0].tables[0], "_value")[..4],
        [
            Value::Int(1000),
            Value::Int(2000),
            Value::Int(2100),
            Value::Int(3100)
        ]
    );
    let d = run(&format!("{base} |> cumulativeSum() |> limit(n: 3)"));
    assert_eq!(
        col(&d[0].tables[0], "_value"),
        [Value::Int(1000), Value::Int(3000), Value::Int(6000)]
    );
    let d = run(&format!("{base} |> movingAverage(n: 2) |> limit(n: 2)"));
    assert_eq!(
        col(&d[0].tables[0], "_value"),
        [Value::Float(1500.0), Value::Float(2500.0)]
    );
    let d = run(&format!("{base} |> elapsed(unit: 1s) |> limit(n: 1)"));
    assert_eq!(col(&d[0].tables[0], "elapsed"), [Value::Int(10)]);
}

#[test]
fn wire_query_7_derivative_map_aggregate() {
    let q = "from(bucket: \"telegraf\")\n  |> range(start: 2024-06-01T10:00:00Z, stop: 2024-06-01T11:00:00Z)\n  |> filter(fn: (r) => r._measurement == \"interface\" and r.agent_host == \"10.0.0.1\")\n  |> filter(fn: (r) => r._field == \"ifHCInOctets\" or r._field == \"ifHCOutOctets\")\n  |> derivative(unit: 1s, nonNegative: true)\n  |> map(fn: (r) => ({ r with _value: r._value * 8.0 }))\n  |> aggregateWindow(every: 2m0s, fn: mean, createEmpty: false)";
    let r = run(q);
    assert_eq!(r[0].tables.len(), 2);
    assert_eq!(floats(&r[0].tables[0]), [800.0]);
    assert_eq!(floats(&r[0].tables[1]), [400.0]);
    assert_eq!(col(&r[0].tables[0], "_time"), [Value::Time(T0 + 120 * S)]);
}

#[test]
fn wire_query_8_contains_and_regex_filters() {
    let q = format!(
        "{RANGE} |> filter(fn: (r) => r._measurement == \"ping\" and r._field == \"average_response_ms\") |> filter(fn: (r) => contains(value: r.url, set: [\"8.8.8.8\",\"1.1.1.1\"]))"
    );
    assert_eq!(run(&q)[0].tables.len(), 1);
    let q = format!("{RANGE} |> filter(fn: (r) => r.host =~ /^web0[2]$/ and r._field !~ /user/)");
    let r = run(&q);
    assert_eq!(r[0].tables.len(), 1);
    assert_eq!(r[0].tables[0].key_value("host"), Some(&Value::str("web02")));
    let q = format!(
        "import \"strings\"\n{RANGE} |> filter(fn: (r) => strings.hasPrefix(v: r._measurement, prefix: \"int\") and strings.hasSuffix(v: r.ifName, suffix: \"/2\") and strings.containsStr(v: r._field, substr: \"Octets\"))"
    );
    assert_eq!(run(&q)[0].tables.len(), 1);
    let q = format!("{RANGE} |> filter(fn: (r) => exists r.url and not (r._value > 15.0))");
    assert_eq!(floats(&run(&q)[0].tables[0]), [10.0, 12.0, 14.0]);
}
