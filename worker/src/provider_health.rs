//! Each provider's health in this worker, and its circuit breaker: whether the worker can send
//! through a provider now, what the handler does with a message of one it cannot (hold it: put
//! it back unsent for other workers), when it tries again (a probe), and what the claim takes
//! (the [`ProviderGate`]).
//!
//! A provider is, for this worker:
//! - `ok`;
//! - a fault of the worker's own ([`WorkerFault`], from a worker-scoped `Halt`): `no_key` (no
//!   key in this process: never recovers without a restart; the first message of the provider
//!   meets it, so that a campaign nobody can send gets paused), `key_refused` or `unreachable`
//!   (the next message after `--key-probe-interval` is the probe);
//! - `breaker_open`: it hung or failed (timeouts, 5xx, connection errors) in at least
//!   `--breaker-failure-ratio` of at least `--breaker-min-requests` requests within
//!   `--breaker-window`. After `--breaker-cooldown` one message at a time probes it (half-open);
//!   each failed probe doubles the cooldown up to `--breaker-max-cooldown`, an answer closes it.
//!
//! While a provider is not `ok`, the claim leaves its rows in the due set (the gate is closed,
//! and opened for a probe only), messages already held are put back without an attempt, the
//! gauge `wacast_provider_healthy{provider}` is 0, `/healthz` answers 503 naming it (a fault of
//! this worker's: an open breaker is the provider's passing trouble), and one ERROR a minute
//! names it and the fix.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use clap::Args;
use wacast_shared::campaign::ProviderKind;
use wacast_shared::duration::parse_duration;
use wacast_shared::provider::Providers;
use wacast_shared::provider::outcome::{HaltScope, Outcome, WorkerFault};
use wacast_shared::queue::ProviderHealthEntry;
use wacast_shared::queue::limits::ProviderGate;

use crate::metrics::{Health, name};

/// The breaker's and the probes' flags.
#[derive(Debug, Clone, Args)]
pub struct BreakerArgs {
    /// Open a provider's breaker (no new claims for it in this worker) when at least this
    /// fraction of its requests in the window hung or failed (timeouts, 5xx, connection errors).
    #[arg(
        long,
        env = "WACAST_BREAKER_FAILURE_RATIO",
        default_value_t = 0.5,
        global = true
    )]
    pub breaker_failure_ratio: f64,

    /// ... and at least this many requests were made in the window.
    #[arg(
        long,
        env = "WACAST_BREAKER_MIN_REQUESTS",
        default_value_t = 20,
        global = true
    )]
    pub breaker_min_requests: u32,

    /// The window the breaker counts requests in.
    #[arg(long, env = "WACAST_BREAKER_WINDOW", default_value = "30s", value_parser = parse_duration, global = true)]
    pub breaker_window: Duration,

    /// How long an open breaker waits before one message probes the provider; doubled after
    /// each failed probe.
    #[arg(long, env = "WACAST_BREAKER_COOLDOWN", default_value = "10s", value_parser = parse_duration, global = true)]
    pub breaker_cooldown: Duration,

    /// The longest wait between probes of an open breaker.
    #[arg(long, env = "WACAST_BREAKER_MAX_COOLDOWN", default_value = "60s", value_parser = parse_duration, global = true)]
    pub breaker_max_cooldown: Duration,

    /// After a provider refused this worker's key (or could not be reached as configured), the
    /// next message after this long is sent as a probe.
    #[arg(long, env = "WACAST_KEY_PROBE_INTERVAL", default_value = "60s", value_parser = parse_duration, global = true)]
    pub key_probe_interval: Duration,
}

/// The validated [`BreakerArgs`].
#[derive(Debug, Clone, Copy)]
pub struct BreakerSettings {
    pub failure_ratio: f64,
    pub min_requests: u32,
    pub window: Duration,
    pub cooldown: Duration,
    pub max_cooldown: Duration,
    pub key_probe_interval: Duration,
}

impl BreakerArgs {
    /// Checks the flags.
    pub fn settings(&self) -> anyhow::Result<BreakerSettings> {
        if !(self.breaker_failure_ratio > 0.0 && self.breaker_failure_ratio <= 1.0) {
            anyhow::bail!(
                "--breaker-failure-ratio {} must be above 0 and at most 1",
                self.breaker_failure_ratio
            );
        }
        if self.breaker_window.is_zero() || self.breaker_cooldown.is_zero() {
            anyhow::bail!("--breaker-window and --breaker-cooldown must be above 0");
        }
        Ok(BreakerSettings {
            failure_ratio: self.breaker_failure_ratio,
            min_requests: self.breaker_min_requests.max(1),
            window: self.breaker_window,
            cooldown: self.breaker_cooldown,
            max_cooldown: self.breaker_max_cooldown.max(self.breaker_cooldown),
            key_probe_interval: self.key_probe_interval,
        })
    }
}

