//! A lowered window's tables written from their columns (`columns`, `csv::encode_answers`)
//! answer what their rows answer and what the interpreter answers, in every dialect: each
//! annotation alone and together, without a header, with delimiters that make times or numbers
//! quoted; with several tables, empty tables (a derivative of one window), and tables a call
//! after `yield` needs as rows.

use super::FluxAnswer;
use super::columns::Tables;
use super::csv::{Annotation, Dialect, PIECE_BYTES, encode, encode_answers};
use super::tests_eval::grafana;
use super::tests_lower::{IN, M, OUT, R, data, execute_on};
use super::tests_post::hosts;
use crate::query::exec::mem::MemStore;
use crate::store::Value as SV;

/// The answers of `q`, lowered (`lower: true`) or interpreted, and how many reads lowered.
fn answers(m: &MemStore, q: &str, lower: bool) -> (Vec<FluxAnswer>, usize) {
    let (answer, lowered) = execute_on(m, q, lower);
    let answers = answer.unwrap_or_else(|e| panic!("{q}: {}", e.message));
    (answers, lowered)
}

fn dialects() -> Vec<Dialect> {
    let d = |header, delimiter, annotations| Dialect {
        header,
        delimiter,
        annotations,
    };
    use Annotation::*;
    vec![
        grafana(),
        Dialect::default(),
        d(true, ',', vec![Default]),
        d(true, ',', vec![Group, Datatype]),
        d(false, ',', vec![Datatype]),
        d(false, ',', vec![]),
        d(true, ';', vec![Datatype, Group, Default]),
        d(true, '\t', vec![Default]),
        // Times hold `:`, `-` and `.`; numbers `.` and digits: all quoted.
        d(true, ':', vec![Datatype, Group, Default]),
        d(true, '.', vec![Default]),
        d(true, '0', vec![Datatype]),
    ]
}

/// `q` both ways in every dialect: columns, their rows and the interpreter write the same.
fn check(m: &MemStore, q: &str) -> usize {
    let (want, _) = answers(m, q, false);
    let want: Vec<_> = want.into_iter().map(FluxAnswer::into_result).collect();
    let (got, lowered) = answers(m, q, true);
    assert!(
        got.iter()
            .any(|a| matches!(&a.tables, Tables::Windows(w) if !w.is_empty())),
        "written from columns: {q}"
    );
    let rows: Vec<_> = got.iter().cloned().map(FluxAnswer::into_result).collect();
    assert_eq!(rows, want, "rows of the columns of\n{q}");
    for d in dialects() {
        let text = encode_answers(&got, &d).concat();
        assert_eq!(text, encode(&want, &d), "{d:?}\n{q}");
        assert!(text.lines().count() > 1, "{d:?}\n{q}\n{text}");
    }
    lowered
}

#[test]
fn windows_written_from_columns_answer_as_rows_in_every_dialect() {
    let m = data();
    for tail in [
        // Several tables, each series its own; `_start`/`_stop` in the key (the range's).
        "aggregateWindow(every: 1m, fn: mean)",
        "aggregateWindow(every: 2m, fn: count, createEmpty: true)",
        // Empty windows (null values), `_start`/`_stop` the windows' (not in the key).
        "group(columns: [\"ifName\"]) |> aggregateWindow(every: 1m, fn: mean, createEmpty: true)",
        "group(columns: [\"agent_host\"]) |> aggregateWindow(every: 7m, offset: 3m, fn: sum)",
        "group() |> aggregateWindow(every: 5m, fn: spread, createEmpty: false)",
        // The benchmark's rate: derivative and a scaling map with the window.
        "group(columns: [\"ifName\"]) |> aggregateWindow(every: 1m, fn: mean, createEmpty: true) |> derivative(unit: 1s, nonNegative: true) |> map(fn: (r) => ({r with _value: r._value * 8.0}))",
        "aggregateWindow(every: 1m, fn: max) |> derivative(unit: 10s, nonNegative: false)",
        // The literal first: the operands are not swapped.
        "aggregateWindow(every: 1m, fn: mean) |> derivative(unit: 1s, nonNegative: false) |> map(fn: (r) => ({r with _value: 1000.0 - r._value}))",
        "aggregateWindow(every: 1m, fn: mean) |> derivative(unit: 1s, nonNegative: true) |> map(fn: (r) => ({r with _value: 1.0 / r._value}))",
    ] {
        for read in [IN, OUT] {
            let q = format!("{R} |> {read} |> {tail}");
            assert_eq!(check(&m, &q), 1, "{q}");
        }
    }
}

