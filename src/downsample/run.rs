//! The downsampler as a WAL consumer: one OS thread reads records after its cursor, feeds the
//! engine, appends the rollups to the WAL as derived records, then checkpoints the watermarks
//! and moves its cursor to the oldest record still needed.
//!
//! Owns: the thread, start-up replay (windows are rebuilt from the cursor with the
//! checkpointed watermarks, without emitting, then every closed window is emitted once), the
//! order "rollups durable → checkpoint → cursor", counting rollups for cardinality in their
//! own bucket, and the numbers `/metrics` shows. Does not own the state machine (`state`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::time::Instant;

use super::checkpoint;
use super::refill::History;
use super::state::{Engine, EngineStats, TenantCounts};
use crate::config::DownsampleRule;
use crate::limits::Limits;
use crate::model::{Entry, Record, TenantId, WalSeq};
use crate::wal::{Wal, WalError};

/// The downsampler's WAL consumer name.
pub const DOWNSAMPLE_CONSUMER: &str = "downsample";
/// How long the thread waits for a record before it looks at its timers.
const TICK: Duration = Duration::from_millis(200);
/// How often the checkpoint is written and the cursor moved.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(2);
/// Records applied before the rollups are written out (bounded work between two appends).
const BATCH_RECORDS: usize = 256;

/// What `/metrics` shows, updated by the thread.
#[derive(Debug, Default)]
pub struct DownsampleStatus {
    inner: Mutex<(EngineStats, Vec<(TenantId, TenantCounts)>)>,
}

impl DownsampleStatus {
    pub fn snapshot(&self) -> (EngineStats, Vec<(TenantId, TenantCounts)>) {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, engine: &Engine) {
        let counts = engine
            .counts()
            .iter()
            .map(|(t, c)| (t.clone(), *c))
            .collect();
        *self.inner.lock().unwrap_or_else(PoisonError::into_inner) = (engine.stats(), counts);
    }
}

/// The running downsampler.
#[derive(Debug)]
pub struct DownsampleTask {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
    pub status: Arc<DownsampleStatus>,
}

impl DownsampleTask {
    /// Writes the rollups produced so far, checkpoints, commits the cursor, then stops.
    pub async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

/// Starts the downsampler (registering its WAL consumer). `rules` carries reloads.
pub fn start(
    wal: Wal,
    wal_dir: PathBuf,
    rules: watch::Receiver<Vec<DownsampleRule>>,
    limits: Option<Arc<Limits>>,
) -> Result<DownsampleTask, WalError> {
    let cursor = wal.register_consumer(DOWNSAMPLE_CONSUMER)?;
    let stop = Arc::new(AtomicBool::new(false));
    let status = Arc::new(DownsampleStatus::default());
    let worker = Worker {
        wal,
        dir: wal_dir,
        rules,
        limits,
        handle: Handle::current(),
        stop: stop.clone(),
        status: status.clone(),
        started: Instant::now(),
    };
    let thread = std::thread::Builder::new()
        .name("sluice-downsample".into())
        .spawn(move || worker.run(cursor))
        .map_err(|source| WalError::Io {
            op: "spawn downsampler",
            path: PathBuf::new(),
            source,
        })?;
    Ok(DownsampleTask {
        stop,
        thread,
        status,
    })
}

/// The WAL as the engine's history: the records a window is refilled from (the cursor keeps
/// them).
struct WalHistory<'a>(&'a Wal);

