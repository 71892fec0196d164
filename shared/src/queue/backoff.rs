//! A sender slowed fleet-wide when its provider limits its rate: the worker that meets a 429
//! (or WhatsApp's 130429 / 131056) calls [`Queue::slow_sender`], and every worker's claim
//! hands out that sender's slots at the lowered rate until it recovers.
//!
//! The state is a small hash per sender beside its limits (`{prefix}:backoff:{provider}:
//! {sender}`: `factor`, the share of the rate left, and `at`, its last decrease), read by the
//! claim script where it computes the sender's interval. Multiplicative decrease, additive
//! recovery, as TCP does it, for the same reason: the provider's limit is unknown and may
//! change, so the fleet halves its rate when it hears "too fast" and creeps back up while it
//! does not. The constants are in `scripts/common.lua` (`BACKOFF_*`):
//!
//! - each decrease halves the factor, at most once a second (a burst of 429s from requests
//!   already in flight is one signal), down to 1/16 of the rate;
//! - it recovers by a tenth of the configured rate every 5 s after the last decrease, and the
//!   hash expires when the factor would be whole again;
//! - a `Retry-After` pushes the sender's GCRA schedule (`gcra:{provider}:{sender}`) to now +
//!   that delay: no worker claims the sender's rows before it.
//!
//! Only a sender with a rate (the operator's `wacast rate set`, or the workers' `--rate`) can
//! be slowed: the factor divides a rate. An unlimited sender still honours `Retry-After` in
//! each message's own due time.

use std::time::Duration;

use crate::campaign::ProviderKind;
use crate::keys::sender_name;
use crate::phone::PhoneNumber;
use crate::queue::clock::millis;
use crate::queue::connection::Queue;
use crate::queue::error::QueueError;
use crate::queue::scripts::SCRIPTS;

/// What [`Queue::slow_sender`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slowed {
    /// The share of the sender's rate it may use now (1: all of it).
    pub factor: f64,
    /// Whether this call lowered it (false: another 429 did within the last second).
    pub lowered: bool,
}

impl Queue {
    /// Slows `sender` of `provider` after the provider limited its rate: halves its rate
    /// backoff factor (at most once a second) and, with `retry_after`, keeps every worker from
    /// claiming its rows before then.
    pub async fn slow_sender(
        &self,
        provider: ProviderKind,
        sender: &PhoneNumber,
        retry_after: Option<Duration>,
    ) -> Result<Slowed, QueueError> {
        let name = sender_name(provider, sender);
        let (factor, lowered): (String, i64) = SCRIPTS
            .slow_sender
            .key(self.keys.backoff(&name))
            .key(self.keys.gcra(&name))
            .arg(retry_after.map_or(0, millis))
            .invoke_async(&mut self.conn())
            .await
            .map_err(QueueError::redis("slow sender"))?;
        Ok(Slowed {
            factor: factor.parse().unwrap_or(1.0),
            lowered: lowered == 1,
        })
    }

    /// The share of `sender`'s rate it may use now, after its provider's rate limiting (1: all
    /// of it). `name` is the sender as [`sender_name`] writes it.
    pub async fn sender_backoff(&self, name: &str) -> Result<f64, QueueError> {
        let factor: String = SCRIPTS
            .sender_backoff
            .key(self.keys.backoff(name))
            .invoke_async(&mut self.conn())
            .await
            .map_err(QueueError::redis("read sender backoff"))?;
        Ok(factor.parse().unwrap_or(1.0))
    }
}
