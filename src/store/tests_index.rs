//! `SeriesIndex::select` and `values_held` against their definitions, series by series, on
//! indexes of up to 300 series (bitmaps of several words), with tags some series lack.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::read::{SeriesIndex, SeriesKey};

const KEYS: [&str; 3] = ["a", "b", "c"];
const VALUES: [&str; 4] = ["w", "x", "y", "z"];

fn series() -> impl Strategy<Value = Vec<SeriesKey>> {
    // Per series and key: absent (None) or one of VALUES.
    let one = prop::collection::vec(prop::option::of(0..VALUES.len()), KEYS.len());
    prop::collection::vec(one, 0..300).prop_map(|all| {
        all.into_iter()
            .map(|tags| {
                KEYS.iter()
                    .zip(tags)
                    .filter_map(|(k, v)| v.map(|v| ((*k).to_owned(), VALUES[v].to_owned())))
                    .collect()
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn select_and_values_held_match_their_definitions(
        all in series(),
        key in prop::sample::select(vec!["a", "b", "c", "d"]),
        // Which of "", VALUES pass the test.
        passes in prop::collection::vec(any::<bool>(), VALUES.len() + 1),
        other in prop::sample::select(vec!["a", "b", "c"]),
    ) {
        let index = SeriesIndex::new(all);
        let test = |v: &str| match VALUES.iter().position(|x| *x == v) {
            Some(j) => passes[j + 1],
            None => passes[0],
        };
        let got = index.select(key, test);
        prop_assert_eq!(got.len(), index.series().len());
        let value = |s: &SeriesKey, k: &str| {
            s.iter().find(|(t, _)| t == k).map_or(String::new(), |(_, v)| v.clone())
        };
        for (i, s) in index.series().iter().enumerate() {
            prop_assert_eq!(got.value(i), test(&value(s, key)), "series {}: {:?}", i, s);
        }
        let held: Vec<String> = index
            .values_held(other, &got)
            .iter()
            .map(|v| v.to_string())
            .collect();
        let want: BTreeSet<String> = index
            .series()
            .iter()
            .enumerate()
            .filter(|(i, _)| got.value(*i))
            .map(|(_, s)| value(s, other))
            .filter(|v| !v.is_empty())
            .collect();
        prop_assert_eq!(held, want.into_iter().collect::<Vec<_>>());
    }
}
