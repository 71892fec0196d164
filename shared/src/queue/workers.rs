//! The live workers registry: each worker's heartbeat writes a small hash that expires when the
//! heartbeats stop, and an index of ids by last heartbeat, so that `wacast workers` lists the
//! fleet without a `SCAN`, and a worker that cannot send through a provider can ask whether any
//! live worker can (see [`crate::keys`] for the layout).
//!
//! Times are Redis's (`TIME`), so hosts whose clocks disagree still agree on who was seen last.

use std::collections::HashMap;
use std::time::Duration;

use crate::campaign::ProviderKind;
use crate::queue::clock::{millis, rfc3339_ms};
use crate::queue::connection::Queue;
use crate::queue::error::QueueError;

/// The most workers `wacast workers` lists (the most recently seen).
const MAX_LISTED: isize = 1000;
/// How long an id stays in the index after its last heartbeat (its hash is long gone by then).
const INDEX_KEEP: Duration = Duration::from_secs(24 * 3600);

/// A provider's health as a worker reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProviderHealthEntry {
    /// The provider (`seven`, `bird`).
    pub provider: String,
    /// `ok`, `no_key`, `key_refused`, `unreachable` or `breaker_open`.
    pub health: String,
    /// Since when (RFC 3339), if known.
    pub since: Option<String>,
}

impl ProviderHealthEntry {
    /// Whether a worker in this state can send through the provider: its key works (an open
    /// breaker is the provider's passing trouble, not the worker's).
    pub fn can_send(&self) -> bool {
        self.health == "ok" || self.health == "breaker_open"
    }
}

/// What one heartbeat writes.
#[derive(Debug, Clone)]
pub struct WorkerBeat {
    /// The worker id (the one its claims record).
    pub id: String,
    /// The host it runs on.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// Its version.
    pub version: String,
    /// Messages it holds now (claimed and not finished).
    pub in_flight: u64,
    /// Each provider's health.
    pub providers: Vec<ProviderHealthEntry>,
}

/// A live worker, as the registry holds it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LiveWorker {
    /// The worker id.
    pub id: String,
    /// The host it runs on.
    pub host: String,
    /// Its process id.
    pub pid: String,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// Its version.
    pub version: String,
    /// Messages it held at its last heartbeat.
    pub in_flight: u64,
    /// Its last heartbeat (RFC 3339, Redis's clock).
    pub last_seen: String,
    /// Each provider's health, in [`ProviderKind::ALL`] order.
    pub providers: Vec<ProviderHealthEntry>,
}

impl LiveWorker {
    /// Whether this worker can send through `kind` (see [`ProviderHealthEntry::can_send`]).
    pub fn can_send(&self, kind: ProviderKind) -> bool {
        self.providers
            .iter()
            .any(|p| p.provider == kind.as_str() && p.can_send())
    }

    fn from_hash(id: String, mut hash: HashMap<String, String>) -> LiveWorker {
        let mut take = |field: &str| hash.remove(field).unwrap_or_default();
        let providers = ProviderKind::ALL
            .into_iter()
            .filter_map(|kind| {
                let health = take(&format!("health:{}", kind.as_str()));
                let since = take(&format!("since:{}", kind.as_str()));
                (!health.is_empty()).then(|| ProviderHealthEntry {
                    provider: kind.as_str().to_string(),
                    health,
                    since: (!since.is_empty()).then_some(since),
                })
            })
            .collect();
        LiveWorker {
            host: take("host"),
            pid: take("pid"),
            started_at: take("started_at"),
            version: take("version"),
            in_flight: take("in_flight").parse().unwrap_or(0),
            last_seen: take("last_seen"),
            providers,
            id,
        }
    }
}

impl Queue {
    /// Writes a worker's heartbeat: its hash, alive for `ttl`, and its place in the index.
    pub async fn worker_beat(&self, beat: &WorkerBeat, ttl: Duration) -> Result<(), QueueError> {
        let mut conn = self.conn();
        // Redis's time (the queue's clock), so that hosts' clocks do not order the registry.
        let now = self.now_ms();
        let key = self.keys.worker(&beat.id);
        let mut fields: Vec<(String, String)> = vec![
            ("host".into(), beat.host.clone()),
            ("pid".into(), beat.pid.to_string()),
            ("started_at".into(), beat.started_at.clone()),
            ("version".into(), beat.version.clone()),
            ("in_flight".into(), beat.in_flight.to_string()),
            ("last_seen".into(), rfc3339_ms(now)),
        ];
        for provider in &beat.providers {
            fields.push((
                format!("health:{}", provider.provider),
                provider.health.clone(),
            ));
            fields.push((
                format!("since:{}", provider.provider),
                provider.since.clone().unwrap_or_default(),
            ));
        }
        let () = redis::pipe()
            .atomic()
            .hset_multiple(&key, &fields)
            .ignore()
            .pexpire(&key, millis(ttl))
            .ignore()
            .zadd(self.keys.workers(), &beat.id, now)
            .ignore()
            .zrembyscore(self.keys.workers(), "-inf", now - millis(INDEX_KEEP))
            .ignore()
            .query_async(&mut conn)
            .await
            .map_err(QueueError::redis("worker heartbeat"))?;
        Ok(())
    }

    /// Removes a worker that stops from the registry.
    pub async fn worker_gone(&self, id: &str) -> Result<(), QueueError> {
        let () = redis::pipe()
            .atomic()
            .del(self.keys.worker(id))
            .ignore()
            .zrem(self.keys.workers(), id)
            .ignore()
            .query_async(&mut self.conn())
            .await
            .map_err(QueueError::redis("worker gone"))?;
        Ok(())
    }

    /// The live workers (those whose hash has not expired), most recently seen first.
    pub async fn live_workers(&self) -> Result<Vec<LiveWorker>, QueueError> {
        let mut conn = self.conn();
        let ids: Vec<String> = redis::cmd("ZRANGE")
            .arg(self.keys.workers())
            .arg(0)
            .arg(MAX_LISTED - 1)
            .arg("REV")
            .query_async(&mut conn)
            .await
            .map_err(QueueError::redis("workers"))?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.hgetall(self.keys.worker(id));
        }
        let hashes: Vec<HashMap<String, String>> = pipe
            .query_async(&mut conn)
            .await
            .map_err(QueueError::redis("workers"))?;
        Ok(ids
            .into_iter()
            .zip(hashes)
            .filter(|(_, hash)| !hash.is_empty())
            .map(|(id, hash)| LiveWorker::from_hash(id, hash))
            .collect())
    }
}
