//! A message's life after enqueue: claim, mark sending, ack, retry, and the lease machinery
//! (reap, release, extend) that keeps the delivery promise when workers die or stop.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::Value;

use crate::campaign::CampaignId;
use crate::keys::parse_message_ref;
use crate::message::{QueuedMessage, Row, RowOverrides};
use crate::phone::PhoneNumber;
use crate::queue::bounds::{MAX_ERROR_LEN, MAX_REASON_LEN, truncate};
use crate::queue::clock::{millis, rfc3339_ms};
use crate::queue::connection::Queue;
use crate::queue::error::QueueError;
use crate::queue::lease::{Lease, MessageRef};
use crate::queue::limits::{ClaimLimits, Deferrals};
use crate::queue::scripts::{self, SCRIPTS};
use crate::queue::slot::Slot;
use crate::streak::StreakRule;

/// Leases per script call in [`Queue::release`] and [`Queue::extend_leases`].
const LEASE_CHUNK: usize = 500;

/// A message's status, stored as the lowercase word in its hash's `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MessageStatus {
    /// Waiting to be claimed.
    Queued,
    /// Claimed by a worker under a lease; nothing was sent.
    Claimed,
    /// Its request is being made.
    Sending,
    /// The provider accepted it.
    Sent,
    /// The provider refused it for good, or it could not be built.
    Failed,
    /// Its validity ended before it could be sent.
    Expired,
    /// Its campaign was cancelled before it was sent.
    Cancelled,
    /// Its request may have reached the provider, but no answer was recorded.
    Unknown,
}

impl MessageStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [MessageStatus; 8] = [
        MessageStatus::Queued,
        MessageStatus::Claimed,
        MessageStatus::Sending,
        MessageStatus::Sent,
        MessageStatus::Failed,
        MessageStatus::Expired,
        MessageStatus::Cancelled,
        MessageStatus::Unknown,
    ];

    /// The word stored in Redis (also the campaign counter's name).
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Queued => "queued",
            MessageStatus::Claimed => "claimed",
            MessageStatus::Sending => "sending",
            MessageStatus::Sent => "sent",
            MessageStatus::Failed => "failed",
            MessageStatus::Expired => "expired",
            MessageStatus::Cancelled => "cancelled",
            MessageStatus::Unknown => "unknown",
        }
    }

    /// Whether the message will not change on its own any more.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            MessageStatus::Queued | MessageStatus::Claimed | MessageStatus::Sending
        )
    }
}

impl FromStr for MessageStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MessageStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| format!("unknown message status {s:?}"))
    }
}

impl fmt::Display for MessageStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A claimed message, as [`Queue::claim`] and the apalis backend hand it out.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The row, ready to render.
    pub message: QueuedMessage,
    /// The claim, for [`Queue::mark_sending`], [`Queue::ack`] and [`Queue::retry`].
    pub lease: Lease,
    /// When it was due, in unix milliseconds.
    pub due_ms: i64,
    /// The slot its sender's rate gave it (unix milliseconds): send it no earlier, and not
    /// much later either (messages held back and then sent together would exceed the rate).
    /// `None` for a sender without a rate.
    pub not_before_ms: Option<i64>,
    /// How often it went back unsent because it missed its rate slot.
    pub missed_slots: u32,
    /// The backend's concurrency slot until its middleware takes it over (see
    /// `backend::SlotLayer`); without that middleware, freed when the last clone is dropped.
    pub(crate) slot: Option<Arc<Slot>>,
}

/// What a batch of claims found.
#[derive(Debug, Default)]
pub struct ClaimBatch {
    /// The messages now claimed.
    pub claimed: Vec<Claimed>,
    /// Due entries taken off the due set, including those moved aside (paused campaign),
    /// cancelled (cancelled campaign) or dropped as stale. Zero means nothing was due.
    pub processed: usize,
    /// The due time of the earliest entry left, in unix milliseconds.
    pub next_due_ms: Option<i64>,
    /// Rows the sender limits put off (they stay queued, due later).
    pub deferred: Deferrals,
}

/// The answer of [`Queue::mark_sending`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendPermit {
    /// The message is `sending`: write the request now.
    Send,
    /// The claim is not this worker's any more (its lease was reaped): do not send.
    LeaseLost,
    /// The campaign was paused: the message went back to the queue. Do not send.
    Paused,
    /// The campaign was cancelled: the message is `cancelled`. Do not send.
    Cancelled,
}

