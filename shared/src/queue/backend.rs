//! The apalis backend: claimed messages as a worker's task stream.
//!
//! [`QueueBackend`] implements apalis-core's `Backend`, so a worker runs on `WorkerBuilder`:
//!
//! ```ignore
//! let backend = QueueBackend::new(queue.clone(), FetchConfig { concurrency: 64, .. });
//! WorkerBuilder::new(unique_worker_id).backend(backend).build(handle).run().await
//! // async fn handle(task: Claimed, …): mark_sending → send → ack | retry, through the queue.
//! ```
//!
//! - **Concurrency.** The backend itself never lets more than `concurrency` messages be out at
//!   once: each claimed message takes a slot, which the backend's middleware layer holds until
//!   the worker's whole service stack (user layers and handler) has finished with the task, so
//!   it does not matter what the handler does with its argument. `poll_ready` waits for a free
//!   slot and a fetch claims at most as many messages as there are free slots, up to
//!   `batch_max`, so a worker never holds a lease on a message it cannot start. A
//!   `.concurrency(n)` layer on the worker is optional; if used, give it the same `n`.
//! - **Leases.** A background task extends the lease of every message the worker holds every
//!   `lease / 3` (the heartbeat), and reaps expired leases of any worker every `reap_interval`.
//!   Lease expiries are Redis's `TIME` plus the lease, and the reaper compares them with `TIME`:
//!   a worker's own clock never decides whose lease expired. The same task reads Redis's time
//!   again every 30 s for the queue's clock (`clock::RedisClock`), and the fetcher after Redis
//!   failed (a failover may bring a server with another clock).
//!   A handler that returns without `ack` or `retry` leaves its message to the reaper: back in
//!   the queue after the lease if it was only claimed, `unknown` if it was sending.
//! - **Sender limits.** Claims apply the sender limits (`limits` module): a throttled sender's
//!   rows stay in the queue instead of taking slots, and each claimed message carries the slot
//!   its sender's rate gave it (`not_before_ms`), which the handler waits for. Rows put off are
//!   counted in `wacast_messages_deferred_total{reason}`, each row once per limit that puts it
//!   off (not again at every claim that looks at a throttled run).
//! - **Providers.** Claims take only the providers the worker can send through now
//!   ([`ClaimLimits::providers`](crate::queue::limits::ClaimLimits), a gate the worker closes
//!   for a refused key or an open breaker); other providers' due entries stay as they are. With
//!   every provider closed, the fetcher claims nothing until one opens.
//! - **Waking.** When nothing is due, the fetcher sleeps until the earliest due entry, or until
//!   a script announces earlier work on the wake channel (see the `wake` module), or at most
//!   `idle_poll`. A message due now reaches an idle worker within milliseconds.
//! - **Redis failures.** A failed claim is logged (WARN, ERROR once failures last for seconds)
//!   and retried after a pause that doubles from 100 ms to 5 s; the task stream never ends
//!   because of Redis, so the worker never exits because Redis restarted. The connection
//!   reconnects by itself.
//!   A claim Redis refuses for being over `maxmemory` is not trouble of that kind: the
//!   fetcher backs off the same way without a line per attempt and records it on the queue
//!   (`Queue::out_of_memory`), which the worker reports.
//! - **Shutdown.** On `poll_close` (the worker stops, after its in-flight tasks finished) the
//!   fetcher stops, messages claimed but never handed out are released back to the due set,
//!   and the background tasks end.
//!
//! The worker id (the `WorkerBuilder` name) is recorded in every claim; it must be unique per
//! process start (host, pid and a random part), so that leases of a dead process are never
//! mistaken for a live one's.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use apalis_core::backend::finalize::Ephemeral;
use apalis_core::backend::{Backend, BackendConfig};
use apalis_core::layers::{Layer, Service};
use apalis_core::task::Task;
use apalis_core::task::builder::TaskBuilder;
use apalis_core::task::task_id::TaskId;
use apalis_core::worker::context::WorkerContext;
use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::task::JoinHandle;

use crate::error_chain::error_chain;
use crate::queue::clock::{RESYNC, millis};
use crate::queue::connection::Queue;
use crate::queue::lease::Lease;
use crate::queue::lifecycle::Claimed;
use crate::queue::limits::{ClaimLimits, Deferrals};
use crate::queue::slot::Slots;
use crate::queue::wake::{Wake, spawn_subscriber};

/// The first pause after a failed claim; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// The longest pause between claim attempts while Redis fails.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Expired leases handled per reap call; the reaper loops while calls come back full.
const REAP_BATCH: usize = 1000;

