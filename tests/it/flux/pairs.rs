//! The Flux ↔ InfluxQL pairs: each Flux query with the InfluxQL that InfluxDB 1.6.7 answers
//! the same way, on the data set of `data`, and the convention that maps one to the other
//! (docs/flux.md §8):
//! - `range(start: a, stop: b)` is `time >= a AND time < b` (Flux's stop is exclusive);
//! - `aggregateWindow` stamps a window with its `_stop`, `GROUP BY time` with its start: the
//!   Flux time is the InfluxQL time plus `every` (`shift`);
//! - `createEmpty: false` is `fill(none)`, `createEmpty: true` is `fill(null)`;
//! - Flux's `nonNegative` derivatives and differences answer a null row where InfluxQL drops
//!   the point (`drop_nulls`);
//! - `top`/`bottom` order rows by value, InfluxQL by time (`sort_time`);
//! - a Flux table's group key, reduced to the InfluxQL series' tags, names the series.

use super::data::at;

pub struct Pair {
    pub name: String,
    pub flux: String,
    pub influxql: String,
    /// Seconds added to InfluxQL's times.
    pub shift_s: i64,
    pub drop_nulls: bool,
    pub sort_time: bool,
    /// The Flux column holding the value.
    pub value: &'static str,
}

fn p(name: &str, flux: &str, influxql: &str) -> Pair {
    let (a, b) = (at(0), at(60));
    Pair {
        name: name.to_owned(),
        flux: format!("from(bucket: \"telegraf\")\n  |> range(start: {a}, stop: {b})\n  |> {flux}"),
        influxql: influxql.replace("$tf", &format!("time >= '{a}' AND time < '{b}'")),
        shift_s: 0,
        drop_nulls: false,
        sort_time: false,
        value: "_value",
    }
}

impl Pair {
    fn shift(mut self, s: i64) -> Pair {
        self.shift_s = s;
        self
    }
    fn drop_nulls(mut self) -> Pair {
        self.drop_nulls = true;
        self
    }
    fn sort_time(mut self) -> Pair {
        self.sort_time = true;
        self
    }
    fn value(mut self, v: &'static str) -> Pair {
        self.value = v;
        self
    }
    /// With another range (minutes from the data set's start).
    fn range(mut self, from: i64, to: i64) -> Pair {
        let (a, b) = (at(from), at(to));
        self.flux = self.flux.replace(&at(0), &a).replacen(&at(60), &b, 1);
        self.influxql = self.influxql.replace(
            &format!("time >= '{}' AND time < '{}'", at(0), at(60)),
            &format!("time >= '{a}' AND time < '{b}'"),
        );
        self
    }
}

const CPU_IDLE: &str =
    "filter(fn: (r) => r._measurement == \"cpu\" and r._field == \"usage_idle\")";
const TOTAL: &str = "filter(fn: (r) => r._measurement == \"cpu\" and r._field == \"usage_idle\" and r.cpu == \"cpu-total\")";
const WEB01: &str = "filter(fn: (r) => r._measurement == \"cpu\" and r._field == \"usage_idle\" and r.cpu == \"cpu-total\" and r.host == \"web01\")";
const IN: &str =
    "filter(fn: (r) => r._measurement == \"interface\" and r._field == \"ifHCInOctets\")";
const OUT: &str =
    "filter(fn: (r) => r._measurement == \"interface\" and r._field == \"ifHCOutOctets\")";
const STATUS: &str =
    "filter(fn: (r) => r._measurement == \"interface\" and r._field == \"ifOperStatus\")";
const PING: &str =
    "filter(fn: (r) => r._measurement == \"ping\" and r._field == \"average_response_ms\")";

