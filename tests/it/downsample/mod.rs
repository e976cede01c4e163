//! Streaming downsampling (issue 7) against real servers: agreement with InfluxDB 1.6.7's
//! own aggregates, late data, kill -9 while data streams in.

mod agreement;
mod backfill;
mod common;
mod crash;
mod data;
mod late;
