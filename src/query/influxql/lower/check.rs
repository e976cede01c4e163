//! SELECT-list lowering with InfluxDB 1.6.7's compile checks (`compiledField.compileExpr` and
//! `validateFields`): argument counts and kinds, nested calls only over a GROUP BY interval,
//! no mixing of aggregates with raw fields, the fill modes that need a function.

use super::{bin_op, var_ref};
use crate::query::exec::QueryError;
use crate::query::influxql::ast::{self, Expr};
use crate::query::plan::{self, Call, Func};

/// What the select list holds, for `validate`.
#[derive(Debug, Default)]
pub struct Check {
    /// Every call, nested ones included (InfluxDB's `FunctionCalls`).
    calls: usize,
    /// An aggregate that is not a selector was seen (`OnlySelectors == false`).
    aggregate: bool,
    /// A field or tag outside any call (`HasAuxiliaryFields`).
    aux: bool,
    distinct: bool,
    /// `top` or `bottom` when one was seen.
    top_bottom: Option<&'static str>,
    /// The statement's LIMIT (top/bottom may not ask for more rows).
    limit: Option<u64>,
}

const UNSUPPORTED_FUNCTIONS: &[&str] = &[
    "sample",
    "holt_winters",
    "holt_winters_with_fit",
    "exponential_moving_average",
    "double_exponential_moving_average",
    "triple_exponential_moving_average",
    "relative_strength_index",
    "triple_exponential_derivative",
    "kaufmans_efficiency_ratio",
    "kaufmans_adaptive_moving_average",
    "chande_momentum_oscillator",
    "abs",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "atan2",
    "exp",
    "log",
    "ln",
    "log2",
    "log10",
    "sqrt",
    "pow",
    "floor",
    "ceil",
    "round",
];

fn invalid(message: String) -> QueryError {
    QueryError::Invalid { message }
}

impl Check {
    /// A check for a statement with this LIMIT.
    pub fn with_limit(limit: Option<u64>) -> Self {
        Self {
            limit,
            ..Self::default()
        }
    }

    /// One top-level select expression.
    pub fn expr(&mut self, e: &Expr, interval: bool) -> Result<plan::Expr, QueryError> {
        let out = self.value(e, true, interval)?;
        let mut vars = Vec::new();
        out.vars(&mut vars);
        if vars.is_empty() && !out.has_call() {
            return Err(invalid("field must contain at least one variable".into()));
        }
        Ok(out)
    }

    /// A value expression; `select` marks the select list (where fields are auxiliary).
    pub fn value(
        &mut self,
        e: &Expr,
        select: bool,
        interval: bool,
    ) -> Result<plan::Expr, QueryError> {
        Ok(match e {
            Expr::VarRef { .. } => {
                self.aux |= select;
                plan::Expr::Var(var_ref(e).expect("a VarRef lowers to a variable"))
            }
            Expr::Paren(i) => self.value(i, select, interval)?,
            Expr::Integer(i) => plan::Expr::Integer(*i),
            Expr::Unsigned(u) => plan::Expr::Float(*u as f64),
            Expr::Float(f) => plan::Expr::Float(*f),
            Expr::String(s) => plan::Expr::String(s.clone()),
            Expr::Boolean(b) => plan::Expr::Boolean(*b),
            Expr::Duration(d) => plan::Expr::Integer(d.nanos),
            Expr::Wildcard(_) => {
                return Err(invalid(
                    "unable to use wildcard in a binary expression".into(),
                ));
            }
            Expr::Regex(_) => {
                return Err(invalid("unable to use regex in a binary expression".into()));
            }
            Expr::Binary { op, lhs, rhs } => {
                let Some(op) = bin_op(*op) else {
                    return Err(QueryError::Unsupported {
                        what: format!("operator {} in the select list", op.as_str()),
                    });
                };
                let literal = |e: &Expr| {
                    matches!(
                        e,
                        Expr::Integer(_)
                            | Expr::Unsigned(_)
                            | Expr::Float(_)
                            | Expr::String(_)
                            | Expr::Boolean(_)
                            | Expr::Duration(_)
                    )
                };
                if select && literal(lhs) && literal(rhs) {
                    return Err(invalid(
                        "cannot perform a binary expression on two literals".into(),
                    ));
                }
                plan::Expr::Binary(
                    Box::new(self.value(lhs, select, interval)?),
                    op,
                    Box::new(self.value(rhs, select, interval)?),
                )
            }
            Expr::Distinct(name) => {
                let arg = Expr::VarRef {
                    name: name.clone(),
                    data_type: None,
                };
                self.call("distinct", std::slice::from_ref(&arg), interval)?
            }
            Expr::Call { name, args } if select => self.call(name, args, interval)?,
            Expr::Call { name, .. } => {
                return Err(invalid(format!(
                    "invalid function call in condition: {name}()"
                )));
            }
        })
    }

