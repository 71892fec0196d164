//! The chaos, step by step: kills every 20–40 s, and at fixed fractions of the chaos time a
//! pause, a worker whose clock is 2 s ahead, Redis out of memory for 3 s, a worker with a wrong
//! key (started, later stopped), a resume, a Redis restart, a 429 burst, a rate change, a provider
//! hanging for a few seconds and a SIGTERM; the cancel when the delayed campaign reaches 50%.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use rand::Rng;
use rand::rngs::StdRng;
use serde_json::{Value, json};

use crate::chaos::campaigns::{Plan, Role};
use crate::chaos::checks::{CancelRecord, Journal, RateChange};
use crate::chaos::fleet::SETTLE;
use crate::chaos::{PROGRESS_EVERY, Soak, progress, redis_view};

/// How often the chaos loop looks at the workers and the clock.
const TICK: Duration = Duration::from_millis(200);

/// The scheduled steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Pause,
    ClockSkew,
    Resume,
    RestartRedis,
    ChangeRate,
    Terminate,
    FullMemory,
    /// A worker whose key the provider refuses joins: it must leave the campaigns to the others.
    BadKeyWorker,
    BadKeyWorkerStops,
    /// A fifth of the provider's requests hang for a few seconds (`POST /faults`).
    HangingProvider,
    /// The provider's per-sender limit drops to a quarter for a few seconds: 429 bursts.
    RateLimitBurst,
}

/// When each step comes, as a fraction of the chaos time.
const STEPS: [(f64, Step); 11] = [
    (0.1, Step::Pause),
    (0.15, Step::ClockSkew),
    (0.2, Step::FullMemory),
    (0.25, Step::BadKeyWorker),
    (0.3, Step::Resume),
    (0.35, Step::BadKeyWorkerStops),
    (0.4, Step::RestartRedis),
    (0.45, Step::RateLimitBurst),
    (0.5, Step::ChangeRate),
    (0.55, Step::HangingProvider),
    (0.7, Step::Terminate),
];

/// How long the provider hangs, or limits harder, in the `HangingProvider` and
/// `RateLimitBurst` steps.
const FAULT_FOR: Duration = Duration::from_secs(5);

/// The time to the next kill: 20–40 s.
fn kill_interval(rng: &mut StdRng) -> Duration {
    Duration::from_millis(rng.random_range(20_000..=40_000))
}

impl Soak {
    fn plan(&self, role: Role) -> Plan {
        self.plans
            .iter()
            .find(|plan| plan.role == role)
            .expect("campaigns::plan makes one campaign of every role")
            .clone()
    }

    /// Runs the chaos for the configured time.
    pub(crate) async fn chaos(&mut self) -> anyhow::Result<()> {
        let start = Instant::now();
        let delayed = self.plan(Role::Delayed);
        let mut steps = STEPS.iter().peekable();
        let mut next_kill = kill_interval(&mut self.rng);
        let mut last_progress = Instant::now();
        let mut cancelled = false;
        while start.elapsed() < self.config.chaos {
            for event in self.fleet.poll()? {
                self.say.line(&event);
            }
            let elapsed = start.elapsed();
            let chaos = self.config.chaos;
            if let Some((_, step)) = steps.next_if(|(at, _)| elapsed >= chaos.mul_f64(*at)) {
                match self.step(*step).await {
                    Ok(line) => self.say.line(&line),
                    Err(error) => {
                        let failure = format!("{step:?}: {error:#}");
                        self.say.line(&failure);
                        self.recorded.step_failures.push(failure);
                    }
                }
            }
            if elapsed >= next_kill {
                next_kill += kill_interval(&mut self.rng);
                let kill = self
                    .fleet
                    .kill_random(&self.queue, &self.journal_path, &mut self.rng)
                    .await?;
                self.say.line(&format!(
                    "kill -9 worker {}: {} messages sending, {} of them with their request at \
                     the gateway; started another",
                    kill.worker, kill.sending, kill.in_flight
                ));
            }
            if !cancelled {
                let record = redis_view::campaign(&self.queue, &delayed.id).await?;
                if progress(&record) >= 0.5 {
                    cancelled = true;
                    self.cancel(&delayed).await?;
                }
            }
            if last_progress.elapsed() >= PROGRESS_EVERY {
                last_progress = Instant::now();
                self.say.line(&self.summary().await?);
            }
            tokio::time::sleep(TICK).await;
        }
        if !cancelled {
            let record = redis_view::campaign(&self.queue, &delayed.id).await?;
            self.say.line(&format!(
                "{} reached only {:.0}% during the chaos; cancelling it now",
                delayed.id,
                progress(&record) * 100.0
            ));
            self.cancel(&delayed).await?;
        }
        Ok(())
    }

