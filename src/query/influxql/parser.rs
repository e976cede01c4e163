//! The InfluxQL parser: text → `ast::Query`, with InfluxDB 1.6.7's error messages.
//!
//! Owns: the entry points (`parse_query`, `parse_query_limited`, `parse_expr`), the parse
//! error type, the token buffer and the helpers every production uses (identifiers,
//! segmented names, regexes). Expressions are in `parse_expr`, statements in `parse_stmt`
//! and `parse_select`. Does not own: scanning (`lexer`), meaning (`lower`).
//!
//! The parser follows InfluxDB's recursive-descent grammar step by step (including where it
//! is sensitive to whitespace: `mean(x)` is a call, `mean (x)` is not), so that it accepts
//! the same texts and fails at the same token with the same message. Limits: the text length
//! (the caller's), nesting of parentheses, calls and subqueries (`MAX_NESTING`), and the depth
//! of an expression tree (`MAX_EXPR_DEPTH`, which bounds `a OR b OR …` chains): everything
//! downstream may recurse over the tree.

use std::collections::VecDeque;

use super::ast::{Expr, Query, RegexLit};
use super::lexer::{At, Lexer, Tok, Token};
use crate::error::{ErrorCode, HasErrorCode};

/// Default bound on the query text, for callers without their own.
pub const DEFAULT_MAX_QUERY_LEN: usize = 1 << 20;
/// Parentheses, call arguments and subqueries nest at most this deep.
pub const MAX_NESTING: usize = 100;
/// An expression tree is at most this deep (counting every binary operator level).
pub const MAX_EXPR_DEPTH: usize = 1000;

/// Why a query does not parse. `Display` is InfluxDB's text; the HTTP layer prefixes it with
/// `error parsing query: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// `found FROM, expected identifier, string, number, bool at line 1, char 8`.
    #[error("found {found}, expected {} at line {line}, char {char}", expected.join(", "))]
    Unexpected {
        found: String,
        expected: Vec<&'static str>,
        line: usize,
        char: usize,
    },
    /// A message at a position: `unable to parse integer at line 1, char 30`.
    #[error("{message} at line {line}, char {char}")]
    At {
        message: String,
        line: usize,
        char: usize,
    },
    /// A message without a position, as InfluxDB gives some: `expected number argument in
    /// fill()`, `invalid duration`, `only ORDER BY time supported at this time`.
    #[error("{message}")]
    Invalid { message: String },
    /// The text is longer than the caller allows.
    #[error("query too long: {len} bytes, limit {limit}")]
    TooLong { len: usize, limit: usize },
    /// Parentheses, calls or subqueries nest deeper than `MAX_NESTING`, or an expression is
    /// deeper than `MAX_EXPR_DEPTH`.
    #[error("query nested too deeply: more than {limit} levels at line {line}, char {char}")]
    TooDeep {
        limit: usize,
        line: usize,
        char: usize,
    },
}

impl HasErrorCode for ParseError {
    fn error_code(&self) -> ErrorCode {
        match self {
            ParseError::TooLong { .. } => ErrorCode::RequestTooLarge,
            _ => ErrorCode::Invalid,
        }
    }
}

/// Parses `;`-separated statements (empty statements are skipped), with the default length
/// bound.
pub fn parse_query(text: &str) -> Result<Query, ParseError> {
    parse_query_limited(text, DEFAULT_MAX_QUERY_LEN)
}

/// Parses `;`-separated statements; text longer than `max_len` bytes is refused unread.
/// Callers should trim the text first, as InfluxDB's HTTP handler does (positions count from
/// the first character).
pub fn parse_query_limited(text: &str, max_len: usize) -> Result<Query, ParseError> {
    if text.len() > max_len {
        return Err(ParseError::TooLong {
            len: text.len(),
            limit: max_len,
        });
    }
    let mut p = Parser::new(text);
    let mut statements = Vec::new();
    let mut after_separator = true;
    loop {
        let t = p.scan_ws();
        match t.tok {
            Tok::Eof => return Ok(Query { statements }),
            Tok::Semicolon => after_separator = true,
            _ => {
                if !after_separator {
                    return Err(p.unexpected(&t, &[";"]));
                }
                p.unscan();
                statements.push(p.parse_statement()?);
                after_separator = false;
            }
        }
    }
}

/// Parses one expression (as after `WHERE`); the rest of the text must be empty.
pub fn parse_expr(text: &str) -> Result<Expr, ParseError> {
    if text.len() > DEFAULT_MAX_QUERY_LEN {
        return Err(ParseError::TooLong {
            len: text.len(),
            limit: DEFAULT_MAX_QUERY_LEN,
        });
    }
    let mut p = Parser::new(text);
    let e = p.parse_expr()?;
    let t = p.scan_ws();
    if t.tok != Tok::Eof {
        return Err(p.unexpected(&t, &["EOF"]));
    }
    Ok(e)
}

/// Recursive-descent state: the scanner, InfluxDB's three-token unscan buffer, the nesting.
pub(super) struct Parser<'a> {
    lx: Lexer<'a>,
    /// The last tokens scanned (at most 3), oldest first.
    hist: VecDeque<Token>,
    /// How many of `hist` were pushed back.
    unread: usize,
    pub(super) nesting: usize,
}

