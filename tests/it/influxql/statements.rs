//! The statements the differential test asks both servers, in the forms Grafana and users
//! send them (wire.md §2.3, §2.11, §2.12).
//!
//! Owns: the list (names, text, request shape, expected kind of answer). Does not own: sending
//! or comparing. Time ranges are absolute and inside the data set (`dataset` says what
//! happens when: reboot 10:05, gap 10:20–10:30, interface down 10:40–10:50, late 09:00–09:05,
//! rewrites 10:10–10:12 and 10:30–10:31).

use super::dataset::tenant_names;
use super::request::{Check, Stmt, iso, ns, s, tf, w};

/// Every statement of the differential test.
pub fn all() -> Vec<Stmt> {
    let mut v = raw();
    v.extend(aggregates());
    v.extend(fills_and_transforms());
    v.extend(grouping_and_sources());
    v.extend(shows());
    v.extend(errors_and_isolation());
    v.extend(coverage());
    v
}

/// What the kill -9 and restart checks ask: every point of every series (`count(*)` and
/// `sum(*)` per series over the whole data set, for each tenant and measurement) and the raw
/// selects (late lines, duplicates, rewrites).
pub fn durability() -> Vec<Stmt> {
    let mut v = coverage();
    v.extend(raw());
    v
}

/// Per tenant and measurement, `count(*), sum(*)` of every series over all 16 hours: a
/// checksum of the whole data set.
fn coverage() -> Vec<Stmt> {
    let mut v = Vec::new();
    // Every interface line carries every field: one count is the point count; the sums
    // cover the counters and the rewritten `ifInErrors`.
    let checks = [
        (
            "interface",
            "count(\"ifHCInOctets\"), sum(\"ifHCInOctets\"), sum(\"ifHCOutOctets\"), sum(\"ifInErrors\")",
        ),
        ("ping", "count(*), sum(*)"),
        ("cpu", "count(*), sum(*)"),
        ("snmp", "count(*), sum(\"uptime\")"),
    ];
    for t in 0..3 {
        for (m, aggs) in checks {
            v.push(
                s(
                    &format!("coverage tenant {t} {m}"),
                    format!(
                        "SELECT {aggs} FROM \"{m}\" WHERE {} GROUP BY *",
                        tf(0, 0, 16, 0)
                    ),
                )
                .tenant(t),
            );
        }
    }
    v
}

/// `agent_host = '10.0.0.1' AND ifName = 'Gi1/0/<i>'`
fn iface(a: u32, i: u32) -> String {
    format!("\"agent_host\" = '10.0.0.{a}' AND \"ifName\" = 'Gi1/0/{i}'")
}

const TOTAL: &str = "\"host\" = 'web01' AND \"cpu\" = 'cpu-total'";

