//! The metrics text as a scraper sees it, after real requests through the router.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt as _;

use super::note::record;
use super::*;
use crate::clock::SystemClock;
use crate::config::Config;
use crate::forward::ForwardStatus;
use crate::http::{self, AppState, Core, HttpSettings};
use crate::tenant::{Registry, SharedRegistry, token};
use crate::wal::{SyncMode, Wal, WalConfig};

/// Samples of a Prometheus text: `name{labels}` → value. Labels as written by the encoder.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_owned(), v.parse().unwrap())
        })
        .collect()
}

fn get(s: &BTreeMap<String, f64>, key: &str) -> f64 {
    *s.get(key)
        .unwrap_or_else(|| panic!("no sample {key} in {:#?}", s.keys().collect::<Vec<_>>()))
}

struct Fixture {
    _dir: tempfile::TempDir,
    metrics: Metrics,
    app: axum::Router,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[[tenant]]\nid = \"acme\"\ntoken_sha256 = [\"{}\"]\nbuckets = [\"*\"]\n",
        token::hash("acme-token")
    );
    let config = Config::from_toml_str(&text, |_| None).unwrap();
    let mut wal_cfg = WalConfig::new(dir.path().join("wal"), 1 << 30);
    wal_cfg.segment_bytes = 1 << 20;
    wal_cfg.preallocate = false;
    wal_cfg.sync = SyncMode::Always;
    let (wal, _) = Wal::open(wal_cfg).unwrap();
    let metrics = Metrics::new();
    metrics.sources.attach_wal(wal.clone());
    let clock: Arc<SystemClock> = Arc::new(SystemClock);
    let state = Arc::new(AppState {
        tenants: Arc::new(SharedRegistry::new(Registry::from_config(&config).unwrap())),
        limits: Arc::new(crate::limits::Limits::from_config(&config, clock.clone())),
        settings: HttpSettings {
            max_body_bytes: 1 << 20,
            allow_unsigned: true,
            body_read_timeout: std::time::Duration::from_secs(60),
        },
        clock,
        started: SystemTime::now(),
        core: OnceLock::new(),
        query_metrics: metrics.query.clone(),
        passthrough: None,
    });
    let _ = state.core.set(Core {
        wal,
        forward: None,
        store: None,
    });
    let app = http::router(state).layer(axum::middleware::from_fn_with_state(
        metrics.write.clone(),
        track,
    ));
    Fixture {
        _dir: dir,
        metrics,
        app,
    }
}

async fn send(app: &axum::Router, uri: &str, token: &str, body: &str) -> u16 {
    let req = Request::post(uri)
        .header("authorization", format!("Token {token}"))
        .body(Body::from(body.to_owned()))
        .unwrap();
    app.clone().oneshot(req).await.unwrap().status().as_u16()
}

const V2: &str = "/api/v2/write?org=o&bucket=b";
const V1: &str = "/write?db=b";

