//! The builtin functions of the subset (docs/flux.md §5) and the packages that may be imported.
//!
//! Owns: which names exist (universe and the `strings`, `date`, `math`, `schema` packages),
//! argument checking (unknown, missing, mistyped arguments are errors naming the function),
//! dispatch, scalar functions, and `yield`. The table functions live in the submodules:
//! `source` (from, range, buckets, schema), `shape` (filter, map, group, pivot, ...; with
//! `map_fast` for `{r with _value: r._value OP literal}`), `agg`
//! (aggregates, selectors, windows), `series` (derivative, difference, ...).

mod agg;
mod group;
mod map_fast;
mod rows;
mod scalar;
mod series;
mod shape;
mod source;
mod window;

use std::sync::Arc;

use super::FluxError;
use super::columns::Tables;
use super::interp::{Runtime, Scope};
use super::lexer::Pos;
use super::table::{Deferred, Stream, Table};
use super::value::{Function, Record, Value};

pub use map_fast::shape as scale_shape;
pub use rows::new_table;
pub use series::derivative_step;
pub use source::{materialize, read_tables};

/// Universe functions of the subset.
pub const UNIVERSE: &[&str] = &[
    "from",
    "range",
    "filter",
    "map",
    "keep",
    "drop",
    "rename",
    "group",
    "sort",
    "limit",
    "tail",
    "pivot",
    "unique",
    "distinct",
    "duplicate",
    "fill",
    "yield",
    "window",
    "aggregateWindow",
    "mean",
    "max",
    "min",
    "sum",
    "count",
    "first",
    "last",
    "median",
    "spread",
    "stddev",
    "mode",
    "quantile",
    "top",
    "bottom",
    "derivative",
    "difference",
    "increase",
    "movingAverage",
    "cumulativeSum",
    "elapsed",
    "buckets",
    "contains",
    "float",
    "int",
    "uint",
    "string",
    "bool",
    "now",
    "length",
];

/// Packages that may be imported, with their functions.
pub const PACKAGES: &[(&str, &str, &[&str])] = &[
    (
        "strings",
        "strings",
        &[
            "hasPrefix",
            "hasSuffix",
            "containsStr",
            "toLower",
            "toUpper",
            "trimSpace",
            "strlen",
        ],
    ),
    (
        "influxdata/influxdb/schema",
        "schema",
        &[
            "measurements",
            "tagKeys",
            "tagValues",
            "measurementTagValues",
            "fieldKeys",
            "measurementFieldKeys",
            "measurementTagKeys",
        ],
    ),
    (
        "date",
        "date",
        &[
            "truncate", "hour", "minute", "weekDay", "monthDay", "month", "year",
        ],
    ),
    (
        "math",
        "math",
        &[
            "abs", "floor", "ceil", "round", "sqrt", "pow", "mInf", "maxFloat",
        ],
    ),
];

/// The scope a program starts in: the universe, and the imported packages as records.
pub fn prelude(imports: &[(String, Pos)]) -> Result<Scope, FluxError> {
    let mut vars: Vec<(String, Value)> = UNIVERSE
        .iter()
        .map(|n| ((*n).to_owned(), Value::Func(Arc::new(Function::Builtin(n)))))
        .collect();
    vars.push(("true".to_owned(), Value::Bool(true)));
    vars.push(("false".to_owned(), Value::Bool(false)));
    for (path, pos) in imports {
        let Some((_, alias, fns)) = PACKAGES.iter().find(|(p, _, _)| p == path) else {
            return Err(FluxError::at(
                *pos,
                format!(
                    "package {path:?} is not supported (sluice's Flux imports only \"influxdata/influxdb/schema\", \"strings\", \"date\" and \"math\")"
                ),
            ));
        };
        let mut rec = Record::default();
        for f in *fns {
            let name: &'static str = qualified(alias, f);
            let v = match name {
                "math.mInf" => Value::Float(f64::NEG_INFINITY),
                "math.maxFloat" => Value::Float(f64::MAX),
                _ => Value::Func(Arc::new(Function::Builtin(name))),
            };
            rec.set(f, v);
        }
        vars.push(((*alias).to_owned(), Value::Record(Arc::new(rec))));
    }
    Ok(Scope::default().child(vars))
}

/// `pkg.fn` as a static string (the set is closed, so this never allocates at run time).
fn qualified(pkg: &str, f: &str) -> &'static str {
    QUALIFIED
        .iter()
        .find(|q| q.len() == pkg.len() + 1 + f.len() && q.starts_with(pkg) && q.ends_with(f))
        .copied()
        .unwrap_or("unknown")
}

