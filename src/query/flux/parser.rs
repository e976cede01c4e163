//! Flux text → `ast::Program` (docs/flux.md §2), a recursive-descent parser.
//!
//! Owns: the expression grammar and precedence, literal values (durations, date-times, string
//! escapes and interpolation), the nesting bound. Does not own: tokens (`lexer`), meaning
//! (`interp`).

use std::sync::Arc;

use super::FluxError;
use super::ast::{Expr, ExprKind, FuncBody, FuncLit, Program, Stmt};
use super::lexer::{Pos, Tok, Token, tokenize};
pub use super::literal::{parse_duration, parse_time};

/// Deepest nesting of expressions a query may have.
pub const MAX_DEPTH: usize = 64;

pub fn parse(src: &str) -> Result<Program, FluxError> {
    let mut p = Parser {
        toks: tokenize(src)?,
        i: 0,
        depth: 0,
    };
    p.program()
}

struct Parser {
    toks: Vec<Token>,
    i: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.i.min(self.toks.len() - 1)].tok
    }
    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.i + n).min(self.toks.len() - 1)].tok
    }
    fn pos(&self) -> Pos {
        self.toks[self.i.min(self.toks.len() - 1)].pos
    }
    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }
    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }
    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(i) if i == kw)
    }
    fn eat_op(&mut self, op: &str) -> bool {
        let hit = self.is_op(op);
        if hit {
            self.bump();
        }
        hit
    }
    fn expect_op(&mut self, op: &str) -> Result<(), FluxError> {
        if self.eat_op(op) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("expected {op}")))
        }
    }
    fn unexpected(&self, what: &str) -> FluxError {
        let got = match self.peek() {
            Tok::Eof => "end of query".to_owned(),
            Tok::Op(o) => (*o).to_owned(),
            Tok::Ident(i) => i.clone(),
            Tok::Int(n) => n.to_string(),
            Tok::Float(f) => f.to_string(),
            Tok::Str(s) => format!("{s:?}"),
            Tok::Duration(d) | Tok::Time(d) => d.clone(),
            Tok::Regex(r) => format!("/{r}/"),
        };
        FluxError::at(self.pos(), format!("{what}, got {got}"))
    }
    fn ident(&mut self) -> Result<String, FluxError> {
        match self.peek() {
            Tok::Ident(s) => {
                let s = s.clone();
                self.bump();
                Ok(s)
            }
            _ => Err(self.unexpected("expected an identifier")),
        }
    }

    fn program(&mut self) -> Result<Program, FluxError> {
        let mut imports = Vec::new();
        if self.is_kw("package") {
            return Err(FluxError::at(
                self.pos(),
                "package clauses are not supported",
            ));
        }
        while self.is_kw("import") {
            let pos = self.pos();
            self.bump();
            if let Tok::Ident(_) = self.peek() {
                return Err(FluxError::at(pos, "import aliases are not supported"));
            }
            match self.bump() {
                Tok::Str(s) => imports.push((s, pos)),
                _ => return Err(FluxError::at(pos, "expected an import path string")),
            }
        }
        let mut body = Vec::new();
        while *self.peek() != Tok::Eof {
            body.push(self.stmt()?);
        }
        Ok(Program { imports, body })
    }

    fn stmt(&mut self) -> Result<Stmt, FluxError> {
        let pos = self.pos();
        if self.is_kw("import") {
            return Err(FluxError::at(pos, "imports must come first"));
        }
        if self.is_kw("option") || self.is_kw("testcase") || self.is_kw("builtin") {
            return Err(FluxError::at(
                pos,
                format!("{} statements are not supported", self.ident()?),
            ));
        }
        if self.is_kw("return") {
            self.bump();
            return Ok(Stmt::Return(self.expr()?));
        }
        if let (Tok::Ident(name), Tok::Op("=")) = (self.peek(), self.peek_at(1)) {
            let name = name.clone();
            self.bump();
            self.bump();
            return Ok(Stmt::Assign(name, self.expr()?));
        }
        Ok(Stmt::Expr(self.expr()?))
    }

    fn expr(&mut self) -> Result<Expr, FluxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FluxError::at(
                self.pos(),
                format!("expression nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        let r = self.conditional();
        self.depth -= 1;
        r
    }

    fn conditional(&mut self) -> Result<Expr, FluxError> {
        if self.is_kw("if") {
            let pos = self.pos();
            self.bump();
            let c = self.expr()?;
            if !self.is_kw("then") {
                return Err(self.unexpected("expected then"));
            }
            self.bump();
            let a = self.expr()?;
            if !self.is_kw("else") {
                return Err(self.unexpected("expected else"));
            }
            self.bump();
            let b = self.expr()?;
            return Ok(mk(
                pos,
                ExprKind::Cond(Box::new(c), Box::new(a), Box::new(b)),
            ));
        }
        self.or()
    }

    fn or(&mut self) -> Result<Expr, FluxError> {
        let mut l = self.and()?;
        while self.is_kw("or") {
            let pos = self.pos();
            self.bump();
            let r = self.and()?;
            l = mk(pos, ExprKind::Binary("or", Box::new(l), Box::new(r)));
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<Expr, FluxError> {
        let mut l = self.not()?;
        while self.is_kw("and") {
            let pos = self.pos();
            self.bump();
            let r = self.not()?;
            l = mk(pos, ExprKind::Binary("and", Box::new(l), Box::new(r)));
        }
        Ok(l)
    }

    fn not(&mut self) -> Result<Expr, FluxError> {
        let pos = self.pos();
        if self.is_kw("not") {
            self.bump();
            let e = self.nested(Self::not)?;
            return Ok(mk(pos, ExprKind::Unary("not", Box::new(e))));
        }
        if self.is_kw("exists") {
            self.bump();
            let e = self.nested(Self::not)?;
            return Ok(mk(pos, ExprKind::Exists(Box::new(e))));
        }
        self.comparison()
    }

    /// Runs `f` one nesting level deeper (prefix operators recurse without `expr`).
    fn nested(&mut self, f: fn(&mut Self) -> Result<Expr, FluxError>) -> Result<Expr, FluxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FluxError::at(
                self.pos(),
                format!("expression nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn comparison(&mut self) -> Result<Expr, FluxError> {
        self.left_assoc(
            &["==", "!=", "=~", "!~", "<", "<=", ">", ">="],
            Self::additive,
        )
    }

    fn additive(&mut self) -> Result<Expr, FluxError> {
        self.left_assoc(&["+", "-"], Self::multiplicative)
    }

    fn multiplicative(&mut self) -> Result<Expr, FluxError> {
        self.left_assoc(&["*", "/", "%"], Self::power)
    }

    fn power(&mut self) -> Result<Expr, FluxError> {
        self.left_assoc(&["^"], Self::pipe)
    }

    /// `next { op next }` for the operators `ops`, left-associative.
    fn left_assoc(
        &mut self,
        ops: &[&'static str],
        next: fn(&mut Self) -> Result<Expr, FluxError>,
    ) -> Result<Expr, FluxError> {
        let mut l = next(self)?;
        loop {
            let op = match self.peek() {
                Tok::Op(o) if ops.contains(o) => *o,
                _ => return Ok(l),
            };
            let pos = self.pos();
            self.bump();
            let r = next(self)?;
            l = mk(pos, ExprKind::Binary(op, Box::new(l), Box::new(r)));
        }
    }

    fn pipe(&mut self) -> Result<Expr, FluxError> {
        let mut l = self.unary()?;
        while self.is_op("|>") {
            let pos = self.pos();
            self.bump();
            let r = self.unary()?;
            if !matches!(r.kind, ExprKind::Call(..)) {
                return Err(FluxError::at(
                    r.pos,
                    "pipe destination must be a function call",
                ));
            }
            l = mk(pos, ExprKind::Pipe(Box::new(l), Box::new(r)));
        }
        Ok(l)
    }

    fn unary(&mut self) -> Result<Expr, FluxError> {
        let pos = self.pos();
        if self.is_op("-") || self.is_op("+") {
            let neg = self.is_op("-");
            self.bump();
            let e = self.nested(Self::unary)?;
            return Ok(match (neg, e.kind) {
                (true, ExprKind::Duration(m, n)) => mk(pos, ExprKind::Duration(-m, -n)),
                (true, ExprKind::Int(n)) => mk(pos, ExprKind::Int(-n)),
                (true, ExprKind::Float(f)) => mk(pos, ExprKind::Float(-f)),
                (true, kind) => mk(pos, ExprKind::Unary("-", Box::new(mk(e.pos, kind)))),
                (false, kind) => mk(e.pos, kind),
            });
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Expr, FluxError> {
        let mut e = self.primary()?;
        loop {
            let pos = self.pos();
            if self.eat_op(".") {
                let name = self.ident()?;
                e = mk(pos, ExprKind::Member(Box::new(e), name));
            } else if self.eat_op("[") {
                let idx = self.expr()?;
                self.expect_op("]")?;
                e = mk(pos, ExprKind::Index(Box::new(e), Box::new(idx)));
            } else if self.eat_op("(") {
                let args = self.properties(")")?;
                e = mk(e.pos, ExprKind::Call(Box::new(e), args));
            } else {
                return Ok(e);
            }
        }
    }

    /// `k: v, k2: v2, k3` up to `close` (consumed). A bare `k` means `k: k`.
    fn properties(&mut self, close: &str) -> Result<Vec<(String, Expr)>, FluxError> {
        let mut out = Vec::new();
        while !self.eat_op(close) {
            let pos = self.pos();
            let key = match self.peek() {
                Tok::Str(s) => {
                    let s = s.clone();
                    self.bump();
                    s
                }
                _ => self.ident()?,
            };
            let value = if self.eat_op(":") {
                self.expr()?
            } else {
                mk(pos, ExprKind::Ident(key.clone()))
            };
            if out.iter().any(|(k, _)| *k == key) {
                return Err(FluxError::at(pos, format!("duplicate property {key:?}")));
            }
            out.push((key, value));
            if !self.eat_op(",") {
                self.expect_op(close)?;
                break;
            }
        }
        Ok(out)
    }

    fn primary(&mut self) -> Result<Expr, FluxError> {
        let pos = self.pos();
        let kind = match self.peek().clone() {
            Tok::Int(n) => {
                self.bump();
                ExprKind::Int(n)
            }
            Tok::Float(f) => {
                self.bump();
                ExprKind::Float(f)
            }
            Tok::Str(s) => {
                self.bump();
                ExprKind::Str(super::literal::string_parts(&s, pos, &|x| {
                    interpolated(x, self.depth)
                })?)
            }
            Tok::Duration(d) => {
                self.bump();
                let (m, n) = parse_duration(&d).map_err(|e| FluxError::at(pos, e))?;
                ExprKind::Duration(m, n)
            }
            Tok::Time(t) => {
                self.bump();
                ExprKind::Time(parse_time(&t).map_err(|e| FluxError::at(pos, e))?)
            }
            Tok::Regex(r) => {
                self.bump();
                let re = super::interp::compile_regex(&r).map_err(|m| FluxError::at(pos, m))?;
                ExprKind::Regex(super::ast::RegexLit(Arc::new(re)))
            }
            Tok::Ident(id) if matches!(id.as_str(), "if" | "then" | "else" | "and" | "or") => {
                return Err(self.unexpected("expected an expression"));
            }
            Tok::Ident(id) => {
                self.bump();
                ExprKind::Ident(id)
            }
            Tok::Op("[") => {
                self.bump();
                let mut items = Vec::new();
                while !self.eat_op("]") {
                    items.push(self.expr()?);
                    if !self.eat_op(",") {
                        self.expect_op("]")?;
                        break;
                    }
                }
                ExprKind::Array(items)
            }
            Tok::Op("{") => {
                self.bump();
                return self.record(pos);
            }
            Tok::Op("(") => {
                if self.is_function() {
                    return self.function(pos);
                }
                self.bump();
                let e = self.expr()?;
                self.expect_op(")")?;
                return Ok(e);
            }
            _ => return Err(self.unexpected("expected an expression")),
        };
        Ok(mk(pos, kind))
    }

    fn record(&mut self, pos: Pos) -> Result<Expr, FluxError> {
        if let (Tok::Ident(_), Tok::Ident(w)) = (self.peek(), self.peek_at(1))
            && w == "with"
        {
            let base = self.postfix()?;
            self.bump();
            let props = self.properties("}")?;
            return Ok(mk(pos, ExprKind::Record(Some(Box::new(base)), props)));
        }
        let props = self.properties("}")?;
        Ok(mk(pos, ExprKind::Record(None, props)))
    }

    /// At `(`: whether a function literal starts here (`() =>`, `(a) =>`, `(a, ...`, `(a=`).
    fn is_function(&self) -> bool {
        match (self.peek_at(1), self.peek_at(2)) {
            (Tok::Op(")"), Tok::Op("=>")) => true,
            (Tok::Ident(_), Tok::Op("," | "=")) => true,
            (Tok::Ident(_), Tok::Op(")")) => matches!(self.peek_at(3), Tok::Op("=>")),
            _ => false,
        }
    }

    fn function(&mut self, pos: Pos) -> Result<Expr, FluxError> {
        self.expect_op("(")?;
        let mut params = Vec::new();
        let mut pipe = None;
        while !self.eat_op(")") {
            let name = self.ident()?;
            let default = if self.eat_op("=") {
                if self.eat_op("<-") {
                    pipe = Some(name.clone());
                    None
                } else {
                    Some(self.expr()?)
                }
            } else {
                None
            };
            params.push((name, default));
            if !self.eat_op(",") {
                self.expect_op(")")?;
                break;
            }
        }
        self.expect_op("=>")?;
        let body = if self.is_op("{") && self.block_ahead() {
            self.bump();
            let mut stmts = Vec::new();
            while !self.eat_op("}") {
                if *self.peek() == Tok::Eof {
                    return Err(self.unexpected("expected }"));
                }
                stmts.push(self.stmt()?);
            }
            FuncBody::Block(stmts)
        } else {
            FuncBody::Expr(self.expr()?)
        };
        Ok(mk(
            pos,
            ExprKind::Func(Arc::new(FuncLit { params, pipe, body })),
        ))
    }

    /// At `{` after `=>`: a block (statements) rather than a record literal.
    fn block_ahead(&self) -> bool {
        match (self.peek_at(1), self.peek_at(2)) {
            (Tok::Ident(k), _) if k == "return" => true,
            (Tok::Ident(_), Tok::Op("=")) => true,
            _ => false,
        }
    }
}

fn mk(pos: Pos, kind: ExprKind) -> Expr {
    Expr { kind, pos }
}

/// The expression inside a string's `${…}`, one nesting level deeper.
fn interpolated(src: &str, depth: usize) -> Result<Expr, FluxError> {
    let mut p = Parser {
        toks: tokenize(src)?,
        i: 0,
        depth: depth + 1,
    };
    let e = p.expr()?;
    if *p.peek() != Tok::Eof {
        return Err(p.unexpected("expected } after interpolated expression"));
    }
    Ok(e)
}
