//! The fleet as this worker sees it every few seconds: the backlog gauge (messages due now, per
//! provider and sender), the paused and halted campaigns gauges, and the campaigns' lifecycle
//! log lines (started, paused with its reason, resumed, completed, cancelled) and one progress
//! line per running campaign per `--progress-interval`.
//!
//! Every worker reads the same queue, so every worker exports the same gauges (aggregate them
//! with `max()`, not `sum()`). The log lines are written by one worker of the fleet, the one
//! that holds the watch lease (`Queue::lead_watch`), so that each appears once in the fleet's
//! logs rather than once per worker; when that worker stops, another takes over within a few
//! seconds. The lines come from what the watch sees change between two looks, which also
//! covers what no worker does itself (an operator's `wacast pause`, the last message of a
//! campaign acked by another worker).
//!
//! The work per look is bounded: one read of at most [`BACKLOG_ENTRIES`] due entries, the
//! hashes of the newest [`WATCH_CAMPAIGNS`] campaigns, and one `SET` for the lease.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use wacast_shared::campaign::{CampaignId, CampaignState};
use wacast_shared::error_chain::error_chain;
use wacast_shared::queue::{CampaignRecord, Queue};

use crate::handler::{NO_WORKER_PAUSE, PROVIDER_PAUSE};
use crate::metrics::{Health, name};

/// How often the watch looks at most; a shorter `--progress-interval` looks that often.
const LOOK_EVERY: Duration = Duration::from_secs(5);
/// The newest campaigns the watch reads: their states make the paused and halted gauges and the
/// log lines. Older campaigns are finished in practice; one paused for longer than it takes to
/// create this many others is no longer counted.
const WATCH_CAMPAIGNS: usize = 100;
/// Due entries the backlog reads at most. A run of rows is one entry, so this covers far more
/// messages; past it the gauge is a lower bound.
const BACKLOG_ENTRIES: usize = 10_000;
/// How far ahead the backlog counts messages as due now: a sender's rate puts the rest of a
/// run back due at its next slot, so a throttled backlog is due a little ahead of now.
const BACKLOG_HORIZON_MS: i64 = 60_000;
/// How many campaigns' senders the watch remembers before it forgets them all and reads them
/// again (a spec never changes, but campaigns come and go).
const SENDERS_KEPT: usize = 10_000;

/// Why a paused campaign is paused, as the `reason` label of `wacast_campaigns_paused`: a
/// bounded set, read from its `pause_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum PauseCause {
    /// `wacast pause` (with or without a reason of the operator's).
    Operator,
    /// A streak of refusals with one code (the ack paused it).
    Failures,
    /// No live worker can send through its provider (a missing or refused key everywhere).
    NoWorker,
    /// The provider refuses the campaign itself (e.g. Bird's unknown workspace or channel).
    Provider,
}

impl PauseCause {
    const ALL: [PauseCause; 4] = [
        PauseCause::Operator,
        PauseCause::Failures,
        PauseCause::NoWorker,
        PauseCause::Provider,
    ];

    fn of(reason: Option<&str>) -> PauseCause {
        let Some(reason) = reason else {
            return PauseCause::Operator;
        };
        // The ack's streak reasons (`common.lua`'s `pause_for_streak`).
        if reason.contains(" in a row ") && reason.contains(" with code ") {
            PauseCause::Failures
        } else if reason.starts_with(NO_WORKER_PAUSE) {
            PauseCause::NoWorker
        } else if reason.starts_with(PROVIDER_PAUSE) {
            PauseCause::Provider
        } else {
            PauseCause::Operator
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            PauseCause::Operator => "operator",
            PauseCause::Failures => "failures",
            PauseCause::NoWorker => "no_worker",
            PauseCause::Provider => "provider",
        }
    }

    /// Whether wacast paused it rather than an operator: the campaign is halted.
    fn halted(self) -> bool {
        self != PauseCause::Operator
    }
}

