//! Fuzz the Flux front-end: parsing and checking never panic and stay within their bounds, and
//! whatever compiles runs (over an empty store) to an answer or an error, never a panic, and
//! encodes as annotated CSV.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice::model::{BucketName, TenantId};
use sluice::query::exec::mem::MemStore;
use sluice::query::flux::csv::{Annotation, Dialect, encode};
use sluice::query::flux::{FluxContext, compile, execute};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(program) = compile(text) else { return };
    let store = MemStore::new();
    let Ok(tenant) = TenantId::new("fuzz") else { return };
    let resolve = |name: &str| BucketName::new(name).ok();
    let ctx = FluxContext {
        tenant: &tenant,
        store: Some(&store),
        resolve: &resolve,
        buckets: Vec::new(),
        retention_ns: 0,
        now_ns: 1_717_236_000_000_000_000,
        max_scan_bytes: 1 << 20,
        max_rows: 10_000,
    };
    if let Ok(results) = execute(&program, &ctx) {
        let d = Dialect {
            header: true,
            delimiter: ',',
            annotations: vec![Annotation::Datatype, Annotation::Group, Annotation::Default],
        };
        let csv = encode(&results, &d);
        assert!(csv.is_empty() || csv.ends_with("\r\n"));
    }
});
