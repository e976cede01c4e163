//! The downsampler's state machine: records in, rollup lines out. Pure: no IO, no clock (the
//! caller passes monotonic milliseconds for the idle watermark).
//!
//! Owns: windows per (rule, tenant, group), the watermark, closing, late correction, expiry,
//! `rate`'s previous points (the *carry*: the last points of the newest expired window), the
//! oldest WAL record still needed (the cursor) and the counters. Does not own reading the WAL
//! or writing rollups (`run`), nor what one watermark closes, emits and expires (`settle`).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use super::group::Groups;
use super::refill::{History, Refills, timed_lines};
use super::rule::Compiled;
use super::settle::settle;
use super::take::{Incoming, Took, take_point};
use super::window::FieldId;
use crate::config::DownsampleRule;
use crate::lineproto::Line;
use crate::model::{BucketName, Entry, Precision, Record, RecordKind, TenantId, WalSeq};

/// A source idle this long (wall clock) has its watermark advanced by wall-clock time.
pub const IDLE_AFTER_MS: u64 = 5_000;

/// The hash maps of the hot path: keys are line-protocol bytes we do not need to defend
/// against collisions more than ahash does.
/// (hashbrown's, for `entry_ref`: one lookup, and a key copied only when it is new.)
pub(super) type FastMap<K, V> = hashbrown::HashMap<K, V, ahash::RandomState>;

/// State of one rule for one tenant.
#[derive(Debug)]
pub(super) struct TenantState {
    /// Event-time watermark (ns): the newest point's time, or later while the source is idle.
    pub(super) wm: i64,
    /// The newest point's time (ns).
    pub(super) max_ts: i64,
    /// When (caller's ms) the newest point arrived.
    pub(super) last_data_ms: u64,
    /// Groups holding closed windows that changed.
    pub(super) dirty: HashSet<Box<[u8]>, ahash::RandomState>,
    /// The smallest watermark at which a window closes or expires or a carry ends.
    pub(super) next_sweep: i64,
}

impl TenantState {
    fn new(now_ms: u64) -> Self {
        Self {
            wm: i64::MIN,
            max_ts: i64::MIN,
            last_data_ms: now_ms,
            dirty: HashSet::default(),
            next_sweep: i64::MAX,
        }
    }
}

/// A tenant's groups of every rule, by group key (rules without `group_by` share the keys).
pub(super) type Series = FastMap<Vec<u8>, Groups>;

#[derive(Debug)]
pub(super) struct RuleState {
    /// Tells this rule's groups from the others' (see `Groups`); never reused.
    pub(super) id: u32,
    pub(super) c: Compiled,
    pub(super) tenants: HashMap<TenantId, TenantState>,
    /// Measurement (escaped) → taken by the rule; field key (escaped) → its id if taken
    /// (taken fields stay when the cache starts again: windows hold their ids).
    measurements: FastMap<Box<[u8]>, bool>,
    fields: FastMap<Box<[u8]>, Option<FieldId>>,
    /// The names of the fields the rule took, by id.
    field_names: Vec<Box<str>>,
    /// The last line's numeric field keys and what the rule made of them: lines of a
    /// measurement mostly repeat them, and comparing is cheaper than looking each key up.
    layout: Vec<(Box<[u8]>, Option<FieldId>)>,
    /// Whether the rule took the last line's measurement (`layout` is its keys if so).
    took: bool,
}

/// `a == b` for a line's field keys: 8 bytes at a time, inline. Every line's keys are compared
/// with the previous line's, and a `memcmp` call per short key cost more than the comparing.
#[inline]
fn same_key(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut x, mut y) = (a.chunks_exact(8), b.chunks_exact(8));
    (&mut x).zip(&mut y).all(|(p, q)| p == q)
        && x.remainder().iter().zip(y.remainder()).all(|(p, q)| p == q)
}

/// Entries a match cache holds before it starts again (bounds memory on odd input).
const CACHE_MAX: usize = 4096;

/// `f(key)`, remembered; a full cache forgets every entry `keep` does not hold on to.
fn cached<T: Copy>(
    cache: &mut FastMap<Box<[u8]>, T>,
    key: &[u8],
    keep: impl Fn(&T) -> bool,
    f: impl FnOnce(&[u8]) -> T,
) -> T {
    if let Some(&b) = cache.get(key) {
        return b;
    }
    if cache.len() >= CACHE_MAX {
        cache.retain(|_, v| keep(v));
    }
    let b = f(key);
    cache.insert(key.into(), b);
    b
}

