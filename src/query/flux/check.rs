//! The checker: refuses, before anything runs, programs that call functions outside the subset.
//!
//! Owns: the rule "an unsupported function is an error naming it, never a wrong answer"
//! for calls of unbound universe names and of package members (docs/flux.md §6).

use super::FluxError;
use super::ast::{Expr, ExprKind, FuncBody, Program, Stmt, StrPart};
use super::builtins::{PACKAGES, UNIVERSE};

pub fn check(p: &Program) -> Result<(), FluxError> {
    let mut bound: Vec<String> = Vec::new();
    collect_bound(&p.body, &mut bound);
    let imported: Vec<&str> = p
        .imports
        .iter()
        .filter_map(|(path, _)| PACKAGES.iter().find(|(pp, _, _)| pp == path))
        .map(|(_, alias, _)| *alias)
        .collect();
    for (path, pos) in &p.imports {
        if !PACKAGES.iter().any(|(pp, _, _)| pp == path) {
            return Err(FluxError::at(
                *pos,
                format!(
                    "package {path:?} is not supported (sluice's Flux imports only \"influxdata/influxdb/schema\", \"strings\", \"date\" and \"math\")"
                ),
            ));
        }
    }
    let cx = Cx {
        bound: &bound,
        imported: &imported,
    };
    for s in &p.body {
        cx.stmt(s)?;
    }
    Ok(())
}

/// Whether `p` only reads the catalog and the series index: it assigns nothing, defines no
/// function, and calls only `buckets`, `yield` and the `schema` package's functions without a
/// `predicate` (Grafana's variable queries). Such a program takes microseconds when the
/// store's series indexes are current.
pub fn answers_from_index(p: &Program) -> bool {
    let schema_alias = PACKAGES
        .iter()
        .find(|(path, _, _)| *path == "influxdata/influxdb/schema")
        .map(|(_, alias, _)| *alias);
    let mut cheap = true;
    for s in &p.body {
        let e = match s {
            Stmt::Expr(e) => e,
            Stmt::Assign(..) | Stmt::Return(_) => return false,
        };
        walk(e, &mut |x| match &x.kind {
            ExprKind::Func(_) => cheap = false,
            ExprKind::Call(callee, args) => {
                let ok = match &callee.kind {
                    ExprKind::Ident(n) => n == "buckets" || n == "yield",
                    ExprKind::Member(obj, _) => {
                        matches!(&obj.kind, ExprKind::Ident(pkg) if Some(pkg.as_str()) == schema_alias)
                            && !args.iter().any(|(k, _)| k == "predicate")
                    }
                    _ => false,
                };
                cheap &= ok;
            }
            _ => {}
        });
    }
    cheap
}

struct Cx<'a> {
    bound: &'a [String],
    imported: &'a [&'a str],
}

fn collect_bound(stmts: &[Stmt], out: &mut Vec<String>) {
    for s in stmts {
        if let Stmt::Assign(n, _) = s {
            out.push(n.clone());
        }
        let e = match s {
            Stmt::Assign(_, e) | Stmt::Expr(e) | Stmt::Return(e) => e,
        };
        collect_expr(e, out);
    }
}

fn collect_expr(e: &Expr, out: &mut Vec<String>) {
    walk(e, &mut |x| {
        if let ExprKind::Func(f) = &x.kind {
            out.extend(f.params.iter().map(|(n, _)| n.clone()));
            if let FuncBody::Block(b) = &f.body {
                collect_bound(b, out);
            }
        }
    });
}

/// Calls `f` on `e` and every sub-expression (function bodies included).
pub fn walk(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    match &e.kind {
        ExprKind::Str(parts) => parts.iter().for_each(|p| {
            if let StrPart::Expr(x) = p {
                walk(x, f)
            }
        }),
        ExprKind::Array(xs) => xs.iter().for_each(|x| walk(x, f)),
        ExprKind::Record(base, props) => {
            if let Some(b) = base {
                walk(b, f);
            }
            props.iter().for_each(|(_, x)| walk(x, f));
        }
        ExprKind::Func(lit) => {
            lit.params
                .iter()
                .filter_map(|(_, d)| d.as_ref())
                .for_each(|x| walk(x, f));
            match &lit.body {
                FuncBody::Expr(x) => walk(x, f),
                FuncBody::Block(stmts) => stmts.iter().for_each(|s| match s {
                    Stmt::Assign(_, x) | Stmt::Expr(x) | Stmt::Return(x) => walk(x, f),
                }),
            }
        }
        ExprKind::Call(c, args) => {
            walk(c, f);
            args.iter().for_each(|(_, x)| walk(x, f));
        }
        ExprKind::Pipe(a, b) | ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
            walk(a, f);
            walk(b, f);
        }
        ExprKind::Member(a, _) | ExprKind::Unary(_, a) | ExprKind::Exists(a) => walk(a, f),
        ExprKind::Cond(a, b, c) => {
            walk(a, f);
            walk(b, f);
            walk(c, f);
        }
        _ => {}
    }
}

impl Cx<'_> {
    fn stmt(&self, s: &Stmt) -> Result<(), FluxError> {
        let (Stmt::Assign(_, e) | Stmt::Expr(e) | Stmt::Return(e)) = s;
        let mut err = None;
        walk(e, &mut |x| {
            if err.is_none() {
                err = self.call(x).err();
            }
        });
        err.map_or(Ok(()), Err)
    }

    fn call(&self, e: &Expr) -> Result<(), FluxError> {
        let ExprKind::Call(callee, _) = &e.kind else {
            return Ok(());
        };
        match &callee.kind {
            ExprKind::Ident(n) if !self.bound.contains(n) && !UNIVERSE.contains(&n.as_str()) => {
                Err(FluxError::at(
                    callee.pos,
                    format!(
                        "function {n:?} is not supported by sluice's Flux engine (docs/flux.md lists the subset)"
                    ),
                ))
            }
            ExprKind::Member(obj, f) => match &obj.kind {
                ExprKind::Ident(pkg) if !self.bound.contains(pkg) => {
                    if !self.imported.contains(&pkg.as_str()) {
                        return Err(FluxError::at(
                            callee.pos,
                            format!(
                                "undefined identifier {pkg} (function \"{pkg}.{f}\" needs an import, and sluice supports only the packages in docs/flux.md)"
                            ),
                        ));
                    }
                    let known = PACKAGES
                        .iter()
                        .find(|(_, a, _)| a == pkg)
                        .is_some_and(|(_, _, fns)| fns.contains(&f.as_str()));
                    if known {
                        Ok(())
                    } else {
                        Err(FluxError::at(
                            callee.pos,
                            format!(
                                "function \"{pkg}.{f}\" is not supported by sluice's Flux engine (docs/flux.md lists the subset)"
                            ),
                        ))
                    }
                }
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }
}
