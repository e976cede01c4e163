//! The embedded store's metrics (`sluice_store_*`), exported at scrape time from `Store::stats`.
//!
//! Owns: their names, help texts and types. Does not own the numbers (`store::runtime`).

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;

use super::collect::{Res, counter, gauge};
use crate::store::StoreStats;

pub(super) fn encode_store(enc: &mut DescriptorEncoder, s: &StoreStats) -> Res {
    gauge(
        enc,
        "store_buffered_rows",
        "Rows in the store's in-memory buffers (before the duplicate merge)",
        s.buffered_rows as i64,
    )?;
    gauge(
        enc,
        "store_buffered_bytes",
        "Estimated bytes in the store's buffers (active and being flushed)",
        s.buffered_bytes as i64,
    )?;
    gauge(enc, "store_files", "Live Parquet files", s.files as i64)?;
    gauge(
        enc,
        "store_file_bytes",
        "Bytes of live Parquet files",
        s.file_bytes as i64,
    )?;
    gauge(
        enc,
        "store_applied_seq",
        "Newest WAL record whose rows queries see",
        s.applied_seq as i64,
    )?;
    gauge(
        enc,
        "store_cursor_seq",
        "The store's durable WAL cursor: every record up to it is in Parquet files",
        s.committed_seq as i64,
    )?;
    gauge(
        enc,
        "store_cursor_lag_records",
        "WAL records applied to the buffers but not yet in Parquet files",
        s.applied_seq.saturating_sub(s.committed_seq) as i64,
    )?;
    counter(enc, "store_flushes", "Completed flushes", s.flushes)?;
    counter(
        enc,
        "store_flush_failures",
        "Failed flush attempts (each is retried)",
        s.flush_failures,
    )?;
    let me = enc.encode_descriptor(
        "store_flush_seconds",
        "Time spent writing flushes",
        None,
        MetricType::Counter,
    )?;
    ConstCounter::new(s.flush_seconds).encode(me)?;
    counter(
        enc,
        "store_rows_written",
        "Rows written to Parquet by flushes",
        s.rows_written,
    )?;
    counter(
        enc,
        "store_files_written",
        "Parquet files written by flushes",
        s.files_written,
    )?;
    counter(
        enc,
        "store_points_refused",
        "WAL points the store could not buffer (type conflict, reserved key)",
        s.points_refused,
    )?;
    counter(
        enc,
        "store_row_groups_read",
        "Parquet row groups scans read",
        s.row_groups_read,
    )?;
    counter(
        enc,
        "store_row_groups_skipped",
        "Parquet row groups scans skipped by statistics",
        s.row_groups_skipped,
    )
}
