//! `sluice store inspect DIR`: a read-only report on a store directory.
//!
//! Owns: `StoreReport` (Display for people, Serialize for JSON): partitions, their files with
//! WAL range, rows, bytes and time range (from the Parquet footers; row data is not read), the
//! schema of each measurement (union over its files), and what does not belong: superseded
//! files, `.tmp` files, unreadable files, stray entries, unfinished `.drop-*` directories.
//! Changes nothing on disk. Does not own the CLI (`main.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::File;
use std::path::Path;

use arrow::datatypes::{DataType, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::statistics::Statistics;
use serde::Serialize;

use super::walk::{io_err, list_partition, walk};
use crate::store::{ROLE, ROLE_FIELD, ROLE_KEY, ROLE_TAG, ROLE_TIME, StoreError, live_files};

/// What a store directory holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreReport {
    pub root: String,
    pub partitions: Vec<PartitionReport>,
    pub measurements: Vec<MeasurementReport>,
    /// Live files, their rows and bytes (superseded and `.tmp` files not counted).
    pub live_files: usize,
    pub live_rows: u64,
    pub live_bytes: u64,
    /// Bytes of every file under the partitions, whatever its state.
    pub total_bytes: u64,
    /// Paths that are not part of the layout, and `.drop-*` directories of an interrupted
    /// retention pass.
    pub strays: Vec<String>,
    pub drops: Vec<String>,
}

/// One partition (tenant, bucket, measurement, day).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionReport {
    pub tenant: String,
    pub bucket: String,
    pub measurement: String,
    pub day: String,
    pub files: Vec<FileReport>,
    /// `.tmp` files (a write in progress or left by a crash) and other entries.
    pub tmp: Vec<String>,
    pub strays: Vec<String>,
    /// Over the live files.
    pub rows: u64,
    pub bytes: u64,
    pub min_time: Option<i64>,
    pub max_time: Option<i64>,
}

/// One Parquet file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileReport {
    pub name: String,
    pub first_seq: u64,
    pub last_seq: u64,
    /// `live`, `superseded` (its range lies inside another file's) or `unreadable`.
    pub state: &'static str,
    pub bytes: u64,
    pub rows: Option<u64>,
    pub row_groups: Option<usize>,
    pub min_time: Option<i64>,
    pub max_time: Option<i64>,
    /// Why the footer could not be read.
    pub error: Option<String>,
}

/// The schema of one measurement of a bucket, over all its files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeasurementReport {
    pub tenant: String,
    pub bucket: String,
    pub measurement: String,
    pub partitions: usize,
    pub tags: Vec<String>,
    /// (field key, type); a key stored with several types is listed once per type.
    pub fields: Vec<(String, String)>,
}

struct FileMeta {
    rows: u64,
    row_groups: usize,
    time: Option<(i64, i64)>,
    schema: Schema,
}

