//! WHERE lowering: the time range (InfluxDB's `ConditionExpr`: every `time` comparison, at
//! any depth of `AND`/`OR`, narrows one range), the remaining row filter, and the tag pruning
//! hints the store may use.

use super::{lower_value, var_ref};
use crate::query::exec::QueryError;
use crate::query::influxql::ast::{BinaryOp, Expr};
use crate::query::influxql::literal::parse_time_string;
use crate::query::plan::{CmpOp, Cond, MAX_TIME, MIN_TIME, VarRef};

/// Inclusive bounds found in a condition (`None`: unbounded).
#[derive(Debug, Clone, Copy, Default)]
pub struct TimeBounds {
    pub min: Option<i64>,
    pub max: Option<i64>,
}

impl TimeBounds {
    fn intersect(self, o: Self) -> Self {
        Self {
            min: match (self.min, o.min) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            },
            max: match (self.max, o.max) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
        }
    }
}

/// Splits `e` into its time bounds and the rest of the condition.
pub fn split(
    e: &Expr,
    now: i64,
    tz: Option<chrono_tz::Tz>,
) -> Result<(Option<Cond>, TimeBounds), QueryError> {
    match e {
        Expr::Paren(inner) => split(inner, now, tz),
        Expr::Binary { op, lhs, rhs } if matches!(op, BinaryOp::And | BinaryOp::Or) => {
            let (l, lt) = split(lhs, now, tz)?;
            let (r, rt) = split(rhs, now, tz)?;
            let t = lt.intersect(rt);
            let c = match (l, r) {
                (None, x) | (x, None) => x,
                (Some(a), Some(b)) if *op == BinaryOp::And => {
                    Some(Cond::And(Box::new(a), Box::new(b)))
                }
                (Some(a), Some(b)) => Some(Cond::Or(Box::new(a), Box::new(b))),
            };
            Ok((c, t))
        }
        Expr::Binary { op, lhs, rhs } => {
            if is_time(lhs) {
                return Ok((None, time_bound(*op, rhs, now, tz)?));
            }
            if is_time(rhs) {
                let flipped = match op {
                    BinaryOp::Gt => BinaryOp::Lt,
                    BinaryOp::Lt => BinaryOp::Gt,
                    BinaryOp::Gte => BinaryOp::Lte,
                    BinaryOp::Lte => BinaryOp::Gte,
                    o => *o,
                };
                return Ok((None, time_bound(flipped, lhs, now, tz)?));
            }
            Ok((Some(comparison(*op, lhs, rhs)?), TimeBounds::default()))
        }
        Expr::Boolean(b) => Ok((
            Some(if *b { Cond::True } else { Cond::False }),
            TimeBounds::default(),
        )),
        other => Err(QueryError::Invalid {
            message: format!("invalid condition expression: {other}"),
        }),
    }
}

fn is_time(e: &Expr) -> bool {
    matches!(e, Expr::VarRef { name, .. } if name.eq_ignore_ascii_case("time"))
}

fn comparison(op: BinaryOp, lhs: &Expr, rhs: &Expr) -> Result<Cond, QueryError> {
    if matches!(op, BinaryOp::EqRegex | BinaryOp::NeqRegex) {
        let (Some(var), Expr::Regex(re)) = (var_ref(strip(lhs)), strip(rhs)) else {
            return Err(QueryError::Unsupported {
                what: format!("regex condition {lhs} {} {rhs}", op.as_str()),
            });
        };
        return Ok(Cond::Regex {
            var,
            re: re.regex().clone(),
            negated: op == BinaryOp::NeqRegex,
        });
    }
    let cmp = match op {
        BinaryOp::Eq => CmpOp::Eq,
        BinaryOp::Neq => CmpOp::Neq,
        BinaryOp::Lt => CmpOp::Lt,
        BinaryOp::Lte => CmpOp::Lte,
        BinaryOp::Gt => CmpOp::Gt,
        BinaryOp::Gte => CmpOp::Gte,
        other => {
            return Err(QueryError::Unsupported {
                what: format!("operator {} in a condition", other.as_str()),
            });
        }
    };
    Ok(Cond::Cmp(lower_value(lhs)?, cmp, lower_value(rhs)?))
}

fn strip(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(i) => strip(i),
        e => e,
    }
}

