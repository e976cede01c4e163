//! An output series of a rule: its retained windows, its carry, and its rollup lines; the
//! groups of every rule under one key (`Groups`).
//!
//! Owns: `rate`'s previous point lookup (held windows, then the carry), and writing a
//! window's rollup line. Does not own when windows close or expire (`state`).

use smallvec::SmallVec;

use super::aggregate::{self, Point, Prev, Value};
use super::rule::Compiled;
use super::window::{FieldId, Last, Window, keep_newest};

/// The newest expired window's last point per field and raw series: `rate`'s previous points
/// for the windows after it.
#[derive(Debug)]
pub(super) struct Carry {
    pub start: i64,
    /// The first WAL record that put a point in the window (replay must start before it).
    pub first_seq: u64,
    lasts: Vec<Last>,
}

impl Carry {
    pub fn new(start: i64, first_seq: u64) -> Self {
        Self {
            start,
            first_seq,
            lasts: Vec::new(),
        }
    }

    pub fn of(start: i64, w: &Window) -> Self {
        Self {
            start,
            first_seq: w.first_seq,
            lasts: w.lasts(),
        }
    }

    /// Keeps `p` if it is the newest point of its field and series (or a later write of it).
    pub fn push(&mut self, field: FieldId, sidx: u32, p: Point) {
        keep_newest(&mut self.lasts, field, sidx, p);
    }

    pub fn last(&self, field: FieldId, sidx: u32) -> Option<Point> {
        self.lasts
            .iter()
            .find(|l| (l.0, l.1) == (field, sidx))
            .map(|l| l.2)
    }

    /// Heap bytes held (the carry itself is in its group).
    pub fn bytes(&self) -> usize {
        self.lasts.capacity() * std::mem::size_of::<Last>()
    }
}

/// Windows a group holds without an allocation of their own: a window is retained from its
/// start to its end + grace + late_window, so with the default late_window (`every`) and a
/// grace under `every`, two or three at a time.
const WINDOWS_INLINE: usize = 3;

/// A group's retained windows by start, oldest first. A series holds one to a few windows at
/// a time, so a short sorted array inside the group (spilling to the heap past
/// `WINDOWS_INLINE`) instead of a B-tree or a `Vec`: the hot path reaches its window without
/// a cache miss of its own.
#[derive(Debug, Default)]
pub(super) struct Windows(SmallVec<[(i64, Window); WINDOWS_INLINE]>);

impl Windows {
    fn find(&self, start: i64) -> Result<usize, usize> {
        self.0.binary_search_by_key(&start, |(s, _)| *s)
    }

    pub fn get(&self, start: i64) -> Option<&Window> {
        let i = self.find(start).ok()?;
        self.0.get(i).map(|(_, w)| w)
    }

    pub fn get_mut(&mut self, start: i64) -> Option<&mut Window> {
        let i = self.find(start).ok()?;
        self.0.get_mut(i).map(|(_, w)| w)
    }

