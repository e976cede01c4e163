//! Flux runtime values (docs/flux.md §3): scalars, arrays, records, functions, table streams.
//!
//! Owns: the `Value` type, its Flux type names, equality and ordering as Flux compares, and
//! the `Unknown` value used to evaluate a predicate before a row is read (pushdown).
//! Does not own: evaluating expressions (`interp`) or tables (`table`).

use std::cmp::Ordering;
use std::sync::Arc;

use super::ast::FuncLit;
use super::interp::Scope;
use super::table::Stream;

#[derive(Clone)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(Arc<str>),
    /// ns since the Unix epoch.
    Time(i64),
    /// (months, ns)
    Duration(i64, i64),
    Regex(Arc<regex::Regex>),
    Array(Arc<Vec<Value>>),
    Record(Arc<Record>),
    Func(Arc<Function>),
    Stream(Arc<Stream>),
    /// A column not yet read (pushdown evaluation only).
    Unknown,
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Null => write!(f, "null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(n) => write!(f, "{n}"),
            Value::UInt(n) => write!(f, "{n}u"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Time(t) => write!(f, "time({t})"),
            Value::Duration(m, n) => write!(f, "duration({m}mo{n}ns)"),
            Value::Regex(r) => write!(f, "/{}/", r.as_str()),
            Value::Array(a) => f.debug_list().entries(a.iter()).finish(),
            Value::Record(r) => f
                .debug_map()
                .entries(r.fields.iter().map(|(k, v)| (k, v)))
                .finish(),
            Value::Func(_) => write!(f, "<function>"),
            Value::Stream(_) => write!(f, "<stream>"),
            Value::Unknown => write!(f, "<unknown>"),
        }
    }
}

/// A record: ordered (label, value) pairs. `open` records answer `Unknown` for a missing label.
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub fields: Vec<(String, Value)>,
    pub open: bool,
}

impl Record {
    pub fn get(&self, k: &str) -> Option<&Value> {
        self.fields.iter().find(|(n, _)| n == k).map(|(_, v)| v)
    }
    pub fn set(&mut self, k: &str, v: Value) {
        match self.fields.iter_mut().find(|(n, _)| n == k) {
            Some(slot) => slot.1 = v,
            None => self.fields.push((k.to_owned(), v)),
        }
    }
}

pub enum Function {
    /// A function literal and the scope it closes over.
    Lit(Arc<FuncLit>, Scope),
    /// A builtin, by its qualified name (`mean`, `strings.hasPrefix`).
    Builtin(&'static str),
}

impl Value {
    pub fn str(s: &str) -> Value {
        Value::Str(Arc::from(s))
    }

    /// Flux's name for the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::UInt(_) => "uint",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::Time(_) => "time",
            Value::Duration(..) => "duration",
            Value::Regex(_) => "regexp",
            Value::Array(_) => "array",
            Value::Record(_) => "record",
            Value::Func(_) => "function",
            Value::Stream(_) => "stream",
            Value::Unknown => "unknown",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(x) => Some(*x),
            Value::Int(n) => Some(*n as f64),
            Value::UInt(n) => Some(*n as f64),
            _ => None,
        }
    }

    /// Equality as `==` answers it for two non-null values of comparable types.
    pub fn equals(&self, other: &Value) -> Option<bool> {
        Some(self.compare(other)? == Ordering::Equal)
    }

    /// Order of two values of comparable types (numbers across int/uint/float).
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        use Value::*;
        match (self, other) {
            (Int(a), Int(b)) => Some(a.cmp(b)),
            (UInt(a), UInt(b)) => Some(a.cmp(b)),
            (Int(a), UInt(b)) => Some(i128::from(*a).cmp(&i128::from(*b))),
            (UInt(a), Int(b)) => Some(i128::from(*a).cmp(&i128::from(*b))),
            (Float(_) | Int(_) | UInt(_), Float(_) | Int(_) | UInt(_)) => {
                self.as_f64()?.partial_cmp(&other.as_f64()?)
            }
            (Str(a), Str(b)) => Some(a.cmp(b)),
            (Bool(a), Bool(b)) => Some(a.cmp(b)),
            (Time(a), Time(b)) => Some(a.cmp(b)),
            (Duration(am, an), Duration(bm, bn)) => Some((am, an).cmp(&(bm, bn))),
            _ => None,
        }
    }

    /// Total order used for sorting rows and group keys: nulls first, then by type, then value.
    pub fn sort_cmp(&self, other: &Value) -> Ordering {
        match (self.is_null(), other.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            _ => self
                .compare(other)
                .unwrap_or_else(|| self.type_name().cmp(other.type_name())),
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits() || a == b,
            (Value::Int(_), Value::Float(_)) | (Value::Float(_), Value::Int(_)) => false,
            _ => self.compare(other) == Some(Ordering::Equal),
        }
    }
}
