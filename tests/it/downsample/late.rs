//! Late data: within late_window a point corrects the stored rollup (visible by querying the
//! target bucket); beyond it the rollup is left as it was, the raw point is stored, and the
//! metric counts it. A point older than its series' newest in the window (and a rewrite of an
//! older point) makes sluice refill the window from the WAL: the rollup is still exact.

use std::time::{Duration, Instant};

use super::common::{TOKEN, embedded_config, metric, rows, sluice_query};
use super::data::{S, T0_S};
use crate::support::sluice::Sluice;
use crate::support::telegraf;

const RULE: &str = r#"
[[downsample]]
tenant = "acme"
from = { bucket = "telegraf" }
every = "1m"
aggregates = ["sum", "count"]
to = { bucket = "telegraf_1m" }
grace = "0s"
late_window = "2m"
"#;

fn write(s: &Sluice, v: f64, at_s: i64) {
    let line = format!("m,host=a v={v} {}\n", (T0_S + at_s) * S);
    let r = telegraf::v2_write(&s.url(), "telegraf", "acme", TOKEN, &line);
    assert_eq!(r.status, 204, "{}", r.text());
}

/// Waits until window T0's rollup is `(sum, count)`.
fn wait_rollup(s: &Sluice, sum: f64, count: f64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = rows(&sluice_query(
            &s.url(),
            "telegraf_1m",
            "SELECT * FROM m GROUP BY *",
        ));
        let row = r.get(&("host=a".to_owned(), T0_S * S));
        if row.is_some_and(|r| r.get("v_sum") == Some(&sum) && r.get("v_count") == Some(&count)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "rollup of window T0 is {row:?}, want sum {sum} count {count}\n{}",
            s.stderr()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn late_points_correct_the_rollup_within_late_window_and_are_counted_after() {
    let s = Sluice::start(&embedded_config(RULE));
    write(&s, 1.0, 10);
    write(&s, 1.0, 20);
    // The watermark passes T0 + 1m: window T0 closes.
    write(&s, 1.0, 70);
    wait_rollup(&s, 2.0, 2.0);
    // 40 s after the window closed: within late_window, the stored rollup is corrected.
    write(&s, 5.0, 30);
    wait_rollup(&s, 7.0, 3.0);
    // Older than the series' newest point of the window (30 s), then a new value for the one at
    // 10 s: the window is refilled from the WAL. Points: 10 → 4, 15 → 2, 20 → 1, 30 → 5.
    write(&s, 2.0, 15);
    write(&s, 4.0, 10);
    wait_rollup(&s, 12.0, 4.0);
    // The downsampler publishes its numbers every 2 s.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = crate::support::http::get(&format!("{}/metrics", s.admin_url()))
            .expect("GET /metrics")
            .text();
        let refills = metrics
            .lines()
            .find_map(|l| l.strip_prefix("sluice_downsample_refilled_windows_total "))
            .map(str::to_owned);
        if refills.as_deref() == Some("1") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "refilled windows: {refills:?}, want 1"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The watermark passes T0 + 1m + 2m: window T0 expires; a point for it now is too late.
    write(&s, 1.0, 200);
    write(&s, 100.0, 40);
    let deadline = Instant::now() + Duration::from_secs(30);
    while metric(
        &s.admin_url(),
        "sluice_downsample_late_dropped_points_total",
    ) != Some(1.0)
    {
        assert!(
            Instant::now() < deadline,
            "late point not counted\n{}",
            s.stderr()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    wait_rollup(&s, 12.0, 4.0);
    // The raw point is stored as usual.
    let raw = rows(&sluice_query(
        &s.url(),
        "telegraf",
        "SELECT v FROM m WHERE v = 100",
    ));
    assert_eq!(raw.len(), 1, "{raw:?}");
    assert!(metric(&s.admin_url(), "sluice_downsample_emitted_points_total").unwrap_or(0.0) >= 2.0);
}
