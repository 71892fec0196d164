//! The handle on the queue ([`Queue`]): its connection to Redis, how it connects, and the key
//! schema its calls use.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::aio::ConnectionManagerConfig;

use crate::keys::Keys;
use crate::queue::clock::RedisClock;
use crate::queue::endpoint::Endpoint;
use crate::queue::error::QueueError;
use crate::queue::mark_sync::{MarkConns, MarkSync};
use crate::queue::primary::RedisConn;
use crate::queue::tls::RedisTls;

/// How long one Redis call may take before it fails. The largest scripts (an enqueue chunk of a
/// few thousand rows, a walk chunk of 1,000 rows) take milliseconds; the default of the `redis`
/// crate (500 ms) would fail them whenever Redis is briefly busy (a fork for a snapshot).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long connecting to Redis may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long [`Queue::connect_once`] may take to connect: a person is waiting.
const CONNECT_ONCE_TIMEOUT: Duration = Duration::from_secs(3);

/// The longest pause between reconnection attempts of the connection manager.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(5);

/// A handle on the queue: a multiplexed, self-reconnecting connection (that follows the
/// primary through a failover when the URL is a Sentinel's), the key schema and the scripts.
/// Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct Queue {
    conn: RedisConn,
    /// The marks' own connections and what they wait for, when they wait (`mark_sync.rs`).
    pub(super) marks: Option<(MarkConns, MarkSync)>,
    /// Whether Redis last refused a call for being out of memory (see
    /// [`Queue::out_of_memory`]).
    out_of_memory: Arc<AtomicBool>,
    /// The key schema; the queue's modules build every key from it.
    pub(super) keys: Keys,
    /// Redis's clock, which every queue decision is taken against (see `clock`).
    clock: RedisClock,
}

impl std::fmt::Debug for Queue {
    // The client holds the URL, which may hold a password: show the prefix only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("prefix", &self.keys.prefix())
            .finish_non_exhaustive()
    }
}

impl Queue {
    /// Connects to Redis at `url` (`redis://[:password@]host[:port][/db]`, or
    /// `redis+sentinel://[:password@]host[:port][,host[:port]...]/service_name[/db]`, see
    /// `endpoint.rs`) with keys under `prefix`. Fails if Redis cannot be reached now; once
    /// connected, a lost connection is re-established on the next call (to the new primary,
    /// after a failover, with a Sentinel URL).
    pub async fn connect(url: &str, prefix: &str) -> Result<Queue, QueueError> {
        Queue::connect_tls(url, &RedisTls::default(), prefix).await
    }

    /// [`Queue::connect`], with the CA and client certificate files of a `rediss://` URL.
    pub async fn connect_tls(url: &str, tls: &RedisTls, prefix: &str) -> Result<Queue, QueueError> {
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_max_delay(MAX_RECONNECT_DELAY);
        Queue::connect_with(url, tls, prefix, config).await
    }

    /// Connects to Redis at `url` with keys under `prefix`, failing at once (within a few
    /// seconds at most) when Redis cannot be reached: for commands a person or a script waits
    /// on. [`Queue::connect`] retries for the worker's sake; a CLI should say "Redis is down"
    /// instead. Once connected, a lost connection is re-established on the next call.
    pub async fn connect_once(
        url: &str,
        tls: &RedisTls,
        prefix: &str,
    ) -> Result<Queue, QueueError> {
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_connection_timeout(Some(CONNECT_ONCE_TIMEOUT))
            .set_number_of_retries(0);
        Queue::connect_with(url, tls, prefix, config).await
    }

    async fn connect_with(
        url: &str,
        tls: &RedisTls,
        prefix: &str,
        config: ConnectionManagerConfig,
    ) -> Result<Queue, QueueError> {
        let invalid = |detail: String| {
            QueueError::redis("url parsing")(redis::RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "invalid Redis URL",
                detail,
            )))
        };
        let endpoint = Endpoint::parse(url).map_err(invalid)?;
        endpoint.check_tls(tls).map_err(invalid)?;
        let mut conn = RedisConn::connect(&endpoint, tls, config)
            .await
            .map_err(|error| {
                // rustls says only "invalid peer certificate: UnknownIssuer"; the operator
                // needs to know which file to change.
                let error = if endpoint.is_tls() && error.to_string().contains("certificate") {
                    redis::RedisError::from((
                        redis::ErrorKind::InvalidClientConfig,
                        "Redis's TLS certificate was refused",
                        format!("{error}: {}", tls.untrusted_hint()),
                    ))
                } else {
                    error
                };
                QueueError::redis("connect")(error)
            })?;
        let clock = RedisClock::synced(&mut conn)
            .await
            .map_err(QueueError::redis("read the time"))?;
        Ok(Queue {
            conn,
            marks: None,
            out_of_memory: Arc::new(AtomicBool::new(false)),
            keys: Keys::new(prefix),
            clock,
        })
    }

    /// This queue with its `sending` marks made durable as `sync` says, on connections of
    /// their own: `WAIT` and `WAITAOF` block the connection they are sent on, and count what
    /// it wrote. Without it (the CLI, tests) marks wait for nothing beyond Redis's reply.
    pub async fn with_mark_sync(mut self, sync: MarkSync) -> Result<Queue, QueueError> {
        if sync.waits() {
            let conns = MarkConns::separate(&self.conn)
                .await
                .map_err(QueueError::redis("connect"))?;
            self.marks = Some((conns, sync));
        } else {
            self.marks = None;
        }
        Ok(self)
    }

    /// Whether Redis refused the last claim (or another call that starts new work) for being
    /// over its `maxmemory`, and has not accepted one since. The claim loop keeps this up to
    /// date; the worker reports it on `/healthz`.
    pub fn out_of_memory(&self) -> bool {
        self.out_of_memory.load(Ordering::Relaxed)
    }

    /// Records whether Redis is out of memory, as a call just showed.
    pub fn note_out_of_memory(&self, out: bool) {
        self.out_of_memory.store(out, Ordering::Relaxed);
    }

    /// Redis's time now, in unix milliseconds: the clock of every queue decision.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Redis's time now.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Redis's clock, shared by every clone of this queue.
    pub fn clock(&self) -> &RedisClock {
        &self.clock
    }

    /// Reads Redis's `TIME` again (see `clock::RESYNC`); a long-lived process calls it every
    /// so often, and after a failover.
    pub async fn sync_clock(&self) -> Result<(), QueueError> {
        self.clock
            .sync(&mut self.conn())
            .await
            .map_err(QueueError::redis("read the time"))
    }

    /// The key schema.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// A clone of the connection, for read-only commands (status, reports). Every write goes
    /// through this module's scripts.
    pub fn connection(&self) -> RedisConn {
        self.conn.clone()
    }

    /// The connection, for one command.
    pub(crate) fn conn(&self) -> RedisConn {
        self.conn.clone()
    }
}
