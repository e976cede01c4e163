//! Literal values (docs/flux.md §1): strings (escapes, `${}` parts), durations, date-times.
//!
//! Owns: the duration units (`y mo w d h m s ms us µs ns`, months kept apart from fixed
//! nanoseconds) and the date-time forms (RFC3339, bare dates). Overflow is an error.

use super::FluxError;
use super::ast::{Expr, StrPart};
use super::lexer::Pos;

/// `1h30m` → (months, ns).
pub fn parse_duration(s: &str) -> Result<(i64, i64), String> {
    let (mut months, mut ns) = (0i64, 0i64);
    let mut rest = s;
    while !rest.is_empty() {
        let d = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let n: i64 = rest[..d]
            .parse()
            .map_err(|_| format!("invalid duration {s}"))?;
        rest = &rest[d..];
        let u = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..u];
        rest = &rest[u..];
        let (mo, mult) = match unit {
            "y" => (12, 0),
            "mo" => (1, 0),
            "w" => (0, 7 * 86_400_000_000_000),
            "d" => (0, 86_400_000_000_000),
            "h" => (0, 3_600_000_000_000),
            "m" => (0, 60_000_000_000),
            "s" => (0, 1_000_000_000),
            "ms" => (0, 1_000_000),
            "us" | "µs" => (0, 1_000),
            "ns" => (0, 1),
            _ => return Err(format!("invalid duration unit {unit:?} in {s}")),
        };
        let overflow = || format!("duration {s} overflows");
        months = months
            .checked_add(n.checked_mul(mo).ok_or_else(overflow)?)
            .ok_or_else(overflow)?;
        ns = ns
            .checked_add(n.checked_mul(mult).ok_or_else(overflow)?)
            .ok_or_else(overflow)?;
    }
    Ok((months, ns))
}

/// An RFC3339 date-time (or a bare date, midnight UTC) → ns since the Unix epoch.
pub fn parse_time(s: &str) -> Result<i64, String> {
    let dt = if s.len() == 10 {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc().fixed_offset())
    } else {
        chrono::DateTime::parse_from_rfc3339(s).ok()
    };
    dt.and_then(|d| d.timestamp_nanos_opt())
        .ok_or_else(|| format!("invalid date-time literal {s}"))
}

/// A string literal's raw content → text and `${expr}` parts, escapes resolved.
pub fn string_parts(
    raw: &str,
    pos: Pos,
    parse_expr: &dyn Fn(&str) -> Result<Expr, FluxError>,
) -> Result<Vec<StrPart>, FluxError> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut chars = raw.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next().map(|(_, c)| c) {
                Some('n') => text.push('\n'),
                Some('r') => text.push('\r'),
                Some('t') => text.push('\t'),
                Some(c @ ('\\' | '"' | '$')) => text.push(c),
                other => {
                    return Err(FluxError::at(
                        pos,
                        format!("invalid escape sequence \\{}", other.unwrap_or(' ')),
                    ));
                }
            },
            '$' if raw[i..].starts_with("${") => {
                chars.next();
                let start = i + 2;
                let mut level = 1;
                let mut end = None;
                for (j, c) in chars.by_ref() {
                    match c {
                        '{' => level += 1,
                        '}' => {
                            level -= 1;
                            if level == 0 {
                                end = Some(j);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let Some(end) = end else {
                    return Err(FluxError::at(pos, "unterminated string interpolation"));
                };
                if !text.is_empty() {
                    parts.push(StrPart::Text(std::mem::take(&mut text)));
                }
                let e = parse_expr(&raw[start..end])?;
                parts.push(StrPart::Expr(e));
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() || parts.is_empty() {
        parts.push(StrPart::Text(text));
    }
    Ok(parts)
}
