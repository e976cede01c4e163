//! What a watermark does to the windows of one rule for one tenant: closing them (emitting
//! their rollups), re-emitting closed windows that changed, expiring them (the newest expired
//! window becomes `rate`'s carry) and forgetting groups that hold nothing.
//!
//! Owns: `settle`. Does not own moving the watermark or taking points (`state`, `take`).

use std::collections::BTreeMap;

use super::group::{Carry, emit_group};
use super::rule::Compiled;
use super::state::{Series, TenantCounts, TenantState};
use crate::model::{BucketName, TenantId};

/// Closes, emits and expires what the watermark allows, and emits changed closed windows.
/// While not `emitting` (replay), only windows that expire are emitted (their final value).
/// `rule`'s groups are in `series` (the tenant's).
#[allow(clippy::too_many_arguments)]
pub(super) fn settle(
    rule: u32,
    c: &Compiled,
    names: &[Box<str>],
    tenant: &TenantId,
    t: &mut TenantState,
    series: &mut Series,
    emitting: bool,
    out: &mut BTreeMap<(TenantId, BucketName), Vec<u8>>,
    counts: &mut BTreeMap<TenantId, TenantCounts>,
) {
    let wm = t.wm;
    let sweep = wm >= t.next_sweep;
    if sweep {
        for (key, gs) in series.iter_mut() {
            let Some(g) = gs.get_mut(rule) else { continue };
            for (start, w) in g.windows.iter_mut() {
                if wm < c.closes_at(start) {
                    break;
                }
                if !w.closed {
                    w.closed = true;
                    w.dirty = true;
                    t.dirty.insert(key.as_slice().into());
                }
            }
        }
    }
    let mut emitted = 0u64;
    // Rollups are written straight after the target bucket's pending lines (a window closing
    // writes megabytes: a buffer of its own was copied again, into memory faulted in twice).
    let target = (tenant.clone(), c.rule.to_bucket.clone());
    let mut buf = out.remove(&target).unwrap_or_default();
    if emitting {
        for key in std::mem::take(&mut t.dirty) {
            if let Some(g) = series.get_mut(&*key).and_then(|gs| gs.get_mut(rule)) {
                emitted += emit_group(c, names, &key, g, wm, true, &mut buf);
            }
        }
    }
    if sweep {
        let mut next = i64::MAX;
        series.retain(|key, gs| {
            let Some(g) = gs.get_mut(rule) else {
                return true;
            };
            if !emitting {
                emitted += emit_group(c, names, key, g, wm, false, &mut buf);
            }
            // Expire: the newest expired window becomes the carry.
            while let Some(start) = g.windows.first_start() {
                if wm < c.expires_at(start) {
                    break;
                }
                let Some((_, w)) = g.windows.pop_first() else {
                    break;
                };
                if c.has_rate && g.carry.as_ref().is_none_or(|k| k.start < start) {
                    g.carry = Some(Carry::of(start, &w));
                }
            }
            if g.carry
                .as_ref()
                .is_some_and(|k| wm >= c.carry_ends_at(k.start))
            {
                g.carry = None;
            }
            for (s, w) in g.windows.iter() {
                next = next.min(if w.closed {
                    c.expires_at(s)
                } else {
                    c.closes_at(s)
                });
            }
            if let Some(k) = &g.carry {
                next = next.min(c.carry_ends_at(k.start));
            }
            if g.windows.is_empty() && g.carry.is_none() {
                gs.retain_rules(|r| r != rule);
            }
            !gs.is_empty()
        });
        t.next_sweep = next;
    }
    if emitted > 0 {
        counts.entry(tenant.clone()).or_default().emitted += emitted;
    }
    if !buf.is_empty() {
        out.insert(target, buf);
    }
}
