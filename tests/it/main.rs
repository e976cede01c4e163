//! The one integration-test binary. `support` starts real servers; each other module is a
//! group of tests. Peer tests skip (loudly) only when a peer binary is missing and `CI` is unset.

mod bench;
mod dashboards;
mod deploy;
mod downsample;
mod durability;
mod flux;
mod forward_v1;
mod influxql;
mod isolation;
mod limits;
mod metrics;
mod passthrough;
mod peers;
mod sluice_dashboard;
mod sluice_process;
mod store;
mod store_inspect;
mod store_soak;
mod support;
mod write_api;
