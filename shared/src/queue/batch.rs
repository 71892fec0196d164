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
use std::time::Duration;

use redis::Value;

use crate::keys::write_message_ref;
use crate::queue::bounds::{MAX_ERROR_LEN, truncate};
use crate::queue::clock::{millis, rfc3339_ms};
use crate::queue::connection::Queue;
use crate::queue::error::QueueError;
use crate::queue::lease::Lease;
use crate::queue::lifecycle::{MessageStatus, RetryKind, SendPermit, Terminal, ack_fields};
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
    /// order. Anything but [`SendPermit::Send`] means: do not send that message.
    pub async fn mark_sending_many(
        &self,
        leases: &[&Lease],
        duration: Duration,
    ) -> Result<Vec<SendPermit>, QueueError> {
        let calls = leases.chunks(MAX_BATCH).map(|chunk| async move {
            let now = self.now_ms();
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
            let answers: Vec<String> =
                scripts::run(&SCRIPTS.batch_mark_sending, &cmd, &mut self.conn())
                    .await
                    .map_err(QueueError::redis("mark sending"))?;
            self.check_len("mark sending", answers.len(), chunk.len())?;
            Ok(answers
                .iter()
                .map(|answer| match answer.as_str() {
                    "send" => SendPermit::Send,
                    "paused" => SendPermit::Paused,
                    "cancelled" => SendPermit::Cancelled,
                    _ => SendPermit::LeaseLost,
                })
                .collect())
        });
        concat(calls).await
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
                3 + 10 * chunk.len(),
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
                    .arg(truncate(entry.reason, MAX_ERROR_LEN))
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
