//! The lifecycle calls of many messages at once: mark sending, ack and retry, one script call
//! for a whole batch.
//!
//! A worker sending thousands of messages a second makes two of these calls per message; one
//! script call each costs Redis (and the worker) far more than the work the script does. A batch
//! call does, for each entry in order, exactly what the single call does: each message is fenced
//! (worker and claim number) and changed on its own, and one whose lease was lost gets its own
//! `LeaseLost` or `None` while the others go on. A batch is `n` calls made at once, nothing else.
//!
//! - `batch_retry.lua` runs `retry.lua` itself for each entry (wrapped as a function, see
//!   `scripts/batch_prelude.lua`), so the two cannot drift apart.
//! - `batch_mark_sending.lua` and `batch_ack.lua`, the two calls every message makes, are
//!   written out with half the Redis calls per message of `mark_sending.lua` and `ack.lua`
//!   (Redis spends more time on the call than in the command, measured: 31 µs of Redis CPU
//!   per message with the single scripts wrapped, 23 µs written out). Each says why its
//!   shortcuts change nothing. The batch property test (`shared/tests/it/batch.rs`) runs random
//!   sequences through both and compares every answer and every stored field: a change to the
//!   single scripts that the batch scripts do not follow fails it.
//!
//! A batch larger than [`MAX_BATCH`] is split into several calls, sent together.

use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use redis::Value;

use crate::keys::write_message_ref;
use crate::queue::bounds::{MAX_REASON_LEN, truncate};
use crate::queue::clock::{millis, rfc3339_ms};
use crate::queue::connection::Queue;
use crate::queue::error::QueueError;
use crate::queue::lease::Lease;
use crate::queue::lifecycle::{
    MessageStatus, RetryKind, SendPermit, Terminal, ack_fields, streak_arg,
};
use crate::queue::mark_sync::MarkSync;
use crate::queue::scripts::{self, SCRIPTS};

/// Entries per script call: about a millisecond of Redis time. Smaller calls cost Redis and
/// the worker more per message (measured: 32 entries per call, 12% more Redis CPU per message
/// and fewer messages per second); larger ones would keep Redis busy longer in one piece.
pub const MAX_BATCH: usize = 128;

/// One message of [`Queue::retry_many`]: the arguments of [`Queue::retry`].
#[derive(Debug, Clone, Copy)]
pub struct RetryEntry<'a> {
    /// The claim.
    pub lease: &'a Lease,
    /// When it is due again, in unix milliseconds.
    pub due_ms: i64,
    /// Why, shown in its `error`.
    pub reason: &'a str,
    /// Whether a request was made.
    pub kind: RetryKind,
}

impl Queue {
    /// Loads the batch scripts into Redis now, so that the first batches (when a campaign's
    /// send time comes) do not wait for it. Optional: a batch loads its script itself whenever
    /// Redis lacks it, after a Redis restart too.
    pub async fn load_batch_scripts(&self) -> Result<(), QueueError> {
        for script in [
            &SCRIPTS.batch_mark_sending,
            &SCRIPTS.batch_ack,
            &SCRIPTS.batch_retry,
        ] {
            script
                .load_async(&mut self.conn())
                .await
                .map_err(QueueError::redis("script load"))?;
        }
        Ok(())
    }

    /// [`Queue::mark_sending`] for each lease, in order: one permit per lease, in the same
    /// order. Anything but [`SendPermit::Send`] means: do not send that message. With a
    /// [`MarkSync`] (`Queue::with_mark_sync`), a `Send` also means the mark is durable: fsynced
    /// and acknowledged by the replicas asked for; marks that were not are undone
    /// (`durability.rs`).
    pub async fn mark_sending_many(
        &self,
        leases: &[&Lease],
        duration: Duration,
    ) -> Result<Vec<SendPermit>, QueueError> {
        let now = self.now_ms();
        let cmds: Vec<_> = leases
            .chunks(MAX_BATCH)
            .map(|chunk| self.mark_sending_cmd(chunk, duration, now))
            .collect();
        let Some((conns, sync)) = &self.marks else {
            let calls = cmds
                .iter()
                .zip(leases.chunks(MAX_BATCH))
                .map(|(cmd, chunk)| async move {
                    let answers: Vec<String> =
                        scripts::run(&SCRIPTS.batch_mark_sending, cmd, &mut self.conn())
                            .await
                            .map_err(QueueError::redis("mark sending"))?;
                    self.check_len("mark sending", answers.len(), chunk.len())?;
                    Ok(permits(&answers))
                });
            return concat(calls).await;
        };
        // Marks that wait (durability.rs) go on connections of their own, because WAIT blocks
        // the connection it is sent on and counts what that connection wrote; and every chunk's
        // script goes out with the one wait in a single pipeline, so that the wait starts in
        // the same turn of Redis's event loop as the marks instead of a round trip later, and
        // one replica acknowledgement covers the whole round (`mark_sync.rs`).
        let (answers, confirmed) = conns
            .sync_marks(sync, &SCRIPTS.batch_mark_sending, &cmds)
            .await?;
        self.check_len("mark sending", answers.len(), leases.len())?;
        let mut permits = permits(&answers);
        if !confirmed && permits.contains(&SendPermit::Send) {
            self.unsynced(leases, &mut permits, sync).await?;
        }
        Ok(permits)
    }

