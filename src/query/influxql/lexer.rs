//! The InfluxQL scanner: text → tokens, with the positions InfluxDB 1.6.7 reports in errors.
//!
//! Owns: literal scanning (identifiers, strings, numbers, durations, regexes), comments, and
//! turning a byte offset into InfluxDB's `line N, char M`.
//! Does not own: token kinds and keywords (`token`), grammar (`parser`).
//!
//! Fidelity notes (each one checked against influxd 1.6.7):
//! - A NUL character ends the input, as in InfluxDB (its scanner uses rune 0 as EOF).
//! - `\r\n` and `\r` count as one newline.
//! - String and regex tokens report the position of the character *before* their opening
//!   delimiter; EOF reports one past the end when the last token was a bare identifier,
//!   whitespace or a `--` comment (InfluxDB's reader consumed the EOF twice there).
//! - `a"b"` scans as the identifier `b`.

pub use super::token::{At, KEYWORDS, Tok, Token, keyword};

/// The scanner over one query text.
#[derive(Debug, Clone)]
pub struct Lexer<'a> {
    src: &'a str,
    off: usize,
    /// The last raw token consumed the end of input (bare identifier, whitespace, `--` comment).
    eof_consumed: bool,
}

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn is_ident_first(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Self {
        // InfluxDB's scanner takes rune 0 for the end of input.
        let src = match src.find('\0') {
            Some(i) => &src[..i],
            None => src,
        };
        Lexer {
            src,
            off: 0,
            eof_consumed: false,
        }
    }

    pub fn src(&self) -> &'a str {
        self.src
    }

    /// The text not scanned yet.
    pub fn rest(&self) -> &'a str {
        &self.src[self.off..]
    }

    /// The next character, without consuming it.
    pub fn peek_char(&self) -> Option<char> {
        self.src[self.off..].chars().next()
    }

    /// The next character, as InfluxDB's parser peeks it: peeking at the end consumes the
    /// end (later EOF tokens are one further).
    pub fn peek_rune(&mut self) -> Option<char> {
        let c = self.peek_char();
        if c.is_none() {
            self.eof_consumed = true;
        }
        c
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek_char()?;
        self.off += c.len_utf8();
        Some(c)
    }

    fn at(&self, offset: usize) -> At {
        At {
            offset,
            past_eof: false,
        }
    }

    /// The offset of the character before `offset` (a `\r\n` pair is one character), or 0.
    fn before(&self, offset: usize) -> usize {
        let head = &self.src[..offset];
        match head.char_indices().next_back() {
            Some((i, '\n')) if head[..i].ends_with('\r') => i - 1,
            Some((i, _)) => i,
            None => 0,
        }
    }

    fn token(&self, tok: Tok, lit: String, at: At) -> Token {
        Token {
            tok,
            lit,
            kw: "",
            at,
            end: self.off,
        }
    }

    /// Scans one raw token (whitespace and comments included).
    pub fn scan(&mut self) -> Token {
        let start = self.off;
        let Some(c) = self.bump() else {
            let at = At {
                offset: self.src.len(),
                past_eof: self.eof_consumed,
            };
            self.eof_consumed = true;
            return self.token(Tok::Eof, String::new(), at);
        };
        self.eof_consumed = false;
        let at = self.at(start);
        let op = |lx: &Self, tok| lx.token(tok, String::new(), at);
        match c {
            c if is_ws(c) => {
                while self.peek_char().is_some_and(is_ws) {
                    self.bump();
                }
                self.eof_consumed = self.off == self.src.len();
                self.token(Tok::Ws, self.src[start..self.off].to_owned(), at)
            }
            c if is_ident_first(c) => {
                self.off = start;
                self.scan_ident(true)
            }
            '"' => {
                self.off = start;
                self.scan_ident(true)
            }
            c if c.is_ascii_digit() => {
                self.off = start;
                self.scan_number()
            }
            '.' if self.peek_char().is_some_and(|c| c.is_ascii_digit()) => {
                self.off = start;
                self.scan_number()
            }
            '.' => op(self, Tok::Dot),
            '\'' => self.scan_string('\'', start).0,
            '+' => op(self, Tok::Add),
            '-' if self.peek_char() == Some('-') => {
                while let Some(c) = self.bump() {
                    if c == '\n' || c == '\r' {
                        return op(self, Tok::Comment);
                    }
                }
                self.eof_consumed = true;
                op(self, Tok::Comment)
            }
            '-' => op(self, Tok::Sub),
            '*' => op(self, Tok::Mul),
            '/' if self.peek_char() == Some('*') => match self.src[self.off + 1..].find("*/") {
                Some(i) => {
                    self.off += 1 + i + 2;
                    op(self, Tok::Comment)
                }
                None => {
                    self.off = self.src.len();
                    op(self, Tok::Illegal)
                }
            },
            '/' => op(self, Tok::Div),
            '%' => op(self, Tok::Mod),
            '&' => op(self, Tok::BitAnd),
            '|' => op(self, Tok::BitOr),
            '^' => op(self, Tok::BitXor),
            '=' => {
                let t = if self.eat('~') { Tok::EqRegex } else { Tok::Eq };
                op(self, t)
            }
            '!' if self.eat('=') => op(self, Tok::Neq),
            '!' if self.eat('~') => op(self, Tok::NeqRegex),
            '>' => {
                let t = if self.eat('=') { Tok::Gte } else { Tok::Gt };
                op(self, t)
            }
            '<' if self.eat('=') => op(self, Tok::Lte),
            '<' if self.eat('>') => op(self, Tok::Neq),
            '<' => op(self, Tok::Lt),
            '(' => op(self, Tok::LParen),
            ')' => op(self, Tok::RParen),
            ',' => op(self, Tok::Comma),
            ';' => op(self, Tok::Semicolon),
            ':' => {
                let t = if self.eat(':') {
                    Tok::DoubleColon
                } else {
                    Tok::Colon
                };
                op(self, t)
            }
            '$' => {
                // A bound parameter (`$name`); sluice has no parameters to bind.
                let t = self.scan_ident(false);
                let tok = if t.tok == Tok::Ident {
                    Tok::BoundParam
                } else {
                    t.tok
                };
                Token {
                    tok,
                    lit: format!("${}", t.lit),
                    at,
                    ..t
                }
            }
            other => self.token(Tok::Illegal, other.to_string(), at),
        }
    }

    fn eat(&mut self, want: char) -> bool {
        if self.peek_char() == Some(want) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// A bare identifier or keyword, or a double-quoted identifier. As in InfluxDB, a quoted
    /// part right after a bare part replaces it (`a"b"` is `b`).
    fn scan_ident(&mut self, lookup: bool) -> Token {
        let start = self.off;
        let at = self.at(start);
        loop {
            match self.peek_char() {
                Some('"') => {
                    let q = self.off;
                    let (t, ok) = self.scan_string('"', q);
                    if !ok {
                        return t;
                    }
                    return Token {
                        tok: Tok::Ident,
                        at,
                        ..t
                    };
                }
                Some(c) if is_ident_char(c) => {
                    while self.peek_char().is_some_and(is_ident_char) {
                        self.bump();
                    }
                }
                Some(_) => break,
                None => {
                    self.eof_consumed = true;
                    break;
                }
            }
        }
        let lit = &self.src[start..self.off];
        if !lookup {
            return self.token(Tok::Ident, lit.to_owned(), at);
        }
        if lit.eq_ignore_ascii_case("and") {
            return self.token(Tok::And, String::new(), at);
        }
        if lit.eq_ignore_ascii_case("or") {
            return self.token(Tok::Or, String::new(), at);
        }
        if lit.eq_ignore_ascii_case("true") {
            return self.token(Tok::True, String::new(), at);
        }
        if lit.eq_ignore_ascii_case("false") {
            return self.token(Tok::False, String::new(), at);
        }
        if let Some(kw) = keyword(lit) {
            return Token {
                tok: Tok::Keyword,
                lit: String::new(),
                kw,
                at,
                end: self.off,
            };
        }
        self.token(Tok::Ident, lit.to_owned(), at)
    }

    /// A `'…'` string or the quoted part of an identifier, starting at the quote at `q`.
    /// Returns the token (`Str`, `BadString`, `BadEscape`) and whether it ended well.
    fn scan_string(&mut self, quote: char, q: usize) -> (Token, bool) {
        self.off = q + 1;
        let at = self.at(self.before(q));
        let mut out = String::new();
        loop {
            match self.bump() {
                Some(c) if c == quote => return (self.token(Tok::Str, out, at), true),
                None | Some('\n') | Some('\r') => {
                    return (self.token(Tok::BadString, out, at), false);
                }
                Some('\\') => {
                    let esc_at = self.off;
                    match self.bump() {
                        Some('n') => out.push('\n'),
                        Some('\\') => out.push('\\'),
                        Some('"') => out.push('"'),
                        Some('\'') => out.push('\''),
                        other => {
                            let lit = format!("\\{}", other.unwrap_or('\0'));
                            let at = self.at(esc_at.min(self.src.len()));
                            return (self.token(Tok::BadEscape, lit, at), false);
                        }
                    }
                }
                Some(c) => out.push(c),
            }
        }
    }

    /// Digits: an integer, a number with a fraction, or a duration (digits then letters).
    fn scan_number(&mut self) -> Token {
        let start = self.off;
        let at = self.at(start);
        let digits = |lx: &mut Self| {
            while lx.peek_char().is_some_and(|c| c.is_ascii_digit()) {
                lx.bump();
            }
        };
        digits(self);
        let int_end = self.off;
        if self.eat('.') {
            // InfluxDB drops a '.' not followed by digits: `5.` is the number 5.
            let frac_start = self.off;
            digits(self);
            let mut lit = self.src[start..int_end].to_owned();
            if self.off > frac_start {
                lit.push('.');
                lit.push_str(&self.src[frac_start..self.off]);
            }
            return self.token(Tok::Number, lit, at);
        }
        let is_unit = |c: char| c.is_ascii_alphabetic() || c == 'µ';
        if self.peek_char().is_some_and(is_unit) {
            while self.peek_char().is_some_and(is_unit) {
                self.bump();
            }
            while self
                .peek_char()
                .is_some_and(|c| is_unit(c) || c.is_ascii_digit())
            {
                self.bump();
            }
            return self.token(Tok::Duration, self.src[start..self.off].to_owned(), at);
        }
        self.token(Tok::Integer, self.src[start..self.off].to_owned(), at)
    }

    /// Scans `/…/` (the parser calls it when the next character is `/`). `\/` stands for `/`;
    /// other backslashes are kept.
    pub fn scan_regex(&mut self) -> Token {
        let slash = self.off;
        let at = self.at(self.before(slash));
        self.eof_consumed = false;
        if !self.eat('/') {
            return self.token(Tok::BadRegex, String::new(), at);
        }
        let mut out = String::new();
        loop {
            match self.bump() {
                Some('/') => return self.token(Tok::Regex, out, at),
                None | Some('\n') | Some('\r') => {
                    return self.token(Tok::BadRegex, String::new(), at);
                }
                Some('\\') if self.peek_char() == Some('/') => {
                    self.bump();
                    out.push('/');
                }
                Some(c) => out.push(c),
            }
        }
    }

    /// InfluxDB's 1-based `(line, char)` for a position.
    pub fn pos(&self, at: At) -> (usize, usize) {
        let off = at.offset.min(self.src.len());
        let (mut line, mut ch) = (1, 1);
        let mut it = self.src[..off].chars().peekable();
        while let Some(c) = it.next() {
            match c {
                '\r' => {
                    if it.peek() == Some(&'\n') {
                        it.next();
                    }
                    line += 1;
                    ch = 1;
                }
                '\n' => {
                    line += 1;
                    ch = 1;
                }
                _ => ch += 1,
            }
        }
        (line, ch + usize::from(at.past_eof))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<(Tok, String)> {
        let mut lx = Lexer::new(s);
        let mut out = Vec::new();
        loop {
            let t = lx.scan();
            if t.tok == Tok::Eof {
                return out;
            }
            if t.tok != Tok::Ws {
                out.push((t.tok, t.found()));
            }
        }
    }

    #[test]
    fn scans_literals_operators_and_keywords() {
        let got =
            toks(r#"select "a\"b" FROM 1.5 10 1h30m 'it\'s' <> !~ =~ :: .5 5. and True -- c"#);
        let want = [
            (Tok::Keyword, "SELECT"),
            (Tok::Ident, "a\"b"),
            (Tok::Keyword, "FROM"),
            (Tok::Number, "1.5"),
            (Tok::Integer, "10"),
            (Tok::Duration, "1h30m"),
            (Tok::Str, "it's"),
            (Tok::Neq, "!="),
            (Tok::NeqRegex, "!~"),
            (Tok::EqRegex, "=~"),
            (Tok::DoubleColon, "::"),
            (Tok::Number, ".5"),
            (Tok::Number, "5"),
            (Tok::And, "AND"),
            (Tok::True, "TRUE"),
            (Tok::Comment, ""),
        ];
        let want: Vec<(Tok, String)> = want.iter().map(|(t, s)| (*t, (*s).to_owned())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn quoted_part_after_bare_part_replaces_it() {
        assert_eq!(toks(r#"a"b""#), vec![(Tok::Ident, "b".to_owned())]);
    }

    #[test]
    fn regex_unescapes_slash_only() {
        let mut lx = Lexer::new(r"  /a\/b\.c/ x");
        assert_eq!(lx.scan().tok, Tok::Ws);
        let t = lx.scan_regex();
        assert_eq!((t.tok, t.lit.as_str()), (Tok::Regex, r"a/b\.c"));
        assert_eq!(lx.pos(t.at), (1, 2), "the character before the slash");
        assert_eq!(Lexer::new("/ab").scan_regex().tok, Tok::BadRegex);
        assert_eq!(Lexer::new("/a\nb/").scan_regex().tok, Tok::BadRegex);
    }

    #[test]
    fn positions_follow_influxdb() {
        let mut lx = Lexer::new("ab\r\n 'x");
        let _ = lx.scan();
        let _ = lx.scan();
        let s = lx.scan();
        assert_eq!(s.tok, Tok::BadString);
        // The character before the quote is the space at line 2, char 1.
        assert_eq!(lx.pos(s.at), (2, 1));
        let mut lx = Lexer::new("SELECT x");
        let _ = (lx.scan(), lx.scan(), lx.scan());
        let eof = lx.scan();
        assert_eq!(
            lx.pos(eof.at),
            (1, 10),
            "EOF after a bare identifier is one further"
        );
        let mut lx = Lexer::new("x = 1");
        let eof = (0..6).map(|_| lx.scan()).last().expect("tokens");
        assert_eq!((eof.tok, lx.pos(eof.at)), (Tok::Eof, (1, 6)));
    }

    #[test]
    fn nul_ends_the_input() {
        assert_eq!(toks("a\0b"), vec![(Tok::Ident, "a".to_owned())]);
    }

    #[test]
    fn bad_escape_reports_the_escaped_character() {
        let mut lx = Lexer::new(r"'a\q'");
        let t = lx.scan();
        assert_eq!(
            (t.tok, t.lit.as_str(), lx.pos(t.at)),
            (Tok::BadEscape, r"\q", (1, 4))
        );
    }
}
