//! The providers' callbacks recorded: a message's delivery status and its campaign's funnel
//! counters in one script, inbound messages as replies and opt-outs, the callbacks no message
//! matches kept in a bounded list, and the nonces a signed callback may use once.

use std::time::Duration;

use crate::delivery::{Callback, DeliveryPolicy, Recorded};
use crate::queue::connection::Queue;
use crate::queue::error::QueueError;

impl Queue {
    /// Records one callback: a status report updates its message and its campaign's counters
    /// together (idempotent, ordered by meaning), an inbound message counts as a reply to the
    /// campaign that messaged its writer last and may opt the number out. Returns what it came
    /// to; a Redis error means nothing was recorded (the endpoint answers 503 and the provider
    /// tries again).
    pub async fn record_callback(
        &self,
        callback: &Callback,
        policy: &DeliveryPolicy,
    ) -> Result<Recorded, QueueError> {
        // The interface the hooks endpoint is written against; the recording scripts replace
        // this body.
        let _ = (callback, policy);
        Ok(Recorded::Unmatched)
    }

    /// Takes a signed callback's nonce for `ttl` (longer than the signature's accepted age):
    /// `true` the first time, `false` for a nonce seen before (a replay).
    pub async fn claim_nonce(
        &self,
        provider: &str,
        nonce: &str,
        ttl: Duration,
    ) -> Result<bool, QueueError> {
        let _ = (provider, nonce, ttl);
        Ok(true)
    }
}
