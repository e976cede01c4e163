//! Canonical InfluxQL text for the AST: `Display` for `Query`, `Statement`, `Expr` and their
//! parts. What it prints parses back to the same tree (`parse(print(ast)) == ast`; proptest in
//! `tests_roundtrip`).
//!
//! Owns: quoting identifiers (`quote_ident`), strings and regexes; where spaces go (the grammar
//! is whitespace-sensitive in places: `mean(`, `x::tag`, `DISTINCT x`, `/re/,`).
//! Does not own: parsing.

use std::fmt::{self, Display, Formatter, Write};

use super::ast::{
    BinaryOp, CreateDatabase, Dimension, Expr, Field, Fill, IntoTarget, Measurement,
    MeasurementName, Query, RegexLit, SelectStatement, SortOrder, Source, Statement, TagKeyFilter,
    WildcardKind,
};
use super::lexer::keyword;

/// Does `ident` need double quotes (keyword, empty, or a character outside `[A-Za-z0-9_]`,
/// or a leading digit)?
pub fn ident_needs_quotes(ident: &str) -> bool {
    let mut chars = ident.chars();
    let Some(first) = chars.next() else {
        return true;
    };
    !(first.is_ascii_alphabetic() || first == '_')
        || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        || keyword(ident).is_some()
        || ["and", "or", "true", "false"]
            .iter()
            .any(|k| k.eq_ignore_ascii_case(ident))
}

/// An identifier as InfluxQL writes it: bare when it can be, else `"…"` with `\"`, `\\` and
/// `\n` escaped.
pub fn quote_ident(ident: &str) -> String {
    if ident_needs_quotes(ident) {
        quoted(ident, '"')
    } else {
        ident.to_owned()
    }
}

fn quoted(s: &str, quote: char) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// A string literal: `'…'` with `\'`, `\\` and `\n` escaped.
pub fn quote_string(s: &str) -> String {
    quoted(s, '\'')
}

/// Dotted segments as InfluxDB quotes them in messages (`"a"."b"."c".d`).
pub fn quote_segments(segments: &[String]) -> String {
    let last = segments.len().saturating_sub(1);
    let mut out = String::new();
    for (i, s) in segments.iter().enumerate() {
        let quote = (ident_needs_quotes(s) && !s.is_empty())
            || (i < last && !s.is_empty())
            || ((i == 0 || i == last) && s.is_empty());
        if quote {
            out.push_str(&quoted(s, '"'));
        } else {
            out.push_str(s);
        }
        if i < last {
            out.push('.');
        }
    }
    out
}

impl Display for RegexLit {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_char('/')?;
        for c in self.pattern.chars() {
            if c == '/' {
                f.write_char('\\')?;
            }
            f.write_char(c)?;
        }
        f.write_char('/')
    }
}

fn write_float(f: &mut Formatter<'_>, v: f64) -> fmt::Result {
    let s = v.to_string();
    f.write_str(&s)?;
    if !s.contains('.') {
        f.write_str(".0")?;
    }
    Ok(())
}

fn write_list<T: Display>(f: &mut Formatter<'_>, items: &[T]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::VarRef { name, data_type } => {
                f.write_str(&quote_ident(name))?;
                if let Some(t) = data_type {
                    write!(f, "::{}", t.as_str())?;
                }
                Ok(())
            }
            Expr::Wildcard(None) => f.write_str("*"),
            Expr::Wildcard(Some(WildcardKind::Field)) => f.write_str("*::field"),
            Expr::Wildcard(Some(WildcardKind::Tag)) => f.write_str("*::tag"),
            Expr::Call { name, args } => {
                if name == "distinct" {
                    f.write_str(name)?;
                } else {
                    f.write_str(&quote_ident(name))?;
                }
                f.write_char('(')?;
                write_list(f, args)?;
                f.write_char(')')
            }
            Expr::Distinct(name) => write!(f, "DISTINCT {}", quote_ident(name)),
            Expr::Binary {
                op: BinaryOp::Mul,
                lhs,
                rhs,
            } if matches!(**lhs, Expr::Integer(-1) | Expr::Integer(1))
                && matches!(
                    **rhs,
                    Expr::VarRef { .. } | Expr::Call { .. } | Expr::Paren(_)
                ) =>
            {
                // What the parser makes of a unary sign before a variable, call or parenthesis.
                let sign = if matches!(**lhs, Expr::Integer(-1)) {
                    '-'
                } else {
                    '+'
                };
                write!(f, "{sign}{rhs}")
            }
            Expr::Binary { op, lhs, rhs } => write!(f, "{lhs} {} {rhs}", op.as_str()),
            Expr::Paren(inner) => write!(f, "({inner})"),
            Expr::Integer(v) => write!(f, "{v}"),
            Expr::Unsigned(v) => write!(f, "{v}"),
            Expr::Float(v) => write_float(f, *v),
            Expr::String(s) => f.write_str(&quote_string(s)),
            Expr::Boolean(b) => f.write_str(if *b { "true" } else { "false" }),
            Expr::Duration(d) => f.write_str(&d.text),
            Expr::Regex(re) => write!(f, "{re}"),
        }
    }
}

