//! The Flux side of the passthrough: which scripts a tenant may send to the upstream, and the
//! text that is sent.
//!
//! Owns: the refusal rules, checked on the parsed script (the same parser as the embedded
//! engine): an import outside `influxdata/influxdb/schema`, `strings`, `date`, `math`; any
//! reference to `to` (writes); any call argument `bucketID:`, or `host:`, `org:`, `orgID:`,
//! `token:` (another org or another server); a `bucket:` argument that is not a plain string
//! literal naming one of the tenant's buckets (so `from`, `schema.*` and any alias of them
//! read only the tenant's buckets). And the text sent: the script's tokens as sluice's lexer
//! read them (comments dropped, whitespace reduced), each `bucket:` literal rewritten to the
//! upstream's name (`bucket_prefix`).
//! Identifiers must be plain ASCII (`[A-Za-z0-9_]`), so that no lexer difference can make
//! `to` or an argument name read differently upstream.
//! `buckets()` lists every bucket the upstream token sees, so a script that calls it is
//! answered by sluice itself from the tenant's configured buckets (`Plan::Local`).
//! Pure: no IO. Does not own: sending (`upstream`).

use super::Refusal;
use crate::model::BucketName;
use crate::query::flux::ast::{Expr, ExprKind, Program, Stmt, StrPart};
use crate::query::flux::lexer::{Tok, tokenize};
use crate::query::flux::walk;
use crate::tenant::{Tenant, bucket_for_v1};

/// Packages a passed-through script may import.
pub const ALLOWED_IMPORTS: [&str; 4] = ["influxdata/influxdb/schema", "strings", "date", "math"];

/// Call arguments that reach outside the tenant's buckets.
const FORBIDDEN_ARGS: [&str; 5] = ["bucketID", "host", "org", "orgID", "token"];

/// Where a checked script runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// At the upstream, as this text (bucket names rewritten).
    Upstream(String),
    /// In sluice's own engine: the script lists buckets and reads none.
    Local,
}

/// Checks the parsed `program` (of the text `src`) for `tenant`.
pub fn check(tenant: &Tenant, program: &Program, src: &str) -> Result<Plan, Refusal> {
    for (path, _) in &program.imports {
        if !ALLOWED_IMPORTS.contains(&path.as_str()) {
            return Err(Refusal::new(format!(
                "package {path:?} may not be imported through sluice (allowed: \"influxdata/influxdb/schema\", \"strings\", \"date\", \"math\")"
            )));
        }
    }
    let mut found = Found::default();
    for s in &program.body {
        let (Stmt::Assign(_, e) | Stmt::Expr(e) | Stmt::Return(e)) = s;
        walk(e, &mut |x| found.visit(tenant, x));
    }
    if let Some(r) = found.refusal {
        return Err(r);
    }
    if found.lists_buckets {
        if !found.buckets.is_empty() || found.reads {
            return Err(Refusal::new(
                "buckets() cannot be combined with reading data in one script through sluice",
            ));
        }
        return Ok(Plan::Local);
    }
    canonical(src, &found.buckets).map(Plan::Upstream)
}

#[derive(Default)]
struct Found {
    refusal: Option<Refusal>,
    lists_buckets: bool,
    /// `from` is referenced.
    reads: bool,
    /// Each `bucket:` literal: where it starts (line, column) and the upstream name.
    buckets: Vec<(u32, u32, String)>,
}

impl Found {
    fn visit(&mut self, tenant: &Tenant, e: &Expr) {
        if self.refusal.is_some() {
            return;
        }
        let odd = match &e.kind {
            ExprKind::Ident(n) | ExprKind::Member(_, n) => !plain(n),
            ExprKind::Call(_, args) => args.iter().any(|(n, _)| !plain(n)),
            ExprKind::Func(f) => f.params.iter().any(|(n, _)| !plain(n)),
            _ => false,
        };
        if odd {
            self.refusal = Some(Refusal::new(
                "identifiers must be ASCII letters, digits and _ to pass through sluice",
            ));
            return;
        }
        match &e.kind {
            ExprKind::Ident(n) if n == "to" => {
                self.refusal = Some(Refusal::new(
                    "to() writes, and only reads pass through sluice",
                ));
            }
            ExprKind::Ident(n) if n == "buckets" => self.lists_buckets = true,
            ExprKind::Ident(n) if n == "from" => self.reads = true,
            ExprKind::Func(f) => {
                // A parameter default is an argument too: `(bucket="x") => from(bucket)`.
                for (name, default) in &f.params {
                    if let Some(d) = default {
                        self.argument(tenant, name, d);
                    }
                }
            }
            ExprKind::Call(_, args) => {
                for (name, value) in args {
                    self.argument(tenant, name, value);
                }
            }
            _ => {}
        }
    }

