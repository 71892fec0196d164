//! The queue's clock and its time formats: unix milliseconds in sorted-set scores, RFC 3339 (UTC,
//! milliseconds) in hash fields, where an operator reads them.
//!
//! Every queue decision (due times, rate slots, pair intervals, leases, expiry, retries) is
//! taken against one clock, Redis's, never a host's: a worker whose clock is seconds ahead
//! would otherwise send before the scheduled time, take rate slots the fleet has not reached
//! yet and reap live workers' leases. [`RedisClock`] reads Redis's `TIME` once and then counts
//! on the host's monotonic clock, which the wall clock's jumps (NTP steps, a wrong setting, a
//! faked time) do not move; it reads `TIME` again every so often ([`RESYNC`]). The scripts whose
//! decision must not depend on any worker at all (the reaper, the lease expiries) read `TIME`
//! themselves.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use redis::aio::ConnectionLike;

/// How often a long-lived process reads Redis's `TIME` again: the monotonic clock drifts by a
/// few milliseconds a minute at worst, and a failover may bring a server with another clock.
pub const RESYNC: Duration = Duration::from_secs(30);

/// The longest round trip of a `TIME` reading taken by a resync (its error is half of it).
const MAX_RESYNC_RTT: Duration = Duration::from_millis(100);

/// Redis's clock as this process sees it: the `TIME` of the last sync plus the monotonic time
/// elapsed since. Cheap to clone; clones share the sync.
#[derive(Debug, Clone)]
pub struct RedisClock {
    inner: Arc<Anchor>,
}

#[derive(Debug)]
struct Anchor {
    /// The monotonic origin that offsets are counted from.
    origin: Instant,
    /// Redis's time in unix microseconds minus the microseconds elapsed since `origin`.
    offset_us: AtomicI64,
    /// A test's stopped time (unix milliseconds), `i64::MIN` while the clock runs.
    #[cfg(feature = "testing")]
    stopped_ms: AtomicI64,
}

impl RedisClock {
    /// A clock synced from `conn`'s `TIME`.
    pub(crate) async fn synced(conn: &mut impl ConnectionLike) -> redis::RedisResult<RedisClock> {
        let clock = RedisClock {
            inner: Arc::new(Anchor {
                origin: Instant::now(),
                offset_us: AtomicI64::new(0),
                #[cfg(feature = "testing")]
                stopped_ms: AtomicI64::new(i64::MIN),
            }),
        };
        // The first reading is taken whatever its round trip: there is no other yet.
        clock.read(conn, Duration::MAX).await?;
        Ok(clock)
    }

    /// Reads Redis's `TIME` again. The answer is taken to be from halfway through the round
    /// trip, so the error is at most half of it (well under a millisecond on a LAN). A reading
    /// whose round trip took longer than [`MAX_RESYNC_RTT`] (Redis busy with a fork, say) is
    /// not taken: the last one, a few milliseconds of drift old at worst, is better.
    pub(crate) async fn sync(&self, conn: &mut impl ConnectionLike) -> redis::RedisResult<()> {
        self.read(conn, MAX_RESYNC_RTT).await
    }

    async fn read(
        &self,
        conn: &mut impl ConnectionLike,
        max_rtt: Duration,
    ) -> redis::RedisResult<()> {
        let before = self.elapsed_us();
        let (secs, micros): (i64, i64) = redis::cmd("TIME").query_async(conn).await?;
        let after = self.elapsed_us();
        if u128::try_from(after - before).unwrap_or(u128::MAX) > max_rtt.as_micros() {
            tracing::debug!(
                rtt_us = after - before,
                "Redis's time took too long to read; keeping the last reading."
            );
            return Ok(());
        }
        let redis_us = secs.saturating_mul(1_000_000).saturating_add(micros);
        let offset = redis_us - (before + (after - before) / 2);
        self.inner.offset_us.store(offset, Ordering::Relaxed);
        Ok(())
    }

    /// Redis's time now, in unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        #[cfg(feature = "testing")]
        if let stopped @ 0.. = self.inner.stopped_ms.load(Ordering::Relaxed) {
            return stopped;
        }
        (self.inner.offset_us.load(Ordering::Relaxed) + self.elapsed_us()).div_euclid(1000)
    }

    /// Redis's time now.
    pub fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp_millis(self.now_ms()).unwrap_or_default()
    }

    /// How long until `at_ms` (Redis's unix milliseconds); zero if it has passed.
    pub fn until(&self, at_ms: i64) -> Duration {
        Duration::from_millis(u64::try_from(at_ms.saturating_sub(self.now_ms())).unwrap_or(0))
    }

    /// Stops the clock at `at_ms` for a test that compares two queues call by call: a running
    /// clock would give their calls times a millisecond apart, and the order of entries set
    /// aside at "now" with them.
    #[cfg(feature = "testing")]
    pub fn stop_at(&self, at_ms: i64) {
        self.inner.stopped_ms.store(at_ms, Ordering::Relaxed);
    }

    fn elapsed_us(&self) -> i64 {
        i64::try_from(self.inner.origin.elapsed().as_micros()).unwrap_or(i64::MAX)
    }
}

/// Unix milliseconds as the RFC 3339 text stored in hash fields.
pub(crate) fn rfc3339_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A duration in whole milliseconds, saturating.
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_with_milliseconds() {
        assert_eq!(rfc3339_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }
}