/// How often the ERROR about a provider this worker cannot send through repeats.
const ERROR_REPEAT: Duration = Duration::from_secs(60);
/// Buckets of the breaker's window: requests are counted per tenth of it.
const BUCKETS: usize = 10;

/// What the handler may do with a message of a provider.
#[derive(Debug)]
pub enum Admission {
    /// Send it; with a [`Probe`] when it is the one message that tries a provider again.
    Send(Option<Probe>),
    /// Put it back unsent: this worker cannot send through the provider now.
    Hold(Held),
}

/// Why a message is held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    /// The worker's own fault, with the provider's reason.
    Fault(WorkerFault, String),
    /// The provider's breaker is open.
    Breaker,
}

/// What a send's outcome meant for its provider's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// Nothing the handler must act on.
    Nothing,
    /// The worker cannot send through the provider: hold the message and see whether another
    /// live worker can.
    Fault(WorkerFault),
}

/// The one message in flight that tries a provider again. Dropped unrecorded (the message was
/// not sent after all), it lets the next message probe.
#[derive(Debug)]
pub struct Probe {
    health: Arc<ProviderHealth>,
    kind: ProviderKind,
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.health
            .with_state(self.kind, |state| state.probing = false);
    }
}

/// Every provider's health in this worker. Shared behind an `Arc` by the handler, the fetch
/// side (through its gate), the registry heartbeat and the metrics.
#[derive(Debug)]
pub struct ProviderHealth {
    settings: BreakerSettings,
    gate: ProviderGate,
    health: Health,
    states: Mutex<Vec<State>>,
    /// Woken when a provider's state changes, for the registry to say so at once.
    changed: tokio::sync::Notify,
}

#[derive(Debug)]
struct State {
    kind: ProviderKind,
    condition: Condition,
    since: DateTime<Utc>,
    /// The provider's last reason for a fault, for the log and `/healthz`.
    reason: String,
    /// Whether a message met the fault (a missing key is known from the start, but reported
    /// only once a message needs the key).
    met: bool,
    /// A probe is in flight.
    probing: bool,
    window: Window,
    last_error: Option<Instant>,
    /// What the gauge was last set to (set only on a change: refresh runs per message).
    gauge: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Condition {
    Ok,
    Fault {
        fault: WorkerFault,
        probe_at: Option<Instant>,
    },
    BreakerOpen {
        probe_at: Instant,
        cooldown: Duration,
    },
}

impl State {
    fn word(&self) -> &'static str {
        match self.condition {
            Condition::Ok => "ok",
            Condition::Fault { fault, .. } => fault.as_str(),
            Condition::BreakerOpen { .. } => "breaker_open",
        }
    }

    /// Whether claims may take the provider's messages now.
    fn claimable(&self, now: Instant) -> bool {
        match self.condition {
            Condition::Ok => true,
            Condition::Fault {
                fault: WorkerFault::NoKey,
                ..
            } => !self.met,
            Condition::Fault { probe_at, .. } => {
                !self.probing && probe_at.is_some_and(|at| at <= now)
            }
            Condition::BreakerOpen { probe_at, .. } => !self.probing && probe_at <= now,
        }
    }

    fn set(&mut self, condition: Condition) {
        if std::mem::discriminant(&condition) != std::mem::discriminant(&self.condition)
            || matches!((condition, self.condition), (Condition::Fault { fault: a, .. }, Condition::Fault { fault: b, .. }) if a != b)
        {
            self.since = Utc::now();
            self.last_error = None;
        }
        self.condition = condition;
    }
}

