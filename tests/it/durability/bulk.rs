//! Bulk delivery: 100 000 Telegraf lines from 3 tenants through sluice reach InfluxDB 1.6.7
//! (`api = "v1"`) exactly, and a smaller set reaches VictoriaMetrics (`api = "v2"`) exactly in
//! its `m_f` float mapping.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::common::{
    Attempts, Dialect, Tenant, config, diff_points, poll, report, request, send_until_acked,
    tenants, wait_influx_count,
};
use crate::support::http::Request;
use crate::support::influxdb::{InfluxOpts, InfluxV1};
use crate::support::point::{FieldVal, Point};
use crate::support::sluice::Sluice;
use crate::support::telegraf::{InterfaceLines, now_ns};
use crate::support::victoria::VictoriaMetrics;

/// Request sizes cycle through these (Telegraf's `metric_batch_size` range seen in the field).
const BATCH_SIZES: [u64; 5] = [1000, 3000, 5000, 2000, 4000];

/// One request of the plan: which tenant, which generator lines, which endpoint.
#[derive(Debug, Clone)]
struct Job {
    tenant: usize,
    lines: Range<u64>,
    dialect: Dialect,
}

/// Splits `0..per_tenant` of every tenant into requests of [`BATCH_SIZES`], interleaving the
/// tenants and alternating the dialects.
fn plan(n_tenants: usize, per_tenant: u64) -> Vec<Job> {
    let mut per: Vec<Vec<Range<u64>>> = vec![Vec::new(); n_tenants];
    for (t, ranges) in per.iter_mut().enumerate() {
        let mut at = 0;
        let mut k = t;
        while at < per_tenant {
            let end = (at + BATCH_SIZES[k % BATCH_SIZES.len()]).min(per_tenant);
            ranges.push(at..end);
            at = end;
            k += 1;
        }
    }
    let longest = per.iter().map(Vec::len).max().unwrap_or(0);
    let mut jobs = Vec::new();
    for i in 0..longest {
        for (t, ranges) in per.iter().enumerate() {
            if let Some(r) = ranges.get(i) {
                jobs.push(Job {
                    tenant: t,
                    lines: r.clone(),
                    dialect: Dialect::alternate(jobs.len()),
                });
            }
        }
    }
    jobs
}

