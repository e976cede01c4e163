//! Flux tokens: the lexical grammar of docs/flux.md §1.
//!
//! Owns: turning query text into tokens with positions (identifiers, keywords, numbers,
//! strings with `${}` interpolation kept raw, durations, RFC3339 date-times, regexes, operators,
//! comments skipped). Does not own: what the tokens mean (`parser`).
//!
//! A `/` starts a regex literal when the previous token cannot end an operand (Flux's rule).

use super::FluxError;

/// A position in the query text: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Ident(String),
    Int(i64),
    Float(f64),
    /// Raw string content between the quotes (escapes resolved by the parser).
    Str(String),
    /// Raw duration text, e.g. `1h30m`.
    Duration(String),
    /// Raw date-time text, e.g. `2024-06-01T10:00:00Z`.
    Time(String),
    Regex(String),
    /// Operators and punctuation, e.g. `|>`, `=>`, `==`, `(`.
    Op(&'static str),
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub pos: Pos,
    /// Its bytes in the query text.
    pub span: std::ops::Range<usize>,
}

/// Longest token list a query may produce.
const MAX_TOKENS: usize = 200_000;

const OPS: [&str; 28] = [
    "|>", "=>", "==", "!=", "=~", "!~", "<=", ">=", "<-", "(", ")", "[", "]", "{", "}", ",", ":",
    ".", "+", "-", "*", "/", "%", "^", "<", ">", "=", "?",
];

pub fn tokenize(src: &str) -> Result<Vec<Token>, FluxError> {
    let b = src.as_bytes();
    let mut out: Vec<Token> = Vec::new();
    let (mut i, mut line, mut line_start) = (0usize, 1u32, 0usize);
    while i < b.len() {
        let c = b[i];
        let pos = Pos {
            line,
            col: (src[line_start..i].chars().count() + 1) as u32,
        };
        if c == b'\n' {
            line += 1;
            i += 1;
            line_start = i;
            continue;
        }
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if out.len() >= MAX_TOKENS {
            return Err(FluxError::invalid(format!(
                "query has more than {MAX_TOKENS} tokens"
            )));
        }
        let tok_start = i;
        let tok = if c == b'"' {
            let (s, next, lines) = string(src, i, pos)?;
            if lines > 0 {
                line += lines;
                line_start = src[..next].rfind('\n').map_or(0, |p| p + 1);
            }
            i = next;
            Tok::Str(s)
        } else if c == b'/' && !ends_operand(out.last()) {
            let start = i + 1;
            let mut j = start;
            loop {
                match b.get(j) {
                    None | Some(b'\n') => {
                        return Err(FluxError::at(pos, "unterminated regex literal"));
                    }
                    Some(b'\\') => j += 2,
                    Some(b'/') => break,
                    Some(_) => j += 1,
                }
            }
            i = j + 1;
            Tok::Regex(src[start..j].replace("\\/", "/"))
        } else if c.is_ascii_digit() {
            let (t, next) = number(src, i, pos)?;
            i = next;
            t
        } else if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80) {
                i += 1;
            }
            Tok::Ident(src[start..i].to_owned())
        } else if let Some(op) = OPS.iter().find(|op| src[i..].starts_with(**op)) {
            i += op.len();
            Tok::Op(op)
        } else {
            let ch = src[i..].chars().next().unwrap_or('?');
            return Err(FluxError::at(pos, format!("invalid character {ch:?}")));
        };
        out.push(Token {
            tok,
            pos,
            span: tok_start..i,
        });
    }
    let pos = Pos {
        line,
        col: (src[line_start..].chars().count() + 1) as u32,
    };
    out.push(Token {
        tok: Tok::Eof,
        pos,
        span: src.len()..src.len(),
    });
    Ok(out)
}

fn ends_operand(prev: Option<&Token>) -> bool {
    match prev.map(|t| &t.tok) {
        None => false,
        Some(Tok::Op(op)) => matches!(*op, ")" | "]" | "}"),
        Some(Tok::Ident(id)) => !matches!(
            id.as_str(),
            "and" | "or" | "not" | "return" | "then" | "else" | "if" | "exists"
        ),
        Some(_) => true,
    }
}

