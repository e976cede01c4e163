//! Issue 6's isolation attack suite: for every refusal rule, a request that tries it, in
//! fronting mode and in embedded mode, is refused and its answer holds no data of the other
//! tenant and no name the attacker did not already send.
//!
//! Tenants: `acme` (bucket `telegraf`) attacks `beta`, whose data holds the tag value
//! `beta-only-host` and the measurement `beta_secret`. In fronting mode beta's bucket is
//! `beta_telegraf` upstream and both tenants' upstream credentials are the upstream's admin
//! (InfluxDB 1.6.7) or its all-buckets token (sluice as InfluxDB 2): only sluice's checks stand
//! between them.
//!
//! Fronting mode answers every attack 403 (`{"error": "error authorizing query: …"}` on
//! `/query`, `{"code":"forbidden",…}` on `/api/v2/query`) before anything reaches the
//! upstream, and afterwards the upstream is checked unchanged. Embedded mode answers a foreign
//! bucket exactly as an absent one (InfluxQL: InfluxDB's `database not found` statement error;
//! Flux: 404 `could not find bucket`), so the answer does not even tell that the bucket exists:
//! the test replaces the foreign name by an absent one and asserts the same bytes. Write and
//! administration statements are refused (embedded InfluxQL: a statement error, as InfluxDB's
//! 2.x compatibility API does; embedded Flux: 400 for functions and imports outside the subset)
//! and change nothing.

mod flux;
mod influxql;

use crate::passthrough::flux::write_v2;
use crate::passthrough::influxql::{ACME, BETA, BETA_SECRET, lines};
use crate::support::sluice::{Sluice, SluiceConfig};

/// beta's bucket (embedded) and upstream database (fronting).
pub const FOREIGN: &str = "beta_telegraf";

/// The other tenant's marks: none may appear in an answer to `acme`.
pub const LEAKS: [&str; 3] = [
    crate::passthrough::influxql::BETA_SECRET,
    "beta_secret",
    "beta_telegraf",
];

/// Panics if `body` holds any of [`LEAKS`] (`what` names the attack in the message).
pub fn assert_no_leak(what: &str, body: &str) {
    for l in LEAKS {
        assert!(!body.contains(l), "{what}: the answer holds {l:?}: {body}");
    }
}

/// Embedded mode: `acme` owns `telegraf`, `beta` owns `beta_telegraf` (one hour of points on
/// host `beta-only-host` and one `beta_secret` point).
pub fn embedded() -> Sluice {
    let cfg = SluiceConfig::new()
        .simple_tenant("acme", ACME, &["telegraf"])
        .simple_tenant("beta", BETA, &[FOREIGN])
        .to_toml();
    let s = Sluice::start(&cfg);
    write_v2(&s, ACME, "telegraf", &lines("web01"));
    let beta = format!(
        "{}beta_secret,host={BETA_SECRET} value=42 1717236000000000000\n",
        lines(BETA_SECRET)
    );
    write_v2(&s, BETA, FOREIGN, &beta);
    s
}