/// What the watch last saw of a campaign.
struct Seen {
    state: CampaignState,
    started: bool,
    /// When the last progress line was written (or the campaign first seen running), and its
    /// counts then: the rate is the difference.
    progress_at: Instant,
    progress_sent: u64,
    progress_failed: u64,
}

/// The watch's settings.
pub struct WatchConfig {
    pub worker_id: String,
    pub progress_interval: Duration,
}

/// The watch: what it saw, and the gauge series it set.
struct Watch {
    queue: Queue,
    health: Health,
    config: WatchConfig,
    /// Redis's time when the watch started: campaigns first seen running, completed or
    /// cancelled are logged only if that happened since.
    since: DateTime<Utc>,
    seen: HashMap<CampaignId, Seen>,
    /// Each campaign's provider and sender, the backlog gauge's labels.
    senders: HashMap<CampaignId, (&'static str, String)>,
    /// The backlog series set last time, set to 0 when their backlog is gone.
    backlog_series: BTreeMap<(&'static str, String), u64>,
}

/// Starts the watch, which runs until the process ends. What happened from now on is news.
pub fn start(queue: Queue, health: Health, config: WatchConfig) {
    let since = queue.now();
    tokio::spawn(run(queue, health, config, since));
}

async fn run(queue: Queue, health: Health, config: WatchConfig, since: DateTime<Utc>) {
    let every = LOOK_EVERY.min(config.progress_interval);
    let mut watch = Watch {
        since,
        queue,
        health,
        config,
        seen: HashMap::new(),
        senders: HashMap::new(),
        backlog_series: BTreeMap::new(),
    };
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match watch.look(every).await {
            Ok(()) => watch.health.set(true),
            Err(error) => {
                // The gauges keep their last values; the claim loop reports Redis trouble too.
                watch.health.set(false);
                ::metrics::counter!(name::REDIS_ERRORS).increment(1);
                tracing::debug!(error = %error_chain(&error), "The fleet watch cannot read Redis.");
            }
        }
    }
}

impl Watch {
    async fn look(&mut self, every: Duration) -> Result<(), wacast_shared::queue::QueueError> {
        // Held for three looks: a worker that stops is replaced within that.
        let leader = self
            .queue
            .lead_watch(&self.config.worker_id, every * 3)
            .await?;
        let (ids, _) = self.queue.campaign_ids(Some(WATCH_CAMPAIGNS)).await?;
        let records: Vec<CampaignRecord> = self
            .queue
            .load_campaigns(&ids)
            .await?
            .into_iter()
            .filter_map(Result::ok)
            .collect();
        for record in &records {
            self.remember_sender(record);
        }
        self.backlog().await?;
        self.paused(&records);
        self.lifecycle(&records, leader);
        Ok(())
    }

    fn remember_sender(&mut self, record: &CampaignRecord) {
        if self.senders.len() >= SENDERS_KEPT && !self.senders.contains_key(&record.campaign.id) {
            self.senders.clear();
        }
        self.senders
            .entry(record.campaign.id.clone())
            .or_insert_with(|| {
                (
                    record.campaign.provider.as_str(),
                    record.campaign.from.digits().to_string(),
                )
            });
    }

    /// Sets `wacast_backlog_messages{provider, sender}`: the messages due now (or within
    /// [`BACKLOG_HORIZON_MS`]) of each sender, 0 for a sender whose backlog is gone.
    async fn backlog(&mut self) -> Result<(), wacast_shared::queue::QueueError> {
        let due = self
            .queue
            .due_backlog(self.queue.now_ms() + BACKLOG_HORIZON_MS, BACKLOG_ENTRIES)
            .await?;
        if !due.complete {
            tracing::debug!(
                entries = BACKLOG_ENTRIES,
                "The due set holds more entries than the backlog reads; the gauge is a lower bound."
            );
        }
        let unknown: Vec<CampaignId> = due
            .by_campaign
            .keys()
            .filter(|id| !self.senders.contains_key(*id))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            for record in self.queue.load_campaigns(&unknown).await?.iter().flatten() {
                self.remember_sender(record);
            }
        }
        let mut by_sender: BTreeMap<(&'static str, String), u64> = BTreeMap::new();
        for (id, n) in &due.by_campaign {
            if let Some((provider, sender)) = self.senders.get(id) {
                *by_sender.entry((*provider, sender.clone())).or_default() += n;
            }
        }
        for (provider, sender) in self.backlog_series.keys() {
            if !by_sender.contains_key(&(*provider, sender.clone())) {
                set_backlog(provider, sender, 0);
            }
        }
        for ((provider, sender), n) in &by_sender {
            set_backlog(provider, sender, *n);
        }
        self.backlog_series = by_sender;
        Ok(())
    }