fn raw() -> Vec<Stmt> {
    vec![
        s("raw star cpu", format!("SELECT * FROM \"cpu\" WHERE \"host\" = 'web01' AND time >= {} AND time < {}", iso(10, 0), iso(10, 3))),
        s("raw fields rfc3339", format!("SELECT \"usage_idle\", \"usage_user\" FROM \"cpu\" WHERE {TOTAL} AND {}", tf(10, 0, 10, 3))).epoch(None),
        s("raw snmp epoch ns", format!("SELECT * FROM \"snmp\" WHERE {}", tf(10, 0, 10, 2))).epoch(Some("ns")),
        s("raw snmp epoch s", format!("SELECT * FROM \"snmp\" WHERE {}", tf(10, 0, 10, 2))).epoch(Some("s")),
        s("raw snmp epoch u", format!("SELECT \"uptime\" FROM \"snmp\" WHERE {}", tf(10, 0, 10, 2))).epoch(Some("u")),
        s("raw snmp rfc3339nano", format!("SELECT \"uptime\", \"sysLocation\" FROM \"snmp\" WHERE \"agent_host\" = '10.0.0.1' AND {}", tf(10, 0, 10, 8))).epoch(None),
        s("raw interface down", format!("SELECT \"ifHCInOctets\", \"ifOperStatus\" FROM \"interface\" WHERE {} AND {}", iface(1, 5), tf(10, 38, 10, 52))),
        s("raw ping sparse fields", format!("SELECT * FROM \"ping\" WHERE \"url\" = 'sluice.test' AND {}", tf(10, 0, 10, 30))),
        s("raw math", format!("SELECT \"usage_idle\" * 2 + 1, \"usage_user\" / \"usage_system\" AS \"ratio\", 100 - \"usage_idle\" AS \"busy\" FROM \"cpu\" WHERE {TOTAL} AND {}", tf(10, 0, 10, 5))),
        s("raw integer math", format!("SELECT \"ifHCInOctets\" - \"ifHCOutOctets\" AS \"net\", \"ifInErrors\" % 3 FROM \"interface\" WHERE {} AND {}", iface(1, 2), tf(10, 0, 10, 5))),
        s("raw tag column", format!("SELECT \"usage_idle\", \"host\", \"cpu\" FROM \"cpu\" WHERE \"cpu\" = 'cpu0' AND {}", tf(10, 0, 10, 2))),
        s("raw field condition", format!("SELECT \"usage_idle\" FROM \"cpu\" WHERE \"usage_idle\" < 50 AND \"host\" = 'web02' AND {}", w())).check(Check::TiesUnordered),
        s("raw sparse condition", format!("SELECT * FROM \"ping\" WHERE \"percent_packet_loss\" > 0 AND {}", w())).post().check(Check::TiesUnordered),
        s("raw rewrite cpu", format!("SELECT * FROM \"cpu\" WHERE {TOTAL} AND {}", tf(10, 9, 10, 13))),
        s("raw rewrite ifInErrors", format!("SELECT \"ifInErrors\", \"ifOutErrors\" FROM \"interface\" WHERE {} AND {}", iface(1, 1), tf(10, 29, 10, 32))),
        s("raw late lines", format!("SELECT \"ifHCInOctets\" FROM \"interface\" WHERE {} AND {}", iface(2, 1), tf(8, 58, 9, 7))).epoch(Some("s")),
        s("raw gap", format!("SELECT * FROM \"interface\" WHERE {} AND {}", iface(5, 3), tf(10, 18, 10, 32))),
        s("raw ns literals", format!("SELECT \"uptime\" FROM \"snmp\" WHERE \"agent_host\" = '10.0.0.3' AND time >= {} AND time < {}", ns(10, 0), ns(10, 1))).epoch(Some("ns")),
        s("raw order desc limit", format!("SELECT \"average_response_ms\" FROM \"ping\" WHERE \"url\" = '8.8.8.8' AND {} ORDER BY time DESC LIMIT 5", w())),
        s("raw limit offset", format!("SELECT \"usage_user\" FROM \"cpu\" WHERE {} GROUP BY \"cpu\" LIMIT 3 OFFSET 2", tf(10, 0, 10, 10))),
        s("raw regex tags", format!("SELECT \"ifHCOutOctets\" FROM \"interface\" WHERE \"agent_host\" =~ /^10\\.0\\.0\\.[12]$/ AND \"ifName\" !~ /^Gi1\\/0\\/([2-9]|1[01])$/ AND {} GROUP BY \"agent_host\", \"ifName\"", tf(10, 0, 10, 2))),
        s("raw or parens <>", format!("SELECT \"usage_system\" FROM \"cpu\" WHERE (\"cpu\" = 'cpu1' OR \"cpu\" = 'cpu2') AND \"host\" <> 'web02' AND {}", tf(10, 0, 10, 3))),
        s("raw now() relative", "SELECT \"uptime\" FROM \"snmp\" WHERE \"agent_host\" = '10.0.0.4' AND time > now() - 36500d ORDER BY time DESC LIMIT 3"),
    ]
}

