//! InfluxQL tokens: kinds, keywords, positions.
//!
//! Owns: `Tok`, `Token`, `At`, the keyword list and lookup. Does not own: scanning (`lexer`).

/// InfluxQL keywords (InfluxDB 1.6.7's list: no `FUTURE`, `PAST`, `VERBOSE`).
/// `AND`, `OR`, `TRUE`, `FALSE` are their own tokens.
#[rustfmt::skip]
pub const KEYWORDS: &[&str] = &[
    "ALL", "ALTER", "ANALYZE", "ANY", "AS", "ASC", "BEGIN", "BY", "CARDINALITY", "CREATE",
    "CONTINUOUS", "DATABASE", "DATABASES", "DEFAULT", "DELETE", "DESC", "DESTINATIONS",
    "DIAGNOSTICS", "DISTINCT", "DROP", "DURATION", "END", "EVERY", "EXACT", "EXPLAIN", "FIELD",
    "FOR", "FROM", "GRANT", "GRANTS", "GROUP", "GROUPS", "IN", "INF", "INSERT", "INTO", "KEY",
    "KEYS", "KILL", "LIMIT", "MEASUREMENT", "MEASUREMENTS", "NAME", "OFFSET", "ON", "ORDER",
    "PASSWORD", "POLICY", "POLICIES", "PRIVILEGES", "QUERIES", "QUERY", "READ", "REPLICATION",
    "RESAMPLE", "RETENTION", "REVOKE", "SELECT", "SERIES", "SET", "SHOW", "SHARD", "SHARDS",
    "SLIMIT", "SOFFSET", "STATS", "SUBSCRIPTION", "SUBSCRIPTIONS", "TAG", "TO", "USER", "USERS",
    "VALUES", "WHERE", "WITH", "WRITE",
];

/// One token kind. Literal text travels beside it in [`Token::lit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tok {
    Eof,
    /// A character that starts no token (`#`, a lone `!`, a non-ASCII letter).
    Illegal,
    Ws,
    Comment,
    /// Bare or double-quoted identifier (not a keyword); `lit` is its unescaped text.
    Ident,
    /// `$name`: a bound parameter (InfluxDB's `params=`), which sluice does not support.
    BoundParam,
    /// A keyword; `lit` is empty, [`Token::kw`] says which (upper case).
    Keyword,
    /// Digits with a fractional part (`1.5`, `.5`, `5.`).
    Number,
    /// Digits only.
    Integer,
    /// Digits followed by letters (`10s`, `1h30m`, `1x`: checked by the parser).
    Duration,
    /// `'…'`, unescaped.
    Str,
    /// An unterminated string or quoted identifier; `lit` is what was read.
    BadString,
    /// An invalid escape in a string or quoted identifier; `lit` is the escape.
    BadEscape,
    True,
    False,
    /// `/…/` (only from [`Lexer::scan_regex`]); `lit` is the pattern with `\/` unescaped.
    Regex,
    /// An unterminated regex, or one containing a newline.
    BadRegex,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    BitAnd,
    BitOr,
    BitXor,
    And,
    Or,
    Eq,
    Neq,
    EqRegex,
    NeqRegex,
    Lt,
    Lte,
    Gt,
    Gte,
    LParen,
    RParen,
    Comma,
    Colon,
    DoubleColon,
    Semicolon,
    Dot,
}

impl Tok {
    /// How InfluxDB names the token in `found X, expected Y` when it has no literal text.
    pub fn name(self) -> &'static str {
        match self {
            Tok::Eof => "EOF",
            Tok::Illegal => "ILLEGAL",
            Tok::BoundParam => "BOUNDPARAM",
            Tok::Ws => "WS",
            // InfluxDB has no name for these two: `found , expected …`.
            Tok::Comment => "",
            Tok::Ident => "IDENT",
            Tok::Keyword => "KEYWORD",
            Tok::Number => "NUMBER",
            Tok::Integer => "INTEGER",
            Tok::Duration => "DURATIONVAL",
            Tok::Str => "STRING",
            Tok::BadString => "BADSTRING",
            Tok::BadEscape => "BADESCAPE",
            Tok::True => "TRUE",
            Tok::False => "FALSE",
            Tok::Regex => "REGEX",
            Tok::BadRegex => "",
            Tok::Add => "+",
            Tok::Sub => "-",
            Tok::Mul => "*",
            Tok::Div => "/",
            Tok::Mod => "%",
            Tok::BitAnd => "&",
            Tok::BitOr => "|",
            Tok::BitXor => "^",
            Tok::And => "AND",
            Tok::Or => "OR",
            Tok::Eq => "=",
            Tok::Neq => "!=",
            Tok::EqRegex => "=~",
            Tok::NeqRegex => "!~",
            Tok::Lt => "<",
            Tok::Lte => "<=",
            Tok::Gt => ">",
            Tok::Gte => ">=",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::Comma => ",",
            Tok::Colon => ":",
            Tok::DoubleColon => "::",
            Tok::Semicolon => ";",
            Tok::Dot => ".",
        }
    }
}

/// A scanned token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub tok: Tok,
    /// Literal text (identifiers, strings, numbers, durations, regexes, bad tokens, whitespace).
    pub lit: String,
    /// For `Tok::Keyword`: the keyword, upper case.
    pub kw: &'static str,
    /// Where InfluxDB says the token is (see [`Lexer::pos`]).
    pub at: At,
    /// Byte offset just past the token's text.
    pub end: usize,
}

impl Token {
    /// Is this the keyword `kw` (upper case)?
    pub fn is_kw(&self, kw: &str) -> bool {
        self.tok == Tok::Keyword && self.kw == kw
    }

    /// The token as InfluxDB prints it after `found`.
    pub fn found(&self) -> String {
        if !self.lit.is_empty() {
            self.lit.clone()
        } else if self.tok == Tok::Keyword {
            self.kw.to_owned()
        } else {
            self.tok.name().to_owned()
        }
    }
}

/// A position as a byte offset into the text plus InfluxDB's off-by-one at EOF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct At {
    pub offset: usize,
    pub past_eof: bool,
}

/// The keyword `s` names, upper case, if any (case-insensitive).
pub fn keyword(s: &str) -> Option<&'static str> {
    if s.len() > 13 {
        return None;
    }
    KEYWORDS.iter().copied().find(|k| k.eq_ignore_ascii_case(s))
}