    /// Sets `wacast_campaigns_paused{reason}` and `wacast_campaigns_halted`.
    fn paused(&self, records: &[CampaignRecord]) {
        let mut counts: BTreeMap<PauseCause, u64> =
            PauseCause::ALL.iter().map(|cause| (*cause, 0)).collect();
        for record in records {
            if record.state == CampaignState::Paused {
                *counts
                    .entry(PauseCause::of(record.pause_reason.as_deref()))
                    .or_default() += 1;
            }
        }
        let mut halted = 0;
        for (cause, n) in &counts {
            ::metrics::gauge!(name::CAMPAIGNS_PAUSED, "reason" => cause.as_str()).set(*n as f64);
            if cause.halted() {
                halted += n;
            }
        }
        ::metrics::gauge!(name::CAMPAIGNS_HALTED).set(halted as f64);
    }

    /// Logs what changed since the last look (only `leader` writes; every worker keeps track,
    /// so that a worker that takes the lease over does not repeat old news).
    fn lifecycle(&mut self, records: &[CampaignRecord], leader: bool) {
        let now = Instant::now();
        let mut seen = HashMap::with_capacity(records.len());
        for record in records {
            let id = &record.campaign.id;
            let before = self.seen.remove(id);
            let news = self.news(record, before.as_ref());
            let mut current = before.unwrap_or(Seen {
                state: record.state,
                started: false,
                progress_at: now,
                progress_sent: record.counters.sent,
                progress_failed: failed(record),
            });
            if leader {
                for event in &news {
                    log_event(record, *event);
                }
            }
            if record.state == CampaignState::Running {
                if current.state != CampaignState::Running {
                    // The rate counts from when it (re)started running.
                    current.progress_at = now;
                    current.progress_sent = record.counters.sent;
                    current.progress_failed = failed(record);
                }
                let elapsed = now.duration_since(current.progress_at);
                if elapsed >= self.config.progress_interval {
                    if leader {
                        log_progress(record, &current, elapsed);
                    }
                    current.progress_at = now;
                    current.progress_sent = record.counters.sent;
                    current.progress_failed = failed(record);
                }
            }
            current.state = record.state;
            current.started = record.started_at.is_some();
            seen.insert(id.clone(), current);
        }
        self.seen = seen;
    }