const QUALIFIED: &[&str] = &[
    "strings.hasPrefix",
    "strings.hasSuffix",
    "strings.containsStr",
    "strings.toLower",
    "strings.toUpper",
    "strings.trimSpace",
    "strings.strlen",
    "schema.measurements",
    "schema.tagKeys",
    "schema.tagValues",
    "schema.measurementTagValues",
    "schema.fieldKeys",
    "schema.measurementFieldKeys",
    "schema.measurementTagKeys",
    "date.truncate",
    "date.hour",
    "date.minute",
    "date.weekDay",
    "date.monthDay",
    "date.month",
    "date.year",
    "math.abs",
    "math.floor",
    "math.ceil",
    "math.round",
    "math.sqrt",
    "math.pow",
    "math.mInf",
    "math.maxFloat",
];

/// The arguments of one call.
pub struct Args {
    pub named: Vec<(String, Value)>,
    pub pipe: Option<Value>,
    pub pos: Pos,
}

/// A call's arguments, checked against the function's parameter list.
pub struct Call<'r, 'a> {
    pub rt: &'r Runtime<'a>,
    pub name: &'static str,
    pub args: Args,
}

impl Call<'_, '_> {
    pub fn err(&self, msg: impl std::fmt::Display) -> FluxError {
        FluxError::at(
            self.args.pos,
            format!("error calling function {:?}: {msg}", self.name),
        )
    }

    /// Refuses arguments outside `allowed`.
    pub fn allow(&self, allowed: &[&str]) -> Result<(), FluxError> {
        match self
            .args
            .named
            .iter()
            .find(|(k, _)| !allowed.contains(&k.as_str()))
        {
            Some((k, _)) => Err(self.err(format!("unexpected argument {k:?}"))),
            None => Ok(()),
        }
    }

    pub fn get(&self, k: &str) -> Option<&Value> {
        self.args.named.iter().find(|(n, _)| n == k).map(|(_, v)| v)
    }

    pub fn req(&self, k: &str) -> Result<&Value, FluxError> {
        self.get(k)
            .ok_or_else(|| self.err(format!("missing required argument {k}")))
    }

    fn mistyped(&self, k: &str, want: &str, v: &Value) -> FluxError {
        self.err(format!(
            "argument {k} must be a {want}, got {}",
            v.type_name()
        ))
    }

