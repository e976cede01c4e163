//! The InfluxQL parser: text → `ast::Query`, with InfluxDB 1.6.7's error messages.
//!
//! Owns: the entry points (`parse_query`, `parse_query_limited`, `parse_expr`), the parse
//! error type, the token buffer, and expression parsing. Statements are in `parse_stmt`.
//! Does not own: scanning (`lexer`), meaning (`lower`).
//!
//! The parser follows InfluxDB's recursive-descent grammar step by step (including where it
//! is sensitive to whitespace: `mean(x)` is a call, `mean (x)` is not), so that it accepts
//! the same texts and fails at the same token with the same message. Limits: the text length
//! (the caller's), nesting of parentheses, calls and subqueries (`MAX_NESTING`), and the depth
//! of an expression tree (`MAX_EXPR_DEPTH`, which bounds `a OR b OR …` chains): everything
//! downstream may recurse over the tree.

use std::collections::VecDeque;

use super::ast::{BinaryOp, DataType, DurationLit, Expr, Query, RegexLit, WildcardKind};
use super::lexer::{At, Lexer, Tok, Token};
use super::literal::parse_duration;
use crate::error::{ErrorCode, HasErrorCode};

/// Default bound on the query text, for callers without their own.
pub const DEFAULT_MAX_QUERY_LEN: usize = 1 << 20;
/// Parentheses, call arguments and subqueries nest at most this deep.
pub const MAX_NESTING: usize = 100;
/// An expression tree is at most this deep (counting every binary operator level).
pub const MAX_EXPR_DEPTH: usize = 1000;
/// Regexes compile to at most this many bytes (the `regex` crate's size limit).
pub const MAX_REGEX_SIZE: usize = 1 << 20;

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
        if let Err(e) = regex::RegexBuilder::new(&t.lit)
            .size_limit(MAX_REGEX_SIZE)
            .build()
        {
            let reason = match &e {
                regex::Error::Syntax(s) => {
                    let last = s.lines().last().unwrap_or_default();
                    last.strip_prefix("error: ").unwrap_or(last).to_owned()
                }
                other => other.to_string(),
            };
            let message = format!("error parsing regexp: {reason}: `{}`", t.lit);
            return Err(self.error_at(message, t.at));
        }
        Ok(Some(RegexLit { pattern: t.lit }))
    }

    /// One expression: InfluxDB's precedence, left-associative.
    pub(super) fn parse_expr(&mut self) -> Result<Expr, ParseError> {
        let start = self.scan_ws();
        self.unscan();
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(self.too_deep(MAX_NESTING, start.at));
        }
        let (lhs, depth) = self.parse_unary()?;
        let (e, _) = self.climb(lhs, depth, 1, start.at)?;
        self.nesting -= 1;
        Ok(e)
    }

    /// Precedence climbing from `lhs` over operators of precedence `min` and up. Gives the
    /// same tree as InfluxDB's insertion along the right spine, including after a regex
    /// operator (its right side is the regex, which higher operators then take as their left).
    fn climb(
        &mut self,
        mut lhs: Expr,
        mut depth: usize,
        min: u8,
        at: At,
    ) -> Result<(Expr, usize), ParseError> {
        loop {
            let t = self.scan_ws();
            let Some(op) = binary_op(t.tok) else {
                self.unscan();
                return Ok((lhs, depth));
            };
            if op.precedence() < min {
                self.unscan();
                return Ok((lhs, depth));
            }
            let (rhs, rdepth) = if matches!(op, BinaryOp::EqRegex | BinaryOp::NeqRegex) {
                let Some(re) = self.parse_regex()? else {
                    let t = self.scan_ws();
                    return Err(self.unexpected(&t, &["regex"]));
                };
                self.climb(Expr::Regex(re), 1, op.precedence() + 1, at)?
            } else {
                let (first, d) = self.parse_unary()?;
                self.climb(first, d, op.precedence() + 1, at)?
            };
            depth = depth.max(rdepth) + 1;
            if depth > MAX_EXPR_DEPTH {
                return Err(self.too_deep(MAX_EXPR_DEPTH, at));
            }
            lhs = Expr::Binary {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            };
        }
    }

    /// A non-binary expression, with its tree depth.
    fn parse_unary(&mut self) -> Result<(Expr, usize), ParseError> {
        let t = self.scan_ws();
        match t.tok {
            Tok::LParen => {
                let e = self.parse_expr()?;
                let close = self.scan_ws();
                if close.tok != Tok::RParen {
                    return Err(self.unexpected(&close, &[")"]));
                }
                let d = expr_depth(&e);
                Ok((Expr::Paren(Box::new(e)), d + 1))
            }
            Tok::Ident => {
                if self.scan().tok == Tok::LParen {
                    let call = self.parse_call(&t.lit, t.at)?;
                    let d = expr_depth(&call);
                    return Ok((call, d));
                }
                self.unscan();
                self.unscan();
                Ok((self.parse_var_ref()?, 1))
            }
            Tok::Keyword if t.kw == "DISTINCT" => {
                let t0 = self.scan();
                match t0.tok {
                    Tok::LParen => {
                        let call = self.parse_call("distinct", t.at)?;
                        let d = expr_depth(&call);
                        Ok((call, d))
                    }
                    Tok::Ws => {
                        let t1 = self.scan_ws();
                        if t1.tok != Tok::Ident {
                            return Err(self.unexpected(&t1, &["identifier"]));
                        }
                        Ok((Expr::Distinct(t1.lit), 1))
                    }
                    _ => Err(self.unexpected(&t0, &["(", "identifier"])),
                }
            }
            Tok::Str => Ok((Expr::String(t.lit), 1)),
            Tok::Number => match t.lit.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok((Expr::Float(v), 1)),
                _ => Err(self.error_at("unable to parse number".to_owned(), t.at)),
            },
            Tok::Integer => {
                if let Ok(v) = t.lit.parse::<i64>() {
                    Ok((Expr::Integer(v), 1))
                } else if let Ok(v) = t.lit.parse::<u64>() {
                    Ok((Expr::Unsigned(v), 1))
                } else {
                    Err(self.error_at("unable to parse integer".to_owned(), t.at))
                }
            }
            Tok::True => Ok((Expr::Boolean(true), 1)),
            Tok::False => Ok((Expr::Boolean(false), 1)),
            Tok::Duration => {
                let nanos = parse_duration(&t.lit).map_err(|e| ParseError::Invalid {
                    message: e.to_string(),
                })?;
                Ok((Expr::Duration(DurationLit { nanos, text: t.lit }), 1))
            }
            Tok::Mul => {
                let t0 = self.scan();
                if t0.tok != Tok::DoubleColon {
                    self.unscan();
                    return Ok((Expr::Wildcard(None), 1));
                }
                let t1 = self.scan();
                let kind = if t1.is_kw("FIELD") {
                    WildcardKind::Field
                } else if t1.is_kw("TAG") {
                    WildcardKind::Tag
                } else {
                    return Err(self.unexpected(&t1, &["field", "tag"]));
                };
                Ok((Expr::Wildcard(Some(kind)), 1))
            }
            Tok::Add | Tok::Sub => self.parse_signed(t.tok == Tok::Sub),
            _ => Err(self.unexpected(&t, &["identifier", "string", "number", "bool"])),
        }
    }

    /// After a unary `+`/`-`: a literal takes the sign; a variable, call or parenthesised
    /// expression `x` becomes `±1 * x`.
    fn parse_signed(&mut self, negative: bool) -> Result<(Expr, usize), ParseError> {
        let t0 = self.scan_ws();
        if !matches!(
            t0.tok,
            Tok::Number | Tok::Integer | Tok::Duration | Tok::LParen | Tok::Ident
        ) {
            return Err(self.unexpected(&t0, &["identifier", "number", "duration", "("]));
        }
        self.unscan();
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(self.too_deep(MAX_NESTING, t0.at));
        }
        let (inner, depth) = self.parse_unary()?;
        self.nesting -= 1;
        let signed = match inner {
            Expr::Float(v) if negative => Expr::Float(-v),
            Expr::Integer(v) if negative => Expr::Integer(-v),
            Expr::Unsigned(v) if negative => {
                if v == 1u64 << 63 {
                    Expr::Integer(i64::MIN)
                } else {
                    let message = format!("constant -{v} underflows int64");
                    return Err(ParseError::Invalid { message });
                }
            }
            Expr::Duration(d) if negative => Expr::Duration(DurationLit {
                nanos: -d.nanos,
                text: format!("-{}", d.text),
            }),
            e @ (Expr::VarRef { .. } | Expr::Call { .. } | Expr::Paren(_)) => {
                let sign = Expr::Integer(if negative { -1 } else { 1 });
                return Ok((
                    Expr::Binary {
                        op: BinaryOp::Mul,
                        lhs: Box::new(sign),
                        rhs: Box::new(e),
                    },
                    depth + 1,
                ));
            }
            other => other,
        };
        Ok((signed, depth))
    }

    /// `name(args…)`, after `name(`.
    fn parse_call(&mut self, name: &str, at: At) -> Result<Expr, ParseError> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(self.too_deep(MAX_NESTING, at));
        }
        let name = name.to_ascii_lowercase();
        let mut args = Vec::new();
        if let Some(re) = self.parse_regex()? {
            args.push(Expr::Regex(re));
        } else {
            if self.scan().tok == Tok::RParen {
                self.nesting -= 1;
                return Ok(Expr::Call { name, args });
            }
            self.unscan();
            args.push(self.parse_expr()?);
        }
        loop {
            if self.scan_ws().tok != Tok::Comma {
                self.unscan();
                break;
            }
            if let Some(re) = self.parse_regex()? {
                args.push(Expr::Regex(re));
                continue;
            }
            args.push(self.parse_expr()?);
        }
        let t = self.scan();
        if t.tok != Tok::RParen {
            return Err(self.unexpected(&t, &[")"]));
        }
        self.nesting -= 1;
        Ok(Expr::Call { name, args })
    }

    /// `a`, `"a"."b"` (joined with `.`), with an optional `::type`.
    fn parse_var_ref(&mut self) -> Result<Expr, ParseError> {
        let segments = self.parse_segmented_idents()?;
        let mut data_type = None;
        if self.scan().tok == Tok::DoubleColon {
            let t = self.scan();
            data_type = Some(match t.tok {
                Tok::Ident => match t.lit.to_ascii_lowercase().as_str() {
                    "float" => DataType::Float,
                    "integer" => DataType::Integer,
                    "unsigned" => DataType::Unsigned,
                    "string" => DataType::String,
                    "boolean" => DataType::Boolean,
                    _ => {
                        let expected = &[
                            "float", "integer", "unsigned", "string", "boolean", "field", "tag",
                        ];
                        return Err(self.unexpected(&t, expected));
                    }
                },
                Tok::Keyword if t.kw == "FIELD" => DataType::Field,
                Tok::Keyword if t.kw == "TAG" => DataType::Tag,
                _ => {
                    let expected = &["float", "integer", "string", "boolean", "field", "tag"];
                    return Err(self.unexpected(&t, expected));
                }
            });
        } else {
            self.unscan();
        }
        Ok(Expr::VarRef {
            name: segments.join("."),
            data_type,
        })
    }
}

