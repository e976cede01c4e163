//! A verdict's second look: the accepted points whose field type another request recorded
//! first are dropped and reported as InfluxDB reports a field type conflict.
//!
//! Owns: [`drop_conflicts`]. Does not own: judging a batch (`ingest`), recording field types
//! (`store::types`).

use bytes::{BufMut, BytesMut};

use super::{Api, IngestError, IngestOptions, MAX_QUOTED_ERRORS, TypeConflict, Verdict};
use crate::lineproto::{self, ParseOptions};

/// Drops the accepted points that use a field with a type in `conflicts` (another request
/// recorded a different type for it first) and adds them to the verdict's error as InfluxDB
/// words a field type conflict. `opts` are the ones the verdict was made with.
pub fn drop_conflicts(verdict: &mut Verdict, opts: &IngestOptions, conflicts: &[TypeConflict]) {
    if conflicts.is_empty() || verdict.accepted.points == 0 {
        return;
    }
    let popts = ParseOptions {
        precision: opts.precision,
        allow_unsigned: true,
    };
    let mut kept = BytesMut::with_capacity(verdict.accepted.lines.len());
    let mut reasons = Vec::new();
    let mut dropped = 0usize;
    for raw in lineproto::split_lines(&verdict.accepted.lines) {
        let Ok(line) = lineproto::parse_line(raw, &popts) else {
            continue;
        };
        let m = lineproto::unescape_measurement(line.measurement());
        let hit = line.field_types().find_map(|(k, ty)| {
            let k = lineproto::unescape_field_key(k);
            conflicts
                .iter()
                .find(|c| c.input == ty && *c.measurement == *m && *c.field == *k)
        });
        match hit {
            Some(c) => {
                dropped += 1;
                if reasons.len() < MAX_QUOTED_ERRORS {
                    reasons.push(format!(
                        "field type conflict: input field {:?} on measurement {:?} is type {}, already exists as type {}",
                        String::from_utf8_lossy(&c.field),
                        String::from_utf8_lossy(&c.measurement),
                        c.input,
                        c.existing
                    ));
                }
            }
            None => {
                kept.put_slice(raw);
                kept.put_u8(b'\n');
            }
        }
    }
    if dropped == 0 {
        return;
    }
    verdict.accepted.lines = kept.freeze();
    verdict.accepted.points = verdict.accepted.points.saturating_sub(dropped);
    verdict.new_fields.retain(|f| {
        !conflicts
            .iter()
            .any(|c| c.measurement == f.measurement && c.field == f.field)
    });
    let reason = reasons.join("\n");
    verdict.error = Some(match verdict.error.take() {
        Some(IngestError::Partial {
            api,
            message,
            dropped: before,
        }) => {
            // The message ends with ` dropped=<n>` (see `partial_error`): extend it.
            let (head, shown) = message
                .rsplit_once(" dropped=")
                .and_then(|(h, n)| Some((h, n.parse::<usize>().ok()?)))
                .unwrap_or((message.as_str(), 0));
            IngestError::Partial {
                api,
                message: format!("{head}\n{reason} dropped={}", shown + dropped),
                dropped: before + dropped,
            }
        }
        _ => {
            let message = match opts.api {
                Api::V1 => format!("partial write: {reason} dropped={dropped}"),
                Api::V2 => format!(
                    "failure writing points to database: partial write: {reason} dropped={dropped}"
                ),
            };
            IngestError::Partial {
                api: opts.api,
                message,
                dropped,
            }
        }
    });
}