    fn call(
        &mut self,
        name: &str,
        args: &[Expr],
        interval: bool,
    ) -> Result<plan::Expr, QueryError> {
        self.calls += 1;
        let count = |min: usize, max: usize| -> Result<(), QueryError> {
            let got = args.len();
            if got < min || got > max {
                return Err(QueryError::ArgumentCount {
                    func: name.to_owned(),
                    expected: if min == max {
                        min.to_string()
                    } else {
                        format!("at least {min} but no more than {max}")
                    },
                    got,
                });
            }
            Ok(())
        };
        let field = |args: &[Expr]| -> Result<plan::Expr, QueryError> {
            match args.first().map(strip) {
                Some(e @ Expr::VarRef { .. }) => Ok(plan::Expr::Var(var_ref(e).expect("a VarRef"))),
                _ => Err(invalid(format!("expected field argument in {name}()"))),
            }
        };
        let duration = |i: usize, what: &str| -> Result<Option<i64>, QueryError> {
            match args.get(i).map(strip) {
                None => Ok(None),
                Some(Expr::Duration(d)) if d.nanos > 0 => Ok(Some(d.nanos)),
                Some(Expr::Duration(d)) => Err(invalid(format!(
                    "duration argument must be positive, got {}",
                    d.text
                ))),
                Some(_) => Err(invalid(what.to_owned())),
            }
        };
        let func = match name {
            "count" | "sum" | "mean" | "median" | "mode" | "stddev" | "spread" | "max" | "min"
            | "first" | "last" => {
                count(1, 1)?;
                let inner_distinct = match args.first().map(strip) {
                    Some(Expr::Distinct(f)) => Some(Expr::VarRef {
                        name: f.clone(),
                        data_type: None,
                    }),
                    Some(Expr::Call { name: n, args: a }) if n == "distinct" => {
                        if a.len() != 1 {
                            return Err(invalid(
                                "distinct function can only have one argument".into(),
                            ));
                        }
                        Some(a[0].clone())
                    }
                    _ => None,
                };
                if let Some(arg) = inner_distinct {
                    if name != "count" {
                        return Err(QueryError::Unsupported {
                            what: format!("{name}(distinct(...))"),
                        });
                    }
                    self.aggregate = true;
                    let d = call(Func::Distinct, field(std::slice::from_ref(&arg))?);
                    return Ok(call(Func::Count, d));
                }
                let f = match name {
                    "count" => Func::Count,
                    "sum" => Func::Sum,
                    "mean" => Func::Mean,
                    "median" => Func::Median,
                    "mode" => Func::Mode,
                    "stddev" => Func::Stddev,
                    "spread" => Func::Spread,
                    "max" => Func::Max,
                    "min" => Func::Min,
                    "first" => Func::First,
                    _ => Func::Last,
                };
                self.aggregate |= !f.is_selector();
                return Ok(call(f, field(args)?));
            }
            "percentile" => {
                count(2, 2)?;
                let p = match strip(&args[1]) {
                    Expr::Integer(i) => *i as f64,
                    Expr::Float(f) => *f,
                    _ => return Err(invalid("expected float argument in percentile()".into())),
                };
                return Ok(call(Func::Percentile(p), field(args)?));
            }
            "top" | "bottom" => {
                if let Some(f) = self.top_bottom {
                    return Err(QueryError::TopBottomCombined { func: f });
                }
                if args.len() < 2 {
                    return Err(invalid(format!(
                        "invalid number of arguments for {name}, expected at least 2, got {}",
                        args.len()
                    )));
                }
                let n = match strip(&args[args.len() - 1]) {
                    Expr::Integer(n) if *n >= 1 => *n,
                    Expr::Integer(n) => {
                        return Err(invalid(format!(
                            "limit ({n}) in {name} function must be at least 1"
                        )));
                    }
                    other => {
                        return Err(invalid(format!(
                            "expected integer as last argument in {name}(), found {other}"
                        )));
                    }
                };
                if let Some(limit) = self.limit
                    && limit > 0
                    && n as u64 > limit
                {
                    return Err(invalid(format!(
                        "limit ({n}) in {name} function can not be larger than the LIMIT ({limit}) in the select statement"
                    )));
                }
                if args.len() > 2 {
                    return Err(QueryError::Unsupported {
                        what: format!("{name}() with tag arguments"),
                    });
                }
                let f = if name == "top" { "top" } else { "bottom" };
                self.top_bottom = Some(f);
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                let func = if name == "top" {
                    Func::Top(n)
                } else {
                    Func::Bottom(n)
                };
                return Ok(call(func, field(args)?));
            }
            "distinct" => {
                if args.is_empty() {
                    return Err(invalid(
                        "distinct function requires at least one argument".into(),
                    ));
                }
                if args.len() != 1 {
                    return Err(invalid(
                        "distinct function can only have one argument".into(),
                    ));
                }
                self.distinct = true;
                self.aggregate = true;
                return Ok(call(Func::Distinct, field(args)?));
            }
            "integral" => {
                count(1, 2)?;
                let unit = duration(1, "second argument must be a duration")?;
                self.aggregate = true;
                return Ok(call(
                    Func::Integral(unit.unwrap_or(1_000_000_000)),
                    field(args)?,
                ));
            }
            "derivative" | "non_negative_derivative" => {
                count(1, 2)?;
                let msg = format!("second argument to {name} must be a duration");
                let unit = duration(1, &msg)?;
                Func::Derivative {
                    unit,
                    non_negative: name == "non_negative_derivative",
                }
            }
            "difference" | "non_negative_difference" => {
                count(1, 1)?;
                Func::Difference {
                    non_negative: name == "non_negative_difference",
                }
            }
            "cumulative_sum" => {
                count(1, 1)?;
                Func::CumulativeSum
            }
            "moving_average" => {
                count(2, 2)?;
                match strip(&args[1]) {
                    Expr::Integer(n) if *n > 1 => Func::MovingAverage(*n as usize),
                    Expr::Integer(n) => {
                        return Err(invalid(format!(
                            "moving_average window must be greater than 1, got {n}"
                        )));
                    }
                    _ => {
                        return Err(invalid(
                            "second argument for moving_average must be an integer".into(),
                        ));
                    }
                }
            }
            "elapsed" => {
                count(1, 2)?;
                let unit = duration(1, "second argument to elapsed must be a duration")?;
                Func::Elapsed(unit.unwrap_or(1))
            }
            n if UNSUPPORTED_FUNCTIONS.contains(&n) => {
                return Err(QueryError::Unsupported {
                    what: format!("function {n}()"),
                });
            }
            n => return Err(QueryError::UndefinedFunction { name: n.to_owned() }),
        };
        // A transformation: over a nested aggregate (needs GROUP BY time) or a raw field.
        self.aggregate = true;
        let fname = func.name();
        let arg = match strip(&args[0]) {
            Expr::Call { name, args } => {
                if !interval {
                    return Err(QueryError::IntervalRequired { func: fname });
                }
                self.call(name, args, interval)?
            }
            Expr::Distinct(_) => {
                if !interval {
                    return Err(QueryError::IntervalRequired { func: fname });
                }
                self.value(&args[0], true, interval)?
            }
            e @ Expr::VarRef { .. } => {
                if interval {
                    return Err(QueryError::AggregateRequired { func: fname });
                }
                plan::Expr::Var(var_ref(e).expect("a VarRef"))
            }
            _ => return Err(invalid(format!("expected field argument in {fname}()"))),
        };
        Ok(call(func, arg))
    }

