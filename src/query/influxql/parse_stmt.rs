//! InfluxQL statements: SELECT and its clauses, SHOW, CREATE DATABASE, and the statements
//! sluice recognises only to refuse them.
//!
//! Owns: statement dispatch (with InfluxDB's lists of expected keywords), the SELECT clauses
//! in InfluxDB's order, the SHOW forms, `CREATE DATABASE … WITH …`.
//! Does not own: tokens and expressions (`parser`).

use super::ast::{
    CreateDatabase, Dimension, DurationLit, Expr, Fill, IntoTarget, Measurement, MeasurementName,
    RetentionSpec, SelectStatement, ShowFieldKeys, ShowMeasurements, ShowRetentionPolicies,
    ShowSeries, ShowTagKeys, ShowTagValues, SortOrder, Source, Statement, TagKeyFilter,
};
use super::lexer::{Tok, Token};
use super::literal::parse_duration;
use super::parser::{MAX_NESTING, ParseError, Parser};

const ROOT: &[&str] = &[
    "SELECT", "DELETE", "SHOW", "CREATE", "DROP", "EXPLAIN", "GRANT", "REVOKE", "ALTER", "SET",
    "KILL",
];
const SHOW: &[&str] = &[
    "CONTINUOUS",
    "DATABASES",
    "DIAGNOSTICS",
    "FIELD",
    "GRANTS",
    "MEASUREMENT",
    "MEASUREMENTS",
    "QUERIES",
    "RETENTION",
    "SERIES",
    "SHARD",
    "SHARDS",
    "STATS",
    "SUBSCRIPTIONS",
    "TAG",
    "USERS",
];
const CREATE: &[&str] = &[
    "CONTINUOUS",
    "DATABASE",
    "USER",
    "RETENTION",
    "SUBSCRIPTION",
];
const DROP: &[&str] = &[
    "CONTINUOUS",
    "DATABASE",
    "MEASUREMENT",
    "RETENTION",
    "SERIES",
    "SHARD",
    "SUBSCRIPTION",
    "USER",
];
const CARDINALITY: &[&str] = &["EXACT", "CARDINALITY"];

fn invalid(message: &str) -> ParseError {
    ParseError::Invalid {
        message: message.to_owned(),
    }
}

