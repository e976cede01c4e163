//! Evaluating Flux expressions (docs/flux.md §3): scopes, operators, function calls, pipes.
//!
//! Owns: the evaluation rules for every expression form, calling function literals (named
//! arguments, defaults, the `<-` pipe parameter), null and `Unknown` propagation, and the
//! per-query state (`Runtime`: context, results of `yield`). Does not own: the builtins
//! (`builtins`), the table model (`table`).

use std::cell::RefCell;
use std::sync::Arc;

use super::FluxContext;
use super::FluxError;
use super::ast::{Expr, ExprKind, FuncBody, Stmt, StrPart};
use super::builtins::{self, Args};
use super::table::Stream;
use super::value::{Function, Record, Value};

/// A chain of variable bindings.
#[derive(Clone, Default)]
pub struct Scope(Option<Arc<ScopeNode>>);

struct ScopeNode {
    vars: Vec<(String, Value)>,
    parent: Scope,
}

impl Scope {
    pub fn lookup(&self, name: &str) -> Option<Value> {
        let mut s = self;
        while let Some(node) = &s.0 {
            if let Some((_, v)) = node.vars.iter().rev().find(|(k, _)| k == name) {
                return Some(v.clone());
            }
            s = &node.parent;
        }
        None
    }

    pub fn child(&self, vars: Vec<(String, Value)>) -> Scope {
        Scope(Some(Arc::new(ScopeNode {
            vars,
            parent: self.clone(),
        })))
    }
}

/// One query's evaluation state.
pub struct Runtime<'a> {
    pub ctx: &'a FluxContext<'a>,
    /// Each `yield`'s name and tables (a `Stream::Tables`, `Windows` or `Values`), shared with the stream `yield`
    /// passes on: taken without a copy at the end, when nothing else holds them.
    pub results: RefCell<Vec<(String, Arc<Stream>)>>,
    /// Reads run on the shared plan when they lower (`lower`); false: always interpreted.
    pub lower: bool,
    /// Reads that ran on the shared plan.
    pub lowered: std::cell::Cell<usize>,
}

impl<'a> Runtime<'a> {
    pub fn new(ctx: &'a FluxContext<'a>, lower: bool) -> Self {
        Runtime {
            ctx,
            results: RefCell::new(Vec::new()),
            lower,
            lowered: std::cell::Cell::new(0),
        }
    }

    /// Runs statements; returns the value of a `return`, if one ran.
    pub fn block(&self, stmts: &[Stmt], scope: &mut Scope) -> Result<Option<Value>, FluxError> {
        for st in stmts {
            match st {
                Stmt::Assign(name, e) => {
                    let v = self.eval(e, scope)?;
                    *scope = scope.child(vec![(name.clone(), v)]);
                }
                Stmt::Return(e) => return Ok(Some(self.eval(e, scope)?)),
                Stmt::Expr(e) => {
                    let v = self.eval(e, scope)?;
                    if let Value::Stream(s) = v
                        && !ends_in_yield(e)
                    {
                        // The statement's value is dropped after: no copy when nothing else
                        // holds the stream.
                        let s = Arc::try_unwrap(s).unwrap_or_else(|shared| (*shared).clone());
                        builtins::yield_result(self, "_result", s, e.pos)?;
                    }
                }
            }
        }
        Ok(None)
    }