pub fn all() -> Vec<Pair> {
    let agg = |f: &str, ql: &str, every: &str, secs: i64| {
        p(
            &format!("{f} per {every}"),
            &format!("{TOTAL}\n  |> aggregateWindow(every: {every}, fn: {f}, createEmpty: false)"),
            &format!("SELECT {ql}(\"usage_idle\") FROM \"cpu\" WHERE \"cpu\" = 'cpu-total' AND $tf GROUP BY time({every}), \"host\" fill(none)"),
        )
        .shift(secs)
    };
    vec![
        p("raw one series", WEB01, "SELECT \"usage_idle\" FROM \"cpu\" WHERE \"host\" = 'web01' AND \"cpu\" = 'cpu-total' AND $tf"),
        p("raw every series", CPU_IDLE, "SELECT \"usage_idle\" FROM \"cpu\" WHERE $tf GROUP BY \"host\", \"cpu\""),
        agg("mean", "mean", "1m", 60),
        agg("mean", "mean", "10s", 10),
        agg("max", "max", "5m", 300),
        agg("min", "min", "5m", 300),
        agg("sum", "sum", "10m", 600),
        agg("count", "count", "5m", 300),
        agg("first", "first", "5m", 300),
        agg("last", "last", "5m", 300),
        agg("median", "median", "5m", 300),
        agg("spread", "spread", "5m", 300),
        agg("stddev", "stddev", "5m", 300),
        p("mean fill(null) past the data", &format!("{TOTAL}\n  |> aggregateWindow(every: 5m, fn: mean)"), "SELECT mean(\"usage_idle\") FROM \"cpu\" WHERE \"cpu\" = 'cpu-total' AND $tf GROUP BY time(5m), \"host\" fill(null)").range(40, 80).shift(300),
        p("mean with offset", &format!("{TOTAL}\n  |> aggregateWindow(every: 5m, offset: 1m, fn: mean, createEmpty: false)"), "SELECT mean(\"usage_idle\") FROM \"cpu\" WHERE \"cpu\" = 'cpu-total' AND $tf GROUP BY time(5m, 1m), \"host\" fill(none)").range(1, 56).shift(300),
        p("mean across hosts", &format!("{TOTAL}\n  |> group(columns: [\"_start\", \"_stop\", \"_field\"])\n  |> aggregateWindow(every: 5m, fn: mean, createEmpty: false)"), "SELECT mean(\"usage_idle\") FROM \"cpu\" WHERE \"cpu\" = 'cpu-total' AND $tf GROUP BY time(5m) fill(none)").shift(300),
        p("max per host over all cpus", &format!("{CPU_IDLE}\n  |> group(columns: [\"host\"])\n  |> max()"), "SELECT max(\"usage_idle\") FROM \"cpu\" WHERE $tf GROUP BY \"host\""),
        p("last per series", &format!("{CPU_IDLE}\n  |> last()"), "SELECT last(\"usage_idle\") FROM \"cpu\" WHERE $tf GROUP BY \"host\", \"cpu\""),
        p("first per series", &format!("{CPU_IDLE}\n  |> first()"), "SELECT first(\"usage_idle\") FROM \"cpu\" WHERE $tf GROUP BY \"host\", \"cpu\""),
        p("sum of integers per 10m", &format!("{STATUS}\n  |> aggregateWindow(every: 10m, fn: sum, createEmpty: false)"), "SELECT sum(\"ifOperStatus\") FROM \"interface\" WHERE $tf GROUP BY time(10m), \"ifName\" fill(none)").shift(600),
        p("mode of integers per 10m", &format!("{STATUS}\n  |> aggregateWindow(every: 10m, fn: mode, createEmpty: false)"), "SELECT mode(\"ifOperStatus\") FROM \"interface\" WHERE $tf GROUP BY time(10m), \"ifName\" fill(none)").shift(600),
        p("spread of integers per 10m", &format!("{IN}\n  |> aggregateWindow(every: 10m, fn: spread, createEmpty: false)"), "SELECT spread(\"ifHCInOctets\") FROM \"interface\" WHERE $tf GROUP BY time(10m), \"ifName\" fill(none)").shift(600),
        p("non-negative derivative", &format!("{IN}\n  |> derivative(unit: 1s, nonNegative: true)"), "SELECT non_negative_derivative(\"ifHCInOctets\", 1s) FROM \"interface\" WHERE $tf GROUP BY \"ifName\"").drop_nulls(),
        p("derivative per minute", &format!("{OUT}\n  |> derivative(unit: 1m)"), "SELECT derivative(\"ifHCOutOctets\", 1m) FROM \"interface\" WHERE $tf GROUP BY \"ifName\""),
        p("difference", &format!("{IN}\n  |> difference()"), "SELECT difference(\"ifHCInOctets\") FROM \"interface\" WHERE $tf GROUP BY \"ifName\""),
        p("non-negative difference", &format!("{IN}\n  |> difference(nonNegative: true)"), "SELECT non_negative_difference(\"ifHCInOctets\") FROM \"interface\" WHERE $tf GROUP BY \"ifName\"").drop_nulls(),
        p("cumulative sum", &format!("{STATUS}\n  |> cumulativeSum()"), "SELECT cumulative_sum(\"ifOperStatus\") FROM \"interface\" WHERE $tf GROUP BY \"ifName\""),
        p("moving average", &format!("{PING}\n  |> movingAverage(n: 3)"), "SELECT moving_average(\"average_response_ms\", 3) FROM \"ping\" WHERE $tf GROUP BY \"url\""),
        p("elapsed", &format!("{PING}\n  |> elapsed(unit: 1s)"), "SELECT elapsed(\"average_response_ms\", 1s) FROM \"ping\" WHERE $tf GROUP BY \"url\"").value("elapsed"),
        p("wire #1 ping latency per url", "filter(fn: (r) => r._measurement == \"ping\" and r._field == \"average_response_ms\")\n  |> filter(fn: (r) => r.url =~ /^(8\\.8\\.8\\.8|1\\.1\\.1\\.1)$/)\n  |> aggregateWindow(every: 10s, fn: mean)", "SELECT mean(\"average_response_ms\") FROM \"ping\" WHERE \"url\" =~ /^(8\\.8\\.8\\.8|1\\.1\\.1\\.1)$/ AND $tf GROUP BY time(10s), \"url\" fill(null)").shift(10),
        p("wire #2 packet loss", "filter(fn: (r) => r._measurement == \"ping\" and r._field == \"percent_packet_loss\" and r.url =~ /^(8\\.8\\.8\\.8)$/)\n  |> aggregateWindow(every: 1m, fn: max, createEmpty: false)", "SELECT max(\"percent_packet_loss\") AS \"loss\" FROM \"ping\" WHERE \"url\" =~ /^(8\\.8\\.8\\.8)$/ AND $tf GROUP BY time(1m), \"url\" fill(none)").shift(60),
        p("wire #3 interface bits/s", "filter(fn: (r) => r._measurement == \"interface\" and r._field == \"ifHCInOctets\" and r.agent_host =~ /^(10\\.0\\.0\\.1)$/)\n  |> filter(fn: (r) => r.ifName =~ /^(Gi1\\/0\\/1|Gi1\\/0\\/2)$/)\n  |> aggregateWindow(every: 30s, fn: mean, createEmpty: false)\n  |> derivative(unit: 1s, nonNegative: true)\n  |> map(fn: (r) => ({ r with _value: r._value * 8.0 }))", "SELECT non_negative_derivative(mean(\"ifHCInOctets\"), 1s) *8 AS \"in\" FROM \"interface\" WHERE (\"agent_host\" =~ /^(10\\.0\\.0\\.1)$/ AND \"ifName\" =~ /^(Gi1\\/0\\/1|Gi1\\/0\\/2)$/) AND $tf GROUP BY time(30s), \"ifName\" fill(none)").shift(30).drop_nulls(),
        p("wire #4 cpu of one host", &format!("{WEB01}\n  |> aggregateWindow(every: 10s, fn: mean)"), "SELECT mean(\"usage_idle\") FROM \"autogen\".\"cpu\" WHERE (\"host\" = 'web01' AND \"cpu\" = 'cpu-total') AND $tf GROUP BY time(10s) fill(null)").shift(10),
        p("wire #8 contains", "filter(fn: (r) => r._measurement == \"ping\" and r._field == \"average_response_ms\")\n  |> filter(fn: (r) => contains(value: r.url, set: [\"8.8.8.8\",\"1.1.1.1\"]))\n  |> aggregateWindow(every: 1m, fn: mean, createEmpty: false)", "SELECT mean(\"average_response_ms\") FROM \"ping\" WHERE (\"url\" = '8.8.8.8' OR \"url\" = '1.1.1.1') AND $tf GROUP BY time(1m), \"url\" fill(none)").shift(60),
        p("fill previous", &format!("{PING}\n  |> filter(fn: (r) => r.url == \"1.1.1.1\")\n  |> aggregateWindow(every: 10s, fn: mean)\n  |> fill(usePrevious: true)"), "SELECT mean(\"average_response_ms\") FROM \"ping\" WHERE \"url\" = '1.1.1.1' AND $tf GROUP BY time(10s), \"url\" fill(previous)").shift(10),
        p("fill zero", &format!("{PING}\n  |> filter(fn: (r) => r.url == \"1.1.1.1\")\n  |> aggregateWindow(every: 10s, fn: mean)\n  |> fill(value: 0.0)"), "SELECT mean(\"average_response_ms\") FROM \"ping\" WHERE \"url\" = '1.1.1.1' AND $tf GROUP BY time(10s), \"url\" fill(0)").shift(10),
        p("top", &format!("{WEB01}\n  |> top(n: 3)"), "SELECT top(\"usage_idle\", 3) FROM \"cpu\" WHERE \"host\" = 'web01' AND \"cpu\" = 'cpu-total' AND $tf").sort_time(),
        p("bottom", &format!("{WEB01}\n  |> bottom(n: 3)"), "SELECT bottom(\"usage_idle\", 3) FROM \"cpu\" WHERE \"host\" = 'web01' AND \"cpu\" = 'cpu-total' AND $tf").sort_time(),
        p("limit", &format!("{WEB01}\n  |> limit(n: 5)"), "SELECT \"usage_idle\" FROM \"cpu\" WHERE \"host\" = 'web01' AND \"cpu\" = 'cpu-total' AND $tf LIMIT 5"),
        p("limit offset", &format!("{WEB01}\n  |> limit(n: 3, offset: 2)"), "SELECT \"usage_idle\" FROM \"cpu\" WHERE \"host\" = 'web01' AND \"cpu\" = 'cpu-total' AND $tf LIMIT 3 OFFSET 2"),
        p("newest first", &format!("{WEB01}\n  |> sort(columns: [\"_time\"], desc: true)\n  |> limit(n: 3)"), "SELECT \"usage_idle\" FROM \"cpu\" WHERE \"host\" = 'web01' AND \"cpu\" = 'cpu-total' AND $tf ORDER BY time DESC LIMIT 3"),
        p("value condition", &format!("{WEB01}\n  |> filter(fn: (r) => r._value > 90.0)"), "SELECT \"usage_idle\" FROM \"cpu\" WHERE \"usage_idle\" > 90 AND \"host\" = 'web01' AND \"cpu\" = 'cpu-total' AND $tf"),
        p("tag not equal", &format!("{CPU_IDLE}\n  |> filter(fn: (r) => r.host != \"web01\" and r.cpu !~ /total/)\n  |> count()"), "SELECT count(\"usage_idle\") FROM \"cpu\" WHERE \"host\" != 'web01' AND \"cpu\" !~ /total/ AND $tf GROUP BY \"host\", \"cpu\""),
    ]
}