/// A string literal starting at `i` (the opening quote): raw content, next index, newlines.
fn string(src: &str, i: usize, pos: Pos) -> StrResult {
    let b = src.as_bytes();
    let mut j = i + 1;
    let mut lines = 0;
    loop {
        match b.get(j) {
            None => return Err(FluxError::at(pos, "unterminated string literal")),
            Some(b'\\') => j += 2,
            Some(b'"') => break,
            Some(b'\n') => {
                lines += 1;
                j += 1;
            }
            Some(_) => j += 1,
        }
    }
    let raw = src.get(i + 1..j).unwrap_or("");
    Ok((raw.to_owned(), j + 1, lines))
}

type StrResult = Result<(String, usize, u32), FluxError>;

/// A number, duration or date-time starting at `i`.
fn number(src: &str, i: usize, pos: Pos) -> Result<(Tok, usize), FluxError> {
    let b = src.as_bytes();
    let mut j = i;
    while j < b.len() && b[j].is_ascii_digit() {
        j += 1;
    }
    // Date-time: YYYY-MM-DD[THH:MM:SS[.frac](Z|±HH:MM)]
    if j - i == 4 && b.get(j) == Some(&b'-') && b.get(j + 1).is_some_and(u8::is_ascii_digit) {
        let mut k = j;
        while k < b.len()
            && (b[k].is_ascii_alphanumeric() || matches!(b[k], b'-' | b':' | b'.' | b'+'))
        {
            k += 1;
        }
        return Ok((Tok::Time(src[i..k].to_owned()), k));
    }
    // Duration: (digits unit)+
    if b.get(j)
        .is_some_and(|c| c.is_ascii_alphabetic() || *c == 0xC2)
    {
        let mut k = i;
        loop {
            let ds = k;
            while k < b.len() && b[k].is_ascii_digit() {
                k += 1;
            }
            if k == ds {
                break;
            }
            let us = k;
            while k < b.len() && (b[k].is_ascii_alphabetic() || b[k] >= 0x80) {
                k += 1;
            }
            if k == us {
                return Err(FluxError::at(pos, "invalid duration literal"));
            }
        }
        return Ok((Tok::Duration(src[i..k].to_owned()), k));
    }
    if b.get(j) == Some(&b'.') && b.get(j + 1).is_some_and(u8::is_ascii_digit) {
        let mut k = j + 1;
        while k < b.len() && b[k].is_ascii_digit() {
            k += 1;
        }
        let f: f64 = src[i..k]
            .parse()
            .map_err(|_| FluxError::at(pos, "invalid float literal"))?;
        return Ok((Tok::Float(f), k));
    }
    let n: i64 = src[i..j]
        .parse()
        .map_err(|_| FluxError::at(pos, format!("integer literal {} overflows", &src[i..j])))?;
    Ok((Tok::Int(n), j))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        tokenize(s)
            .expect("tokenizes")
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    #[test]
    fn pipes_durations_times_regexes() {
        let t =
            toks("x |> range(start: -1h30m, stop: 2024-06-01T10:00:00.5Z) // c\nr =~ /a\\/b/ 4/2");
        assert!(t.contains(&Tok::Op("|>")));
        assert!(t.contains(&Tok::Duration("1h30m".into())));
        assert!(t.contains(&Tok::Time("2024-06-01T10:00:00.5Z".into())));
        assert!(t.contains(&Tok::Regex("a/b".into())));
        assert!(t.ends_with(&[Tok::Int(4), Tok::Op("/"), Tok::Int(2), Tok::Eof]));
    }

    #[test]
    fn errors_name_position() {
        let e = tokenize("a\n  \"x").expect_err("unterminated");
        assert!(e.message.contains("2:3"), "{}", e.message);
        assert!(tokenize("a @ b").is_err());
    }
}
