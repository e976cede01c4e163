//! InfluxQL: the subset sluice parses and answers (spec: docs/influxql.md).
//!
//! Owns: the InfluxQL lexer, parser, AST and printer, the lowering of statements to the query
//! plan, SHOW statements, and the 1.x JSON answer.
//! Does not own: executing the plan (`query`), reading rows (`store`).

pub mod ast;
pub mod lexer;
pub mod literal;
pub mod lower;
mod parse_expr;
mod parse_select;
mod parse_stmt;
pub mod parser;
pub mod print;
pub mod response;
pub mod run;
pub mod show;
mod show_values;
pub mod token;

pub use parser::{ParseError, parse_expr, parse_query, parse_query_limited};

#[cfg(test)]
mod show_tests;
#[cfg(test)]
mod tests_errors;
#[cfg(test)]
mod tests_parse;
#[cfg(test)]
mod tests_roundtrip;
#[cfg(test)]
mod tests_show_json;