/// The bound `time op rhs` sets.
fn time_bound(
    op: BinaryOp,
    rhs: &Expr,
    now: i64,
    tz: Option<chrono_tz::Tz>,
) -> Result<TimeBounds, QueryError> {
    let v = time_value(rhs, now, tz)?;
    if !(MIN_TIME < v && v <= MAX_TIME) {
        return Err(QueryError::Invalid {
            message: format!("time {v} overflows time literal"),
        });
    }
    let mut b = TimeBounds::default();
    match op {
        BinaryOp::Gt => b.min = Some(v.saturating_add(1)),
        BinaryOp::Gte => b.min = Some(v),
        BinaryOp::Lt => b.max = Some(v.saturating_sub(1)),
        BinaryOp::Lte => b.max = Some(v),
        BinaryOp::Eq => (b.min, b.max) = (Some(v), Some(v)),
        other => {
            return Err(QueryError::Invalid {
                message: format!("invalid time comparison operator: {}", other.as_str()),
            });
        }
    }
    Ok(b)
}

/// A time expression in ns: `now()`, durations and integers (ns), date strings, and `+`/`-`
/// between them.
pub fn time_value(e: &Expr, now: i64, tz: Option<chrono_tz::Tz>) -> Result<i64, QueryError> {
    let bad = || QueryError::Invalid {
        message: format!("invalid operation: time and {e} are not compatible"),
    };
    match e {
        Expr::Paren(i) => time_value(i, now, tz),
        Expr::Call { name, args } if name == "now" && args.is_empty() => Ok(now),
        Expr::Duration(d) => Ok(d.nanos),
        Expr::Integer(i) => Ok(*i),
        Expr::Float(f) => Ok(*f as i64),
        Expr::String(s) => parse_time_string(s, tz).map_err(|e| QueryError::Invalid {
            message: e.to_string(),
        }),
        Expr::Binary { op, lhs, rhs } => {
            let (l, r) = (time_value(lhs, now, tz)?, time_value(rhs, now, tz)?);
            match op {
                BinaryOp::Add => Ok(l.saturating_add(r)),
                BinaryOp::Sub => Ok(l.saturating_sub(r)),
                _ => Err(bad()),
            }
        }
        _ => Err(bad()),
    }
}

/// Pruning hints from the top-level conjunction: `tag = 'v'`, `tag =~ /^(a|b)$/` and ORs of
/// equalities on one key. `is_tag` says which names are tags in every source.
pub fn tag_hints(cond: &Cond, is_tag: &dyn Fn(&VarRef) -> bool) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut conj = Vec::new();
    conjuncts(cond, &mut conj);
    for c in conj {
        if let Some((k, vals)) = values_of(c)
            && is_tag(&k)
        {
            out.push((k.name, vals));
        }
    }
    out
}

fn conjuncts<'a>(c: &'a Cond, out: &mut Vec<&'a Cond>) {
    match c {
        Cond::And(a, b) => {
            conjuncts(a, out);
            conjuncts(b, out);
        }
        c => out.push(c),
    }
}

/// The values one tag must hold for `c` to match, when `c` says so plainly.
fn values_of(c: &Cond) -> Option<(VarRef, Vec<String>)> {
    match c {
        Cond::Cmp(
            crate::query::plan::Expr::Var(v),
            CmpOp::Eq,
            crate::query::plan::Expr::String(s),
        )
        | Cond::Cmp(
            crate::query::plan::Expr::String(s),
            CmpOp::Eq,
            crate::query::plan::Expr::Var(v),
        ) => Some((v.clone(), vec![s.clone()])),
        Cond::Regex {
            var,
            re,
            negated: false,
        } => Some((var.clone(), regex_alternatives(re.as_str())?)),
        Cond::Or(a, b) => {
            let (ka, mut va) = values_of(a)?;
            let (kb, vb) = values_of(b)?;
            if ka != kb {
                return None;
            }
            va.extend(vb);
            Some((ka, va))
        }
        _ => None,
    }
}

/// `^(a|b\.c)$` or `^a$` → the literal alternatives, when every one is a plain string.
fn regex_alternatives(p: &str) -> Option<Vec<String>> {
    let body = p.strip_prefix('^')?.strip_suffix('$')?;
    let body = match body.strip_prefix('(') {
        Some(b) => b.strip_suffix(')')?,
        None => body,
    };
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let n = chars.next()?;
                if n.is_ascii_alphanumeric() {
                    return None; // \d, \w, ...: a class, not a literal.
                }
                cur.push(n);
            }
            '|' => out.push(std::mem::take(&mut cur)),
            '.' | '*' | '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '^' | '$' => return None,
            c => cur.push(c),
        }
    }
    out.push(cur);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternatives_of_grafana_regexes() {
        assert_eq!(
            regex_alternatives(r"^(8\.8\.8\.8|1\.1\.1\.1)$"),
            Some(vec!["8.8.8.8".to_string(), "1.1.1.1".to_string()])
        );
        assert_eq!(
            regex_alternatives(r"^(Gi1\/0\/1)$"),
            Some(vec!["Gi1/0/1".to_string()])
        );
        assert_eq!(regex_alternatives("^web.*$"), None);
        assert_eq!(regex_alternatives("web"), None);
    }
}
