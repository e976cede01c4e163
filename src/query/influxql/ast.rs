//! The InfluxQL syntax tree: what `parser` produces, `print` writes back, and `lower` consumes.
//!
//! Owns: the statement and expression types of the subset sluice parses (docs/influxql.md).
//! Does not own: checking meaning (a `GROUP BY mean(x)` parses; lowering refuses it, as
//! InfluxDB's compiler does), nor any IO.
//!
//! The tree keeps what InfluxDB 1.x's parser keeps, so that refusals can name what was written:
//! parentheses stay (`Expr::Paren`), duration literals keep their text (`1717236000000ms`), call
//! names are lower-cased, keywords are not identifiers. Printing a tree (`Display`, in `print`)
//! gives canonical InfluxQL that parses back to the same tree.

/// Several statements separated by `;`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    pub statements: Vec<Statement>,
}

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    Select(Box<SelectStatement>),
    /// `SHOW DATABASES`.
    ShowDatabases,
    ShowMeasurements(ShowMeasurements),
    ShowTagKeys(ShowTagKeys),
    ShowTagValues(ShowTagValues),
    ShowFieldKeys(ShowFieldKeys),
    ShowRetentionPolicies(ShowRetentionPolicies),
    ShowSeries(ShowSeries),
    CreateDatabase(CreateDatabase),
    /// A statement of InfluxQL that sluice recognises but does not run: administration
    /// (`DROP …`, `DELETE …`, users, grants, retention policies, continuous queries,
    /// subscriptions, `KILL QUERY`, `EXPLAIN`, `SET PASSWORD`), diagnostics (`SHOW USERS`,
    /// `SHOW GRANTS`, `SHOW QUERIES`, `SHOW STATS`, `SHOW DIAGNOSTICS`, `SHOW SHARDS`, …) and the
    /// cardinality statements (`SHOW SERIES CARDINALITY`, `SHOW TAG KEY CARDINALITY`, …).
    /// The executor answers it with an error naming `name`.
    Unsupported {
        /// The statement's leading keywords in upper case, e.g. `DROP DATABASE`,
        /// `SHOW SERIES CARDINALITY`, `SHOW TAG VALUES EXACT CARDINALITY`.
        name: String,
        /// The statement's text as written (trimmed, without the separating `;`); its syntax
        /// after the leading keywords is not checked.
        text: String,
    },
}

/// `SELECT fields [INTO target] FROM sources [WHERE cond] [GROUP BY dims] [fill(…)]
/// [ORDER BY time ASC|DESC] [LIMIT n] [OFFSET n] [SLIMIT n] [SOFFSET n] [tz('…')]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectStatement {
    /// At least one.
    pub fields: Vec<Field>,
    /// `INTO …`: parsed so the executor can refuse it by name.
    pub into: Option<IntoTarget>,
    /// At least one.
    pub sources: Vec<Source>,
    /// `WHERE …`.
    pub condition: Option<Expr>,
    /// `GROUP BY …`, in the order written; empty when absent.
    pub group_by: Vec<Dimension>,
    /// `fill(…)`; `None` when absent (InfluxDB then fills with null).
    pub fill: Option<Fill>,
    /// `ORDER BY time [ASC|DESC]` (InfluxDB accepts only `time`; `ORDER BY DESC` is the same).
    pub order_by: Option<SortOrder>,
    /// `LIMIT n`. As in InfluxDB, `Some(0)` means no limit.
    pub limit: Option<u64>,
    /// `OFFSET n`.
    pub offset: Option<u64>,
    /// `SLIMIT n` (series limit). `Some(0)` means no limit.
    pub slimit: Option<u64>,
    /// `SOFFSET n` (series offset).
    pub soffset: Option<u64>,
    /// `tz('Europe/Paris')`: the IANA name as written; the parser checked that chrono-tz knows it.
    pub tz: Option<String>,
}

/// One item of the SELECT list: `expr [AS alias]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub expr: Expr,
    pub alias: Option<String>,
}

