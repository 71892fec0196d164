//! The apalis task function: one claimed message from lease to recorded outcome, in the steps
//! `Task::run` takes one after another:
//!
//! 1. `load_campaign`: the campaign's spec, renderer and metrics (cached per process).
//! 2. `check_validity`: its send time plus ttl passed? Then `expired`.
//! 3. `check_window`: outside the campaign's send window? Then due again at the opening.
//! 4. `render`: the provider's validated request for the row, or `failed` (`render`).
//! 5. `wait_for_slot`: the rate slot the claim gave it (sender limits hold fleet-wide, decided
//!    by the claim in the backend); a message more than 20 ms late goes back unsent.
//! 6. `admit`: can this worker send through the campaign's provider now (`provider_health`)?
//!    If not (no key, a refused key, an open breaker) the message goes back unsent, for the
//!    workers that can.
//! 7. `mark_sending`: the fence: the campaign's pause or cancel and a lost lease are checked
//!    here, atomically; then the slot once more.
//! 8. `check_lease`: the lease is still valid by this process's own monotonic clock (marked
//!    less than a lease ago, less a margin): a process stopped or stalled past its lease (its
//!    message may be `unknown` by now) sends nothing when it wakes, and hands the message back.
//! 9. `send`: the request, through whichever provider the campaign uses.
//! 10. `record_outcome`: ack, retry later, or on a `Halt` put the message back: the campaign
//!     pauses if the cause is its own, or if no live worker can send through its provider. A
//!     refusal is acked with its streak rule (the ack pauses a campaign refused again and again,
//!     see `wacast_shared::streak`); a rate limit slows the sender fleet-wide and puts the
//!     message back without using an attempt (`rate_limited`).
//!
//! Every time here is Redis's (`Queue::now`), never the host's: a host whose clock is wrong
//! neither sends early nor misjudges a slot, a window or a message's validity.
//!
//! A step that ends the message's turn early returns `Settled`. Marking and recording go
//! through the recorder (`record.rs`), which batches them across tasks; each message is still
//! fenced on its own.
//!
//! Nothing here returns an error to apalis: every path ends in a recorded outcome or leaves the
//! message to its lease, which the reaper resolves (`claimed` → queued again, `sending` →
//! `unknown`).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use wacast_shared::campaign::{CampaignId, CampaignState, ProviderKind};
use wacast_shared::error_chain::error_chain;
use wacast_shared::message::QueuedMessage;
use wacast_shared::provider::Providers;
use wacast_shared::provider::outcome::{HaltScope, Outcome, Sent, WorkerFault};
use wacast_shared::provider::request::Rendered;
use wacast_shared::queue::backend::DEFERRED_METRIC;
use wacast_shared::queue::{Claimed, Lease, Queue, QueueError, RetryKind, SendPermit, Terminal};
use wacast_shared::schedule::Schedule;
use wacast_shared::streak::{StreakRule, is_rate_limit, whatsapp_code};
use wacast_shared::window::{SendWindow, ZoneCache};

use crate::campaigns::{CampaignCache, Prepared};
use crate::metrics::{Health, name};
use crate::provider_health::{Admission, Held, Probe, ProviderHealth};
use crate::record::{RecordError, Recorder};
use crate::registry::Registry;
use crate::retry::RetryPolicy;

/// What every task shares.
pub struct Context {
    pub queue: Queue,
    /// The writer of message states, in batches.
    pub recorder: Recorder,
    /// One client per provider this worker has a key for.
    pub providers: Providers,
    pub retry: RetryPolicy,
    /// Refusals in a row with the same code that pause a campaign (`--pause-after-failures`).
    pub pause_after_failures: u32,
    /// This process's refusals in a row per campaign (code, count), to log the pause the
    /// ack makes when a streak reaches its length (the streak itself is counted in Redis,
    /// fleet-wide).
    pub streaks: Mutex<HashMap<CampaignId, (String, u32)>>,
    /// The lease a message keeps while `sending`.
    pub lease: Duration,
    pub campaigns: CampaignCache,
    pub health: Health,
    /// The requests-in-flight gauge, resolved once.
    pub in_flight: metrics::Gauge,
    /// Recipients' time zones for send windows, by number prefix.
    pub window_zones: Mutex<ZoneCache>,
    /// Campaigns this process paused for a `Halt` (or asked the registry about), and when.
    pub halted: Mutex<HashMap<CampaignId, Instant>>,
    /// Turns true when the worker stops: messages still waiting for the rate limiter go back to
    /// the queue instead of being sent.
    pub stopping: watch::Receiver<bool>,
    /// Whether this worker can send through each provider now.
    pub provider_health: Arc<ProviderHealth>,
    /// This worker in the live workers registry.
    pub registry: Arc<Registry>,
}

