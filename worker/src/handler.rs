//! The apalis task function: one claimed message from lease to recorded outcome.
//!
//! claim (backend, which applies the sender limits) → expired? → inside the send window? →
//! render → wait for the rate slot the claim gave → mark `sending` (the fence: the campaign's
//! pause or cancel and a lost lease are checked here, atomically) → still within 20 ms of the
//! slot (else back to the queue, unsent)? → request → classify (the provider client) → record
//! (ack, or retry later). Marking and recording go through the recorder (`record.rs`), which
//! batches them across tasks; each message is still fenced on its own.
//!
//! Nothing here returns an error to apalis: every path ends in a recorded outcome or leaves the
//! message to its lease, which the reaper resolves (`claimed` → queued again, `sending` →
//! `unknown`).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use wacast_shared::campaign::{Campaign, CampaignId};
use wacast_shared::message::QueuedMessage;
use wacast_shared::provider::Providers;
use wacast_shared::provider::outcome::{Outcome, Sent};
use wacast_shared::queue::backend::DEFERRED_METRIC;
use wacast_shared::queue::{
    Claimed, Lease, Queue, QueueError, RetryKind, SendPermit, Terminal, now_ms,
};
use wacast_shared::window::{SendWindow, ZoneCache};

use crate::campaigns::CampaignCache;
use crate::metrics::{Health, name};
use crate::record::{RecordError, Recorder};
use crate::retry::RetryPolicy;

/// What every task shares.
pub struct Context {
    pub queue: Queue,
    /// The writer of message states, in batches.
    pub recorder: Recorder,
    /// One client per provider this worker has a key for.
    pub providers: Providers,
    pub retry: RetryPolicy,
    /// The lease a message keeps while `sending`.
    pub lease: Duration,
    pub campaigns: CampaignCache,
    pub health: Health,
    /// The requests-in-flight gauge, resolved once.
    pub in_flight: metrics::Gauge,
    /// Recipients' time zones for send windows, by number prefix.
    pub window_zones: Mutex<ZoneCache>,
    /// Campaigns this process paused for a `Halt`, and when.
    pub halted: Mutex<HashMap<CampaignId, Instant>>,
    /// Turns true when the worker stops: messages still waiting for the rate limiter go back to
    /// the queue instead of being sent.
    pub stopping: watch::Receiver<bool>,
}