#[tokio::test]
async fn write_counters_equal_what_was_sent() {
    let f = fixture();
    let good = "cpu v=1 1\ncpu v=2 2\n# comment\nmem v=3 3\n";
    assert_eq!(send(&f.app, V2, "acme-token", good).await, 204);
    assert_eq!(send(&f.app, V2, "acme-token", "cpu v=4 4\n").await, 204);
    assert_eq!(send(&f.app, V2, "wrong-token", good).await, 401);
    // v2: one bad line refuses all three.
    let bad = "cpu v=1 1\ncpu v= 2\ncpu v=3 3\n";
    assert_eq!(send(&f.app, V2, "acme-token", bad).await, 400);
    // v1: a partial write stores two, refuses one.
    assert_eq!(send(&f.app, V1, "acme-token", bad).await, 400);
    // Other routes are not write requests.
    assert_eq!(send(&f.app, "/ping", "acme-token", "").await, 405);

    let text = f.metrics.encode();
    let s = samples(&text);
    let req = |route: &str, outcome: &str, tenant: &str| {
        get(
            &s,
            &format!(
                "sluice_write_requests_total{{tenant=\"{tenant}\",route=\"{route}\",outcome=\"{outcome}\"}}"
            ),
        )
    };
    assert_eq!(req("/api/v2/write", "accepted", "acme"), 2.0);
    assert_eq!(req("/api/v2/write", "refused", ""), 1.0);
    assert_eq!(req("/api/v2/write", "refused", "acme"), 1.0);
    assert_eq!(req("/write", "partial", "acme"), 1.0);
    assert_eq!(get(&s, "sluice_write_lines_total{tenant=\"acme\"}"), 6.0);
    let bytes = |tenant: &str, outcome: &str| {
        get(
            &s,
            &format!("sluice_write_bytes_total{{tenant=\"{tenant}\",outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!(
        bytes("acme", "accepted"),
        (good.len() + "cpu v=4 4\n".len()) as f64
    );
    assert_eq!(bytes("acme", "refused"), bad.len() as f64);
    assert_eq!(bytes("acme", "partial"), bad.len() as f64);
    // Refused before the body was read.
    assert_eq!(bytes("", "refused"), 0.0);
    let refusals = |tenant: &str, reason: &str| {
        let k = format!("{{tenant=\"{tenant}\",reason=\"{reason}\"}}");
        (
            get(&s, &format!("sluice_write_refusals_total{k}")),
            get(&s, &format!("sluice_write_refused_lines_total{k}")),
        )
    };
    assert_eq!(refusals("", "auth"), (1.0, 0.0));
    assert_eq!(refusals("acme", "parse"), (2.0, 3.0 + 1.0));
    assert!(!s.keys().any(|k| k.contains("/ping")), "{text}");

    // WAL: three records, each fsynced (the requests were sequential).
    assert_eq!(get(&s, "sluice_wal_group_commit_records_sum"), 3.0);
    assert_eq!(get(&s, "sluice_wal_fsync_seconds_count"), 3.0);
    assert_eq!(get(&s, "sluice_wal_fsyncs_total"), 3.0);
    assert_eq!(get(&s, "sluice_wal_segments"), 1.0);
    assert!(get(&s, "sluice_wal_disk_bytes") > 0.0);
    assert_eq!(get(&s, "sluice_wal_last_seq"), 3.0);
    // Types and help as a scraper needs them.
    for line in [
        "# TYPE sluice_write_requests_total counter",
        "# TYPE sluice_wal_fsync_seconds histogram",
        "# TYPE sluice_wal_disk_bytes gauge",
        "# HELP sluice_write_refusals_total Write requests refused, wholly or partly, by reason",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    #[cfg(target_os = "linux")]
    {
        assert!(get(&s, "sluice_process_resident_memory_bytes") > 0.0);
        assert!(get(&s, "sluice_process_open_fds") > 0.0);
        assert!(s.contains_key("sluice_process_cpu_seconds_total"), "{text}");
    }
    // Refusals went to the aggregate log as well.
    let log = f.metrics.write.refusal_log().drain();
    assert_eq!(
        log,
        vec![
            (
                String::new(),
                "refused 0 lines in 1 requests (auth 0 lines/1 req)".to_owned()
            ),
            (
                "acme".to_owned(),
                "refused 4 lines in 2 requests (parse 4 lines/2 req)".to_owned()
            ),
        ]
    );
    assert!(f.metrics.write.refusal_log().drain().is_empty());
}

#[tokio::test]
async fn forwarder_state_is_exported_at_scrape_time() {
    let metrics = Metrics::new();
    let status = ForwardStatus::default();
    let sources = metrics
        .sources
        .clone()
        .with_clock(|| SystemTime::UNIX_EPOCH + Duration::from_secs(1_000));
    let m2 = {
        let mut registry = prometheus_client::registry::Registry::with_prefix("sluice");
        registry.register_collector(Box::new(SluiceCollector::new(sources.clone())));
        registry
    };
    // Nothing attached: no forwarder metrics.
    let mut out = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut out, &m2).unwrap();
    assert!(!out.contains("forward_"), "{out}");

    sources.attach_forward(status.clone());
    let _flight = status.request_started();
    status.responded(Some(204));
    status.responded(None);
    let mut out = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut out, &m2).unwrap();
    let s = samples(&out);
    assert_eq!(get(&s, "sluice_forward_in_flight"), 1.0);
    assert_eq!(
        get(&s, "sluice_forward_upstream_responses_total{class=\"2xx\"}"),
        1.0
    );
    assert_eq!(
        get(
            &s,
            "sluice_forward_upstream_responses_total{class=\"network\"}"
        ),
        1.0
    );
    assert_eq!(get(&s, "sluice_forward_lag_records"), 0.0);
    assert_eq!(get(&s, "sluice_forward_lag_seconds"), 0.0);
}

#[test]
fn notes_outside_a_write_request_are_ignored() {
    note_lines(5);
    note_refused(Reason::Rate, 5);
    let m = WriteMetrics::default();
    record(&m, Route::WriteV2, 429, WriteNote::default(), 10);
    let log = m.refusal_log().drain();
    assert_eq!(
        log[0].1,
        "refused 0 lines in 1 requests (rate 0 lines/1 req)"
    );
}

#[test]
fn reasons_and_outcomes() {
    assert_eq!(Reason::of_status(401), Some(Reason::Auth));
    assert_eq!(Reason::of_status(413), Some(Reason::Size));
    assert_eq!(Reason::of_status(429), Some(Reason::Rate));
    assert_eq!(Reason::of_status(500), None);
    assert_eq!(Reason::ALL.len(), 8);
    assert_eq!(count_lines(b"a v=1\n\n  # c\nb v=2"), 2);
    let m = WriteMetrics::default();
    let tenant = TenantId::new("t").unwrap();
    let note = WriteNote {
        tenant: Some(tenant.clone()),
        accepted_lines: 7,
        refused: vec![(Reason::Cardinality, 3)],
    };
    record(&m, Route::WriteV1, 400, note, 100);
    let labels = RequestLabels {
        tenant: "t".into(),
        route: Route::WriteV1,
        outcome: Outcome::Partial,
    };
    assert_eq!(m.requests.get_or_create(&labels).get(), 1);
    let r = RefusalLabels {
        tenant: "t".into(),
        reason: Reason::Cardinality,
    };
    assert_eq!(m.refused_lines.get_or_create(&r).get(), 3);
    // A 500 without a reason is sluice's error, not a refusal.
    record(&m, Route::WriteV1, 500, WriteNote::default(), 0);
    let labels = RequestLabels {
        tenant: String::new(),
        route: Route::WriteV1,
        outcome: Outcome::Error,
    };
    assert_eq!(m.requests.get_or_create(&labels).get(), 1);
}
