//! One measurement's rows as the executor reads them: the store's scan answer split into
//! series runs, typed field columns by key, and the row filter evaluated on them.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, DictionaryArray, Float64Array, Int64Array, StringArray,
    UInt64Array,
};
use arrow::buffer::ScalarBuffer;
use arrow::datatypes::{DataType, Int32Type, TimestampNanosecondType};
use arrow::record_batch::RecordBatch;

use super::QueryError;
use super::value::compare;
use crate::query::plan::{Cond, Expr, VarKind, VarRef};
use crate::query::result::Datum;
use crate::store::{ROLE, ROLE_FIELD, ROLE_KEY, ROLE_TAG, ROLE_TIME};

/// A typed field column of the scan answer.
#[derive(Debug, Clone)]
pub enum FieldCol {
    Float(Float64Array),
    Integer(Int64Array),
    Unsigned(UInt64Array),
    Boolean(BooleanArray),
    String(StringArray),
}

impl FieldCol {
    fn from_array(a: &ArrayRef) -> Option<Self> {
        Some(match a.data_type() {
            DataType::Float64 => Self::Float(a.as_primitive().clone()),
            DataType::Int64 => Self::Integer(a.as_primitive().clone()),
            DataType::UInt64 => Self::Unsigned(a.as_primitive().clone()),
            DataType::Boolean => Self::Boolean(a.as_boolean().clone()),
            DataType::Utf8 => Self::String(a.as_string::<i32>().clone()),
            _ => return None,
        })
    }

    pub fn is_valid(&self, row: usize) -> bool {
        match self {
            Self::Float(a) => a.is_valid(row),
            Self::Integer(a) => a.is_valid(row),
            Self::Unsigned(a) => a.is_valid(row),
            Self::Boolean(a) => a.is_valid(row),
            Self::String(a) => a.is_valid(row),
        }
    }

    /// The value at `row`, `Datum::Null` when the point lacks the field.
    pub fn get(&self, row: usize) -> Datum {
        if !self.is_valid(row) {
            return Datum::Null;
        }
        match self {
            Self::Float(a) => Datum::Float(a.value(row)),
            Self::Integer(a) => Datum::Integer(a.value(row)),
            Self::Unsigned(a) => Datum::Unsigned(a.value(row)),
            Self::Boolean(a) => Datum::Boolean(a.value(row)),
            Self::String(a) => Datum::String(Arc::from(a.value(row))),
        }
    }

    /// InfluxQL's name of the column type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Float(_) => "float",
            Self::Integer(_) => "integer",
            Self::Unsigned(_) => "unsigned",
            Self::Boolean(_) => "boolean",
            Self::String(_) => "string",
        }
    }
}

/// Consecutive rows of one series.
#[derive(Debug, Clone)]
pub struct SeriesRun {
    /// Value of each of `Measured::tag_keys` (`None`: the series lacks the tag).
    pub tags: Vec<Option<String>>,
    pub start: usize,
    pub end: usize,
}

/// The scanned rows of one measurement.
#[derive(Debug)]
pub struct Measured {
    pub name: String,
    /// Tag keys of the measurement, sorted.
    pub tag_keys: Vec<String>,
    pub series: Vec<SeriesRun>,
    /// The scan answer's time column, shared (not copied).
    pub times: ScalarBuffer<i64>,
    pub fields: HashMap<String, FieldCol>,
}

/// What a variable means in one measurement.
#[derive(Debug, Clone, Copy)]
pub enum Resolved<'a> {
    Field(&'a FieldCol),
    /// Index into `tag_keys`.
    Tag(usize),
    Unknown,
}

