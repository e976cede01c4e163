//! The Flux syntax tree (docs/flux.md §2).
//!
//! Owns: the shape of a parsed program. Does not own: parsing (`parser`) or meaning (`interp`).

use std::sync::Arc;

use super::lexer::Pos;

#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub imports: Vec<(String, Pos)>,
    pub body: Vec<Stmt>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    /// `name = expr`
    Assign(String, Expr),
    Expr(Expr),
    /// `return expr` (function blocks only)
    Return(Expr),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub pos: Pos,
}

/// A piece of a string literal: text, or an interpolated `${expr}`.
#[derive(Debug, Clone, PartialEq)]
pub enum StrPart {
    Text(String),
    Expr(Expr),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Ident(String),
    Int(i64),
    Float(f64),
    Str(Vec<StrPart>),
    /// (months, nanoseconds), signs included.
    Duration(i64, i64),
    /// ns since the Unix epoch.
    Time(i64),
    Regex(RegexLit),
    Array(Vec<Expr>),
    /// `{with_base with k: v, ...}` or `{k: v, ...}`
    Record(Option<Box<Expr>>, Vec<(String, Expr)>),
    /// Parameters (name, default) and the body.
    Func(Arc<FuncLit>),
    /// `callee(args)`; args are a record's properties.
    Call(Box<Expr>, Vec<(String, Expr)>),
    /// `lhs |> call`
    Pipe(Box<Expr>, Box<Expr>),
    Member(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    Unary(&'static str, Box<Expr>),
    Binary(&'static str, Box<Expr>, Box<Expr>),
    /// `exists expr`
    Exists(Box<Expr>),
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct FuncLit {
    pub params: Vec<(String, Option<Expr>)>,
    /// The parameter marked `<-` (piped input), if any.
    pub pipe: Option<String>,
    pub body: FuncBody,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FuncBody {
    Expr(Expr),
    Block(Vec<Stmt>),
}

/// A regex literal, compiled (and bounded) once when the query is parsed.
#[derive(Debug, Clone)]
pub struct RegexLit(pub Arc<regex::Regex>);

impl PartialEq for RegexLit {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}
