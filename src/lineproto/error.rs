//! Why a line was refused, in InfluxDB's words.
//!
//! Owns: `LineError` and `LineErrorKind`. Each kind's `Display` is the reason text InfluxDB's Go
//! parser (`models/points.go`, 2.x) puts after `unable to parse '<line>': `, so the ingest layer
//! can answer exactly what InfluxDB would. Does not own: the HTTP body or status (see `http`).

use crate::error::{ErrorCode, HasErrorCode};

/// `MinNanoTime` of InfluxDB (`models/time.go`): `math.MinInt64 + 2`.
pub const MIN_NANO_TIME: i64 = i64::MIN + 2;
/// `MaxNanoTime` of InfluxDB (`models/time.go`): `math.MaxInt64 - 1`.
pub const MAX_NANO_TIME: i64 = i64::MAX - 1;
/// `MaxKeyLength` of InfluxDB: the series key (and series key + 4 + field key) limit.
pub const MAX_KEY_LENGTH: usize = 65535;

/// A refused line: what went wrong and where (byte offset into the line as given).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct LineError {
    pub kind: LineErrorKind,
    /// Byte offset in the line where the problem was detected.
    pub offset: usize,
}

impl LineError {
    pub(crate) fn new(kind: LineErrorKind, offset: usize) -> Self {
        Self { kind, offset }
    }
}

/// The reasons InfluxDB gives, one per variant. Literals are kept as text for the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineErrorKind {
    #[error("missing fields")]
    MissingFields,
    #[error("missing measurement")]
    MissingMeasurement,
    #[error("missing tag key")]
    MissingTagKey,
    #[error("missing tag value")]
    MissingTagValue,
    #[error("invalid tag format")]
    InvalidTagFormat,
    #[error("duplicate tags")]
    DuplicateTags,
    #[error("missing field key")]
    MissingFieldKey,
    #[error("missing field value")]
    MissingFieldValue,
    #[error("invalid field format")]
    InvalidFieldFormat,
    #[error("unbalanced quotes")]
    UnbalancedQuotes,
    #[error("invalid number")]
    InvalidNumber,
    #[error("invalid boolean")]
    InvalidBoolean,
    #[error("invalid float")]
    InvalidFloat,
    /// An `i` integer outside int64 (only checked from 19 characters on, as Go does).
    #[error(
        "unable to parse integer {literal}: strconv.ParseInt: parsing \"{literal}\": value out of range"
    )]
    IntegerOutOfRange { literal: String },
    /// A `u` integer outside uint64.
    #[error(
        "unable to parse unsigned {literal}: strconv.ParseUint: parsing \"{literal}\": value out of range"
    )]
    UnsignedOutOfRange { literal: String },
    #[error("bad timestamp")]
    BadTimestamp,
    /// The timestamp is digits but not an int64 (`strconv.ParseInt` error, returned bare by Go).
    #[error("strconv.ParseInt: parsing \"{literal}\": value out of range")]
    TimestampOutOfRange { literal: String },
    /// The timestamp is a lone `-` (`strconv.ParseInt` syntax error, returned bare by Go).
    #[error("strconv.ParseInt: parsing \"{literal}\": invalid syntax")]
    TimestampSyntax { literal: String },
    /// The timestamp times the precision is outside `MinNanoTime..=MaxNanoTime`.
    #[error("time outside range {MIN_NANO_TIME} - {MAX_NANO_TIME}")]
    TimeOutsideRange,
    /// Something other than spaces after the timestamp.
    #[error("point is invalid")]
    PointIsInvalid,
    /// Series key (or series key + 4 + field key) longer than 65535 bytes.
    #[error("max key length exceeded: {size} > {MAX_KEY_LENGTH}")]
    MaxKeyLength { size: usize },
    /// 2.x `walkFields`: a field whose key has no unescaped `=` after it.
    #[error("invalid value: field-key={key}")]
    InvalidFieldKey { key: String },
    /// Not a Go parse error: a field value that Go's parser accepts but its field iterator cannot
    /// decode (only reachable with `\\=` in field keys or junk after a closing quote). InfluxDB
    /// fails such points later, in storage; sluice refuses them up front.
    #[error("unable to decode field {key}: invalid {expected} value {value}")]
    UndecodableFieldValue {
        key: String,
        value: String,
        expected: &'static str,
    },
}

impl HasErrorCode for LineError {
    fn error_code(&self) -> ErrorCode {
        ErrorCode::Invalid
    }
}
