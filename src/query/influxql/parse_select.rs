//! The SELECT statement and its clauses, in InfluxDB's order: fields, INTO, FROM, WHERE,
//! GROUP BY, fill, ORDER BY, LIMIT, OFFSET, SLIMIT, SOFFSET, tz. The SHOW statements share
//! the FROM, WHERE, ORDER BY and LIMIT/OFFSET clauses.
//!
//! Owns: those clauses. Does not own: expressions (`parse_expr`), dispatch (`parse_stmt`).

use super::ast::{
    BinaryOp, Dimension, Expr, Field, Fill, IntoTarget, Measurement, MeasurementName,
    SelectStatement, SortOrder, Source,
};
use super::lexer::Tok;
use super::parser::{MAX_NESTING, ParseError, Parser};

fn invalid(message: &str) -> ParseError {
    ParseError::Invalid {
        message: message.to_owned(),
    }
}

impl Parser<'_> {
    pub(super) fn parse_select(&mut self) -> Result<SelectStatement, ParseError> {
        let fields = self.parse_fields()?;
        let into = self.parse_into()?;
        let t = self.scan_ws();
        if !t.is_kw("FROM") {
            return Err(self.unexpected(&t, &["FROM"]));
        }
        Ok(SelectStatement {
            fields,
            into,
            sources: self.parse_sources(true)?,
            condition: self.parse_condition()?,
            group_by: self.parse_dimensions()?,
            fill: self.parse_fill()?,
            order_by: self.parse_order_by()?,
            limit: self.parse_optional_int("LIMIT")?,
            offset: self.parse_optional_int("OFFSET")?,
            slimit: self.parse_optional_int("SLIMIT")?,
            soffset: self.parse_optional_int("SOFFSET")?,
            tz: self.parse_tz()?,
        })
    }

    fn parse_into(&mut self) -> Result<Option<IntoTarget>, ParseError> {
        if !self.eat_kw("INTO") {
            return Ok(None);
        }
        let mut idents = self.parse_segmented_idents()?;
        if idents.len() < 3 && self.peek_rune() == Some(':') {
            self.expect(&[":", "MEASUREMENT"])?;
            idents.push(String::new());
        }
        let some = |s: String| if s.is_empty() { None } else { Some(s) };
        let mut it = idents.into_iter().rev();
        let measurement = it.next().and_then(some);
        let retention_policy = it.next().and_then(some);
        let database = it.next().and_then(some);
        Ok(Some(IntoTarget {
            database,
            retention_policy,
            measurement,
        }))
    }

    pub(super) fn parse_sources(&mut self, subqueries: bool) -> Result<Vec<Source>, ParseError> {
        let mut sources = Vec::new();
        loop {
            sources.push(self.parse_source(subqueries)?);
            if self.scan_ws().tok != Tok::Comma {
                self.unscan();
                return Ok(sources);
            }
        }
    }

    pub(super) fn parse_source(&mut self, subqueries: bool) -> Result<Source, ParseError> {
        let measurement = |database, retention_policy, name| {
            Source::Measurement(Measurement {
                database,
                retention_policy,
                name,
            })
        };
        if let Some(re) = self.parse_regex()? {
            return Ok(measurement(None, None, MeasurementName::Regex(re)));
        }
        if subqueries {
            let t = self.scan_ws();
            if t.tok == Tok::LParen {
                self.expect(&["SELECT"])?;
                self.nesting += 1;
                if self.nesting > MAX_NESTING {
                    return Err(self.too_deep(MAX_NESTING, t.at));
                }
                let stmt = self.parse_select()?;
                self.nesting -= 1;
                let close = self.scan_ws();
                if close.tok != Tok::RParen {
                    return Err(self.unexpected(&close, &[")"]));
                }
                return Ok(Source::Subquery(Box::new(stmt)));
            }
            self.unscan();
        }
        let some = |s: String| if s.is_empty() { None } else { Some(s) };
        let mut idents = self.parse_segmented_idents()?.into_iter();
        if idents.len() == 3 {
            let (db, rp, name) = (idents.next(), idents.next(), idents.next());
            let name = MeasurementName::Name(name.unwrap_or_default());
            return Ok(measurement(db.and_then(some), rp.and_then(some), name));
        }
        let re = self.parse_regex()?;
        let (first, second) = (idents.next().unwrap_or_default(), idents.next());
        Ok(match (second, re) {
            (None, None) => measurement(None, None, MeasurementName::Name(first)),
            (None, Some(re)) => measurement(None, some(first), MeasurementName::Regex(re)),
            (Some(second), None) => measurement(None, some(first), MeasurementName::Name(second)),
            (Some(second), Some(re)) => {
                measurement(some(first), some(second), MeasurementName::Regex(re))
            }
        })
    }

    pub(super) fn parse_condition(&mut self) -> Result<Option<Expr>, ParseError> {
        Ok(if self.eat_kw("WHERE") {
            Some(self.parse_expr()?)
        } else {
            None
        })
    }

    fn parse_dimensions(&mut self) -> Result<Vec<Dimension>, ParseError> {
        if !self.eat_kw("GROUP") {
            return Ok(Vec::new());
        }
        let t = self.scan_ws();
        if !t.is_kw("BY") {
            return Err(self.unexpected(&t, &["BY"]));
        }
        let mut dims = Vec::new();
        loop {
            if let Some(re) = self.parse_regex()? {
                dims.push(Dimension::Regex(re));
            } else {
                let e = self.parse_expr()?;
                self.consume_whitespace();
                dims.push(dimension(e));
            }
            if self.scan().tok != Tok::Comma {
                self.unscan();
                return Ok(dims);
            }
        }
    }

    /// `fill(…)`, when the next token is the identifier `fill`.
    fn parse_fill(&mut self) -> Result<Option<Fill>, ParseError> {
        let Some(args) = self.parse_clause_call("fill", "fill must be a function call")? else {
            return Ok(None);
        };
        let [arg] = args.as_slice() else {
            return Err(invalid(
                "fill requires an argument, e.g.: 0, null, none, previous, linear",
            ));
        };
        Ok(Some(match arg {
            Expr::VarRef {
                name,
                data_type: None,
            } if name == "null" => Fill::Null,
            Expr::VarRef {
                name,
                data_type: None,
            } if name == "none" => Fill::None,
            Expr::VarRef {
                name,
                data_type: None,
            } if name == "previous" => Fill::Previous,
            Expr::VarRef {
                name,
                data_type: None,
            } if name == "linear" => Fill::Linear,
            Expr::Integer(v) => Fill::Integer(*v),
            Expr::Float(v) => Fill::Float(*v),
            _ => return Err(invalid("expected number argument in fill()")),
        }))
    }

    /// `tz('…')`, when the next token is the identifier `tz`.
    fn parse_tz(&mut self) -> Result<Option<String>, ParseError> {
        let Some(args) = self.parse_clause_call("tz", "tz must be a function call")? else {
            return Ok(None);
        };
        let [arg] = args.as_slice() else {
            return Err(invalid("tz requires exactly one argument"));
        };
        let Expr::String(name) = arg else {
            return Err(invalid("expected string argument in tz()"));
        };
        if name.parse::<chrono_tz::Tz>().is_err() {
            return Err(invalid(&format!("unable to find time zone {name}")));
        }
        Ok(Some(name.clone()))
    }

    /// When the next token is the identifier `name` (any case): the arguments of the call
    /// expression there; `not_call` when the expression is not a call.
    fn parse_clause_call(
        &mut self,
        name: &str,
        not_call: &str,
    ) -> Result<Option<Vec<Expr>>, ParseError> {
        let t = self.scan_ws();
        self.unscan();
        if t.tok != Tok::Ident || !t.lit.eq_ignore_ascii_case(name) {
            return Ok(None);
        }
        match self.parse_expr()? {
            Expr::Call { args, .. } => Ok(Some(args)),
            _ => Err(invalid(not_call)),
        }
    }

    /// `ORDER BY time [ASC|DESC]` or `ORDER BY ASC|DESC`.
    pub(super) fn parse_order_by(&mut self) -> Result<Option<SortOrder>, ParseError> {
        const ONLY_TIME: &str = "only ORDER BY time supported at this time";
        if !self.eat_kw("ORDER") {
            return Ok(None);
        }
        let t = self.scan_ws();
        if !t.is_kw("BY") {
            return Err(self.unexpected(&t, &["BY"]));
        }
        let t = self.scan_ws();
        let order = if t.is_kw("ASC") {
            SortOrder::Asc
        } else if t.is_kw("DESC") {
            SortOrder::Desc
        } else if t.tok == Tok::Ident {
            self.unscan();
            let (name, order) = self.parse_sort_field()?;
            if name != "time" {
                return Err(invalid(ONLY_TIME));
            }
            order
        } else {
            return Err(self.unexpected(&t, &["identifier", "ASC", "DESC"]));
        };
        let mut more = false;
        while self.scan_ws().tok == Tok::Comma {
            self.parse_sort_field()?;
            more = true;
        }
        self.unscan();
        if more {
            return Err(invalid(ONLY_TIME));
        }
        Ok(Some(order))
    }

    fn parse_sort_field(&mut self) -> Result<(String, SortOrder), ParseError> {
        let name = self.parse_ident()?;
        let t = self.scan_ws();
        let order = if t.is_kw("DESC") {
            SortOrder::Desc
        } else {
            if !t.is_kw("ASC") {
                self.unscan();
            }
            SortOrder::Asc
        };
        Ok((name, order))
    }

    /// `KEYWORD n` when the next token is `kw`.
    pub(super) fn parse_optional_int(&mut self, kw: &str) -> Result<Option<u64>, ParseError> {
        if !self.eat_kw(kw) {
            return Ok(None);
        }
        let t = self.scan_ws();
        if t.tok != Tok::Integer {
            return Err(self.unexpected(&t, &["integer"]));
        }
        // InfluxDB reads a too-large value as the largest int64.
        let n = t.lit.parse::<i64>().unwrap_or(i64::MAX);
        Ok(Some(n.unsigned_abs()))
    }

    fn parse_fields(&mut self) -> Result<Vec<Field>, ParseError> {
        let mut fields = Vec::new();
        loop {
            fields.push(self.parse_field()?);
            if self.scan().tok != Tok::Comma {
                self.unscan();
                return Ok(fields);
            }
        }
    }

    fn parse_field(&mut self) -> Result<Field, ParseError> {
        let expr = if let Some(re) = self.parse_regex()? {
            Expr::Regex(re)
        } else {
            let start = self.scan_ws();
            self.unscan();
            let expr = self.parse_expr()?;
            if let Some(op) = last_boolean_op(&expr) {
                let (line, char) = self.line_char(start.at);
                let message = format!(
                    "invalid operator {} in SELECT clause at line {line}, char {char}; operator is intended for WHERE clause",
                    op.as_str()
                );
                return Err(ParseError::Invalid { message });
            }
            expr
        };
        let alias = if self.eat_kw("AS") {
            Some(self.parse_ident()?)
        } else {
            None
        };
        self.consume_whitespace();
        Ok(Field { expr, alias })
    }
}

