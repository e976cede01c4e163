//! InfluxQL statements: SELECT and its clauses, SHOW, CREATE DATABASE, and the statements
//! sluice recognises only to refuse them.
//!
//! Owns: statement dispatch (with InfluxDB's lists of expected keywords), the SHOW forms,
//! `CREATE DATABASE … WITH …`, skipping unsupported statements.
//! Does not own: SELECT and the clauses SHOW shares with it (`parse_select`), expressions.

use super::ast::{
    CreateDatabase, DurationLit, RetentionSpec, ShowFieldKeys, ShowMeasurements,
    ShowRetentionPolicies, ShowSeries, ShowTagKeys, ShowTagValues, Source, Statement, TagKeyFilter,
};
use super::lexer::{Tok, Token};
use super::literal::parse_duration;
use super::parser::{ParseError, Parser};

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
            // The diagnostics statements are short: parsed whole, so that what follows them
            // is checked as InfluxDB checks it.
            "CONTINUOUS" => {
                path.push(self.one_of(&["QUERIES"])?);
                return Ok(self.named(first, &path));
            }
            "SHARD" => {
                path.push(self.one_of(&["GROUPS"])?);
                return Ok(self.named(first, &path));
            }
            "GRANTS" => {
                path.push(self.one_of(&["FOR"])?);
                self.parse_ident()?;
                return Ok(self.named(first, &path));
            }
            "STATS" | "DIAGNOSTICS" => {
                if self.eat_kw("FOR") {
                    let t = self.scan_ws();
                    if t.tok != Tok::Str {
                        return Err(self.unexpected(&t, &["string"]));
                    }
                }
                return Ok(self.named(first, &path));
            }
            "QUERIES" | "SHARDS" | "SUBSCRIPTIONS" | "USERS" => return Ok(self.named(first, &path)),
            _ => {}
        }
        Ok(self.unsupported(first, &path))
    }

    /// An unsupported statement parsed to its end.
    fn named(&mut self, first: &Token, path: &[&str]) -> Statement {
        let end = self.last_end().max(first.end);
        Statement::Unsupported {
            name: path.join(" "),
            text: self.src()[first.at.offset..end].trim().to_owned(),
        }
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
}

impl Parser<'_> {
    /// Is the next character a `/` that starts a regex (not a `/*` comment)? Only when no
    /// token is pushed back.
    fn at_regex(&mut self) -> bool {
        let rest = self.rest();
        rest.starts_with('/') && !rest.starts_with("/*") && self.nothing_unread()
    }
}