/// `INTO [[db.]rp.]measurement` or `INTO [[db.]rp.]:MEASUREMENT`.
#[derive(Debug, Clone, PartialEq)]
pub struct IntoTarget {
    pub database: Option<String>,
    pub retention_policy: Option<String>,
    /// `None` for `:MEASUREMENT` (the source's name).
    pub measurement: Option<String>,
}

/// One item of a FROM list.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Measurement(Measurement),
    /// `(SELECT …)`: parsed; sluice's engine refuses it.
    Subquery(Box<SelectStatement>),
}

/// `m`, `rp.m`, `db.rp.m`, `db..m`, `/re/`, `rp./re/`, `db.rp./re/`, `db../re/`.
///
/// An empty segment (`""` or the gap in `db..m`) is `None`: InfluxDB treats both as absent.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    pub database: Option<String>,
    pub retention_policy: Option<String>,
    pub name: MeasurementName,
}

/// A measurement named exactly, or every measurement a regex matches.
#[derive(Debug, Clone, PartialEq)]
pub enum MeasurementName {
    Name(String),
    Regex(RegexLit),
}

/// One item of `GROUP BY`.
#[derive(Debug, Clone, PartialEq)]
pub enum Dimension {
    /// `time(interval)` or `time(interval, offset)` with duration literals (offset may be
    /// negative: `time(1h, -15m)`).
    Time {
        interval: DurationLit,
        offset: Option<DurationLit>,
    },
    /// A tag key: `host`, `"host"`, `"host"::tag` (a cast is dropped).
    Tag(String),
    /// `*`: every tag.
    Wildcard,
    /// `/regex/`: every tag key the regex matches.
    Regex(RegexLit),
    /// Anything else the grammar allows (`time(now())`, `mean(x)`, `(host)`, `'s'`):
    /// kept for lowering to refuse the way InfluxDB's compiler does.
    Other(Expr),
}

/// `fill(…)`.
#[derive(Debug, Clone, PartialEq)]
pub enum Fill {
    /// `fill(null)`: empty windows answer null (the default).
    Null,
    /// `fill(none)`: empty windows are left out.
    None,
    /// `fill(previous)`.
    Previous,
    /// `fill(linear)`.
    Linear,
    /// `fill(42)`, `fill(-1)`.
    Integer(i64),
    /// `fill(0.5)`.
    Float(f64),
}

/// Sort direction of `ORDER BY time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Asc,
    Desc,
}

/// An expression of the SELECT list, WHERE, GROUP BY or a call argument.
///
/// Binary trees are built by precedence, left-associative (`OR` < `AND` < comparisons <
/// `+ - | ^` < `* / % &`); a parenthesised sub-expression stays an `Expr::Paren`. Unary minus
/// folds into numeric and duration literals (`-5`, `-15m`); applied to a variable, a call or a
/// parenthesised expression it becomes `-1 * x` (`Binary { op: Mul, lhs: Integer(-1), .. }`),
/// as InfluxDB's parser does (unary plus: `1 * x`).
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A field or tag name, or `time`: `usage_idle`, `"usage idle"`, `"x"::field`.
    /// Dotted segments (`"a"."b"`) are joined with `.` into one name, as InfluxDB does.
    VarRef {
        name: String,
        data_type: Option<DataType>,
    },
    /// `*`, `*::field`, `*::tag`.
    Wildcard(Option<WildcardKind>),
    /// `name(args…)`; `name` lower-cased (`MEAN("x")` is `mean`). `now()` is a call without
    /// arguments.
    Call { name: String, args: Vec<Expr> },
    /// `DISTINCT x` (without parentheses; `DISTINCT(x)` is a call named `distinct`).
    Distinct(String),
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `( expr )`.
    Paren(Box<Expr>),
    /// An integer literal that fits i64 (`42`, `-5`).
    Integer(i64),
    /// An integer literal above i64::MAX (up to u64::MAX).
    Unsigned(u64),
    /// A literal with a fractional part (`0.5`, `-1.25`); InfluxQL has no exponent syntax.
    Float(f64),
    /// `'text'`, unescaped (`\'` → `'`, `\\` → `\`, `\n` → newline).
    String(String),
    /// `true` / `false` (any case).
    Boolean(bool),
    /// A duration, or an integer with a unit: `10s`, `1h30m`, `-15m`, `1717236000000ms`.
    Duration(DurationLit),
    /// `/…/`: only where InfluxQL's grammar reads one (right of `=~`/`!~`, a call argument,
    /// a SELECT item, a GROUP BY item).
    Regex(RegexLit),
}