impl History for WalHistory<'_> {
    fn records(&self, from: u64, upto: u64, f: &mut dyn FnMut(&Record)) -> Result<(), String> {
        let mut reader = self.0.reader(WalSeq(from.saturating_sub(1)));
        let mut next = from;
        while next <= upto {
            match reader.try_next() {
                Ok(Some(rec)) => {
                    next = rec.seq.0 + 1;
                    f(&rec);
                }
                Ok(None) => return Err(format!("record {next} is not durable")),
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(())
    }
}

struct Worker {
    wal: Wal,
    dir: PathBuf,
    rules: watch::Receiver<Vec<DownsampleRule>>,
    limits: Option<Arc<Limits>>,
    handle: Handle,
    stop: Arc<AtomicBool>,
    status: Arc<DownsampleStatus>,
    started: Instant,
}

impl Worker {
    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn run(mut self, cursor: WalSeq) {
        let mut engine = Engine::new(&self.rules.borrow_and_update());
        if let Some(marks) = checkpoint::read(&self.dir) {
            engine.restore(&marks, self.now_ms());
        }
        let replay_until = self.wal.last_durable();
        let mut replaying = replay_until > cursor;
        engine.emitting = !replaying;
        engine.counting = !replaying;
        tracing::info!(
            cursor = cursor.0,
            replay_until = replay_until.0,
            "downsampler: rebuilding windows from the WAL"
        );
        let mut reader = self.wal.reader(cursor);
        let mut processed = cursor;
        let mut committed = cursor;
        let mut last_checkpoint = Instant::now();
        loop {
            let stopping = self.stop.load(Ordering::Relaxed);
            if !stopping && self.rules.has_changed().unwrap_or(false) {
                engine.set_rules(&self.rules.borrow_and_update());
            }
            if !stopping {
                let next = self
                    .handle
                    .block_on(async { tokio::time::timeout(TICK, reader.next()).await });
                match next {
                    Ok(Ok(rec)) => {
                        let history = WalHistory(&self.wal);
                        engine.apply(&rec, self.now_ms(), &history);
                        processed = rec.seq;
                        for _ in 0..BATCH_RECORDS {
                            match reader.try_next() {
                                Ok(Some(rec)) => {
                                    engine.apply(&rec, self.now_ms(), &history);
                                    processed = rec.seq;
                                }
                                _ => break,
                            }
                        }
                    }
                    Ok(Err(WalError::Closed)) => return,
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "downsampler: reading the WAL failed");
                        std::thread::sleep(Duration::from_secs(1));
                    }
                    Err(_) => {}
                }
            }
            if replaying && processed >= replay_until {
                replaying = false;
                engine.emitting = true;
                engine.counting = true;
                engine.emit_pending();
                tracing::info!(
                    records = processed.0 - cursor.0,
                    "downsampler: windows rebuilt"
                );
            }
            if !replaying {
                engine.advance_idle(self.now_ms());
            }
            if !self.write_out(&mut engine) {
                return;
            }
            if stopping || last_checkpoint.elapsed() >= CHECKPOINT_EVERY {
                last_checkpoint = Instant::now();
                self.status.set(&engine);
                let upto = engine.cursor(processed);
                if upto > committed && self.checkpoint(&engine, upto) {
                    committed = upto;
                }
            }
            if stopping {
                return;
            }
        }
    }

    /// Appends the pending rollups (retrying while the WAL is full); false once it is closed.
    fn write_out(&self, engine: &mut Engine) -> bool {
        for entry in engine.take_output() {
            loop {
                let e: Entry = entry.clone();
                match self.handle.block_on(self.wal.append(e)) {
                    Ok(seq) => {
                        if let Some(l) = &self.limits {
                            l.replay(&Record {
                                seq,
                                entry: entry.clone(),
                            });
                        }
                        break;
                    }
                    Err(WalError::Closed) => return false,
                    Err(e) => {
                        tracing::warn!(error = %e, "downsampler: appending rollups failed; retrying");
                        std::thread::sleep(Duration::from_secs(1));
                        if self.stop.load(Ordering::Relaxed) && matches!(e, WalError::Poisoned) {
                            return false;
                        }
                    }
                }
            }
        }
        true
    }

    /// Writes the checkpoint, then moves the cursor to `upto`.
    fn checkpoint(&self, engine: &Engine, upto: WalSeq) -> bool {
        if let Err(e) = checkpoint::write(&self.dir, &engine.marks()) {
            tracing::warn!(error = %e, "downsampler: writing the checkpoint failed");
            return false;
        }
        match self
            .handle
            .block_on(self.wal.commit_cursor(DOWNSAMPLE_CONSUMER, upto))
        {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "downsampler: moving the WAL cursor failed");
                false
            }
        }
    }
}
