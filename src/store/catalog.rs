//! The catalog: which Parquet files each measurement has, what they hold, and its series.
//!
//! Owns: per (tenant, bucket, measurement) the live files of every UTC-day partition with their
//! time range and size (`FileMeta`), the measurement's schema over its files (tag keys, field
//! types), and its series index (the tag sets in its files); loading all of it at start-up from
//! the files (deleting `.tmp` leftovers and superseded files) and keeping it in step with
//! flushes and maintenance (`add_file`, `resync`).
//! Does not own: the buffers (their schema and series are merged in by `Store`), reading rows
//! (`scan`), file names and supersession (`files`), directories (`layout`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Int32Type, Schema};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use parquet::file::statistics::Statistics;

use super::StoreError;
use super::batch::{ROLE, ROLE_FIELD, ROLE_KEY, ROLE_TAG, ROLE_TIME};
use super::files::{FileName, live_files};
use super::layout::{Day, PartitionKey, decode_name};
use super::read::SeriesKey;
use crate::lineproto::FieldType;
use crate::model::{BucketName, TenantId};

/// One live Parquet file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    pub key: PartitionKey,
    pub name: FileName,
    pub path: PathBuf,
    /// Inclusive time range of its rows (ns).
    pub min_time: i64,
    pub max_time: i64,
    pub rows: u64,
    pub bytes: u64,
}

/// What a file's footer and tag columns say.
#[derive(Debug, Clone)]
pub struct FileInfo {
    pub meta: FileMeta,
    pub tags: Vec<String>,
    pub fields: Vec<(String, FieldType)>,
    pub series: Vec<SeriesKey>,
}

/// One measurement of a bucket.
#[derive(Debug, Default, Clone)]
pub struct MeasurementEntry {
    /// Live files per day, each list sorted by (`last`, `first`).
    pub partitions: BTreeMap<Day, Vec<Arc<FileMeta>>>,
    pub tags: BTreeSet<String>,
    pub fields: BTreeMap<String, FieldType>,
    pub series: BTreeSet<SeriesKey>,
}

impl MeasurementEntry {
    /// Live files whose time range meets `[min, max]`, in merge order: by day, then `last`.
    pub fn files_between(&self, min: i64, max: i64) -> Vec<Arc<FileMeta>> {
        if min > max {
            return Vec::new();
        }
        self.partitions
            .range(Day::from_nanos(min)..=Day::from_nanos(max))
            .flat_map(|(_, files)| files.iter())
            .filter(|f| f.max_time >= min && f.min_time <= max)
            .cloned()
            .collect()
    }

    pub fn file_count(&self) -> usize {
        self.partitions.values().map(Vec::len).sum()
    }

    fn absorb(&mut self, info: &FileInfo) {
        self.tags.extend(info.tags.iter().cloned());
        for (k, ty) in &info.fields {
            self.fields.entry(k.clone()).or_insert(*ty);
        }
        self.series.extend(info.series.iter().cloned());
    }
}

pub type BucketKey = (TenantId, BucketName);

/// Every measurement of every bucket that has files.
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    pub buckets: BTreeMap<BucketKey, BTreeMap<String, MeasurementEntry>>,
}

/// What start-up found and cleaned.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LoadReport {
    pub files: usize,
    pub tmp_deleted: usize,
    pub superseded_deleted: usize,
    /// Paths that are not store files (left alone, logged).
    pub foreign: usize,
}

impl Catalog {
    /// Reads every partition under `root` (which need not exist).
    pub fn load(root: &Path) -> Result<(Self, LoadReport), StoreError> {
        let mut cat = Catalog::default();
        let mut report = LoadReport::default();
        for dir in partition_dirs(root)? {
            let (key, names) = scan_partition(root, &dir, &mut report, true)?;
            for name in names {
                let info = describe_file(key.clone(), name, dir.join(name.to_string()))?;
                cat.insert(info);
                report.files += 1;
            }
        }
        Ok((cat, report))
    }

    pub fn measurement(
        &self,
        tenant: &TenantId,
        bucket: &BucketName,
        measurement: &str,
    ) -> Option<&MeasurementEntry> {
        self.buckets
            .get(&(tenant.clone(), bucket.clone()))?
            .get(measurement)
    }

    /// Adds a file just made durable (a flush). Files it supersedes leave the catalog; they are
    /// returned for the caller to delete once no scan can be about to open them.
    pub fn add_file(&mut self, info: FileInfo) -> Vec<Arc<FileMeta>> {
        let entry = self.entry(&info.meta.key);
        let files = entry.partitions.entry(info.meta.key.day).or_default();
        // The same name again (a resync saw the file first, or a replay rewrote it).
        files.retain(|f| f.name != info.meta.name);
        let mut names: Vec<FileName> = files.iter().map(|f| f.name).collect();
        names.push(info.meta.name);
        let live = live_files(names);
        let mut gone = Vec::new();
        files.retain(|f| {
            let keep = live.contains(&f.name);
            if !keep {
                gone.push(f.clone());
            }
            keep
        });
        if live.contains(&info.meta.name) {
            files.push(Arc::new(info.meta.clone()));
            files.sort_by_key(|f| (f.name.last, f.name.first));
            entry.absorb(&info);
        } else {
            gone.push(Arc::new(info.meta));
        }
        gone
    }

