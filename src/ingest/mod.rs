//! One write request body → the lines sluice accepts, and InfluxDB's verdict on the rest.
//!
//! Owns: the batch-level semantics of a write, per API dialect:
//! - v2 (`/api/v2/write`, InfluxDB 2.x): one unparsable line rejects the whole batch (400, nothing
//!   written); points refused after parsing (a field named `time`, a field type conflict inside the
//!   batch) are a partial write (422), the other points are written.
//! - v1 (`/write`, InfluxDB 1.x): the valid lines are written and every refused line (unparsable
//!   or refused after parsing) makes the answer a 400 `partial write`; when no line parsed at all
//!   the answer is the raw parse error.
//!
//! Lines without a timestamp get the time the request was received, in the request's precision.
//! When every line is valid and stamped, the accepted bytes are the request body itself
//! (zero-copy); otherwise the accepted lines are copied into a new buffer.
//!
//! With the embedded store, a write is also judged against the field types its bucket already
//! holds ([`ingest_checked`] with a [`KnownTypes`]): a point whose field has another type than
//! the bucket's is refused like an in-batch conflict (partial write), and the verdict lists the
//! (measurement, field, type) triples the batch introduces (`Verdict::new_fields`), which the
//! caller records atomically and, if another request won the race, drops with
//! [`drop_conflicts`].
//!
//! Does not own: line syntax (`lineproto`), authentication, durability (`wal`), HTTP (`http`),
//! the bucket's field types themselves (`store::types`).

use std::collections::HashMap;
use std::fmt::Write as _;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{ErrorCode, HasErrorCode};
use crate::lineproto::{self, FieldShape, FieldType, Line, ParseOptions};
use crate::model::Precision;

/// Which InfluxDB API (and so which verdict rules) a write came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    V1,
    V2,
}

/// How to judge one request.
#[derive(Debug, Clone, Copy)]
pub struct IngestOptions {
    pub api: Api,
    pub precision: Precision,
    /// `123u` is accepted (InfluxDB 2.x) rather than refused as "invalid number" (1.x).
    pub allow_unsigned: bool,
    /// Reception time in nanoseconds since the epoch, for lines without a timestamp.
    pub now_ns: i64,
}

/// What a request contributes to the WAL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// Valid, `\n`-terminated, timestamped lines (may contain comment and blank lines).
    pub lines: Bytes,
    /// Number of points accepted.
    pub points: usize,
}

/// The verdict on a request: what to store, and what to tell the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub accepted: Accepted,
    /// `None`: every line was accepted (204). `Some`: the error the client gets after the
    /// accepted lines (if any) are durable.
    pub error: Option<IngestError>,
    /// With [`ingest_checked`]: the field types the accepted points use that the bucket did not
    /// know, sorted. Empty otherwise.
    pub new_fields: Vec<FieldTypeOf>,
}

/// A field's type in one measurement; names unescaped.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldTypeOf {
    pub measurement: Vec<u8>,
    pub field: Vec<u8>,
    pub ty: FieldType,
}

/// The field types a bucket already holds (files, buffer, accepted WAL records).
pub trait KnownTypes {
    /// The type of `field` in `measurement` (both unescaped), if the bucket has it.
    fn field_type(&self, measurement: &[u8], field: &[u8]) -> Option<FieldType>;
}

/// A field the bucket got with another type between a request's check and its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeConflict {
    pub measurement: Vec<u8>,
    pub field: Vec<u8>,
    pub input: FieldType,
    pub existing: FieldType,
}

/// A refusal of some or all lines of a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// v2: at least one line did not parse; nothing is written.
    #[error("{message}")]
    Unparsable { message: String },
    /// v1: nothing parsed at all; nothing is written.
    #[error("{message}")]
    NothingParsed { message: String },
    /// Some lines were refused, the others are written (v1: 400, v2: 422).
    #[error("{message}")]
    Partial {
        api: Api,
        message: String,
        dropped: usize,
    },
}