impl RuleState {
    fn new(id: u32, rule: DownsampleRule) -> Self {
        Self {
            id,
            c: Compiled::new(rule),
            tenants: HashMap::new(),
            measurements: FastMap::default(),
            fields: FastMap::default(),
            field_names: Vec::new(),
            layout: Vec::new(),
            took: false,
        }
    }

    fn takes_measurement(&mut self, m: &[u8]) -> bool {
        let c = &self.c;
        cached(
            &mut self.measurements,
            m,
            |_| false,
            |m| c.takes_measurement(m),
        )
    }

    /// The id of field key `k` (escaped) if the rule takes it.
    fn takes_field(&mut self, k: &[u8]) -> Option<FieldId> {
        let (c, names) = (&self.c, &mut self.field_names);
        cached(&mut self.fields, k, Option::is_some, |k| {
            if !c.takes_field(k) {
                return None;
            }
            // Not in the cache: a field seen for the first time (taken ones are never dropped).
            let id = FieldId::try_from(names.len()).unwrap_or(FieldId::MAX);
            names.push(String::from_utf8_lossy(k).into());
            Some(id)
        })
    }

    /// The fields of `line` the rule takes, from its numeric ones; false when none.
    /// `same_shape`: the line has the measurement and numeric field keys of the last line this
    /// rule was given (the caller compared them once for every rule).
    pub(super) fn point_fields(
        &mut self,
        line: &Line<'_>,
        numeric: &[(&[u8], f64)],
        same_shape: bool,
        fields: &mut Vec<(FieldId, f64)>,
    ) -> bool {
        fields.clear();
        if !same_shape {
            self.took = self.takes_measurement(line.measurement());
            let same = self.layout.len() == numeric.len()
                && self
                    .layout
                    .iter()
                    .zip(numeric)
                    .all(|(l, n)| same_key(&l.0, n.0));
            if self.took && !same {
                self.layout.clear();
                for &(k, _) in numeric {
                    let id = self.takes_field(k);
                    self.layout.push((k.into(), id));
                }
            }
        }
        if !self.took {
            return false;
        }
        for ((_, id), &(_, v)) in self.layout.iter().zip(numeric) {
            if let Some(id) = id {
                fields.push((*id, v));
            }
        }
        !fields.is_empty()
    }
}

/// Per-tenant counters (monotone).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TenantCounts {
    /// Rollup points (lines) emitted, re-emissions included.
    pub emitted: u64,
    /// Points that arrived after their window expired (dropped from the rollups only).
    pub late_dropped: u64,
}

/// What `/metrics` shows of the state.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EngineStats {
    pub open_windows: u64,
    pub series: u64,
    pub bytes: u64,
    /// Windows refilled from the WAL as logs (a point came out of order), since start.
    pub refills: u64,
}

/// A rule's watermark for one tenant, as the checkpoint keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    pub rule: String,
    pub tenant: TenantId,
    pub wm: i64,
    pub max_ts: i64,
}

/// The downsampler's state for every rule.
#[derive(Debug)]
pub struct Engine {
    pub(super) rules: Vec<RuleState>,
    /// The groups of every rule, per tenant.
    pub(super) series: HashMap<TenantId, Series>,
    /// The id of the next new rule.
    next_id: u32,
    /// Emit windows as they close (off while replaying: they are emitted once, after).
    pub emitting: bool,
    /// Count late points (off while replaying records already counted).
    pub counting: bool,
    out: BTreeMap<(TenantId, BucketName), Vec<u8>>,
    counts: BTreeMap<TenantId, TenantCounts>,
    /// Windows refilled (`refill`).
    pub(super) refills: u64,
}

impl Engine {
    pub fn new(rules: &[DownsampleRule]) -> Self {
        let mut e = Self {
            rules: Vec::new(),
            series: HashMap::new(),
            next_id: 0,
            emitting: true,
            counting: true,
            out: BTreeMap::new(),
            counts: BTreeMap::new(),
            refills: 0,
        };
        e.set_rules(rules);
        e
    }

    /// Takes a new rule set: a rule that is unchanged (same name and definition) keeps its
    /// state; any other starts empty.
    pub fn set_rules(&mut self, rules: &[DownsampleRule]) {
        let mut old: Vec<RuleState> = std::mem::take(&mut self.rules);
        for r in rules {
            match old.iter().position(|s| &s.c.rule == r) {
                Some(i) => self.rules.push(old.swap_remove(i)),
                None => {
                    self.rules.push(RuleState::new(self.next_id, r.clone()));
                    self.next_id += 1;
                }
            }
        }
        // The groups of the rules that went.
        let live: HashSet<u32> = self.rules.iter().map(|r| r.id).collect();
        for series in self.series.values_mut() {
            series.retain(|_, gs| {
                gs.retain_rules(|id| live.contains(&id));
                !gs.is_empty()
            });
        }
    }

