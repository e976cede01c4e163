//! `sluice-bench query`'s outputs: the markdown table of medians and ratios, and the files
//! results.json and table.md.

use std::fmt::Write as _;

use super::{FLOOR, QueryArgs, QueryReport, Timing, flux_label};
use crate::bench::BenchError;
use crate::bench::compare::systems::System;

/// A time in ms: one decimal, two below 1 ms (where the answers of both systems are).
pub(super) fn ms(x: f64) -> String {
    if x < 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.1}")
    }
}

/// The markdown table: per query, each system's median and the ratio influxd / sluice.
pub fn table(r: &QueryReport) -> String {
    let find = |sys: System, q: &str| {
        r.timings
            .iter()
            .find(|t| t.system == sys.label() && t.query == q)
    };
    let cell = |t: Option<&Timing>| match t {
        Some(Timing { error: Some(e), .. }) => {
            format!("error: {}", e.chars().take(60).collect::<String>())
        }
        Some(t) => format!(
            "{} (min {}, {} rows)",
            ms(t.median_ms.unwrap_or(0.0)),
            ms(t.min_ms.unwrap_or(0.0)),
            t.rows
        ),
        None => "–".into(),
    };
    let median = |t: Option<&Timing>| t.and_then(|t| t.median_ms);
    let mut s = String::from(
        "| query | influxd 1.6 ms, median | sluice ms, median | **influxd / sluice** |\n|---|---:|---:|---:|\n",
    );
    for (shown, influxd, sluice) in rows(r) {
        let (a, b) = (
            find(System::Influxd, influxd),
            find(System::Sluice, &sluice),
        );
        let (ca, cb, r) = (cell(a), cell(b), ratio(median(a), median(b)));
        let _ = writeln!(s, "| {shown} | {ca} | {cb} | {r} |");
    }
    // The floor is not a target: it shows how much of a short answer's time is the trip.
    let (fa, fb) = (find(System::Influxd, FLOOR), find(System::Sluice, FLOOR));
    let _ = writeln!(s, "| {FLOOR} | {} | {} | – |", cell(fa), cell(fb));
    s.push_str(&work_table(r, &find, fa, fb));
    for l in &r.loads {
        let _ = writeln!(
            s,
            "\nload {}: {} lines in {:.1} s ({:.0} lines/s), idle {:.0} s later",
            l.system,
            l.lines,
            l.seconds,
            l.lines as f64 / l.seconds.max(1e-9),
            l.settled_s
        );
    }
    s
}

/// The second table: per query, each system's server CPU per request and its median less its
/// own `/ping` median, and their ratios influxd / sluice. Both leave out the round trip that
/// bounds the first table's ratio for a sub-millisecond answer.
fn work_table<'a>(
    r: &QueryReport,
    find: &dyn Fn(System, &str) -> Option<&'a Timing>,
    floor_a: Option<&Timing>,
    floor_b: Option<&Timing>,
) -> String {
    let ok = |t: Option<&'a Timing>| t.filter(|t| t.error.is_none());
    let cpu = |t: Option<&Timing>| t.and_then(|t| t.cpu_ms);
    let above =
        |t: Option<&Timing>, floor: Option<&Timing>| Some(t?.median_ms? - floor?.median_ms?);
    let num = |x: Option<f64>| x.map_or_else(|| "–".to_owned(), ms);
    let mut s = String::from(
        "\nServer CPU per request (utime + stime of each system's processes over its requests of the query), and each median less that system's `/ping` median (the time above the round trip):\n\n| query | influxd 1.6 CPU ms | sluice CPU ms | **CPU ratio** | influxd ms above floor | sluice ms above floor | **ratio above floor** |\n|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for (shown, influxd, sluice) in rows(r) {
        let a = ok(find(System::Influxd, influxd));
        let b = ok(find(System::Sluice, &sluice));
        let (ca, cb) = (cpu(a), cpu(b));
        let (aa, ab) = (above(a, floor_a), above(b, floor_b));
        let _ = writeln!(
            s,
            "| {shown} | {} | {} | {} | {} | {} | {} |",
            num(ca),
            num(cb),
            ratio(ca, cb),
            num(aa),
            num(ab),
            ratio(aa, ab)
        );
    }
    let (ca, cb) = (cpu(floor_a), cpu(floor_b));
    let _ = writeln!(s, "| {FLOOR} | {} | {} | – | – | – | – |", num(ca), num(cb));
    s
}