/// What a GROUP BY expression means.
fn dimension(e: Expr) -> Dimension {
    match e {
        Expr::Call { name, args } if name == "time" => match args.as_slice() {
            [Expr::Duration(i)] => Dimension::Time {
                interval: i.clone(),
                offset: None,
            },
            [Expr::Duration(i), Expr::Duration(o)] => Dimension::Time {
                interval: i.clone(),
                offset: Some(o.clone()),
            },
            _ => Dimension::Other(Expr::Call { name, args }),
        },
        Expr::VarRef { name, .. } => Dimension::Tag(name),
        Expr::Wildcard(_) => Dimension::Wildcard,
        other => Dimension::Other(other),
    }
}

/// The comparison or logical operator InfluxDB reports for a SELECT item: its walk visits
/// nodes depth-first and does not descend below one, so the last one found wins.
fn last_boolean_op(e: &Expr) -> Option<BinaryOp> {
    let mut found = None;
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match e {
            Expr::Binary { op, .. } if op.is_boolean() => found = Some(*op),
            Expr::Binary { lhs, rhs, .. } => {
                stack.push(rhs);
                stack.push(lhs);
            }
            Expr::Paren(inner) => stack.push(inner),
            Expr::Call { args, .. } => stack.extend(args.iter().rev()),
            _ => {}
        }
    }
    found
}
