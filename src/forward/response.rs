//! What an upstream answer means for the batch that was sent.
//!
//! Owns: the mapping from status + body to a [`Verdict`], the parsing of InfluxDB's error
//! messages in both dialects (2.x `{"code","message"}`, 1.x `{"error"}`), finding the lines an
//! error names, and identifying the lines of a field type conflict. Pure: no IO.
//! Does not own: acting on the verdict (see `deliver`).

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;

use super::lines::{FieldType, field_type, field_type_named, measurement};

/// What to do with a batch after the upstream answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Everything was written.
    Delivered,
    /// 413: split the batch and send the halves.
    TooLarge,
    /// Lines failed to parse. `named` are indices into the batch. If `rest_written`, the other
    /// lines were written (1.x partial write); otherwise nothing was (2.x: re-send the rest).
    Rejected {
        named: Vec<usize>,
        rest_written: bool,
        message: String,
    },
    /// The upstream wrote the batch except for points it dropped for a storage reason (field
    /// type conflict, retention): the rest counts as delivered. `named` are the lines that
    /// could be identified; `identified` says whether `named` is believed complete.
    Partial {
        named: Vec<usize>,
        identified: bool,
        dropped: Option<u64>,
        message: String,
    },
    /// A deterministic refusal that cannot be interpreted: dead-letter the whole batch.
    Unusable { message: String },
    /// Transient (network, 5xx, 429): retry the same batch, no sooner than `retry_after`.
    Retry {
        retry_after: Option<Duration>,
        message: String,
    },
    /// The upstream refuses us (401/403/404, other 4xx): keep the data, back off, report.
    Hold { message: String },
}