fn binary_op(tok: Tok) -> Option<BinaryOp> {
    Some(match tok {
        Tok::Add => BinaryOp::Add,
        Tok::Sub => BinaryOp::Sub,
        Tok::Mul => BinaryOp::Mul,
        Tok::Div => BinaryOp::Div,
        Tok::Mod => BinaryOp::Mod,
        Tok::BitAnd => BinaryOp::BitAnd,
        Tok::BitOr => BinaryOp::BitOr,
        Tok::BitXor => BinaryOp::BitXor,
        Tok::And => BinaryOp::And,
        Tok::Or => BinaryOp::Or,
        Tok::Eq => BinaryOp::Eq,
        Tok::Neq => BinaryOp::Neq,
        Tok::EqRegex => BinaryOp::EqRegex,
        Tok::NeqRegex => BinaryOp::NeqRegex,
        Tok::Lt => BinaryOp::Lt,
        Tok::Lte => BinaryOp::Lte,
        Tok::Gt => BinaryOp::Gt,
        Tok::Gte => BinaryOp::Gte,
        _ => return None,
    })
}

/// The depth of an expression built by `parse_expr` (which bounded it), without recursion
/// deeper than the tree: parenthesised and call subtrees count from their own root.
fn expr_depth(e: &Expr) -> usize {
    let mut max = 0;
    let mut stack = vec![(e, 1usize)];
    while let Some((e, d)) = stack.pop() {
        max = max.max(d);
        match e {
            Expr::Binary { lhs, rhs, .. } => {
                stack.push((lhs, d + 1));
                stack.push((rhs, d + 1));
            }
            Expr::Paren(inner) => stack.push((inner, d + 1)),
            Expr::Call { args, .. } => stack.extend(args.iter().map(|a| (a, d + 1))),
            _ => {}
        }
    }
    max
}