impl Display for Field {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.expr)?;
        if let Some(alias) = &self.alias {
            write!(f, " AS {}", quote_ident(alias))?;
        }
        Ok(())
    }
}

/// `db.rp.` / `db..` / `rp.` before a name or regex.
fn write_prefix(f: &mut Formatter<'_>, db: &Option<String>, rp: &Option<String>) -> fmt::Result {
    if let Some(db) = db {
        write!(f, "{}.", quote_ident(db))?;
        if rp.is_none() {
            f.write_char('.')?;
        }
    }
    if let Some(rp) = rp {
        write!(f, "{}.", quote_ident(rp))?;
    }
    Ok(())
}

impl Display for Measurement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_prefix(f, &self.database, &self.retention_policy)?;
        match &self.name {
            MeasurementName::Name(n) => f.write_str(&quote_ident(n)),
            MeasurementName::Regex(re) => write!(f, "{re}"),
        }
    }
}

impl Display for Source {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Source::Measurement(m) => write!(f, "{m}"),
            Source::Subquery(s) => write!(f, "({s})"),
        }
    }
}

impl Display for IntoTarget {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_prefix(f, &self.database, &self.retention_policy)?;
        match &self.measurement {
            Some(m) => f.write_str(&quote_ident(m)),
            None => f.write_str(":MEASUREMENT"),
        }
    }
}

impl Display for Dimension {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Dimension::Time {
                interval,
                offset: None,
            } => write!(f, "time({})", interval.text),
            Dimension::Time {
                interval,
                offset: Some(o),
            } => {
                write!(f, "time({}, {})", interval.text, o.text)
            }
            Dimension::Tag(name) => f.write_str(&quote_ident(name)),
            Dimension::Wildcard => f.write_str("*"),
            Dimension::Regex(re) => write!(f, "{re}"),
            Dimension::Other(e) => write!(f, "{e}"),
        }
    }
}

impl Display for Fill {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("fill(")?;
        match self {
            Fill::Null => f.write_str("null")?,
            Fill::None => f.write_str("none")?,
            Fill::Previous => f.write_str("previous")?,
            Fill::Linear => f.write_str("linear")?,
            Fill::Integer(v) => write!(f, "{v}")?,
            Fill::Float(v) => write_float(f, *v)?,
        }
        f.write_char(')')
    }
}

fn write_tail(
    f: &mut Formatter<'_>,
    order_by: Option<SortOrder>,
    limits: &[(&str, Option<u64>)],
) -> fmt::Result {
    match order_by {
        Some(SortOrder::Asc) => f.write_str(" ORDER BY time ASC")?,
        Some(SortOrder::Desc) => f.write_str(" ORDER BY time DESC")?,
        None => {}
    }
    for (kw, v) in limits {
        if let Some(v) = v {
            write!(f, " {kw} {v}")?;
        }
    }
    Ok(())
}

fn write_opt<T: Display>(f: &mut Formatter<'_>, kw: &str, v: &Option<T>) -> fmt::Result {
    match v {
        Some(v) => write!(f, " {kw} {v}"),
        None => Ok(()),
    }
}

fn write_on(f: &mut Formatter<'_>, db: &Option<String>) -> fmt::Result {
    write_opt(f, "ON", &db.as_deref().map(quote_ident))
}

fn write_from(f: &mut Formatter<'_>, sources: &[Source]) -> fmt::Result {
    if !sources.is_empty() {
        f.write_str(" FROM ")?;
        write_list(f, sources)?;
    }
    Ok(())
}