    /// The window starting at `start`, made with `new` if there is none.
    pub fn get_or_insert_with(&mut self, start: i64, new: impl FnOnce() -> Window) -> &mut Window {
        // Points mostly go to the newest window: looking there first reads one entry.
        let newest = self.0.len().wrapping_sub(1);
        let i = match self.0.last() {
            Some((s, _)) if *s == start => newest,
            _ => match self.find(start) {
                Ok(i) => i,
                Err(i) => {
                    self.0.insert(i, (start, new()));
                    i
                }
            },
        };
        &mut self.0[i].1
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// (start, window), oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (i64, &Window)> {
        self.0.iter().map(|(s, w)| (*s, w))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (i64, &mut Window)> {
        self.0.iter_mut().map(|(s, w)| (*s, w))
    }

    pub fn values(&self) -> impl Iterator<Item = &Window> {
        self.0.iter().map(|(_, w)| w)
    }

    /// The windows starting in `from..to`, oldest first.
    pub fn range(&self, from: i64, to: i64) -> impl DoubleEndedIterator<Item = (i64, &Window)> {
        let lo = self.0.partition_point(|(s, _)| *s < from);
        let hi = self.0.partition_point(|(s, _)| *s < to).max(lo);
        self.0[lo..hi].iter().map(|(s, w)| (*s, w))
    }

    /// The first window starting after `start`.
    pub fn after_mut(&mut self, start: i64) -> Option<&mut Window> {
        let i = self.0.partition_point(|(s, _)| *s <= start);
        self.0.get_mut(i).map(|(_, w)| w)
    }

    /// The oldest window's start.
    pub fn first_start(&self) -> Option<i64> {
        self.0.first().map(|(s, _)| *s)
    }

    /// Heap bytes held: the windows' cells, and the windows themselves past `WINDOWS_INLINE`.
    fn bytes(&self) -> usize {
        let spilled = if self.0.spilled() {
            self.0.capacity() * std::mem::size_of::<(i64, Window)>()
        } else {
            0
        };
        spilled + self.values().map(Window::bytes).sum::<usize>()
    }

    /// Removes the oldest window.
    pub fn pop_first(&mut self) -> Option<(i64, Window)> {
        (!self.0.is_empty()).then(|| self.0.remove(0))
    }
}

/// The groups of every rule under one group key of a tenant (by rule id): the rules that take a
/// line reach their groups with one lookup of its key, and find them next to each other (one
/// allocation, exactly as long as the rules that have a group here).
#[derive(Debug, Default)]
pub(super) struct Groups(Vec<(u32, Group)>);

impl Groups {
    pub fn get(&self, rule: u32) -> Option<&Group> {
        self.0.iter().find(|(r, _)| *r == rule).map(|(_, g)| g)
    }

    pub fn get_mut(&mut self, rule: u32) -> Option<&mut Group> {
        self.0.iter_mut().find(|(r, _)| *r == rule).map(|(_, g)| g)
    }

    /// The group of `rule`, made empty if it has none.
    pub fn get_or_default(&mut self, rule: u32) -> &mut Group {
        let i = match self.0.iter().position(|(r, _)| *r == rule) {
            Some(i) => i,
            None => {
                self.0.reserve_exact(1);
                self.0.push((rule, Group::default()));
                self.0.len() - 1
            }
        };
        &mut self.0[i].1
    }

    /// Drops the groups of the rules `keep` does not keep.
    pub fn retain_rules(&mut self, keep: impl Fn(u32) -> bool) {
        self.0.retain(|(r, _)| keep(*r));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Group> {
        self.0.iter().map(|(_, g)| g)
    }
}

/// An output series: its retained windows and its carry. In the order a point reads them
/// (`repr(C)`: what every point reads shares the cache line of its rule id in `Groups`).
#[derive(Debug, Default)]
#[repr(C)]
pub(super) struct Group {
    /// A window of the group had a point out of order: new windows are kept as logs (so
    /// a series that keeps doing it costs one refill, not one per window).
    pub logs: bool,
    /// The raw series of the group (one, 0, without `group_by`), by index.
    pub sids: SmallVec<[u64; 1]>,
    pub windows: Windows,
    pub carry: Option<Carry>,
}

impl Group {
    /// The last point of series `sid` of `field` before the window starting at `start`.
    pub fn prev(&self, c: &Compiled, field: FieldId, start: i64, sid: u64) -> Option<Prev> {
        let sidx = self.sids.iter().position(|&s| s == sid)? as u32;
        // At most one empty window between: the same limit for held windows and the carry, so
        // that a window's rate does not depend on when it is emitted (replay defers that).
        let oldest = start.saturating_sub(2 * c.every_ns);
        for (window, w) in self.windows.range(oldest, start).rev() {
            if let Some(point) = w.last(field, sidx) {
                return Some(Prev { window, point });
            }
        }
        let carry = self.carry.as_ref()?;
        if !c.carries_to(carry.start, start) {
            return None;
        }
        let point = carry.last(field, sidx)?;
        Some(Prev {
            window: carry.start,
            point,
        })
    }