/// Binary operators, lowest to highest precedence: `OR`; `AND`; comparisons; `+ - | ^`;
/// `* / % &`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Or,
    And,
    /// `=`
    Eq,
    /// `!=` or `<>`
    Neq,
    /// `=~`
    EqRegex,
    /// `!~`
    NeqRegex,
    Lt,
    Lte,
    Gt,
    Gte,
    Add,
    Sub,
    /// `|`
    BitOr,
    /// `^`
    BitXor,
    Mul,
    Div,
    /// `%`
    Mod,
    /// `&`
    BitAnd,
}

impl BinaryOp {
    /// InfluxQL's precedence: 1 (`OR`) to 5 (`* / % &`).
    pub fn precedence(self) -> u8 {
        match self {
            Self::Or => 1,
            Self::And => 2,
            Self::Eq
            | Self::Neq
            | Self::EqRegex
            | Self::NeqRegex
            | Self::Lt
            | Self::Lte
            | Self::Gt
            | Self::Gte => 3,
            Self::Add | Self::Sub | Self::BitOr | Self::BitXor => 4,
            Self::Mul | Self::Div | Self::Mod | Self::BitAnd => 5,
        }
    }

    /// The operator as InfluxQL writes it (`<>` prints as `!=`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Or => "OR",
            Self::And => "AND",
            Self::Eq => "=",
            Self::Neq => "!=",
            Self::EqRegex => "=~",
            Self::NeqRegex => "!~",
            Self::Lt => "<",
            Self::Lte => "<=",
            Self::Gt => ">",
            Self::Gte => ">=",
            Self::Add => "+",
            Self::Sub => "-",
            Self::BitOr => "|",
            Self::BitXor => "^",
            Self::Mul => "*",
            Self::Div => "/",
            Self::Mod => "%",
            Self::BitAnd => "&",
        }
    }

    /// `=`, `!=`, `=~`, `!~`, `<`, `<=`, `>`, `>=`, `AND`, `OR`: the operators InfluxDB refuses
    /// in a SELECT list.
    pub fn is_boolean(self) -> bool {
        self.precedence() <= 3
    }
}

/// The cast after `::` on a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    Float,
    Integer,
    Unsigned,
    String,
    Boolean,
    /// `::field`: any field type.
    Field,
    /// `::tag`.
    Tag,
}

impl DataType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Float => "float",
            Self::Integer => "integer",
            Self::Unsigned => "unsigned",
            Self::String => "string",
            Self::Boolean => "boolean",
            Self::Field => "field",
            Self::Tag => "tag",
        }
    }
}

/// The cast after `*::`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WildcardKind {
    Field,
    Tag,
}

/// A duration literal: its value and its text as written.
///
/// `text` is digits-and-units (`10s`, `1h30m`, `1717236000000ms`, `1µ`), with a leading `-`
/// when negated (`-15m`), or `INF` (0, only in `CREATE DATABASE … WITH DURATION`).
/// Units: `ns`, `u`/`µ`, `ms`, `s`, `m`, `h`, `d`, `w`. See `parser::parse_duration`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationLit {
    /// The value in nanoseconds.
    pub nanos: i64,
    pub text: String,
}

/// A regex literal: the pattern between the slashes, with `\/` unescaped to `/` (other
/// escapes are the regex's own and kept as written), compiled once when the query is parsed
/// with the `regex` crate (the one the engine runs). Equal when the patterns are.
#[derive(Debug, Clone)]
pub struct RegexLit {
    pub pattern: String,
    regex: regex::Regex,
}

