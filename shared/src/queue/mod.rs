//! wacast's Redis queue: the only code that writes queue state, and its apalis backend.
//!
//! # How it works
//!
//! Every state change is one Lua script (`scripts/*.lua`) that changes a message hash, the
//! sorted sets that index it and its campaign's counters together, so the counters always equal
//! the number of message hashes in each status (the key layout is in [`crate::keys`]). No script
//! touches an unbounded set: fetch, reap, pause, resume and cancel take at most a given number of
//! entries or rows per call, and the long walks are loops of such calls.
//!
//! A message's life ([`MessageStatus`]):
//!
//! ```text
//! enqueue ─▶ queued ─claim─▶ claimed ─mark_sending─▶ sending ─ack─▶ sent | failed | unknown
//!              ▲  │             │  │                    │
//!              │  │             │  └─ack─▶ expired | failed | cancelled
//!              └──┼──retry──────┴───────────────────────┘   (transient failure, later due time)
//!                 └─cancel─▶ cancelled
//! lease expired: claimed ─▶ queued (nothing was sent); sending ─▶ unknown (it may have been)
//! ```
//!
//! A claim is fenced: it records the worker's id and bumps the message's `claims` counter, and
//! every later call about it ([`Lease`]) must present both, so a worker that lost its lease can
//! never act on somebody else's (or its own later) claim. [`Queue::mark_sending`] is the last
//! check before a request is written: if it does not say [`SendPermit::Send`], nothing is sent.
//!
//! Times are unix milliseconds in sorted-set scores and RFC 3339 (UTC) in hash fields, where an
//! operator reads them. Hosts running workers must keep their clocks in sync (NTP): leases and
//! due times compare one host's clock with another's.
//!
//! The scripts build campaign and message keys from the prefixes in [`Keys`], so they touch keys
//! they were not given in `KEYS`: fine on a standalone Redis (or one with replicas), not on a
//! Redis Cluster.
//!
//! # Layout
//!
//! - `campaign_store`: create, load, finish ingest, pause, resume, cancel.
//! - `enqueue`: a chunk of rows in one call.
//! - `lifecycle`: claim, mark sending, ack, retry, reap, release, extend leases.
//! - [`limits`]: sender limits across the fleet (rate, recipient pair interval, messaging tier),
//!   applied by the claim, and the operator's settings for them.
//! - `batch`: mark sending, ack and retry of many messages in one call.
//! - `wake`: the pub/sub subscriber that wakes idle fetchers.
//! - `operator`: what the operator's commands read and change: listing, sampled failure
//!   reasons, retry of failed rows, purge, and seven's answers to deleting held messages.
//! - [`backend`]: the apalis `Backend` that feeds a `WorkerBuilder`.

pub mod backend;
mod batch;
mod campaign_store;
mod enqueue;
mod lifecycle;
pub mod limits;
mod operator;
mod scripts;
mod wake;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, SecondsFormat, Utc};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::campaign::{CampaignId, CampaignState};
use crate::keys::Keys;
use crate::message::Row;

pub use batch::{MAX_BATCH, RetryEntry};
pub use campaign_store::{CampaignRecord, CancelReport, Counters, Created, Ingest, Waiting};
pub use enqueue::{ChunkResult, NewMessage};
pub use lifecycle::{
    ClaimBatch, Claimed, Lease, MessageRef, MessageStatus, ReapReport, RetryKind, SendPermit,
    Terminal,
};
pub use operator::{
    FailureReason, FailureReasons, HeldMessage, PurgeReport, RetryFilter, RetryReport, SendTimes,
};

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

/// Rows per call when pause and cancel walk a campaign, and entries per call when resume moves
/// its paused set back: small enough that Redis never blocks for more than a few milliseconds.
pub const WALK_CHUNK: u64 = 1000;

/// The longest text stored in a message's `error` field. Longer values would make Redis convert
/// the hash from its compact listpack encoding (values ≤ 64 bytes) to a real hash table.
pub const MAX_ERROR_LEN: usize = 64;

/// The longest `pause_reason` stored on a campaign. A campaign hash is one per campaign (and
/// holds the content JSON anyway), so the reason a provider gave can be kept whole enough to act
/// on.
pub const MAX_PAUSE_REASON_LEN: usize = 300;

