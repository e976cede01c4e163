//! Where partitions and files live: `<root>/<tenant>/<bucket>/<measurement>/<YYYY-MM-DD>/<file>`.
//!
//! Owns: the partition key (tenant, bucket, measurement, UTC day), its directory, and the inverse
//! (a path back to its key). Names are percent-encoded so that any tenant, bucket or measurement
//! (with `/`, spaces, unicode, `..`) is exactly one safe directory name: every byte outside
//! `[A-Za-z0-9._-]` becomes `%XX` (upper-case hex), and so does a leading `.` (no hidden
//! directories, no `.` or `..`). An encoded name longer than 255 bytes (the usual `NAME_MAX`) is
//! refused. Does not own: file names inside a partition (the caller picks them), directory
//! creation or listing.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use arrow::array::{AsArray, BooleanArray, RecordBatch};
use arrow::compute::filter_record_batch;
use arrow::datatypes::TimestampNanosecondType;

use super::StoreError;
use super::batch::TIME_COLUMN;
use crate::model::{BucketName, TenantId};

/// Longest encoded path component accepted.
pub const MAX_COMPONENT: usize = 255;

const NANOS_PER_DAY: i64 = 86_400_000_000_000;

/// A UTC calendar day, as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub i32);

impl Day {
    /// The day holding `ns` (ns since the epoch; before 1970 rounds down).
    pub fn from_nanos(ns: i64) -> Self {
        Self(ns.div_euclid(NANOS_PER_DAY) as i32)
    }

    /// First nanosecond of the day (saturating at the ends of i64).
    pub fn start_nanos(self) -> i64 {
        i64::from(self.0).saturating_mul(NANOS_PER_DAY)
    }

    /// `(year, month, day)` (proleptic Gregorian; Howard Hinnant's `civil_from_days`).
    pub fn ymd(self) -> (i32, u32, u32) {
        let z = i64::from(self.0) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let y = yoe + era * 400 + i64::from(m <= 2);
        (y as i32, m, d)
    }

    /// Inverse of [`Day::ymd`] (`days_from_civil`); `None` for an impossible date.
    pub fn from_ymd(y: i32, m: u32, d: u32) -> Option<Self> {
        let days_in_month = match m {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
            2 => 28,
            _ => return None,
        };
        if d == 0 || d > days_in_month {
            return None;
        }
        let y = i64::from(y) - i64::from(m <= 2);
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
        let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        i32::try_from(era * 146_097 + doe - 719_468).ok().map(Self)
    }

    /// Parses `YYYY-MM-DD` (four-digit year).
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = &s[r];
            part.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| part.parse().ok())
                .flatten()
        };
        Self::from_ymd(num(0..4)? as i32, num(5..7)?, num(8..10)?)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// One partition: the points of one measurement of one bucket of one tenant on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionKey {
    pub tenant: TenantId,
    pub bucket: BucketName,
    pub measurement: String,
    pub day: Day,
}

impl PartitionKey {
    /// The partition's directory under `root`.
    pub fn dir(&self, root: &Path) -> Result<PathBuf, StoreError> {
        Ok(root
            .join(encode_name(self.tenant.as_str())?)
            .join(encode_name(self.bucket.as_str())?)
            .join(encode_name(&self.measurement)?)
            .join(self.day.to_string()))
    }

    /// A file of the partition: `dir(root)/<file_name>.parquet`. `file_name` is encoded too.
    pub fn file(&self, root: &Path, file_name: &str) -> Result<PathBuf, StoreError> {
        Ok(self
            .dir(root)?
            .join(format!("{}.parquet", encode_name(file_name)?)))
    }

    /// Inverse of [`PartitionKey::file`]: the key and the (decoded) file name of `path`, which
    /// must be exactly four directories below `root`.
    pub fn parse_file(root: &Path, path: &Path) -> Result<(Self, String), StoreError> {
        let bad = |why| StoreError::BadPath {
            path: path.display().to_string(),
            why,
        };
        let rel = path
            .strip_prefix(root)
            .map_err(|_| bad("not under the root"))?;
        let parts = rel
            .components()
            .map(|c| match c {
                Component::Normal(s) => s.to_str().ok_or(bad("not utf-8")),
                _ => Err(bad("not a plain relative path")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let [tenant, bucket, measurement, day, file] = parts[..] else {
            return Err(bad("not tenant/bucket/measurement/day/file"));
        };
        let file = file
            .strip_suffix(".parquet")
            .ok_or(bad("not a .parquet file"))?;
        let decode = |s| decode_name(s).ok_or(bad("bad percent-encoding"));
        let key = Self {
            tenant: TenantId::new(&decode(tenant)?).map_err(|_| bad("invalid tenant id"))?,
            bucket: BucketName::new(&decode(bucket)?).map_err(|_| bad("invalid bucket name"))?,
            measurement: decode(measurement)?,
            day: Day::parse(day).ok_or(bad("bad day"))?,
        };
        Ok((key, decode(file)?))
    }
}

/// Splits a measurement batch into one batch per UTC day of its `time` column, days ascending.
/// Row order is kept, so each part stays sorted by series then time.
pub fn split_by_day(batch: &RecordBatch) -> Result<Vec<(Day, RecordBatch)>, StoreError> {
    let time = batch
        .column_by_name(TIME_COLUMN)
        .and_then(|c| c.as_primitive_opt::<TimestampNanosecondType>())
        .ok_or(StoreError::NoTimeColumn)?;
    let days: Vec<Day> = time.values().iter().map(|&t| Day::from_nanos(t)).collect();
    let mut distinct = days.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if let [only] = distinct[..] {
        return Ok(vec![(only, batch.clone())]);
    }
    distinct
        .into_iter()
        .map(|day| {
            let mask: BooleanArray = days.iter().map(|&d| Some(d == day)).collect();
            Ok((day, filter_record_batch(batch, &mask)?))
        })
        .collect()
}

fn safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

/// Percent-encodes `name` into one safe path component (see the module docs).
pub fn encode_name(name: &str) -> Result<String, StoreError> {
    let mut out = String::with_capacity(name.len());
    for (i, &b) in name.as_bytes().iter().enumerate() {
        if safe(b) && !(i == 0 && b == b'.') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        return Err(StoreError::EmptyName);
    }
    if out.len() > MAX_COMPONENT {
        return Err(StoreError::NameTooLong {
            name: name.to_owned(),
            len: out.len(),
            max: MAX_COMPONENT,
        });
    }
    Ok(out)
}

/// Inverse of [`encode_name`]; `None` unless `s` is exactly what `encode_name` produces.
pub fn decode_name(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            if hex.bytes().any(|c| c.is_ascii_lowercase()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else if safe(b[i]) {
            out.push(b[i]);
            i += 1;
        } else {
            return None;
        }
    }
    let name = String::from_utf8(out).ok()?;
    (encode_name(&name).ok()? == s).then_some(name)
}