    /// Re-reads the file lists of every partition of `root` after maintenance changed them:
    /// partitions that disappeared leave, new files (compaction outputs) are described, files
    /// that went away are forgotten. Schemas and series are only ever grown here.
    pub fn resync(&mut self, root: &Path) -> Result<bool, StoreError> {
        let mut changed = false;
        let mut seen: BTreeSet<(BucketKey, String, Day)> = BTreeSet::new();
        let mut report = LoadReport::default();
        for dir in partition_dirs(root)? {
            let (key, names) = scan_partition(root, &dir, &mut report, false)?;
            seen.insert((
                (key.tenant.clone(), key.bucket.clone()),
                key.measurement.clone(),
                key.day,
            ));
            let known: Vec<Arc<FileMeta>> = self
                .measurement(&key.tenant, &key.bucket, &key.measurement)
                .and_then(|m| m.partitions.get(&key.day))
                .cloned()
                .unwrap_or_default();
            let mut files = Vec::with_capacity(names.len());
            for name in names {
                match known.iter().find(|f| f.name == name) {
                    Some(f) => files.push(f.clone()),
                    None => {
                        let info = describe_file(key.clone(), name, dir.join(name.to_string()))?;
                        files.push(Arc::new(info.meta.clone()));
                        self.entry(&key).absorb(&info);
                    }
                }
            }
            files.sort_by_key(|f| (f.name.last, f.name.first));
            changed |= files.len() != known.len()
                || files.iter().zip(&known).any(|(a, b)| !Arc::ptr_eq(a, b));
            self.entry(&key).partitions.insert(key.day, files);
        }
        for (bk, measurements) in &mut self.buckets {
            for (m, entry) in measurements.iter_mut() {
                let before = entry.partitions.len();
                entry
                    .partitions
                    .retain(|day, _| seen.contains(&(bk.clone(), m.clone(), *day)));
                changed |= entry.partitions.len() != before;
            }
        }
        Ok(changed)
    }

    fn entry(&mut self, key: &PartitionKey) -> &mut MeasurementEntry {
        self.buckets
            .entry((key.tenant.clone(), key.bucket.clone()))
            .or_default()
            .entry(key.measurement.clone())
            .or_default()
    }

    fn insert(&mut self, info: FileInfo) {
        let entry = self.entry(&info.meta.key);
        entry.absorb(&info);
        let files = entry.partitions.entry(info.meta.key.day).or_default();
        files.push(Arc::new(info.meta));
        files.sort_by_key(|f| (f.name.last, f.name.first));
    }
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.display().to_string();
    move |source| StoreError::Io { op, path, source }
}

/// Subdirectories of `dir` (none when it does not exist).
fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("list", dir)(e)),
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(io("list", dir))?;
        if e.file_type().map_err(io("stat", &e.path()))?.is_dir() {
            out.push(e.path());
        }
    }
    out.sort();
    Ok(out)
}

