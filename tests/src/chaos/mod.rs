//! The chaos soak: wacast's delivery promise checked with every fault at once.
//!
//! One Redis with AOF, the mock gateway with faults (10% 5xx, a per-sender 429 limit below the
//! workers' rate, 0–50 ms latency, 1% requests never answered) writing a journal of every
//! request, three `wacast-worker` processes and three campaigns (see [`campaigns`]). For the
//! chaos time: a random worker is killed with SIGKILL every 20–40 s and another started; Redis
//! is killed and restarted once; one campaign is paused and resumed, another cancelled at 50%
//! (every worker frozen for the moment, so that the messages in flight are known exactly); a
//! sender's rate is changed with `wacast rate set`; one worker gets SIGTERM and must exit 0
//! within its shutdown timeout; and issue #15's faults (see `scenario`): a worker whose clock
//! runs 2 s ahead, Redis over its `maxmemory`, a worker with a refused key, a 429 burst and a
//! hanging provider. Then the soak waits for the campaigns to finish, stops the
//! workers with SIGTERM, and [`checks`] turns Redis, the journal and what it recorded into
//! figures and violations.
//!
//! When the workers have a hooks listener, the mock sends signed delivery callbacks throughout,
//! with every callback fault, through a small load balancer to the live workers (see `hooks`);
//! the soak waits for the last of them before it stops the workers, and checks the campaigns'
//! delivery counters against what the mock got a 2xx for.
//!
//! # Layout
//!
//! - [`config`]: flags and defaults (`--short`).
//! - `scenario`: the chaos itself, step by step.
//! - `campaigns`: the campaigns, their CSVs, and the `wacast` commands.
//! - `fleet`: the worker processes.
//! - `redis_view`: what the soak reads from Redis.
//! - `hooks`: the callbacks: the mock's flags and the balancer in front of the workers.
//! - `checks`: the figures.

mod campaigns;
mod checks;
pub mod config;
mod fleet;
mod hooks;
mod redis_view;
mod scenario;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Utc;
use rand::SeedableRng;
use rand::rngs::StdRng;
use wacast_shared::campaign::CampaignState;
use wacast_shared::queue::{CampaignRecord, Queue};
use wacast_shared::testing::{RedisServer, TestRedis, counters_match_messages};

use crate::MockGatewayProcess;
use crate::chaos::campaigns::{Operator, Plan, SENDERS};
use crate::chaos::checks::{Inputs, Journal, Recorded};
use crate::chaos::config::Config;
use crate::chaos::fleet::{Fleet, HooksSpec, WorkerSpec};
use crate::chaos::hooks::{Backends, Balancer};

/// The gateway's faults, as the issue sets them.
const FAIL_5XX: &str = "0.1";
pub(crate) const HANG: &str = "0.01";
const LATENCY_MS: &str = "0-50";

/// The API key the mock and the workers share.
const SEVEN_KEY: &str = "chaos-key";

/// The key prefix of the soak's Redis (a server of its own).
const PREFIX: &str = "wacast";

/// How often a progress line is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// What a finished soak hands back.
#[derive(Debug)]
pub struct Report {
    /// `(name, value)` in print order.
    pub figures: Vec<(String, String)>,
    /// The violations, explained; empty when the promise held.
    pub violations: Vec<String>,
    /// Where the CSVs, the journal and the logs are.
    pub dir: PathBuf,
}

/// Runs the soak: starts everything, the chaos, the wait for the campaigns, the checks.
pub async fn run(config: &Config) -> anyhow::Result<Report> {
    let mut soak = Soak::start(config).await?;
    soak.chaos().await?;
    soak.wait_for_campaigns().await?;
    soak.check().await
}

/// Everything a running soak holds. Dropping it stops every process it started.
struct Soak {
    config: Config,
    say: Say,
    rng: StdRng,
    dir: PathBuf,
    redis: RedisServer,
    queue: Queue,
    gateway: MockGatewayProcess,
    journal_path: PathBuf,
    fleet: Fleet,
    /// In front of the workers' hooks listeners, when they have them.
    balancer: Option<Balancer>,
    operator: Operator,
    plans: Vec<Plan>,
    recorded: Recorded,
}

/// Progress lines on stderr, with the time since the start.
struct Say {
    start: Instant,
}

impl Say {
    fn line(&self, text: &str) {
        eprintln!("[{:>6.1}s] {text}", self.start.elapsed().as_secs_f64());
    }
}

/// The directory of the running binary, where cargo puts the workspace's other binaries.
fn bin_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the running binary")?;
    let dir = exe
        .parent()
        .context("the running binary has no directory")?
        .to_path_buf();
    for name in ["wacast", "wacast-worker", "mock-gateway"] {
        if !dir.join(name).is_file() {
            bail!(
                "{} is missing: build the workspace's binaries first (`cargo build --bins`; \
                 scripts/chaos.sh does)",
                dir.join(name).display()
            );
        }
    }
    Ok(dir)
}

/// Whether `program` (wacast-worker) has a hooks listener to receive callbacks on.
fn worker_has_hooks(program: &std::path::Path) -> bool {
    std::process::Command::new(program)
        .arg("--help")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).contains("--hooks-addr"))
}