/// A message's final outcome, recorded by [`Queue::ack`].
#[derive(Debug, Clone, PartialEq)]
pub enum Terminal {
    /// The provider accepted it.
    Sent {
        /// The provider's message id.
        provider_id: String,
        /// The price it reported, added to the campaign's `cost`.
        price: Option<f64>,
    },
    /// The provider refused it for good, or it could not be built.
    Failed {
        /// The provider's error code (or wacast's, e.g. `render`).
        code: String,
        /// What went wrong, for the operator.
        reason: String,
    },
    /// The provider refused it for good: [`Terminal::Failed`] that also counts in its
    /// campaign's failure streak, which pauses the campaign at `streak`'s length.
    Refused {
        /// The provider's error code (WhatsApp's, when the provider passed one on).
        code: String,
        /// What went wrong, for the operator: the provider's whole explanation.
        reason: String,
        /// When the failures in a row pause the campaign.
        streak: StreakRule,
    },
    /// Its validity ended before it could be sent.
    Expired,
    /// The request may have reached the provider, but no answer came.
    Unknown {
        /// What happened, for the operator.
        reason: String,
    },
    /// Its campaign was cancelled before it was sent.
    Cancelled,
}

impl Terminal {
    /// The status it records.
    pub fn status(&self) -> MessageStatus {
        match self {
            Terminal::Sent { .. } => MessageStatus::Sent,
            Terminal::Failed { .. } | Terminal::Refused { .. } => MessageStatus::Failed,
            Terminal::Expired => MessageStatus::Expired,
            Terminal::Unknown { .. } => MessageStatus::Unknown,
            Terminal::Cancelled => MessageStatus::Cancelled,
        }
    }
}

/// Whether a retried message's request was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryKind {
    /// A request was made and failed transiently (429, 5xx, connection reset): counts in the
    /// message's `attempts` and the campaign's `retries`.
    AfterAttempt,
    /// It was put off before any request (rate limit, recipient caps): no attempt is counted.
    Deferred,
    /// It missed its rate slot (the worker woke too late to send it in time): no attempt is
    /// counted; the message's `missed_slots` is, so that one that keeps missing can be failed.
    MissedSlot,
}

impl RetryKind {
    /// How the retry scripts spell it.
    pub(crate) fn script_arg(self) -> &'static str {
        match self {
            RetryKind::AfterAttempt => "1",
            RetryKind::Deferred => "0",
            RetryKind::MissedSlot => "2",
        }
    }
}

/// What [`Queue::reap`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReapReport {
    /// Claimed messages put back in the queue (nothing was sent).
    pub requeued: u64,
    /// Sending messages marked `unknown` (they may have been sent).
    pub unknown: u64,
    /// Claimed messages of cancelled campaigns marked `cancelled`.
    pub cancelled: u64,
    /// Lease entries of messages already final, dropped.
    pub stale: u64,
}

impl ReapReport {
    /// How many leases it handled.
    pub fn total(&self) -> u64 {
        self.requeued + self.unknown + self.cancelled + self.stale
    }
}

impl Queue {
    /// Claims up to `n` messages due at `now_ms` (Redis's time, [`Queue::now_ms`]) for
    /// `worker`, each under a lease that expires `lease` after Redis's `TIME` (read by the
    /// script, so that no worker's clock can write a lease already expired). Entries of paused
    /// campaigns met on the way are moved aside and those of
    /// cancelled campaigns are cancelled; they count in [`ClaimBatch::processed`]. A claimed
    /// message whose hash cannot be read is recorded `failed` (code `corrupt`) and not returned.
    /// Nor are rows whose recipient opted out since they were enqueued (they end `cancelled`,
    /// `error_code` `opted_out`) or, in a campaign sent only within open windows, rows whose
    /// recipient has not written within 24 hours (`failed`, `no_window`).
    pub async fn claim(
        &self,
        worker: &str,
        n: usize,
        lease: Duration,
        now_ms: i64,
    ) -> Result<ClaimBatch, QueueError> {
        self.claim_within(worker, n, lease, now_ms, &ClaimLimits::default())
            .await
    }

