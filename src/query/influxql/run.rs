//! Runs the statements of one `/query` request, in order, into their results.
//!
//! Owns: statement dispatch (SELECT to the engine, SHOW to `show`, a plain `SHOW TAG VALUES`
//! to `show_values` as ready JSON when the answer is not chunked, `CREATE DATABASE` for an owned
//! bucket, everything else refused by name), InfluxDB's rule that the first failing statement
//! ends the request (later statements are not run), and the read-only-context warning a GET
//! with `CREATE DATABASE` gets. Does not own: who may do what before running (the HTTP layer
//! refuses a `CREATE DATABASE` of a foreign bucket with 403 first), encoding.

use super::ast::{Query, Statement};
use super::response::StatementResult;
use super::{show, show_values};
use crate::query::QueryContext;
use crate::store::ReadStore;

/// What a request's statements run against.
pub struct Runner<'a> {
    pub ctx: QueryContext<'a>,
    /// The embedded store, when this sluice has one.
    pub store: Option<&'a dyn ReadStore>,
    /// The tenant's v1 databases, for `SHOW DATABASES`.
    pub owned_dbs: &'a [String],
    /// The request was a GET (InfluxDB warns about write statements in a read-only context).
    pub read_only: bool,
    /// `SHOW TAG VALUES` may be answered as JSON written straight from the index
    /// (`StatementResult::series_json`): not for a chunked answer, which cuts series.
    pub series_json: bool,
}

impl Runner<'_> {
    /// Every statement's result, up to and including the first that fails.
    pub fn run(&self, query: &Query) -> Vec<StatementResult> {
        let mut out = Vec::with_capacity(query.statements.len());
        for (id, stmt) in query.statements.iter().enumerate() {
            let result = self.statement(id, stmt);
            let failed = result.error.is_some();
            out.push(result);
            if failed {
                break;
            }
        }
        out
    }

    fn statement(&self, id: usize, stmt: &Statement) -> StatementResult {
        match stmt {
            Statement::CreateDatabase(c) => {
                let mut r = StatementResult::ok(id, Vec::new());
                if self.read_only {
                    r.messages.push((
                        "warning".to_owned(),
                        format!(
                            "deprecated use of 'CREATE DATABASE {}' in a read only context, please use a POST request instead",
                            c.name
                        ),
                    ));
                }
                r
            }
            Statement::Unsupported { name, .. } => {
                StatementResult::error(id, format!("sluice does not support {name} statements"))
            }
            _ => {
                let Some(store) = self.store else {
                    return StatementResult::error(
                        id,
                        "sluice answers SELECT and SHOW only from its embedded store, which is off",
                    );
                };
                if self.series_json
                    && let Some(json) = show_values::tag_values_json(stmt, &self.ctx, store)
                {
                    return match json {
                        Ok(json) => StatementResult {
                            series_json: Some(json),
                            ..StatementResult::ok(id, Vec::new())
                        },
                        Err(e) => StatementResult::error(id, e.to_string()),
                    };
                }
                let answer = match stmt {
                    Statement::Select(sel) => super::lower::execute_select(sel, &self.ctx, store)
                        .map_err(|e| e.to_string()),
                    _ => {
                        show::run(stmt, &self.ctx, store, self.owned_dbs).map_err(|e| e.to_string())
                    }
                };
                match answer {
                    Ok(series) => {
                        let mut r = StatementResult::ok(id, series);
                        if let Statement::Select(sel) = stmt {
                            r.tz = sel.tz.as_deref().and_then(|z| z.parse().ok());
                        }
                        r
                    }
                    Err(e) => StatementResult::error(id, e),
                }
            }
        }
    }
}