    fn argument(&mut self, tenant: &Tenant, name: &str, value: &Expr) {
        if self.refusal.is_some() {
            return;
        }
        if FORBIDDEN_ARGS.contains(&name) {
            self.refusal = Some(Refusal::new(format!(
                "the argument {name}: does not pass through sluice; name a bucket with bucket:"
            )));
            return;
        }
        if name != "bucket" {
            return;
        }
        let literal = match &value.kind {
            ExprKind::Str(parts) => match parts.as_slice() {
                [] => Some(String::new()),
                [StrPart::Text(t)] => Some(t.clone()),
                _ => None,
            },
            _ => None,
        };
        let Some(literal) = literal else {
            self.refusal = Some(Refusal::new(
                "bucket: must be a string literal to pass through sluice",
            ));
            return;
        };
        match owned_bucket(tenant, &literal) {
            Some(b) => {
                self.buckets
                    .push((value.pos.line, value.pos.col, tenant.upstream_bucket(&b)))
            }
            None => {
                self.refusal = Some(Refusal::new(
                    "bucket: names a bucket this token may not read",
                ));
            }
        }
    }
}

/// An identifier both Flux lexers read the same way: ASCII letters, digits and `_` (sluice's
/// lexer also takes any non-ASCII byte into an identifier, where InfluxDB's may see a space).
fn plain(name: &str) -> bool {
    name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `bucket:` → the tenant's bucket: the name itself, or a v1 `db/rp` name.
pub fn owned_bucket(tenant: &Tenant, name: &str) -> Option<BucketName> {
    if let Ok(b) = BucketName::new(name)
        && tenant.can_read(&b)
    {
        return Some(b);
    }
    let (db, rp) = name.split_once('/')?;
    bucket_for_v1(db, Some(rp))
        .ok()
        .filter(|b| tenant.can_read(b))
}

/// The text sent upstream: `src`'s tokens as sluice's lexer read them, each as written except
/// the `bucket:` literals at `literals` (line, column), replaced by the quoted upstream name;
/// between two tokens a newline where `src` had one, else a space where it had any gap. So
/// comments are gone (nothing can hide in one) and the upstream reads the tokens the check
/// read. Fails closed: a literal that is not found refuses the script.
fn canonical(src: &str, literals: &[(u32, u32, String)]) -> Result<String, Refusal> {
    let tokens = tokenize(src).map_err(|e| Refusal::new(e.message))?;
    let mut out = String::with_capacity(src.len());
    let mut replaced = 0;
    let mut prev_end: Option<usize> = None;
    for t in tokens.iter().filter(|t| t.tok != Tok::Eof) {
        if let Some(end) = prev_end {
            let gap = &src[end..t.span.start];
            if gap.contains('\n') {
                out.push('\n');
            } else if !gap.is_empty() {
                out.push(' ');
            }
        }
        let name = literals
            .iter()
            .find(|(line, col, _)| (*line, *col) == (t.pos.line, t.pos.col))
            .map(|(_, _, n)| n);
        match (name, &t.tok) {
            (Some(name), Tok::Str(_)) => {
                out.push('"');
                for c in name.chars() {
                    if matches!(c, '"' | '\\' | '$') {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
                replaced += 1;
            }
            _ => out.push_str(&src[t.span.clone()]),
        }
        prev_end = Some(t.span.end);
    }
    let mut distinct: Vec<(u32, u32)> = literals.iter().map(|(l, c, _)| (*l, *c)).collect();
    distinct.sort_unstable();
    distinct.dedup();
    if replaced != distinct.len() {
        return Err(Refusal::new(
            "a bucket: literal could not be rewritten for the upstream",
        ));
    }
    Ok(out)
}