    /// [`Queue::claim`] within sender limits: the operator's settings in Redis, and `limits`
    /// for what they leave open. Rows a limit puts off stay queued, due when it lets them go,
    /// and are counted in [`ClaimBatch::deferred`]. Each claimed message carries the moment
    /// its sender's rate lets it go ([`Claimed::not_before_ms`]).
    pub async fn claim_within(
        &self,
        worker: &str,
        n: usize,
        lease: Duration,
        now_ms: i64,
        limits: &ClaimLimits,
    ) -> Result<ClaimBatch, QueueError> {
        if n == 0 {
            return Ok(ClaimBatch::default());
        }
        let mut cmd = scripts::evalsha(
            &SCRIPTS.claim,
            &[&self.keys.due(), &self.keys.leases()],
            13,
            256,
        );
        cmd.arg(self.keys.campaign_prefix())
            .arg(worker)
            .arg(n)
            .arg(now_ms)
            .arg(millis(lease))
            .arg(rfc3339_ms(now_ms))
            .arg(self.keys.limit_prefix())
            .arg(limits.default_rate.script_arg())
            .arg(limits.sender_rates_arg())
            .arg(millis(limits.pair_interval))
            .arg(millis(limits.lookahead))
            .arg(millis(limits.tier_window))
            .arg(limits.providers.script_arg());
        let reply: Value = scripts::run(&SCRIPTS.claim, &cmd, &mut self.conn())
            .await
            .map_err(QueueError::redis("claim"))?;
        let bad = |detail: &str| QueueError::Corrupt {
            key: self.keys.due(),
            field: "claim reply".into(),
            detail: detail.into(),
        };
        let Value::Array(parts) = reply else {
            return Err(bad("not an array"));
        };
        let [processed, next_due, items, deferred] =
            <[Value; 4]>::try_from(parts).map_err(|_| bad("not four parts"))?;
        let deferred = match deferred {
            Value::Array(counts) => {
                let count = |i: usize| match counts.get(i) {
                    Some(Value::Int(n)) => u64::try_from(*n).unwrap_or(0),
                    _ => 0,
                };
                Deferrals {
                    rate: count(0),
                    pair: count(1),
                    tier: count(2),
                }
            }
            _ => return Err(bad("deferrals are not an array")),
        };
        let mut batch = ClaimBatch {
            processed: match processed {
                Value::Int(n) => usize::try_from(n).unwrap_or(0),
                _ => return Err(bad("count is not a number")),
            },
            next_due_ms: text(&next_due).and_then(|s| parse_score(&s)),
            claimed: Vec::new(),
            deferred,
        };
        let Value::Array(items) = items else {
            return Err(bad("items are not an array"));
        };
        for item in items {
            match parse_claimed(worker, item) {
                Ok(claimed) => batch.claimed.push(claimed),
                Err((Some(lease), detail)) => {
                    tracing::error!(message = %lease.reference(), error = %detail, "Claimed message is corrupt; recording it failed.");
                    let outcome = Terminal::Failed {
                        code: "corrupt".into(),
                        reason: detail,
                    };
                    self.ack(&lease, &outcome).await?;
                }
                Err((None, detail)) => return Err(bad(&detail)),
            }
        }
        Ok(batch)
    }

    /// Marks a claimed message `sending` and extends its lease to `lease` after Redis's `TIME`;
    /// call it just before writing the request. Anything but [`SendPermit::Send`] means: do
    /// not send. Asked again under the same claim (its answer was lost on the way), it answers
    /// [`SendPermit::Send`] again: the request is written only after an answer.
    pub async fn mark_sending(
        &self,
        lease: &Lease,
        duration: Duration,
    ) -> Result<SendPermit, QueueError> {
        let id = &lease.reference().campaign;
        let now = self.now_ms();
        let answer: String = SCRIPTS
            .mark_sending
            .key(self.keys.message(id, lease.reference().row))
            .key(self.keys.campaign(id))
            .key(self.keys.leases())
            .key(self.keys.paused(id))
            .arg(lease.worker())
            .arg(lease.claim())
            .arg(lease.reference().to_string())
            .arg(millis(duration))
            .arg(now)
            .arg(rfc3339_ms(now))
            .invoke_async(&mut self.conn())
            .await
            .map_err(QueueError::redis("mark sending"))?;
        Ok(match answer.as_str() {
            "send" => SendPermit::Send,
            "paused" => SendPermit::Paused,
            "cancelled" => SendPermit::Cancelled,
            _ => SendPermit::LeaseLost,
        })
    }