impl<'a> Parser<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Parser {
            lx: Lexer::new(text),
            hist: VecDeque::with_capacity(3),
            unread: 0,
            nesting: 0,
        }
    }

    pub(super) fn src(&self) -> &'a str {
        self.lx.src()
    }

    fn push(&mut self, t: Token) -> Token {
        if self.hist.len() == 3 {
            self.hist.pop_front();
        }
        self.hist.push_back(t.clone());
        t
    }

    fn replay(&mut self) -> Option<Token> {
        if self.unread == 0 {
            return None;
        }
        self.unread -= 1;
        let i = self.hist.len().checked_sub(1 + self.unread)?;
        self.hist.get(i).cloned()
    }

    /// The next raw token (whitespace and comments included).
    pub(super) fn scan(&mut self) -> Token {
        if let Some(t) = self.replay() {
            return t;
        }
        let t = self.lx.scan();
        self.push(t)
    }

    /// The next token that is not whitespace or a comment.
    pub(super) fn scan_ws(&mut self) -> Token {
        loop {
            let t = self.scan();
            if !matches!(t.tok, Tok::Ws | Tok::Comment) {
                return t;
            }
        }
    }

    /// Pushes the last token back (up to three deep).
    pub(super) fn unscan(&mut self) {
        self.unread = (self.unread + 1).min(self.hist.len());
    }

    /// Scans one token; if it is not whitespace, pushes it back.
    pub(super) fn consume_whitespace(&mut self) {
        if self.scan().tok != Tok::Ws {
            self.unscan();
        }
    }

    /// A regex token at the next `/` (or, as InfluxDB does, a pushed-back token instead).
    pub(super) fn scan_regex_token(&mut self) -> Token {
        if let Some(t) = self.replay() {
            return t;
        }
        let t = self.lx.scan_regex();
        self.push(t)
    }

    pub(super) fn rest(&self) -> &'a str {
        self.lx.rest()
    }

    /// Where the last token read (and not pushed back) ends.
    pub(super) fn last_end(&self) -> usize {
        let i = self.hist.len().saturating_sub(1 + self.unread);
        self.hist.get(i).map_or(0, |t| t.end)
    }

    pub(super) fn nothing_unread(&self) -> bool {
        self.unread == 0
    }

    pub(super) fn peek_rune(&mut self) -> Option<char> {
        self.lx.peek_rune()
    }

    /// The keyword of the next non-blank token, if it is `kw`; consumed only then.
    pub(super) fn eat_kw(&mut self, kw: &str) -> bool {
        if self.scan_ws().is_kw(kw) {
            true
        } else {
            self.unscan();
            false
        }
    }

    pub(super) fn line_char(&self, at: At) -> (usize, usize) {
        self.lx.pos(at)
    }

    pub(super) fn unexpected(&self, t: &Token, expected: &[&'static str]) -> ParseError {
        let (line, char) = self.line_char(t.at);
        ParseError::Unexpected {
            found: t.found(),
            expected: expected.to_vec(),
            line,
            char,
        }
    }

    pub(super) fn error_at(&self, message: String, at: At) -> ParseError {
        let (line, char) = self.line_char(at);
        ParseError::At {
            message,
            line,
            char,
        }
    }

    pub(super) fn too_deep(&self, limit: usize, at: At) -> ParseError {
        let (line, char) = self.line_char(at);
        ParseError::TooDeep { limit, line, char }
    }

    /// Expects the keywords (or `:`) in order.
    pub(super) fn expect(&mut self, expected: &[&'static str]) -> Result<(), ParseError> {
        for want in expected {
            let t = self.scan_ws();
            let ok = if *want == ":" {
                t.tok == Tok::Colon
            } else {
                t.is_kw(want)
            };
            if !ok {
                return Err(self.unexpected(&t, &[want]));
            }
        }
        Ok(())
    }

    pub(super) fn parse_ident(&mut self) -> Result<String, ParseError> {
        let t = self.scan_ws();
        if t.tok != Tok::Ident {
            return Err(self.unexpected(&t, &["identifier"]));
        }
        Ok(t.lit)
    }

    /// `ident (, ident)*`.
    pub(super) fn parse_ident_list(&mut self) -> Result<Vec<String>, ParseError> {
        let mut out = vec![self.parse_ident()?];
        loop {
            if self.scan_ws().tok != Tok::Comma {
                self.unscan();
                return Ok(out);
            }
            out.push(self.parse_ident()?);
        }
    }

    /// `a`, `a.b`, `a.b.c`, `a..c`; stops before `./re/` and `.:`.
    pub(super) fn parse_segmented_idents(&mut self) -> Result<Vec<String>, ParseError> {
        let mut idents = vec![self.parse_ident()?];
        loop {
            if self.scan().tok != Tok::Dot {
                self.unscan();
                break;
            }
            match self.peek_rune() {
                Some('/') | Some(':') => break,
                Some('.') => {
                    idents.push(String::new());
                    continue;
                }
                _ => {}
            }
            idents.push(self.parse_ident()?);
        }
        if idents.len() > 3 {
            let message = format!(
                "too many segments in {}",
                super::print::quote_segments(&idents)
            );
            return Err(self.error_at(message, At::default()));
        }
        Ok(idents)
    }

    /// A `/regex/` if the next non-blank character starts one.
    pub(super) fn parse_regex(&mut self) -> Result<Option<RegexLit>, ParseError> {
        if self
            .peek_rune()
            .is_some_and(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
        {
            self.consume_whitespace();
        }
        if self.peek_rune() != Some('/') {
            return Ok(None);
        }
        let t = self.scan_regex_token();
        match t.tok {
            Tok::Regex => {}
            Tok::BadRegex => return Err(self.error_at("bad regex: ".to_owned(), t.at)),
            _ => return Err(self.unexpected(&t, &["regex"])),
        }
        RegexLit::new(t.lit.clone()).map(Some).map_err(|e| {
            let reason = match &e {
                regex::Error::Syntax(s) => {
                    let last = s.lines().last().unwrap_or_default();
                    last.strip_prefix("error: ").unwrap_or(last).to_owned()
                }
                other => other.to_string(),
            };
            let message = format!("error parsing regexp: {reason}: `{}`", t.lit);
            self.error_at(message, t.at)
        })
    }
}
