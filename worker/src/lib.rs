//! wacast-worker as a library: `main` parses flags and calls [`run`]; tests call it too.
//!
//! # Layout
//!
//! - `config`: flags with environment fallbacks → validated `Config`.
//! - `handler`: the apalis task function: claim → rate limit → render → send → record.
//! - `campaigns`: campaign specs, loaded and prepared once for rendering, and their metrics.
//! - `record`: the recorder, which writes message states to Redis in batches.
//! - `retry`: backoff with full jitter, `Retry-After` honoured.
//! - `metrics`: Prometheus `/metrics` and `/healthz`.
//! - `provider_health`: each provider's health in this worker and its circuit breaker.
//! - `registry`: this worker's heartbeat in the live workers registry.
//! - `watch`: the fleet watch: the backlog and paused-campaigns gauges, the campaigns' lifecycle
//!   and progress log lines.
//! - `hooks`: the providers' delivery callbacks (`--hooks-addr`), verified and recorded.
//! - `shutdown`: the SIGTERM/SIGINT future; `systemd`: readiness and watchdog.
//! - `telemetry`: tracing setup (text or JSON).

pub mod campaigns;
pub mod config;
pub mod handler;
pub mod hooks;
pub mod metrics;
mod probe;
pub mod provider_health;
pub mod record;
pub mod registry;
pub mod retry;
pub mod shutdown;
pub mod systemd;
pub mod telemetry;
pub mod watch;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use apalis::layers::WorkerBuilderExt;
use apalis_core::monitor::Monitor;
use apalis_core::worker::builder::WorkerBuilder;
use wacast_shared::error_chain::error_chain;
use wacast_shared::provider::Providers;
use wacast_shared::queue::Queue;
use wacast_shared::queue::backend::{FetchConfig, QueueBackend};
use wacast_shared::queue::durability::Verdict;
use wacast_shared::queue::limits::ClaimLimits;
use wacast_shared::queue::mark_sync::{MARK_SYNC_TIMEOUT, MarkSync};
use wacast_shared::redact::redact_url;

use crate::campaigns::CampaignCache;
use crate::config::{CheckConfigArgs, Config, Durability};
use crate::handler::Context;
use crate::metrics::Health;
use crate::provider_health::ProviderHealth;
use crate::record::Recorder;
use crate::registry::Registry;
use crate::retry::RetryPolicy;

/// Runs the worker until `shutdown` completes, then drains: no new claims, requests in flight
/// finish within the shutdown timeout, claimed-but-unsent messages go back to the queue.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let health = Health::default();
    if let Some(addr) = config.metrics_addr {
        metrics::serve(addr, health.clone()).await?;
    }
    let queue = connect(&config, &health).await;
    let verdict = durability(&config, &queue).await?;
    let queue = with_mark_sync(queue, &config, &verdict).await?;
    tokio::spawn(watch_memory(queue.clone(), health.clone()));
    watch::start(
        queue.clone(),
        health.clone(),
        watch::WatchConfig {
            worker_id: config.worker_id.clone(),
            progress_interval: config.progress_interval,
        },
    );
    if let Some(hooks) = &config.hooks {
        hooks::serve(hooks, queue.clone()).await?;
    }
    if let Err(error) = queue.load_batch_scripts().await {
        // Each batch loads its script itself if need be; this only saves the first ones a
        // round trip.
        tracing::warn!(error = %error_chain(&error), "Cannot load the queue's scripts yet.");
    }
    let providers =
        Providers::new(&config.providers).context("failed to build the providers' HTTP clients")?;

    let provider_health = ProviderHealth::start(config.breaker, &providers, health.clone());
    let registry = Arc::new(Registry::new(
        queue.clone(),
        config.worker_id.clone(),
        Arc::clone(&provider_health),
    ));
    // Registered before the first claim, so that a worker that meets a refused key sees this one.
    if let Err(error) = registry.beat().await {
        tracing::warn!(error = %error_chain(&error), "Cannot register this worker yet; retrying with the heartbeat.");
    }
    let heartbeat = tokio::spawn(Arc::clone(&registry).run());

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let ctx = Arc::new(Context {
        queue: queue.clone(),
        recorder: Recorder::start(queue.clone(), config.lease),
        providers,
        retry: RetryPolicy::new(config.max_attempts),
        pause_after_failures: config.pause_after_failures,
        streaks: Mutex::new(Default::default()),
        lease: config.lease,
        campaigns: CampaignCache::default(),
        health: health.clone(),
        in_flight: ::metrics::gauge!(metrics::name::IN_FLIGHT),
        window_zones: Mutex::new(Default::default()),
        halted: Mutex::new(Default::default()),
        stopping: stop_rx,
        provider_health: Arc::clone(&provider_health),
        registry: Arc::clone(&registry),
    });
    let fetch = FetchConfig {
        concurrency: config.concurrency,
        batch_max: FetchConfig::DEFAULT_BATCH_MAX.min(config.concurrency),
        lease: config.lease,
        idle_poll: FetchConfig::DEFAULT_IDLE_POLL,
        reap_interval: FetchConfig::DEFAULT_REAP_INTERVAL,
        limits: ClaimLimits {
            providers: provider_health.gate(),
            ..config.limits.clone()
        },
    };
    let worker_id = config.worker_id.clone();
    tracing::info!(
        worker_id = %worker_id,
        redis = %redact_url(&config.redis_url),
        prefix = %config.prefix,
        providers = %config.providers,
        concurrency = config.concurrency,
        threads = config.threads,
        durability = %durability_summary(&config, &verdict),
        "Worker started."
    );

    let watchdog = systemd::watchdog_interval().map(|every| {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                systemd::watchdog();
            }
        })
    });
    systemd::ready();

    let signal = async move {
        shutdown.await;
        tracing::info!("Stopping: no new claims; finishing requests in flight.");
        systemd::stopping();
        let _ = stop_tx.send(true);
        Ok(())
    };
    let monitor = Monitor::new()
        .register(move |_| {
            // The handler captures the context rather than taking it as apalis `Data`, which
            // would insert it into, and look it up from, every task's extensions.
            let ctx = Arc::clone(&ctx);
            WorkerBuilder::new(worker_id.clone())
                .backend(QueueBackend::new(queue.clone(), fetch.clone()))
                .catch_panic()
                .build(move |task| handler::handle(task, Arc::clone(&ctx)))
        })
        .shutdown_timeout(config.shutdown_timeout);
    let result = monitor.run_with_signal(signal).await;
    if let Some(watchdog) = watchdog {
        watchdog.abort();
    }
    heartbeat.abort();
    registry.leave().await;
    result.context("the worker stopped with an error")?;
    tracing::info!("Worker stopped.");
    Ok(())
}

