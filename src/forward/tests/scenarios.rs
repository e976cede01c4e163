use std::collections::HashMap;
use std::time::Duration;

use super::fake::{Dialect, Fake, Fault};
use super::*;

/// (seq, n) of a line made by `lines_for`.
fn seq_n(line: &str) -> (u64, u64) {
    let f = |key: &str| -> u64 {
        let start = line.find(key).unwrap() + key.len();
        line[start..].split('i').next().unwrap().parse().unwrap()
    };
    (f("seq="), f(",n="))
}

#[tokio::test]
async fn delivers_everything_once_and_in_order_through_faults() {
    let (fake, url) = Fake::start(Dialect::V2).await;
    fake.with(|i| {
        i.faults.extend([
            Fault::Status {
                code: 503,
                retry_after: Some("0"),
                body: "",
            },
            Fault::Drop,
            Fault::Status {
                code: 500,
                retry_after: None,
                body: "{\"code\":\"internal error\"}",
            },
            Fault::Status {
                code: 429,
                retry_after: Some("1"),
                body: "",
            },
            Fault::Drop,
            Fault::Status {
                code: 502,
                retry_after: None,
                body: "bad gateway",
            },
        ])
    });
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(url, UpstreamApi::V2, dir.path());
    cfg.batch_lines = 7;
    cfg.max_in_flight = 2;
    let run = start(cfg, "tok");

    // The watermark never passes a record whose lines were not all written.
    let expected: Arc<Mutex<HashMap<u64, Vec<String>>>> = Arc::default();
    let monitor = {
        let (mut acked, fake, expected) = (run.acked.clone(), fake.clone(), expected.clone());
        tokio::spawn(async move {
            let mut checks = 0;
            while acked.changed().await.is_ok() {
                let w = acked.borrow_and_update().0;
                let written = unique(&fake.written_lines());
                for (seq, lines) in expected.lock().unwrap().iter() {
                    if *seq <= w {
                        assert!(
                            lines.iter().all(|l| written.contains(l)),
                            "watermark {w} passed record {seq}"
                        );
                    }
                }
                checks += 1;
            }
            checks
        })
    };

    let lanes = [("a", "x"), ("a", "y"), ("b", "x"), ("b", "y")];
    let mut sent = Vec::new();
    for seq in 1..=120u64 {
        let (t, b) = lanes[(seq % 4) as usize];
        let lines = lines_for(&format!("{t}{b}"), seq, 1 + (seq % 5) as usize);
        expected.lock().unwrap().insert(seq, lines.clone());
        sent.extend(lines.clone());
        run.send(record(seq, t, b, Precision::Nanoseconds, &lines))
            .await;
    }
    let (acked, status) = run.finish().await;
    assert_eq!(acked, WalSeq(120));
    assert!(monitor.await.unwrap() > 0);

    // Exactly once: only 204 answers write, and nothing is acknowledged unwritten.
    let written = fake.written_lines();
    assert_eq!(written.len(), sent.len());
    assert_eq!(unique(&written), unique(&sent));

    // Order per lane, and the request shape.
    let (requests, by_lane) = fake.with(|i| {
        let mut by_lane: HashMap<String, Vec<(u64, u64)>> = HashMap::new();
        for (q, l) in &i.written {
            by_lane.entry(q.clone()).or_default().push(seq_n(l));
        }
        (i.requests.clone(), by_lane)
    });
    assert_eq!(by_lane.len(), 4);
    for (q, order) in &by_lane {
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "lane {q} out of order: {order:?}"
        );
    }
    for r in &requests {
        assert_eq!(r.path, "/api/v2/write");
        assert!(
            r.query.starts_with("org=org-") && r.query.ends_with("&precision=ns"),
            "{}",
            r.query
        );
        assert_eq!(r.auth.as_deref(), Some("Token tok"));
        assert!(r.gzip);
        assert!(r.lines.len() <= 7, "batch over budget: {}", r.lines.len());
    }
    // Retry-After: 1 on the 429 was honoured for that lane.
    let i429 = 3;
    let next = requests[i429 + 1..]
        .iter()
        .find(|r| r.query == requests[i429].query)
        .unwrap();
    assert!(next.at - requests[i429].at >= Duration::from_millis(950));

    let snap = status.snapshot();
    let totals = snap.tenant_totals();
    let delivered: u64 = totals.values().map(|t| t.delivered_lines).sum();
    assert_eq!(delivered, sent.len() as u64);
    assert!(totals.values().map(|t| t.retries).sum::<u64>() >= 6);
    assert!(
        snap.buckets
            .values()
            .all(|b| !b.failing && b.pending_records == 0)
    );
    assert_eq!((snap.watermark, snap.lag_records), (WalSeq(120), 0));
}

