//! `sluice downsample backfill --rule NAME --from T --to T`: recomputes a rule's rollups from
//! the raw data in the embedded store (e.g. for a rule added later) and appends them to the
//! WAL as derived records, which the next `sluice serve` stores or forwards like any rollup.
//!
//! Owns: the offline run (sluice must be stopped: the WAL and the store allow one process),
//! reading the raw rows (store files plus the WAL records not yet in them) a day at a time,
//! and feeding them through the same engine as the live path, with the window before `from`
//! read too so that `rate` has its previous point. Only windows starting in `[from, to)` are
//! written. Does not own the engine (`state`).

use std::net::TcpStream;
use std::time::Duration;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, TimestampNanosecondType};

use super::rule::glob;
use super::state::Engine;
use crate::config::Config;
use crate::model::{Entry, Precision, Record, RecordKind, TenantId, WalSeq};
use crate::store::batch::{ROLE, ROLE_FIELD, ROLE_KEY, ROLE_TAG};
use crate::store::{ReadStore, STORE_CONSUMER, ScanRequest, Store, StoreError, StoreOptions};
use crate::wal::{Wal, WalError};

/// Raw rows read per scan: a day (aligned to the rule's windows).
const CHUNK_NS: i64 = 86_400_000_000_000;
/// Bound on one scan's answer.
const MAX_SCAN_BYTES: usize = 1 << 30;

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error("no [[downsample]] rule is named {0:?}")]
    UnknownRule(String),
    #[error("--from must be before --to")]
    EmptyRange,
    #[error("the embedded store is off in this config: there is no raw data to read")]
    NoStore,
    #[error("sluice seems to be running (it answers on {0}): stop it first")]
    Running(std::net::SocketAddr),
    #[error(transparent)]
    Wal(#[from] WalError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a backfill wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BackfillReport {
    pub raw_rows: u64,
    pub rollup_points: u64,
    pub records: u64,
}

/// Runs the backfill of rule `name` over `[from, to)` (ns).
pub async fn backfill(
    config: &Config,
    name: &str,
    from: i64,
    to: i64,
) -> Result<BackfillReport, BackfillError> {
    let rule = config
        .downsample
        .iter()
        .find(|r| r.name == name)
        .ok_or_else(|| BackfillError::UnknownRule(name.to_owned()))?
        .clone();
    if from >= to {
        return Err(BackfillError::EmptyRange);
    }
    if !config.store.enabled {
        return Err(BackfillError::NoStore);
    }
    let listen = config.server.listen;
    if TcpStream::connect_timeout(&listen, Duration::from_millis(300)).is_ok() {
        return Err(BackfillError::Running(listen));
    }
    let wal_cfg = crate::app::wal_config(config);
    let (wal, _) = tokio::task::spawn_blocking(move || Wal::open(wal_cfg))
        .await
        .map_err(|e| WalError::Io {
            op: "open",
            path: config.wal.dir.clone(),
            source: std::io::Error::other(e),
        })??;
    let cursor = wal.register_consumer(STORE_CONSUMER)?;
    let opts = StoreOptions::new(config.store.dir.clone());
    let (store, _) = tokio::task::spawn_blocking(move || Store::open(opts, cursor))
        .await
        .map_err(|e| StoreError::Io {
            op: "open",
            path: config.store.dir.display().to_string(),
            source: std::io::Error::other(e),
        })??;
    // Rows not yet in Parquet files are in the WAL after the store's cursor.
    let mut reader = wal.reader(cursor);
    while let Some(rec) = reader.try_next()? {
        store.apply(&rec);
    }
    let every = i64::try_from(rule.every.as_nanos()).unwrap_or(i64::MAX);
    let offset = i64::try_from(rule.offset.as_nanos()).unwrap_or(0);
    let align = |t: i64| t - (t - offset).rem_euclid(every);
    let (start, end) = (align(from) - every, align(to - 1) + every);
    let tenants: Vec<TenantId> = match &rule.tenant {
        Some(t) => vec![t.clone()],
        None => config.tenants.iter().map(|t| t.id.clone()).collect(),
    };
    let mut engine = Engine::new(std::slice::from_ref(&rule));
    let mut report = BackfillReport::default();
    let mut seq = 0u64;
    let mut history: Vec<Record> = Vec::new();
    for tenant in &tenants {
        let measurements: Vec<String> = store
            .measurements(tenant, &rule.from_bucket)
            .into_iter()
            .filter(|m| rule.measurements.iter().any(|g| glob(g, m)))
            .collect();
        let mut lo = start;
        while lo < end {
            let hi = (lo + CHUNK_NS).min(end);
            // Every measurement of the chunk, in time order: the engine's watermark follows
            // the data, as it does live.
            let mut lines: Vec<(i64, String)> = Vec::new();
            for m in &measurements {
                let batch = store.scan(&ScanRequest {
                    tenant,
                    bucket: &rule.from_bucket,
                    measurement: m,
                    min_time: lo,
                    max_time: hi - 1,
                    tag_equals: &[],
                    series_filter: None,
                    fields: None,
                    max_bytes: MAX_SCAN_BYTES,
                })?;
                report.raw_rows += batch.num_rows() as u64;
                to_lines(m, &batch, &mut lines)?;
            }
            lines.sort_by_key(|(ts, _)| *ts);
            seq += 1;
            history.push(Record {
                seq: WalSeq(seq),
                entry: Entry {
                    tenant: tenant.clone(),
                    bucket: rule.from_bucket.clone(),
                    precision: Precision::Nanoseconds,
                    kind: RecordKind::Write,
                    lines: lines.into_iter().map(|(_, l)| l).collect::<String>().into(),
                },
            });
            if let Some(rec) = history.last() {
                engine.apply(rec, 0, &history);
            }
            // Keep what a window may have to be refilled from (points out of order: none in
            // time-sorted rows, but the engine does not rely on it).
            let keep = engine.cursor(WalSeq(seq));
            history.retain(|r| r.seq > keep);
            lo = hi;
        }
    }
    engine.close_all();
    for mut entry in engine.take_output() {
        let (kept, n) = keep_windows(&entry.lines, from, to);
        if n == 0 {
            continue;
        }
        entry.lines = kept.into();
        wal.append(entry).await?;
        report.rollup_points += n;
        report.records += 1;
    }
    wal.close().await?;
    Ok(report)
}

