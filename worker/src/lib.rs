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
//! - `hooks`: the providers' delivery callbacks (`--hooks-addr`), verified and recorded.
//! - `shutdown`: the SIGTERM/SIGINT future; `systemd`: readiness and watchdog.
//! - `telemetry`: tracing setup (text or JSON).

pub mod campaigns;
pub mod config;
pub mod handler;
pub mod hooks;
pub mod metrics;
pub mod provider_health;
pub mod record;
pub mod registry;
pub mod retry;
pub mod shutdown;
pub mod systemd;
pub mod telemetry;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use apalis::layers::WorkerBuilderExt;
use apalis_core::monitor::Monitor;
use apalis_core::worker::builder::WorkerBuilder;
use tokio::sync::watch;
use wacast_shared::error_chain::error_chain;
use wacast_shared::provider::Providers;
use wacast_shared::queue::Queue;
use wacast_shared::queue::backend::{FetchConfig, QueueBackend};
use wacast_shared::queue::limits::ClaimLimits;
use wacast_shared::redact::redact_url;

use crate::campaigns::CampaignCache;
use crate::config::Config;
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

    let (stop_tx, stop_rx) = watch::channel(false);
    let ctx = Arc::new(Context {
        queue: queue.clone(),
        recorder: Recorder::start(queue.clone(), config.lease),
        providers,
        retry: RetryPolicy::new(config.max_attempts),
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
        match Queue::connect(&config.redis_url, &config.prefix).await {
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

/// `wacast-worker check-config`: the flags and keys were validated already; this also checks
/// that Redis answers and that the keys can be sent, and prints the effective configuration
/// (without secrets), with the providers this worker can send through.
pub async fn check_config(config: &Config) -> anyhow::Result<()> {
    let queue = tokio::time::timeout(
        Duration::from_secs(10),
        Queue::connect(&config.redis_url, &config.prefix),
    )
    .await
    .map_err(|_| {
        anyhow::anyhow!(
            "Redis at {} did not answer within 10s",
            redact_url(&config.redis_url)
        )
    })?
    .with_context(|| format!("cannot reach Redis at {}", redact_url(&config.redis_url)))?;
    drop(queue);
    // Checks each key and base URL as the worker will use them; makes no request.
    Providers::new(&config.providers).context("failed to build the providers' HTTP clients")?;
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
        "Configuration is valid and Redis answers."
    );
    Ok(())
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