    pub fn eval(&self, e: &Expr, scope: &Scope) -> Result<Value, FluxError> {
        Ok(match &e.kind {
            ExprKind::Ident(name) => scope
                .lookup(name)
                .ok_or_else(|| FluxError::at(e.pos, format!("undefined identifier {name}")))?,
            ExprKind::Int(n) => Value::Int(*n),
            ExprKind::Float(f) => Value::Float(*f),
            ExprKind::Str(parts) => {
                let mut s = String::new();
                for p in parts {
                    match p {
                        StrPart::Text(t) => s.push_str(t),
                        StrPart::Expr(x) => s.push_str(&display(&self.eval(x, scope)?)),
                    }
                }
                Value::Str(Arc::from(s))
            }
            ExprKind::Duration(m, n) => Value::Duration(*m, *n),
            ExprKind::Time(t) => Value::Time(*t),
            ExprKind::Regex(r) => Value::Regex(r.0.clone()),
            ExprKind::Array(items) => Value::Array(Arc::new(
                items
                    .iter()
                    .map(|x| self.eval(x, scope))
                    .collect::<Result<_, _>>()?,
            )),
            ExprKind::Record(base, props) => {
                let mut rec = match base {
                    Some(b) => match self.eval(b, scope)? {
                        Value::Record(r) => (*r).clone(),
                        other => {
                            return Err(FluxError::at(
                                e.pos,
                                format!("cannot use {} as a record in `with`", other.type_name()),
                            ));
                        }
                    },
                    None => Record::default(),
                };
                for (k, x) in props {
                    let v = self.eval(x, scope)?;
                    rec.set(k, v);
                }
                Value::Record(Arc::new(rec))
            }
            ExprKind::Func(lit) => Value::Func(Arc::new(Function::Lit(lit.clone(), scope.clone()))),
            ExprKind::Call(callee, args) => {
                let f = self.eval(callee, scope)?;
                self.call_expr(f, args, None, scope, e)?
            }
            ExprKind::Pipe(lhs, call) => {
                let input = self.eval(lhs, scope)?;
                let ExprKind::Call(callee, args) = &call.kind else {
                    return Err(FluxError::at(
                        call.pos,
                        "pipe destination must be a function call",
                    ));
                };
                let f = self.eval(callee, scope)?;
                self.call_expr(f, args, Some(input), scope, call)?
            }
            ExprKind::Member(obj, name) => member(self.eval(obj, scope)?, name, e)?,
            ExprKind::Index(obj, idx) => {
                let o = self.eval(obj, scope)?;
                match (o, self.eval(idx, scope)?) {
                    (o @ (Value::Record(_) | Value::Null | Value::Unknown), Value::Str(k)) => {
                        member(o, &k, e)?
                    }
                    (Value::Array(a), Value::Int(i)) => usize::try_from(i)
                        .ok()
                        .and_then(|i| a.get(i).cloned())
                        .ok_or_else(|| FluxError::at(e.pos, format!("index {i} out of bounds")))?,
                    (o, i) => {
                        return Err(FluxError::at(
                            e.pos,
                            format!("cannot index {} with {}", o.type_name(), i.type_name()),
                        ));
                    }
                }
            }
            ExprKind::Unary(op, x) => {
                let v = self.eval(x, scope)?;
                match (*op, v) {
                    (_, Value::Unknown) => Value::Unknown,
                    (_, Value::Null) => Value::Null,
                    ("not", Value::Bool(b)) => Value::Bool(!b),
                    ("-", Value::Int(n)) => Value::Int(n.wrapping_neg()),
                    ("-", Value::Float(f)) => Value::Float(-f),
                    ("-", Value::Duration(m, n)) => Value::Duration(-m, -n),
                    (op, v) => {
                        return Err(FluxError::at(
                            e.pos,
                            format!("unsupported operand type {} for {op}", v.type_name()),
                        ));
                    }
                }
            }
            ExprKind::Exists(x) => match self.eval(x, scope)? {
                Value::Null => Value::Bool(false),
                Value::Unknown => Value::Unknown,
                _ => Value::Bool(true),
            },
            ExprKind::Cond(c, a, b) => match self.eval(c, scope)? {
                Value::Bool(true) => self.eval(a, scope)?,
                Value::Bool(false) | Value::Null => self.eval(b, scope)?,
                Value::Unknown => Value::Unknown,
                v => {
                    return Err(FluxError::at(
                        c.pos,
                        format!("if condition must be a bool, got {}", v.type_name()),
                    ));
                }
            },
            ExprKind::Binary(op, l, r) => {
                let lv = self.eval(l, scope)?;
                if *op == "and" && matches!(lv, Value::Bool(false) | Value::Null) {
                    return Ok(Value::Bool(false));
                }
                if *op == "or" && matches!(lv, Value::Bool(true)) {
                    return Ok(Value::Bool(true));
                }
                let rv = self.eval(r, scope)?;
                super::ops::binary(op, lv, rv).map_err(|m| FluxError::at(e.pos, m))?
            }
        })
    }

    fn call_expr(
        &self,
        f: Value,
        args: &[(String, Expr)],
        pipe: Option<Value>,
        scope: &Scope,
        at: &Expr,
    ) -> Result<Value, FluxError> {
        let mut named = Vec::with_capacity(args.len());
        for (k, x) in args {
            named.push((k.clone(), self.eval(x, scope)?));
        }
        match f {
            Value::Func(func) => self.call(
                &func,
                Args {
                    named,
                    pipe,
                    pos: at.pos,
                },
            ),
            Value::Unknown => Ok(Value::Unknown),
            other => Err(FluxError::at(
                at.pos,
                format!("cannot call a value of type {}", other.type_name()),
            )),
        }
    }