/// How a backend fetches.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// The most messages out at once (claimed and not finished): the worker's concurrency.
    pub concurrency: usize,
    /// The most messages one claim takes. Larger batches mean fewer Redis calls; smaller ones
    /// spread a burst over several workers sooner.
    pub batch_max: usize,
    /// How long a claim lasts without a heartbeat. A dead worker's claimed messages return to
    /// the queue after at most this long; its sending ones become `unknown`.
    pub lease: Duration,
    /// The longest an idle fetcher sleeps without looking at Redis, in case a wake-up was lost.
    pub idle_poll: Duration,
    /// How often this worker reaps expired leases (of any worker).
    pub reap_interval: Duration,
    /// The sender limits claims apply besides the operator's settings in Redis.
    pub limits: ClaimLimits,
}

impl FetchConfig {
    /// A default `batch_max`: big enough that a claim costs little per message, small enough
    /// that one script call stays well under a millisecond.
    pub const DEFAULT_BATCH_MAX: usize = 100;
    /// A default lease: long enough to cover a rate-limiter wait and a slow provider answer
    /// between heartbeats (every 20 s), short enough that a crash delays its messages briefly.
    pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);
    /// A default `idle_poll`: wake-ups arrive by pub/sub; this only bounds a lost one.
    pub const DEFAULT_IDLE_POLL: Duration = Duration::from_secs(1);
    /// A default `reap_interval`.
    pub const DEFAULT_REAP_INTERVAL: Duration = Duration::from_secs(5);
}

/// wacast's queue as an apalis backend. See the module documentation.
pub struct QueueBackend {
    queue: Queue,
    config: FetchConfig,
    slots: Arc<Slots>,
    wake: Arc<Wake>,
    worker: Option<String>,
    buffer: VecDeque<Claimed>,
    fetch: Option<BoxFuture<'static, Vec<Claimed>>>,
    close: Option<BoxFuture<'static, ()>>,
    tasks: Vec<JoinHandle<()>>,
}

impl fmt::Debug for QueueBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueBackend")
            .field("queue", &self.queue)
            .field("config", &self.config)
            .field("worker", &self.worker)
            .field("buffered", &self.buffer.len())
            .field("in_flight", &self.in_flight())
            .finish_non_exhaustive()
    }
}

impl QueueBackend {
    /// A backend over `queue`. It starts its background tasks when the worker first polls it.
    pub fn new(queue: Queue, config: FetchConfig) -> QueueBackend {
        let config = FetchConfig {
            concurrency: config.concurrency.max(1),
            batch_max: config.batch_max.max(1),
            ..config
        };
        QueueBackend {
            queue,
            config,
            slots: Arc::new(Slots::new()),
            wake: Arc::new(Wake::default()),
            worker: None,
            buffer: VecDeque::new(),
            fetch: None,
            close: None,
            tasks: Vec::new(),
        }
    }

    /// Messages claimed and not finished: buffered, or handed out and still running.
    pub fn in_flight(&self) -> usize {
        self.slots.in_flight()
    }

    fn start(&mut self, worker: &WorkerContext) {
        if self.worker.is_some() {
            return;
        }
        let id = worker.name().to_string();
        self.tasks.push(spawn_subscriber(
            self.queue.connection(),
            self.queue.keys().wake(),
            Arc::clone(&self.wake),
        ));
        self.tasks.push(tokio::spawn(maintain(
            self.queue.clone(),
            self.config.clone(),
            Arc::clone(&self.slots),
        )));
        tracing::debug!(worker = %id, "Queue backend started.");
        self.worker = Some(id);
    }

    fn task(claimed: Claimed) -> Task<Claimed> {
        let id = TaskId::from_string(claimed.lease.reference().to_string());
        TaskBuilder::new(claimed).task_id(id).build()
    }
}