/// The task function registered with `WorkerBuilder::build`.
pub async fn handle(task: Claimed, ctx: Arc<Context>) {
    let ctx: &Context = &ctx;
    let Claimed {
        message,
        lease,
        not_before_ms,
        ..
    } = task;
    let campaign = match ctx.campaigns.get(&ctx.queue, &message.campaign).await {
        Ok(c) => c,
        Err(error) => {
            // Without its spec the message cannot be rendered; try again shortly.
            tracing::warn!(campaign = %message.campaign, error = %chain(&error), "Cannot load the campaign; the message waits.");
            defer(ctx, &lease, Duration::from_secs(1), "campaign unreadable").await;
            return;
        }
    };
    let spec = &campaign.spec;
    let metrics = &campaign.metrics;

    if expired(spec, &message, Utc::now()) {
        metrics.expired.increment(1);
        record(ctx, &lease, Terminal::Expired).await;
        return;
    }
    if let Some(window) = &spec.window
        && let Some(opens) = outside_window(ctx, window, &message, Utc::now())
    {
        match opens {
            Ok(opens) => {
                // Due again at the opening: a retry that fell into the night, or a campaign
                // resumed outside its hours.
                metrics::counter!(DEFERRED_METRIC, "reason" => "window").increment(1);
                let until = opens.timestamp_millis();
                with_redis_retry(ctx, "note waiting", || {
                    ctx.queue.note_waiting(&spec.id, "window", until)
                })
                .await;
                let delay = (opens - Utc::now()).to_std().unwrap_or_default();
                defer(ctx, &lease, delay, "outside the send window").await;
            }
            Err(reason) => {
                metrics.failed("window");
                let code = "window".into();
                record(ctx, &lease, Terminal::Failed { code, reason }).await;
            }
        }
        return;
    }

    let request = match campaign.request(&message, Utc::now()) {
        Ok(request) => request,
        Err(reason) => {
            metrics.failed("render");
            record(
                ctx,
                &lease,
                Terminal::Failed {
                    code: "render".into(),
                    reason,
                },
            )
            .await;
            return;
        }
    };

    // The claim gave the message its sender's next slot (the rate holds across the fleet): it
    // waits for that moment still `claimed` (a worker killed while it waits leaves it to be
    // claimed again, not `unknown`), is marked `sending`, and goes out only if that was in
    // time: messages held up and then sent together (by a process the machine stalled, say)
    // would exceed the rate, so one that missed its slot goes back for a new one, unsent.
    if let Some(slot) = not_before_ms {
        let wait = Duration::from_millis(u64::try_from(slot - now_ms()).unwrap_or(0));
        if !wait.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = stopped(ctx.stopping.clone()) => {
                    // Not sent, and the worker is stopping: hand it back for another worker.
                    defer(ctx, &lease, Duration::ZERO, "worker stopping").await;
                    return;
                }
            }
        }
        metrics.rate_limit_wait.record(wait.as_secs_f64());
        if expired(spec, &message, Utc::now()) {
            metrics.expired.increment(1);
            record(ctx, &lease, Terminal::Expired).await;
            return;
        }
    }
    if missed_slot(ctx, &lease, not_before_ms).await {
        return;
    }

    match with_redis_retry(ctx, "mark sending", || ctx.recorder.mark_sending(&lease)).await {
        Some(SendPermit::Send) => {}
        Some(permit) => {
            tracing::debug!(message = %lease.reference(), ?permit, "Not sending.");
            return;
        }
        // Redis stayed unreachable: the lease runs out and the message is claimed again.
        None => return,
    }

    // Marking took a round trip: still in time?
    if missed_slot(ctx, &lease, not_before_ms).await {
        return;
    }

    ctx.in_flight.increment(1.0);
    let started = Instant::now();
    let outcome = ctx.providers.send(&request).await;
    metrics
        .request_duration
        .record(started.elapsed().as_secs_f64());
    ctx.in_flight.decrement(1.0);

    let attempts = message.attempts + 1;
    let terminal = match outcome {
        Outcome::Done(Sent { provider_id, price }) => {
            metrics.sent.increment(1);
            Terminal::Sent { provider_id, price }
        }
        Outcome::Failed { code, reason } => {
            tracing::debug!(message = %lease.reference(), to = %message.to.masked(), %code, %reason, "Message failed.");
            metrics.failed(&code);
            Terminal::Failed { code, reason }
        }
        Outcome::Unknown { reason } => {
            tracing::warn!(message = %lease.reference(), to = %message.to.masked(), %reason, "Outcome unknown; not resent automatically.");
            metrics.unknown.increment(1);
            Terminal::Unknown { reason }
        }
        Outcome::Retry { after, reason } if ctx.retry.may_retry(attempts) => {
            let delay = ctx.retry.delay(attempts, after);
            tracing::debug!(message = %lease.reference(), attempts, ?delay, %reason, "Retrying later.");
            if after.is_some() {
                metrics.retried_rate_limited.increment(1);
            } else {
                metrics.retried_transient.increment(1);
            }
            let due = now_ms() + millis(delay);
            with_redis_retry(ctx, "retry", || {
                ctx.recorder
                    .retry(&lease, due, &reason, RetryKind::AfterAttempt)
            })
            .await;
            return;
        }
        Outcome::Retry { reason, .. } => {
            metrics.failed("attempts");
            Terminal::Failed {
                code: "attempts".into(),
                reason: format!("gave up after {attempts} attempts: {reason}"),
            }
        }
        Outcome::Halt { reason } => {
            halt(ctx, &spec.id, &reason).await;
            // The provider refused the request without sending it: the message waits in the
            // paused campaign and goes out after `wacast resume`.
            defer(ctx, &lease, Duration::ZERO, &reason).await;
            return;
        }
    };
    record(ctx, &lease, terminal).await;
}

/// When the message may go if `now` is outside its campaign's send window: the next opening,
/// or why there is none. `None` while the window is open.
fn outside_window(
    ctx: &Context,
    window: &SendWindow,
    message: &QueuedMessage,
    now: DateTime<Utc>,
) -> Option<Result<DateTime<Utc>, String>> {
    let zones = {
        let mut cache = ctx.window_zones.lock().unwrap_or_else(|e| e.into_inner());
        cache.zones(window, &message.to)
    };
    match zones {
        Ok(zones) if window.is_open(now, &zones) => None,
        Ok(zones) => Some(window.next_opening(now, &zones).map_err(|e| e.to_string())),
        Err(e) => Some(Err(e.to_string())),
    }
}