    /// `validateFields`: the combinations InfluxDB refuses.
    pub fn validate(&self, stmt: &ast::SelectStatement, interval: bool) -> Result<(), QueryError> {
        if let (Some(f), true) = (self.top_bottom, self.calls > 1) {
            return Err(QueryError::TopBottomCombined { func: f });
        }
        if self.calls == 0 {
            match stmt.fill {
                Some(ast::Fill::None) => {
                    return Err(QueryError::FillWithoutFunction { mode: "none" });
                }
                Some(ast::Fill::Linear) => {
                    return Err(QueryError::FillWithoutFunction { mode: "linear" });
                }
                _ => {}
            }
            if interval {
                return Err(QueryError::GroupByWithoutAggregate);
            }
        }
        if self.distinct && (self.calls != 1 || self.aux) {
            return Err(QueryError::DistinctCombined);
        }
        if self.aux && self.calls > 0 {
            if self.aggregate {
                return Err(QueryError::MixedAggregate);
            }
            if self.calls > 1 {
                return Err(QueryError::MixedSelectors);
            }
        }
        Ok(())
    }
}

fn call(func: Func, arg: plan::Expr) -> plan::Expr {
    plan::Expr::Call(Box::new(Call { func, arg }))
}

fn strip(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(i) => strip(i),
        e => e,
    }
}