impl Drop for QueueBackend {
    fn drop(&mut self) {
        self.wake.stop();
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Backend for QueueBackend {
    type Task = Task<Claimed>;
    /// Never returned: Redis failures are logged and retried, because a backend error ends the
    /// apalis worker.
    type Error = Infallible;

    fn poll_ready(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        self.start(worker);
        if !self.buffer.is_empty() || self.fetch.is_some() {
            return Poll::Ready(Ok(()));
        }
        self.slots.register(cx.waker());
        if self.in_flight() < self.config.concurrency {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    }

    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Option<Result<Self::Task, Self::Error>>> {
        self.start(worker);
        loop {
            if let Some(claimed) = self.buffer.pop_front() {
                return Poll::Ready(Some(Ok(Self::task(claimed))));
            }
            if self.wake.is_stopped() {
                return Poll::Pending;
            }
            let fetch = self.fetch.get_or_insert_with(|| {
                fetch(
                    self.queue.clone(),
                    self.config.clone(),
                    Arc::clone(&self.slots),
                    Arc::clone(&self.wake),
                    self.worker.clone().unwrap_or_default(),
                )
                .boxed()
            });
            match fetch.poll_unpin(cx) {
                Poll::Ready(batch) => {
                    self.fetch = None;
                    self.buffer.extend(batch);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn poll_close(
        &mut self,
        cx: &mut Context<'_>,
        _worker: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        self.wake.stop();
        // A claim under way finishes (its messages are then released); a sleep ends at once.
        if let Some(fetch) = self.fetch.as_mut() {
            match fetch.poll_unpin(cx) {
                Poll::Ready(batch) => {
                    self.fetch = None;
                    self.buffer.extend(batch);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        if self.close.is_none() {
            let unsent: Vec<Claimed> = self.buffer.drain(..).collect();
            let queue = self.queue.clone();
            self.close = Some(
                async move {
                    if unsent.is_empty() {
                        return;
                    }
                    let leases: Vec<Lease> = unsent.iter().map(|c| c.lease.clone()).collect();
                    match queue.release(&leases).await {
                        Ok(n) => tracing::info!(released = n, "Released claimed messages."),
                        Err(error) => tracing::warn!(
                            error = %error_chain(&error),
                            "Releasing claimed messages failed; they return after their lease."
                        ),
                    }
                    drop(unsent);
                }
                .boxed(),
            );
        }
        if let Some(close) = self.close.as_mut()
            && close.poll_unpin(cx).is_pending()
        {
            return Poll::Pending;
        }
        for task in self.tasks.drain(..) {
            task.abort();
        }
        Poll::Ready(Ok(()))
    }
}

impl BackendConfig for QueueBackend {
    type Args = Claimed;
    type Id = String;
    type Kind = Ephemeral;
    type Config = FetchConfig;
    type Layer = SlotLayer;

    fn config(&self) -> &Self::Config {
        &self.config
    }

    fn middleware(&mut self, _worker: &mut WorkerContext) -> Self::Layer {
        SlotLayer
    }
}

/// The backend's middleware: keeps each task's concurrency slot until the service stack's
/// future for it completes.
///
/// The slot cannot simply live in the task's argument: a handler's `async move` block captures
/// only the fields it uses (Rust 2021 closure captures), so the slot would be dropped, and the
/// concurrency limit lifted, as soon as the handler was called.
#[derive(Debug, Clone, Copy)]
pub struct SlotLayer;

impl<S> Layer<S> for SlotLayer {
    type Service = SlotService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SlotService { inner }
    }
}

/// The service of [`SlotLayer`].
#[derive(Debug, Clone)]
pub struct SlotService<S> {
    inner: S,
}

impl<S> Service<Task<Claimed>> for SlotService<S>
where
    S: Service<Task<Claimed>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut task: Task<Claimed>) -> Self::Future {
        let slot = task.args.slot.take();
        let future = self.inner.call(task);
        async move {
            let output = future.await;
            drop(slot);
            output
        }
        .boxed()
    }
}

/// Claims the next batch: as many due messages as there are free slots (at least one, since
/// the worker only asks when one is free), waiting while nothing is due and retrying while
/// Redis fails. Returns an empty batch only when stopped.
async fn fetch(
    queue: Queue,
    config: FetchConfig,
    slots: Arc<Slots>,
    wake: Arc<Wake>,
    worker: String,
) -> Vec<Claimed> {
    let mut backoff = MIN_BACKOFF;
    loop {
        if wake.is_stopped() {
            return Vec::new();
        }
        if config.limits.providers.all_closed() {
            // This worker can send through none of its providers now: it claims nothing until
            // one opens (a probe is due, or a breaker closes), looking again now and then.
            tokio::select! {
                () = config.limits.providers.opened() => {}
                () = wake.sleep(config.idle_poll) => {}
            }
            continue;
        }
        let free = config
            .concurrency
            .saturating_sub(slots.in_flight())
            .clamp(1, config.batch_max);
        wake.reset();
        if backoff > MIN_BACKOFF {
            // Redis failed meanwhile: this may be another server now (a failover), with a
            // clock of its own. A failed reading keeps the last one; the claim will tell.
            let _ = queue.sync_clock().await;
        }
        let now = queue.now_ms();
        match queue
            .claim_within(&worker, free, config.lease, now, &config.limits)
            .await
        {
            Ok(batch) => {
                backoff = MIN_BACKOFF;
                queue.note_out_of_memory(false);
                count_deferrals(batch.deferred);
                if !batch.claimed.is_empty() {
                    return batch
                        .claimed
                        .into_iter()
                        .map(|mut claimed| {
                            claimed.slot = Some(Arc::new(slots.take(&claimed.lease)));
                            claimed
                        })
                        .collect();
                }
                if batch.processed > 0 {
                    // Entries were moved aside or cancelled: more may be due right behind them.
                    continue;
                }
                let idle_deadline = now.saturating_add(millis(config.idle_poll));
                let deadline = batch
                    .next_due_ms
                    .map_or(idle_deadline, |due| due.clamp(now + 1, idle_deadline));
                wake.wait_until(deadline, queue.clock()).await;
            }
            Err(error) if error.is_out_of_memory() => {
                // Redis refuses new work before it starts (the claim is deny-oom); what this
                // worker holds goes on. The worker reports it (health, one ERROR a minute), so
                // no line per attempt here.
                queue.note_out_of_memory(true);
                tracing::debug!(error = %error_chain(&error), "Redis is out of memory; not claiming.");
                wake.sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Err(error) => {
                let error = error_chain(&error);
                let retry_in_ms = backoff.as_millis();
                // A blip is recovered trouble; Redis gone for longer needs the operator.
                if backoff < MAX_BACKOFF {
                    tracing::warn!(%error, retry_in_ms, "Claiming messages failed; retrying.");
                } else {
                    tracing::error!(%error, retry_in_ms, "Redis keeps failing; no messages are claimed until it answers.");
                }
                wake.sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// The name of the counter of rows a claim put off, labelled by `reason` (`rate`, `pair`,
/// `tier`; the worker adds `window`).
pub const DEFERRED_METRIC: &str = "wacast_messages_deferred_total";

fn count_deferrals(deferred: Deferrals) {
    for (reason, n) in [
        ("rate", deferred.rate),
        ("pair", deferred.pair),
        ("tier", deferred.tier),
    ] {
        if n > 0 {
            metrics::counter!(DEFERRED_METRIC, "reason" => reason).increment(n);
        }
    }
}

/// The heartbeat of held leases and the reaper of expired ones, until aborted.
async fn maintain(queue: Queue, config: FetchConfig, slots: Arc<Slots>) {
    let mut heartbeat = tokio::time::interval((config.lease / 3).max(Duration::from_millis(10)));
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reaper = tokio::time::interval(config.reap_interval.max(Duration::from_millis(10)));
    reaper.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The connect read the clock; the first tick is immediate, so skip it.
    let mut clock = tokio::time::interval_at(tokio::time::Instant::now() + RESYNC, RESYNC);
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = clock.tick() => {
                if let Err(error) = queue.sync_clock().await {
                    tracing::debug!(error = %error_chain(&error), "Reading Redis's time failed; keeping the last reading.");
                }
            }
            _ = heartbeat.tick() => {
                let leases = slots.leases();
                if leases.is_empty() {
                    continue;
                }
                match queue.extend_leases(&leases, config.lease).await {
                    Ok(n) if (n as usize) < leases.len() => tracing::debug!(
                        held = leases.len(), extended = n,
                        "Some leases were no longer held when extended."
                    ),
                    Ok(_) => {}
                    Err(error) => tracing::warn!(
                        error = %error_chain(&error),
                        "Extending leases failed; retrying at the next heartbeat."
                    ),
                }
            }
            _ = reaper.tick() => reap_all(&queue).await,
        }
    }
}

async fn reap_all(queue: &Queue) {
    loop {
        match queue.reap(REAP_BATCH).await {
            Ok(report) => {
                if report.unknown > 0 {
                    tracing::warn!(
                        unknown = report.unknown,
                        requeued = report.requeued,
                        "Leases expired while sending; those messages are unknown (they may have been sent)."
                    );
                } else if report.requeued + report.cancelled > 0 {
                    tracing::info!(
                        requeued = report.requeued,
                        cancelled = report.cancelled,
                        "Requeued messages whose lease expired."
                    );
                }
                if report.total() < REAP_BATCH as u64 {
                    return;
                }
            }
            Err(error) => {
                tracing::warn!(error = %error_chain(&error), "Reaping expired leases failed; retrying later.");
                return;
            }
        }
    }
}