    /// Does one scheduled step; returns what happened, for the log.
    async fn step(&mut self, step: Step) -> anyhow::Result<String> {
        let freetext = self.plan(Role::Freetext);
        match step {
            Step::Pause => {
                self.operator.pause(&freetext.id)?;
                Ok(format!("paused {}", freetext.id))
            }
            Step::ClockSkew => match self.fleet.spawn_skewed("+2s")? {
                Some(name) => Ok(format!("started worker {name} with its clock 2 s ahead")),
                None => Ok("clock skew skipped: libfaketime is missing".to_owned()),
            },
            Step::Resume => {
                self.operator.resume(&freetext.id)?;
                Ok(format!("resumed {}", freetext.id))
            }
            Step::RestartRedis => {
                let down = Instant::now();
                self.redis.restart().await;
                Ok(format!(
                    "killed Redis (SIGKILL) and started it again from its AOF: {:.1}s down",
                    down.elapsed().as_secs_f64()
                ))
            }
            Step::ChangeRate => self.change_rate(&freetext),
            Step::Terminate => {
                let name = self.fleet.terminate_random(&mut self.rng)?;
                Ok(format!("SIGTERM to worker {name}; started another"))
            }
            Step::FullMemory => self.full_memory().await,
            Step::BadKeyWorker => {
                let name = self.fleet.start_bad_key()?;
                Ok(format!(
                    "started worker {name} with a key the provider refuses"
                ))
            }
            Step::BadKeyWorkerStops => Ok(self.fleet.stop_bad_key()),
            Step::HangingProvider => {
                let normal = crate::chaos::HANG.parse::<f64>().unwrap_or(0.0);
                self.fault_for(json!({"hang": 0.2}), json!({"hang": normal}))
                    .await?;
                Ok(format!(
                    "the provider hangs on 20% of requests for {}s",
                    FAULT_FOR.as_secs()
                ))
            }
            Step::RateLimitBurst => {
                let normal = self.config.gateway_limit;
                let burst = (normal / 4).max(1);
                self.fault_for(
                    json!({"rate_limit_per_sender": burst}),
                    json!({"rate_limit_per_sender": normal}),
                )
                .await?;
                Ok(format!(
                    "the provider answers 429 above {burst}/s per sender for {}s",
                    FAULT_FOR.as_secs()
                ))
            }
        }
    }

    /// Sets the mock's faults to `fault` now (`POST /faults`) and back to `normal` after
    /// [`FAULT_FOR`], while the chaos goes on.
    async fn fault_for(&self, fault: Value, normal: Value) -> anyhow::Result<()> {
        let faults = format!("{}/faults", self.gateway.url());
        let client = reqwest::Client::new();
        client
            .post(&faults)
            .json(&fault)
            .send()
            .await?
            .error_for_status()?;
        tokio::spawn(async move {
            tokio::time::sleep(FAULT_FOR).await;
            let _ = client.post(&faults).json(&normal).send().await;
        });
        Ok(())
    }