fn aggregates() -> Vec<Stmt> {
    let win = w();
    vec![
        // wire.md §2.12 #4 (rp=autogen in the URL too).
        s("grafana cpu mean", format!("SELECT mean(\"usage_idle\") FROM \"autogen\".\"cpu\" WHERE ({TOTAL}) AND {win} GROUP BY time(10s) fill(null)")).rp("autogen"),
        // #1
        s("grafana ping latency per url", format!("SELECT mean(\"average_response_ms\") FROM \"ping\" WHERE \"url\" =~ /^(8\\.8\\.8\\.8|1\\.1\\.1\\.1)$/ AND {win} GROUP BY time(10s), \"url\" fill(null)")),
        // #2
        s("grafana ping loss", format!("SELECT max(\"percent_packet_loss\") AS \"loss\" FROM \"ping\" WHERE \"url\" =~ /^(8\\.8\\.8\\.8)$/ AND {win} GROUP BY time(1m), \"url\" fill(none)")),
        // #3
        s("grafana interface bits/s", format!("SELECT non_negative_derivative(mean(\"ifHCInOctets\"), 1s) *8 AS \"in\", non_negative_derivative(mean(\"ifHCOutOctets\"), 1s) *8 AS \"out\" FROM \"interface\" WHERE (\"agent_host\" =~ /^(10\\.0\\.0\\.1)$/ AND \"ifName\" =~ /^(Gi1\\/0\\/1|Gi1\\/0\\/2)$/) AND {win} GROUP BY time(30s), \"ifName\" fill(null)")),
        s("count per agent", format!("SELECT count(\"ifHCInOctets\") FROM \"interface\" WHERE {win} GROUP BY time(5m), \"agent_host\"")),
        s("median mode spread stddev", format!("SELECT median(\"average_response_ms\"), mode(\"ttl\"), spread(\"average_response_ms\"), stddev(\"average_response_ms\") FROM \"ping\" WHERE {win} GROUP BY time(10m), \"url\"")),
        s("sum min max", format!("SELECT sum(\"ifInErrors\"), min(\"ifHCInOctets\"), max(\"ifHCOutOctets\") FROM \"interface\" WHERE \"agent_host\" = '10.0.0.2' AND {win} GROUP BY time(15m)")),
        s("first last", format!("SELECT first(\"usage_idle\"), last(\"usage_idle\") FROM \"cpu\" WHERE \"cpu\" = 'cpu-total' AND {win} GROUP BY time(15m), \"host\"")).epoch(None),
        s("percentile", format!("SELECT percentile(\"average_response_ms\", 95), percentile(\"average_response_ms\", 50) AS \"p50\" FROM \"ping\" WHERE {win} GROUP BY time(20m), \"url\"")),
        s("integral", format!("SELECT integral(\"usage_idle\"), integral(\"usage_idle\", 1m) FROM \"cpu\" WHERE {TOTAL} AND {win} GROUP BY time(10m)")),
        s("distinct", format!("SELECT distinct(\"ifOperStatus\") FROM \"interface\" WHERE {win}")),
        s("count distinct", format!("SELECT count(distinct(\"packets_received\")) FROM \"ping\" WHERE {win} GROUP BY \"url\"")),
        s("selector keeps its time", format!("SELECT max(\"average_response_ms\") FROM \"ping\" WHERE {win} GROUP BY \"url\"")),
        s("selector with tag and field", format!("SELECT min(\"usage_idle\"), \"cpu\", \"usage_user\" FROM \"cpu\" WHERE \"host\" = 'web02' AND {win}")),
        s("aggregate without window", format!("SELECT mean(\"usage_idle\"), count(\"usage_idle\"), max(\"usage_idle\") FROM \"cpu\" WHERE {win}")).epoch(None),
        // InfluxDB skips the string field `sysLocation`.
        s("sum star with a string field", format!("SELECT sum(*) FROM \"snmp\" WHERE {win} GROUP BY \"agent_host\"")),
        s("count star", format!("SELECT count(*) FROM \"ping\" WHERE {win} GROUP BY \"url\"")),
        s("aggregate math", format!("SELECT mean(\"usage_user\") + mean(\"usage_system\") AS \"busy\", max(\"usage_idle\") / 100 FROM \"cpu\" WHERE {TOTAL} AND {win} GROUP BY time(5m)")),
        s("string first last count", format!("SELECT first(\"sysLocation\"), last(\"sysLocation\"), count(\"sysLocation\") FROM \"snmp\" WHERE {win} GROUP BY \"agent_host\"")),
    ]
}

