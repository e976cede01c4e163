//! Refusals logged as periodic per-tenant aggregates, so an attack cannot flood the log.
//!
//! Owns: the tally of refusals since the last flush and its one-line-per-tenant summary
//! (`tenant=acme refused 1234 lines in 56 requests (rate 1200 lines/40 req, parse 34/16)`),
//! logged at info every period. Individual refusals are logged at debug by the write
//! middleware. Does not own: the counters (`WriteMetrics`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

use super::Reason;
use crate::model::TenantId;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Count {
    requests: u64,
    lines: u64,
}

/// Refusals since the last flush, per tenant (`""`: unauthenticated) and reason.
#[derive(Debug, Clone, Default)]
pub struct RefusalLog {
    inner: Arc<Mutex<BTreeMap<String, BTreeMap<Reason, Count>>>>,
}

impl RefusalLog {
    pub fn add(&self, tenant: Option<&TenantId>, reason: Reason, lines: u64) {
        let mut map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let key = tenant.map(|t| t.as_str().to_owned()).unwrap_or_default();
        let c = map.entry(key).or_default().entry(reason).or_default();
        c.requests += 1;
        c.lines += lines;
    }

    /// The summaries since the last call, one per tenant (tenant, text), and resets the tally.
    pub fn drain(&self) -> Vec<(String, String)> {
        let map = std::mem::take(&mut *self.inner.lock().unwrap_or_else(PoisonError::into_inner));
        map.into_iter()
            .map(|(tenant, reasons)| {
                let requests: u64 = reasons.values().map(|c| c.requests).sum();
                let lines: u64 = reasons.values().map(|c| c.lines).sum();
                let mut text = format!("refused {lines} lines in {requests} requests (");
                for (i, (reason, c)) in reasons.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    let _ = write!(
                        text,
                        "{sep}{} {} lines/{} req",
                        reason.as_str(),
                        c.lines,
                        c.requests
                    );
                }
                text.push(')');
                (tenant, text)
            })
            .collect()
    }

    /// Logs the summaries since the last flush at info.
    pub fn flush(&self) {
        for (tenant, text) in self.drain() {
            let tenant = if tenant.is_empty() {
                "(unauthenticated)"
            } else {
                tenant.as_str()
            };
            tracing::info!(tenant, "{text}");
        }
    }

    /// Flushes every `period` until `stop` turns true (then once more).
    pub async fn run(self, period: Duration, mut stop: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => self.flush(),
                _ = stop.wait_for(|s| *s) => {
                    self.flush();
                    return;
                }
            }
        }
    }
}