impl HasErrorCode for IngestError {
    fn error_code(&self) -> ErrorCode {
        match self {
            Self::Unparsable { .. } | Self::NothingParsed { .. } => ErrorCode::Invalid,
            Self::Partial { api: Api::V1, .. } => ErrorCode::Invalid,
            Self::Partial { api: Api::V2, .. } => ErrorCode::UnprocessableEntity,
        }
    }
}

/// (measurement, field key), escaped, as written.
type MeasurementField<'b> = (&'b [u8], &'b [u8]);

/// A line's fields as (escaped key, type), in written order.
type FieldSignature<'b> = Vec<(&'b [u8], FieldType)>;

/// Measurements whose last field signature a batch remembers.
const MAX_SCHEMAS: usize = 64;

/// Most refused lines quoted in one error message; the count of the rest is still given.
const MAX_QUOTED_ERRORS: usize = 100;

/// Judges one decoded request body.
pub fn ingest(body: Bytes, opts: &IngestOptions) -> Verdict {
    ingest_with(body, opts, true, None)
}

/// [`ingest`], also refusing points whose field type differs from the bucket's (`known`).
pub fn ingest_checked(body: Bytes, opts: &IngestOptions, known: &dyn KnownTypes) -> Verdict {
    ingest_with(body, opts, true, Some(known))
}

/// [`ingest`], with or without the shortcuts (`Line::field_shape`, `Line::has_field_keys`,
/// `Line::has_reserved_tag_key`) that skip walking a line's tags and fields. Without them it is
/// the reference the shortcuts are tested against.
fn ingest_with(
    body: Bytes,
    opts: &IngestOptions,
    shortcuts: bool,
    known: Option<&dyn KnownTypes>,
) -> Verdict {
    let popts = ParseOptions {
        precision: opts.precision,
        allow_unsigned: opts.allow_unsigned,
    };
    let mut judge = Judge::new(opts, &body);
    judge.shortcuts = shortcuts;
    judge.known = known;
    for line in lineproto::split_lines(&body) {
        match lineproto::parse_line(line, &popts) {
            Ok(parsed) => judge.parsed(line, &parsed),
            Err(e) => judge.unparsable(line, &e),
        }
    }
    let new_fields = judge.new_fields();
    let outcome = judge.finish();
    let lines = match outcome.lines {
        Lines::None => Bytes::new(),
        Lines::Body if body.ends_with(b"\n") => body.clone(),
        Lines::Body => rebuild(&body, body.len(), &[], *opts),
        Lines::Rebuilt { prefix_end, kept } => rebuild(&body, prefix_end, &kept, *opts),
    };
    Verdict {
        accepted: Accepted {
            lines,
            points: outcome.points,
        },
        new_fields: if outcome.points == 0 {
            Vec::new()
        } else {
            new_fields
        },
        error: outcome.error,
    }
}

/// The per-request state of [`ingest`].
struct Judge<'b> {
    opts: IngestOptions,
    /// Lines to keep, with whether each needs a timestamp appended. Filled only once a line
    /// needs rewriting or is refused; until then the body itself is the answer.
    kept: Vec<(&'b [u8], bool)>,
    body: &'b [u8],
    /// Where the first line that was refused or needed a timestamp starts. Everything before
    /// it is kept as it is; from it on, kept lines are collected in `kept`.
    prefix_end: Option<usize>,
    points: usize,
    parse_errors: Vec<String>,
    parse_error_count: usize,
    dropped: Vec<String>,
    dropped_count: usize,
    /// (measurement, field key) → first type seen in this batch, or the bucket's type (then
    /// `true`).
    field_types: HashMap<MeasurementField<'b>, (FieldType, bool)>,
    /// The bucket's field types, when the store checks them.
    known: Option<&'b dyn KnownTypes>,
    /// Field signature of the last accepted line of each measurement (at most `MAX_SCHEMAS`).
    schemas: Vec<Schema<'b>>,
    /// Reused buffer for the signature of the line being judged.
    scratch: FieldSignature<'b>,
    /// Use what `parse_line` recorded to skip walks (off only for the reference in tests).
    shortcuts: bool,
}