    /// The batch script call marking `chunk` sending.
    fn mark_sending_cmd(&self, chunk: &[&Lease], duration: Duration, now: i64) -> redis::Cmd {
        let mut cmd = scripts::evalsha(
            &SCRIPTS.batch_mark_sending,
            &[&self.keys.leases()],
            4 + 3 * chunk.len(),
            64 + chunk.len() * 96,
        );
        cmd.arg(self.keys.campaign_prefix())
            .arg(millis(duration))
            .arg(now)
            .arg(rfc3339_ms(now));
        let mut reference = String::new();
        for lease in chunk {
            cmd.arg(reference_of(&mut reference, lease))
                .arg(lease.worker())
                .arg(lease.claim());
        }
        cmd
    }

    /// Marks whose fsync or replicas did not confirm them in time: a failover or a crash
    /// could lose them, so their messages must not be sent. They go back to the queue unsent
    /// (no attempt counted) for a second later, and their permits say the lease is gone, which
    /// is what the handler does nothing more about. Treating it as Redis trouble instead would
    /// have the handler mark them again, which a message already `sending` refuses: it would
    /// end `unknown` without having been sent.
    async fn unsynced(
        &self,
        chunk: &[&Lease],
        permits: &mut [SendPermit],
        sync: &MarkSync,
    ) -> Result<(), QueueError> {
        let due_ms = self.now_ms().saturating_add(UNSYNCED_DELAY_MS);
        let reason = if sync.wait_aof {
            "Redis did not confirm the sending mark on disk in time (WAITAOF)"
        } else {
            "Redis replicas did not confirm the sending mark in time (WAIT)"
        };
        let entries: Vec<RetryEntry<'_>> = chunk
            .iter()
            .zip(permits.iter())
            .filter(|(_, permit)| **permit == SendPermit::Send)
            .map(|(lease, _)| RetryEntry {
                lease,
                due_ms,
                reason,
                kind: RetryKind::Deferred,
            })
            .collect();
        report_unsynced(entries.len(), sync, self.now_ms());
        self.retry_many(&entries).await?;
        for permit in permits.iter_mut() {
            if *permit == SendPermit::Send {
                *permit = SendPermit::LeaseLost;
            }
        }
        Ok(())
    }

    /// [`Queue::ack`] for each entry, in order: the status recorded for each, or `None` where
    /// the lease was not valid any more.
    pub async fn ack_many(
        &self,
        entries: &[(&Lease, &Terminal)],
    ) -> Result<Vec<Option<MessageStatus>>, QueueError> {
        let calls = entries.chunks(MAX_BATCH).map(|chunk| async move {
            let now = rfc3339_ms(self.now_ms());
            let mut cmd = scripts::evalsha(
                &SCRIPTS.batch_ack,
                &[&self.keys.leases()],
                3 + 11 * chunk.len(),
                64 + chunk.len() * 160,
            );
            cmd.arg(self.keys.campaign_prefix())
                .arg(&now)
                .arg(self.keys.limit_prefix());
            let mut reference = String::new();
            for (lease, outcome) in chunk {
                let (price, fields) = ack_fields(outcome, &now);
                cmd.arg(reference_of(&mut reference, lease))
                    .arg(lease.worker())
                    .arg(lease.claim())
                    .arg(outcome.status().as_str())
                    .arg(price)
                    .arg(streak_arg(outcome))
                    .arg(fields.len());
                for (name, value) in fields {
                    cmd.arg(name).arg(value);
                }
            }
            let answers: Vec<Value> = scripts::run(&SCRIPTS.batch_ack, &cmd, &mut self.conn())
                .await
                .map_err(QueueError::redis("ack"))?;
            self.statuses("ack", answers, chunk.iter().map(|(lease, _)| *lease))
        });
        concat(calls).await
    }