    /// Records a message's final outcome, from `claimed` or `sending` under this lease, or from
    /// `unknown` under this lease (the lease expired while the request ran; the real answer
    /// replaces the guess). A message claimed but not sent in a cancelled campaign is recorded
    /// `cancelled` whatever the outcome says. Returns the status recorded, or `None` when the
    /// lease is not valid any more (nothing changed).
    pub async fn ack(
        &self,
        lease: &Lease,
        outcome: &Terminal,
    ) -> Result<Option<MessageStatus>, QueueError> {
        let id = &lease.reference().campaign;
        let now = rfc3339_ms(self.now_ms());
        let (price, fields) = ack_fields(outcome, &now);
        let mut invocation = SCRIPTS.ack.prepare_invoke();
        invocation
            .key(self.keys.message(id, lease.reference().row))
            .key(self.keys.campaign(id))
            .key(self.keys.leases())
            .key(self.keys.failed(id))
            .arg(lease.worker())
            .arg(lease.claim())
            .arg(lease.reference().to_string())
            .arg(lease.reference().row)
            .arg(outcome.status().as_str())
            .arg(&now)
            .arg(&price)
            .arg(self.keys.limit_prefix())
            .arg(streak_arg(outcome));
        for (name, value) in &fields {
            invocation.arg(*name).arg(value.as_str());
        }
        let answer: Option<String> = invocation
            .invoke_async(&mut self.conn())
            .await
            .map_err(QueueError::redis("ack"))?;
        answer
            .map(|s| self.status(id, lease.reference().row, &s))
            .transpose()
    }

    /// Puts a claimed or sending message back in the queue, due at `due_ms`, after a transient
    /// failure (`reason`, shown in its `error`). Returns [`MessageStatus::Queued`], or
    /// [`MessageStatus::Cancelled`] when its campaign was cancelled meanwhile, or `None` when
    /// the lease is not valid any more.
    pub async fn retry(
        &self,
        lease: &Lease,
        due_ms: i64,
        reason: &str,
        kind: RetryKind,
    ) -> Result<Option<MessageStatus>, QueueError> {
        let id = &lease.reference().campaign;
        let now = rfc3339_ms(self.now_ms());
        let answer: Option<String> = SCRIPTS
            .retry
            .key(self.keys.message(id, lease.reference().row))
            .key(self.keys.campaign(id))
            .key(self.keys.leases())
            .key(self.keys.due())
            .key(self.keys.paused(id))
            .arg(lease.worker())
            .arg(lease.claim())
            .arg(lease.reference().to_string())
            .arg(due_ms)
            .arg(truncate(reason, MAX_REASON_LEN))
            .arg(kind.script_arg())
            .arg(&now)
            .arg(rfc3339_ms(due_ms))
            .arg(self.keys.wake())
            .invoke_async(&mut self.conn())
            .await
            .map_err(QueueError::redis("retry"))?;
        answer
            .map(|s| self.status(id, lease.reference().row, &s))
            .transpose()
    }

    /// Handles up to `max` leases expired by Redis's clock (`TIME`, read by the script: no
    /// worker's clock decides it), whoever held them: a claimed message goes back to the queue
    /// (nothing was sent), a sending one becomes `unknown` (it may have been sent) and joins
    /// the campaign's failed set. Any worker may reap.
    pub async fn reap(&self, max: usize) -> Result<ReapReport, QueueError> {
        self.reap_with(Duration::ZERO, max).await
    }

    /// [`Queue::reap`] as if `ahead` later than Redis's time: for tests of what expiring
    /// leases come to, never for a worker (it would take live leases).
    #[cfg(feature = "testing")]
    pub async fn reap_ahead(&self, ahead: Duration, max: usize) -> Result<ReapReport, QueueError> {
        self.reap_with(ahead, max).await
    }

    async fn reap_with(&self, ahead: Duration, max: usize) -> Result<ReapReport, QueueError> {
        let now_ms = self.now_ms().saturating_add(millis(ahead));
        let counts: Vec<u64> = SCRIPTS
            .reap
            .key(self.keys.leases())
            .key(self.keys.due())
            .arg(self.keys.campaign_prefix())
            .arg(millis(ahead))
            .arg(max)
            .arg(rfc3339_ms(now_ms))
            .arg(self.keys.wake())
            .invoke_async(&mut self.conn())
            .await
            .map_err(QueueError::redis("reap"))?;
        match counts.as_slice() {
            &[requeued, unknown, cancelled, stale] => Ok(ReapReport {
                requeued,
                unknown,
                cancelled,
                stale,
            }),
            _ => Err(QueueError::Corrupt {
                key: self.keys.leases(),
                field: "reap reply".into(),
                detail: format!("{} counts instead of 4", counts.len()),
            }),
        }
    }

