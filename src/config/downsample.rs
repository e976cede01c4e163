//! `[[downsample]]`: streaming rollup rules, their defaults and their rules.
//!
//! Owns: the rule's keys (`name`, `tenant`, `from = { bucket, measurements, fields }`, `every`,
//! `offset`, `aggregates`, `group_by`, `to = { bucket }`, `grace`, `late_window`), their
//! defaults and every check (errors name `downsample[i].key` and the line). Does not own what
//! a rule does (`downsample`).

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::units::HumanDuration;
use super::validate::invalid;
use super::{ConfigError, TenantConfig};
use crate::model::{BucketName, TenantId};

/// The shortest and longest `every`.
pub const MIN_EVERY: Duration = Duration::from_secs(60);
pub const MAX_EVERY: Duration = Duration::from_secs(86_400);
/// Default `grace`.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(60);

/// One aggregate of a rule; the output field is `<field>_<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Aggregate {
    Mean,
    Min,
    Max,
    Sum,
    Count,
    First,
    Last,
    /// Per-second rate of a monotone counter (wrap- and reset-aware).
    Rate,
}

impl Aggregate {
    pub const ALL: [Aggregate; 8] = [
        Self::Mean,
        Self::Min,
        Self::Max,
        Self::Sum,
        Self::Count,
        Self::First,
        Self::Last,
        Self::Rate,
    ];

    /// The config name, also the output field's suffix.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mean => "mean",
            Self::Min => "min",
            Self::Max => "max",
            Self::Sum => "sum",
            Self::Count => "count",
            Self::First => "first",
            Self::Last => "last",
            Self::Rate => "rate",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == s)
    }
}

