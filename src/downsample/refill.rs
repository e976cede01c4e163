//! Refilling a window from the WAL: when a point comes older than its series' newest in a
//! window kept as running aggregates, the window is emptied and refilled, as a log of every
//! point, from the records it was built from (the WAL keeps them: the downsampler's cursor).
//!
//! Owns: the `History` the engine reads records back from, the refill pass, and parsing a
//! record's lines into timed points (shared with `state`'s live path). Does not own
//! deciding that a window must be refilled (`state::take_point`).

use std::collections::HashSet;

use super::aggregate::Point;
use super::state::Engine;
use super::window::FieldId;
use crate::lineproto::{self, Line, ParseOptions};
use crate::model::{Entry, Record, RecordKind, TenantId};

/// Where the engine reads back the records a window was built from, when the window must be
/// refilled as a log (a point came out of order): the WAL live, the fed records in tests and
/// backfill.
pub trait History {
    /// Calls `f` with every record with a seq in `from..=upto`, in order.
    fn records(&self, from: u64, upto: u64, f: &mut dyn FnMut(&Record)) -> Result<(), String>;
}

impl History for Vec<Record> {
    fn records(&self, from: u64, upto: u64, f: &mut dyn FnMut(&Record)) -> Result<(), String> {
        let mut next = from;
        for r in self.iter().filter(|r| (from..=upto).contains(&r.seq.0)) {
            if r.seq.0 != next {
                return Err(format!("record {next} is not kept"));
            }
            f(r);
            next += 1;
        }
        if next <= upto {
            return Err(format!("record {next} is not kept"));
        }
        Ok(())
    }
}

/// Windows to refill: (rule index, group key, window start).
pub(super) type Refills = Vec<(usize, Box<[u8]>, i64)>;

/// The lines of a record with their time in ns. The write path accepted and stamped every
/// line of a client write, so they are read back without checking their values again
/// (`parse_accepted`); a line that does not read, or has no time, is left out.
pub(super) fn timed_lines<'a>(e: &'a Entry) -> impl Iterator<Item = (Line<'a>, i64)> + 'a {
    let opts = ParseOptions {
        precision: e.precision,
        allow_unsigned: true,
    };
    lineproto::split_lines(&e.lines).filter_map(move |raw| {
        let line = lineproto::parse_accepted(raw, &opts).ok()?;
        let ts = line.timestamp()?.saturating_mul(e.precision.nanos());
        Some((line, ts))
    })
}

impl Engine {
    /// Refills `windows` (emptied when their point came out of order) with every point of
    /// theirs in the records from the oldest one's first record up to and including `rec`.
    pub(super) fn refill(
        &mut self,
        tenant: &TenantId,
        windows: &Refills,
        rec: &Record,
        history: &dyn History,
    ) {
        let from = windows
            .iter()
            .filter_map(|(ri, key, start)| {
                let g = self
                    .series
                    .get(tenant)?
                    .get(&**key)?
                    .get(self.rules.get(*ri)?.id)?;
                Some(g.windows.get(*start)?.first_seq)
            })
            .min()
            .unwrap_or(rec.seq.0);
        let wanted: HashSet<(usize, &[u8], i64)> = windows
            .iter()
            .map(|(ri, key, start)| (*ri, &**key, *start))
            .collect();
        let mut feed = |r: &Record| self.refill_from(tenant, &wanted, r);
        if from < rec.seq.0
            && let Err(e) = history.records(from, rec.seq.0 - 1, &mut feed)
        {
            // The WAL keeps every record a held window was built from (the cursor): this is
            // a damaged WAL. The window keeps what could be read.
            tracing::error!(error = %e, from, "downsampler: refilling a window from the WAL failed");
        }
        feed(rec);
        for (ri, key, start) in windows {
            let Some(rule) = self.rules.get(*ri).map(|r| r.id) else {
                continue;
            };
            let w = self
                .series
                .get_mut(tenant)
                .and_then(|s| s.get_mut(&**key))
                .and_then(|gs| gs.get_mut(rule))
                .and_then(|g| g.windows.get_mut(*start));
            if let Some(w) = w {
                w.refilled();
            }
        }
        self.refills += windows.len() as u64;
    }

    /// Adds the points of `rec` that belong to a window in `wanted` to it.
    fn refill_from(
        &mut self,
        tenant: &TenantId,
        wanted: &HashSet<(usize, &[u8], i64)>,
        rec: &Record,
    ) {
        let e = &rec.entry;
        if e.kind != RecordKind::Write || &e.tenant != tenant {
            return;
        }
        let mut numeric: Vec<(&[u8], f64)> = Vec::new();
        let mut fields: Vec<(FieldId, f64)> = Vec::new();
        for (line, ts) in timed_lines(e) {
            line.numeric_fields(&mut numeric);
            for (ri, r) in self.rules.iter_mut().enumerate() {
                let takes = r.c.takes(tenant, &e.bucket);
                if !takes || !r.point_fields(&line, &numeric, false, &mut fields) {
                    continue;
                }
                let (gkey, sid) = r.c.group_of(&line);
                let start = r.c.window(ts);
                if !wanted.contains(&(ri, &*gkey, start)) {
                    continue;
                }
                let g = self
                    .series
                    .get_mut(tenant)
                    .and_then(|s| s.get_mut(&*gkey))
                    .and_then(|gs| gs.get_mut(r.id));
                let Some(g) = g else { continue };
                let sidx = g.sidx(sid);
                if let Some(w) = g.windows.get_mut(start) {
                    for &(k, v) in &fields {
                        w.refill(k, sidx, Point { ts, v });
                    }
                }
            }
        }
    }
}