impl Measured {
    /// Splits a scan answer (store schema, sorted by series then time) into series runs.
    pub fn from_batch(name: &str, batch: &RecordBatch) -> Result<Self, QueryError> {
        let schema = batch.schema();
        let mut tag_keys = Vec::new();
        let mut tag_cols: Vec<&DictionaryArray<Int32Type>> = Vec::new();
        let mut fields = HashMap::new();
        let mut times = None;
        for (i, f) in schema.fields().iter().enumerate() {
            let md = f.metadata();
            let key = md
                .get(ROLE_KEY)
                .cloned()
                .unwrap_or_else(|| f.name().clone());
            match md.get(ROLE).map(String::as_str) {
                Some(ROLE_TAG) => {
                    let col = batch.column(i).as_dictionary_opt::<Int32Type>().ok_or(
                        QueryError::Internal {
                            what: "tag column is not a dictionary",
                        },
                    )?;
                    tag_keys.push(key);
                    tag_cols.push(col);
                }
                Some(ROLE_FIELD) => {
                    if let Some(c) = FieldCol::from_array(batch.column(i)) {
                        fields.insert(key, c);
                    }
                }
                Some(ROLE_TIME) => {
                    let t = batch
                        .column(i)
                        .as_primitive_opt::<TimestampNanosecondType>()
                        .ok_or(QueryError::Internal {
                            what: "time column is not nanoseconds",
                        })?;
                    times = Some(t.values().clone());
                }
                _ => {}
            }
        }
        let times = times.ok_or(QueryError::Internal {
            what: "scan answer has no time column",
        })?;
        let dict_values: Vec<&StringArray> = tag_cols
            .iter()
            .map(|c| {
                c.values()
                    .as_string_opt::<i32>()
                    .ok_or(QueryError::Internal {
                        what: "tag dictionary values are not strings",
                    })
            })
            .collect::<Result<_, _>>()?;
        let tag_at = |t: usize, row: usize| -> Option<&str> {
            let col = tag_cols[t];
            if col.is_null(row) {
                return None;
            }
            let k = col.keys().value(row) as usize;
            Some(dict_values[t].value(k))
        };
        let mut series: Vec<SeriesRun> = Vec::new();
        let n = times.len();
        let changed = crate::store::tag_key_changes(&tag_cols, n);
        // Only rows where a key changed can start a series (row 0 is one of them).
        let candidates = changed
            .iter()
            .enumerate()
            .skip(1)
            .filter_map(|(row, c)| c.then_some(row));
        let mut start = 0;
        for row in candidates.chain((n > 0).then_some(n)) {
            let boundary = row == n
                || (0..tag_cols.len()).any(|t| {
                    let (a, b) = (tag_cols[t], row);
                    // Same dictionary key (or both null) means the same value.
                    if a.is_null(b) != a.is_null(b - 1) {
                        return true;
                    }
                    if a.is_null(b) || a.keys().value(b) == a.keys().value(b - 1) {
                        return false;
                    }
                    tag_at(t, b) != tag_at(t, b - 1)
                });
            if boundary {
                series.push(SeriesRun {
                    tags: (0..tag_cols.len())
                        .map(|t| tag_at(t, start).map(str::to_owned))
                        .collect(),
                    start,
                    end: row,
                });
                start = row;
            }
        }
        Ok(Self {
            name: name.to_owned(),
            tag_keys,
            series,
            times,
            fields,
        })
    }

