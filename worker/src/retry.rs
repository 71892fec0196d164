//! When to try a transient failure again: exponential backoff with full jitter, honouring the
//! provider's `Retry-After`.
//!
//! Retries are durable: the queue's retry script puts the message back in the due set at the
//! time computed here, so a restart loses no retry and a waiting message holds no slot.

use std::time::Duration;

use rand::Rng;

/// The backoff schedule.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts before a transient failure becomes `failed`.
    pub max_attempts: u32,
    /// The first backoff's upper bound.
    pub base: Duration,
    /// No backoff (and no `Retry-After`) is longer than this.
    pub cap: Duration,
}

impl RetryPolicy {
    /// The policy with wacast's defaults: 1 s base, 10 min cap.
    pub fn new(max_attempts: u32) -> Self {
        RetryPolicy {
            max_attempts,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(600),
        }
    }

    /// Whether attempt number `attempts` (1-based, the one that just failed) may be followed
    /// by another.
    pub fn may_retry(&self, attempts: u32) -> bool {
        attempts < self.max_attempts
    }

    /// The delay before the next attempt after `attempts` failed ones. `Retry-After` wins when
    /// given (clamped to the cap); otherwise full jitter: uniform in `[0, min(cap, base·2^n))`,
    /// which spreads a fleet's retries instead of synchronising them.
    pub fn delay(&self, attempts: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(after) = retry_after {
            // A little jitter on top keeps many workers that got the same Retry-After from
            // arriving in the same millisecond.
            let spread = rand::rng().random_range(0..=after.as_millis().min(1000) as u64 / 10);
            return (after + Duration::from_millis(spread)).min(self.cap);
        }
        let exp = attempts.saturating_sub(1).min(20);
        let ceiling = self.base.saturating_mul(1u32 << exp).min(self.cap);
        let millis = ceiling.as_millis().max(1) as u64;
        Duration::from_millis(rand::rng().random_range(0..millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_under_the_cap() {
        let policy = RetryPolicy::new(8);
        for attempts in 1..=30 {
            let ceiling = Duration::from_secs(1u64 << (attempts - 1).min(20)).min(policy.cap);
            for _ in 0..50 {
                let d = policy.delay(attempts, None);
                assert!(d < ceiling, "attempt {attempts}: {d:?} >= {ceiling:?}");
            }
        }
    }

    #[test]
    fn retry_after_is_honoured_and_clamped() {
        let policy = RetryPolicy::new(8);
        let d = policy.delay(1, Some(Duration::from_secs(3)));
        assert!(
            d >= Duration::from_secs(3) && d <= Duration::from_millis(3100),
            "{d:?}"
        );
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(86_400))),
            policy.cap
        );
    }

    #[test]
    fn attempts_are_capped() {
        let policy = RetryPolicy::new(3);
        assert!(policy.may_retry(1));
        assert!(policy.may_retry(2));
        assert!(!policy.may_retry(3));
    }
}