/// The lines of `lines` whose timestamp is in `[from, to)`, and how many.
fn keep_windows(lines: &[u8], from: i64, to: i64) -> (Vec<u8>, u64) {
    let mut out = Vec::new();
    let mut n = 0;
    for l in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let ts = l
            .rsplit(|&b| b == b' ')
            .next()
            .and_then(|t| std::str::from_utf8(t).ok()?.parse::<i64>().ok());
        if ts.is_some_and(|t| (from..to).contains(&t)) {
            out.extend_from_slice(l);
            out.push(b'\n');
            n += 1;
        }
    }
    (out, n)
}

fn escape(out: &mut String, s: &str, special: &[char]) {
    for c in s.chars() {
        if special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
}

/// The numeric fields of a scan answer as line protocol (ns timestamps), added to `lines`.
fn to_lines(
    measurement: &str,
    batch: &RecordBatch,
    lines: &mut Vec<(i64, String)>,
) -> Result<(), StoreError> {
    let schema = batch.schema();
    let mut tags = Vec::new();
    let mut fields = Vec::new();
    let mut time = None;
    for (i, f) in schema.fields().iter().enumerate() {
        let key = f.metadata().get(ROLE_KEY).cloned().unwrap_or_default();
        let col = batch.column(i);
        match f.metadata().get(ROLE).map(String::as_str) {
            Some(ROLE_TAG) => tags.push((key, cast(col, &DataType::Utf8)?)),
            Some(ROLE_FIELD) => match col.data_type() {
                DataType::Float64 | DataType::Int64 | DataType::UInt64 => {
                    fields.push((key, cast(col, &DataType::Float64)?));
                }
                _ => {}
            },
            _ if f.name() == crate::store::batch::TIME_COLUMN => time = Some(col.clone()),
            _ => {}
        }
    }
    let Some(time) = time else {
        return Ok(());
    };
    let time = time.as_primitive::<TimestampNanosecondType>();
    for row in 0..batch.num_rows() {
        let mut out = String::new();
        escape(&mut out, measurement, &[',', ' ']);
        for (k, col) in &tags {
            let col = col.as_string::<i32>();
            if col.is_null(row) || col.value(row).is_empty() {
                continue;
            }
            out.push(',');
            escape(&mut out, k, &[',', '=', ' ']);
            out.push('=');
            escape(&mut out, col.value(row), &[',', '=', ' ']);
        }
        let mut sep = ' ';
        for (k, col) in &fields {
            let col = col.as_primitive::<Float64Type>();
            if col.is_null(row) {
                continue;
            }
            out.push(sep);
            sep = ',';
            escape(&mut out, k, &[',', '=', ' ']);
            out.push_str(&format!("={:?}", col.value(row)));
        }
        if sep == ' ' {
            continue;
        }
        out.push_str(&format!(" {}\n", time.value(row)));
        lines.push((time.value(row), out));
    }
    Ok(())
}