    pub fn string(&self, k: &str) -> Result<Option<String>, FluxError> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s.to_string())),
            Some(v) => Err(self.mistyped(k, "string", v)),
        }
    }

    pub fn req_string(&self, k: &str) -> Result<String, FluxError> {
        self.string(k)?
            .ok_or_else(|| self.err(format!("missing required argument {k}")))
    }

    pub fn bool(&self, k: &str, default: bool) -> Result<bool, FluxError> {
        match self.get(k) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(self.mistyped(k, "bool", v)),
        }
    }

    pub fn int(&self, k: &str) -> Result<Option<i64>, FluxError> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::Int(n)) => Ok(Some(*n)),
            Some(v) => Err(self.mistyped(k, "int", v)),
        }
    }

    pub fn float(&self, k: &str) -> Result<Option<f64>, FluxError> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::Float(f)) => Ok(Some(*f)),
            Some(v) => Err(self.mistyped(k, "float", v)),
        }
    }

    /// A fixed duration in ns (month-based durations are refused where windows need fixed ones).
    pub fn duration(&self, k: &str) -> Result<Option<i64>, FluxError> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::Duration(0, n)) => Ok(Some(*n)),
            Some(Value::Duration(..)) => Err(self.err(format!(
                "argument {k}: calendar (month or year) durations are not supported"
            ))),
            Some(v) => Err(self.mistyped(k, "duration", v)),
        }
    }

    pub fn strings(&self, k: &str) -> Result<Option<Vec<String>>, FluxError> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| match v {
                    Value::Str(s) => Ok(s.to_string()),
                    v => Err(self.mistyped(k, "array of strings", v)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(v) => Err(self.mistyped(k, "array of strings", v)),
        }
    }

    pub fn func(&self, k: &str) -> Result<Arc<Function>, FluxError> {
        match self.req(k)? {
            Value::Func(f) => Ok(f.clone()),
            v => Err(self.mistyped(k, "function", v)),
        }
    }

    /// Keeps this call (its arguments already checked) on a piped-in lazy read whose deferred
    /// calls are all named in `may_follow`, for the read to run on the shared plan; `None`
    /// (the pipe untouched) otherwise, or when the runtime does not lower.
    pub fn defer(&mut self, may_follow: &[&str]) -> Option<Value> {
        let deferrable = match &self.args.pipe {
            Some(Value::Stream(s)) => match s.as_ref() {
                Stream::Ranged { deferred, .. } => {
                    deferred.iter().all(|d| may_follow.contains(&d.name))
                }
                _ => false,
            },
            _ => false,
        };
        if !self.rt.lower || !deferrable {
            return None;
        }
        let Some(Value::Stream(s)) = self.args.pipe.take() else {
            return None;
        };
        let mut s = Arc::try_unwrap(s).unwrap_or_else(|s| (*s).clone());
        if let Stream::Ranged { deferred, .. } = &mut s {
            deferred.push(Deferred {
                name: self.name,
                named: self.args.named.clone(),
                pos: self.args.pos,
            });
        }
        Some(Value::Stream(Arc::new(s)))
    }

    /// The name of the last call deferred on a piped-in lazy read.
    pub fn deferred_last(&self) -> Option<&'static str> {
        match &self.args.pipe {
            Some(Value::Stream(s)) => match s.as_ref() {
                Stream::Ranged { deferred, .. } => deferred.last().map(|d| d.name),
                _ => None,
            },
            _ => None,
        }
    }

    /// The piped-in tables, read if still lazy.
    pub fn tables(&mut self) -> Result<Vec<Table>, FluxError> {
        let s = self.stream()?;
        materialize(self.rt, s, self.args.pos)
    }

    /// The piped-in stream as it is (possibly lazy).
    pub fn stream(&mut self) -> Result<Stream, FluxError> {
        let v = match self.args.pipe.take() {
            Some(v) => v,
            None => match self.args.named.iter().position(|(k, _)| k == "tables") {
                Some(i) => self.args.named.swap_remove(i).1,
                None => return Err(self.err("missing required argument tables (no piped input)")),
            },
        };
        match v {
            Value::Stream(s) => Ok(Arc::try_unwrap(s).unwrap_or_else(|s| (*s).clone())),
            v => Err(self.mistyped("tables", "stream of tables", &v)),
        }
    }
}

pub fn stream(tables: Vec<Table>) -> Value {
    Value::Stream(Arc::new(Stream::Tables(tables)))
}

pub fn call(rt: &Runtime<'_>, name: &'static str, args: Args) -> Result<Value, FluxError> {
    let mut c = Call { rt, name, args };
    match name {
        "from" | "range" | "buckets" => source::call(&mut c),
        n if n.starts_with("schema.") => source::call(&mut c),
        "filter" | "map" | "keep" | "drop" | "rename" | "group" | "sort" | "limit" | "tail"
        | "pivot" | "unique" | "distinct" | "duplicate" | "fill" => shape::call(&mut c),
        "yield" => {
            c.allow(&["name", "tables"])?;
            let name = c.string("name")?.unwrap_or_else(|| "_result".to_owned());
            let s = c.stream()?;
            Ok(Value::Stream(yield_result(rt, &name, s, c.args.pos)?))
        }
        "window" | "aggregateWindow" | "mean" | "max" | "min" | "sum" | "count" | "first"
        | "last" | "median" | "spread" | "stddev" | "mode" | "quantile" | "top" | "bottom" => {
            agg::call(&mut c)
        }
        "derivative" | "difference" | "increase" | "movingAverage" | "cumulativeSum"
        | "elapsed" => series::call(&mut c),
        _ => scalar::call(&mut c),
    }
}

/// Records a result and answers its tables as the stream `yield` passes on (one copy, shared
/// with the result); a name used twice is an error, as in Flux.
pub fn yield_result(
    rt: &Runtime<'_>,
    name: &str,
    s: Stream,
    pos: Pos,
) -> Result<Arc<Stream>, FluxError> {
    let tables = Arc::new(match read_tables(rt, s, pos)? {
        Tables::Rows(t) => Stream::Tables(t),
        Tables::Windows(w) => Stream::Windows(w),
        Tables::Values(v) => Stream::Values(v),
    });
    let mut results = rt.results.borrow_mut();
    if results.iter().any(|(n, _)| n == name) {
        return Err(FluxError::at(
            pos,
            format!("duplicate yield name {name:?}: give each yield its own name"),
        ));
    }
    results.push((name.to_owned(), tables.clone()));
    Ok(tables)
}