/// The field signature of the last accepted line of a measurement.
struct Schema<'b> {
    measurement: &'b [u8],
    sig: FieldSignature<'b>,
    /// `sig`'s types, when it has few enough fields.
    shape: Option<FieldShape>,
}

impl<'b> Judge<'b> {
    fn new(opts: &IngestOptions, body: &'b [u8]) -> Self {
        Self {
            opts: *opts,
            kept: Vec::new(),
            body,
            prefix_end: None,
            points: 0,
            parse_errors: Vec::new(),
            parse_error_count: 0,
            dropped: Vec::new(),
            dropped_count: 0,
            field_types: HashMap::new(),
            schemas: Vec::new(),
            scratch: Vec::new(),
            shortcuts: true,
            known: None,
        }
    }

    /// The types recorded from accepted points that the bucket did not know, unescaped, sorted.
    fn new_fields(&self) -> Vec<FieldTypeOf> {
        if self.known.is_none() {
            return Vec::new();
        }
        let mut out: Vec<FieldTypeOf> = self
            .field_types
            .iter()
            .filter(|(_, (_, from_bucket))| !from_bucket)
            .map(|((m, k), (ty, _))| FieldTypeOf {
                measurement: lineproto::unescape_measurement(m).into_owned(),
                field: lineproto::unescape_field_key(k).into_owned(),
                ty: *ty,
            })
            .collect();
        out.sort();
        out
    }

    /// The type of (measurement, key) this batch or the bucket already has.
    fn known_type(&mut self, measurement: &'b [u8], key: &'b [u8]) -> Option<FieldType> {
        if let Some(&(ty, _)) = self.field_types.get(&(measurement, key)) {
            return Some(ty);
        }
        let known = self.known?;
        let ty = known.field_type(
            &lineproto::unescape_measurement(measurement),
            &lineproto::unescape_field_key(key),
        )?;
        self.field_types.insert((measurement, key), (ty, true));
        Some(ty)
    }

    fn parsed(&mut self, raw: &'b [u8], line: &Line<'b>) {
        if let Some(reason) = self.refusal(line) {
            match self.opts.api {
                // InfluxDB 2 refuses reserved tag keys while parsing: the whole batch fails.
                Api::V2 if reason.is_parse_error => self.unparsable_reason(raw, &reason.text),
                _ => self.drop_point(raw, reason.text),
            }
            return;
        }
        let needs_time = line.timestamp().is_none();
        if needs_time {
            self.mark_divergence(raw);
        }
        if self.prefix_end.is_some() {
            self.kept.push((raw, needs_time));
        }
        self.points += 1;
    }

    /// Why a parsed point is refused, if it is.
    fn refusal(&mut self, line: &Line<'b>) -> Option<Refusal> {
        self.reserved_tag(line).or_else(|| self.field_refusal(line))
    }

    /// A tag key the API reserves. Escapes never produce these names, so the raw key is
    /// compared as written.
    fn reserved_tag(&self, line: &Line<'b>) -> Option<Refusal> {
        if self.shortcuts && !line.has_reserved_tag_key() {
            return None;
        }
        let api = self.opts.api;
        let (key, _) = line.tags().find(|(key, _)| match api {
            Api::V2 => matches!(*key, b"time" | b"_measurement" | b"_field"),
            Api::V1 => *key == b"time",
        })?;
        let text = match api {
            Api::V2 => format!(
                "cannot use reserved tag key {:?}",
                String::from_utf8_lossy(key)
            ),
            Api::V1 => format!(
                "invalid tag key: input tag \"time\" on measurement {:?} is invalid",
                lossy_measurement(line.measurement())
            ),
        };
        Some(Refusal {
            text,
            is_parse_error: api == Api::V2,
        })
    }

