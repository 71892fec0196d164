//! Per-sender rate limits: one GCRA schedule per sender number, shared by every task of the
//! process.
//!
//! Each message *reserves* its sender's next slot and then sleeps until that slot: the schedule
//! advances by one emission interval per message from the slot it handed out, not from the
//! moment the task woke up. governor's limiters (used before) are check-then-sleep: a task
//! that wakes a millisecond after its slot takes it then, and with a burst of one the next
//! slot moves by that millisecond too, so every late wake-up (tokio's timer has millisecond
//! granularity) was lost throughput: 73 instead of 80 messages a second. Reserving keeps the
//! slots on their grid, and a wake-up that is late only delays its own message.
//!
//! Senders have their own rates (`--rate SENDER=MPS[:BURST]`), so there is one schedule per
//! sender, created on first use. Time comes from governor's `Clock`, so that tests drive the
//! schedule with `FakeRelativeClock`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock, Reference};
use governor::nanos::Nanos;
use wacast_shared::phone::PhoneNumber;

use crate::config::Rate;

/// The rate schedules of every sender this process has sent for.
pub struct SenderLimits<C: Clock = DefaultClock> {
    rates: HashMap<PhoneNumber, Rate>,
    default_rate: Rate,
    clock: C,
    schedules: RwLock<HashMap<PhoneNumber, Arc<Schedule<C::Instant>>>>,
}

/// One sender's GCRA: slots every `interval`, and up to `burst` at once after a quiet spell.
struct Schedule<I> {
    interval: Nanos,
    /// How far ahead of the theoretical arrival time a slot may be handed out:
    /// `(burst - 1) · interval`.
    tolerance: Nanos,
    /// The theoretical arrival time of the next message; `None` before the first.
    next: Mutex<Option<I>>,
}

impl SenderLimits<DefaultClock> {
    /// Limits with the real clock.
    pub fn new(rates: HashMap<PhoneNumber, Rate>, default_rate: Rate) -> Self {
        SenderLimits::with_clock(rates, default_rate, DefaultClock::default())
    }
}

impl<C: Clock> SenderLimits<C> {
    /// Limits with a given clock (tests use `FakeRelativeClock`).
    pub fn with_clock(rates: HashMap<PhoneNumber, Rate>, default_rate: Rate, clock: C) -> Self {
        SenderLimits {
            rates,
            default_rate,
            clock,
            schedules: RwLock::new(HashMap::new()),
        }
    }

    /// Takes `sender`'s next free slot and says how long from now until it. The slot is taken
    /// whatever the caller then does: a message that is not sent after all leaves a gap.
    pub fn reserve(&self, sender: &PhoneNumber) -> Duration {
        let schedule = self.schedule(sender);
        let now = self.clock.now();
        // Nobody panics while holding the lock, so it is never poisoned; if it were, the
        // instant inside would still be a valid schedule.
        let mut next = schedule.next.lock().unwrap_or_else(|e| e.into_inner());
        let (slot, theoretical) = match *next {
            None => (now, now),
            Some(next) => (now.max(next.saturating_sub(schedule.tolerance)), next),
        };
        *next = Some(theoretical.max(slot) + schedule.interval);
        slot.duration_since(now).into()
    }

    /// Waits until `sender` may send one message, having taken that slot. Returns how long it
    /// waited, for the rate-limit wait metric.
    pub async fn until_ready(&self, sender: &PhoneNumber) -> Duration {
        let wait = self.reserve(sender);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        wait
    }

    fn schedule(&self, sender: &PhoneNumber) -> Arc<Schedule<C::Instant>> {
        let read = self.schedules.read().unwrap_or_else(|e| e.into_inner());
        if let Some(schedule) = read.get(sender) {
            return Arc::clone(schedule);
        }
        drop(read);
        let rate = self.rates.get(sender).copied().unwrap_or(self.default_rate);
        let interval = Nanos::from(Duration::from_secs(1) / rate.per_second.get());
        let tolerance = Nanos::from(
            Duration::from(interval).saturating_mul(rate.burst.get().saturating_sub(1)),
        );
        let mut schedules = self.schedules.write().unwrap_or_else(|e| e.into_inner());
        Arc::clone(schedules.entry(sender.clone()).or_insert_with(|| {
            Arc::new(Schedule {
                interval,
                tolerance,
                next: Mutex::new(None),
            })
        }))
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

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn each_sender_gets_its_own_rate_and_burst() {
        let clock = FakeRelativeClock::default();
        let slow = number("4915112345678");
        let fast = number("4915112345679");
        let limits = SenderLimits::with_clock(
            HashMap::from([(slow.clone(), rate(2, 1))]),
            rate(100, 10),
            clock.clone(),
        );
        // Reservations queue up: the slow sender's second and third messages wait their turn.
        assert_eq!(limits.reserve(&slow), ms(0));
        assert_eq!(limits.reserve(&slow), ms(500));
        assert_eq!(limits.reserve(&slow), ms(1000));
        // The fast sender is not held back by the slow one: its burst of 10 goes at once.
        for _ in 0..10 {
            assert_eq!(limits.reserve(&fast), ms(0));
        }
        assert_eq!(limits.reserve(&fast), ms(10));
        // After a quiet spell the schedule starts from now, not from the past.
        clock.advance(Duration::from_secs(5));
        assert_eq!(limits.reserve(&slow), ms(0));
        assert_eq!(limits.reserve(&slow), ms(500));
    }

    /// Sends `n` messages, each by a caller that wakes `late` after its slot and only then
    /// reserves the next one (the worst case: no reservation made in advance). Returns the
    /// send times.
    fn send_with_late_wakeups(
        limits: &SenderLimits<FakeRelativeClock>,
        clock: &FakeRelativeClock,
        n: usize,
        late: Duration,
    ) -> Vec<Duration> {
        let sender = number("4915112345678");
        let mut now = Duration::ZERO;
        let mut sent_at = Vec::new();
        for _ in 0..n {
            let wait = limits.reserve(&sender);
            clock.advance(wait + late);
            now += wait + late;
            sent_at.push(now);
        }
        sent_at
    }

    #[test]
    fn late_wakeups_cost_no_throughput() {
        let clock = FakeRelativeClock::default();
        let limits = SenderLimits::with_clock(HashMap::new(), rate(80, 1), clock.clone());
        // 801 messages at 80/s take 10 s, however late each caller wakes (up to a slot).
        let sent_at = send_with_late_wakeups(&limits, &clock, 801, ms(1));
        let span = sent_at[800] - sent_at[0];
        assert_eq!(span, Duration::from_secs(10), "{span:?}");
    }

    #[test]
    fn a_second_never_holds_more_than_the_rate() {
        let clock = FakeRelativeClock::default();
        let limits = SenderLimits::with_clock(HashMap::new(), rate(80, 1), clock.clone());
        let sent_at = send_with_late_wakeups(&limits, &clock, 240, Duration::ZERO);
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