    /// Redis over its `maxmemory` (half what it uses, nothing evicted) for 3 s: claims are
    /// refused, what is under way is still recorded.
    async fn full_memory(&mut self) -> anyhow::Result<String> {
        let mut conn = self.queue.connection();
        let info: String = redis::cmd("INFO")
            .arg("memory")
            .query_async(&mut conn)
            .await?;
        let used: u64 = info
            .lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse().ok())
            .context("INFO memory has no used_memory")?;
        for (name, value) in [
            ("maxmemory-policy", "noeviction".to_owned()),
            ("maxmemory", (used / 2).max(1).to_string()),
        ] {
            redis::cmd("CONFIG")
                .arg("SET")
                .arg(name)
                .arg(value)
                .query_async::<()>(&mut conn)
                .await?;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory")
            .arg(0)
            .query_async::<()>(&mut conn)
            .await?;
        Ok(format!(
            "Redis out of memory for 3 s (maxmemory {} of {used} bytes used), then unlimited again",
            used / 2
        ))
    }

    /// `wacast rate set` for the campaign's sender.
    fn change_rate(&mut self, plan: &Plan) -> anyhow::Result<String> {
        let Some(rate) = self.config.changed_rate else {
            return Ok("rate change skipped (--no-rate-change)".to_owned());
        };
        self.operator.set_rate(plan.from, rate)?;
        self.recorded.rate_change = Some(RateChange {
            gateway_sender: plan.gateway_sender.clone(),
            at_ms: Utc::now().timestamp_millis(),
            within_ms: i64::try_from(self.config.rate_change_within.as_millis())
                .unwrap_or(i64::MAX),
            rate,
        });
        Ok(format!(
            "wacast rate set {} {} {} (was {})",
            plan.from, rate.per_second, rate.burst, self.config.rate
        ))
    }

    /// Cancels `plan`'s campaign with every worker frozen (SIGSTOP), so that the messages in
    /// `sending` read just before, less those whose request is in the journal already, are
    /// exactly those whose requests may still arrive after it.
    async fn cancel(&mut self, plan: &Plan) -> anyhow::Result<()> {
        let progress_before = progress(&redis_view::campaign(&self.queue, &plan.id).await?);
        let frozen_at = Utc::now().timestamp_millis();
        self.fleet.signal_all("STOP")?;
        tokio::time::sleep(SETTLE).await;
        let result = async {
            let sending = redis_view::sending_of_campaign(&self.queue, &plan.id).await?;
            let journal = Journal::read(&self.journal_path)?;
            let arrived = journal.arrivals_of(plan.id.as_str());
            self.operator.cancel(&plan.id)?;
            // A sending message's current request is its attempt number `attempts + 1`; every
            // earlier one reached the gateway (the mock is never down).
            let may_arrive = sending
                .iter()
                .filter(|(row, attempts)| arrived.get(row).copied().unwrap_or(0) <= **attempts)
                .map(|(row, _)| *row)
                .collect();
            anyhow::Ok((
                sending.len(),
                CancelRecord {
                    campaign: plan.id.to_string(),
                    requests_before: journal.requests.len(),
                    may_arrive,
                },
            ))
        }
        .await;
        // Thawed whatever happened: a frozen fleet would only add failures.
        self.fleet.signal_all("CONT")?;
        self.recorded
            .freezes
            .push((frozen_at, Utc::now().timestamp_millis()));
        match result.context("cancel") {
            Ok((n_sending, record)) => {
                self.say.line(&format!(
                    "cancelled {} at {:.0}% with every worker frozen: {n_sending} of its messages \
                     were sending, {} of them with their request still to reach the gateway",
                    plan.id,
                    progress_before * 100.0,
                    record.may_arrive.len()
                ));
                self.recorded.cancel = Some(record);
            }
            Err(error) => {
                let failure = format!("cancel of {}: {error:#}", plan.id);
                self.say.line(&failure);
                self.recorded.step_failures.push(failure);
            }
        }
        Ok(())
    }
}