impl Display for SelectStatement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("SELECT ")?;
        write_list(f, &self.fields)?;
        write_opt(f, "INTO", &self.into)?;
        f.write_str(" FROM ")?;
        write_list(f, &self.sources)?;
        write_opt(f, "WHERE", &self.condition)?;
        if !self.group_by.is_empty() {
            f.write_str(" GROUP BY ")?;
            write_list(f, &self.group_by)?;
        }
        if let Some(fill) = &self.fill {
            write!(f, " {fill}")?;
        }
        write_tail(
            f,
            self.order_by,
            &[
                ("LIMIT", self.limit),
                ("OFFSET", self.offset),
                ("SLIMIT", self.slimit),
                ("SOFFSET", self.soffset),
            ],
        )?;
        if let Some(tz) = &self.tz {
            write!(f, " tz({})", quote_string(tz))?;
        }
        Ok(())
    }
}

impl Display for TagKeyFilter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            TagKeyFilter::Eq(k) => write!(f, "= {}", quote_ident(k)),
            TagKeyFilter::Neq(k) => write!(f, "!= {}", quote_ident(k)),
            TagKeyFilter::EqRegex(re) => write!(f, "=~ {re}"),
            TagKeyFilter::NeqRegex(re) => write!(f, "!~ {re}"),
            TagKeyFilter::In(keys) => {
                let keys: Vec<String> = keys.iter().map(|k| quote_ident(k)).collect();
                write!(f, "IN ({})", keys.join(", "))
            }
        }
    }
}

impl Display for CreateDatabase {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "CREATE DATABASE {}", quote_ident(&self.name))?;
        if let Some(rp) = &self.retention {
            f.write_str(" WITH")?;
            write_opt(f, "DURATION", &rp.duration.as_ref().map(|d| &d.text))?;
            write_opt(f, "REPLICATION", &rp.replication)?;
            write_opt(
                f,
                "SHARD DURATION",
                &rp.shard_duration.as_ref().map(|d| &d.text),
            )?;
            write_opt(f, "NAME", &rp.name.as_deref().map(quote_ident))?;
        }
        Ok(())
    }
}

impl Display for Statement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Statement::Select(s) => write!(f, "{s}"),
            Statement::ShowDatabases => f.write_str("SHOW DATABASES"),
            Statement::ShowMeasurements(s) => {
                f.write_str("SHOW MEASUREMENTS")?;
                write_on(f, &s.database)?;
                if let Some(m) = &s.with_measurement {
                    let op = if matches!(m.name, MeasurementName::Regex(_)) {
                        "=~"
                    } else {
                        "="
                    };
                    write!(f, " WITH MEASUREMENT {op} {m}")?;
                }
                write_opt(f, "WHERE", &s.condition)?;
                write_tail(f, s.order_by, &[("LIMIT", s.limit), ("OFFSET", s.offset)])
            }
            Statement::ShowTagKeys(s) => {
                f.write_str("SHOW TAG KEYS")?;
                write_on(f, &s.database)?;
                write_from(f, &s.sources)?;
                write_opt(f, "WHERE", &s.condition)?;
                let limits = [
                    ("LIMIT", s.limit),
                    ("OFFSET", s.offset),
                    ("SLIMIT", s.slimit),
                    ("SOFFSET", s.soffset),
                ];
                write_tail(f, s.order_by, &limits)
            }
            Statement::ShowTagValues(s) => {
                f.write_str("SHOW TAG VALUES")?;
                write_on(f, &s.database)?;
                write_from(f, &s.sources)?;
                write!(f, " WITH KEY {}", s.key)?;
                write_opt(f, "WHERE", &s.condition)?;
                write_tail(f, s.order_by, &[("LIMIT", s.limit), ("OFFSET", s.offset)])
            }
            Statement::ShowFieldKeys(s) => {
                f.write_str("SHOW FIELD KEYS")?;
                write_on(f, &s.database)?;
                write_from(f, &s.sources)?;
                write_tail(f, s.order_by, &[("LIMIT", s.limit), ("OFFSET", s.offset)])
            }
            Statement::ShowRetentionPolicies(s) => {
                f.write_str("SHOW RETENTION POLICIES")?;
                write_on(f, &s.database)
            }
            Statement::ShowSeries(s) => {
                f.write_str("SHOW SERIES")?;
                write_on(f, &s.database)?;
                write_from(f, &s.sources)?;
                write_opt(f, "WHERE", &s.condition)?;
                write_tail(f, s.order_by, &[("LIMIT", s.limit), ("OFFSET", s.offset)])
            }
            Statement::CreateDatabase(c) => write!(f, "{c}"),
            Statement::Unsupported { text, .. } => f.write_str(text),
        }
    }
}

impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, s) in self.statements.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}
