//! Durability checks of the issue, against real processes: every write that got a 204 is
//! durable (fsynced before the answer) and reaches the upstream, through SIGKILL, SIGTERM,
//! restarts, upstream outages and a full WAL.
//!
//! - `bulk`: 100 000 lines from 3 tenants, exact, into InfluxDB 1.6.7 and VictoriaMetrics.
//! - `crash`: concurrent writers while sluice is SIGKILLed and restarted repeatedly.
//! - `outage`: the upstream is down for 30 s while writes go on.
//! - `quota`: a small `[wal] max_disk` turns writes into 503 + `Retry-After` until drained.
//! - `shutdown`: SIGTERM under load exits 0 and loses nothing.
//!
//! Each test prints its numbers (`[durability] ...`) on stderr, visible with `--nocapture`
//! or not. Peer servers missing → the test skips loudly (fails under `CI`).

mod bulk;
mod common;
mod crash;
mod outage;
mod quota;
mod shutdown;
