//! The InfluxQL side of the passthrough: which statements a tenant may send to the upstream,
//! and the text that is sent.
//!
//! Owns: the refusal rules (a database the tenant does not own, by `ON db`, `"db"."rp"."m"`,
//! `"db".."m"`, the `db`/`rp` parameters or a subquery; `SELECT … INTO`; every statement
//! sluice's parser does not model, which covers `DROP`, `DELETE`, users, grants, retention
//! policies, continuous queries, `KILL QUERY` and diagnostics; `CREATE DATABASE` of a database
//! the tenant may not write), and the rewrite of database names to the upstream's
//! (`bucket_prefix`). The upstream gets the query *as sluice parsed it* (printed back from the
//! checked tree), never the client's text, so what was checked is what runs.
//! Pure: no IO. Does not own: sending (`upstream`), filtering `SHOW DATABASES` (`showdb`).

use super::Refusal;
use crate::model::BucketName;
use crate::query::influxql::ast::{Measurement, Query, Source, Statement};
use crate::tenant::{Tenant, bucket_for_v1};

/// A query the tenant may send, ready for the upstream.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// The statements to send (database names rewritten), printed with `Display`.
    pub text: String,
    /// The `db` parameter to send (rewritten), if the client gave one.
    pub db: Option<String>,
    /// Indexes (= `statement_id`s) of the `SHOW DATABASES` statements, whose answers must be
    /// filtered to the tenant's databases.
    pub show_databases: Vec<usize>,
}

/// Checks `query` for `tenant`, with the request's `db` and `rp` parameters, and rewrites it
/// for the upstream.
pub fn check(
    tenant: &Tenant,
    mut query: Query,
    db: Option<&str>,
    rp: Option<&str>,
) -> Result<Checked, Refusal> {
    let db = db.filter(|d| !d.is_empty());
    let rp = rp.filter(|r| !r.is_empty());
    let cx = Cx { tenant, db, rp };
    if let Some(d) = db
        && cx.readable(Some(d), rp, 0).is_err()
    {
        return Err(Refusal::new(
            "the db and rp parameters name a database or retention policy this token may not read",
        ));
    }
    let mut show_databases = Vec::new();
    for (i, stmt) in query.statements.iter_mut().enumerate() {
        if matches!(stmt, Statement::ShowDatabases) {
            show_databases.push(i);
        }
        cx.statement(i, stmt)?;
    }
    let text = query
        .statements
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    Ok(Checked {
        text,
        db: db.map(|d| upstream_db(tenant, d)),
        show_databases,
    })
}

/// The upstream name of the v1 database `db`: `bucket_prefix` + `db`.
pub fn upstream_db(tenant: &Tenant, db: &str) -> String {
    format!("{}{db}", tenant.upstream_prefix())
}

struct Cx<'a> {
    tenant: &'a Tenant,
    db: Option<&'a str>,
    rp: Option<&'a str>,
}

impl Cx<'_> {
    fn statement(&self, i: usize, stmt: &mut Statement) -> Result<(), Refusal> {
        match stmt {
            Statement::Select(sel) => {
                if sel.into.is_some() {
                    return Err(Refusal::new(format!(
                        "statement {i}: SELECT … INTO writes, and only reads pass through sluice"
                    )));
                }
                self.sources(i, &mut sel.sources)
            }
            Statement::ShowDatabases => Ok(()),
            Statement::ShowMeasurements(s) => {
                self.on_db(i, &mut s.database)?;
                if let Some(m) = &mut s.with_measurement {
                    self.measurement(i, m)?;
                }
                Ok(())
            }
            Statement::ShowTagKeys(s) => {
                self.on_db(i, &mut s.database)?;
                self.sources(i, &mut s.sources)
            }
            Statement::ShowTagValues(s) => {
                self.on_db(i, &mut s.database)?;
                self.sources(i, &mut s.sources)
            }
            Statement::ShowFieldKeys(s) => {
                self.on_db(i, &mut s.database)?;
                self.sources(i, &mut s.sources)
            }
            Statement::ShowSeries(s) => {
                self.on_db(i, &mut s.database)?;
                self.sources(i, &mut s.sources)
            }
            Statement::ShowRetentionPolicies(s) => self.on_db(i, &mut s.database),
            Statement::CreateDatabase(c) => {
                let ok = bucket_for_v1(&c.name, None).is_ok_and(|b| self.tenant.can_write(&b));
                if !ok {
                    return Err(Refusal::new(format!(
                        "statement {i}: CREATE DATABASE of a database this token may not write"
                    )));
                }
                c.name = upstream_db(self.tenant, &c.name);
                Ok(())
            }
            Statement::Unsupported { name, .. } => Err(Refusal::new(format!(
                "statement {i}: {name} statements do not pass through sluice"
            ))),
        }
    }

    /// `ON db` of a metadata statement: the database as a whole (every retention policy)
    /// must be the tenant's, because InfluxDB's metadata is per database.
    fn on_db(&self, i: usize, database: &mut Option<String>) -> Result<(), Refusal> {
        let db = database.as_deref().or(self.db);
        self.readable(db, None, i)?;
        if let Some(d) = database {
            *d = upstream_db(self.tenant, d);
        }
        Ok(())
    }

    fn sources(&self, i: usize, sources: &mut [Source]) -> Result<(), Refusal> {
        for s in sources {
            match s {
                Source::Measurement(m) => self.measurement(i, m)?,
                Source::Subquery(sel) => {
                    if sel.into.is_some() {
                        return Err(Refusal::new(format!(
                            "statement {i}: SELECT … INTO writes, and only reads pass through sluice"
                        )));
                    }
                    self.sources(i, &mut sel.sources)?;
                }
            }
        }
        Ok(())
    }

    /// `[db.][rp.]m`: the database defaults to the `db` parameter and the retention policy to
    /// the `rp` parameter, as InfluxDB's `normalizeMeasurement` does.
    fn measurement(&self, i: usize, m: &mut Measurement) -> Result<(), Refusal> {
        let db = m.database.as_deref().or(self.db);
        let rp = m.retention_policy.as_deref().or(self.rp);
        self.readable(db, rp, i)?;
        if let Some(d) = &mut m.database {
            *d = upstream_db(self.tenant, d);
        }
        Ok(())
    }

    /// The tenant may read the bucket of `db`/`rp`. No database at all is left to the upstream
    /// (it answers `database name required`, reading nothing).
    fn readable(&self, db: Option<&str>, rp: Option<&str>, i: usize) -> Result<(), Refusal> {
        let Some(db) = db else {
            return Ok(());
        };
        let owned = bucket_for_v1(db, rp)
            .ok()
            .is_some_and(|b: BucketName| self.tenant.can_read(&b));
        if owned {
            Ok(())
        } else {
            Err(Refusal::new(format!(
                "statement {i}: names a database or retention policy this token may not read"
            )))
        }
    }
}
