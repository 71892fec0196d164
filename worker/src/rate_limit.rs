//! Per-sender rate limits: one `governor` GCRA limiter per sender number, shared by every task of
//! the process.
//!
//! governor's keyed limiter applies one quota to every key, but senders have their own rates
//! (`--rate SENDER=MPS[:BURST]`), so this holds one direct limiter per sender, created on first
//! use. The limiter is generic over governor's `Clock` so that tests drive it with
//! `FakeRelativeClock` (governor's timer ignores tokio's paused time).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use wacast_shared::phone::PhoneNumber;

use crate::config::Rate;

type Limiter<C> = RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// The rate limiters of every sender this process has sent for.
pub struct SenderLimits<C: Clock = DefaultClock> {
    rates: HashMap<PhoneNumber, Rate>,
    default_rate: Rate,
    clock: C,
    limiters: RwLock<HashMap<PhoneNumber, Arc<Limiter<C>>>>,
}

impl SenderLimits<DefaultClock> {
    /// Limits with the real clock.
    pub fn new(rates: HashMap<PhoneNumber, Rate>, default_rate: Rate) -> Self {
        SenderLimits::with_clock(rates, default_rate, DefaultClock::default())
    }
}

impl<C: Clock + Clone> SenderLimits<C> {
    /// Limits with a given clock (tests use `FakeRelativeClock`).
    pub fn with_clock(rates: HashMap<PhoneNumber, Rate>, default_rate: Rate, clock: C) -> Self {
        SenderLimits {
            rates,
            default_rate,
            clock,
            limiters: RwLock::new(HashMap::new()),
        }
    }

    /// Takes one message's slot for `sender` if it is free now; otherwise says how long until
    /// the next slot. Taking no slot on `Err` means a caller that gives up loses nothing.
    pub fn check(&self, sender: &PhoneNumber) -> Result<(), Duration> {
        let limiter = self.limiter(sender);
        limiter
            .check()
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Waits until `sender` may send one message and takes that slot. Returns how long it
    /// waited, for the rate-limit wait metric.
    pub async fn until_ready(&self, sender: &PhoneNumber) -> Duration {
        let mut waited = Duration::ZERO;
        while let Err(wait) = self.check(sender) {
            // Several tasks may wake for the same slot; the losers simply wait again. GCRA
            // hands slots out in order of `check`, so nobody starves for long.
            tokio::time::sleep(wait).await;
            waited += wait;
        }
        waited
    }

    fn limiter(&self, sender: &PhoneNumber) -> Arc<Limiter<C>> {
        if let Some(limiter) = self
            .limiters
            .read()
            .expect("rate limiter map lock is never poisoned: no code panics while holding it")
            .get(sender)
        {
            return Arc::clone(limiter);
        }
        let rate = self.rates.get(sender).copied().unwrap_or(self.default_rate);
        let quota = Quota::per_second(rate.per_second).allow_burst(rate.burst);
        let mut limiters = self
            .limiters
            .write()
            .expect("rate limiter map lock is never poisoned: no code panics while holding it");
        Arc::clone(
            limiters.entry(sender.clone()).or_insert_with(|| {
                Arc::new(RateLimiter::direct_with_clock(quota, self.clock.clone()))
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use governor::clock::FakeRelativeClock;

    use super::*;

    fn rate(mps: u32, burst: u32) -> Rate {
        Rate {
            per_second: NonZeroU32::new(mps).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
        }
    }

    fn number(digits: &str) -> PhoneNumber {
        PhoneNumber::parse(digits, None).unwrap()
    }

    #[test]
    fn each_sender_gets_its_own_rate() {
        let clock = FakeRelativeClock::default();
        let slow = number("4915112345678");
        let fast = number("4915112345679");
        let limits = SenderLimits::with_clock(
            HashMap::from([(slow.clone(), rate(2, 1))]),
            rate(100, 10),
            clock.clone(),
        );
        // The slow sender gets one message, then must wait half a second.
        assert_eq!(limits.check(&slow), Ok(()));
        assert_eq!(limits.check(&slow), Err(Duration::from_millis(500)));
        // The fast sender is not held back by the slow one: its burst of 10 goes at once.
        for _ in 0..10 {
            assert_eq!(limits.check(&fast), Ok(()));
        }
        assert_eq!(limits.check(&fast), Err(Duration::from_millis(10)));
        clock.advance(Duration::from_millis(500));
        assert_eq!(limits.check(&slow), Ok(()));
    }

    #[test]
    fn a_second_never_holds_more_than_rate_plus_burst() {
        let clock = FakeRelativeClock::default();
        let sender = number("4915112345678");
        let limits = SenderLimits::with_clock(HashMap::new(), rate(80, 1), clock.clone());
        let mut sent_at = Vec::new();
        let mut now = Duration::ZERO;
        while now < Duration::from_secs(3) {
            match limits.check(&sender) {
                Ok(()) => sent_at.push(now),
                Err(wait) => {
                    clock.advance(wait);
                    now += wait;
                }
            }
        }
        let max_in_window = sent_at
            .iter()
            .map(|start| {
                sent_at
                    .iter()
                    .filter(|t| **t >= *start && **t < *start + Duration::from_secs(1))
                    .count()
            })
            .max()
            .unwrap();
        assert_eq!(max_in_window, 80);
    }
}
