//! [`Callbacks`]: the background side of the mock's callbacks. Each accepted message's plan
//! becomes one task per callback that sleeps until it is due, then posts it (signed, with a
//! fresh timestamp and nonce per attempt) with at most `--callback-concurrency` requests in
//! flight. Like the providers, a 429, a 5xx or no answer at all is retried with backoff (250 ms
//! doubling to 10 s) for `--callback-retry-for`; any other non-2xx is final.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::SeedableRng;
use rand::distr::{Alphanumeric, SampleString};
use rand::rngs::StdRng;
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::gateway::callbacks::config::CallbackConfig;
use crate::gateway::callbacks::payload::{self, AcceptedMessage, Event};
use crate::gateway::callbacks::plan::{Planned, plan};
use crate::gateway::callbacks::sign::{bird_headers, seven_headers};
use crate::gateway::callbacks::stats::{CallbackStats, Ending};
use crate::gateway::journal::Provider;

/// The first wait before a retry; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How long one callback request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends the callbacks of accepted messages; shared by the request handlers.
#[derive(Debug)]
pub struct Callbacks {
    config: CallbackConfig,
    http: reqwest::Client,
    in_flight: Semaphore,
    next_event: AtomicU64,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    rng: StdRng,
    stats: CallbackStats,
}

/// How one request went.
enum Answer {
    Ok,
    /// Worth another try (429, 5xx, no answer).
    Transient,
    /// Final (any other status).
    Final,
}

impl Callbacks {
    /// Callbacks per `config`; `seed` makes the plans reproducible.
    pub fn new(config: CallbackConfig, seed: Option<u64>) -> anyhow::Result<Callbacks> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .pool_max_idle_per_host(config.concurrency)
            .build()?;
        let rng = match seed {
            // Its own stream, apart from the fault injection's.
            Some(seed) => StdRng::seed_from_u64(seed ^ 0x00ca_11ba_c500),
            None => StdRng::from_os_rng(),
        };
        Ok(Callbacks {
            in_flight: Semaphore::new(config.concurrency),
            config,
            http,
            next_event: AtomicU64::new(1),
            inner: Mutex::new(Inner {
                rng,
                stats: CallbackStats::default(),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Plans the callbacks of a message accepted now (sent at `send_at` when scheduled) and
    /// starts sending them in the background. Must run inside the tokio runtime.
    pub fn accepted(self: &Arc<Self>, message: AcceptedMessage, send_at: Option<DateTime<Utc>>) {
        let planned = {
            let mut inner = self.lock();
            let planned = plan(&self.config, &mut inner.rng);
            for callback in &planned {
                inner.stats.planned(callback.event.kind(), callback.dropped);
            }
            planned
        };
        let wait = send_at
            .and_then(|at| (at - Utc::now()).to_std().ok())
            .unwrap_or_default();
        let start = tokio::time::Instant::now() + wait;
        let message = Arc::new(message);
        for callback in planned.into_iter().filter(|callback| !callback.dropped) {
            let this = Arc::clone(self);
            let message = Arc::clone(&message);
            tokio::spawn(async move {
                tokio::time::sleep_until(start + callback.after).await;
                this.deliver(&message, &callback).await;
            });
        }
    }

    /// The counters as JSON.
    pub fn stats_json(&self) -> Value {
        self.lock().stats.to_json()
    }

    /// Clears the counters (`POST /stats/reset`).
    pub fn reset(&self) {
        self.lock().stats.reset();
    }

    async fn deliver(&self, message: &AcceptedMessage, callback: &Planned) {
        let event_id = self.next_event.fetch_add(1, Ordering::Relaxed);
        let body = payload::body(
            message,
            &callback.event,
            Utc::now(),
            event_id,
            self.config.price,
        );
        let path = match message.provider {
            Provider::Seven => "/hooks/seven",
            Provider::Bird => "/hooks/bird",
        };
        let url = format!("{}{path}", self.config.url);
        if callback.forged {
            self.lock().stats.forged();
            let answer = self.post(message.provider, &url, &body, true).await;
            self.lock().stats.answered(answer, false);
        }
        let mut ending = self.send(message.provider, &url, &body).await;
        if callback.duplicated {
            self.lock().stats.duplicate();
            if self.send(message.provider, &url, &body).await == Ending::Acknowledged {
                ending = Ending::Acknowledged;
            }
        }
        let code = match &callback.event {
            Event::Failed(code) => Some(code.as_str()),
            _ => None,
        };
        self.lock()
            .stats
            .finished(callback.event.kind(), code, ending);
    }

    /// One callback, retried while transient and the retry time lasts.
    async fn send(&self, provider: Provider, url: &str, body: &[u8]) -> Ending {
        let started = Instant::now();
        let mut backoff = FIRST_BACKOFF;
        let mut retry = false;
        loop {
            let status = self.post(provider, url, body, false).await;
            self.lock().stats.answered(status, retry);
            match classify(status) {
                Answer::Ok => return Ending::Acknowledged,
                Answer::Final => return Ending::Refused,
                Answer::Transient if started.elapsed() + backoff > self.config.retry_for => {
                    return Ending::GaveUp;
                }
                Answer::Transient => {}
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
            retry = true;
        }
    }

    /// One request; the status, or `None` when no answer came. `forged` signs with a wrong key.
    async fn post(&self, provider: Provider, url: &str, body: &[u8], forged: bool) -> Option<u16> {
        let key = match provider {
            Provider::Seven => self.config.seven_key.as_deref(),
            Provider::Bird => self.config.bird_key.as_deref(),
        };
        let wrong_key;
        let key = if forged {
            wrong_key = format!("{}-forged", key.unwrap_or("no-key"));
            Some(wrong_key.as_str())
        } else {
            key
        };
        let now = Utc::now().timestamp();
        let headers = match (provider, key) {
            (_, None) => Vec::new(),
            (Provider::Seven, Some(key)) => {
                let nonce = Alphanumeric.sample_string(&mut rand::rng(), 32);
                seven_headers(key, url, body, now, &nonce)
            }
            (Provider::Bird, Some(key)) => bird_headers(key, url, body, now),
        };
        let _permit = self.in_flight.acquire().await.ok()?;
        let mut request = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                // Read the answer so the connection can be reused.
                let _ = response.bytes().await;
                Some(status)
            }
            Err(error) => {
                tracing::debug!(%error, url, "Callback not answered.");
                None
            }
        }
    }
}

fn classify(status: Option<u16>) -> Answer {
    match status {
        Some(200..=299) => Answer::Ok,
        None | Some(429 | 500..=599) => Answer::Transient,
        Some(_) => Answer::Final,
    }
}
