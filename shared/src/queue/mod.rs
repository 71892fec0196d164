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
//! claim: queued ─▶ cancelled (the number opted out) | failed (no open window, if required)
//! callbacks: unknown ─▶ sent (a status report proves it); sent ─131049─▶ queued (due later)
//! ```
//!
//! The providers' callbacks add a message's `delivery` (delivered, read, failed late) and its
//! replies and opt-outs beside its status, with the campaign's funnel counters
//! (`delivery`).
//!
//! A claim is fenced: it records the worker's id and bumps the message's `claims` counter, and
//! every later call about it ([`Lease`]) must present both, so a worker that lost its lease can
//! never act on somebody else's (or its own later) claim. [`Queue::mark_sending`] is the last
//! check before a request is written: if it does not say [`SendPermit::Send`], nothing is sent.
//!
//! Times are unix milliseconds in sorted-set scores and RFC 3339 (UTC) in hash fields, where an
//! operator reads them. They are Redis's time, never a host's ([`RedisClock`]: Redis's `TIME`
//! plus the host's monotonic clock; the reaper and the lease expiries read `TIME` in their
//! scripts), so a worker whose clock is wrong neither sends early nor takes another's lease.
//!
//! The scripts build campaign and message keys from the prefixes in [`Keys`](crate::keys::Keys),
//! so they touch keys they were not given in `KEYS`: fine on a standalone Redis (or one with
//! replicas), not on a Redis Cluster.
//!
//! # Layout
//!
//! - `connection`: [`Queue`], the handle: its Redis connection, both ways to connect, the keys.
//! - `endpoint`: [`Endpoint`], a `redis://` or `redis+sentinel://` URL read; `primary`:
//!   [`RedisConn`], the connection that follows the primary Sentinel names through a failover;
//!   `tls`: [`RedisTls`], the CA and client certificate files of a `rediss://` URL.
//! - [`durability`]: whether Redis keeps a `sending` mark through a crash (the worker's start
//!   check); [`mark_sync`]: what marks wait for (`WAITAOF`, `WAIT` for `--replicas`).
//! - `error`: [`QueueError`] (out of memory apart from other Redis trouble), and the error
//!   text of log events.
//! - `clock`: Redis's clock ([`RedisClock`]) and the time formats; `bounds`: the walk chunk
//!   and the stored text lengths and samples.
//! - `scripts`: the registry of the Lua scripts (`scripts/*.lua`, each after its `#!lua` flags
//!   and `common.lua`).
//! - `campaign_store`: create, load, finish ingest, pause, resume, cancel, settle.
//! - `delivery`: the providers' callbacks recorded (delivery status, replies, opt-outs).
//! - `enqueue`: a chunk of rows in one call; `optout`: the opt-out list and its sources.
//! - `hooks_log`: the callbacks no message matched, as the operator reads them.
//! - `lease`: a claimed message's address and its fenced claim.
//! - `lifecycle`: claim, mark sending, ack, retry, reap, release, extend leases.
//! - `batch`: mark sending, ack and retry of many messages in one call.
//! - [`limits`]: sender limits across the fleet (rate, recipient pair interval, messaging tier),
//!   applied by the claim, and the operator's settings for them.
//! - `backoff`: a sender slowed fleet-wide after its provider's rate limiting (429).
//! - `read`: what the operator's commands read: campaigns, message hashes and fields, sampled
//!   failure reasons, late (delivery) failures, send times.
//! - `activity`: what the console reads besides: a filtered page of campaigns, a campaign's
//!   sends and deliveries per minute.
//! - `rejects`: the rows an upload rejected, by reason, a bounded sample kept with the campaign.
//! - `requeue`: `wacast retry` of failed rows; `purge`: `wacast purge`.
//! - `handoff`: messages a provider holds until their send time, and its answers to deleting
//!   them.
//! - `wake`: the pub/sub subscriber that wakes idle fetchers.
//! - `fleet`: what the workers' fleet watch reads: the due backlog by campaign, and the lease
//!   of the one worker that logs the campaigns' lifecycle.
//! - `workers`: the live workers registry (heartbeats with each provider's health), as
//!   `wacast workers` lists it.
//! - [`backend`]: the apalis `Backend` that feeds a `WorkerBuilder`; `slot`: its concurrency
//!   slots.

mod activity;
pub mod backend;
mod backoff;
mod batch;
mod bounds;
mod campaign_store;
mod clock;
mod connection;
mod delivery;
pub mod durability;
mod endpoint;
mod enqueue;
mod error;
mod fleet;
mod handoff;
mod hooks_log;
mod lease;
mod lifecycle;
pub mod limits;
pub mod mark_sync;
mod optout;
mod primary;
mod purge;
mod read;
mod rejects;
mod requeue;
mod scripts;
mod slot;
mod tls;
mod wake;
mod workers;

pub use activity::{CampaignFilter, CampaignPage, MinuteCount};
pub use backoff::Slowed;
pub use batch::{MAX_BATCH, RetryEntry};
pub use bounds::{
    MAX_DELIVERY_ERROR_LEN, MAX_ERROR_LEN, MAX_PAUSE_REASON_LEN, MAX_REASON_LEN, MAX_REJECT_LEN,
    MAX_REJECT_ROWS, WALK_CHUNK,
};
pub use campaign_store::{CampaignRecord, CancelReport, Counters, Created, Ingest, Waiting};
pub use clock::{RESYNC, RedisClock};
pub use connection::Queue;
pub use delivery::CallbackRecord;
pub use endpoint::{Endpoint, SentinelEndpoint};
pub use enqueue::{ChunkResult, NewMessage};
pub use error::QueueError;
pub use fleet::DueBacklog;
pub use handoff::{HeldMessage, ProviderDelete};
pub use hooks_log::{UnmatchedCallback, UnmatchedCallbacks};
pub use lease::{Lease, MessageRef};
pub use lifecycle::{
    ClaimBatch, Claimed, MessageStatus, ReapReport, RetryKind, SendPermit, Terminal,
};
pub use optout::{Optout, OptoutPage, OptoutSource};
pub use primary::RedisConn;
pub use purge::PurgeReport;
pub use read::{FailureReason, FailureReasons, LateFailure, LateFailures, SendTimes};
pub use rejects::{RejectSample, RejectedRow};
pub use requeue::{RetryFilter, RetryReport};
pub use tls::{RedisTls, TlsError, TlsFiles};
pub use workers::{LiveWorker, ProviderHealthEntry, WorkerBeat};
