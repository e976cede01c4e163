//! `sluice downsample backfill`: a rule added after the data came recomputes its rollups from
//! the embedded store; they are stored like live rollups and equal the raw data's aggregates.

use std::process::Command;
use std::time::{Duration, Instant};

use super::common::{TOKEN, close, embedded_config, rows, rules, sluice_query};
use super::data::{self, S, T0_S};
use crate::support::sluice::{Sluice, sluice_bin};
use crate::support::telegraf;

#[test]
fn backfill_recomputes_a_rule_added_later_from_the_store() {
    let d = data::generate(data::Shape {
        devices: 2,
        step_s: 10,
        steps: 360,
        steps_per_batch: 3,
    });
    let mut s = Sluice::start(&embedded_config(""));
    for b in &d.batches {
        let r = telegraf::v2_write(&s.url(), "telegraf", "acme", TOKEN, b);
        assert_eq!(r.status, 204, "{}", r.text());
    }
    s.terminate();
    s.wait_exit(Duration::from_secs(30));
    // The rule is added; backfill the first 50 minutes with it.
    s.rewrite_config(&embedded_config(&rules("1m", "5m")));
    let (from, to) = (T0_S * S, (T0_S + 3000) * S);
    let out = Command::new(sluice_bin())
        .args(["downsample", "backfill", "--config"])
        .arg(s.config_path())
        .args(["--rule", "telegraf_5m", "--from"])
        .arg(from.to_string())
        .args(["--to", "2026-11-01T00:50:00Z"])
        .output()
        .expect("run sluice downsample backfill");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("rollup points"), "{stdout}");
    // Restart without rules: only the backfilled rollups can be in telegraf_5m.
    s.rewrite_config(&embedded_config(""));
    s.restart();
    let q = "SELECT * FROM interface GROUP BY *";
    let raw_q = format!(
        "SELECT mean(\"ifHCInOctets\"), count(\"ifHCInOctets\") FROM interface \
         WHERE time >= {from} AND time < {to} GROUP BY time(5m), *"
    );
    let want = rows(&sluice_query(&s.url(), "telegraf", &raw_q));
    // 2 devices × 2 interfaces × 10 windows.
    assert_eq!(want.len(), 40, "{want:?}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let got = loop {
        let got = rows(&sluice_query(&s.url(), "telegraf_5m", q));
        if got.len() >= want.len() || Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(got.len(), want.len(), "{got:?}");
    for (k, w) in &want {
        let g = &got[k];
        assert!(
            close(g["ifHCInOctets_mean"], w["mean"]),
            "{k:?}: {g:?} {w:?}"
        );
        assert!(
            close(g["ifHCInOctets_count"], w["count"]),
            "{k:?}: {g:?} {w:?}"
        );
        // The window before --from was read: the first window has a rate too.
        assert!(
            g.contains_key("ifHCInOctets_rate") || k.1 == from,
            "{k:?}: {g:?}"
        );
    }
}
