//! The embedded Flux engine: the subset Grafana sends, answered over the store
//! (docs/flux.md is the spec: grammar, semantics, tables, conventions).
//!
//! Owns: `compile` (text → checked program: parse, imports, unsupported functions named before
//! anything runs) and `execute` (program → results of `yield`, each a list of tables), the
//! engine's bounds, and its errors (`FluxError`, with InfluxDB 2's codes).
//! Does not own: HTTP (`http::flux`), reading rows (`store::ReadStore`), who owns which bucket
//! (the caller's `FluxContext::resolve`).
//!
//! Pipeline: `lexer` → `parser` (→ `ast`) → `check` → `interp` (+ `ops`, `builtins`) over
//! `table`s → `csv`. Reads that `lower` recognizes (`from |> range |> filter`, then `group`
//! and `aggregateWindow`) run on the shared series plan (`query::plan`, `query::exec`)
//! instead of row by row; the interpreter takes over after them, and for everything else.
//! A lowered window's tables stay `columns` until a call needs rows: `execute_answers` keeps
//! them so, and `csv::encode_answers` writes the answer from them.

pub mod ast;
mod builtins;
mod check;
pub mod columns;
pub mod csv;
mod interp;
pub mod lexer;
pub mod literal;
mod lower;
mod ops;
pub mod parser;
pub mod table;
pub mod value;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_columns;
#[cfg(test)]
mod tests_eval;
#[cfg(test)]
mod tests_lower;
#[cfg(test)]
mod tests_post;
#[cfg(test)]
mod tests_predicate;
#[cfg(test)]
mod tests_shape;

use std::sync::Arc;

use self::lexer::Pos;
use crate::error::{ErrorCode, HasErrorCode};
use crate::model::{BucketName, TenantId};
use crate::store::ReadStore;

pub use ast::Program;
pub use check::walk;
pub use columns::Tables;
pub use table::Table;

/// Longest query text accepted.
pub const MAX_QUERY_BYTES: usize = 256 * 1024;

/// A Flux error: a code (InfluxDB 2's) and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FluxError {
    pub code: ErrorCode,
    pub message: String,
}

impl FluxError {
    pub fn invalid(message: impl Into<String>) -> Self {
        FluxError {
            code: ErrorCode::Invalid,
            message: message.into(),
        }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        FluxError {
            code: ErrorCode::NotFound,
            message: message.into(),
        }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        FluxError {
            code: ErrorCode::Internal,
            message: message.into(),
        }
    }
    /// An error at a position of the query text (`error @line:col: ...`, as Flux writes them).
    pub fn at(pos: lexer::Pos, message: impl std::fmt::Display) -> Self {
        FluxError::invalid(format!("error @{pos}: {message}"))
    }
}

impl HasErrorCode for FluxError {
    fn error_code(&self) -> ErrorCode {
        self.code
    }
}

/// Where and under which bounds a query runs.
pub struct FluxContext<'a> {
    pub tenant: &'a TenantId,
    /// `None` in fronting mode: reads answer no tables.
    pub store: Option<&'a dyn ReadStore>,
    /// A bucket name of `from(bucket:)` → the tenant's bucket, `None` when it owns none.
    pub resolve: &'a (dyn Fn(&str) -> Option<BucketName> + Sync),
    /// What `buckets()` lists.
    pub buckets: Vec<BucketName>,
    /// `retentionPeriod` of `buckets()` rows, ns (0: infinite).
    pub retention_ns: i64,
    /// `now()`, ns since the Unix epoch.
    pub now_ns: i64,
    pub max_scan_bytes: usize,
    /// Most rows read from the store by one query.
    pub max_rows: usize,
}

/// One `yield`ed result.
#[derive(Debug, Clone, PartialEq)]
pub struct FluxResult {
    pub name: String,
    pub tables: Vec<Table>,
}

/// One `yield`ed result as the answer is written from it: a lowered window's tables stay
/// columns (`columns::WindowTable`), no row built.
#[derive(Debug, Clone, PartialEq)]
pub struct FluxAnswer {
    pub name: String,
    pub tables: Tables,
}

impl FluxAnswer {
    /// The result with its rows.
    pub fn into_result(self) -> FluxResult {
        FluxResult {
            name: self.name,
            tables: self.tables.into_rows(),
        }
    }
}

/// Parses and checks a query.
pub fn compile(src: &str) -> Result<Program, FluxError> {
    if src.len() > MAX_QUERY_BYTES {
        return Err(FluxError {
            code: ErrorCode::RequestTooLarge,
            message: format!(
                "query is {} bytes, more than the {MAX_QUERY_BYTES} allowed",
                src.len()
            ),
        });
    }
    let program = parser::parse(src)?;
    check::check(&program)?;
    Ok(program)
}

pub use check::answers_from_index;

/// Runs a compiled program.
pub fn execute(program: &Program, ctx: &FluxContext<'_>) -> Result<Vec<FluxResult>, FluxError> {
    execute_answers(program, ctx)
        .map(|answers| answers.into_iter().map(FluxAnswer::into_result).collect())
}

/// Runs a compiled program for its answer to be written (`csv::encode_answers`).
pub fn execute_answers(
    program: &Program,
    ctx: &FluxContext<'_>,
) -> Result<Vec<FluxAnswer>, FluxError> {
    run(program, ctx, true).0
}

/// Runs a compiled program, lowering reads (`lower: true`, as `execute`) or with the
/// interpreter alone (the reference lowered answers are tested against); also says how many
/// reads ran on the shared plan.
#[cfg(test)]
pub(crate) fn execute_with(
    program: &Program,
    ctx: &FluxContext<'_>,
    lower: bool,
) -> (Result<Vec<FluxAnswer>, FluxError>, usize) {
    run(program, ctx, lower)
}

fn run(
    program: &Program,
    ctx: &FluxContext<'_>,
    lower: bool,
) -> (Result<Vec<FluxAnswer>, FluxError>, usize) {
    let rt = interp::Runtime::new(ctx, lower);
    let answer = builtins::prelude(&program.imports).and_then(|mut scope| {
        rt.block(&program.body, &mut scope)?;
        Ok(())
    });
    let lowered = rt.lowered.get();
    let answer = answer.and_then(|()| {
        let yielded = rt.results.take();
        yielded
            .into_iter()
            .map(|(name, s)| {
                let s = Arc::try_unwrap(s).unwrap_or_else(|shared| (*shared).clone());
                let tables = builtins::read_tables(&rt, s, Pos::default())?;
                Ok(FluxAnswer { name, tables })
            })
            .collect()
    });
    (answer, lowered)
}
