//! Taking a line's points into their window: the watermark, a new window or group, the
//! late decision, and `rate`'s carry for points of an expired window.
//!
//! Owns: what happens to one line's points for one rule. Does not own closing, emitting and
//! expiring windows (`state::settle`) or refilling a window (`refill`).

use super::aggregate::Point;
use super::group::{Carry, Group, Groups};
use super::rule::Compiled;
use super::state::TenantState;
use super::window::{FieldId, Window};

/// Where a point comes from: its record, time (ns), series id in its group, arrival (ms).
#[derive(Debug, Clone, Copy)]
pub(super) struct Incoming {
    pub seq: u64,
    pub ts: i64,
    pub sid: u64,
    pub now_ms: u64,
}

/// What became of a line's points for a rule.
pub(super) enum Took {
    /// In their window.
    Held,
    /// Their window had expired: a late point.
    Late,
    /// A point came out of order: the window (starting there) is emptied to be refilled.
    Refill(i64),
}

/// Adds one line's points to its window. `gs`: the groups under the line's group key `gkey`,
/// rule `rule`'s among them (made if the points go in a window or the carry).
#[allow(clippy::too_many_arguments)]
pub(super) fn take_point(
    c: &Compiled,
    rule: u32,
    t: &mut TenantState,
    gs: &mut Groups,
    gkey: &[u8],
    p: Incoming,
    fields: &[(FieldId, f64)],
) -> Took {
    let Incoming {
        seq,
        ts,
        sid,
        now_ms,
    } = p;
    if ts > t.max_ts {
        t.max_ts = ts;
        t.last_data_ms = now_ms;
    }
    t.wm = t.wm.max(ts);
    let start = c.window(ts);
    if t.wm >= c.expires_at(start) {
        if c.has_rate && t.wm < c.carry_ends_at(start) {
            carry_point(
                t,
                c,
                gs.get_or_default(rule),
                gkey,
                start,
                (seq, sid, ts),
                fields,
            );
        }
        return Took::Late;
    }
    let g = gs.get_or_default(rule);
    let sidx = g.sidx(sid);
    let logs = g.logs;
    let w = g.windows.get_or_insert_with(start, || {
        t.next_sweep = t.next_sweep.min(c.closes_at(start));
        Window::new(seq, logs, fields.len())
    });
    let in_order = w.push_line(fields, sidx, ts);
    if !in_order {
        w.start_refill();
    }
    w.dirty = true;
    let mut changed_closed = w.closed;
    if c.has_rate {
        changed_closed |= g.touch_successor(start);
    }
    if changed_closed {
        t.dirty.insert(gkey.into());
    }
    if in_order {
        Took::Held
    } else {
        g.logs = true;
        Took::Refill(start)
    }
}

/// A point for an expired window: it may still be `rate`'s previous point for the next window
/// (the carry keeps the newest expired window's last point per series).
/// `(seq, sid, ts)`: the point's record, series id and time.
fn carry_point(
    t: &mut TenantState,
    c: &Compiled,
    g: &mut Group,
    gkey: &[u8],
    start: i64,
    (seq, sid, ts): (u64, u64, i64),
    fields: &[(FieldId, f64)],
) {
    match &g.carry {
        Some(k) if k.start > start => return,
        Some(k) if k.start == start => {}
        _ => {
            g.carry = Some(Carry::new(start, seq));
            t.next_sweep = t.next_sweep.min(c.carry_ends_at(start));
        }
    }
    let sidx = g.sidx(sid);
    let Some(k) = g.carry.as_mut() else {
        return;
    };
    for &(f, v) in fields {
        k.push(f, sidx, Point { ts, v });
    }
    if g.touch_successor(start) {
        t.dirty.insert(gkey.into());
    }
}