    /// What `v` names here: a field when the measurement has one by that key (unless `::tag`),
    /// else a tag key (unless `::field`).
    pub fn resolve(&self, v: &VarRef) -> Resolved<'_> {
        if v.kind != VarKind::Tag
            && let Some(c) = self.fields.get(&v.name)
        {
            return Resolved::Field(c);
        }
        if v.kind != VarKind::Field
            && let Ok(i) = self.tag_keys.binary_search(&v.name)
        {
            return Resolved::Tag(i);
        }
        Resolved::Unknown
    }

    /// The value of an expression (without calls) at `row` of `series`, as the select list
    /// shows it: a missing tag or field is null.
    pub fn eval(&self, e: &Expr, series: &SeriesRun, row: usize) -> Datum {
        self.eval_filled(e, series, row, None)
    }

    /// `eval`, with a missing field value replaced by `fill` (cast to the field's type), as a
    /// raw query with `fill(<number>)` answers.
    pub fn eval_filled(
        &self,
        e: &Expr,
        series: &SeriesRun,
        row: usize,
        fill: Option<f64>,
    ) -> Datum {
        match e {
            Expr::Var(v) => match (self.resolve(v), fill) {
                (Resolved::Field(c), Some(f)) if !c.is_valid(row) => match c {
                    FieldCol::Integer(_) => Datum::Integer(f as i64),
                    FieldCol::Unsigned(_) => Datum::Unsigned(f as u64),
                    FieldCol::Float(_) => Datum::Float(f),
                    _ => Datum::Null,
                },
                _ => self.eval_filled_inner(e, series, row, fill),
            },
            _ => self.eval_filled_inner(e, series, row, fill),
        }
    }

    fn eval_filled_inner(
        &self,
        e: &Expr,
        series: &SeriesRun,
        row: usize,
        fill: Option<f64>,
    ) -> Datum {
        match e {
            Expr::Float(f) => Datum::Float(*f),
            Expr::Integer(i) => Datum::Integer(*i),
            Expr::String(s) => Datum::String(Arc::from(s.as_str())),
            Expr::Boolean(b) => Datum::Boolean(*b),
            Expr::Var(v) => match self.resolve(v) {
                Resolved::Field(c) => c.get(row),
                Resolved::Tag(i) => series.tags[i]
                    .as_ref()
                    .map_or(Datum::Null, |s| Datum::String(Arc::from(s.as_str()))),
                Resolved::Unknown => Datum::Null,
            },
            Expr::Binary(l, op, r) => super::value::arith(
                &self.eval_filled(l, series, row, fill),
                *op,
                &self.eval_filled(r, series, row, fill),
            ),
            Expr::Call(_) => Datum::Null,
        }
    }

    /// The value of a condition operand: a missing tag (or an unknown name) is `""`.
    fn operand(&self, e: &Expr, series: &SeriesRun, row: usize) -> Datum {
        match e {
            Expr::Var(v) => match self.resolve(v) {
                Resolved::Field(c) => c.get(row),
                Resolved::Tag(i) => {
                    Datum::String(Arc::from(series.tags[i].as_deref().unwrap_or("")))
                }
                Resolved::Unknown => Datum::String(Arc::from("")),
            },
            Expr::Binary(l, op, r) => super::value::arith(
                &self.operand(l, series, row),
                *op,
                &self.operand(r, series, row),
            ),
            other => self.eval(other, series, row),
        }
    }

    /// Whether `row` of `series` satisfies `cond`.
    pub fn matches(&self, cond: &Cond, series: &SeriesRun, row: usize) -> bool {
        match cond {
            Cond::True => true,
            Cond::False => false,
            Cond::And(a, b) => self.matches(a, series, row) && self.matches(b, series, row),
            Cond::Or(a, b) => self.matches(a, series, row) || self.matches(b, series, row),
            Cond::Cmp(l, op, r) => compare(
                &self.operand(l, series, row),
                *op,
                &self.operand(r, series, row),
            ),
            Cond::Regex { var, re, negated } => {
                let v = self.operand(&Expr::Var(var.clone()), series, row);
                match v {
                    Datum::String(s) => re.is_match(&s) != *negated,
                    _ => false,
                }
            }
        }
    }

    /// A measurement with these tag keys (sorted) and no rows: decides a condition that reads
    /// no field for one series' tags before any row is read ([`Self::matches_tags`]).
    pub fn probe(tag_keys: &[String]) -> Self {
        Self {
            name: String::new(),
            tag_keys: tag_keys.to_vec(),
            series: Vec::new(),
            times: ScalarBuffer::from(Vec::new()),
            fields: HashMap::new(),
        }
    }

    /// Whether a series with `tags` (sorted by key, absent tags omitted) satisfies `cond`, as
    /// [`Self::matches`] decides it for that series' rows when `cond` reads no field.
    pub fn matches_tags(&self, cond: &Cond, tags: &[(String, String)]) -> bool {
        let run = SeriesRun {
            tags: self
                .tag_keys
                .iter()
                .map(|k| {
                    tags.binary_search_by(|(t, _)| t.as_str().cmp(k))
                        .ok()
                        .map(|i| tags[i].1.clone())
                })
                .collect(),
            start: 0,
            end: 0,
        };
        self.matches(cond, &run, 0)
    }

    /// True when `cond` reads a field of this measurement (else it is decided per series).
    pub fn cond_reads_fields(&self, cond: &Cond) -> bool {
        let mut vars = Vec::new();
        cond.vars(&mut vars);
        vars.iter()
            .any(|v| matches!(self.resolve(v), Resolved::Field(_)))
    }
}