/// The rows of both tables: (label shown, influxd's timing label, sluice's), the InfluxQL
/// queries then their Flux equivalents. influxd has no Flux: a Flux row's influxd side is its
/// InfluxQL timing.
fn rows(r: &QueryReport) -> impl Iterator<Item = (String, &str, String)> {
    let influxql = r
        .queries
        .iter()
        .map(|(l, _)| (l.clone(), l.as_str(), l.clone()));
    let flux = r
        .flux
        .iter()
        .map(|(l, _)| (format!("{l}: sluice in Flux"), l.as_str(), flux_label(l)));
    influxql.chain(flux)
}

/// `**x/y×**`, or `–` when either is missing (or `y` is 0).
fn ratio(x: Option<f64>, y: Option<f64>) -> String {
    match (x, y) {
        (Some(x), Some(y)) if y > 0.0 => format!("**{:.1}×**", x / y),
        _ => "–".to_owned(),
    }
}

/// Writes results.json and table.md into `args.out`; returns the table.
pub fn write_outputs(args: &QueryArgs, r: &QueryReport) -> Result<String, BenchError> {
    let io = |what: String| move |source| BenchError::Io { what, source };
    std::fs::create_dir_all(&args.out).map_err(io(format!("creating {}", args.out.display())))?;
    let t = table(r);
    let json = serde_json::to_string_pretty(r).unwrap_or_default();
    std::fs::write(args.out.join("results.json"), json).map_err(io("results.json".into()))?;
    std::fs::write(args.out.join("table.md"), &t).map_err(io("table.md".into()))?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_shows_ratio_and_errors() {
        let t = |system: System, query: &str, ms: Option<f64>, error: Option<&str>| Timing {
            system: system.label().into(),
            query: query.into(),
            median_ms: ms,
            min_ms: ms,
            runs_ms: ms.into_iter().collect(),
            rows: 3,
            bytes: 10,
            error: error.map(str::to_owned),
            cpu_ms: ms.map(|x| x * 2.0),
            cpu_s: 0.0,
            requests: 0,
        };
        let r = QueryReport {
            loads: vec![],
            queries: vec![("a".into(), "q".into()), ("b".into(), "q".into())],
            flux: vec![("a".into(), "f".into())],
            timings: vec![
                t(System::Influxd, "a", Some(50.0), None),
                t(System::Sluice, "a", Some(5.0), None),
                t(System::Influxd, "b", Some(1.0), None),
                t(System::Sluice, "b", None, Some("200 OK: nope")),
                t(System::Sluice, "a [flux]", Some(2.0), None),
                t(System::Influxd, FLOOR, Some(0.2), None),
                t(System::Sluice, FLOOR, Some(0.1), None),
            ],
        };
        let s = table(&r);
        assert!(
            s.contains("| a | 50.0 (min 50.0, 3 rows) | 5.0 (min 5.0, 3 rows) | **10.0×** |"),
            "{s}"
        );
        assert!(s.contains("error: 200 OK: nope"), "{s}");
        assert!(
            s.contains("| a: sluice in Flux | 50.0 (min 50.0, 3 rows) | 2.0 (min 2.0, 3 rows) | **25.0×** |"),
            "{s}"
        );
        assert!(
            s.contains(
                "| /ping (round-trip floor) | 0.20 (min 0.20, 3 rows) | 0.10 (min 0.10, 3 rows) | – |"
            ),
            "{s}"
        );
        // CPU 100 / 10 ms; above the floor 49.8 / 4.9 ms.
        assert!(
            s.contains("| a | 100.0 | 10.0 | **10.0×** | 49.8 | 4.9 | **10.2×** |"),
            "{s}"
        );
        assert!(s.contains("| b | 2.0 | – | – | 0.80 | – | – |"), "{s}");
        assert!(
            s.contains("| a: sluice in Flux | 100.0 | 4.0 | **25.0×** | 49.8 | 1.9 | **26.2×** |"),
            "{s}"
        );
        assert!(
            s.contains("| /ping (round-trip floor) | 0.40 | 0.20 | – | – | – | – |"),
            "{s}"
        );
    }
}
