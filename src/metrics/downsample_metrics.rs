//! The downsampler's metrics (`sluice_downsample_*`), exported at scrape time from its status.
//!
//! Owns: their names, help texts and types (the names the sluice Grafana dashboard queries).
//! Does not own the numbers (`downsample::run`).

use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

use super::collect::{Res, counter, gauge, labelled};
use crate::downsample::DownsampleStatus;

pub(super) fn encode_downsample(enc: &mut DescriptorEncoder, d: &DownsampleStatus) -> Res {
    let (stats, counts) = d.snapshot();
    gauge(
        enc,
        "downsample_open_windows",
        "Rollup windows held in memory (open, or closed but still taking late points)",
        stats.open_windows as i64,
    )?;
    gauge(
        enc,
        "downsample_series",
        "Rollup series (rule, tenant, group) the downsampler tracks",
        stats.series as i64,
    )?;
    gauge(
        enc,
        "downsample_state_bytes",
        "Estimated bytes of the downsampler's window state",
        stats.bytes as i64,
    )?;
    counter(
        enc,
        "downsample_refilled_windows",
        "Windows refilled from the WAL as a log of their points (a point came out of order)",
        stats.refills,
    )?;
    let emitted: Vec<(String, u64)> = counts
        .iter()
        .map(|(t, c)| (t.to_string(), c.emitted))
        .collect();
    labelled(
        enc,
        (
            "downsample_emitted_points",
            "Rollup points written to the WAL as derived records (re-emissions included)",
            MetricType::Counter,
        ),
        "tenant",
        &emitted,
    )?;
    let late: Vec<(String, u64)> = counts
        .iter()
        .map(|(t, c)| (t.to_string(), c.late_dropped))
        .collect();
    labelled(
        enc,
        (
            "downsample_late_dropped_points",
            "Points that arrived after their window's late_window: stored raw, not in rollups",
            MetricType::Counter,
        ),
        "tenant",
        &late,
    )
}
