//! Delivering one batch of one lane until every line is written or dead-lettered.
//!
//! Owns: the attempt loop of a batch (resolve, build, send under the in-flight limit, act on
//! the verdict), 413 splitting, re-sending what a 400 did not name, backoff sleeps, dead-letter
//! appends, and the status/log updates these cause.
//! Does not own: choosing batches or the watermark (see `run`, `lane`).

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;

use super::backoff::Backoff;
use super::client;
use super::deadletter::DeadLetter;
use super::lane::LaneKey;
use super::lines::timestamp_to_ns;
use super::request::{self, wire_precision};
use super::response::{Verdict, classify};
use super::status::{Key, wall_now};
use super::{Ctx, UpstreamApi};

/// One batch being delivered.
struct Delivery<'a> {
    ctx: &'a Ctx,
    lane: &'a LaneKey,
    key: Key,
    precision: &'static str,
    backoff: Backoff,
}

/// Delivers `lines` (in order) for `lane`; returns when each was written or dead-lettered.
pub async fn deliver(ctx: &Ctx, lane: &LaneKey, lines: Vec<Bytes>) {
    let (precision, rewrite) = wire_precision(ctx.cfg.api, lane.precision);
    let mut d = Delivery {
        ctx,
        lane,
        key: (lane.tenant.clone(), lane.bucket.clone()),
        precision,
        backoff: Backoff::new(ctx.cfg.min_backoff, ctx.cfg.max_backoff),
    };
    let lines = if rewrite {
        d.rewrite_to_nanoseconds(lines).await
    } else {
        lines
    };
    let mut work: VecDeque<Vec<Bytes>> = VecDeque::from([lines]);
    let mut created_db = false;
    while let Some(chunk) = work.pop_front() {
        if chunk.is_empty() {
            continue;
        }
        let Some(dest) = ctx.resolve.destination(&lane.tenant, &lane.bucket) else {
            d.fail(
                None,
                "no upstream destination for this tenant bucket",
                None,
                true,
            )
            .await;
            work.push_front(chunk);
            continue;
        };
        let req = request::build(
            &ctx.cfg.url,
            ctx.cfg.api,
            &dest,
            precision,
            &chunk,
            ctx.cfg.gzip,
        );
        let reply = {
            let _permit = ctx
                .permits
                .acquire()
                .await
                .expect("the semaphore is never closed");
            ctx.status.update(&d.key, |b| b.requests += 1);
            let _in_flight = ctx.status.request_started();
            let reply = client::send(&ctx.client, req, wall_now()).await;
            ctx.status.responded(reply.as_ref().ok().map(|r| r.status));
            reply
        };
        let (status, verdict) = match reply {
            Ok(r) => (
                Some(r.status),
                classify(r.status, r.retry_after, &r.body, &chunk),
            ),
            Err(message) => (
                None,
                Verdict::Retry {
                    retry_after: None,
                    message,
                },
            ),
        };
        match verdict {
            Verdict::Retry {
                retry_after,
                message,
            } => {
                d.fail(status, &message, retry_after, false).await;
                work.push_front(chunk);
            }
            Verdict::Hold { message }
                if ctx.cfg.api == UpstreamApi::V1
                    && status == Some(404)
                    && message.contains("database not found")
                    && !created_db =>
            {
                // As Telegraf's v1 output does: create the database, then write again.
                created_db = true;
                d.create_database(&dest).await;
                work.push_front(chunk);
            }
            Verdict::Hold { message } => {
                d.fail(status, &message, None, true).await;
                work.push_front(chunk);
            }
            answered => {
                d.answered();
                d.act(status, answered, chunk, &mut work).await;
            }
        }
    }
}

