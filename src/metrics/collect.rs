//! Scrape-time export of state other modules already keep: the WAL (`Wal::stats`,
//! `Wal::observations`), the forwarder (`ForwardStatus::snapshot`), the embedded store
//! (`Store::stats`, see `store_metrics`) and the process.
//!
//! Owns: the names, help texts and types of those metrics. Does not own the numbers. A source
//! not attached yet (the WAL during replay, the forwarder in embedded mode) exports nothing.

use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use super::process;
use crate::downsample::DownsampleStatus;
use crate::forward::{ForwardStatus, StatusSnapshot};
use crate::limits::Limits;
use crate::store::Store;
use crate::wal::Wal;

pub(super) type Res = Result<(), std::fmt::Error>;

/// The components exported at scrape time, attached as they come up. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ScrapeSources {
    wal: Arc<OnceLock<Wal>>,
    forward: Arc<OnceLock<ForwardStatus>>,
    limits: Arc<OnceLock<Arc<Limits>>>,
    store: Arc<OnceLock<Arc<Store>>>,
    downsample: Arc<OnceLock<Arc<DownsampleStatus>>>,
    /// Wall clock for the forwarder's lag in seconds.
    now: fn() -> SystemTime,
}

impl Default for ScrapeSources {
    fn default() -> Self {
        Self {
            wal: Arc::default(),
            forward: Arc::default(),
            limits: Arc::default(),
            store: Arc::default(),
            downsample: Arc::default(),
            now: SystemTime::now,
        }
    }
}

impl ScrapeSources {
    /// Exports `wal` from now on (the first call wins).
    pub fn attach_wal(&self, wal: Wal) {
        let _ = self.wal.set(wal);
    }

    /// Exports the forwarder's state from now on (the first call wins).
    pub fn attach_forward(&self, status: ForwardStatus) {
        let _ = self.forward.set(status);
    }

    /// Exports the live series per tenant from now on (the first call wins).
    pub fn attach_limits(&self, limits: Arc<Limits>) {
        let _ = self.limits.set(limits);
    }

    /// Exports the embedded store from now on (the first call wins).
    pub fn attach_store(&self, store: Arc<Store>) {
        let _ = self.store.set(store);
    }

    /// Exports the downsampler's state and counters from now on (the first call wins).
    pub fn attach_downsample(&self, status: Arc<DownsampleStatus>) {
        let _ = self.downsample.set(status);
    }

    #[cfg(test)]
    pub(crate) fn with_clock(mut self, now: fn() -> SystemTime) -> Self {
        self.now = now;
        self
    }
}

/// The collector registered in the registry.
#[derive(Debug)]
pub struct SluiceCollector {
    sources: ScrapeSources,
}

impl SluiceCollector {
    pub fn new(sources: ScrapeSources) -> Self {
        Self { sources }
    }
}

impl Collector for SluiceCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Res {
        if let Some(wal) = self.sources.wal.get() {
            encode_wal(&mut enc, wal)?;
        }
        if let Some(status) = self.sources.forward.get() {
            encode_forward(&mut enc, &status.snapshot(), (self.sources.now)())?;
        }
        if let Some(limits) = self.sources.limits.get() {
            let samples: Vec<(String, u64)> = limits
                .live_series_per_tenant()
                .into_iter()
                .map(|(t, n)| (t.to_string(), n as u64))
                .collect();
            labelled(
                &mut enc,
                (
                    "series_live",
                    "Distinct series (measurement + tag set) seen within the tenant's window",
                    MetricType::Gauge,
                ),
                "tenant",
                &samples,
            )?;
        }
        if let Some(store) = self.sources.store.get() {
            super::store_metrics::encode_store(&mut enc, &store.stats())?;
        }
        if let Some(d) = self.sources.downsample.get() {
            super::downsample_metrics::encode_downsample(&mut enc, d)?;
        }
        if let Some(p) = process::read() {
            let me = enc.encode_descriptor(
                "process_cpu_seconds",
                "User and system CPU time of the sluice process",
                None,
                MetricType::Counter,
            )?;
            ConstCounter::new(p.cpu_seconds).encode(me)?;
            gauge(
                &mut enc,
                "process_resident_memory_bytes",
                "Resident set size",
                p.resident_bytes as i64,
            )?;
            gauge(
                &mut enc,
                "process_open_fds",
                "Open file descriptors",
                p.open_fds as i64,
            )?;
        }
        Ok(())
    }
}

pub(super) fn gauge(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: impl EncodeGaugeValue,
) -> Res {
    let me = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(v).encode(me)
}