/// The upstream's error message: `message` (2.x), `error` (1.x), or the raw text.
pub fn error_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ErrBody {
        message: Option<String>,
        error: Option<String>,
        code: Option<String>,
    }
    if let Ok(b) = serde_json::from_slice::<ErrBody>(body)
        && let Some(m) = b.message.or(b.error).or(b.code)
    {
        return m;
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let mut end = text.len().min(1024);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// Classifies an HTTP answer to a request that carried `lines`.
pub fn classify(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
    lines: &[Bytes],
) -> Verdict {
    if (200..300).contains(&status) {
        return Verdict::Delivered;
    }
    let message = error_message(body);
    match status {
        413 => Verdict::TooLarge,
        400 => classify_400(message, lines),
        422 => partial(message, lines),
        429 | 503 => Verdict::Retry {
            retry_after,
            message,
        },
        408 => Verdict::Retry {
            retry_after: None,
            message,
        },
        500..=599 => Verdict::Retry {
            retry_after: None,
            message,
        },
        _ => Verdict::Hold { message },
    }
}

const PARTIAL: &str = "partial write: ";
const UNABLE: &str = "unable to parse '";

fn classify_400(message: String, lines: &[Bytes]) -> Verdict {
    let (is_partial, reason) = match message.find(PARTIAL) {
        Some(i) => (true, &message[i + PARTIAL.len()..]),
        None => (false, message.as_str()),
    };
    if reason.starts_with(UNABLE) {
        let named = named_lines(reason, lines);
        if named.is_empty() {
            return Verdict::Unusable { message };
        }
        return Verdict::Rejected {
            named,
            rest_written: is_partial,
            message,
        };
    }
    if is_partial {
        return partial(message, lines);
    }
    Verdict::Unusable { message }
}

/// Indices of the batch lines that `message` names in `unable to parse '<line>': <reason>`
/// entries (several joined with `\n`). A line may itself contain `': `, so every candidate
/// end is tried against the set of lines that were sent.
pub fn named_lines(message: &str, lines: &[Bytes]) -> Vec<usize> {
    let mut by_text: HashMap<&[u8], Vec<usize>> = HashMap::new();
    for (i, l) in lines.iter().enumerate() {
        by_text.entry(&l[..]).or_default().push(i);
    }
    let msg = message.as_bytes();
    let mut named = Vec::new();
    let mut pos = 0;
    while let Some(off) = find(&msg[pos..], UNABLE.as_bytes()) {
        let start = pos + off + UNABLE.len();
        let mut search = start;
        pos = start;
        while let Some(e) = find(&msg[search..], b"': ") {
            let end = search + e;
            if let Some(idx) = by_text.remove(&msg[start..end]) {
                named.extend(idx);
                pos = end + 3;
                break;
            }
            search = end + 1;
        }
    }
    named.sort_unstable();
    named
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `dropped=N` at the end of an InfluxDB partial-write message.
pub fn dropped_count(message: &str) -> Option<u64> {
    let i = message.rfind("dropped=")?;
    let digits: String = message[i + 8..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// A field type conflict: (field, measurement, input type).
pub fn field_conflict(message: &str) -> Option<(String, String, FieldType)> {
    const HEAD: &str = "field type conflict: input field \"";
    let rest = &message[message.find(HEAD)? + HEAD.len()..];
    let (field, rest) = rest.split_once("\" on measurement \"")?;
    let (meas, rest) = rest.split_once("\" is type ")?;
    let ty: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
    Some((field.to_owned(), meas.to_owned(), field_type_named(&ty)?))
}

fn partial(message: String, lines: &[Bytes]) -> Verdict {
    let dropped = dropped_count(&message);
    let Some((field, meas, ty)) = field_conflict(&message) else {
        return Verdict::Partial {
            named: Vec::new(),
            identified: false,
            dropped,
            message,
        };
    };
    let named: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            measurement(l) == meas.as_bytes() && field_type(l, field.as_bytes()) == Some(ty)
        })
        .map(|(i, _)| i)
        .collect();
    let identified = !named.is_empty() && dropped.is_none_or(|d| d == named.len() as u64);
    Verdict::Partial {
        named,
        identified,
        dropped,
        message,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn batch(lines: &[&str]) -> Vec<Bytes> {
        lines
            .iter()
            .map(|l| Bytes::copy_from_slice(l.as_bytes()))
            .collect()
    }

    #[test]
    fn v2_parse_error_names_lines_and_writes_nothing() {
        let lines = batch(&[
            "cpu v=1 1",
            "cpu v=\"a': b\" 2",
            "bad line",
            "cpu v=3 3",
            "bad line",
        ]);
        let msg = "unable to parse 'cpu v=\"a': b\" 2': invalid field format\nunable to parse 'bad line': missing fields";
        let body = serde_json::json!({"code": "invalid", "message": msg}).to_string();
        match classify(400, None, body.as_bytes(), &lines) {
            Verdict::Rejected {
                named,
                rest_written,
                message,
            } => {
                assert_eq!(named, vec![1, 2, 4]);
                assert!(!rest_written);
                assert_eq!(message, msg);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn v1_partial_parse_error_means_rest_written() {
        let lines = batch(&["cpu v=1 1", "cpu v=1.1.1 2"]);
        let body = r#"{"error":"partial write: unable to parse 'cpu v=1.1.1 2': invalid number dropped=0"}"#;
        match classify(400, None, body.as_bytes(), &lines) {
            Verdict::Rejected {
                named,
                rest_written,
                ..
            } => {
                assert_eq!(named, vec![1]);
                assert!(rest_written);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn field_type_conflict_identifies_lines() {
        let lines = batch(&[
            "cpu v=1i 1",
            "cpu v=1.5 2",
            "mem v=2.5 3",
            "cpu w=1.5,v=2.5 4",
        ]);
        let m = r#"partial write: field type conflict: input field \"v\" on measurement \"cpu\" is type float, already exists as type integer dropped=2"#;
        let body = format!(r#"{{"error":"{m}"}}"#);
        match classify(400, None, body.as_bytes(), &lines) {
            Verdict::Partial {
                named,
                identified,
                dropped,
                ..
            } => {
                assert_eq!(named, vec![1, 3]);
                assert!(identified);
                assert_eq!(dropped, Some(2));
            }
            other => panic!("unexpected {other:?}"),
        }
        // 2.x says the same with 422.
        let body = format!(
            r#"{{"code":"unprocessable entity","message":"failure writing points to database: {m}"}}"#
        );
        assert!(matches!(
            classify(422, None, body.as_bytes(), &lines),
            Verdict::Partial {
                identified: true,
                ..
            }
        ));
    }

    #[test]
    fn retention_partial_is_not_identified() {
        let lines = batch(&["cpu v=1 1"]);
        let body = r#"{"error":"partial write: points beyond retention policy dropped=1"}"#;
        assert_eq!(
            classify(400, None, body.as_bytes(), &lines),
            Verdict::Partial {
                named: vec![],
                identified: false,
                dropped: Some(1),
                message: "partial write: points beyond retention policy dropped=1".into()
            }
        );
    }

    #[test]
    fn other_statuses() {
        let l = batch(&["cpu v=1 1"]);
        assert_eq!(classify(204, None, b"", &l), Verdict::Delivered);
        assert_eq!(classify(413, None, b"", &l), Verdict::TooLarge);
        let ra = Some(Duration::from_secs(3));
        assert!(
            matches!(classify(429, ra, b"", &l), Verdict::Retry { retry_after, .. } if retry_after == ra)
        );
        assert!(matches!(
            classify(502, None, b"", &l),
            Verdict::Retry {
                retry_after: None,
                ..
            }
        ));
        let unauth = br#"{"code":"unauthorized","message":"unauthorized access"}"#;
        assert_eq!(
            classify(401, None, unauth, &l),
            Verdict::Hold {
                message: "unauthorized access".into()
            }
        );
        assert!(matches!(
            classify(404, None, b"{\"error\":\"database not found\"}", &l),
            Verdict::Hold { .. }
        ));
        assert!(matches!(
            classify(
                400,
                None,
                br#"{"code":"invalid","message":"invalid precision"}"#,
                &l
            ),
            Verdict::Unusable { .. }
        ));
        // Names a line that was not sent: cannot tell which lines failed.
        assert!(matches!(
            classify(
                400,
                None,
                br#"{"code":"invalid","message":"unable to parse 'x': y"}"#,
                &l
            ),
            Verdict::Unusable { .. }
        ));
        assert_eq!(
            error_message(b"request throttled, queue full\n"),
            "request throttled, queue full"
        );
    }
}