/// Every `<root>/<tenant>/<bucket>/<measurement>/<day>` directory whose names decode.
fn partition_dirs(root: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let named = |p: &Path| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| decode_name(n).is_some())
    };
    let mut out = Vec::new();
    for t in subdirs(root)?.into_iter().filter(|p| named(p)) {
        for b in subdirs(&t)?.into_iter().filter(|p| named(p)) {
            for m in subdirs(&b)?.into_iter().filter(|p| named(p)) {
                for d in subdirs(&m)? {
                    let day = d.file_name().and_then(|n| n.to_str()).and_then(Day::parse);
                    if day.is_some() {
                        out.push(d);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The partition of `dir` and its live files; with `clean` (start-up only: nothing writes)
/// deletes `.tmp` files and superseded files.
fn scan_partition(
    root: &Path,
    dir: &Path,
    report: &mut LoadReport,
    clean: bool,
) -> Result<(PartitionKey, Vec<FileName>), StoreError> {
    // The key comes from a would-be file path (`parse_file` checks every component).
    let (key, _) = PartitionKey::parse_file(root, &dir.join("x.parquet"))?;
    let mut names = Vec::new();
    for e in fs::read_dir(dir).map_err(io("list", dir))? {
        let e = e.map_err(io("list", dir))?;
        let file = e.file_name();
        let Some(file) = file.to_str() else {
            report.foreign += 1;
            continue;
        };
        if file.ends_with(".tmp") {
            // A flush or compaction that did not finish (at start-up): its inputs are live.
            if clean {
                fs::remove_file(e.path()).map_err(io("remove", &e.path()))?;
                report.tmp_deleted += 1;
            }
        } else if let Some(name) = FileName::parse(file) {
            names.push(name);
        } else {
            tracing::warn!(path = %e.path().display(), "not a store file; left alone");
            report.foreign += 1;
        }
    }
    let live = live_files(names.clone());
    for n in names.iter().filter(|n| clean && !live.contains(n)) {
        let path = dir.join(n.to_string());
        fs::remove_file(&path).map_err(io("remove", &path))?;
        report.superseded_deleted += 1;
    }
    Ok((key, live))
}

/// Reads a file's footer (schema, time statistics) and its tag columns (series).
pub fn describe_file(
    key: PartitionKey,
    name: FileName,
    path: PathBuf,
) -> Result<FileInfo, StoreError> {
    let file = File::open(&path).map_err(io("open", &path))?;
    let bytes = file.metadata().map_err(io("stat", &path))?.len();
    let meta = ArrowReaderMetadata::load(&file, Default::default())?;
    let schema = meta.schema().clone();
    let (tags, fields, time_idx) = roles(&schema);
    let pq = meta.metadata();
    let rows = pq.file_metadata().num_rows().max(0) as u64;
    let (mut min_time, mut max_time) = (i64::MAX, i64::MIN);
    if let Some(ti) = time_idx {
        for rg in pq.row_groups() {
            if let Some(Statistics::Int64(s)) = rg.column(ti).statistics()
                && let (Some(lo), Some(hi)) = (s.min_opt(), s.max_opt())
            {
                min_time = min_time.min(*lo);
                max_time = max_time.max(*hi);
            }
        }
    }
    if min_time > max_time {
        // No statistics: the whole day.
        min_time = key.day.start_nanos();
        max_time = Day(key.day.0 + 1).start_nanos() - 1;
    }
    // The series: distinct tag tuples, read from the tag columns only.
    let mut series = Vec::new();
    if !tags.is_empty() {
        let leaves: Vec<usize> = tags.iter().map(|(i, _)| *i).collect();
        let mask = ProjectionMask::roots(pq.file_metadata().schema_descr(), leaves);
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(
            File::open(&path).map_err(io("open", &path))?,
            meta.clone(),
        )
        .with_projection(mask)
        .build()?;
        let mut last: Option<SeriesKey> = None;
        for batch in reader {
            let batch = batch?;
            let cols: Vec<Vec<Option<String>>> = batch
                .columns()
                .iter()
                .map(|c| dictionary_strings(c.as_ref()))
                .collect();
            for row in 0..batch.num_rows() {
                let s: SeriesKey = tags
                    .iter()
                    .zip(&cols)
                    .filter_map(|((_, k), col)| col[row].clone().map(|v| (k.clone(), v)))
                    .collect();
                // Rows are sorted by series: consecutive duplicates are the common case.
                if last.as_ref() != Some(&s) {
                    series.push(s.clone());
                    last = Some(s);
                }
            }
        }
        series.sort();
        series.dedup();
    } else if rows > 0 {
        series.push(Vec::new());
    }
    Ok(FileInfo {
        meta: FileMeta {
            key,
            name,
            path,
            min_time,
            max_time,
            rows,
            bytes,
        },
        tags: tags.into_iter().map(|(_, k)| k).collect(),
        fields,
        series,
    })
}

/// What each column of a store batch is: see [`roles`].
pub(crate) type Roles = (
    Vec<(usize, String)>,
    Vec<(String, FieldType)>,
    Option<usize>,
);

/// (column index, key) of the tags, (key, type) of the fields, index of `time`.
pub(crate) fn roles(schema: &Schema) -> Roles {
    let mut tags = Vec::new();
    let mut fields = Vec::new();
    let mut time = None;
    for (i, f) in schema.fields().iter().enumerate() {
        let key = f.metadata().get(ROLE_KEY).cloned();
        match f.metadata().get(ROLE).map(String::as_str) {
            Some(ROLE_TAG) => tags.push((i, key.unwrap_or_else(|| f.name().clone()))),
            Some(ROLE_FIELD) => {
                if let Some(ty) = field_type_of(f.data_type()) {
                    fields.push((key.unwrap_or_else(|| f.name().clone()), ty));
                }
            }
            Some(ROLE_TIME) => time = Some(i),
            _ => {}
        }
    }
    (tags, fields, time)
}

pub(crate) fn field_type_of(dt: &DataType) -> Option<FieldType> {
    Some(match dt {
        DataType::Float64 => FieldType::Float,
        DataType::Int64 => FieldType::Integer,
        DataType::UInt64 => FieldType::Unsigned,
        DataType::Boolean => FieldType::Boolean,
        DataType::Utf8 => FieldType::String,
        _ => return None,
    })
}

/// A tag column's values (dictionary or plain strings).
pub(crate) fn dictionary_strings(col: &dyn Array) -> Vec<Option<String>> {
    if let Some(d) = col.as_dictionary_opt::<Int32Type>() {
        let values = d.values().as_string::<i32>();
        return d
            .keys()
            .iter()
            .map(|k| k.map(|k| values.value(k as usize).to_owned()))
            .collect();
    }
    if let Some(s) = col.as_string_opt::<i32>() {
        return s.iter().map(|v| v.map(str::to_owned)).collect();
    }
    vec![None; col.len()]
}