/// Builds every job's request (generation and gzip happen before the clock starts), then
/// sends them from `senders` threads; every request must end in a 204 (503 and connection
/// errors are retried). Returns the summed retries and the wall time of the sending.
fn send_all(
    base: &str,
    ts: &[Tenant],
    jobs: &[Job],
    senders: usize,
    body: impl Fn(&Job) -> String + Sync,
) -> (Attempts, Duration) {
    let build = |i: usize| {
        let j = &jobs[i];
        request(base, &ts[j.tenant], j.dialect, &body(j))
    };
    let mut slots: Vec<Option<Request>> = vec![None; jobs.len()];
    let mid = jobs.len().div_ceil(2);
    std::thread::scope(|s| {
        let (lo, hi) = slots.split_at_mut(mid);
        for (offset, part) in [(0, lo), (mid, hi)] {
            s.spawn(move || {
                for (i, slot) in part.iter_mut().enumerate() {
                    *slot = Some(build(offset + i));
                }
            });
        }
    });
    let requests: Vec<Request> = slots.into_iter().map(|r| r.expect("built")).collect();
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(120);
    let total = std::thread::scope(|s| {
        let handles: Vec<_> = (0..senders)
            .map(|_| {
                s.spawn(|| {
                    let mut sum = Attempts::default();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(req) = requests.get(i) else {
                            return sum;
                        };
                        sum += send_until_acked(req, Duration::from_millis(100), deadline)
                            .unwrap_or_else(|e| panic!("job {i} {:?}: {e}", jobs[i]));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("sender thread"))
            .fold(Attempts::default(), |mut acc, a| {
                acc += a;
                acc
            })
    });
    (total, started.elapsed())
}

/// Tenant `t`'s generator: 4 agents × 8 interfaces every 10 s, ending before now, shifted by
/// `t` ms so a point that leaked into another tenant's database would not match.
fn generator(t: usize, per_tenant: u64) -> InterfaceLines {
    let mut g = InterfaceLines::near_now(0);
    let gathers = i64::try_from(per_tenant.div_ceil(g.series())).expect("fits");
    g.start_ns = now_ns() - gathers * g.interval_ns + i64::try_from(t).expect("fits") * 1_000_000;
    g
}

#[test]
fn influxdb_v1_upstream_gets_100k_lines_from_3_tenants_exactly() {
    let Some(influx) = InfluxV1::try_start(InfluxOpts::default()) else {
        return;
    };
    let ts = tenants("bulk", 3);
    for t in &ts {
        influx.create_db(&t.bucket);
    }
    let sluice = Sluice::start(&config(&influx.url(), "v1", &ts, &[], &[]));
    let per_tenant: u64 = 33_400;
    let gens: Vec<InterfaceLines> = (0..ts.len()).map(|t| generator(t, per_tenant)).collect();
    let jobs = plan(ts.len(), per_tenant);
    let total = per_tenant * ts.len() as u64;

    let (retries, took) = send_all(&sluice.url(), &ts, &jobs, 6, |j| {
        gens[j.tenant].batch(j.lines.clone())
    });
    report(&format!(
        "influxdb bulk: {total} lines in {} requests acknowledged in {took:.2?} \
         ({:.0} lines/s, retries {retries:?})",
        jobs.len(),
        total as f64 / took.as_secs_f64()
    ));

    let started = Instant::now();
    for t in &ts {
        wait_influx_count(
            &influx,
            &t.bucket,
            "interface",
            per_tenant,
            Duration::from_secs(180),
        );
    }
    let delivered = took + started.elapsed();
    report(&format!(
        "influxdb bulk: all {total} lines in InfluxDB {delivered:.2?} after the first request \
         ({:.0} lines/s end to end)",
        total as f64 / delivered.as_secs_f64()
    ));

    for (t, g) in ts.iter().zip(&gens) {
        let got = influx.select_all(&t.bucket, "interface");
        let want = g.points(0..per_tenant);
        if let Some(d) = diff_points(&want, &got) {
            panic!("database {}: {d}", t.bucket);
        }
        let types = influx.field_types(&t.bucket, "interface");
        assert!(
            types.values().all(|ty| ty == "integer") && types.len() == 10,
            "{}: field types {types:?}",
            t.bucket
        );
    }
    report(&format!(
        "influxdb bulk: every point compared (measurement, tags, field values and types, \
         timestamps) in {:.2?}",
        started.elapsed()
    ));
}

/// Tenant `t`'s lines carry `host=telegraf-t<t>`, so the tenants stay apart in
/// VictoriaMetrics (its `/api/v2/write` drops the bucket).
fn vm_point(g: &InterfaceLines, t: usize, i: u64) -> Point {
    let mut p = g.point(i);
    p.tags.insert("host".into(), format!("telegraf-t{t}"));
    p
}

fn vm_body(g: &InterfaceLines, t: usize, r: Range<u64>) -> String {
    let host = format!("host=telegraf-t{t},");
    r.map(|i| g.line(i).replacen("host=telegraf-01,", &host, 1))
        .collect()
}

/// (metric name, labels) → sorted, deduplicated (ms timestamp, value bits).
type Samples = BTreeMap<(String, BTreeMap<String, String>), Vec<(i64, u64)>>;

fn expected_vm(points: impl Iterator<Item = Point>) -> Samples {
    let mut out = Samples::new();
    for p in points {
        for (f, v) in &p.fields {
            let FieldVal::Int(v) = v else {
                panic!("generator fields are integers")
            };
            let key = (format!("{}_{f}", p.measurement), p.tags.clone());
            out.entry(key)
                .or_default()
                .push((p.time_ns / 1_000_000, (*v as f64).to_bits()));
        }
    }
    for v in out.values_mut() {
        v.sort_unstable();
        v.dedup();
    }
    out
}

#[test]
fn victoriametrics_v2_upstream_gets_the_lines_of_3_tenants_exactly() {
    let Some(vm) = VictoriaMetrics::try_start() else {
        return;
    };
    let ts = tenants("vmbulk", 3);
    let sluice = Sluice::start(&config(&vm.url(), "v2", &ts, &[], &[]));
    let per_tenant: u64 = 10_000;
    let gens: Vec<InterfaceLines> = (0..ts.len()).map(|t| generator(t, per_tenant)).collect();
    let jobs = plan(ts.len(), per_tenant);
    let total = per_tenant * ts.len() as u64;

    let (retries, took) = send_all(&sluice.url(), &ts, &jobs, 4, |j| {
        vm_body(&gens[j.tenant], j.tenant, j.lines.clone())
    });
    report(&format!(
        "victoriametrics bulk: {total} lines ({} samples) in {} requests acknowledged in \
         {took:.2?} ({:.0} lines/s, retries {retries:?})",
        total * 10,
        jobs.len(),
        total as f64 / took.as_secs_f64()
    ));

    let want = expected_vm((0..ts.len()).flat_map(|t| {
        let g = gens[t];
        (0..per_tenant).map(move |i| vm_point(&g, t, i))
    }));
    let want_samples: usize = want.values().map(Vec::len).sum();
    assert_eq!(
        want_samples as u64,
        total * 10,
        "generator samples are unique"
    );

    let started = Instant::now();
    let (got, waited) = poll("victoriametrics export", Duration::from_secs(180), || {
        vm.flush();
        let series = vm.export(r#"{__name__=~"interface_.+"}"#);
        let n: usize = series.iter().map(|s| s.values.len()).sum();
        if n >= want_samples {
            Ok(series)
        } else {
            Err(format!("{n} of {want_samples} samples"))
        }
    });
    let mut got_map = Samples::new();
    let mut raw = 0;
    for s in &got {
        raw += s.values.len();
        let mut v: Vec<(i64, u64)> = s
            .timestamps
            .iter()
            .zip(&s.values)
            .map(|(t, v)| (*t, v.to_bits()))
            .collect();
        v.sort_unstable();
        v.dedup();
        got_map.insert((s.name().to_owned(), s.labels()), v);
    }
    report(&format!(
        "victoriametrics bulk: {want_samples} samples exported {:.2?} after the last 204 \
         (waited {waited:.2?}; {} duplicate samples from redelivery)",
        started.elapsed(),
        raw - got_map.values().map(Vec::len).sum::<usize>()
    ));
    assert_eq!(got_map.len(), want.len(), "series count");
    for (key, w) in &want {
        let g = got_map
            .get(key)
            .unwrap_or_else(|| panic!("series {key:?} missing in VictoriaMetrics"));
        assert!(
            g == w,
            "series {key:?}: want {} samples, got {}; first difference at {:?}",
            w.len(),
            g.len(),
            w.iter().zip(g).find(|(a, b)| a != b)
        );
    }
}