#[tokio::test]
async fn splits_on_413_and_dead_letters_a_single_line_still_too_large() {
    let (fake, url) = Fake::start(Dialect::V1).await;
    fake.with(|i| i.max_lines = Some(3));
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(url, UpstreamApi::V1, dir.path());
    cfg.gzip = false;
    let run = start(cfg, "tok");
    let first = lines_for("ax", 1, 20);
    let mut second = lines_for("ax", 2, 4);
    second.insert(2, "m,lane=ax huge=1i 5".to_owned());
    run.send(record(1, "a", "x/rp1", Precision::Seconds, &first))
        .await;
    run.send(record(2, "a", "x/rp1", Precision::Seconds, &second))
        .await;
    let (acked, status) = run.finish().await;
    assert_eq!(acked, WalSeq(2));

    let mut sent = first.clone();
    sent.extend(second.iter().filter(|l| !l.contains("huge")).cloned());
    let written = fake.written_lines();
    assert_eq!(
        written, sent,
        "everything but the huge line, once, in order"
    );
    let (queries, max_sent) = fake.with(|i| {
        let q: HashSet<String> = i
            .requests
            .iter()
            .map(|r| format!("{}?{}", r.path, r.query))
            .collect();
        (q, i.requests.iter().map(|r| r.lines.len()).max().unwrap())
    });
    assert_eq!(
        queries,
        HashSet::from(["/write?db=up_x&rp=rp1&precision=s".to_owned()])
    );
    assert!(max_sent > 3, "the first request carried the whole batch");

    let dl = dead_letters(dir.path(), "a");
    assert_eq!(dl.len(), 1);
    assert_eq!(dl[0]["status"], 413);
    assert_eq!(dl[0]["bucket"], "x/rp1");
    assert_eq!(dl[0]["precision"], "s");
    assert_eq!(dl[0]["lines"], serde_json::json!(["m,lane=ax huge=1i 5"]));
    assert_eq!(
        status.snapshot().tenant_totals()[&TenantId::new("a").unwrap()].dead_lettered_lines,
        1
    );
}