pub(super) fn counter(enc: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> Res {
    let me = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    ConstCounter::new(v).encode(me)
}

/// One metric with one label, a sample per `(label value, value)`.
pub(super) fn labelled(
    enc: &mut DescriptorEncoder,
    (name, help, kind): (&str, &str, MetricType),
    label: &str,
    samples: &[(String, u64)],
) -> Res {
    let mut me = enc.encode_descriptor(name, help, None, kind)?;
    for (value, n) in samples {
        let labels = [(label, value.as_str())];
        let m = me.encode_family(&labels)?;
        match kind {
            MetricType::Counter => ConstCounter::new(*n).encode(m)?,
            _ => ConstGauge::new(*n as i64).encode(m)?,
        }
    }
    Ok(())
}

fn encode_wal(enc: &mut DescriptorEncoder, wal: &Wal) -> Res {
    let s = wal.stats();
    gauge(
        enc,
        "wal_disk_bytes",
        "Bytes of records in WAL segment files (preallocated zeros not counted)",
        s.disk_bytes as i64,
    )?;
    gauge(
        enc,
        "wal_used_bytes",
        "Bytes the WAL quota counts: on disk plus appends in flight",
        s.used_bytes as i64,
    )?;
    gauge(
        enc,
        "wal_max_disk_bytes",
        "The WAL quota (wal.max_disk)",
        s.max_disk as i64,
    )?;
    gauge(enc, "wal_segments", "WAL segment files", s.segments as i64)?;
    gauge(
        enc,
        "wal_last_seq",
        "Sequence number of the newest durable WAL record",
        s.last_seq.map_or(0, |q| q.0) as i64,
    )?;
    counter(
        enc,
        "wal_fsyncs",
        "fdatasyncs of WAL segment data (one per group commit)",
        s.fsyncs,
    )?;
    let obs = wal.observations();
    let me = enc.encode_descriptor(
        "wal_fsync_seconds",
        "Duration of each WAL segment fdatasync",
        None,
        MetricType::Histogram,
    )?;
    obs.fsync_seconds.encode(me)?;
    let me = enc.encode_descriptor(
        "wal_group_commit_records",
        "Records made durable by one group commit (one write and one fdatasync)",
        None,
        MetricType::Histogram,
    )?;
    obs.group_records.encode(me)
}

fn encode_forward(enc: &mut DescriptorEncoder, s: &StatusSnapshot, now: SystemTime) -> Res {
    gauge(
        enc,
        "forward_lag_records",
        "WAL records received by the forwarder and not yet acknowledged",
        s.lag_records as i64,
    )?;
    let lag_secs = s.oldest_unacked_since.map_or(0.0, |t| {
        now.duration_since(t).map_or(0.0, |d| d.as_secs_f64())
    });
    gauge(
        enc,
        "forward_lag_seconds",
        "Age of the oldest WAL record received and not yet acknowledged upstream",
        lag_secs,
    )?;
    gauge(
        enc,
        "forward_in_flight",
        "Upstream write requests in flight",
        s.in_flight as i64,
    )?;
    let totals = s.tenant_totals();
    let per = |f: fn(&crate::forward::BucketStatus) -> u64| -> Vec<(String, u64)> {
        totals
            .iter()
            .map(|(t, b)| (t.as_str().to_owned(), f(b)))
            .collect()
    };
    let c = MetricType::Counter;
    labelled(
        enc,
        ("forward_requests", "Upstream write requests sent", c),
        "tenant",
        &per(|b| b.requests),
    )?;
    labelled(
        enc,
        ("forward_delivered_lines", "Lines delivered upstream", c),
        "tenant",
        &per(|b| b.delivered_lines),
    )?;
    labelled(
        enc,
        ("forward_retries", "Failed upstream attempts retried", c),
        "tenant",
        &per(|b| b.retries),
    )?;
    labelled(
        enc,
        (
            "forward_dead_lettered_lines",
            "Lines the upstream refused for good, written to dead-letter files",
            c,
        ),
        "tenant",
        &per(|b| b.dead_lettered_lines),
    )?;
    labelled(
        enc,
        (
            "forward_failing",
            "1 while the tenant's last upstream attempt failed",
            MetricType::Gauge,
        ),
        "tenant",
        &per(|b| u64::from(b.failing)),
    )?;
    let r = s.responses;
    let classes = [
        ("2xx", r.c2xx),
        ("4xx", r.c4xx),
        ("5xx", r.c5xx),
        ("other", r.other),
        ("network", r.network),
    ]
    .map(|(k, v)| (k.to_owned(), v));
    labelled(
        enc,
        (
            "forward_upstream_responses",
            "Upstream answers to write requests by status class (network: no answer)",
            c,
        ),
        "class",
        &classes,
    )
}
