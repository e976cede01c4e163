//! Fuzz the InfluxQL parser: it never panics, stays within its bounds, and whatever it
//! accepts prints as text that parses back to the same tree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice::query::influxql::parse_query_limited;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(query) = parse_query_limited(text, 64 * 1024) else { return };
    let printed = query.to_string();
    match parse_query_limited(&printed, 1 << 20) {
        Ok(again) => assert_eq!(again, query, "input {text:?} printed as {printed:?}"),
        Err(e) => panic!("input {text:?} printed as {printed:?}, which fails: {e}"),
    }
});