    /// Puts claimed messages a stopping worker will not send back in the queue, due now. Only
    /// those still `claimed` under the given leases move; returns how many did.
    pub async fn release(&self, leases: &[Lease]) -> Result<u64, QueueError> {
        let mut released = 0;
        for chunk in leases.chunks(LEASE_CHUNK) {
            let now = self.now_ms();
            let mut invocation = SCRIPTS.release.prepare_invoke();
            invocation
                .key(self.keys.due())
                .key(self.keys.leases())
                .arg(self.keys.campaign_prefix())
                .arg(now)
                .arg(rfc3339_ms(now))
                .arg(self.keys.wake());
            for lease in chunk {
                invocation
                    .arg(lease.reference().to_string())
                    .arg(lease.worker())
                    .arg(lease.claim());
            }
            let n: u64 = invocation
                .invoke_async(&mut self.conn())
                .await
                .map_err(QueueError::redis("release"))?;
            released += n;
        }
        Ok(released)
    }

    /// Extends the leases still held (claimed or sending under the given claim) to `duration`
    /// after Redis's `TIME`: the heartbeat of a worker's in-flight messages. Returns how many
    /// were extended; the others were reaped or are final.
    pub async fn extend_leases(
        &self,
        leases: &[Lease],
        duration: Duration,
    ) -> Result<u64, QueueError> {
        let mut extended = 0;
        for chunk in leases.chunks(LEASE_CHUNK) {
            let mut invocation = SCRIPTS.extend_leases.prepare_invoke();
            invocation
                .key(self.keys.leases())
                .arg(self.keys.campaign_prefix())
                .arg(millis(duration));
            for lease in chunk {
                invocation
                    .arg(lease.reference().to_string())
                    .arg(lease.worker())
                    .arg(lease.claim());
            }
            let n: u64 = invocation
                .invoke_async(&mut self.conn())
                .await
                .map_err(QueueError::redis("extend leases"))?;
            extended += n;
        }
        Ok(extended)
    }

    pub(crate) fn status(
        &self,
        id: &CampaignId,
        row: Row,
        text: &str,
    ) -> Result<MessageStatus, QueueError> {
        text.parse().map_err(|detail| QueueError::Corrupt {
            key: self.keys.message(id, row),
            field: "status".into(),
            detail,
        })
    }
}