    /// [`Queue::retry`] for each entry, in order: [`MessageStatus::Queued`] or
    /// [`MessageStatus::Cancelled`] for each, or `None` where the lease was not valid any more.
    pub async fn retry_many(
        &self,
        entries: &[RetryEntry<'_>],
    ) -> Result<Vec<Option<MessageStatus>>, QueueError> {
        let calls = entries.chunks(MAX_BATCH).map(|chunk| async move {
            let mut cmd = scripts::evalsha(
                &SCRIPTS.batch_retry,
                &[&self.keys.leases(), &self.keys.due()],
                3 + 7 * chunk.len(),
                64 + chunk.len() * 160,
            );
            cmd.arg(self.keys.campaign_prefix())
                .arg(rfc3339_ms(self.now_ms()))
                .arg(self.keys.wake());
            let mut reference = String::new();
            for entry in chunk {
                cmd.arg(reference_of(&mut reference, entry.lease))
                    .arg(entry.lease.worker())
                    .arg(entry.lease.claim())
                    .arg(entry.due_ms)
                    .arg(truncate(entry.reason, MAX_REASON_LEN))
                    .arg(entry.kind.script_arg())
                    .arg(rfc3339_ms(entry.due_ms));
            }
            let answers: Vec<Value> = scripts::run(&SCRIPTS.batch_retry, &cmd, &mut self.conn())
                .await
                .map_err(QueueError::redis("retry"))?;
            self.statuses("retry", answers, chunk.iter().map(|entry| entry.lease))
        });
        concat(calls).await
    }

    /// The answers of a batch whose script answers a status or nil per entry.
    fn statuses<'a>(
        &self,
        action: &str,
        answers: Vec<Value>,
        leases: impl ExactSizeIterator<Item = &'a Lease>,
    ) -> Result<Vec<Option<MessageStatus>>, QueueError> {
        self.check_len(action, answers.len(), leases.len())?;
        answers
            .into_iter()
            .zip(leases)
            .map(|(answer, lease)| {
                let id = &lease.reference().campaign;
                let row = lease.reference().row;
                match answer {
                    Value::Nil => Ok(None),
                    Value::BulkString(bytes) => self
                        .status(id, row, &String::from_utf8_lossy(&bytes))
                        .map(Some),
                    Value::SimpleString(text) => self.status(id, row, &text).map(Some),
                    other => Err(QueueError::Corrupt {
                        key: self.keys.message(id, row),
                        field: format!("{action} reply"),
                        detail: format!("unexpected answer {other:?}"),
                    }),
                }
            })
            .collect()
    }

    fn check_len(&self, action: &str, got: usize, sent: usize) -> Result<(), QueueError> {
        if got == sent {
            return Ok(());
        }
        Err(QueueError::Corrupt {
            key: self.keys.leases(),
            field: format!("{action} reply"),
            detail: format!("{got} answers for {sent} messages"),
        })
    }
}

/// How long a message whose mark was not confirmed waits before it is claimed again.
const UNSYNCED_DELAY_MS: i64 = 1_000;

/// The batch mark script's answers as permits, in order.
fn permits(answers: &[String]) -> Vec<SendPermit> {
    answers
        .iter()
        .map(|answer| match answer.as_str() {
            "send" => SendPermit::Send,
            "paused" => SendPermit::Paused,
            "cancelled" => SendPermit::Cancelled,
            _ => SendPermit::LeaseLost,
        })
        .collect()
}

/// One ERROR per this many milliseconds while marks go unconfirmed, not one per batch.
const UNSYNCED_REPORT_EVERY_MS: i64 = 10_000;

fn report_unsynced(n: usize, sync: &MarkSync, now: i64) {
    static LAST: AtomicI64 = AtomicI64::new(0);
    let last = LAST.load(Ordering::Relaxed);
    if now - last >= UNSYNCED_REPORT_EVERY_MS
        && LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::error!(
            messages = n,
            replicas = sync.replicas,
            waitaof = sync.wait_aof,
            timeout_ms = u64::try_from(sync.timeout.as_millis()).unwrap_or(u64::MAX),
            "Redis did not confirm sending marks in time (too few replicas in sync, or a slow disk); those messages go back to the queue unsent. Check the replicas (INFO replication) or lower --replicas."
        );
    }
}

/// A lease's message reference (`campaign:row`), written into `buf`: one buffer per batch
/// instead of a new string per message.
fn reference_of<'a>(buf: &'a mut String, lease: &Lease) -> &'a str {
    let reference = lease.reference();
    buf.clear();
    write_message_ref(buf, &reference.campaign, reference.row);
    buf
}

/// Runs the calls of a batch's chunks together (pipelined on the one connection, so that other
/// calls can go between them in Redis) and joins their answers in order.
async fn concat<T>(
    calls: impl Iterator<Item = impl Future<Output = Result<Vec<T>, QueueError>>>,
) -> Result<Vec<T>, QueueError> {
    let answers = futures::future::try_join_all(calls).await?;
    Ok(answers.into_iter().flatten().collect())
}
