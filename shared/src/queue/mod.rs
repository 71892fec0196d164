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
//! The scripts build campaign and message keys from the prefixes in [`Keys`](crate::keys::Keys),
//! so they touch keys they were not given in `KEYS`: fine on a standalone Redis (or one with
//! replicas), not on a Redis Cluster.
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
mod bounds;
mod campaign_store;
mod clock;
mod connection;
mod enqueue;
mod error;
mod lease;
mod lifecycle;
pub mod limits;
mod operator;
mod scripts;
mod slot;
mod wake;

pub use batch::{MAX_BATCH, RetryEntry};
pub use bounds::{MAX_ERROR_LEN, MAX_PAUSE_REASON_LEN, WALK_CHUNK};
pub use campaign_store::{CampaignRecord, CancelReport, Counters, Created, Ingest, Waiting};
pub use clock::now_ms;
pub use connection::Queue;
pub use enqueue::{ChunkResult, NewMessage};
pub use error::QueueError;
pub use lease::{Lease, MessageRef};
pub use lifecycle::{
    ClaimBatch, Claimed, MessageStatus, ReapReport, RetryKind, SendPermit, Terminal,
};
pub use operator::{
    FailureReason, FailureReasons, HeldMessage, PurgeReport, RetryFilter, RetryReport, SendTimes,
};