/// A campaign that will not change any more: completed, or cancelled with nothing in flight.
fn finished(record: &CampaignRecord) -> bool {
    match record.state {
        CampaignState::Completed => true,
        CampaignState::Cancelled => record.counters.open() == 0,
        _ => false,
    }
}

/// The share of a campaign's messages that are final.
fn progress(record: &CampaignRecord) -> f64 {
    let c = &record.counters;
    let done = c.sent + c.failed + c.expired + c.cancelled + c.unknown;
    if c.total == 0 {
        0.0
    } else {
        done as f64 / c.total as f64
    }
}

impl Soak {
    /// Starts Redis, the gateway and the workers, and enqueues the campaigns.
    async fn start(config: &Config) -> anyhow::Result<Soak> {
        let say = Say {
            start: Instant::now(),
        };
        let bins = bin_dir()?;
        let dir = match &config.dir {
            Some(dir) => dir.clone(),
            None => std::env::temp_dir().join(format!(
                "wacast-chaos-{}-{}",
                std::process::id(),
                config.seed
            )),
        };
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        say.line(&format!(
            "seed {}, {:?} of chaos, {} rows per campaign, {} workers at {} per sender; files in \
             {}",
            config.seed,
            config.chaos,
            config.rows,
            config.workers,
            config.rate,
            dir.display()
        ));

        let redis = TestRedis::dedicated_with_aof().await;
        let redis_url = redis.url();
        let queue = Queue::connect(&redis_url, PREFIX)
            .await
            .context("cannot connect to the soak's Redis")?;
        say.line(&format!("redis-server with appendonly yes at {redis_url}"));

        let (plans, windows) = campaigns::plan(
            &dir,
            config.rows,
            config.third_provider,
            Utc::now().timestamp(),
            config.chaos,
        )?;
        let journal_path = dir.join("journal.jsonl");
        let (balancer, hooks) = if worker_has_hooks(&bins.join("wacast-worker")) {
            let backends = Backends::default();
            let balancer = Balancer::start(Arc::clone(&backends)).await?;
            let key_file = dir.join("signing-key");
            std::fs::write(&key_file, hooks::SIGNING_KEY)
                .with_context(|| format!("cannot write {}", key_file.display()))?;
            let spec = HooksSpec {
                public_url: format!("http://{}", balancer.addr),
                key_file,
                backends,
            };
            (Some(balancer), Some(spec))
        } else {
            say.line("this wacast-worker has no --hooks-addr: no callbacks");
            (None, None)
        };
        let callback_args = hooks
            .as_ref()
            .map(|spec| hooks::mock_args(&spec.public_url))
            .unwrap_or_default();
        let gateway = MockGatewayProcess::spawn(
            &bins.join("mock-gateway").to_string_lossy(),
            &[
                "--api-key",
                SEVEN_KEY,
                "--senders",
                &SENDERS.join(","),
                "--fail-5xx",
                FAIL_5XX,
                "--hang",
                HANG,
                "--latency",
                LATENCY_MS,
                "--rate-limit-per-sender",
                &config.gateway_limit.to_string(),
                "--windows",
                &windows.to_string_lossy(),
                "--seed",
                &config.seed.to_string(),
                "--keep-messages",
                "0",
                "--journal",
                &journal_path.to_string_lossy(),
            ]
            .into_iter()
            .map(|arg| arg.to_string())
            .chain(callback_args)
            .collect::<Vec<_>>(),
        )?;
        say.line(&format!(
            "mock gateway at {} ({FAIL_5XX} 5xx, {HANG} hung, {LATENCY_MS} ms latency, 429 above \
             {}/s per sender)",
            gateway.url(),
            config.gateway_limit
        ));

        let spec = WorkerSpec {
            program: bins.join("wacast-worker"),
            redis_url: redis_url.clone(),
            prefix: PREFIX.to_owned(),
            gateway_url: gateway.url(),
            seven_key: SEVEN_KEY.to_owned(),
            rate: config.rate,
            lease: config.lease,
            request_timeout: config.request_timeout,
            shutdown_timeout: config.shutdown_timeout,
            max_attempts: config.max_attempts,
            hooks,
        };
        let fleet = Fleet::start(spec, &dir, config.workers)?;
        say.line(&format!("workers {}", fleet.names().join(", ")));

        let operator = Operator {
            program: bins.join("wacast"),
            redis_url,
            prefix: PREFIX.to_owned(),
        };
        for plan in &plans {
            operator.enqueue(plan)?;
            say.line(&format!("enqueued {} ({} rows)", plan.id, config.rows));
        }
        Ok(Soak {
            config: config.clone(),
            say,
            rng: StdRng::seed_from_u64(config.seed),
            dir,
            redis,
            queue,
            gateway,
            journal_path,
            fleet,
            balancer,
            operator,
            plans,
            recorded: Recorded::default(),
        })
    }

    async fn records(&self) -> anyhow::Result<Vec<CampaignRecord>> {
        let mut records = Vec::with_capacity(self.plans.len());
        for plan in &self.plans {
            records.push(redis_view::campaign(&self.queue, &plan.id).await?);
        }
        Ok(records)
    }

