//! Behaviour tests of the forwarder against the fault-injecting server in `fake`.

#![allow(clippy::unwrap_used)]

mod fake;
mod scenarios;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::{
    Destination, ForwardConfig, ForwardError, ForwardStatus, Forwarder, Resolve, UpstreamApi,
};
use crate::model::{BucketName, Entry, Precision, Record, RecordKind, TenantId, WalSeq};

/// Destinations `org-<tenant>` / `up_<bucket>` with a switchable token.
pub struct Map {
    pub token: Mutex<String>,
}

impl Resolve for Map {
    fn destination(&self, tenant: &TenantId, bucket: &BucketName) -> Option<Destination> {
        Some(Destination {
            org: format!("org-{tenant}"),
            bucket: format!("up_{bucket}"),
            token: Some(self.token.lock().unwrap().clone()),
            username: None,
            password: None,
        })
    }
}

pub fn config(url: url::Url, api: UpstreamApi, dir: &std::path::Path) -> ForwardConfig {
    let mut cfg = ForwardConfig::new(url, api, dir.to_path_buf());
    cfg.timeout = Duration::from_secs(5);
    cfg.min_backoff = Duration::from_millis(1);
    cfg.max_backoff = Duration::from_millis(20);
    cfg
}

pub fn record(
    seq: u64,
    tenant: &str,
    bucket: &str,
    precision: Precision,
    lines: &[String],
) -> Record {
    let mut body = String::new();
    for l in lines {
        body.push_str(l);
        body.push('\n');
    }
    Record {
        seq: WalSeq(seq),
        entry: Entry {
            tenant: TenantId::new(tenant).unwrap(),
            bucket: BucketName::new(bucket).unwrap(),
            precision,
            kind: RecordKind::Write,
            lines: Bytes::from(body),
        },
    }
}

/// A running forwarder.
pub struct Running {
    pub tx: Option<mpsc::Sender<Record>>,
    pub acked: watch::Receiver<WalSeq>,
    pub shutdown: watch::Sender<bool>,
    pub status: ForwardStatus,
    pub task: JoinHandle<Result<(), ForwardError>>,
    pub resolve: Arc<Map>,
}

pub fn start(cfg: ForwardConfig, token: &str) -> Running {
    let sink = Arc::new(super::FileSink::new(cfg.dead_letter_dir.clone()));
    start_with_sink(cfg, token, sink)
}

pub fn start_with_sink(
    cfg: ForwardConfig,
    token: &str,
    sink: Arc<dyn super::DeadLetterSink>,
) -> Running {
    let resolve = Arc::new(Map {
        token: Mutex::new(token.to_owned()),
    });
    let fwd = Forwarder::with_dead_letter_sink(cfg, resolve.clone(), sink).unwrap();
    let status = fwd.status();
    let (tx, rx) = mpsc::channel(64);
    let (acked_tx, acked) = watch::channel(WalSeq(0));
    let (shutdown, shutdown_rx) = watch::channel(false);
    let task = tokio::spawn(fwd.run(rx, acked_tx, shutdown_rx));
    Running {
        tx: Some(tx),
        acked,
        shutdown,
        status,
        task,
        resolve,
    }
}

impl Running {
    pub async fn send(&self, rec: Record) {
        self.tx.as_ref().unwrap().send(rec).await.unwrap();
    }

    /// Closes the input and waits for `run` to return.
    pub async fn finish(mut self) -> (WalSeq, ForwardStatus) {
        self.tx = None;
        let res = tokio::time::timeout(Duration::from_secs(20), self.task).await;
        res.expect("run returns once the input is closed and drained")
            .unwrap()
            .unwrap();
        (*self.acked.borrow(), self.status)
    }

    pub async fn wait_for(&self, what: &str, mut f: impl FnMut(&super::StatusSnapshot) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !f(&self.status.snapshot()) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Lines unique across a test: `m,lane=<lane> seq=<seq>i,n=<n>i <ts>`.
pub fn lines_for(lane: &str, seq: u64, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("m,lane={lane} seq={seq}i,n={i}i {}", seq * 100 + i as u64))
        .collect()
}

pub fn unique(lines: &[String]) -> HashSet<String> {
    lines.iter().cloned().collect()
}

/// Dead letters of `tenant` as JSON values.
pub fn dead_letters(dir: &std::path::Path, tenant: &str) -> Vec<serde_json::Value> {
    match std::fs::read_to_string(dir.join(format!("{tenant}.jsonl"))) {
        Ok(s) => s
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
        Err(_) => Vec::new(),
    }
}
