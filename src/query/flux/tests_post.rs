//! `derivative` and a scaling `map` after a lowered window (`lower::post`) answer what the
//! interpreter answers, down to the column types of tables whose values are all null. (The
//! queries of `tests_lower` cover them over its larger data set.)

use super::tests_eval::T0;
use super::tests_lower::{M, RA, run};
use crate::query::exec::mem::MemStore;
use crate::store::Value as SV;

/// Measurement `x`, field `v`: each host's values from `T0`, `step` apart.
pub(super) fn hosts(series: &[(&str, Vec<SV>)], step: i64) -> MemStore {
    let mut m = MemStore::new();
    for (host, vals) in series {
        for (i, v) in vals.iter().enumerate() {
            m.push(
                "acme",
                "telegraf",
                "x",
                &[("host", host)],
                vec![("v", v.clone())],
                T0 + i as i64 * step,
            )
            .expect("push");
        }
    }
    m.seal().expect("seal");
    m
}

#[test]
fn a_map_after_a_lowered_derivative_types_an_all_null_value_as_the_interpreter() {
    // Falls only: with nonNegative every derivative is null, and `map` types a column without
    // a value string; a series of one window has no derivative row at all.
    let m = hosts(
        &[
            ("a", vec![SV::Integer(30), SV::Integer(20), SV::Integer(10)]),
            ("b", vec![SV::Integer(5)]),
        ],
        M,
    );
    for tail in [
        "derivative(nonNegative: true) |> map(fn: (r) => ({r with _value: r._value * 8.0}))",
        "derivative(nonNegative: true)",
        "derivative(nonNegative: false) |> map(fn: (r) => ({r with _value: r._value * 8.0}))",
    ] {
        let q = format!(
            "{RA} |> filter(fn: (r) => r._measurement == \"x\") |> aggregateWindow(every: 1m, fn: mean, createEmpty: false) |> {tail}"
        );
        let (want, _) = run(&m, &q, false);
        let (got, lowered) = run(&m, &q, true);
        assert_eq!(lowered, 1);
        assert_eq!(got, want, "{q}");
    }
}