    pub fn rules(&self) -> impl Iterator<Item = &DownsampleRule> {
        self.rules.iter().map(|r| &r.c.rule)
    }

    /// Restores watermarks from a checkpoint (before replaying the WAL from the cursor).
    pub fn restore(&mut self, marks: &[Mark], now_ms: u64) {
        for m in marks {
            if let Some(r) = self.rules.iter_mut().find(|r| r.c.rule.name == m.rule) {
                let t = r
                    .tenants
                    .entry(m.tenant.clone())
                    .or_insert_with(|| TenantState::new(now_ms));
                t.wm = t.wm.max(m.wm);
                t.max_ts = t.max_ts.max(m.max_ts);
            }
        }
    }

    /// The watermarks to checkpoint.
    pub fn marks(&self) -> Vec<Mark> {
        let mut v = Vec::new();
        for r in &self.rules {
            for (t, s) in &r.tenants {
                v.push(Mark {
                    rule: r.c.rule.name.clone(),
                    tenant: t.clone(),
                    wm: s.wm,
                    max_ts: s.max_ts,
                });
            }
        }
        v
    }

    /// Feeds one WAL record (client writes only; derived records are not read). Each line is
    /// parsed once, whatever the number of rules. A window that gets a point out of order is
    /// refilled as a log from `history` before anything is emitted.
    pub fn apply(&mut self, rec: &Record, now_ms: u64, history: &dyn History) {
        let e = &rec.entry;
        if e.kind != RecordKind::Write {
            return;
        }
        let active: Vec<usize> = (0..self.rules.len())
            .filter(|&i| self.rules[i].c.takes(&e.tenant, &e.bucket))
            .collect();
        if active.is_empty() {
            return;
        }
        // Each rule's state for the tenant, out of its map while the lines go through (one
        // lookup per record instead of one per line and rule).
        let mut states: Vec<TenantState> = active
            .iter()
            .map(|&ri| {
                let r = &mut self.rules[ri];
                r.tenants
                    .remove(&e.tenant)
                    .unwrap_or_else(|| TenantState::new(now_ms))
            })
            .collect();
        let mut late = vec![0u64; active.len()];
        let mut refills: Refills = Vec::new();
        let mut numeric: Vec<(&[u8], f64)> = Vec::new();
        // The previous line's measurement and numeric fields (borrowed from the same record).
        let mut last_measurement: Option<&[u8]> = None;
        let mut last_numeric: Vec<(&[u8], f64)> = Vec::new();
        // Per active rule, the fields it takes of the line; the rules that take it, with the
        // group key and series id.
        let mut fields: Vec<Vec<(FieldId, f64)>> = vec![Vec::new(); active.len()];
        let mut taken: Vec<(usize, Cow<'_, [u8]>, u64)> = Vec::new();
        let series = self.series.entry(e.tenant.clone()).or_default();
        for (line, ts) in timed_lines(e) {
            line.numeric_fields(&mut numeric);
            let same_shape = last_measurement == Some(line.measurement())
                && last_numeric.len() == numeric.len()
                && last_numeric
                    .iter()
                    .zip(&numeric)
                    .all(|(a, b)| same_key(a.0, b.0));
            taken.clear();
            for ((ai, &ri), f) in active.iter().enumerate().zip(&mut fields) {
                let r = &mut self.rules[ri];
                if r.point_fields(&line, &numeric, same_shape, f) {
                    let (gkey, sid) = r.c.group_of(&line);
                    taken.push((ai, gkey, sid));
                }
            }
            // One lookup per group key. Rules without `group_by` share the line's key, the same
            // slice: equal without comparing bytes.
            let same_group = |a: &[u8], b: &[u8]| std::ptr::eq(a, b) || a == b;
            for run in taken.chunk_by(|a, b| same_group(&a.1, &b.1)) {
                let gkey = &*run[0].1;
                let gs = series.entry_ref(gkey).or_default();
                for &(ai, _, sid) in run {
                    let ri = active[ai];
                    let r = &self.rules[ri];
                    let p = Incoming {
                        seq: rec.seq.0,
                        ts,
                        sid,
                        now_ms,
                    };
                    match take_point(&r.c, r.id, &mut states[ai], gs, gkey, p, &fields[ai]) {
                        Took::Held => {}
                        Took::Late => late[ai] += 1,
                        Took::Refill(start) => refills.push((ri, gkey.into(), start)),
                    }
                }
                if gs.is_empty() {
                    series.remove(gkey);
                }
            }
            last_measurement = Some(line.measurement());
            std::mem::swap(&mut last_numeric, &mut numeric);
        }
        for (&ri, t) in active.iter().zip(states) {
            self.rules[ri].tenants.insert(e.tenant.clone(), t);
        }
        if !refills.is_empty() {
            refills.sort_unstable();
            refills.dedup();
            self.refill(&e.tenant, &refills, rec, history);
        }
        let (emitting, counting) = (self.emitting, self.counting);
        for (ai, &ri) in active.iter().enumerate() {
            let r = &mut self.rules[ri];
            let Some(t) = r.tenants.get_mut(&e.tenant) else {
                continue;
            };
            // A tenant a rule reads has its counters from the start (at 0).
            let counts = self.counts.entry(e.tenant.clone()).or_default();
            if counting {
                counts.late_dropped += late[ai];
            }
            let series = self.series.entry(e.tenant.clone()).or_default();
            settle(
                r.id,
                &r.c,
                &r.field_names,
                &e.tenant,
                t,
                series,
                emitting,
                &mut self.out,
                &mut self.counts,
            );
        }
    }

    /// Advances the watermark of every source idle for `IDLE_AFTER_MS` by the wall-clock time
    /// since its newest point arrived, then closes what that closes.
    pub fn advance_idle(&mut self, now_ms: u64) {
        self.settle_each(self.emitting, |t| {
            let idle = now_ms.saturating_sub(t.last_data_ms);
            if idle < IDLE_AFTER_MS || t.max_ts == i64::MIN {
                return false;
            }
            let idle_ns = i64::try_from(idle).unwrap_or(i64::MAX / 1_000_000) * 1_000_000;
            t.wm = t.wm.max(t.max_ts.saturating_add(idle_ns));
            true
        });
    }

    /// Closes and emits every window (the end of a backfill: no more data will come).
    pub fn close_all(&mut self) {
        self.settle_each(true, |t| {
            t.wm = i64::MAX;
            true
        });
    }

    /// Emits every closed window that changed (after a replay).
    pub fn emit_pending(&mut self) {
        self.settle_each(true, |_| true);
    }

    /// Settles every (rule, tenant) for which `prepare` (which may move the watermark) says so.
    fn settle_each(&mut self, emitting: bool, mut prepare: impl FnMut(&mut TenantState) -> bool) {
        for r in &mut self.rules {
            for (tenant, t) in &mut r.tenants {
                if prepare(t) {
                    let (c, names) = (&r.c, &r.field_names);
                    let series = self.series.entry(tenant.clone()).or_default();
                    settle(
                        r.id,
                        c,
                        names,
                        tenant,
                        t,
                        series,
                        emitting,
                        &mut self.out,
                        &mut self.counts,
                    );
                }
            }
        }
    }

    /// The rollup lines produced since the last call, one derived entry per target bucket.
    pub fn take_output(&mut self) -> Vec<Entry> {
        std::mem::take(&mut self.out)
            .into_iter()
            .map(|((tenant, bucket), lines)| Entry {
                tenant,
                bucket,
                precision: Precision::Nanoseconds,
                kind: RecordKind::Derived,
                lines: lines.into(),
            })
            .collect()
    }

    /// The highest seq the WAL may forget: one before the oldest record a retained window or
    /// carry was built from, or `processed` when nothing is retained.
    pub fn cursor(&self, processed: WalSeq) -> WalSeq {
        let mut oldest = u64::MAX;
        for series in self.series.values() {
            for g in series.values().flat_map(Groups::iter) {
                let windows = g.windows.values().map(|w| w.first_seq);
                for seq in windows.chain(g.carry.iter().map(|k| k.first_seq)) {
                    oldest = oldest.min(seq);
                }
            }
        }
        WalSeq(processed.0.min(oldest.saturating_sub(1)))
    }

    pub fn counts(&self) -> &BTreeMap<TenantId, TenantCounts> {
        &self.counts
    }

    pub fn stats(&self) -> EngineStats {
        let mut s = EngineStats {
            refills: self.refills,
            ..EngineStats::default()
        };
        for series in self.series.values() {
            for (k, gs) in series {
                s.series += gs.len() as u64;
                s.bytes += (k.len() + 56) as u64;
                for g in gs.iter() {
                    s.open_windows += g.windows.len() as u64;
                    s.bytes += g.bytes() as u64;
                }
            }
        }
        s
    }
}