    /// Whether the line has the field keys and types of the last accepted line of its
    /// measurement, told from what `parse_line` recorded (`false` when it cannot tell).
    fn same_as_last(&self, line: &Line<'b>) -> bool {
        let Some(shape) = line.field_shape() else {
            return false;
        };
        let measurement = line.measurement();
        self.schemas
            .iter()
            .find(|s| s.measurement == measurement)
            .is_some_and(|known| {
                known.shape == Some(shape)
                    && line.has_field_keys(known.sig.iter().map(|&(key, _)| key))
            })
    }

    /// A field named `time`, or a field whose type differs from an earlier point of the same
    /// measurement in this batch. A line with the same field signature as the last accepted
    /// line of its measurement cannot conflict and skips the per-field lookups.
    fn field_refusal(&mut self, line: &Line<'b>) -> Option<Refusal> {
        let measurement = line.measurement();
        // The same keys and types as the last accepted line of the measurement, checked without
        // walking the fields (that line had no field `time`, so this one has none either).
        if self.shortcuts && self.same_as_last(line) {
            return None;
        }
        let mut sig = std::mem::take(&mut self.scratch);
        sig.clear();
        for (key, ty) in line.field_types() {
            if key == b"time" {
                self.scratch = sig;
                return Some(Refusal {
                    text: format!(
                        "invalid field name: input field \"time\" on measurement {:?} is invalid",
                        lossy_measurement(measurement)
                    ),
                    is_parse_error: false,
                });
            }
            sig.push((key, ty));
        }
        let known_sig = self
            .schemas
            .iter()
            .position(|s| s.measurement == measurement);
        if known_sig.is_some_and(|i| self.schemas[i].sig == sig) {
            self.scratch = sig;
            return None;
        }
        // Check every field before recording any type, so a refused point leaves no trace.
        let mut conflict = None;
        for &(key, ty) in &sig {
            if let Some(known) = self.known_type(measurement, key).filter(|&k| k != ty) {
                conflict = Some((key, ty, known));
                break;
            }
        }
        if let Some((key, ty, known)) = conflict {
            self.scratch = sig;
            return Some(Refusal {
                text: format!(
                    "field type conflict: input field {:?} on measurement {:?} is type {ty}, already exists as type {known}",
                    String::from_utf8_lossy(&lineproto::unescape_field_key(key)),
                    lossy_measurement(measurement),
                ),
                is_parse_error: false,
            });
        }
        for &(key, ty) in &sig {
            self.field_types
                .entry((measurement, key))
                .or_insert((ty, false));
        }
        let shape = FieldShape::from_types(sig.iter().map(|&(_, ty)| ty));
        match known_sig {
            Some(i) => {
                let slot = &mut self.schemas[i];
                slot.sig.clear();
                slot.sig.extend_from_slice(&sig);
                slot.shape = shape;
            }
            None if self.schemas.len() < MAX_SCHEMAS => self.schemas.push(Schema {
                measurement,
                sig: sig.clone(),
                shape,
            }),
            None => {}
        }
        self.scratch = sig;
        None
    }

    fn unparsable(&mut self, raw: &'b [u8], err: &lineproto::LineError) {
        self.unparsable_reason(raw, &err.to_string());
    }

    fn unparsable_reason(&mut self, raw: &'b [u8], reason: &str) {
        self.mark_divergence(raw);
        self.parse_error_count += 1;
        if self.parse_errors.len() < MAX_QUOTED_ERRORS {
            self.parse_errors.push(format!(
                "unable to parse '{}': {}",
                String::from_utf8_lossy(raw),
                reason
            ));
        }
    }

    fn drop_point(&mut self, raw: &'b [u8], text: String) {
        self.mark_divergence(raw);
        self.dropped_count += 1;
        if self.dropped.len() < MAX_QUOTED_ERRORS {
            self.dropped.push(text);
        }
    }