#[test]
fn empty_tables_among_windows_written_from_columns_answer_as_rows() {
    // Host `b` has one window: no derivative row, an empty table between two with rows.
    let m = hosts(
        &[
            ("a", vec![SV::Integer(10), SV::Integer(20), SV::Integer(40)]),
            ("b", vec![SV::Integer(5)]),
            ("c", vec![SV::Integer(1), SV::Integer(0), SV::Integer(3)]),
        ],
        M,
    );
    let q = format!(
        "{} |> filter(fn: (r) => r._measurement == \"x\") |> aggregateWindow(every: 1m, fn: mean, createEmpty: false) |> derivative(nonNegative: true) |> map(fn: (r) => ({{r with _value: r._value * 8.0}}))",
        super::tests_lower::RA
    );
    check(&m, &q);
    let (got, _) = answers(&m, &q, true);
    let Tables::Windows(w) = &got[0].tables else {
        panic!("columns: {got:?}")
    };
    assert_eq!(w.iter().map(|t| t.len()).collect::<Vec<_>>(), [2, 0, 2]);
}

#[test]
fn windows_a_call_after_yield_needs_are_read_as_rows() {
    let m = data();
    let q = format!(
        "{R} |> {IN} |> aggregateWindow(every: 1m, fn: mean) |> yield(name: \"w\") |> filter(fn: (r) => r._value > 2000000.0) |> yield(name: \"f\")"
    );
    let (want, _) = answers(&m, &q, false);
    let want: Vec<_> = want.into_iter().map(FluxAnswer::into_result).collect();
    let (got, lowered) = answers(&m, &q, true);
    assert_eq!(lowered, 1);
    assert!(matches!(&got[0].tables, Tables::Windows(_)), "{got:?}");
    assert!(matches!(&got[1].tables, Tables::Rows(_)), "{got:?}");
    assert_eq!(
        encode_answers(&got, &grafana()).concat(),
        encode(&want, &grafana())
    );
    let text = encode(&want, &grafana());
    assert!(
        text.contains("#default,w,") && text.contains("#default,f,"),
        "{text}"
    );
}

#[test]
fn an_answer_is_written_in_large_pieces_that_join_to_it() {
    let m = data();
    let q = format!(
        "{R} |> {IN} |> aggregateWindow(every: 5s, fn: mean) |> yield(name: \"a\")\n{R} |> {OUT} |> yield(name: \"b\")"
    );
    let (got, _) = answers(&m, &q, true);
    let pieces = encode_answers(&got, &grafana());
    assert!(pieces.len() > 1, "{}", pieces.len());
    let (last, rest) = pieces.split_last().expect("pieces");
    assert!(rest.iter().all(|p| p.len() >= PIECE_BYTES) && !last.is_empty());
    let rows: Vec<_> = got.into_iter().map(FluxAnswer::into_result).collect();
    assert_eq!(pieces.concat(), encode(&rows, &grafana()));
}

/// A `schema.*` answer kept as its one column of values (`ValuesTable`) writes what its rows
/// write, in every dialect: values that must be quoted (a delimiter, a quote, a leading space,
/// CR or LF), an empty one, and no value at all; a call after it reads it as rows.
#[test]
fn values_written_from_their_column_answer_as_rows_in_every_dialect() {
    use super::columns::ValuesTable;
    use std::sync::Arc;
    let all = [
        "a",
        "",
        "b,c",
        "q\"uote",
        " lead",
        "semi;colon",
        "tab\there",
        "cr\rlf\n",
        "10.0.0.1",
        "2024-06-01T10:00:00Z",
    ];
    for values in [&all[..], &all[..1], &[]] {
        let values: Vec<Arc<str>> = values.iter().map(|v| Arc::from(*v)).collect();
        let got = vec![FluxAnswer {
            name: "_result".into(),
            tables: Tables::Values(vec![ValuesTable::new(values.clone())]),
        }];
        let want: Vec<_> = got.iter().cloned().map(FluxAnswer::into_result).collect();
        assert_eq!(want[0].tables[0].rows.len(), values.len());
        for d in dialects() {
            assert_eq!(
                encode_answers(&got, &d).concat(),
                encode(&want, &d),
                "{d:?} {values:?}"
            );
        }
    }
    // From the engine: a tag's values as a column, and as rows once `filter` reads them.
    let m = data();
    let schema = "import \"influxdata/influxdb/schema\"\n";
    let q = format!("{schema}schema.tagValues(bucket: \"telegraf\", tag: \"agent_host\")");
    let (got, _) = answers(&m, &q, true);
    assert!(
        matches!(&got[0].tables, Tables::Values(v) if !v[0].values.is_empty()),
        "{got:?}"
    );
    let q = format!("{q} |> filter(fn: (r) => r._value != \"\")");
    let (got, _) = answers(&m, &q, true);
    assert!(
        matches!(&got[0].tables, Tables::Rows(t) if !t[0].rows.is_empty()),
        "{got:?}"
    );
}