impl RegexLit {
    /// Compiles `pattern` (the `regex` crate's syntax, under `query::pattern`'s bounds).
    /// Unanchored, like InfluxDB's `=~`.
    pub fn new(pattern: String) -> Result<Self, regex::Error> {
        let regex = crate::query::pattern::compile(&pattern)?;
        Ok(Self { pattern, regex })
    }

    /// The compiled pattern (sharing its program: a clone is cheap).
    pub fn regex(&self) -> &regex::Regex {
        &self.regex
    }
}

impl PartialEq for RegexLit {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

impl Eq for RegexLit {}

/// `SHOW MEASUREMENTS [ON db] [WITH MEASUREMENT (= m | =~ /re/)] [WHERE …]
/// [ORDER BY time] [LIMIT n] [OFFSET n]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ShowMeasurements {
    pub database: Option<String>,
    /// `WITH MEASUREMENT = name` (a `Name`) or `=~ /re/` (a `Regex`); like InfluxDB, the
    /// operator is not kept: the kind of name decides.
    pub with_measurement: Option<Measurement>,
    pub condition: Option<Expr>,
    pub order_by: Option<SortOrder>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

/// `SHOW TAG KEYS [ON db] [FROM …] [WHERE …] [ORDER BY time] [LIMIT n] [OFFSET n]
/// [SLIMIT n] [SOFFSET n]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ShowTagKeys {
    pub database: Option<String>,
    /// Empty when there is no FROM (every measurement).
    pub sources: Vec<Source>,
    pub condition: Option<Expr>,
    pub order_by: Option<SortOrder>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    pub slimit: Option<u64>,
    pub soffset: Option<u64>,
}

/// `SHOW TAG VALUES [ON db] [FROM …] WITH KEY … [WHERE …] [ORDER BY time] [LIMIT n]
/// [OFFSET n]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ShowTagValues {
    pub database: Option<String>,
    pub sources: Vec<Source>,
    pub key: TagKeyFilter,
    pub condition: Option<Expr>,
    pub order_by: Option<SortOrder>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

/// The `WITH KEY` clause of `SHOW TAG VALUES`.
#[derive(Debug, Clone, PartialEq)]
pub enum TagKeyFilter {
    /// `= "k"`
    Eq(String),
    /// `!= "k"` (or `<>`)
    Neq(String),
    /// `=~ /re/`
    EqRegex(RegexLit),
    /// `!~ /re/`
    NeqRegex(RegexLit),
    /// `IN ("a", "b")`: at least one key.
    In(Vec<String>),
}

/// `SHOW FIELD KEYS [ON db] [FROM …] [ORDER BY time] [LIMIT n] [OFFSET n]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ShowFieldKeys {
    pub database: Option<String>,
    pub sources: Vec<Source>,
    pub order_by: Option<SortOrder>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

/// `SHOW RETENTION POLICIES [ON db]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ShowRetentionPolicies {
    pub database: Option<String>,
}

/// `SHOW SERIES [ON db] [FROM …] [WHERE …] [ORDER BY time] [LIMIT n] [OFFSET n]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ShowSeries {
    pub database: Option<String>,
    pub sources: Vec<Source>,
    pub condition: Option<Expr>,
    pub order_by: Option<SortOrder>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

/// `CREATE DATABASE name [WITH [DURATION d] [REPLICATION n] [SHARD DURATION d] [NAME rp]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateDatabase {
    pub name: String,
    /// The `WITH …` clause, when present (at least one of its parts is set).
    pub retention: Option<RetentionSpec>,
}

/// The default retention policy `CREATE DATABASE … WITH …` asks for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RetentionSpec {
    /// `DURATION d` (`INF` is `nanos == 0`).
    pub duration: Option<DurationLit>,
    /// `REPLICATION n` (1 ..= i32::MAX).
    pub replication: Option<u32>,
    /// `SHARD DURATION d`.
    pub shard_duration: Option<DurationLit>,
    /// `NAME rp`.
    pub name: Option<String>,
}