    /// Records that `raw` (a line of the body) is the first one not kept as it is, if no
    /// earlier one was.
    fn mark_divergence(&mut self, raw: &[u8]) {
        if self.prefix_end.is_none() {
            // `raw` borrows from `body`, so the subtraction cannot underflow.
            self.prefix_end = Some(raw.as_ptr() as usize - self.body.as_ptr() as usize);
        }
    }

    fn finish(self) -> Outcome<'b> {
        let all_parsed = self.parse_error_count == 0;
        let nothing = |error| Outcome {
            lines: Lines::None,
            points: 0,
            error: Some(error),
        };
        if self.opts.api == Api::V2 && !all_parsed {
            return nothing(IngestError::Unparsable {
                message: self.parse_message(),
            });
        }
        if self.opts.api == Api::V1 && !all_parsed && self.points == 0 && self.dropped_count == 0 {
            return nothing(IngestError::NothingParsed {
                message: self.parse_message(),
            });
        }
        let error = self.partial_error();
        let lines = match self.prefix_end {
            _ if self.points == 0 => Lines::None,
            None => Lines::Body,
            Some(prefix_end) => Lines::Rebuilt {
                prefix_end,
                kept: self.kept,
            },
        };
        Outcome {
            lines,
            points: self.points,
            error,
        }
    }

    fn parse_message(&self) -> String {
        let mut msg = self.parse_errors.join("\n");
        let more = self.parse_error_count - self.parse_errors.len();
        if more > 0 {
            let _ = write!(msg, "\n... and {more} more unparsable lines");
        }
        msg
    }

    fn partial_error(&self) -> Option<IngestError> {
        if self.parse_error_count == 0 && self.dropped_count == 0 {
            return None;
        }
        let api = self.opts.api;
        let reason = if self.parse_error_count > 0 {
            self.parse_message()
        } else {
            self.dropped.join("\n")
        };
        let message = match api {
            Api::V1 => format!("partial write: {reason} dropped={}", self.dropped_count),
            Api::V2 => format!(
                "failure writing points to database: partial write: {reason} dropped={}",
                self.dropped_count
            ),
        };
        Some(IngestError::Partial {
            api,
            message,
            dropped: self.dropped_count + self.parse_error_count,
        })
    }
}

struct Refusal {
    text: String,
    is_parse_error: bool,
}

fn lossy_measurement(raw: &[u8]) -> String {
    String::from_utf8_lossy(&lineproto::unescape_measurement(raw)).into_owned()
}

/// Copies the accepted lines into a new buffer: `body[..prefix_end]` as it is (complete lines
/// that were all kept unchanged), then each kept line, stamped if it has no timestamp.
fn rebuild(body: &[u8], prefix_end: usize, kept: &[(&[u8], bool)], opts: IngestOptions) -> Bytes {
    let stamp = opts.now_ns / opts.precision.nanos();
    let mut out = BytesMut::with_capacity(body.len() + 1 + kept.len() * 21);
    out.put_slice(&body[..prefix_end]);
    if prefix_end > 0 && !out.ends_with(b"\n") && kept.is_empty() {
        out.put_u8(b'\n');
    }
    for (line, needs_time) in kept {
        out.put_slice(line);
        if *needs_time {
            let _ = write!(ByteWriter(&mut out), " {stamp}");
        }
        out.put_u8(b'\n');
    }
    out.freeze()
}

/// The judge's conclusion, before any bytes are copied.
struct Outcome<'b> {
    lines: Lines<'b>,
    points: usize,
    error: Option<IngestError>,
}

enum Lines<'b> {
    None,
    /// Every line is kept as it is.
    Body,
    Rebuilt {
        prefix_end: usize,
        kept: Vec<(&'b [u8], bool)>,
    },
}

struct ByteWriter<'a>(&'a mut BytesMut);

impl std::fmt::Write for ByteWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.put_slice(s.as_bytes());
        Ok(())
    }
}

mod conflicts;

pub use conflicts::drop_conflicts;

#[cfg(test)]
mod tests;