impl Parser<'_> {
    /// The next keyword, which must be one of `keys` (else InfluxDB's "expected" list).
    fn one_of(&mut self, keys: &[&'static str]) -> Result<&'static str, ParseError> {
        let t = self.scan_ws();
        match keys.iter().find(|k| t.is_kw(k)) {
            Some(k) => Ok(k),
            None => Err(self.unexpected(&t, keys)),
        }
    }

    pub(super) fn parse_statement(&mut self) -> Result<Statement, ParseError> {
        let first = self.scan_ws();
        let Some(kw) = ROOT.iter().find(|k| first.is_kw(k)).copied() else {
            return Err(self.unexpected(&first, ROOT));
        };
        let mut path = vec![kw];
        match kw {
            "SELECT" => return Ok(Statement::Select(Box::new(self.parse_select()?))),
            "SHOW" => return self.parse_show(&first),
            "CREATE" => {
                let k = self.one_of(CREATE)?;
                path.push(k);
                match k {
                    "DATABASE" => return self.parse_create_database(),
                    "CONTINUOUS" => path.push(self.one_of(&["QUERY"])?),
                    "RETENTION" => path.push(self.one_of(&["POLICY"])?),
                    _ => {}
                }
            }
            "DROP" => {
                let k = self.one_of(DROP)?;
                path.push(k);
                match k {
                    "CONTINUOUS" => path.push(self.one_of(&["QUERY"])?),
                    "RETENTION" => path.push(self.one_of(&["POLICY"])?),
                    _ => {}
                }
            }
            "ALTER" => {
                path.push(self.one_of(&["RETENTION"])?);
                path.push(self.one_of(&["POLICY"])?);
            }
            "SET" => {
                path.push(self.one_of(&["PASSWORD"])?);
                path.push(self.one_of(&["FOR"])?);
            }
            "KILL" => path.push(self.one_of(&["QUERY"])?),
            _ => {}
        }
        Ok(self.unsupported(&first, &path))
    }

    /// Skips to the end of the statement (a `;` or the end) and names what it was.
    fn unsupported(&mut self, first: &Token, path: &[&str]) -> Statement {
        let mut end = self.last_end().max(first.end);
        loop {
            if self.at_regex() {
                let t = self.scan_regex_token();
                end = t.end;
                continue;
            }
            let t = self.scan();
            match t.tok {
                Tok::Semicolon | Tok::Eof => {
                    self.unscan();
                    break;
                }
                Tok::Ws | Tok::Comment => {}
                _ => end = t.end,
            }
        }
        let text = self.src()[first.at.offset..end].trim().to_owned();
        Statement::Unsupported {
            name: path.join(" "),
            text,
        }
    }

    fn parse_show(&mut self, first: &Token) -> Result<Statement, ParseError> {
        let k = self.one_of(SHOW)?;
        let mut path = vec!["SHOW", k];
        match k {
            "DATABASES" => return Ok(Statement::ShowDatabases),
            "MEASUREMENTS" => return self.parse_show_measurements(),
            "RETENTION" => {
                self.one_of(&["POLICIES"])?;
                let database = if self.eat_kw("ON") {
                    Some(self.parse_ident()?)
                } else {
                    None
                };
                return Ok(Statement::ShowRetentionPolicies(ShowRetentionPolicies {
                    database,
                }));
            }
            "SERIES" => {
                let exact = self.eat_kw("EXACT");
                if self.eat_kw("CARDINALITY") {
                    path.extend(if exact {
                        &["EXACT", "CARDINALITY"][..]
                    } else {
                        &["CARDINALITY"]
                    });
                    return Ok(self.unsupported(first, &path));
                }
                return self.parse_show_series();
            }
            "FIELD" | "TAG" => {
                let keys: &[&'static str] = if k == "FIELD" {
                    &["KEY", "KEYS"]
                } else {
                    &["KEY", "KEYS", "VALUES"]
                };
                let sub = self.one_of(keys)?;
                path.push(sub);
                match (k, sub) {
                    ("FIELD", "KEYS") => return self.parse_show_field_keys(),
                    ("TAG", "KEYS") => return self.parse_show_tag_keys(),
                    ("TAG", "VALUES") => {
                        if self.eat_kw("EXACT") {
                            path.push("EXACT");
                            path.push(self.one_of(&["CARDINALITY"])?);
                            return Ok(self.unsupported(first, &path));
                        }
                        if self.eat_kw("CARDINALITY") {
                            path.push("CARDINALITY");
                            return Ok(self.unsupported(first, &path));
                        }
                        return self.parse_show_tag_values();
                    }
                    _ => self.cardinality(&mut path)?,
                }
            }
            "MEASUREMENT" => self.cardinality(&mut path)?,
            "CONTINUOUS" => path.push(self.one_of(&["QUERIES"])?),
            "GRANTS" => path.push(self.one_of(&["FOR"])?),
            "SHARD" => path.push(self.one_of(&["GROUPS"])?),
            _ => {}
        }
        Ok(self.unsupported(first, &path))
    }

    /// `[EXACT] CARDINALITY` after `SHOW TAG KEY`, `SHOW FIELD KEY`, `SHOW MEASUREMENT`.
    fn cardinality(&mut self, path: &mut Vec<&'static str>) -> Result<(), ParseError> {
        let k = self.one_of(CARDINALITY)?;
        path.push(k);
        if k == "EXACT" {
            path.push(self.one_of(&["CARDINALITY"])?);
        }
        Ok(())
    }

    fn parse_on(&mut self) -> Result<Option<String>, ParseError> {
        Ok(if self.eat_kw("ON") {
            Some(self.parse_ident()?)
        } else {
            None
        })
    }

    fn parse_from(&mut self) -> Result<Vec<Source>, ParseError> {
        Ok(if self.eat_kw("FROM") {
            self.parse_sources(false)?
        } else {
            Vec::new()
        })
    }

    fn parse_show_measurements(&mut self) -> Result<Statement, ParseError> {
        let database = self.parse_on()?;
        let mut with_measurement = None;
        if self.eat_kw("WITH") {
            self.expect(&["MEASUREMENT"])?;
            let t = self.scan_ws();
            if !matches!(t.tok, Tok::Eq | Tok::EqRegex) {
                return Err(self.unexpected(&t, &["=", "=~"]));
            }
            if let Source::Measurement(m) = self.parse_source(false)? {
                with_measurement = Some(m);
            }
        }
        Ok(Statement::ShowMeasurements(ShowMeasurements {
            database,
            with_measurement,
            condition: self.parse_condition()?,
            order_by: self.parse_order_by()?,
            limit: self.parse_optional_int("LIMIT")?,
            offset: self.parse_optional_int("OFFSET")?,
        }))
    }

    fn parse_show_tag_keys(&mut self) -> Result<Statement, ParseError> {
        Ok(Statement::ShowTagKeys(ShowTagKeys {
            database: self.parse_on()?,
            sources: self.parse_from()?,
            condition: self.parse_condition()?,
            order_by: self.parse_order_by()?,
            limit: self.parse_optional_int("LIMIT")?,
            offset: self.parse_optional_int("OFFSET")?,
            slimit: self.parse_optional_int("SLIMIT")?,
            soffset: self.parse_optional_int("SOFFSET")?,
        }))
    }

    fn parse_show_tag_values(&mut self) -> Result<Statement, ParseError> {
        Ok(Statement::ShowTagValues(ShowTagValues {
            database: self.parse_on()?,
            sources: self.parse_from()?,
            key: self.parse_tag_key_filter()?,
            condition: self.parse_condition()?,
            order_by: self.parse_order_by()?,
            limit: self.parse_optional_int("LIMIT")?,
            offset: self.parse_optional_int("OFFSET")?,
        }))
    }

    /// `WITH KEY (= k | != k | =~ /re/ | !~ /re/ | IN (k, …))`.
    fn parse_tag_key_filter(&mut self) -> Result<TagKeyFilter, ParseError> {
        self.expect(&["WITH", "KEY"])?;
        let t = self.scan_ws();
        match t.tok {
            Tok::Keyword if t.kw == "IN" => {
                let open = self.scan_ws();
                if open.tok != Tok::LParen {
                    return Err(self.unexpected(&open, &["("]));
                }
                let keys = self.parse_ident_list()?;
                let close = self.scan_ws();
                if close.tok != Tok::RParen {
                    return Err(self.unexpected(&close, &[")"]));
                }
                Ok(TagKeyFilter::In(keys))
            }
            Tok::Eq => Ok(TagKeyFilter::Eq(self.parse_ident()?)),
            Tok::Neq => Ok(TagKeyFilter::Neq(self.parse_ident()?)),
            Tok::EqRegex | Tok::NeqRegex => {
                let Some(re) = self.parse_regex()? else {
                    let t = self.scan_ws();
                    return Err(self.unexpected(&t, &["regex"]));
                };
                Ok(if t.tok == Tok::EqRegex {
                    TagKeyFilter::EqRegex(re)
                } else {
                    TagKeyFilter::NeqRegex(re)
                })
            }
            _ => Err(self.unexpected(&t, &["IN", "=", "=~"])),
        }
    }

    fn parse_show_field_keys(&mut self) -> Result<Statement, ParseError> {
        Ok(Statement::ShowFieldKeys(ShowFieldKeys {
            database: self.parse_on()?,
            sources: self.parse_from()?,
            order_by: self.parse_order_by()?,
            limit: self.parse_optional_int("LIMIT")?,
            offset: self.parse_optional_int("OFFSET")?,
        }))
    }

    fn parse_show_series(&mut self) -> Result<Statement, ParseError> {
        Ok(Statement::ShowSeries(ShowSeries {
            database: self.parse_on()?,
            sources: self.parse_from()?,
            condition: self.parse_condition()?,
            order_by: self.parse_order_by()?,
            limit: self.parse_optional_int("LIMIT")?,
            offset: self.parse_optional_int("OFFSET")?,
        }))
    }

    fn parse_create_database(&mut self) -> Result<Statement, ParseError> {
        let name = self.parse_ident()?;
        let mut retention = None;
        if self.eat_kw("WITH") {
            const KEYS: &[&str] = &["DURATION", "NAME", "REPLICATION", "SHARD"];
            let t = self.scan_ws();
            if !KEYS.iter().any(|k| t.is_kw(k)) {
                return Err(self.unexpected(&t, KEYS));
            }
            self.unscan();
            let mut spec = RetentionSpec::default();
            if self.eat_kw("DURATION") {
                spec.duration = Some(self.parse_duration_value()?);
            }
            if self.eat_kw("REPLICATION") {
                spec.replication = Some(self.parse_int_in(1, i64::from(i32::MAX))?);
            }
            if self.eat_kw("SHARD") {
                self.expect(&["DURATION"])?;
                spec.shard_duration = Some(self.parse_duration_value()?);
            }
            if self.eat_kw("NAME") {
                spec.name = Some(self.parse_ident()?);
            }
            retention = Some(spec);
        }
        Ok(Statement::CreateDatabase(CreateDatabase {
            name,
            retention,
        }))
    }

    /// A duration token or `INF` (0).
    fn parse_duration_value(&mut self) -> Result<DurationLit, ParseError> {
        let t = self.scan_ws();
        if t.is_kw("INF") {
            return Ok(DurationLit {
                nanos: 0,
                text: "INF".to_owned(),
            });
        }
        if t.tok != Tok::Duration {
            return Err(self.unexpected(&t, &["duration"]));
        }
        match parse_duration(&t.lit) {
            Ok(nanos) => Ok(DurationLit { nanos, text: t.lit }),
            Err(e) => Err(self.error_at(e.to_string(), t.at)),
        }
    }

    fn parse_int_in(&mut self, min: i64, max: i64) -> Result<u32, ParseError> {
        let t = self.scan_ws();
        if t.tok != Tok::Integer {
            return Err(self.unexpected(&t, &["integer"]));
        }
        let Ok(n) = t.lit.parse::<i64>() else {
            let message = format!("strconv.Atoi: parsing \"{}\": value out of range", t.lit);
            return Err(self.error_at(message, t.at));
        };
        match u32::try_from(n) {
            Ok(v) if (min..=max).contains(&n) => Ok(v),
            _ => Err(self.error_at(
                format!("invalid value {n}: must be {min} <= n <= {max}"),
                t.at,
            )),
        }
    }

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

    fn parse_source(&mut self, subqueries: bool) -> Result<Source, ParseError> {
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

    fn parse_condition(&mut self) -> Result<Option<Expr>, ParseError> {
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
    fn parse_order_by(&mut self) -> Result<Option<SortOrder>, ParseError> {
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
    fn parse_optional_int(&mut self, kw: &str) -> Result<Option<u64>, ParseError> {
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

    fn parse_fields(&mut self) -> Result<Vec<super::ast::Field>, ParseError> {
        let mut fields = Vec::new();
        loop {
            fields.push(self.parse_field()?);
            if self.scan().tok != Tok::Comma {
                self.unscan();
                return Ok(fields);
            }
        }
    }

    fn parse_field(&mut self) -> Result<super::ast::Field, ParseError> {
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
        Ok(super::ast::Field { expr, alias })
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
fn last_boolean_op(e: &Expr) -> Option<super::ast::BinaryOp> {
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

impl Parser<'_> {
    /// Is the next character a `/` that starts a regex (not a `/*` comment)? Only when no
    /// token is pushed back.
    fn at_regex(&mut self) -> bool {
        let rest = self.rest();
        rest.starts_with('/') && !rest.starts_with("/*") && self.nothing_unread()
    }
}
