//! This worker in the live workers registry (`queue::workers`): a heartbeat every few seconds,
//! and at once when a provider's health changes, so that `wacast workers` and the other
//! workers see it; and the question a worker that cannot send through a provider asks before it
//! pauses a campaign: can any other live worker?

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use wacast_shared::campaign::ProviderKind;
use wacast_shared::error_chain::error_chain;
use wacast_shared::queue::{Queue, QueueError, WorkerBeat};

use crate::provider_health::ProviderHealth;

/// How often a worker writes its heartbeat; its entry expires after three missed ones.
const BEAT: Duration = Duration::from_secs(5);

/// This worker's entry in the registry.
#[derive(Debug)]
pub struct Registry {
    queue: Queue,
    id: String,
    host: String,
    started_at: String,
    health: Arc<ProviderHealth>,
    /// Requests in flight now.
    pub in_flight: AtomicU64,
}

impl Registry {
    pub fn new(queue: Queue, id: String, health: Arc<ProviderHealth>) -> Registry {
        Registry {
            queue,
            id,
            host: host(),
            started_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            health,
            in_flight: AtomicU64::new(0),
        }
    }

    /// Writes the heartbeat now.
    pub async fn beat(&self) -> Result<(), QueueError> {
        let beat = WorkerBeat {
            id: self.id.clone(),
            host: self.host.clone(),
            pid: std::process::id(),
            started_at: self.started_at.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            providers: self.health.snapshot(),
        };
        self.queue.worker_beat(&beat, BEAT * 3).await
    }

    /// Writes the heartbeat every [`BEAT`], and whenever a provider's health changes, until
    /// aborted.
    pub async fn run(self: Arc<Self>) {
        let mut tick = tokio::time::interval(BEAT);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = self.health.changed() => {}
            }
            if let Err(error) = self.beat().await {
                tracing::warn!(error = %error_chain(&error), "Cannot write this worker's heartbeat to the registry; retrying.");
            }
        }
    }

    /// Whether another live worker can send through `kind` (its key works there). Our own
    /// state is written first, so that two workers that both fail do not each count on the
    /// other.
    pub async fn others_can_send(&self, kind: ProviderKind) -> Result<bool, QueueError> {
        self.beat().await?;
        let workers = self.queue.live_workers().await?;
        Ok(workers
            .iter()
            .any(|worker| worker.id != self.id && worker.can_send(kind)))
    }

    /// Leaves the registry (the worker stops).
    pub async fn leave(&self) {
        if let Err(error) = self.queue.worker_gone(&self.id).await {
            tracing::debug!(error = %error_chain(&error), "Cannot remove this worker from the registry; it expires.");
        }
    }
}

/// The host name, as `wacast workers` shows it.
fn host() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}
