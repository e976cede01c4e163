//! The scheduling loop: receive records, start one batch per idle lane, collect finished
//! batches, publish the watermark, stop on close or shutdown.
//!
//! Owns: the lanes map, the in-memory bound (`max_pending_bytes`), the watermark publication.
//! Does not own: what happens to a batch (see `deliver`).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::{Id, JoinSet};

use super::lane::{Lane, LaneKey, Pending, Watermark, take_batch};
use super::lines::split_lines;
use super::status::wall_now;
use super::{Ctx, ForwardError, deliver};
use crate::model::{Record, WalSeq};

/// What a finished delivery task hands back.
struct Done {
    lane: LaneKey,
    seqs: Vec<WalSeq>,
    bytes: usize,
}

struct State {
    ctx: Arc<Ctx>,
    lanes: HashMap<LaneKey, Lane>,
    watermark: Watermark,
    tasks: JoinSet<Done>,
    /// Which lane each running task delivers for.
    running: HashMap<Id, LaneKey>,
    /// Bytes of lines received and not yet handled (queued or in flight).
    held_bytes: usize,
    published: WalSeq,
}

pub(super) async fn run(
    ctx: Arc<Ctx>,
    mut rx: mpsc::Receiver<Record>,
    acked: watch::Sender<WalSeq>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), ForwardError> {
    let published = *acked.borrow();
    let mut st = State {
        ctx,
        lanes: HashMap::new(),
        watermark: Watermark::default(),
        tasks: JoinSet::new(),
        running: HashMap::new(),
        held_bytes: 0,
        published,
    };
    let mut rx_open = true;
    let mut watch_shutdown = true;
    if *shutdown.borrow_and_update() {
        return Ok(());
    }
    loop {
        st.start_idle_lanes();
        if !rx_open && st.tasks.is_empty() {
            return Ok(());
        }
        let room = st.held_bytes < st.ctx.cfg.max_pending_bytes;
        tokio::select! {
            biased;
            changed = shutdown.changed(), if watch_shutdown => match changed {
                Ok(()) if *shutdown.borrow_and_update() => {
                    // Take what already finished, then abandon the rest.
                    while let Some(joined) = st.tasks.try_join_next_with_id() {
                        st.finished(joined, &acked)?;
                    }
                    st.tasks.abort_all();
                    return Ok(());
                }
                Ok(()) => {}
                Err(_) => watch_shutdown = false,
            },
            Some(joined) = st.tasks.join_next_with_id(), if !st.tasks.is_empty() => st.finished(joined, &acked)?,
            rec = rx.recv(), if rx_open && room => match rec {
                Some(rec) => {
                    st.receive(rec);
                    // Take whatever else is already there, so batches fill without waiting.
                    while st.held_bytes < st.ctx.cfg.max_pending_bytes {
                        match rx.try_recv() {
                            Ok(rec) => st.receive(rec),
                            Err(_) => break,
                        }
                    }
                    st.publish(&acked);
                }
                None => rx_open = false,
            },
            else => return Ok(()),
        }
    }
}

impl State {
    fn receive(&mut self, rec: Record) {
        let lines = split_lines(&rec.entry.lines);
        self.watermark.received(rec.seq, wall_now());
        if lines.is_empty() {
            self.watermark.handled(rec.seq);
            return;
        }
        let key = LaneKey {
            tenant: rec.entry.tenant,
            bucket: rec.entry.bucket,
            precision: rec.entry.precision,
        };
        let pending = Pending::new(rec.seq, lines);
        self.held_bytes += pending.bytes;
        self.ctx
            .status
            .update(&(key.tenant.clone(), key.bucket.clone()), |b| {
                b.pending_records += 1
            });
        self.lanes.entry(key).or_default().queue.push_back(pending);
    }

    fn start_idle_lanes(&mut self) {
        let cfg = &self.ctx.cfg;
        for (key, lane) in &mut self.lanes {
            if lane.busy || lane.queue.is_empty() {
                continue;
            }
            let batch = take_batch(&mut lane.queue, cfg.batch_lines, cfg.batch_bytes);
            lane.busy = true;
            let seqs: Vec<WalSeq> = batch.iter().map(|p| p.seq).collect();
            let bytes = batch.iter().map(|p| p.bytes).sum();
            let lines: Vec<_> = batch.into_iter().flat_map(|p| p.lines).collect();
            let (ctx, lane_key) = (self.ctx.clone(), key.clone());
            let handle = self.tasks.spawn(async move {
                deliver::deliver(&ctx, &lane_key, lines).await;
                Done {
                    lane: lane_key,
                    seqs,
                    bytes,
                }
            });
            self.running.insert(handle.id(), key.clone());
        }
        // Lanes that went quiet are dropped so the map does not grow with every bucket ever seen.
        self.lanes.retain(|_, l| l.busy || !l.queue.is_empty());
    }

    fn finished(
        &mut self,
        joined: Result<(Id, Done), tokio::task::JoinError>,
        acked: &watch::Sender<WalSeq>,
    ) -> Result<(), ForwardError> {
        let done = match joined {
            Ok((id, done)) => {
                self.running.remove(&id);
                done
            }
            Err(e) => {
                // A panic in a delivery task: its records can never be acknowledged.
                let lane = self
                    .running
                    .remove(&e.id())
                    .expect("every task is registered");
                return Err(ForwardError::Task {
                    tenant: lane.tenant,
                    bucket: lane.bucket,
                    reason: e.to_string(),
                });
            }
        };
        for s in &done.seqs {
            self.watermark.handled(*s);
        }
        self.held_bytes = self.held_bytes.saturating_sub(done.bytes);
        let n = done.seqs.len() as u64;
        self.ctx
            .status
            .update(&(done.lane.tenant.clone(), done.lane.bucket.clone()), |b| {
                b.pending_records = b.pending_records.saturating_sub(n)
            });
        if let Some(lane) = self.lanes.get_mut(&done.lane) {
            lane.busy = false;
        }
        self.publish(acked);
        Ok(())
    }

    fn publish(&mut self, acked: &watch::Sender<WalSeq>) {
        let w = self.watermark.value();
        if w > self.published {
            self.published = w;
            acked.send_replace(w);
        }
        self.ctx.status.set_progress(
            self.watermark.highest_received(),
            self.published,
            self.watermark.unhandled() as u64,
            self.watermark.oldest_since(),
        );
    }
}