fn fills_and_transforms() -> Vec<Stmt> {
    let gap = format!(
        "SELECT mean(\"ifHCInOctets\") FROM \"interface\" WHERE {} AND {} GROUP BY time(1m)",
        iface(5, 1),
        tf(10, 15, 10, 35)
    );
    let reboot = format!("{} AND {}", iface(1, 3), tf(10, 0, 10, 10));
    vec![
        s("fill default", gap.clone()),
        s("fill null", format!("{gap} fill(null)")),
        s("fill none", format!("{gap} fill(none)")),
        s("fill zero", format!("{gap} fill(0)")),
        s("fill number", format!("{gap} fill(-1.5)")),
        s("fill previous", format!("{gap} fill(previous)")),
        s("fill linear", format!("{gap} fill(linear)")),
        s(
            "fill previous at start",
            format!(
                "SELECT mean(\"ifHCInOctets\") FROM \"interface\" WHERE {} AND {} GROUP BY time(2m) fill(previous)",
                iface(5, 1),
                tf(10, 21, 10, 40)
            ),
        ),
        s(
            "nnd mean *8 over reboot",
            format!(
                "SELECT non_negative_derivative(mean(\"ifHCInOctets\"), 1s) * 8 FROM \"interface\" WHERE {reboot} GROUP BY time(30s) fill(null)"
            ),
        ),
        s(
            "derivative mean over reboot",
            format!(
                "SELECT derivative(mean(\"ifHCInOctets\"), 1s) FROM \"interface\" WHERE {reboot} GROUP BY time(30s)"
            ),
        ),
        s(
            "derivative raw",
            format!("SELECT derivative(\"ifHCOutOctets\") FROM \"interface\" WHERE {reboot}"),
        ),
        s(
            "nnd raw 10s unit",
            format!(
                "SELECT non_negative_derivative(\"ifHCInOctets\", 10s) FROM \"interface\" WHERE {reboot}"
            ),
        ),
        s(
            "nnd over gap fill(0)",
            format!(
                "SELECT non_negative_derivative(max(\"ifHCInOctets\"), 1s) FROM \"interface\" WHERE {} AND {} GROUP BY time(1m) fill(0)",
                iface(5, 1),
                tf(10, 15, 10, 35)
            ),
        ),
        s(
            "difference",
            format!(
                "SELECT difference(max(\"uptime\")) FROM \"snmp\" WHERE \"agent_host\" = '10.0.0.1' AND {} GROUP BY time(1m)",
                tf(10, 0, 10, 10)
            ),
        ),
        s(
            "non_negative_difference raw",
            format!(
                "SELECT non_negative_difference(\"uptime\") FROM \"snmp\" WHERE \"agent_host\" = '10.0.0.1' AND {}",
                tf(10, 3, 10, 7)
            ),
        ),
        s(
            "moving_average nested",
            format!(
                "SELECT moving_average(mean(\"usage_idle\"), 3) FROM \"cpu\" WHERE {TOTAL} AND {} GROUP BY time(1m)",
                w()
            ),
        ),
        s(
            "moving_average raw",
            format!(
                "SELECT moving_average(\"average_response_ms\", 5) FROM \"ping\" WHERE \"url\" = '1.1.1.1' AND {}",
                tf(10, 0, 10, 10)
            ),
        ),
        s(
            "cumulative_sum nested",
            format!(
                "SELECT cumulative_sum(sum(\"ifInErrors\")) FROM \"interface\" WHERE \"agent_host\" = '10.0.0.3' AND {} GROUP BY time(5m)",
                w()
            ),
        ),
        s(
            "cumulative_sum raw",
            format!(
                "SELECT cumulative_sum(\"packets_received\") FROM \"ping\" WHERE \"url\" = '9.9.9.9' AND {}",
                tf(10, 0, 10, 5)
            ),
        ),
        s(
            "elapsed",
            format!(
                "SELECT elapsed(\"ifHCInOctets\", 1s) FROM \"interface\" WHERE {} AND {}",
                iface(5, 2),
                tf(10, 15, 10, 35)
            ),
        ),
        s(
            "elapsed default unit",
            format!(
                "SELECT elapsed(\"uptime\") FROM \"snmp\" WHERE \"agent_host\" = '10.0.0.2' AND {}",
                tf(10, 0, 10, 2)
            ),
        ),
    ]
}