/// Whether the message's validity ended: its send time plus its ttl is past.
fn expired(campaign: &Campaign, message: &QueuedMessage, now: DateTime<Utc>) -> bool {
    let send_at = message.overrides.send_at.unwrap_or(campaign.send_at);
    let ttl = message
        .overrides
        .ttl_minutes
        .unwrap_or(campaign.ttl_minutes);
    now > send_at + chrono::Duration::minutes(i64::from(ttl))
}

/// Pauses a campaign the provider refuses for every message (bad key, missing scope), logging
/// one ERROR instead of failing every row. The many tasks that meet the same refusal at once
/// pause it once: the others' messages follow the campaign's state into its paused set.
async fn halt(ctx: &Context, campaign: &CampaignId, reason: &str) {
    {
        let mut halted = ctx.halted.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match halted.get(campaign) {
            Some(at) if now.duration_since(*at) < HALT_REPEAT => return,
            _ => halted.insert(campaign.clone(), now),
        };
    }
    tracing::error!(%campaign, %reason, "No message of this campaign can be sent until the cause is fixed (a refused or missing key, a missing permission); pausing the campaign. Fix the cause, then run `wacast resume`.");
    with_redis_retry(ctx, "pause", || ctx.queue.pause(campaign, Some(reason))).await;
}

/// Puts the message back in the queue, unsent, if it is more than [`SLOT_TOLERANCE_MS`] past
/// its rate slot (checked before marking it `sending`, so that a slow wake-up costs no
/// `sending` state, and after, since marking takes a round trip). Returns whether it did.
async fn missed_slot(ctx: &Context, lease: &Lease, not_before_ms: Option<i64>) -> bool {
    let Some(slot) = not_before_ms else {
        return false;
    };
    if now_ms() - slot <= SLOT_TOLERANCE_MS {
        return false;
    }
    metrics::counter!(DEFERRED_METRIC, "reason" => "missed_slot").increment(1);
    defer(ctx, lease, Duration::ZERO, "missed its rate slot").await;
    true
}

/// How late after its rate slot a message may still be sent. At a sender's rate r, messages
/// sent up to this late add at most r × 20 ms to any one second (about one at 60/s); later
/// ones would add what a stall held up.
const SLOT_TOLERANCE_MS: i64 = 20;

/// How long after pausing a campaign for a `Halt` this process pauses it again on the next one
/// (the operator may have resumed it without fixing the cause).
const HALT_REPEAT: Duration = Duration::from_secs(10);

/// Records a final outcome.
async fn record(ctx: &Context, lease: &Lease, terminal: Terminal) {
    with_redis_retry(ctx, "record outcome", || ctx.recorder.ack(lease, &terminal)).await;
}

/// Puts a message back in the queue without counting an attempt.
async fn defer(ctx: &Context, lease: &Lease, delay: Duration, reason: &str) {
    let due = now_ms() + millis(delay);
    with_redis_retry(ctx, "defer", || {
        ctx.recorder.retry(lease, due, reason, RetryKind::Deferred)
    })
    .await;
}

/// Runs a queue call until it succeeds or a lease's worth of time has passed. Redis trouble
/// is never a reason to drop an outcome: a restart takes seconds, and the message's lease (kept
/// alive by the heartbeat) covers the wait. A refusal (not a Redis error) is logged and ends it.
async fn with_redis_retry<T, E, F, Fut>(ctx: &Context, action: &str, mut call: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: CallError,
{
    let deadline = Instant::now() + ctx.lease;
    let mut backoff = Duration::from_millis(50);
    loop {
        match call().await {
            Ok(value) => {
                ctx.health.set(true);
                return Some(value);
            }
            Err(error) if error.is_redis() && Instant::now() + backoff < deadline => {
                ctx.health.set(false);
                metrics::counter!(name::REDIS_ERRORS).increment(1);
                tracing::warn!(action, error = %chain(&error), retry_in_ms = backoff.as_millis(), "Redis call failed; retrying.");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            Err(error) => {
                tracing::error!(action, error = %chain(&error), "Queue call failed; the message's lease will resolve it.");
                return None;
            }
        }
    }
}

/// An error of a queue call: Redis trouble (worth retrying) or not.
trait CallError: std::error::Error {
    fn is_redis(&self) -> bool;
}

impl CallError for QueueError {
    fn is_redis(&self) -> bool {
        QueueError::is_redis(self)
    }
}

impl CallError for RecordError {
    fn is_redis(&self) -> bool {
        RecordError::is_redis(self)
    }
}

async fn stopped(mut stopping: watch::Receiver<bool>) {
    // An error means the sender is gone, which only happens when the worker is gone.
    let _ = stopping.wait_for(|s| *s).await;
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// An error with its whole chain of causes, for log fields.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}