#[tokio::test]
async fn v2_parse_errors_dead_letter_named_lines_and_resend_the_rest() {
    let (fake, url) = Fake::start(Dialect::V2).await;
    let dir = tempfile::tempdir().unwrap();
    let run = start(config(url, UpstreamApi::V2, dir.path()), "tok");
    let mut lines = lines_for("ax", 1, 4);
    lines.insert(1, "m,lane=ax bad=\"two words\" 7".to_owned());
    lines.push("m,lane=ax bad=x 8".to_owned());
    run.send(record(1, "t1", "x", Precision::Nanoseconds, &lines))
        .await;
    // Hours have no v2 name: sent as ns.
    run.send(record(
        2,
        "t1",
        "h",
        Precision::Hours,
        &["m,lane=h s=\"a b\" 477010".to_owned()],
    ))
    .await;
    let (acked, _) = run.finish().await;
    assert_eq!(acked, WalSeq(2));

    let written = fake.with(|i| i.written.clone());
    let good: Vec<String> = lines
        .iter()
        .filter(|l| !l.contains("bad="))
        .cloned()
        .collect();
    let in_x: Vec<String> = written
        .iter()
        .filter(|(q, _)| q.contains("bucket=up_x"))
        .map(|(_, l)| l.clone())
        .collect();
    assert_eq!(in_x, good, "the rest was re-sent once, in order");
    let in_h: Vec<&(String, String)> = written
        .iter()
        .filter(|(q, _)| q.contains("bucket=up_h"))
        .collect();
    assert_eq!(in_h.len(), 1);
    assert!(in_h[0].0.ends_with("precision=ns"));
    assert_eq!(in_h[0].1, "m,lane=h s=\"a b\" 1717236000000000000");

    let dl = dead_letters(dir.path(), "t1");
    assert_eq!(dl.len(), 1);
    assert_eq!(dl[0]["status"], 400);
    assert_eq!(
        dl[0]["lines"],
        serde_json::json!(["m,lane=ax bad=\"two words\" 7", "m,lane=ax bad=x 8"])
    );
    assert!(
        dl[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("unable to parse 'm,lane=ax bad=")
    );
}

#[tokio::test]
async fn v1_partial_write_keeps_the_rest_as_written() {
    let (fake, url) = Fake::start(Dialect::V1).await;
    let dir = tempfile::tempdir().unwrap();
    let run = start(config(url, UpstreamApi::V1, dir.path()), "tok");
    let mut lines = lines_for("ax", 1, 5);
    lines.insert(3, "m,lane=ax bad=1.1.1 9".to_owned());
    run.send(record(1, "t1", "x", Precision::Milliseconds, &lines))
        .await;
    let (acked, status) = run.finish().await;
    assert_eq!(acked, WalSeq(1));
    let requests = fake.with(|i| i.requests.clone());
    assert_eq!(
        requests.len(),
        1,
        "nothing is re-sent after a 1.x partial write"
    );
    assert_eq!(requests[0].query, "db=up_x&precision=ms");
    let good: Vec<String> = lines
        .iter()
        .filter(|l| !l.contains("bad="))
        .cloned()
        .collect();
    assert_eq!(fake.written_lines(), good);
    let dl = dead_letters(dir.path(), "t1");
    assert_eq!(dl.len(), 1);
    assert_eq!(dl[0]["lines"], serde_json::json!(["m,lane=ax bad=1.1.1 9"]));
    let b =
        &status.snapshot().buckets[&(TenantId::new("t1").unwrap(), BucketName::new("x").unwrap())];
    assert_eq!((b.delivered_lines, b.dead_lettered_lines), (5, 1));
}

#[tokio::test]
async fn unauthorized_keeps_the_data_and_reports_it() {
    let (fake, url) = Fake::start(Dialect::V2).await;
    fake.with(|i| i.require_auth = Some("Token good".into()));
    let dir = tempfile::tempdir().unwrap();
    let run = start(config(url, UpstreamApi::V2, dir.path()), "wrong");
    let mut sent = Vec::new();
    for seq in 1..=3 {
        let lines = lines_for("ax", seq, 2);
        sent.extend(lines.clone());
        run.send(record(seq, "t1", "x", Precision::Nanoseconds, &lines))
            .await;
    }
    let key = (TenantId::new("t1").unwrap(), BucketName::new("x").unwrap());
    run.wait_for("a 401 in status", |s| {
        s.buckets.get(&key).is_some_and(|b| {
            b.failing && b.retries >= 3 && b.last_error.as_ref().unwrap().status == Some(401)
        })
    })
    .await;
    let snap = run.status.snapshot();
    assert_eq!(*run.acked.borrow(), WalSeq(0));
    assert_eq!(snap.buckets[&key].pending_records, 3);
    assert_eq!(
        snap.buckets[&key].last_error.as_ref().unwrap().message,
        "unauthorized access"
    );
    assert_eq!(snap.lag_records, 3);
    assert!(fake.written_lines().is_empty());
    assert!(dead_letters(dir.path(), "t1").is_empty());

    // The token is fixed (config reload): the next retry delivers everything.
    *run.resolve.token.lock().unwrap() = "good".into();
    let (acked, status) = run.finish().await;
    assert_eq!(acked, WalSeq(3));
    assert_eq!(unique(&fake.written_lines()), unique(&sent));
    let b = &status.snapshot().buckets[&key];
    assert!(!b.failing);
    assert_eq!(b.last_error.as_ref().unwrap().status, Some(401));
}

#[tokio::test]
async fn shutdown_stops_at_a_clean_watermark() {
    let (fake, url) = Fake::start(Dialect::V2).await;
    fake.with(|i| i.require_auth = Some("Token good".into()));
    let dir = tempfile::tempdir().unwrap();
    let run = start(config(url, UpstreamApi::V2, dir.path()), "good");
    run.send(record(
        1,
        "t1",
        "x",
        Precision::Nanoseconds,
        &lines_for("a", 1, 2),
    ))
    .await;
    run.wait_for("record 1 delivered", |s| s.watermark == WalSeq(1))
        .await;
    *run.resolve.token.lock().unwrap() = "wrong".into();
    run.send(record(
        2,
        "t1",
        "x",
        Precision::Nanoseconds,
        &lines_for("a", 2, 2),
    ))
    .await;
    run.send(record(
        3,
        "t2",
        "x",
        Precision::Nanoseconds,
        &lines_for("b", 3, 2),
    ))
    .await;
    run.wait_for("failures", |s| {
        s.buckets.values().filter(|b| b.failing).count() == 2
    })
    .await;
    run.shutdown.send(true).unwrap();
    let res = tokio::time::timeout(Duration::from_secs(2), run.task).await;
    res.expect("run stops promptly on shutdown")
        .unwrap()
        .unwrap();
    assert_eq!(*run.acked.borrow(), WalSeq(1));
}

#[tokio::test]
async fn field_type_conflict_dead_letters_identified_lines_and_counts_the_rest() {
    let (fake, url) = Fake::start(Dialect::V2).await;
    let dir = tempfile::tempdir().unwrap();
    let run = start(config(url, UpstreamApi::V2, dir.path()), "tok");
    let mut lines = lines_for("c", 1, 3);
    lines.insert(1, "m,lane=c conflict=\"s p\" 5".to_owned());
    run.send(record(1, "t1", "x", Precision::Nanoseconds, &lines))
        .await;
    let (acked, status) = run.finish().await;
    assert_eq!(acked, WalSeq(1));
    assert_eq!(
        fake.with(|i| i.requests.len()),
        1,
        "the rest was written: no re-send"
    );
    let dl = dead_letters(dir.path(), "t1");
    assert_eq!(dl.len(), 1);
    assert_eq!(dl[0]["status"], 422);
    assert_eq!(dl[0]["dropped"], 1);
    assert_eq!(
        dl[0]["lines"],
        serde_json::json!(["m,lane=c conflict=\"s p\" 5"])
    );
    assert!(dl[0].get("note").is_none(), "identified: no caveat");
    let b =
        &status.snapshot().buckets[&(TenantId::new("t1").unwrap(), BucketName::new("x").unwrap())];
    assert_eq!((b.delivered_lines, b.dead_lettered_lines), (3, 1));
}

/// A dead-letter sink that fails (like a full disk) until told otherwise.
struct FlakySink {
    failing: std::sync::atomic::AtomicBool,
    inner: crate::forward::FileSink,
}

impl crate::forward::DeadLetterSink for FlakySink {
    fn append(&self, tenant: &TenantId, record: &[u8]) -> std::io::Result<()> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(std::io::Error::other("no space left on device"));
        }
        self.inner.append(tenant, record)
    }
}

#[tokio::test]
async fn a_failing_dead_letter_write_holds_the_watermark() {
    let (_fake, url) = Fake::start(Dialect::V2).await;
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(FlakySink {
        failing: true.into(),
        inner: crate::forward::FileSink::new(dir.path().to_path_buf()),
    });
    let run = start_with_sink(
        config(url, UpstreamApi::V2, dir.path()),
        "tok",
        sink.clone(),
    );
    run.send(record(
        1,
        "t1",
        "x",
        Precision::Nanoseconds,
        &["m bad=1 1".to_owned()],
    ))
    .await;
    run.wait_for("dead-letter failures", |s| {
        s.buckets.values().any(|b| {
            b.retries >= 2
                && b.last_error
                    .as_ref()
                    .is_some_and(|e| e.message.contains("no space left"))
        })
    })
    .await;
    assert_eq!(*run.acked.borrow(), WalSeq(0));
    assert!(dead_letters(dir.path(), "t1").is_empty());
    sink.failing
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let (acked, _) = run.finish().await;
    assert_eq!(acked, WalSeq(1));
    assert_eq!(dead_letters(dir.path(), "t1").len(), 1);
}