    pub fn call(&self, f: &Function, args: Args) -> Result<Value, FluxError> {
        match f {
            Function::Builtin(name) => {
                if args.named.iter().any(|(_, v)| matches!(v, Value::Unknown))
                    || matches!(args.pipe, Some(Value::Unknown))
                {
                    return Ok(Value::Unknown);
                }
                builtins::call(self, name, args)
            }
            Function::Lit(lit, closure) => {
                let Args {
                    mut named,
                    pipe,
                    pos,
                } = args;
                let mut vars = Vec::with_capacity(lit.params.len());
                let mut pipe = pipe;
                for (name, default) in &lit.params {
                    let v = if lit.pipe.as_deref() == Some(name.as_str()) && pipe.is_some() {
                        pipe.take()
                    } else if let Some(i) = named.iter().position(|(k, _)| k == name) {
                        Some(named.swap_remove(i).1)
                    } else if let Some(d) = default {
                        Some(self.eval(d, closure)?)
                    } else {
                        None
                    };
                    let Some(v) = v else {
                        return Err(FluxError::at(
                            pos,
                            format!("missing required argument {name}"),
                        ));
                    };
                    vars.push((name.clone(), v));
                }
                if let Some((k, _)) = named.first() {
                    return Err(FluxError::at(pos, format!("unexpected argument {k}")));
                }
                let mut scope = closure.child(vars);
                match &lit.body {
                    FuncBody::Expr(x) => self.eval(x, &scope),
                    FuncBody::Block(stmts) => self
                        .block(stmts, &mut scope)?
                        .ok_or_else(|| FluxError::at(pos, "function block has no return")),
                }
            }
        }
    }

    /// Calls a one-parameter row function (`fn: (r) => ...`) with a record.
    pub fn call_row(
        &self,
        f: &Function,
        rec: Record,
        pos: super::lexer::Pos,
    ) -> Result<Value, FluxError> {
        let param = match f {
            Function::Lit(lit, _) => lit
                .params
                .iter()
                .find(|(_, d)| d.is_none())
                .map(|(n, _)| n.clone())
                .unwrap_or_else(|| "r".to_owned()),
            Function::Builtin(name) => {
                return Err(FluxError::at(pos, format!("{name} is not a row function")));
            }
        };
        self.call(
            f,
            Args {
                named: vec![(param, Value::Record(Arc::new(rec)))],
                pipe: None,
                pos,
            },
        )
    }
}

/// Whether an expression statement's last call is `yield` (then it is not yielded again).
fn ends_in_yield(e: &Expr) -> bool {
    let call = match &e.kind {
        ExprKind::Pipe(_, call) => call.as_ref(),
        _ => e,
    };
    matches!(&call.kind, ExprKind::Call(callee, _) if matches!(&callee.kind, ExprKind::Ident(n) if n == "yield"))
}

fn member(o: Value, name: &str, e: &Expr) -> Result<Value, FluxError> {
    match o {
        Value::Record(r) => {
            Ok(r.get(name)
                .cloned()
                .unwrap_or(if r.open { Value::Unknown } else { Value::Null }))
        }
        Value::Unknown => Ok(Value::Unknown),
        Value::Null => Ok(Value::Null),
        other => Err(FluxError::at(
            e.pos,
            format!("cannot access property {name} of a {}", other.type_name()),
        )),
    }
}

/// Regexes are bounded: a pattern whose compiled program would be large is refused.
pub fn compile_regex(src: &str) -> Result<regex::Regex, String> {
    crate::query::pattern::compile(src).map_err(|e| match e {
        regex::Error::CompiledTooBig(n) => {
            format!("regular expression too large (compiled size over {n} bytes)")
        }
        other => format!("invalid regular expression: {other}"),
    })
}

/// How a value appears inside an interpolated string and from `string()`.
pub fn display(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        Value::Int(n) => n.to_string(),
        Value::UInt(n) => n.to_string(),
        Value::Float(f) => super::csv::format_float(*f),
        Value::Bool(b) => b.to_string(),
        Value::Time(t) => super::csv::format_time(*t),
        Value::Duration(m, n) => format_duration(*m, *n),
        Value::Null => String::new(),
        other => format!("{other:?}"),
    }
}

fn format_duration(months: i64, ns: i64) -> String {
    let mut s = String::new();
    if months < 0 || ns < 0 {
        s.push('-');
    }
    let (mut m, mut n) = (months.unsigned_abs(), ns.unsigned_abs());
    if m >= 12 {
        s.push_str(&format!("{}y", m / 12));
        m %= 12;
    }
    if m > 0 {
        s.push_str(&format!("{m}mo"));
    }
    for (unit, size) in [
        ("w", 604_800_000_000_000u64),
        ("d", 86_400_000_000_000),
        ("h", 3_600_000_000_000),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
        ("ns", 1),
    ] {
        if n >= size {
            s.push_str(&format!("{}{unit}", n / size));
            n %= size;
        }
    }
    if s.is_empty() || s == "-" {
        s = "0s".to_owned();
    }
    s
}