impl ProviderHealth {
    /// Every provider `ok`, but those this process has no key for (`no_key`). Starts the task
    /// that opens probes when they are due and repeats the ERROR of unhealthy providers.
    pub fn start(
        settings: BreakerSettings,
        providers: &Providers,
        health: Health,
    ) -> Arc<ProviderHealth> {
        let now = Utc::now();
        let states = ProviderKind::ALL
            .into_iter()
            .map(|kind| State {
                kind,
                condition: if providers.has(kind) {
                    Condition::Ok
                } else {
                    Condition::Fault {
                        fault: WorkerFault::NoKey,
                        probe_at: None,
                    }
                },
                since: now,
                reason: String::new(),
                met: false,
                probing: false,
                window: Window::new(settings.window),
                last_error: None,
                gauge: None,
            })
            .collect();
        let this = Arc::new(ProviderHealth {
            settings,
            gate: ProviderGate::default(),
            health,
            states: Mutex::new(states),
            changed: tokio::sync::Notify::new(),
        });
        this.refresh();
        let ticking = Arc::downgrade(&this);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match ticking.upgrade() {
                    Some(health) => health.refresh(),
                    None => return,
                }
            }
        });
        this
    }

    /// The gate the claims read: the providers this worker takes messages of now.
    pub fn gate(&self) -> ProviderGate {
        self.gate.clone()
    }

    /// Resolves when a provider's state changes.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Each provider's state, for the registry.
    pub fn snapshot(&self) -> Vec<ProviderHealthEntry> {
        let states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        states
            .iter()
            .map(|state| ProviderHealthEntry {
                provider: state.kind.as_str().to_string(),
                health: state.word().to_string(),
                since: Some(state.since.to_rfc3339_opts(SecondsFormat::Millis, true)),
            })
            .collect()
    }

    /// Whether a message of `kind` may be sent now.
    pub fn admit(self: &Arc<Self>, kind: ProviderKind) -> Admission {
        let now = Instant::now();
        let mut states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        let Some(state) = states.iter_mut().find(|s| s.kind == kind) else {
            return Admission::Send(None);
        };
        match state.condition {
            Condition::Ok => Admission::Send(None),
            // The first message meets the missing key (the client answers at once).
            Condition::Fault {
                fault: WorkerFault::NoKey,
                ..
            } if !state.met => Admission::Send(None),
            Condition::Fault { fault, .. } if !state.claimable(now) => {
                Admission::Hold(Held::Fault(fault, state.reason.clone()))
            }
            Condition::BreakerOpen { .. } if !state.claimable(now) => {
                Admission::Hold(Held::Breaker)
            }
            Condition::Fault { .. } | Condition::BreakerOpen { .. } => {
                state.probing = true;
                drop(states);
                // No other claim of it until the probe is answered.
                self.gate.set(kind, false);
                tracing::info!(
                    provider = kind.as_str(),
                    "Probing the provider with one message."
                );
                Admission::Send(Some(Probe {
                    health: Arc::clone(self),
                    kind,
                }))
            }
        }
    }

    /// Records what a send through `kind` came to (`probe` if it was the probe).
    pub fn observe<T>(
        &self,
        kind: ProviderKind,
        outcome: &Outcome<T>,
        probe: Option<Probe>,
    ) -> Observed {
        let was_probe = probe.is_some();
        let observed = self.with_state(kind, |state| {
            let now = Instant::now();
            let failure = match outcome {
                Outcome::Halt {
                    scope: HaltScope::Worker(fault),
                    reason,
                } => {
                    state.met = true;
                    state.reason.clone_from(reason);
                    let probe_at = (*fault != WorkerFault::NoKey)
                        .then(|| now + self.settings.key_probe_interval);
                    state.set(Condition::Fault {
                        fault: *fault,
                        probe_at,
                    });
                    return Observed::Fault(*fault);
                }
                // Hung, failed or unreachable: what the breaker counts.
                Outcome::Unknown { .. } | Outcome::Retry { after: None, .. } => true,
                // The provider answered.
                _ => false,
            };
            match state.condition {
                Condition::BreakerOpen { cooldown, .. } if was_probe && failure => {
                    let cooldown = (cooldown * 2).min(self.settings.max_cooldown);
                    tracing::warn!(provider = kind.as_str(), next_probe_in = ?cooldown, "The probe failed; the breaker stays open.");
                    state.set(Condition::BreakerOpen {
                        probe_at: now + cooldown,
                        cooldown,
                    });
                }
                Condition::Fault { fault, .. } if was_probe && failure => {
                    // Neither refused nor answered: try the key again later.
                    state.set(Condition::Fault {
                        fault,
                        probe_at: Some(now + self.settings.key_probe_interval),
                    });
                }
                Condition::BreakerOpen { .. } | Condition::Fault { .. } if was_probe => {
                    tracing::info!(provider = kind.as_str(), was = state.word(), "The provider answered the probe; sending through it again.");
                    state.window = Window::new(self.settings.window);
                    state.set(Condition::Ok);
                }
                Condition::Ok => {
                    state.window.add(now, failure);
                    let (total, failed) = state.window.counts(now);
                    if total >= self.settings.min_requests
                        && f64::from(failed) >= self.settings.failure_ratio * f64::from(total)
                    {
                        state.reason = format!(
                            "{failed} of its last {total} requests hung or failed within {:?}",
                            self.settings.window
                        );
                        state.set(Condition::BreakerOpen {
                            probe_at: now + self.settings.cooldown,
                            cooldown: self.settings.cooldown,
                        });
                    }
                }
                // A message sent before the state changed: it says nothing new.
                _ => {}
            }
            Observed::Nothing
        });
        // Answered: the state above says what comes next, and the probe is over.
        drop(probe);
        observed
    }

    fn with_state<R>(&self, kind: ProviderKind, f: impl FnOnce(&mut State) -> R) -> R {
        let result = {
            let mut states = self.states.lock().unwrap_or_else(|e| e.into_inner());
            let state = states
                .iter_mut()
                .find(|s| s.kind == kind)
                .expect("a state per provider");
            f(state)
        };
        self.refresh();
        result
    }

    /// Applies the states: the gate, the gauge, `/healthz`, the ERROR once a minute; wakes the
    /// registry when anything changed.
    fn refresh(&self) {
        let now = Instant::now();
        let mut changed = false;
        let mut states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        for state in states.iter_mut() {
            let kind = state.kind;
            let open = state.claimable(now);
            if open != self.gate.is_open(kind) {
                self.gate.set(kind, open);
                changed = true;
            }
            let healthy = state.condition == Condition::Ok;
            if state.gauge != Some(healthy) {
                state.gauge = Some(healthy);
                let gauge = metrics::gauge!(name::PROVIDER_HEALTHY, "provider" => kind.as_str());
                gauge.set(if healthy { 1.0 } else { 0.0 });
            }
            let fault = matches!(state.condition, Condition::Fault { .. }) && state.met;
            let trouble = fault.then(|| format!("{}: {}", state.word(), state.reason));
            if self.health.set_provider(kind.as_str(), trouble) {
                changed = true;
            }
            let reported = fault || matches!(state.condition, Condition::BreakerOpen { .. });
            if reported
                && state
                    .last_error
                    .is_none_or(|at| now.duration_since(at) >= ERROR_REPEAT)
            {
                if state.last_error.is_none() {
                    changed = true;
                }
                state.last_error = Some(now);
                log_unhealthy(state);
            }
        }
        drop(states);
        if changed {
            self.changed.notify_waiters();
        }
    }
}