impl Delivery<'_> {
    /// Sends `CREATE DATABASE` for the v1 database of `dest`; a failure is only logged (the
    /// write that follows reports the state).
    async fn create_database(&self, dest: &super::Destination) {
        let req = request::create_database(&self.ctx.cfg.url, dest);
        match client::send(&self.ctx.client, req, wall_now()).await {
            Ok(r) if (200..300).contains(&r.status) => {
                tracing::info!(tenant = %self.lane.tenant, bucket = %self.lane.bucket, "created the upstream database");
            }
            Ok(r) => tracing::warn!(status = r.status, "CREATE DATABASE upstream failed"),
            Err(e) => tracing::warn!(error = %e, "CREATE DATABASE upstream failed"),
        }
    }

    /// The upstream answered deterministically: leave any failure state.
    fn answered(&mut self) {
        self.backoff.reset();
        if self.ctx.status.succeeded(&self.key) {
            tracing::info!(tenant = %self.lane.tenant, bucket = %self.lane.bucket, "upstream writes recovered");
        }
    }

    async fn act(
        &mut self,
        status: Option<u16>,
        verdict: Verdict,
        chunk: Vec<Bytes>,
        work: &mut VecDeque<Vec<Bytes>>,
    ) {
        match verdict {
            Verdict::Delivered => self.delivered(&chunk),
            Verdict::TooLarge if chunk.len() > 1 => {
                let mut first = chunk;
                let second = first.split_off(first.len() / 2);
                work.push_front(second);
                work.push_front(first);
            }
            Verdict::TooLarge => {
                self.dead_letter(
                    status,
                    "request too large even as a single line",
                    &chunk,
                    None,
                    None,
                )
                .await;
            }
            Verdict::Rejected {
                named,
                rest_written,
                message,
            } => {
                let (bad, rest) = partition(chunk, &named);
                self.dead_letter(status, &message, &bad, None, None).await;
                if rest_written {
                    self.delivered(&rest);
                } else {
                    work.push_front(rest);
                }
            }
            Verdict::Partial {
                named,
                identified,
                dropped,
                message,
            } => {
                let (bad, rest) = partition(chunk, &named);
                let note = (!identified).then_some(
                    "the upstream dropped points it did not name; lines lists those sluice could \
                     identify, which may be incomplete or empty",
                );
                self.dead_letter(status, &message, &bad, dropped, note)
                    .await;
                self.delivered(&rest);
            }
            Verdict::Unusable { message } => {
                let note = Some(
                    "the upstream refused the batch without naming lines: all of them are here",
                );
                self.dead_letter(status, &message, &chunk, None, note).await;
            }
            Verdict::Retry { .. } | Verdict::Hold { .. } => {
                debug_assert!(false, "handled by the caller");
            }
        }
    }

    fn delivered(&self, lines: &[Bytes]) {
        let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
        self.ctx.status.update(&self.key, |b| {
            b.delivered_lines += lines.len() as u64;
            b.delivered_bytes += bytes as u64;
        });
    }

    /// Records a failed attempt, logs a change of state, and sleeps before the next one.
    async fn fail(
        &mut self,
        status: Option<u16>,
        message: &str,
        retry_after: Option<Duration>,
        held: bool,
    ) {
        let now = wall_now();
        if self.ctx.status.failed(&self.key, status, message, now) {
            let (t, b) = (&self.lane.tenant, &self.lane.bucket);
            if held {
                tracing::warn!(tenant = %t, bucket = %b, ?status, message, "upstream refuses writes; data is kept and retried");
            } else {
                tracing::warn!(tenant = %t, bucket = %b, ?status, message, "upstream write failed; retrying with backoff");
            }
        }
        let delay = self.backoff.next(rand::random::<f64>(), retry_after);
        self.ctx.status.update(&self.key, |b| {
            b.retries += 1;
            b.backing_off_until = Some(now + delay);
        });
        tokio::time::sleep(delay).await;
        self.ctx
            .status
            .update(&self.key, |b| b.backing_off_until = None);
    }

    /// Appends a dead letter durably, retrying (with backoff) until the sink accepts it.
    async fn dead_letter(
        &mut self,
        status: Option<u16>,
        message: &str,
        lines: &[Bytes],
        dropped: Option<u64>,
        note: Option<&str>,
    ) {
        if lines.is_empty() && dropped.is_none() && note.is_none() {
            return;
        }
        let record = DeadLetter {
            time: wall_now(),
            bucket: &self.lane.bucket,
            status,
            message,
            precision: self.precision_name(),
            lines,
            dropped,
            note,
        }
        .encode();
        tracing::warn!(tenant = %self.lane.tenant, bucket = %self.lane.bucket, ?status, lines = lines.len(), message, "dead-lettered lines refused by the upstream");
        loop {
            let (sink, tenant, rec) = (
                self.ctx.sink.clone(),
                self.lane.tenant.clone(),
                record.clone(),
            );
            let res = tokio::task::spawn_blocking(move || sink.append(&tenant, &rec)).await;
            match res {
                Ok(Ok(())) => break,
                Ok(Err(e)) => {
                    let m = format!("cannot write dead letter: {e}");
                    self.fail(None, &m, None, true).await;
                }
                Err(e) => {
                    let m = format!("dead letter task failed: {e}");
                    self.fail(None, &m, None, true).await;
                }
            }
        }
        self.ctx
            .status
            .update(&self.key, |b| b.dead_lettered_lines += lines.len() as u64);
    }

    /// The v1 name of the precision the lines are in, as sent.
    fn precision_name(&self) -> &'static str {
        match self.precision {
            "ns" => "n",
            "us" => "u",
            other => other,
        }
    }

    /// Rewrites minute/hour timestamps to nanoseconds (v2 has no names for those units);
    /// a line whose timestamp does not fit is dead-lettered.
    async fn rewrite_to_nanoseconds(&mut self, lines: Vec<Bytes>) -> Vec<Bytes> {
        let unit = self.lane.precision.nanos();
        let mut out = Vec::with_capacity(lines.len());
        let mut bad = Vec::new();
        for l in lines {
            match timestamp_to_ns(&l, unit) {
                Ok(n) => out.push(n),
                Err(_) => bad.push(l),
            }
        }
        if !bad.is_empty() {
            let saved = self.precision;
            self.precision = self.lane.precision.v1_name();
            self.dead_letter(
                None,
                "timestamp does not fit in nanoseconds",
                &bad,
                None,
                None,
            )
            .await;
            self.precision = saved;
        }
        out
    }
}

/// Splits `chunk` into the lines at `named` (sorted indices) and the others, in order.
fn partition(chunk: Vec<Bytes>, named: &[usize]) -> (Vec<Bytes>, Vec<Bytes>) {
    let mut bad = Vec::with_capacity(named.len());
    let mut rest = Vec::with_capacity(chunk.len().saturating_sub(named.len()));
    let mut it = named.iter().peekable();
    for (i, l) in chunk.into_iter().enumerate() {
        if it.peek() == Some(&&i) {
            it.next();
            bad.push(l);
        } else {
            rest.push(l);
        }
    }
    (bad, rest)
}