fn grouping_and_sources() -> Vec<Stmt> {
    let win = w();
    vec![
        s("group by star", format!("SELECT mean(\"usage_idle\") FROM \"cpu\" WHERE {win} GROUP BY *")),
        s("group by time and star", format!("SELECT last(\"percent_packet_loss\") FROM \"ping\" WHERE {win} GROUP BY time(20m), * fill(none)")),
        s("raw group by star", format!("SELECT \"ifOperStatus\" FROM \"interface\" WHERE \"agent_host\" = '10.0.0.1' AND {} GROUP BY *", tf(10, 45, 10, 46))),
        s("offset", format!("SELECT mean(\"usage_idle\") FROM \"cpu\" WHERE {TOTAL} AND {win} GROUP BY time(10m, 3m)")),
        s("window wider than range", format!("SELECT count(\"usage_idle\") FROM \"cpu\" WHERE {TOTAL} AND {} GROUP BY time(1h)", tf(10, 30, 11, 30))).epoch(None),
        s("odd window", format!("SELECT max(\"usage_user\") FROM \"cpu\" WHERE {TOTAL} AND {win} GROUP BY time(7m)")),
        s("tz", format!("SELECT mean(\"usage_idle\") FROM \"cpu\" WHERE {TOTAL} AND {} GROUP BY time(30m) tz('Europe/Paris')", tf(8, 0, 11, 0))).epoch(None),
        s("window desc limit", format!("SELECT mean(\"average_response_ms\") FROM \"ping\" WHERE {win} GROUP BY time(5m), \"url\" ORDER BY time DESC LIMIT 3")),
        s("slimit", format!("SELECT mean(\"ifHCInOctets\") FROM \"interface\" WHERE {win} GROUP BY time(15m), \"agent_host\", \"ifName\" SLIMIT 3")),
        s("slimit soffset", format!("SELECT count(\"usage_idle\") FROM \"cpu\" WHERE {win} GROUP BY \"cpu\", \"host\" SLIMIT 2 SOFFSET 3")),
        s("db.rp.m", format!("SELECT max(\"uptime\") FROM \"telegraf_0\".\"autogen\".\"snmp\" WHERE {win} GROUP BY \"agent_host\"")),
        // One series per measurement: no rows with equal times compete for the LIMIT.
        s("regex source", format!("SELECT * FROM /^(cpu|snmp)$/ WHERE ((\"host\" = 'web01' AND \"cpu\" = 'cpu-total') OR \"agent_host\" = '10.0.0.1') AND {} LIMIT 2", tf(10, 0, 10, 1))),
        s("two measurements", format!("SELECT count(\"usage_idle\"), count(\"uptime\") FROM \"cpu\", \"snmp\" WHERE {win}")),
        s("three statements", format!("SELECT mean(\"usage_idle\") FROM \"cpu\" WHERE {TOTAL} AND {win} GROUP BY time(20m); SHOW MEASUREMENTS; SELECT count(\"ifHCInOctets\") FROM \"interface\" WHERE {win}")).post(),
        s("tenant 1 grafana bits/s", format!("SELECT non_negative_derivative(mean(\"ifHCInOctets\"), 1s) *8 AS \"in\" FROM \"interface\" WHERE (\"agent_host\" =~ /^(10\\.1\\.0\\.1)$/ AND \"ifName\" =~ /^(Gi1\\/0\\/1|Te1\\/1\\/1)$/) AND {win} GROUP BY time(1m), \"ifName\" fill(null)")).tenant(1).token_auth(),
        s("tenant 2 cpu", format!("SELECT mean(\"usage_idle\") FROM \"cpu\" WHERE \"host\" = 'web21' AND {win} GROUP BY time(5m), \"cpu\" fill(linear)")).tenant(2),
        s("tenant 2 gap agent", format!("SELECT count(\"uptime\") FROM \"snmp\" WHERE {} GROUP BY time(2m), \"agent_host\" fill(0)", tf(10, 14, 10, 36))).tenant(2).post(),
    ]
}