/// The task function registered with `WorkerBuilder::build`: the steps of the module's doc,
/// in order. Each step either hands the message on to the next or settles it (records an
/// outcome, puts it back in the queue, or leaves it to its lease).
pub async fn handle(task: Claimed, ctx: Arc<Context>) {
    let Claimed {
        message,
        lease,
        not_before_ms,
        missed_slots,
        ..
    } = task;
    let task = Task {
        ctx: &ctx,
        message: &message,
        lease: &lease,
        slot_ms: not_before_ms,
        missed_slots,
    };
    // Every way a task ends is recorded in Redis or left to the lease: nothing to return.
    let _settled = task.run().await;
}

/// The message's turn in this task ended before the last step: what happened is recorded in
/// Redis (an outcome, a deferral) or left to the lease.
struct Settled;

/// What a step gives the next one, or [`Settled`].
type Step<T = ()> = Result<T, Settled>;

/// One claimed message on its way, with what every step needs.
struct Task<'a> {
    ctx: &'a Context,
    message: &'a QueuedMessage,
    lease: &'a Lease,
    /// The rate slot the claim gave the message (Redis milliseconds), if its sender is limited.
    slot_ms: Option<i64>,
    /// How often the message missed its rate slot before.
    missed_slots: u32,
}

impl Task<'_> {
    /// The steps, in order.
    async fn run(&self) -> Step {
        let campaign = self.load_campaign().await?;
        self.check_validity(&campaign).await?;
        self.check_window(&campaign).await?;
        let request = self.render(&campaign).await?;
        self.wait_for_slot(&campaign).await?;
        let probe = self.admit(&campaign).await?;
        let marked_at = self.mark_sending(&campaign).await?;
        self.check_lease(marked_at).await?;
        let outcome = self.send(&campaign, &request).await;
        self.record_outcome(&campaign, outcome, probe).await;
        Ok(())
    }

    /// The campaign's spec, renderer and metrics. Without them the message cannot be rendered:
    /// it waits a second and is tried again.
    async fn load_campaign(&self) -> Step<Arc<Prepared>> {
        let id = &self.message.campaign;
        match self.ctx.campaigns.get(&self.ctx.queue, id).await {
            Ok(campaign) => Ok(campaign),
            Err(error) => {
                tracing::warn!(campaign = %id, error = %error_chain(&error), "Cannot load the campaign; the message waits.");
                Err(self
                    .defer(Duration::from_secs(1), "campaign unreadable")
                    .await)
            }
        }
    }

    /// Ends the message `expired` when its send time plus its ttl has passed.
    async fn check_validity(&self, campaign: &Prepared) -> Step {
        if !Schedule::of(&campaign.spec, &self.message.overrides).is_expired(self.ctx.queue.now()) {
            return Ok(());
        }
        campaign.metrics.expired.increment(1);
        Err(self.record(Terminal::Expired).await)
    }

    /// Outside the campaign's send window the message is due again at the next opening (a
    /// retry that fell into the night, or a campaign resumed outside its hours); a window that
    /// never opens for this recipient fails it.
    async fn check_window(&self, campaign: &Prepared) -> Step {
        let spec = &campaign.spec;
        let Some(window) = &spec.window else {
            return Ok(());
        };
        match outside_window(self.ctx, window, self.message, self.ctx.queue.now()) {
            None => Ok(()),
            Some(Ok(opens)) => {
                metrics::counter!(DEFERRED_METRIC, "reason" => "window").increment(1);
                let until = opens.timestamp_millis();
                with_redis_retry(self.ctx, "note waiting", || {
                    self.ctx.queue.note_waiting(&spec.id, "window", until)
                })
                .await;
                let delay = (opens - self.ctx.queue.now()).to_std().unwrap_or_default();
                Err(self.defer(delay, "outside the send window").await)
            }
            Some(Err(reason)) => {
                campaign.metrics.failed("window");
                let code = "window".into();
                Err(self.record(Terminal::Failed { code, reason }).await)
            }
        }
    }

    /// The provider's validated request for this row; a row that cannot become one fails.
    async fn render(&self, campaign: &Prepared) -> Step<Rendered> {
        match campaign.request(self.message, self.ctx.queue.now()) {
            Ok(request) => Ok(request),
            Err(reason) => {
                campaign.metrics.failed("render");
                let code = "render".into();
                Err(self.record(Terminal::Failed { code, reason }).await)
            }
        }
    }

    /// Waits for the rate slot the claim gave the message (the rate holds across the fleet).
    /// It waits still `claimed`, so that a worker killed meanwhile leaves it to be claimed
    /// again, not `unknown`; a worker that stops hands it back. Messages held up and then sent
    /// together (by a process the machine stalled, say) would exceed the rate, so one that
    /// missed its slot goes back for a new one, unsent.
    async fn wait_for_slot(&self, campaign: &Prepared) -> Step {
        if let Some(slot) = self.slot_ms {
            let wait = self.ctx.queue.clock().until(slot);
            if !wait.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = stopped(self.ctx.stopping.clone()) => {
                        // Not sent, and the worker is stopping: hand it back for another worker.
                        return Err(self.defer(Duration::ZERO, "worker stopping").await);
                    }
                }
            }
            campaign.metrics.rate_limit_wait.record(wait.as_secs_f64());
            self.check_validity(campaign).await?;
        }
        self.check_slot(campaign).await
    }

    /// Whether this worker can send through the campaign's provider now. A message it cannot
    /// send goes back unsent and without an attempt, for the workers that can (this one's claims
    /// leave them alone meanwhile); for a fault of this worker's the campaign pauses if no live
    /// worker can send through the provider.
    async fn admit(&self, campaign: &Prepared) -> Step<Option<Probe>> {
        let provider = campaign.spec.provider;
        match self.ctx.provider_health.admit(provider) {
            Admission::Send(probe) => Ok(probe),
            Admission::Hold(held) => {
                metrics::counter!(DEFERRED_METRIC, "reason" => "provider").increment(1);
                if let Held::Fault(fault, reason) = &held {
                    leave_or_pause(self.ctx, &campaign.spec.id, provider, *fault, reason).await;
                }
                Err(self
                    .defer(
                        Duration::ZERO,
                        "this worker cannot send through the provider now",
                    )
                    .await)
            }
        }
    }

    /// Marks the message `sending`: the fence. Only a claim still this worker's, of a campaign
    /// neither paused nor cancelled, gets the permit; marking takes a round trip, so the slot
    /// is checked again after it. Returns when the permit was asked for: the lease runs from
    /// no earlier than that (the script extends it from Redis's time when it answers).
    async fn mark_sending(&self, campaign: &Prepared) -> Step<Instant> {
        let ctx = self.ctx;
        let mut asked = Instant::now();
        match with_redis_retry(ctx, "mark sending", || {
            asked = Instant::now();
            ctx.recorder.mark_sending(self.lease)
        })
        .await
        {
            Some(SendPermit::Send) => {}
            Some(permit) => {
                tracing::debug!(message = %self.lease.reference(), ?permit, "Not sending.");
                return Err(Settled);
            }
            // Redis stayed unreachable: the lease runs out and the message is claimed again.
            None => return Err(Settled),
        }
        self.check_slot(campaign).await?;
        Ok(asked)
    }

    /// The last check before the request is written: the lease the mark gave is still valid by
    /// this process's monotonic clock, with a margin. A process stopped (SIGSTOP, a VM paused,
    /// a long stall) between the mark and the write may have lost the message to the reaper
    /// meanwhile (`unknown`, which an operator may retry): it must not send on waking. The
    /// message goes back to the queue unsent if it is still this worker's; if it was reaped,
    /// the reaper's verdict stands.
    async fn check_lease(&self, marked_at: Instant) -> Step {
        let lease = self.ctx.lease;
        let valid_until = marked_at + lease - lease_margin(lease);
        if Instant::now() < valid_until {
            return Ok(());
        }
        let late = Instant::now().duration_since(marked_at);
        tracing::warn!(message = %self.lease.reference(), ?late, ?lease, "The lease ran out between marking and sending (the process was stopped or starved); not sending.");
        Err(self
            .defer(
                Duration::ZERO,
                "lease ran out before the request was written",
            )
            .await)
    }

    /// The request, through whichever provider the campaign uses.
    async fn send(&self, campaign: &Prepared, request: &Rendered) -> Outcome<Sent> {
        self.ctx.in_flight.increment(1.0);
        self.ctx.registry.in_flight.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let outcome = self.ctx.providers.send(request).await;
        self.ctx.registry.in_flight.fetch_sub(1, Ordering::Relaxed);
        campaign
            .metrics
            .request_duration
            .record(started.elapsed().as_secs_f64());
        self.ctx.in_flight.decrement(1.0);
        outcome
    }

    /// Records what the send came to: a final state, a retry later (while attempts remain),
    /// or, for a refusal that stops every message of the campaign, a pause.
    async fn record_outcome(
        &self,
        campaign: &Prepared,
        outcome: Outcome<Sent>,
        probe: Option<Probe>,
    ) {
        let (ctx, message, lease) = (self.ctx, self.message, self.lease);
        let provider = campaign.spec.provider;
        ctx.provider_health.observe(provider, &outcome, probe);
        let metrics = &campaign.metrics;
        let attempts = message.attempts + 1;
        let terminal = match outcome {
            Outcome::Done(Sent { provider_id, price }) => {
                metrics.sent.increment(1);
                Terminal::Sent { provider_id, price }
            }
            Outcome::Failed { code, reason } => {
                // WhatsApp's own code, where the provider's explanation names it.
                let code = whatsapp_code(&code, &reason).to_string();
                if is_rate_limit(&code) {
                    self.rate_limited(campaign, None, &reason).await;
                    return;
                }
                tracing::debug!(message = %lease.reference(), to = %message.to.masked(), %code, %reason, "Message failed.");
                metrics.failed(&code);
                let streak = StreakRule::for_code(&code, ctx.pause_after_failures);
                self.record(Terminal::Refused {
                    code: code.clone(),
                    reason,
                    streak,
                })
                .await;
                self.log_streak_pause(&campaign.spec.id, &code, streak)
                    .await;
                return;
            }
            Outcome::RateLimited { after, reason } => {
                self.rate_limited(campaign, after, &reason).await;
                return;
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
                let due = ctx.queue.now_ms() + millis(delay);
                with_redis_retry(ctx, "retry", || {
                    ctx.recorder
                        .retry(lease, due, &reason, RetryKind::AfterAttempt)
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
            Outcome::Halt {
                scope: HaltScope::Worker(fault),
                reason,
            } => {
                // This worker's own trouble: the message goes back unsent for the workers that
                // can send it (or waits in the paused campaign if none can).
                leave_or_pause(ctx, &campaign.spec.id, provider, fault, &reason).await;
                self.defer(Duration::ZERO, &reason).await;
                return;
            }
            Outcome::Halt {
                scope: HaltScope::Campaign,
                reason,
            } => {
                halt(ctx, &campaign.spec.id, &reason).await;
                // The provider refused the request without sending it: the message waits in
                // the paused campaign and goes out after `wacast resume`.
                self.defer(Duration::ZERO, &reason).await;
                return;
            }
        };
        self.record(terminal).await;
    }

    /// The provider limits the sender's rate: the fleet slows the sender (`Queue::slow_sender`:
    /// its rate halved for a while, no claim of its rows before `Retry-After`) and the message
    /// goes back to the queue without counting an attempt, since the provider refused the
    /// request unread. What bounds a provider that answers 429 forever is the message's ttl: it
    /// is due again within the retry cap each time, and once its send time plus ttl has passed
    /// it ends `expired` at its next claim instead of being sent.
    async fn rate_limited(&self, campaign: &Prepared, after: Option<Duration>, reason: &str) {
        let ctx = self.ctx;
        let spec = &campaign.spec;
        campaign.metrics.retried_rate_limited.increment(1);
        let slowed = with_redis_retry(ctx, "slow sender", || {
            ctx.queue.slow_sender(spec.provider, &spec.from, after)
        })
        .await;
        if let Some(slowed) = slowed
            && slowed.lowered
        {
            tracing::warn!(campaign = %spec.id, sender = %spec.from.digits(), factor = slowed.factor, ?after, %reason, "The provider is limiting the sender's rate; the fleet slows it.");
        }
        self.defer(ctx.retry.delay(1, after), reason).await;
    }

    /// Logs, once per pause, that the campaign paused for a streak of refusals (the ack pauses
    /// it in Redis when the fleet's streak reaches `streak`'s length; this process counts its
    /// own refusals to know when to look).
    async fn log_streak_pause(&self, id: &CampaignId, code: &str, streak: StreakRule) {
        if streak.pause_after == 0 {
            return;
        }
        let ctx = self.ctx;
        {
            let mut streaks = ctx.streaks.lock().unwrap_or_else(|e| e.into_inner());
            let entry = streaks
                .entry(id.clone())
                .or_insert_with(|| (code.to_string(), 0));
            if entry.0 != code {
                *entry = (code.to_string(), 0);
            }
            entry.1 += 1;
            if entry.1 < streak.pause_after {
                return;
            }
            // Looked at once per streak's length of this process's refusals, not per refusal.
            entry.1 = 0;
        }
        let Ok(record) = ctx.queue.load_campaign(id).await else {
            return;
        };
        let reason = record.pause_reason.unwrap_or_default();
        if record.state != CampaignState::Paused || !reason.contains(code) {
            return;
        }
        tracing::error!(campaign = %id, %code, %reason, "The campaign's messages keep failing with the same error; the campaign is paused.");
    }

    /// Puts the message back in the queue, unsent, if it is more than [`SLOT_TOLERANCE_MS`]
    /// past its rate slot (checked before marking it `sending`, so that a slow wake-up costs
    /// no `sending` state, and after, since marking takes a round trip). The misses are
    /// counted on the message; at the [`MAX_MISSED_SLOTS`]th it fails (`missed_slot`) instead
    /// of going round for ever.
    async fn check_slot(&self, campaign: &Prepared) -> Step {
        let Some(slot) = self.slot_ms else {
            return Ok(());
        };
        let late = self.ctx.queue.now_ms() - slot;
        match slot_verdict(late, self.missed_slots) {
            SlotVerdict::InTime => Ok(()),
            SlotVerdict::Missed => {
                metrics::counter!(DEFERRED_METRIC, "reason" => "missed_slot").increment(1);
                let (reason, kind) = ("missed its rate slot", RetryKind::MissedSlot);
                Err(self.put_back(Duration::ZERO, reason, kind).await)
            }
            SlotVerdict::GiveUp(reason) => {
                campaign.metrics.failed("missed_slot");
                tracing::warn!(message = %self.lease.reference(), late, "A message keeps missing its rate slot; failing it.");
                let code = "missed_slot".into();
                Err(self.record(Terminal::Failed { code, reason }).await)
            }
        }
    }

    /// Records a final outcome; the message is settled.
    async fn record(&self, terminal: Terminal) -> Settled {
        let ctx = self.ctx;
        // A message the provider accepted must end `sent`, not `unknown` when its lease runs
        // out: its ack is retried for as long as the process lives (the heartbeat keeps the
        // lease while the task runs).
        let until_done = matches!(terminal, Terminal::Sent { .. });
        retry_redis(ctx, "record outcome", until_done, || {
            ctx.recorder.ack(self.lease, &terminal)
        })
        .await;
        Settled
    }

    /// Puts the message back in the queue without counting an attempt; it is settled.
    async fn defer(&self, delay: Duration, reason: &str) -> Settled {
        self.put_back(delay, reason, RetryKind::Deferred).await
    }

    /// Puts the message back in the queue, due after `delay` (by Redis's clock), as `kind`.
    async fn put_back(&self, delay: Duration, reason: &str, kind: RetryKind) -> Settled {
        let ctx = self.ctx;
        let due = ctx.queue.now_ms() + millis(delay);
        with_redis_retry(ctx, "defer", || {
            ctx.recorder.retry(self.lease, due, reason, kind)
        })
        .await;
        Settled
    }
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

/// How the pause reasons the worker writes begin, so that the fleet watch can tell them from an
/// operator's (`wacast_campaigns_paused{reason}`): no live worker can send through the
/// provider (then its name and why), or the provider refuses the campaign itself.
pub const NO_WORKER_PAUSE: &str = "no live worker can send through";
pub const PROVIDER_PAUSE: &str = "the provider refuses this campaign";

/// Pauses a campaign the provider refuses for a cause of the campaign's own (Bird's unknown
/// workspace or channel), logging one ERROR instead of failing every row. The many tasks that meet the same refusal at once
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
    let reason = format!("{PROVIDER_PAUSE}: {reason}");
    with_redis_retry(ctx, "pause", || ctx.queue.pause(campaign, Some(&reason))).await;
}

/// A campaign whose message this worker cannot send for a fault of its own (no key, a refused
/// key, an unreachable endpoint): left to the other live workers when one can send through the
/// provider, paused otherwise, with a reason that says no live worker can and why. Asked at
/// most once per [`HALT_REPEAT`] per campaign; when the registry cannot be read, the campaign
/// is left running (the message goes back either way).
async fn leave_or_pause(
    ctx: &Context,
    campaign: &CampaignId,
    provider: ProviderKind,
    fault: WorkerFault,
    reason: &str,
) {
    {
        let mut halted = ctx.halted.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match halted.get(campaign) {
            Some(at) if now.duration_since(*at) < HALT_REPEAT => return,
            _ => halted.insert(campaign.clone(), now),
        };
    }
    match ctx.registry.others_can_send(provider).await {
        Ok(true) => {
            tracing::debug!(%campaign, provider = provider.as_str(), "Left to the other live workers.");
            return;
        }
        Ok(false) => {}
        Err(error) => {
            tracing::warn!(%campaign, error = %error_chain(&error), "Cannot read the live workers; the campaign keeps running.");
            return;
        }
    }
    let name = provider.display_name();
    let reason = format!("{NO_WORKER_PAUSE} {name}: {reason}");
    tracing::error!(%campaign, provider = provider.as_str(), health = fault.as_str(), %reason, "No live worker can send this campaign; pausing it. Fix the cause, then run `wacast resume`.");
    with_redis_retry(ctx, "pause", || ctx.queue.pause(campaign, Some(&reason))).await;
}

/// How late after its rate slot a message may still be sent. At a sender's rate r, messages
/// sent up to this late add at most r × 20 ms to any one second (about one at 60/s); later
/// ones would add what a stall held up.
const SLOT_TOLERANCE_MS: i64 = 20;

/// What a message `late_ms` past its rate slot comes to, having missed it `missed_before`
/// times already.
#[derive(Debug, PartialEq, Eq)]
enum SlotVerdict {
    /// Within [`SLOT_TOLERANCE_MS`]: send it.
    InTime,
    /// Back to the queue for a new slot, the miss counted.
    Missed,
    /// The [`MAX_MISSED_SLOTS`]th miss: it fails, for this reason.
    GiveUp(String),
}

fn slot_verdict(late_ms: i64, missed_before: u32) -> SlotVerdict {
    if late_ms <= SLOT_TOLERANCE_MS {
        return SlotVerdict::InTime;
    }
    let missed = missed_before + 1;
    if missed < MAX_MISSED_SLOTS {
        return SlotVerdict::Missed;
    }
    SlotVerdict::GiveUp(format!(
        "missed its rate slot {missed} times (the last time by {late_ms} ms): the worker cannot \
         keep up with the sender's rate (a CPU-starved host, or trouble with its clock); check \
         the workers' load and clocks, then `wacast retry`"
    ))
}

/// How often a message may miss its rate slot before it fails (`missed_slot`). A miss means
/// the worker woke more than 20 ms late for it; a message missing 20 times in a row meets a
/// worker that cannot keep the rate at all, not bad luck.
const MAX_MISSED_SLOTS: u32 = 20;

/// The part of a lease kept in reserve by the last check before a request is written: the
/// write itself, and the gap between the mark's round trip and Redis's reading of its time.
fn lease_margin(lease: Duration) -> Duration {
    (lease / 4).min(Duration::from_secs(5))
}

/// How long after pausing a campaign for a `Halt` this process pauses it again on the next one
/// (the operator may have resumed it without fixing the cause).
const HALT_REPEAT: Duration = Duration::from_secs(10);

/// Runs a queue call until it succeeds or a lease's worth of time has passed. Redis trouble
/// is never a reason to drop an outcome: a restart takes seconds, and the message's lease (kept
/// alive by the heartbeat) covers the wait. A refusal (not a Redis error) is logged and ends it.
async fn with_redis_retry<T, E, F, Fut>(ctx: &Context, action: &str, call: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: CallError,
{
    retry_redis(ctx, action, false, call).await
}

/// [`with_redis_retry`], without its deadline when `until_done`. Redis out of memory never
/// ends the retries: the calls of messages under way are `allow-oom` scripts, so this is a
/// Redis that refuses even those (an old script, a Redis < 7); it is reported once a minute
/// by the worker, not per call.
async fn retry_redis<T, E, F, Fut>(
    ctx: &Context,
    action: &str,
    until_done: bool,
    mut call: F,
) -> Option<T>
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
            Err(error) if error.is_out_of_memory() => {
                ctx.queue.note_out_of_memory(true);
                tracing::debug!(action, error = %error_chain(&error), "Redis is out of memory; retrying.");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            Err(error)
                if error.is_redis() && (until_done || Instant::now() + backoff < deadline) =>
            {
                ctx.health.set(false);
                metrics::counter!(name::REDIS_ERRORS).increment(1);
                tracing::warn!(action, error = %error_chain(&error), retry_in_ms = backoff.as_millis(), "Redis call failed; retrying.");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            Err(error) => {
                tracing::error!(action, error = %error_chain(&error), "Queue call failed; the message's lease will resolve it.");
                return None;
            }
        }
    }
}

/// An error of a queue call: Redis trouble (worth retrying) or not.
trait CallError: std::error::Error {
    fn is_redis(&self) -> bool;
    fn is_out_of_memory(&self) -> bool;
}

impl CallError for QueueError {
    fn is_redis(&self) -> bool {
        QueueError::is_redis(self)
    }
    fn is_out_of_memory(&self) -> bool {
        QueueError::is_out_of_memory(self)
    }
}

impl CallError for RecordError {
    fn is_redis(&self) -> bool {
        RecordError::is_redis(self)
    }
    fn is_out_of_memory(&self) -> bool {
        matches!(self, RecordError::Queue(error) if error.is_out_of_memory())
    }
}

async fn stopped(mut stopping: watch::Receiver<bool>) {
    // An error means the sender is gone, which only happens when the worker is gone.
    let _ = stopping.wait_for(|s| *s).await;
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_that_keeps_missing_its_slot_fails_at_the_bound_with_the_cause() {
        assert_eq!(slot_verdict(SLOT_TOLERANCE_MS, 0), SlotVerdict::InTime);
        assert_eq!(slot_verdict(-500, 30), SlotVerdict::InTime);
        assert_eq!(slot_verdict(SLOT_TOLERANCE_MS + 1, 0), SlotVerdict::Missed);
        assert_eq!(slot_verdict(900, MAX_MISSED_SLOTS - 2), SlotVerdict::Missed);
        let SlotVerdict::GiveUp(reason) = slot_verdict(900, MAX_MISSED_SLOTS - 1) else {
            panic!("the 20th miss fails the message");
        };
        assert!(reason.starts_with("missed its rate slot 20 times (the last time by 900 ms)"));
        assert!(reason.contains("cannot keep up"), "{reason}");
    }

    #[test]
    fn the_lease_margin_is_a_quarter_of_the_lease_at_most_five_seconds() {
        assert_eq!(lease_margin(Duration::from_secs(8)), Duration::from_secs(2));
        assert_eq!(
            lease_margin(Duration::from_secs(60)),
            Duration::from_secs(5)
        );
    }
}