/// What `ack.lua` stores besides the status: the price to add to the campaign's cost (or
/// empty) and the message's fields for `outcome`, recorded at `now` (RFC 3339).
pub(crate) fn ack_fields(outcome: &Terminal, now: &str) -> (String, Vec<(&'static str, String)>) {
    let mut price = String::new();
    let mut fields: Vec<(&'static str, String)> = Vec::new();
    match outcome {
        Terminal::Sent {
            provider_id,
            price: reported,
        } => {
            fields.push(("provider_id", provider_id.clone()));
            if let Some(p) = reported.filter(|p| p.is_finite()) {
                price = p.to_string();
                fields.push(("price", price.clone()));
            }
            fields.push(("sent_at", now.to_string()));
        }
        Terminal::Failed { code, reason } | Terminal::Refused { code, reason, .. } => {
            fields.push(("error_code", truncate(code, MAX_ERROR_LEN).to_string()));
            // Whole: the script keeps a long one in the campaign's reasons table.
            fields.push(("error", truncate(reason, MAX_REASON_LEN).to_string()));
        }
        Terminal::Unknown { reason } => {
            fields.push(("error", truncate(reason, MAX_REASON_LEN).to_string()));
        }
        Terminal::Expired | Terminal::Cancelled => {}
    }
    (price, fields)
}

/// The failure streak rule `ack.lua` applies to `outcome` (`''`: it does not count).
pub(crate) fn streak_arg(outcome: &Terminal) -> String {
    match outcome {
        Terminal::Refused { streak, .. } => streak.script_arg(),
        _ => String::new(),
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A sorted-set score as Redis writes it (`1700000000000`, or `1.7e+12` for odd values).
fn parse_score(text: &str) -> Option<i64> {
    text.parse::<i64>()
        .ok()
        .or_else(|| text.parse::<f64>().ok().map(|f| f as i64))
}

/// One claimed item `{ref, score, {field, value, ...}}` as a [`Claimed`]. On failure, the lease
/// (when the item got that far) and what is wrong.
fn parse_claimed(worker: &str, item: Value) -> Result<Claimed, (Option<Lease>, String)> {
    let Value::Array(parts) = item else {
        return Err((None, "claimed item is not an array".into()));
    };
    let [reference, score, not_before, claims, fields] = <[Value; 5]>::try_from(parts)
        .map_err(|_| (None, "claimed item has not five parts".into()))?;
    let reference = text(&reference).ok_or((None, "reference is not text".into()))?;
    let (campaign, row) =
        parse_message_ref(&reference).ok_or((None, format!("bad reference {reference:?}")))?;
    let Value::Array(flat) = fields else {
        return Err((None, "message fields are not an array".into()));
    };
    // The fields were read before the claim; its number comes separately.
    let claim = match claims {
        Value::Int(n) => u64::try_from(n).ok(),
        _ => None,
    }
    .ok_or((None, format!("message {reference} has no claims count")))?;
    let lease = Lease::new(
        MessageRef {
            campaign: campaign.clone(),
            row,
        },
        worker.to_string(),
        claim,
    );
    let due_ms = text(&score).and_then(|s| parse_score(&s)).unwrap_or(0);
    let not_before_ms = text(&not_before)
        .and_then(|s| parse_score(&s))
        .filter(|ms| *ms > 0);
    let missed_slots = flat
        .chunks_exact(2)
        .find_map(|pair| match pair {
            [Value::BulkString(name), value] if name == b"missed_slots" => text(value),
            _ => None,
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    match message_from_fields(campaign, row, &flat) {
        Ok(message) => Ok(Claimed {
            message,
            lease,
            due_ms,
            not_before_ms,
            missed_slots,
            slot: None,
        }),
        Err(detail) => Err((Some(lease), detail)),
    }
}

/// A message hash's fields, as HGETALL lists them (name, value, ...), as a [`QueuedMessage`].
/// One pass over the reply, keeping only the fields a message is made of: this runs for every
/// message a worker claims.
pub(crate) fn message_from_fields(
    campaign: CampaignId,
    row: Row,
    flat: &[Value],
) -> Result<QueuedMessage, String> {
    fn utf8<'a>(name: &[u8], value: &'a [u8]) -> Result<&'a str, String> {
        std::str::from_utf8(value)
            .map_err(|_| format!("`{}` is not UTF-8", String::from_utf8_lossy(name)))
    }
    let mut to = None;
    let mut values: Vec<String> = Vec::new();
    let mut overrides = RowOverrides::default();
    let mut attempts = 0;
    for pair in flat.chunks_exact(2) {
        let (Value::BulkString(name), Value::BulkString(value)) = (&pair[0], &pair[1]) else {
            continue;
        };
        match name.as_slice() {
            b"to" => {
                let text = utf8(name, value)?;
                to = Some(PhoneNumber::from_stored(text).map_err(|e| format!("bad `to`: {e}"))?);
            }
            b"send_at" => {
                let at = DateTime::parse_from_rfc3339(utf8(name, value)?)
                    .map_err(|e| format!("bad `send_at`: {e}"))?;
                overrides.send_at = Some(at.with_timezone(&Utc));
            }
            b"ttl" => {
                let ttl = utf8(name, value)?.parse();
                overrides.ttl_minutes = Some(ttl.map_err(|e| format!("bad `ttl`: {e}"))?);
            }
            b"attempts" => {
                let n = utf8(name, value)?.parse();
                attempts = n.map_err(|e| format!("bad `attempts`: {e}"))?;
            }
            b"label" => overrides.label = Some(utf8(name, value)?.to_owned()),
            b"language" => overrides.language = Some(utf8(name, value)?.to_owned()),
            // The row's values: `p` and a number (`price`, `provider_id` are not values; a
            // row that 131049 put back in the queue has them).
            [b'p', digits @ ..] if digits.first().is_some_and(u8::is_ascii_digit) => {
                let index = std::str::from_utf8(digits)
                    .ok()
                    .and_then(|n| n.parse::<usize>().ok())
                    .filter(|index| (1..=flat.len() / 2).contains(index))
                    .ok_or_else(|| {
                        format!("bad value field {:?}", String::from_utf8_lossy(name))
                    })?;
                if values.len() < index {
                    values.resize(index, String::new());
                }
                values[index - 1] = utf8(name, value)?.to_owned();
            }
            _ => {}
        }
    }
    Ok(QueuedMessage {
        campaign,
        row,
        to: to.ok_or("no `to` field")?,
        values,
        overrides,
        attempts,
    })
}