/// The ERROR that tells the operator this worker cannot send through a provider, and the fix.
fn log_unhealthy(state: &State) {
    let provider = state.kind.display_name();
    let since = state.since.to_rfc3339_opts(SecondsFormat::Secs, true);
    match state.condition {
        Condition::BreakerOpen { .. } => tracing::error!(
            provider,
            health = state.word(),
            %since,
            reason = %state.reason,
            "This worker holds {provider}: it hangs or fails (breaker open). Other workers may still send through it; this one probes it with one message at a time and resumes when it answers. Check the provider's status and this host's network."
        ),
        _ => tracing::error!(
            provider,
            health = state.word(),
            %since,
            reason = %state.reason,
            "This worker cannot send through {provider}; it leaves those messages to the workers that can. Fix the cause named in `reason` (the key, the base URL), then restart this worker."
        ),
    }
}

/// Requests and failures per tenth of the breaker's window.
#[derive(Debug)]
struct Window {
    bucket: Duration,
    /// (bucket start, requests, failures), oldest first.
    buckets: std::collections::VecDeque<(Instant, u32, u32)>,
}

impl Window {
    fn new(window: Duration) -> Window {
        Window {
            bucket: (window / BUCKETS as u32).max(Duration::from_millis(1)),
            buckets: std::collections::VecDeque::with_capacity(BUCKETS + 1),
        }
    }

    fn add(&mut self, now: Instant, failure: bool) {
        self.expire(now);
        match self.buckets.back_mut() {
            Some((start, total, failed)) if now.duration_since(*start) < self.bucket => {
                *total += 1;
                *failed += u32::from(failure);
            }
            _ => self.buckets.push_back((now, 1, u32::from(failure))),
        }
    }

    fn counts(&mut self, now: Instant) -> (u32, u32) {
        self.expire(now);
        self.buckets
            .iter()
            .fold((0, 0), |(t, f), (_, total, failed)| (t + total, f + failed))
    }

    fn expire(&mut self, now: Instant) {
        let span = self.bucket * BUCKETS as u32;
        while self
            .buckets
            .front()
            .is_some_and(|(start, _, _)| now.duration_since(*start) >= span)
        {
            self.buckets.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_forgets_what_is_older_than_it() {
        let mut window = Window::new(Duration::from_secs(10));
        let start = Instant::now();
        window.add(start, true);
        window.add(start + Duration::from_millis(500), false);
        window.add(start + Duration::from_secs(3), true);
        assert_eq!(window.counts(start + Duration::from_secs(4)), (3, 2));
        assert_eq!(window.counts(start + Duration::from_secs(12)), (1, 1));
        assert_eq!(window.counts(start + Duration::from_secs(14)), (0, 0));
    }
}
