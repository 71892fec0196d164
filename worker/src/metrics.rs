//! Prometheus metrics on `--metrics-addr`: `/metrics` in the text format and `/healthz`.
//!
//! Metric names (all prefixed `wacast_`), labelled by `sender` where it applies:
//! `messages_sent_total`, `messages_failed_total` (+ `code`), `messages_retried_total`
//! (+ `reason`), `messages_unknown_total`, `messages_expired_total`, `in_flight`,
//! `rate_limit_wait_seconds` (histogram), `request_duration_seconds` (histogram),
//! `redis_errors_total`, `redis_out_of_memory` (gauge: 1 while Redis refuses claims for being
//! over its `maxmemory`; `/healthz` then answers 503 saying so), and `provider_healthy` (by
//! `provider`: 1 while this worker can send through it, 0 without a key, with a refused key or
//! an open breaker; see `provider_health`).
//!
//! The callbacks endpoint (`hooks`) counts `callbacks_total` by `provider`, `event` (`status`,
//! `inbound`, or `other`: refused before its body was read, or no delivery news) and `result`
//! (`recorded`, `duplicate`, `unmatched`, `ignored`, `bad_signature`, `refused` (no key, too
//! large, too many failures), `unparsable`, `unavailable` (Redis: answered 503)), and
//! `delivery_latency_seconds` (histogram, by `provider`): from a message's send to its delivery,
//! observed when a callback first tells it.
//!
//! The claim counts `messages_deferred_total` by `reason` (`rate`, `pair`, `tier`: each row
//! once, when a sender limit first puts it off; the handler adds `window` and `missed_slot`).
//! `redis_up` is 1 while Redis answers this worker, `build_info` (by `version`) is 1.
//!
//! The fleet watch (`watch`) sets what every worker sees alike, so aggregate these with `max()`,
//! not `sum()`: `backlog_messages` (by `provider` and `sender`: messages due now, or put off
//! by their sender's rate by less than a minute), `campaigns_paused` (by `reason`: `operator`,
//! `failures`, `no_worker`, `provider`) and `campaigns_halted` (paused by wacast itself).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Metric names, in one place.
pub mod name {
    pub const SENT: &str = "wacast_messages_sent_total";
    pub const FAILED: &str = "wacast_messages_failed_total";
    pub const RETRIED: &str = "wacast_messages_retried_total";
    pub const UNKNOWN: &str = "wacast_messages_unknown_total";
    pub const EXPIRED: &str = "wacast_messages_expired_total";
    pub const IN_FLIGHT: &str = "wacast_in_flight";
    pub const RATE_LIMIT_WAIT: &str = "wacast_rate_limit_wait_seconds";
    pub const REQUEST_DURATION: &str = "wacast_request_duration_seconds";
    pub const REDIS_ERRORS: &str = "wacast_redis_errors_total";
    /// 1 while Redis refuses claims for being over its `maxmemory`, else 0.
    pub const REDIS_OUT_OF_MEMORY: &str = "wacast_redis_out_of_memory";
    pub const CALLBACKS: &str = "wacast_callbacks_total";
    pub const DELIVERY_LATENCY: &str = "wacast_delivery_latency_seconds";
    pub const PROVIDER_HEALTHY: &str = "wacast_provider_healthy";
    /// 1 while Redis answers this worker, else 0.
    pub const REDIS_UP: &str = "wacast_redis_up";
    /// 1, labelled by `version`.
    pub const BUILD_INFO: &str = "wacast_build_info";
    /// Messages due now, by `provider` and `sender` (the fleet watch).
    pub const BACKLOG: &str = "wacast_backlog_messages";
    /// Paused campaigns, by `reason`.
    pub const CAMPAIGNS_PAUSED: &str = "wacast_campaigns_paused";
    /// Campaigns wacast paused itself (not an operator).
    pub const CAMPAIGNS_HALTED: &str = "wacast_campaigns_halted";
}

