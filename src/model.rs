//! Identifiers and small value types that cross module boundaries.
//!
//! Owns: `TenantId`, `BucketName`, `Precision`, `WalSeq`, and the `Entry`/`Record`
//! a WAL stores and its consumers read. Each is validated once, where it
//! enters sluice (config, HTTP query parameters), and is cheap to clone afterwards.
//! Does not own: permissions (see `tenant`), record formats (see `wal`).

use std::fmt;
use std::sync::Arc;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{what} must not be empty")]
    Empty { what: &'static str },
    #[error("{what} is {len} bytes, more than the {max} allowed")]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{what} contains a control character")]
    Control { what: &'static str },
}

fn check(what: &'static str, s: &str, max: usize) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty { what });
    }
    if s.len() > max {
        return Err(IdError::TooLong {
            what,
            len: s.len(),
            max,
        });
    }
    if s.chars().any(char::is_control) {
        return Err(IdError::Control { what });
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Validates `s` (non-empty, bounded length, no control characters).
            pub fn new(s: &str) -> Result<Self, IdError> {
                check($what, s, $max)?;
                Ok(Self(Arc::from(s)))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), &*self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// A tenant's id, as in `[[tenant]] id`.
    TenantId,
    "tenant id",
    255
);
string_id!(
    /// A bucket name as the tenant sees it (`telegraf`, or `db/rp` for a v1 retention policy).
    BucketName,
    "bucket name",
    255
);

/// Timestamp precision of a write request (the unit of the line timestamps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Precision {
    Nanoseconds,
    Microseconds,
    Milliseconds,
    Seconds,
    Minutes,
    Hours,
}

impl Precision {
    /// The `precision` parameter of `/api/v2/write`: `ns|us|ms|s`, empty means `ns`.
    pub fn parse_v2(s: &str) -> Option<Self> {
        match s {
            "" | "ns" => Some(Self::Nanoseconds),
            "us" => Some(Self::Microseconds),
            "ms" => Some(Self::Milliseconds),
            "s" => Some(Self::Seconds),
            _ => None,
        }
    }

    /// The `precision` parameter of v1 `/write`: the v2 names plus `n u µ m h`.
    pub fn parse_v1(s: &str) -> Option<Self> {
        match s {
            "n" => Some(Self::Nanoseconds),
            "u" | "µ" => Some(Self::Microseconds),
            "m" => Some(Self::Minutes),
            "h" => Some(Self::Hours),
            other => Self::parse_v2(other),
        }
    }

    /// Nanoseconds per unit.
    pub fn nanos(self) -> i64 {
        match self {
            Self::Nanoseconds => 1,
            Self::Microseconds => 1_000,
            Self::Milliseconds => 1_000_000,
            Self::Seconds => 1_000_000_000,
            Self::Minutes => 60_000_000_000,
            Self::Hours => 3_600_000_000_000,
        }
    }

    /// The v2 API name (`ns|us|ms|s`), if the v2 API has one for this unit.
    pub fn v2_name(self) -> Option<&'static str> {
        match self {
            Self::Nanoseconds => Some("ns"),
            Self::Microseconds => Some("us"),
            Self::Milliseconds => Some("ms"),
            Self::Seconds => Some("s"),
            Self::Minutes | Self::Hours => None,
        }
    }

    /// The v1 API name (`n|u|ms|s|m|h`).
    pub fn v1_name(self) -> &'static str {
        match self {
            Self::Nanoseconds => "n",
            Self::Microseconds => "u",
            Self::Milliseconds => "ms",
            Self::Seconds => "s",
            Self::Minutes => "m",
            Self::Hours => "h",
        }
    }

    /// Stable one-byte code, used by the WAL record format.
    pub fn code(self) -> u8 {
        match self {
            Self::Nanoseconds => 0,
            Self::Microseconds => 1,
            Self::Milliseconds => 2,
            Self::Seconds => 3,
            Self::Minutes => 4,
            Self::Hours => 5,
        }
    }

    /// Inverse of [`Precision::code`].
    pub fn from_code(c: u8) -> Option<Self> {
        Some(match c {
            0 => Self::Nanoseconds,
            1 => Self::Microseconds,
            2 => Self::Milliseconds,
            3 => Self::Seconds,
            4 => Self::Minutes,
            5 => Self::Hours,
            _ => return None,
        })
    }
}

/// Position of a record in the write-ahead log: strictly increasing, starting at 1.
/// `WalSeq(0)` means "before the first record" (an empty cursor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct WalSeq(pub u64);

/// What produced a WAL record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// Lines a client wrote and sluice acknowledged.
    Write,
    /// Lines sluice derived itself (rollups), destined for another bucket of the same tenant.
    Derived,
}

/// One accepted batch: the unit the WAL stores and its consumers read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub tenant: TenantId,
    pub bucket: BucketName,
    pub precision: Precision,
    pub kind: RecordKind,
    /// Valid line protocol, `\n`-terminated lines, every line with a timestamp in `precision`.
    pub lines: bytes::Bytes,
}

/// An entry with its position in the WAL, as consumers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub seq: WalSeq,
    pub entry: Entry,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_validated() {
        assert!(TenantId::new("acme").is_ok());
        assert_eq!(TenantId::new(""), Err(IdError::Empty { what: "tenant id" }));
        assert!(BucketName::new("a\nb").is_err());
        assert!(BucketName::new(&"x".repeat(256)).is_err());
    }

    #[test]
    fn precision_codes_round_trip() {
        for p in [
            Precision::Nanoseconds,
            Precision::Microseconds,
            Precision::Milliseconds,
            Precision::Seconds,
            Precision::Minutes,
            Precision::Hours,
        ] {
            assert_eq!(Precision::from_code(p.code()), Some(p));
            assert_eq!(Precision::parse_v1(p.v1_name()), Some(p));
        }
        assert_eq!(Precision::parse_v2("h"), None);
        assert_eq!(Precision::parse_v2(""), Some(Precision::Nanoseconds));
    }
}