fn shows() -> Vec<Stmt> {
    let db0 = tenant_names(0).2;
    vec![
        s("show databases", "SHOW DATABASES").check(Check::OwnDatabases),
        s("show measurements", "SHOW MEASUREMENTS"),
        s("show measurements lower post", "SHOW measurements").post(),
        s("show measurements limit", "SHOW MEASUREMENTS LIMIT 2"),
        s(
            "show measurements limit offset",
            "SHOW MEASUREMENTS LIMIT 2 OFFSET 1",
        ),
        s(
            "show measurements regex",
            "SHOW MEASUREMENTS WITH MEASUREMENT =~ /(?i)CP/ LIMIT 100",
        ),
        s(
            "show measurements eq",
            "SHOW MEASUREMENTS WITH MEASUREMENT = \"ping\"",
        ),
        s(
            "show measurements where",
            "SHOW MEASUREMENTS WHERE \"agent_host\" = '10.0.0.1'",
        ),
        s(
            "show measurements where time",
            format!("SHOW MEASUREMENTS WHERE {}", w()),
        )
        .error(),
        s(
            "show measurements on",
            "SHOW MEASUREMENTS ON \"telegraf_1\"",
        )
        .tenant(1)
        .db(None),
        s("show tag keys", "SHOW TAG KEYS"),
        s("show tag keys from", "SHOW TAG KEYS FROM \"cpu\""),
        s(
            "show tag keys on from",
            format!("SHOW TAG KEYS ON \"{db0}\" FROM \"interface\""),
        )
        .db(None),
        s("show tag values key", "SHOW TAG VALUES WITH KEY = \"host\""),
        s(
            "show tag values from key",
            "SHOW TAG VALUES FROM \"cpu\" WITH KEY = \"host\"",
        ),
        s(
            "show tag values where regex",
            "SHOW TAG VALUES FROM \"interface\" WITH KEY = \"ifName\" WHERE \"agent_host\" =~ /^(10\\.0\\.0\\.1)$/",
        ),
        s(
            "show tag values where eq",
            "SHOW TAG VALUES FROM \"cpu\" WITH KEY = \"host\" WHERE \"cpu\" = 'cpu-total'",
        ),
        s(
            "show tag values in",
            "SHOW TAG VALUES FROM \"cpu\" WITH KEY IN (\"cpu\", \"host\")",
        ),
        s(
            "show tag values key regex",
            "SHOW TAG VALUES FROM \"interface\" WITH KEY =~ /^if/ LIMIT 5",
        ),
        s(
            "show tag values time",
            format!(
                "SHOW TAG VALUES FROM \"ping\" WITH KEY = \"url\" WHERE {}",
                w()
            ),
        ),
        s(
            "show tag values tenant 1",
            "SHOW TAG VALUES FROM \"interface\" WITH KEY = \"agent_host\"",
        )
        .tenant(1),
        s("show field keys", "SHOW FIELD KEYS"),
        s("show field keys from", "SHOW FIELD KEYS FROM \"cpu\""),
        s(
            "show field keys rp",
            "SHOW FIELD KEYS FROM \"autogen\".\"snmp\"",
        ),
        s(
            "show retention policies on",
            format!("SHOW RETENTION POLICIES on \"{db0}\""),
        ),
        s(
            "show retention policies db param",
            "SHOW RETENTION POLICIES",
        )
        .tenant(2),
        s("show series from", "SHOW SERIES FROM \"cpu\""),
        s(
            "show series where limit",
            "SHOW SERIES FROM \"interface\" WHERE \"agent_host\" = '10.0.0.1' LIMIT 5",
        ),
        s("show series limit offset", "SHOW SERIES LIMIT 10 OFFSET 3").epoch(None),
    ]
}

