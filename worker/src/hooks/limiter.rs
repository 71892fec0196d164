//! The per-address limiter of failed requests: a keyed `governor` limiter counts the requests
//! of each client address that failed (401, 400, 413); an address over its quota is answered
//! 429 until its next failure would be allowed, before its requests cost an HMAC or a Redis
//! call. Requests that succeed are not counted: a provider may call at any rate it likes, from
//! one address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Failed requests allowed per second and address, once the burst is spent.
pub(super) const FAILURES_PER_SECOND: u32 = 20;
/// Failed requests an address may make at once: a misconfigured provider's retries, a few
/// scanners, never a flood.
pub(super) const FAILURE_BURST: u32 = 50;

/// After this many failures the limiter forgets the addresses that have been quiet, so that
/// its memory stays bounded however many addresses call.
const HOUSEKEEPING_EVERY: u64 = 4096;

/// Counts failed requests per client address and turns away the addresses over quota.
pub(super) struct FailureLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    /// Addresses over quota, until when.
    blocked: Mutex<HashMap<IpAddr, Instant>>,
    failures: AtomicU64,
}

impl FailureLimiter {
    /// A limiter allowing `per_second` failures per address, `burst` at once.
    pub(super) fn new(per_second: NonZeroU32, burst: NonZeroU32) -> FailureLimiter {
        FailureLimiter {
            limiter: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
            blocked: Mutex::new(HashMap::new()),
            failures: AtomicU64::new(0),
        }
    }

    /// Whether a request from `ip` may be looked at: `false` while the address is over quota.
    pub(super) fn admits(&self, ip: IpAddr) -> bool {
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        match blocked.get(&ip) {
            Some(until) if *until > Instant::now() => false,
            Some(_) => {
                blocked.remove(&ip);
                true
            }
            None => true,
        }
    }

    /// Counts a failed request of `ip`; over quota, the address is turned away until its next
    /// failure would be allowed.
    pub(super) fn failed(&self, ip: IpAddr) {
        if let Err(not_until) = self.limiter.check_key(&ip) {
            let wait = not_until.wait_time_from(self.limiter.clock().now());
            let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
            blocked.insert(ip, Instant::now() + wait);
        }
        if self
            .failures
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(HOUSEKEEPING_EVERY)
        {
            self.limiter.retain_recent();
            let now = Instant::now();
            let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
            blocked.retain(|_, until| *until > now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> FailureLimiter {
        FailureLimiter::new(NonZeroU32::new(1).unwrap(), NonZeroU32::new(3).unwrap())
    }

    #[test]
    fn an_address_is_turned_away_once_its_failures_exceed_the_burst() {
        let limiter = limiter();
        let flooder: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert!(limiter.admits(flooder));
            limiter.failed(flooder);
        }
        assert!(limiter.admits(flooder), "the burst is spent, not exceeded");
        limiter.failed(flooder);
        assert!(!limiter.admits(flooder), "one failure too many");
        assert!(limiter.admits(other), "other addresses are not affected");
    }

    #[test]
    fn successes_cost_nothing() {
        let limiter = limiter();
        let provider: IpAddr = "2001:db8::1".parse().unwrap();
        // Only failures are counted: a thousand admitted requests leave the quota whole.
        for _ in 0..1000 {
            assert!(limiter.admits(provider));
        }
        for _ in 0..3 {
            limiter.failed(provider);
        }
        assert!(limiter.admits(provider));
    }
}
