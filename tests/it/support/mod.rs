//! Test support: real peer servers (InfluxDB 1.x, VictoriaMetrics), a real sluice process,
//! and Telegraf's requests replayed. Every server runs on 127.0.0.1 ports picked at start,
//! keeps its data in a temp dir, and is killed (by PID) when its handle is dropped.
//!
//! Not every test uses every helper, hence `dead_code` is allowed here.
#![allow(dead_code)]

pub mod grafana;
pub mod http;
pub mod influxdb;
pub mod point;
pub mod ports;
pub mod process;
pub mod sluice;
pub mod telegraf;
pub mod victoria;