/// A validated `[[downsample]]` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownsampleRule {
    /// `name`; default `<to.bucket>#<n>` (n counts the rules with that target, from 1).
    pub name: String,
    /// `tenant`: `None` is `"*"` (every tenant).
    pub tenant: Option<TenantId>,
    pub from_bucket: BucketName,
    /// Measurement names or globs (`*`, `?`); default every measurement.
    pub measurements: Vec<String>,
    /// Field names or globs; `None`: every numeric field.
    pub fields: Option<Vec<String>>,
    pub every: Duration,
    /// Windows start at `k × every + offset` since the epoch.
    pub offset: Duration,
    /// At least one, no duplicates, in the written order.
    pub aggregates: Vec<Aggregate>,
    /// `None`: per series (every tag kept); `Some(tags)`: only these tags are kept.
    pub group_by: Option<Vec<String>>,
    pub to_bucket: BucketName,
    /// A window closes when the watermark passes its end + `grace`.
    pub grace: Duration,
    /// A closed window is corrected by late points until the watermark passes its end +
    /// `grace` + `late_window`; default `every`.
    pub late_window: Duration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDownsample {
    pub name: Option<Spanned<String>>,
    pub tenant: Spanned<String>,
    pub from: Spanned<RawFrom>,
    pub every: Spanned<HumanDuration>,
    pub offset: Option<Spanned<HumanDuration>>,
    pub aggregates: Spanned<Vec<Spanned<String>>>,
    pub group_by: Option<Vec<String>>,
    pub to: Spanned<RawTo>,
    pub grace: Option<Spanned<HumanDuration>>,
    pub late_window: Option<Spanned<HumanDuration>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFrom {
    pub bucket: Spanned<String>,
    pub measurements: Option<Vec<String>>,
    pub fields: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTo {
    pub bucket: Spanned<String>,
}

fn bucket(text: &str, key: String, v: Spanned<String>) -> Result<BucketName, ConfigError> {
    let span = v.span();
    BucketName::new(v.get_ref()).or_else(|e| invalid(text, key, span, &e.to_string()))
}

/// Builds the rules (after the tenants, which they are checked against).
pub(super) fn build(
    text: &str,
    raw: Vec<Spanned<RawDownsample>>,
    tenants: &[TenantConfig],
) -> Result<Vec<DownsampleRule>, ConfigError> {
    let mut out: Vec<DownsampleRule> = Vec::with_capacity(raw.len());
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut per_target: HashMap<String, usize> = HashMap::new();
    for (i, r) in raw.into_iter().enumerate() {
        let whole = r.span();
        let r = r.into_inner();
        let k = |key: &str| format!("downsample[{i}].{key}");
        let tenant_span = r.tenant.span();
        let tenant = match r.tenant.get_ref().as_str() {
            "*" => None,
            s => {
                let id = TenantId::new(s)
                    .or_else(|e| invalid(text, k("tenant"), tenant_span.clone(), &e.to_string()))?;
                Some(id)
            }
        };
        let from = r.from.into_inner();
        let from_span = from.bucket.span();
        let from_bucket = bucket(text, k("from.bucket"), from.bucket)?;
        let to_span = r.to.span();
        let to_bucket = bucket(text, k("to.bucket"), r.to.into_inner().bucket)?;
        if to_bucket == from_bucket {
            return invalid(
                text,
                k("to.bucket"),
                to_span,
                "must differ from from.bucket (a rule reads client writes, not its own rollups)",
            );
        }
        if let Some(id) = &tenant {
            let Some(t) = tenants.iter().find(|t| &t.id == id) else {
                return invalid(text, k("tenant"), tenant_span, "no [[tenant]] has this id");
            };
            let checks = [
                (&from_bucket, "from.bucket", from_span),
                (&to_bucket, "to.bucket", to_span.clone()),
            ];
            for (b, key, span) in checks {
                if !t.buckets.iter().any(|p| p.matches(b)) {
                    return invalid(
                        text,
                        k(key),
                        span,
                        &format!("tenant {id} may not use bucket {b:?}"),
                    );
                }
            }
        }
        let every_span = r.every.span();
        let every = r.every.into_inner().0;
        if !(MIN_EVERY..=MAX_EVERY).contains(&every) || every.subsec_nanos() != 0 {
            return invalid(
                text,
                k("every"),
                every_span,
                "must be whole seconds from 1m to 1d",
            );
        }
        let offset = match r.offset {
            None => Duration::ZERO,
            Some(o) if o.get_ref().0 >= every => {
                return invalid(text, k("offset"), o.span(), "must be shorter than every");
            }
            Some(o) => o.into_inner().0,
        };
        let agg_span = r.aggregates.span();
        let mut aggregates = Vec::new();
        for a in r.aggregates.into_inner() {
            let span = a.span();
            let Some(agg) = Aggregate::parse(a.get_ref()) else {
                let names: Vec<&str> = Aggregate::ALL.iter().map(|a| a.name()).collect();
                return invalid(
                    text,
                    k("aggregates"),
                    span,
                    &format!(
                        "unknown aggregate {:?} (one of {})",
                        a.get_ref(),
                        names.join(", ")
                    ),
                );
            };
            if aggregates.contains(&agg) {
                return invalid(text, k("aggregates"), span, "duplicate aggregate");
            }
            aggregates.push(agg);
        }
        if aggregates.is_empty() {
            return invalid(text, k("aggregates"), agg_span, "must not be empty");
        }
        let grace = r.grace.map_or(DEFAULT_GRACE, |g| g.into_inner().0);
        let late_window = r.late_window.map_or(every, |g| g.into_inner().0);
        let name = match r.name {
            Some(n) if n.get_ref().trim().is_empty() => {
                return invalid(text, k("name"), n.span(), "must not be empty");
            }
            Some(n) => n.into_inner(),
            None => {
                let c = per_target.entry(to_bucket.to_string()).or_insert(0);
                *c += 1;
                format!("{to_bucket}#{c}")
            }
        };
        if let Some(first) = names.insert(name.clone(), i) {
            return invalid(
                text,
                k("name"),
                whole,
                &format!("duplicate rule name {name:?} (also downsample[{first}])"),
            );
        }
        out.push(DownsampleRule {
            name,
            tenant,
            from_bucket,
            measurements: from.measurements.unwrap_or_else(|| vec!["*".into()]),
            fields: from.fields,
            every,
            offset,
            aggregates,
            group_by: r.group_by,
            to_bucket,
            grace,
            late_window,
        });
    }
    Ok(out)
}

/// A rule as `sluice config check` prints it (the file's keys, every default filled).
#[derive(Debug, serde::Serialize)]
pub(super) struct OutDownsample {
    name: String,
    tenant: String,
    from: OutFrom,
    every: String,
    offset: String,
    aggregates: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group_by: Option<Vec<String>>,
    to: OutTo,
    grace: String,
    late_window: String,
}

#[derive(Debug, serde::Serialize)]
struct OutFrom {
    bucket: String,
    measurements: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<Vec<String>>,
}

#[derive(Debug, serde::Serialize)]
struct OutTo {
    bucket: String,
}

pub(super) fn out(r: &DownsampleRule) -> OutDownsample {
    use super::units::format_duration as d;
    OutDownsample {
        name: r.name.clone(),
        tenant: r.tenant.as_ref().map_or("*".into(), ToString::to_string),
        from: OutFrom {
            bucket: r.from_bucket.to_string(),
            measurements: r.measurements.clone(),
            fields: r.fields.clone(),
        },
        every: d(r.every),
        offset: d(r.offset),
        aggregates: r.aggregates.iter().map(|a| a.name()).collect(),
        group_by: r.group_by.clone(),
        to: OutTo {
            bucket: r.to_bucket.to_string(),
        },
        grace: d(r.grace),
        late_window: d(r.late_window),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::config::Config;

    const TENANT: &str = "[[tenant]]\nid = \"acme\"\ntoken_sha256 = [\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"]\nbuckets = [\"telegraf\", \"telegraf_5m\"]\n";

    fn parse(rule: &str) -> Result<Config, ConfigError> {
        Config::from_toml_str(&format!("{TENANT}\n[[downsample]]\n{rule}"), |_| None)
    }

    const OK: &str = "tenant = \"acme\"\nfrom = { bucket = \"telegraf\", measurements = [\"interface\"] }\nevery = \"5m\"\naggregates = [\"mean\", \"rate\"]\nto = { bucket = \"telegraf_5m\" }\n";

    #[test]
    fn defaults_fill_name_grace_and_late_window() {
        let c = parse(OK).unwrap();
        let r = &c.downsample[0];
        assert_eq!(r.name, "telegraf_5m#1");
        assert_eq!(r.grace, DEFAULT_GRACE);
        assert_eq!(r.late_window, r.every);
        assert_eq!(r.aggregates, vec![Aggregate::Mean, Aggregate::Rate]);
        assert!(r.fields.is_none() && r.group_by.is_none());
        assert!(c.redacted_toml().contains("[[downsample]]"));
    }

    #[test]
    fn errors_name_the_key_and_line() {
        let cases = [
            (OK.replace("\"5m\"", "\"30s\""), "downsample[0].every", 5),
            (OK.replace("\"5m\"", "\"2d\""), "downsample[0].every", 5),
            (
                OK.replace("\"rate\"", "\"median\""),
                "downsample[0].aggregates",
                6,
            ),
            (
                OK.replace("\"rate\"", "\"mean\""),
                "downsample[0].aggregates",
                6,
            ),
            (
                OK.replace("[\"mean\", \"rate\"]", "[]"),
                "downsample[0].aggregates",
                6,
            ),
            (
                OK.replace("telegraf_5m", "telegraf"),
                "downsample[0].to.bucket",
                7,
            ),
            (
                OK.replace("\"acme\"", "\"nobody\""),
                "downsample[0].tenant",
                3,
            ),
            (
                OK.replace("telegraf_5m", "other"),
                "downsample[0].to.bucket",
                7,
            ),
            (format!("{OK}offset = \"5m\"\n"), "downsample[0].offset", 8),
            (format!("{OK}colour = \"red\"\n"), "downsample[0].colour", 8),
        ];
        for (text, key, line) in cases {
            let e = parse(&text).unwrap_err();
            assert_eq!(e.key(), Some(key), "{text}: {e}");
            assert_eq!(e.line(), Some(line + 4), "{text}: {e}");
        }
    }

    #[test]
    fn rule_names_are_unique() {
        let text = format!("{OK}name = \"a\"\n[[downsample]]\n{OK}name = \"a\"\n");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.key(), Some("downsample[1].name"), "{e}");
    }
}