    /// One line on every campaign.
    async fn summary(&self) -> anyhow::Result<String> {
        let records = self.records().await?;
        Ok(self
            .plans
            .iter()
            .zip(&records)
            .map(|(plan, record)| {
                let c = &record.counters;
                format!(
                    "{} {} {:.0}% (queued {} in flight {} sent {} failed {} expired {} cancelled \
                     {} unknown {})",
                    plan.id,
                    record.state.as_str(),
                    progress(record) * 100.0,
                    c.queued,
                    c.claimed + c.sending,
                    c.sent,
                    c.failed,
                    c.expired,
                    c.cancelled,
                    c.unknown
                )
            })
            .collect::<Vec<_>>()
            .join("; "))
    }

    /// Waits until every campaign is finished or the finish timeout passes, then stops the
    /// workers with SIGTERM.
    async fn wait_for_campaigns(&mut self) -> anyhow::Result<()> {
        let timeout = self.config.finish_timeout;
        self.say.line(&format!(
            "chaos over; waiting for the campaigns to finish (at most {timeout:?})"
        ));
        let deadline = Instant::now() + timeout;
        let mut last_progress = Instant::now();
        loop {
            for event in self.fleet.poll()? {
                self.say.line(&event);
            }
            if self.records().await?.iter().all(finished) {
                self.recorded.finished = true;
                self.say
                    .line(&format!("finished: {}", self.summary().await?));
                break;
            }
            if Instant::now() > deadline {
                self.say.line(&format!(
                    "the campaigns did not finish within {timeout:?}: {}",
                    self.summary().await?
                ));
                break;
            }
            if last_progress.elapsed() >= PROGRESS_EVERY {
                last_progress = Instant::now();
                self.say.line(&self.summary().await?);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        if self.balancer.is_some() {
            self.wait_for_callbacks().await?;
        }
        for event in self.fleet.stop_all().await? {
            self.say.line(&event);
        }
        Ok(())
    }

    /// The mock gateway's `/stats`, without the per-recipient maps.
    async fn gateway_stats(&self) -> anyhow::Result<serde_json::Value> {
        reqwest::get(format!("{}/stats?summary=true", self.gateway.url()))
            .await
            .context("the mock gateway does not answer /stats")?
            .json()
            .await
            .context("the mock gateway's /stats is not JSON")
    }

    /// Waits (at most the mock's retry time and a little) until the mock has no callback
    /// pending: every one answered, refused or given up on.
    async fn wait_for_callbacks(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(200);
        loop {
            for event in self.fleet.poll()? {
                self.say.line(&event);
            }
            let stats = self.gateway_stats().await?;
            let pending = stats["callbacks"]["pending"].as_u64().unwrap_or(0);
            if pending == 0 {
                self.say.line("every callback answered or given up on");
                return Ok(());
            }
            if Instant::now() > deadline {
                self.say.line(&format!(
                    "{pending} callbacks still pending; checking anyway"
                ));
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Reads Redis, the journal and the gateway's counters, and computes the figures.
    async fn check(mut self) -> anyhow::Result<Report> {
        self.recorded.kills = self.fleet.kills.clone();
        self.recorded.worker_failures = self.fleet.failures.clone();
        self.recorded.clean_stops = self.fleet.clean_stops;
        let stats = self.gateway_stats().await?;
        let journal = Journal::read(&self.journal_path)?;

        self.say.line("checking every message");
        let mut messages = HashMap::new();
        let mut counter_problems = Vec::new();
        let mut unknown_counter = 0;
        for plan in &self.plans {
            let record = redis_view::campaign(&self.queue, &plan.id).await?;
            unknown_counter += record.counters.unknown;
            if let Err(problem) = counters_match_messages(&self.queue, &plan.id).await {
                counter_problems.push(problem);
            }
            let views = redis_view::messages(&self.queue, &record, self.config.rows).await?;
            messages.insert(plan.id.to_string(), views);
        }
        let mut delivered = Vec::new();
        for plan in &self.plans {
            delivered.push(redis_view::delivered(&self.redis.url(), PREFIX, &plan.id).await?);
        }
        let mut figures = checks::figures(&Inputs {
            messages: &messages,
            counter_problems: &counter_problems,
            unknown_counter,
            journal: &journal,
            stats: &stats,
            recorded: &self.recorded,
            rate: self.config.rate,
            late_grace_ms: self.config.late_grace_ms,
            rate_jitter_ms: self.config.rate_jitter_ms,
        });
        let mut lines = vec![
            ("chaos_seed".to_owned(), self.config.seed.to_string()),
            (
                "chaos_rate_changed".to_owned(),
                u8::from(self.recorded.rate_change.is_some()).to_string(),
            ),
        ];
        if self.balancer.is_some() {
            checks::callbacks(&stats, &delivered, &mut figures);
        }
        lines.extend(figures.lines);
        Ok(Report {
            figures: lines,
            violations: figures.violations,
            dir: self.dir.clone(),
        })
    }
}
