//! Waking idle fetchers without polling Redis.
//!
//! Scripts that make work due (enqueue, retry, resume, reap, release) publish the earliest due
//! time they created on the `wake` channel. A subscriber task per backend holds a dedicated
//! pub/sub connection and records the earliest announced due time; the fetcher, while it sleeps
//! until the next due entry it knows of, wakes early when an announcement is due before that.
//! The subscription reconnects by itself; after a reconnect it wakes the fetcher once, since an
//! announcement may have been missed while it was down. A slow safety-net poll (the fetcher's
//! `idle_poll`) covers anything else.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::error_chain::error_chain;
use crate::queue::clock::RedisClock;
use crate::queue::primary::RedisConn;

/// The first pause before resubscribing after a failure; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// The longest pause between resubscription attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Announcements of due work, shared by a subscriber and a fetcher.
#[derive(Debug, Default)]
pub(crate) struct Wake {
    /// The earliest due time announced since the fetcher last looked.
    earliest: Mutex<Option<i64>>,
    notify: Notify,
    /// Set when the fetcher must stop waiting for good.
    stopped: AtomicBool,
}

impl Wake {
    /// Records work due at `due_ms` and wakes the fetcher.
    pub(crate) fn announce(&self, due_ms: i64) {
        {
            let mut earliest = self.earliest.lock().unwrap_or_else(|e| e.into_inner());
            *earliest = Some(earliest.map_or(due_ms, |e| e.min(due_ms)));
        }
        // notify_one stores a permit when nobody waits, so an announcement made while the
        // fetcher is busy claiming is not lost.
        self.notify.notify_one();
    }

    /// Forgets the announcements so far: the claim about to be made covers them.
    pub(crate) fn reset(&self) {
        *self.earliest.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Stops every wait, now and later.
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.notify.notify_one();
    }

    /// Whether [`Wake::stop`] was called.
    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Sleeps until `deadline_ms` by `clock`, or until work due by then is announced, or until
    /// stopped.
    pub(crate) async fn wait_until(&self, deadline_ms: i64, clock: &RedisClock) {
        loop {
            if self.is_stopped() {
                return;
            }
            let left = deadline_ms.saturating_sub(clock.now_ms());
            if left <= 0 {
                return;
            }
            let sleep = tokio::time::sleep(Duration::from_millis(left.unsigned_abs()));
            tokio::select! {
                () = sleep => return,
                () = self.notify.notified() => {
                    let earliest = self.earliest.lock().unwrap_or_else(|e| e.into_inner()).take();
                    if self.is_stopped() || earliest.is_some_and(|due| due <= deadline_ms) {
                        return;
                    }
                    // Due later than we wake anyway: the claim at the deadline will see it.
                }
            }
        }
    }

    /// Sleeps for `duration`, or until stopped.
    pub(crate) async fn sleep(&self, duration: Duration) {
        let deadline = tokio::time::Instant::now() + duration;
        while !self.is_stopped() {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => return,
                // Announcements are not a reason to end a pause after an error; only stop is.
                () = self.notify.notified() => {}
            }
        }
    }
}

/// Spawns the subscriber that feeds `wake` from `channel`, until aborted.
pub(crate) fn spawn_subscriber(
    conn: RedisConn,
    channel: String,
    wake: Arc<Wake>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = MIN_BACKOFF;
        loop {
            match subscribe(&conn, &channel).await {
                Ok(mut pubsub) => {
                    backoff = MIN_BACKOFF;
                    // Anything published while we were not subscribed was missed.
                    wake.announce(i64::MIN);
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let due = message
                            .get_payload::<String>()
                            .ok()
                            .and_then(|p| p.parse::<f64>().ok())
                            .map_or(i64::MIN, |d| d as i64);
                        wake.announce(due);
                    }
                    tracing::warn!("Wake-up subscription to Redis lost; resubscribing.");
                }
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), "Subscribing to wake-ups failed; retrying.");
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    })
}

async fn subscribe(conn: &RedisConn, channel: &str) -> redis::RedisResult<redis::aio::PubSub> {
    // Through the queue's connection, so that it subscribes to the primary of the moment.
    let mut pubsub = conn.pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub)
}