    /// What changed about `record` since `before`; on a first look, only what happened since
    /// the watch started.
    fn news(&self, record: &CampaignRecord, before: Option<&Seen>) -> Vec<Event> {
        let recent = |at: Option<DateTime<Utc>>| at.is_some_and(|at| at >= self.since);
        let mut news = Vec::new();
        let started = match before {
            Some(before) => !before.started && record.started_at.is_some(),
            None => recent(record.started_at),
        };
        if started {
            news.push(Event::Started);
        }
        let was = before.map(|b| b.state);
        match record.state {
            CampaignState::Paused if was.is_some_and(|s| s != CampaignState::Paused) => {
                news.push(Event::Paused);
            }
            CampaignState::Running | CampaignState::Scheduled
                if was == Some(CampaignState::Paused) =>
            {
                news.push(Event::Resumed);
            }
            CampaignState::Completed | CampaignState::Cancelled
                if was.map_or(recent(record.finished_at), |s| s != record.state) =>
            {
                news.push(Event::Finished);
            }
            _ => {}
        }
        news
    }
}

/// A change in a campaign's life worth a log line.
#[derive(Debug, Clone, Copy)]
enum Event {
    Started,
    Paused,
    Resumed,
    /// Completed or cancelled.
    Finished,
}

fn log_event(record: &CampaignRecord, event: Event) {
    let campaign = &record.campaign.id;
    let c = &record.counters;
    let provider = record.campaign.provider.as_str();
    let sender = record.campaign.from.digits();
    match event {
        Event::Started => tracing::info!(
            %campaign, provider, sender, messages = c.total, "Campaign started."
        ),
        Event::Paused => {
            let cause = PauseCause::of(record.pause_reason.as_deref());
            let reason = record
                .pause_reason
                .as_deref()
                .unwrap_or("paused by an operator");
            tracing::info!(
                %campaign, cause = cause.as_str(), %reason, sent = c.sent, remaining = c.open(),
                "Campaign paused."
            );
        }
        Event::Resumed => tracing::info!(
            %campaign, sent = c.sent, remaining = c.open(), "Campaign resumed."
        ),
        Event::Finished if record.state == CampaignState::Cancelled => tracing::info!(
            %campaign, sent = c.sent, failed = c.failed, cancelled = c.cancelled,
            "Campaign cancelled."
        ),
        Event::Finished => {
            // From the first claim to the last message final, on Redis's clock.
            let took_s = match (record.started_at, record.finished_at) {
                (Some(start), Some(end)) => (end - start).num_seconds().max(0),
                _ => 0,
            };
            tracing::info!(
                %campaign, sent = c.sent, failed = c.failed, expired = c.expired,
                unknown = c.unknown, cancelled = c.cancelled, took_s, "Campaign completed."
            );
        }
    }
}

fn log_progress(record: &CampaignRecord, before: &Seen, elapsed: Duration) {
    let c = &record.counters;
    let secs = elapsed.as_secs_f64().max(0.001);
    let rate = c.sent.saturating_sub(before.progress_sent) as f64 / secs;
    let failed_since = failed(record).saturating_sub(before.progress_failed);
    tracing::info!(
        campaign = %record.campaign.id,
        sent = c.sent,
        failed = failed(record),
        remaining = c.open(),
        of = c.total,
        rate = %format!("{rate:.1}/s"),
        failed_since,
        "Campaign progress."
    );
}

/// Messages that ended without being sent for a reason of their own (failed, expired,
/// unknown).
fn failed(record: &CampaignRecord) -> u64 {
    let c = &record.counters;
    c.failed + c.expired + c.unknown
}

fn set_backlog(provider: &'static str, sender: &str, n: u64) {
    ::metrics::gauge!(name::BACKLOG, "provider" => provider, "sender" => sender.to_string())
        .set(n as f64);
}

#[cfg(test)]
mod tests {
    use super::PauseCause;
    use crate::handler::{NO_WORKER_PAUSE, PROVIDER_PAUSE};

    #[test]
    fn pause_reasons_have_a_bounded_cause() {
        let check = |reason: Option<&str>, expect: PauseCause| {
            assert_eq!(PauseCause::of(reason), expect, "{reason:?}");
        };
        check(None, PauseCause::Operator);
        check(Some("waiting for marketing"), PauseCause::Operator);
        check(
            Some("3 messages in a row failed with code 132001 (template-level: …): x — fix"),
            PauseCause::Failures,
        );
        check(
            Some("3 sent messages in a row were reported failed with code 131026: x — fix"),
            PauseCause::Failures,
        );
        check(
            Some(&format!("{NO_WORKER_PAUSE} seven: refused key")),
            PauseCause::NoWorker,
        );
        check(
            Some(&format!("{PROVIDER_PAUSE}: Bird knows no such workspace")),
            PauseCause::Provider,
        );
        assert!(!PauseCause::Operator.halted());
        assert!(PauseCause::Failures.halted());
    }
}
