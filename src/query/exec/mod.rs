//! Executes a `SelectPlan` over a `store::ReadStore`, answering series as InfluxDB 1.6.7 does.
//!
//! Owns: the executor (scan per measurement with only the needed fields, row filter, grouping,
//! window reduction, fill, transformations, joining the streams into rows, shaping) and the
//! statement errors of the query engine (`QueryError`). Does not own: building the plan
//! (`influxql::lower`), where rows live (`store`), encoding the answer.
//!
//! Layout: `scan` (scan answer → series runs, conditions), `points` (a field's points per
//! group), `reduce` (aggregates and selectors per window), `stream` (windows, fill,
//! transformations, integral), `run` (groups, rows, shaping), `value` (arithmetic).
//!
//! Memory is bounded by `Limits`: the store refuses a scan past `max_scan_bytes`, and a
//! statement whose answer (or an intermediate filled stream) passes `max_rows` fails with
//! `QueryError::TooManyRows` instead of answering a truncated result.

mod group;
pub mod mem;
pub mod points;
pub mod reduce;
mod run;
pub mod scan;
pub mod stream;
#[cfg(test)]
mod tests;
pub mod value;

use crate::error::{ErrorCode, HasErrorCode};
use crate::model::TenantId;
use crate::query::plan::SelectPlan;
use crate::query::result::Series;
use crate::store::{ReadStore, StoreError};

/// Why a SELECT statement failed. Messages are InfluxDB 1.6.7's statement errors where it has
/// one (they are answered in `results[i].error`).
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("database not found: {db}")]
    DatabaseNotFound { db: String },
    #[error("database name required")]
    DatabaseRequired,
    #[error("mixing aggregate and non-aggregate queries is not supported")]
    MixedAggregate,
    #[error("mixing multiple selector functions with tags or fields is not supported")]
    MixedSelectors,
    #[error("aggregate function required inside the call to {func}")]
    AggregateRequired { func: &'static str },
    #[error("{func} aggregate requires a GROUP BY interval")]
    IntervalRequired { func: &'static str },
    #[error("GROUP BY requires at least one aggregate function")]
    GroupByWithoutAggregate,
    #[error("undefined function {name}()")]
    UndefinedFunction { name: String },
    #[error("invalid number of arguments for {func}, expected {expected}, got {got}")]
    ArgumentCount {
        func: String,
        expected: String,
        got: usize,
    },
    #[error("at least 1 non-time field must be queried")]
    NoField,
    #[error("fill({mode}) must be used with a function")]
    FillWithoutFunction { mode: &'static str },
    #[error("aggregate function distinct() cannot be combined with other functions or fields")]
    DistinctCombined,
    #[error("selector function {func}() cannot be combined with other functions")]
    TopBottomCombined { func: &'static str },
    /// A statement InfluxDB rejects with the given message (argument checks and the like).
    #[error("{message}")]
    Invalid { message: String },
    /// Valid InfluxQL outside the subset sluice answers.
    #[error("{what} is not supported")]
    Unsupported { what: String },
    #[error("unsupported {func} iterator type: {ty}")]
    UnsupportedType {
        func: &'static str,
        ty: &'static str,
    },
    #[error("max-select-point limit exceeded: the statement answers more than {limit} rows")]
    TooManyRows { limit: usize },
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("internal query error: {what}")]
    Internal { what: &'static str },
}

impl HasErrorCode for QueryError {
    fn error_code(&self) -> ErrorCode {
        match self {
            Self::DatabaseNotFound { .. } => ErrorCode::NotFound,
            Self::Store(e) => e.error_code(),
            Self::Internal { .. } => ErrorCode::Internal,
            Self::Unsupported { .. } => ErrorCode::NotImplemented,
            _ => ErrorCode::Invalid,
        }
    }
}

/// Bounds one statement runs under.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Passed to the store as `ScanRequest::max_bytes` for each measurement.
    pub max_scan_bytes: usize,
    /// Rows the statement may answer (and points a filled stream may hold).
    pub max_rows: usize,
}

/// What running a plan read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Rows of the groups inside the plan's range holding a selected field (after the row
    /// filter): what Flux bounds as "rows read".
    pub points: usize,
}

/// Runs `plan` for `tenant` over `store`.
pub fn execute(
    plan: &SelectPlan,
    tenant: &TenantId,
    store: &dyn ReadStore,
    limits: Limits,
) -> Result<Vec<Series>, QueryError> {
    run::execute(plan, tenant, store, limits, None)
}

/// `execute`, also counting what the plan read.
pub fn execute_counted(
    plan: &SelectPlan,
    tenant: &TenantId,
    store: &dyn ReadStore,
    limits: Limits,
) -> Result<(Vec<Series>, Stats), QueryError> {
    let mut stats = Stats::default();
    let series = run::execute(plan, tenant, store, limits, Some(&mut stats))?;
    Ok((series, stats))
}