/// Whether the worker is healthy: Redis answered lately and is not out of memory, and the
/// worker can send through every provider a message needed (see `provider_health`).
/// `/healthz` answers 503 otherwise, naming what is wrong.
#[derive(Debug, Clone, Default)]
pub struct Health {
    redis: Arc<AtomicBool>,
    out_of_memory: Arc<AtomicBool>,
    /// What keeps this worker from sending through a provider, by provider.
    providers: Arc<Mutex<BTreeMap<&'static str, String>>>,
}

impl Health {
    /// Records whether the last Redis round trip worked.
    pub fn set(&self, healthy: bool) {
        self.redis.store(healthy, Ordering::Relaxed);
        ::metrics::gauge!(name::REDIS_UP).set(if healthy { 1.0 } else { 0.0 });
    }

    /// Whether Redis answers and has room: the worker can claim.
    pub fn get(&self) -> bool {
        self.redis.load(Ordering::Relaxed) && !self.out_of_memory()
    }

    /// Records whether Redis refuses new work for being over its `maxmemory`.
    pub fn set_out_of_memory(&self, out: bool) {
        self.out_of_memory.store(out, Ordering::Relaxed);
        ::metrics::gauge!(name::REDIS_OUT_OF_MEMORY).set(if out { 1.0 } else { 0.0 });
    }

    /// Whether Redis is out of memory.
    pub fn out_of_memory(&self) -> bool {
        self.out_of_memory.load(Ordering::Relaxed)
    }

    /// Records what keeps this worker from sending through `provider` (`None`: nothing).
    /// Returns whether that changed.
    pub fn set_provider(&self, provider: &'static str, trouble: Option<String>) -> bool {
        let mut providers = self.providers.lock().unwrap_or_else(|e| e.into_inner());
        match trouble {
            Some(trouble) => providers.insert(provider, trouble.clone()) != Some(trouble),
            None => providers.remove(provider).is_some(),
        }
    }

    /// `/healthz`'s answer: Redis first (nothing works without it), then the providers.
    fn answer(&self) -> (StatusCode, String) {
        if self.out_of_memory() {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "redis out of memory: over its maxmemory, it refuses new claims; raise maxmemory or free memory (wacast purge)\n".into(),
            );
        }
        if !self.redis.load(Ordering::Relaxed) {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "redis unreachable\n".into(),
            );
        }
        let providers = self.providers.lock().unwrap_or_else(|e| e.into_inner());
        if providers.is_empty() {
            return (StatusCode::OK, "ok\n".into());
        }
        let mut text = String::new();
        for (provider, trouble) in providers.iter() {
            text.push_str(&format!("provider {provider} unhealthy: {trouble}\n"));
        }
        (StatusCode::SERVICE_UNAVAILABLE, text)
    }
}

/// Installs the global metrics recorder and serves it on `addr` until the process exits.
pub async fn serve(addr: SocketAddr, health: Health) -> anyhow::Result<()> {
    let handle = install_recorder()?;
    ::metrics::gauge!(name::BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("failed to bind the metrics listener on {addr}"))?;
    tracing::info!(%addr, "Serving metrics on /metrics and health on /healthz.");
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let handle = handle.clone();
                async move { handle.render() }
            }),
        )
        .route(
            "/healthz",
            get(move || {
                let answer = health.answer();
                async move { answer }
            }),
        );
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "The metrics server stopped.");
        }
    });
    Ok(())
}

fn install_recorder() -> anyhow::Result<PrometheusHandle> {
    let latency_buckets = [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ];
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(name::REQUEST_DURATION.to_string()),
            &latency_buckets,
        )
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full(name::RATE_LIMIT_WAIT.to_string()),
                &latency_buckets,
            )
        })
        .and_then(|b| {
            // Deliveries take seconds to hours (a phone that is off).
            b.set_buckets_for_metric(
                Matcher::Full(name::DELIVERY_LATENCY.to_string()),
                &[
                    0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0, 21600.0, 86400.0,
                ],
            )
        })
        .context("invalid histogram buckets")?
        .install_recorder()
        .context("failed to install the metrics recorder")?;
    // Without upkeep the histograms' summaries would grow; run it now and then.
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}