/// Why a queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// A Redis command failed: the connection is lost or timed out, or Redis refused it.
    #[error("redis {action} failed (check that Redis is running and reachable)")]
    Redis {
        /// What was being done, e.g. `claim`.
        action: &'static str,
        /// The error from the `redis` crate.
        #[source]
        source: redis::RedisError,
    },
    /// The campaign exists and its enqueue finished: it would be sent twice.
    #[error(
        "campaign {0} already exists and was enqueued completely: choose another id, or see `wacast status {0}`"
    )]
    CampaignExists(CampaignId),
    /// No campaign with this id.
    #[error("campaign {0} does not exist: check the id with `wacast list`")]
    NotFound(CampaignId),
    /// The campaign's state does not allow the operation.
    #[error("campaign {campaign} is {state}, so it cannot be {action}")]
    InvalidState {
        /// The campaign.
        campaign: CampaignId,
        /// Its state.
        state: CampaignState,
        /// What was refused, as a past participle: `paused`, `resumed`, `enqueued to`, ….
        action: &'static str,
    },
    /// Messages of the campaign are claimed or being sent: their workers record them soon.
    #[error(
        "campaign {campaign} has {n} messages in flight: wait until their workers record them (seconds), then run it again"
    )]
    InFlight {
        /// The campaign.
        campaign: CampaignId,
        /// Messages claimed or sending.
        n: u64,
    },
    /// Rows were enqueued to a campaign whose enqueue already finished.
    #[error("campaign {0} finished its enqueue: start a new campaign for more rows")]
    IngestFinished(CampaignId),
    /// A row has a different number of values than the campaign has columns.
    #[error(
        "row {row} of campaign {campaign} has {got} values, but the campaign has {expected} columns"
    )]
    ValueCount {
        /// The campaign.
        campaign: CampaignId,
        /// The row.
        row: Row,
        /// The number of the campaign's columns.
        expected: usize,
        /// The number of values the row has.
        got: usize,
    },
    /// A key holds something wacast did not write.
    #[error("redis key {key} has a corrupt {field}: {detail} (was it changed by hand?)")]
    Corrupt {
        /// The key.
        key: String,
        /// The hash field, or what was read.
        field: String,
        /// What is wrong.
        detail: String,
    },
}

impl QueueError {
    pub(crate) fn redis(action: &'static str) -> impl FnOnce(redis::RedisError) -> QueueError {
        move |source| QueueError::Redis { action, source }
    }

    /// Whether the error is Redis being unreachable or failing, as opposed to a refusal that
    /// retrying will not change.
    pub fn is_redis(&self) -> bool {
        matches!(self, QueueError::Redis { .. })
    }
}

/// A handle on the queue: a multiplexed, self-reconnecting connection, the key schema and the
/// scripts. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct Queue {
    conn: ConnectionManager,
    client: redis::Client,
    keys: Keys,
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
    /// Connects to Redis at `url` (`redis://[:password@]host[:port][/db]`) with keys under
    /// `prefix`. Fails if Redis cannot be reached now; once connected, a lost connection is
    /// re-established on the next call.
    pub async fn connect(url: &str, prefix: &str) -> Result<Queue, QueueError> {
        let client = redis::Client::open(url).map_err(QueueError::redis("url parsing"))?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_max_delay(MAX_RECONNECT_DELAY);
        let conn = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(QueueError::redis("connect"))?;
        Ok(Queue {
            conn,
            client,
            keys: Keys::new(prefix),
        })
    }

    /// The key schema.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// A clone of the connection, for read-only commands (status, reports). Every write goes
    /// through this module's scripts.
    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// The client, for connections of its own (the wake subscriber).
    pub(crate) fn client(&self) -> &redis::Client {
        &self.client
    }

    /// The connection, for one command.
    pub(crate) fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }
}

/// The current time in unix milliseconds.
pub fn now_ms() -> i64 {
    // A clock before 1970 is not a state worth an error path: treat it as the epoch.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Unix milliseconds as the RFC 3339 text stored in hash fields.
pub(crate) fn rfc3339_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Cuts text to at most `max` bytes on a character boundary.
pub(crate) fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// An error and its sources, `outer: inner: innermost`, for the `error` field of log events.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// A duration in whole milliseconds, saturating.
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncate("abc", 64), "abc");
        assert_eq!(truncate("aé", 2), "a");
        assert_eq!(truncate("aéb", 3), "aé");
    }

    #[test]
    fn timestamps_are_utc_with_milliseconds() {
        assert_eq!(rfc3339_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }

    #[test]
    fn scripts_build_the_keys_that_keys_rs_documents() {
        // The Lua scripts build these from campaign_prefix; keep both in step.
        let keys = Keys::new("p");
        let id = CampaignId::parse("c1").unwrap();
        let base = keys.campaign_prefix() + "c1";
        assert_eq!(base, keys.campaign(&id));
        assert_eq!(format!("{base}:msg:7"), keys.message(&id, 7));
        assert_eq!(format!("{base}:paused"), keys.paused(&id));
        assert_eq!(format!("{base}:failed"), keys.failed(&id));
        assert_eq!(crate::keys::message_ref(&id, 7), format!("{}{}", "c1:", 7));
    }
}