fn errors_and_isolation() -> Vec<Stmt> {
    let (foreign, absent) = (tenant_names(1).2, "telegraf_nosuch".to_owned());
    let as_absent = Check::AsAbsent {
        foreign: foreign.clone(),
        absent: absent.clone(),
    };
    let win = w();
    vec![
        s("parse error", "SELEC * FROM \"cpu\"").error(),
        s("parse error post", "SELECT mean( FROM \"cpu\"").post().error(),
        s("unknown db", format!("SELECT * FROM \"cpu\" WHERE {win}")).db(Some(&absent)).error(),
        // InfluxDB 1.6.7 answers SHOW MEASUREMENTS on an absent database with no series and no
        // error, unlike every other SHOW.
        s("unknown db show measurements", "SHOW MEASUREMENTS").db(Some(&absent)).empty(),
        s("unknown db show tag keys", "SHOW TAG KEYS").db(Some(&absent)).error(),
        s("unknown db in statement", format!("SELECT * FROM \"{absent}\"..\"cpu\" WHERE {win}")).error(),
        s("absent db param, db in statement", format!("SELECT count(\"usage_idle\") FROM \"telegraf_0\"..\"cpu\" WHERE {win}")).db(Some(&absent)),
        s("no db", format!("SELECT * FROM \"cpu\" WHERE {win}")).db(None).error(),
        s("empty db grafana", "SHOW measurements").db(Some("")).error(),
        // InfluxDB 1.6.7 takes the range from the first point to now() (fill(null) would give a
        // row per hour up to now).
        s("group by time without range", format!("SELECT mean(\"usage_idle\") FROM \"cpu\" WHERE {TOTAL} GROUP BY time(1h) fill(none)")),
        s("unknown measurement", format!("SELECT * FROM \"nosuch\" WHERE {win}")).empty(),
        s("unknown field", format!("SELECT \"nosuch\" FROM \"cpu\" WHERE {win}")).empty(),
        s("outside the data", format!("SELECT mean(\"usage_idle\") FROM \"cpu\" WHERE time >= {} AND time < {}", iso(-20, 0), iso(-19, 0))).empty(),
        s("isolation db param", format!("SELECT * FROM \"cpu\" WHERE {win}")).db(Some(&foreign)).error().check(as_absent.clone()),
        s("isolation db.rp.m", format!("SELECT * FROM \"{foreign}\".\"autogen\".\"cpu\" WHERE {win}")).error().check(as_absent.clone()),
        s("isolation show on", format!("SHOW MEASUREMENTS ON \"{foreign}\"")).db(None).empty().check(as_absent.clone()),
        s("isolation show tag keys", format!("SHOW TAG KEYS ON \"{foreign}\"")).db(None).error().check(as_absent.clone()),
        s("isolation second statement", format!("SELECT count(\"usage_idle\") FROM \"cpu\" WHERE {win}; SELECT count(\"usage_idle\") FROM \"{foreign}\"..\"cpu\" WHERE {win}")).error().check(as_absent.clone()),
        s("isolation show tag values", format!("SHOW TAG VALUES ON \"{foreign}\" WITH KEY = \"host\"")).error().check(as_absent.clone()),
        s("isolation retention policies", format!("SHOW RETENTION POLICIES ON \"{foreign}\"")).error().check(as_absent),
    ]
}
