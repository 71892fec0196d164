//! Campaign specs, loaded once per campaign and prepared for rendering, and their senders'
//! metric handles.
//!
//! Preparing a campaign reads its content into its provider's typed message once
//! (`wacast_shared::provider::request::Renderer`), so that each row only fills in the texts that
//! hold a placeholder; which provider that is, is the renderer's business.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use metrics::{Counter, Histogram};
use tokio::sync::OnceCell;
use wacast_shared::campaign::{Campaign, CampaignId};
use wacast_shared::message::QueuedMessage;
use wacast_shared::provider::request::{Rendered, Renderer};
use wacast_shared::queue::{Queue, QueueError};

use crate::metrics::name;

/// Campaign specs, loaded and prepared once per campaign. A spec never changes after creation;
/// the state (paused, cancelled) is checked by `mark_sending` in Redis, not here.
#[derive(Default)]
pub struct CampaignCache {
    prepared: Mutex<HashMap<CampaignId, Arc<OnceCell<Arc<Prepared>>>>>,
}

impl CampaignCache {
    /// The prepared campaign `id`, loaded from Redis on first use. The first claim of a
    /// campaign hands out a whole batch of its messages at once: they wait for one load
    /// instead of each loading it.
    pub async fn get(&self, queue: &Queue, id: &CampaignId) -> Result<Arc<Prepared>, QueueError> {
        let cell = {
            // Inserts and lookups only: a poisoned map is still consistent.
            let mut prepared = self.prepared.lock().unwrap_or_else(|e| e.into_inner());
            match prepared.get(id) {
                Some(cell) => Arc::clone(cell),
                None => Arc::clone(prepared.entry(id.clone()).or_default()),
            }
        };
        // A failed load leaves the cell empty: the next message tries again.
        cell.get_or_try_init(|| async {
            let record = queue.load_campaign(id).await?;
            Ok(Arc::new(Prepared::new(record.campaign)))
        })
        .await
        .cloned()
    }
}

/// A campaign ready to render rows: its spec, its renderer, and the metric handles of its
/// sender.
pub struct Prepared {
    pub spec: Campaign,
    renderer: Renderer,
    pub metrics: SenderMetrics,
}

impl Prepared {
    pub fn new(spec: Campaign) -> Prepared {
        let renderer = Renderer::new(&spec);
        let metrics = SenderMetrics::new(spec.from.digits());
        Prepared {
            spec,
            renderer,
            metrics,
        }
    }

    /// The provider's request for one row at time `now`, validated. The error is the reason
    /// recorded with the failed message.
    pub fn request(&self, message: &QueuedMessage, now: DateTime<Utc>) -> Result<Rendered, String> {
        self.renderer
            .render(&self.spec, message, now)
            .map_err(|e| e.to_string())
    }
}

/// A sender's metric handles, resolved once instead of looking the labelled series up for
/// every message. Failures are labelled by code as well and are rare: they are looked up.
pub struct SenderMetrics {
    sender: String,
    pub sent: Counter,
    pub expired: Counter,
    pub unknown: Counter,
    pub retried_rate_limited: Counter,
    pub retried_transient: Counter,
    pub rate_limit_wait: Histogram,
    pub request_duration: Histogram,
}

impl SenderMetrics {
    fn new(sender: &str) -> SenderMetrics {
        let sender = sender.to_string();
        let label = || [("sender", sender.clone())];
        let retried = |reason: &'static str| {
            let labels = [("sender", sender.clone()), ("reason", reason.to_string())];
            metrics::counter!(name::RETRIED, &labels)
        };
        SenderMetrics {
            sent: metrics::counter!(name::SENT, &label()),
            expired: metrics::counter!(name::EXPIRED, &label()),
            unknown: metrics::counter!(name::UNKNOWN, &label()),
            retried_rate_limited: retried("rate_limited"),
            retried_transient: retried("transient"),
            rate_limit_wait: metrics::histogram!(name::RATE_LIMIT_WAIT, &label()),
            request_duration: metrics::histogram!(name::REQUEST_DURATION, &label()),
            sender,
        }
    }

    /// Counts a failed message, by its code.
    pub fn failed(&self, code: &str) {
        let labels = [("sender", self.sender.clone()), ("code", code.to_string())];
        metrics::counter!(name::FAILED, &labels).increment(1);
    }
}
