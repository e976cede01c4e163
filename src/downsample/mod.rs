//! Streaming downsampling: `[[downsample]]` rules turn client writes into rollups as they
//! stream through the WAL, restart-safe.
//!
//! Owns: rules made ready for matching (`rule`), the aggregates and the counter wrap rule
//! (`aggregate`), windows, watermark, late correction and the WAL cursor (`state`), what a
//! watermark closes, emits and expires (`settle`), the checkpoint of the watermarks
//! (`checkpoint`), the WAL consumer that writes rollups back into the WAL as derived records
//! (`run`), and recomputing rollups from the embedded store (`backfill`). Does not own the config keys (`config::downsample`), delivering rollups (the
//! forwarder and the store treat derived records like any write), or `/metrics` encoding.
//!
//! # Semantics (see docs/downsampling.md)
//!
//! - A rule reads the client writes (`RecordKind::Write`) of `from.bucket` of its tenant(s);
//!   it never reads derived records, so rollups are not rolled up again.
//! - Windows are `[k × every + offset, (k+1) × every + offset)` since the Unix epoch; a
//!   rollup point carries its window's start as timestamp, the measurement name and the
//!   group's tags (all tags, or `group_by`'s), and one field `<field>_<aggregate>` per
//!   numeric input field and aggregate (`count` is an integer, the rest floats).
//! - Points with the same series, field and timestamp count once: the later write wins.
//! - The watermark of a (rule, tenant) is the newest point's time; while no new point
//!   arrives for 5 s of wall-clock time it moves on with the wall clock from there. A window
//!   closes (is emitted) when the watermark reaches its end + `grace`; a point for a closed
//!   window re-emits it (same series, same timestamp: InfluxDB and the store overwrite it)
//!   until the watermark reaches its end + `grace` + `late_window`, when it expires. Later
//!   points are dropped from the rollups (the raw point is stored as usual) and counted.
//! - `rate`: per series, the sum of the counter's increases from its last point before the
//!   window to its last point in it, divided by the time between the two windows' starts.
//!   Without wraps or resets that is `non_negative_derivative(last(x), 1s)` over `GROUP BY
//!   time(every)`. A decrease from a value within the top quarter of 2³² (or 2⁶⁴) is a
//!   wrap; any other decrease is a reset and that step adds nothing. The previous point
//!   comes from the window before, or the one before that (held, or the newest expired
//!   window: the carry); a series with no such point has no `rate` there. In a `group_by` group the rates of
//!   its series are summed.
//! - Restart: the consumer's WAL cursor is one before the oldest record any retained window
//!   or carry was built from, so the WAL keeps those segments (and counts them in its
//!   quota). The checkpoint file keeps the watermarks; on restart the WAL is replayed from
//!   the cursor with them, which rebuilds the same windows, then every closed window is
//!   emitted again (the same values).
//! - State: running aggregates per window, group, field and raw series while each series'
//!   points come in time order; a window that gets an older point is refilled from the WAL as
//!   a log of every point (`refill`), and its group's later windows start as logs.

pub mod aggregate;
pub mod backfill;
pub mod checkpoint;
mod group;
mod refill;
pub mod rule;
pub mod run;
mod settle;
pub mod state;
mod take;
mod window;

#[cfg(test)]
mod tests;

pub use refill::History;
pub use run::{DOWNSAMPLE_CONSUMER, DownsampleStatus, DownsampleTask, start};
pub use state::{Engine, EngineStats, TenantCounts};
