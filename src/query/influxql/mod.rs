//! InfluxQL: the subset sluice parses and answers (spec: docs/influxql.md).
//!
//! Owns: the InfluxQL lexer, parser, AST and printer, the lowering of statements to the query
//! plan, SHOW statements, and the 1.x JSON answer.
//! Does not own: executing the plan (`query`), reading rows (`store`).

pub mod ast;
pub mod lower;
