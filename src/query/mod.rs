//! Queries: the InfluxQL front-end, the logical plan it lowers to and its execution over the
//! embedded store (`store::ReadStore`); the Flux front-end (`flux`), which lowers the reads it
//! recognizes to the same plan and evaluates the rest of Flux's table model itself. In
//! fronting mode, both languages are checked and passed to the upstream InfluxDB instead
//! (`passthrough`).
//!
//! Owns: parsing, planning and executing queries, and encoding their answers.
//! Does not own: where rows live (`store`), HTTP (`http`), who may read what (`tenant`).

pub mod exec;
pub mod flux;
pub mod influxql;
pub mod numfmt;
pub mod passthrough;
pub mod pattern;
pub mod plan;
pub mod result;
pub mod rows;

pub use exec::QueryError;
pub use result::{Datum, QueryContext, Series};
pub use rows::Rows;