    /// Bytes held (an estimate for `/metrics`): the group in its `Groups`, and what it holds
    /// on the heap.
    pub fn bytes(&self) -> usize {
        let sids = if self.sids.spilled() {
            self.sids.capacity() * std::mem::size_of::<u64>()
        } else {
            0
        };
        std::mem::size_of::<(u32, Group)>()
            + self.windows.bytes()
            + self.carry.as_ref().map_or(0, Carry::bytes)
            + sids
    }

    /// The index of raw series `sid`, added if new.
    pub fn sidx(&mut self, sid: u64) -> u32 {
        let i = match self.sids.iter().position(|&s| s == sid) {
            Some(i) => i,
            None => {
                self.sids.push(sid);
                self.sids.len() - 1
            }
        };
        u32::try_from(i).unwrap_or(u32::MAX)
    }

    /// Marks the first closed window after `start` dirty (its rate depends on `start`'s last
    /// points); true when it did.
    pub fn touch_successor(&mut self, start: i64) -> bool {
        match self.windows.after_mut(start) {
            Some(w) if w.closed => {
                w.dirty = true;
                true
            }
            _ => false,
        }
    }
}

/// Emits the group's closed dirty windows (all of them when `all`, else those expiring at
/// `wm`); returns the lines written.
pub(super) fn emit_group(
    c: &Compiled,
    names: &[Box<str>],
    key: &[u8],
    g: &mut Group,
    wm: i64,
    all: bool,
    buf: &mut Vec<u8>,
) -> u64 {
    let mut n = 0;
    let starts: Vec<i64> = g
        .windows
        .iter()
        .filter(|(s, w)| w.closed && w.dirty && (all || wm >= c.expires_at(*s)))
        .map(|(s, _)| s)
        .collect();
    for start in starts {
        if write_line(c, names, key, g, start, buf) {
            n += 1;
        }
        if let Some(w) = g.windows.get_mut(start) {
            w.dirty = false;
        }
    }
    n
}

/// Writes the rollup line of window `start`; false when it has no value to write.
fn write_line(
    c: &Compiled,
    names: &[Box<str>],
    key: &[u8],
    g: &Group,
    start: i64,
    buf: &mut Vec<u8>,
) -> bool {
    let Some(w) = g.windows.get(start) else {
        return false;
    };
    let mark = buf.len();
    buf.extend_from_slice(key);
    buf.push(b' ');
    let mut any = false;
    let name = |id: FieldId| names.get(id as usize).map_or("?", |n| &**n);
    // Fields by name, so a line does not depend on the order names were first seen.
    let mut fields = w.summaries(&g.sids);
    fields.sort_unstable_by_key(|(id, _)| name(*id));
    for (id, series) in fields {
        let field = name(id);
        for &agg in &c.rule.aggregates {
            let prev = |sid| g.prev(c, id, start, sid);
            let Some(v) = aggregate::compute(agg, start, &series, &prev) else {
                continue;
            };
            if any {
                buf.push(b',');
            }
            any = true;
            buf.extend_from_slice(field.as_bytes());
            buf.push(b'_');
            buf.extend_from_slice(agg.name().as_bytes());
            buf.push(b'=');
            push_value(buf, v);
        }
    }
    if !any {
        buf.truncate(mark);
        return false;
    }
    buf.push(b' ');
    buf.extend_from_slice(itoa::Buffer::new().format(start).as_bytes());
    buf.push(b'\n');
    true
}

/// A field value as line protocol: a float as its shortest text that reads back to the same
/// bits (`ryu`: `0.1`, `12.0`, `1e-7`, `1.8e19`; the exponent forms are valid line protocol,
/// as for InfluxDB), an integer with its `i`.
pub(super) fn push_value(buf: &mut Vec<u8>, v: Value) {
    match v {
        // `compute` gives finite floats only.
        Value::Float(f) => buf.extend_from_slice(ryu::Buffer::new().format(f).as_bytes()),
        Value::Int(i) => {
            buf.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
            buf.push(b'i');
        }
    }
}