fn read_footer(path: &Path) -> Result<FileMeta, StoreError> {
    let file = File::open(path).map_err(io_err("open", path))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
    let schema = builder.schema().as_ref().clone();
    let meta = builder.metadata();
    let time_idx = schema
        .fields()
        .iter()
        .position(|f| f.metadata().get(ROLE).map(String::as_str) == Some(ROLE_TIME));
    let mut time: Option<(i64, i64)> = None;
    for rg in meta.row_groups() {
        let Some(Statistics::Int64(s)) = time_idx.and_then(|i| rg.column(i).statistics()) else {
            continue;
        };
        if let (Some(&lo), Some(&hi)) = (s.min_opt(), s.max_opt()) {
            time = Some(time.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
        }
    }
    Ok(FileMeta {
        rows: u64::try_from(meta.file_metadata().num_rows()).unwrap_or(0),
        row_groups: meta.num_row_groups(),
        time,
        schema,
    })
}

fn type_name(t: &DataType) -> String {
    match t {
        DataType::Float64 => "float".to_owned(),
        DataType::Int64 => "integer".to_owned(),
        DataType::UInt64 => "unsigned".to_owned(),
        DataType::Boolean => "boolean".to_owned(),
        DataType::Utf8 => "string".to_owned(),
        other => format!("unexpected {other}"),
    }
}

/// Reads the store under `root` without modifying it.
pub fn inspect(root: &Path) -> Result<StoreReport, StoreError> {
    let tree = walk(root)?;
    let mut partitions = Vec::new();
    type MKey = (String, String, String);
    type MSchema = (usize, BTreeSet<String>, BTreeSet<(String, String)>);
    let mut schemas: BTreeMap<MKey, MSchema> = BTreeMap::new();
    let (mut live_count, mut live_rows, mut live_bytes, mut total_bytes) = (0, 0, 0, 0);
    for p in &tree.partitions {
        let listing = list_partition(&p.dir)?;
        let live = live_files(listing.names());
        let mkey = (
            p.key.tenant.to_string(),
            p.key.bucket.to_string(),
            p.key.measurement.clone(),
        );
        let entry = schemas.entry(mkey).or_default();
        entry.0 += 1;
        let mut report = PartitionReport {
            tenant: p.key.tenant.to_string(),
            bucket: p.key.bucket.to_string(),
            measurement: p.key.measurement.clone(),
            day: p.key.day.to_string(),
            files: Vec::new(),
            tmp: listing.tmp.clone(),
            strays: listing.strays.clone(),
            rows: 0,
            bytes: 0,
            min_time: None,
            max_time: None,
        };
        for tmp in &listing.tmp {
            total_bytes += std::fs::metadata(p.dir.join(tmp)).map_or(0, |m| m.len());
        }
        for &(name, bytes) in &listing.files {
            total_bytes += bytes;
            let is_live = live.contains(&name);
            let mut f = FileReport {
                name: name.to_string(),
                first_seq: name.first.0,
                last_seq: name.last.0,
                state: if is_live { "live" } else { "superseded" },
                bytes,
                rows: None,
                row_groups: None,
                min_time: None,
                max_time: None,
                error: None,
            };
            match read_footer(&p.dir.join(name.to_string())) {
                Ok(meta) => {
                    f.rows = Some(meta.rows);
                    f.row_groups = Some(meta.row_groups);
                    f.min_time = meta.time.map(|t| t.0);
                    f.max_time = meta.time.map(|t| t.1);
                    for field in meta.schema.fields() {
                        let md = field.metadata();
                        let key = md.get(ROLE_KEY).cloned().unwrap_or_default();
                        match md.get(ROLE).map(String::as_str) {
                            Some(ROLE_TAG) => {
                                entry.1.insert(key);
                            }
                            Some(ROLE_FIELD) => {
                                entry.2.insert((key, type_name(field.data_type())));
                            }
                            _ => {}
                        }
                    }
                    if is_live {
                        live_count += 1;
                        live_rows += meta.rows;
                        live_bytes += bytes;
                        report.rows += meta.rows;
                        report.bytes += bytes;
                        if let Some((lo, hi)) = meta.time {
                            report.min_time = Some(report.min_time.map_or(lo, |m| m.min(lo)));
                            report.max_time = Some(report.max_time.map_or(hi, |m| m.max(hi)));
                        }
                    }
                }
                Err(e) => {
                    f.state = "unreadable";
                    f.error = Some(e.to_string());
                }
            }
            report.files.push(f);
        }
        partitions.push(report);
    }
    let measurements = schemas
        .into_iter()
        .map(
            |((tenant, bucket, measurement), (n, tags, fields))| MeasurementReport {
                tenant,
                bucket,
                measurement,
                partitions: n,
                tags: tags.into_iter().collect(),
                fields: fields.into_iter().collect(),
            },
        )
        .collect();
    Ok(StoreReport {
        root: root.display().to_string(),
        partitions,
        measurements,
        live_files: live_count,
        live_rows,
        live_bytes,
        total_bytes,
        strays: tree
            .strays
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        drops: tree.drops.iter().map(|p| p.display().to_string()).collect(),
    })
}

fn time(ns: Option<i64>) -> String {
    ns.map_or_else(
        || "-".to_owned(),
        |ns| {
            chrono::DateTime::from_timestamp_nanos(ns)
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        },
    )
}

fn opt(v: Option<impl fmt::Display>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

impl fmt::Display for StoreReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "store {}", self.root)?;
        writeln!(
            f,
            "partitions {}  live files {}  rows {}  live bytes {}  bytes on disk {}",
            self.partitions.len(),
            self.live_files,
            self.live_rows,
            self.live_bytes,
            self.total_bytes
        )?;
        for m in &self.measurements {
            writeln!(
                f,
                "{}/{}/{}  partitions {}",
                m.tenant, m.bucket, m.measurement, m.partitions
            )?;
            writeln!(f, "  tags   {}", m.tags.join(", "))?;
            let fields: Vec<String> = m.fields.iter().map(|(k, t)| format!("{k} {t}")).collect();
            writeln!(f, "  fields {}", fields.join(", "))?;
            for p in self.partitions.iter().filter(|p| {
                p.tenant == m.tenant && p.bucket == m.bucket && p.measurement == m.measurement
            }) {
                writeln!(
                    f,
                    "  {}  {:>3} files  {:>10} rows  {:>12} B  {} .. {}",
                    p.day,
                    p.files.iter().filter(|x| x.state == "live").count(),
                    p.rows,
                    p.bytes,
                    time(p.min_time),
                    time(p.max_time)
                )?;
                for x in &p.files {
                    writeln!(
                        f,
                        "    {}  seq {}..{}  {:>10} rows  {:>3} row groups  {:>12} B  {}{}",
                        x.name,
                        x.first_seq,
                        x.last_seq,
                        opt(x.rows),
                        opt(x.row_groups),
                        x.bytes,
                        x.state,
                        x.error
                            .as_deref()
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default()
                    )?;
                }
                for t in &p.tmp {
                    writeln!(f, "    {t}  tmp (a write in progress or left by a crash)")?;
                }
                for s in &p.strays {
                    writeln!(f, "    {s}  stray")?;
                }
            }
        }
        for s in &self.strays {
            writeln!(f, "stray {s}")?;
        }
        for d in &self.drops {
            writeln!(
                f,
                "unfinished drop {d} (the next retention pass removes it)"
            )?;
        }
        Ok(())
    }
}