/// Connects to Redis, waiting as long as it takes: a worker started before Redis (or during a
/// Redis restart) comes up by itself instead of crash-looping.
async fn connect(config: &Config, health: &Health) -> Queue {
    let mut backoff = Duration::from_millis(200);
    loop {
        match Queue::connect_tls(&config.redis_url, &config.redis_tls, &config.prefix).await {
            Ok(queue) => {
                health.set(true);
                return queue;
            }
            Err(error) => {
                health.set(false);
                tracing::error!(redis = %redact_url(&config.redis_url), error = %error_chain(&error), retry_in_ms = backoff.as_millis(), "Cannot connect to Redis; retrying.");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Reads Redis's persistence and holds it to `--durability`: strict refuses a Redis that could
/// lose a `sending` mark or evict the queue's keys, with each setting to change; relaxed logs
/// one WARN naming the risk. Redis trouble while reading is retried, as connecting is.
async fn durability(config: &Config, queue: &Queue) -> anyhow::Result<Verdict> {
    let mut backoff = Duration::from_millis(200);
    let persistence = loop {
        match queue.persistence().await {
            Ok(p) => break p,
            Err(error) => {
                tracing::error!(error = %error_chain(&error), retry_in_ms = backoff.as_millis(), "Cannot read Redis's persistence settings; retrying.");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    };
    let verdict = persistence.verdict(config.replicas);
    judge(config, &verdict)?;
    Ok(verdict)
}

/// The verdict against `--durability`: an error in strict mode when something is unsafe, else
/// a WARN (relaxed) or nothing.
fn judge(config: &Config, verdict: &Verdict) -> anyhow::Result<()> {
    if verdict.is_durable() {
        return Ok(());
    }
    let problems = verdict.problems.join("; ");
    match config.durability {
        Durability::Strict => anyhow::bail!(
            "Redis at {} cannot keep a message's `sending` mark through a crash, so a crash or failover could send messages twice: {problems}",
            redact_url(&config.redis_url)
        ),
        Durability::Relaxed => {
            tracing::warn!(problems = %problems, "--durability relaxed: running on a Redis that can lose `sending` marks; a Redis crash or failover may send messages twice.");
            Ok(())
        }
    }
}

/// The queue with its marks waiting as the verdict says: `WAITAOF` or `WAIT --replicas`. With
/// `--durability relaxed` on a Redis that cannot fsync them, the marks still wait for the
/// replicas asked for.
async fn with_mark_sync(queue: Queue, config: &Config, verdict: &Verdict) -> anyhow::Result<Queue> {
    let sync = verdict.sync.unwrap_or(MarkSync {
        wait_aof: false,
        replicas: config.replicas,
        timeout: MARK_SYNC_TIMEOUT,
    });
    queue
        .with_mark_sync(sync)
        .await
        .context("cannot open the marks' connection to Redis")
}

/// How often the worker looks whether Redis is out of memory, and how often it says so.
const MEMORY_CHECK_EVERY: Duration = Duration::from_secs(1);
const MEMORY_ERROR_EVERY: Duration = Duration::from_secs(60);

/// Reports Redis being out of memory (as the claim loop last saw it): `/healthz` 503, the
/// gauge, and one ERROR a minute rather than a warning per refused call.
async fn watch_memory(queue: Queue, health: Health) {
    let mut tick = tokio::time::interval(MEMORY_CHECK_EVERY);
    let mut said: Option<tokio::time::Instant> = None;
    loop {
        tick.tick().await;
        let out = queue.out_of_memory();
        health.set_out_of_memory(out);
        if !out {
            if said.take().is_some() {
                tracing::info!("Redis accepts claims again: it is no longer out of memory.");
            }
            continue;
        }
        if said.is_none_or(|at| at.elapsed() >= MEMORY_ERROR_EVERY) {
            said = Some(tokio::time::Instant::now());
            tracing::error!(
                "Redis is out of memory (used memory over maxmemory): it refuses new claims, so nothing new is sent; messages already under way are still recorded. Raise maxmemory or free memory (`wacast purge` of finished campaigns)."
            );
        }
    }
}

/// `wacast-worker check-config`: the flags and keys were validated already; this also checks
/// that Redis answers and keeps `sending` marks as `--durability` requires, and that the keys
/// can be sent (and with `--probe`, that each provider accepts its key), and prints the
/// effective configuration (without secrets), with the providers this worker can send through.
pub async fn check_config(config: &Config, check: &CheckConfigArgs) -> anyhow::Result<()> {
    let queue = tokio::time::timeout(
        Duration::from_secs(10),
        Queue::connect_tls(&config.redis_url, &config.redis_tls, &config.prefix),
    )
    .await
    .map_err(|_| {
        anyhow::anyhow!(
            "Redis at {} did not answer within 10s",
            redact_url(&config.redis_url)
        )
    })?
    .with_context(|| format!("cannot reach Redis at {}", redact_url(&config.redis_url)))?;
    let persistence = queue.persistence().await.with_context(|| {
        format!(
            "cannot read the persistence settings of Redis at {}",
            redact_url(&config.redis_url)
        )
    })?;
    let verdict = persistence.verdict(config.replicas);
    judge(config, &verdict)?;
    drop(queue);
    // Checks each key and base URL as the worker will use them; makes no request.
    let providers =
        Providers::new(&config.providers).context("failed to build the providers' HTTP clients")?;
    if check.probe {
        probe::probe_keys(&providers, check).await?;
    }
    let mut rates: Vec<String> = config
        .limits
        .sender_rates
        .iter()
        .map(|(sender, rate)| format!("{sender}={rate}"))
        .collect();
    rates.sort();
    tracing::info!(
        worker_id = %config.worker_id,
        redis = %redact_url(&config.redis_url),
        prefix = %config.prefix,
        providers = %config.providers,
        default_rate = %config.limits.default_rate,
        pair_interval = ?config.limits.pair_interval,
        rates = %rates.join(","),
        concurrency = config.concurrency,
        threads = config.threads,
        hooks = %hooks_summary(config),
        durability = %durability_summary(config, &verdict),
        "Configuration is valid and Redis answers."
    );
    Ok(())
}

/// How the marks are made durable, as `check-config` and the start line show it.
fn durability_summary(config: &Config, verdict: &Verdict) -> String {
    let how = match verdict.sync {
        Some(sync) if sync.wait_aof => "waitaof",
        Some(_) => "appendfsync-always",
        None => "none",
    };
    let mode = match config.durability {
        Durability::Strict => "strict",
        Durability::Relaxed => "relaxed",
    };
    format!("{mode} sync={how} replicas={}", config.replicas)
}

/// The callbacks endpoint as `check-config` shows it: where, and which providers are signed.
fn hooks_summary(config: &Config) -> String {
    let Some(hooks) = &config.hooks else {
        return "off".to_string();
    };
    let signed: Vec<&str> = [("seven", &hooks.seven_key), ("bird", &hooks.bird_key)]
        .into_iter()
        .filter(|(_, key)| key.is_some())
        .map(|(name, _)| name)
        .collect();
    format!(
        "{} signed={} allow_unsigned={} public_url={}",
        hooks.addr,
        signed.join(","),
        hooks.allow_unsigned,
        hooks.public_url
    )
}
