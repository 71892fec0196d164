//! wacast's shared library: the domain model, the Redis queue and the provider clients.
//!
//! # Layout
//!
//! - [`phone`]: `PhoneNumber`, an E.164 newtype; parsing is the only way in.
//! - [`campaign`]: `CampaignId`, `Campaign` (what every row of an upload shares) and its state.
//! - [`message`]: `QueuedMessage`, one row's data as the queue stores and hands it out.
//! - [`delivery`]: what the providers' callbacks report (delivery statuses, inbound
//!   messages) in wacast's words, and the policy that acts on them.
//! - [`schedule`]: a row's times (send time, ttl, expiry, due and hand-off), computed once.
//! - [`render`]: campaign + row values → a provider message; pure, no I/O.
//! - [`window`]: send windows (hours of the day, in one zone or the recipient's).
//! - [`streak`]: WhatsApp's template-level and rate-limit codes, and the rule by which
//!   failures in a row pause a campaign.
//! - [`keys`]: the Redis key schema, one documented function per key.
//! - [`queue`]: wacast's Redis backend (Lua scripts) and its apalis adapter; the only code that
//!   writes queue state.
//! - [`provider`]: the provider seam (a row → its provider's request; one client per provider),
//!   the seven and Bird clients, and the outcome taxonomy.
//! - [`duration`], [`error_chain`], [`redact`], [`redis_url`], [`secret`]: one of each for
//!   both binaries: the duration grammar of every flag, errors as one line, URLs without
//!   passwords, the Redis URL from its flag, a file or a systemd credential, provider keys from
//!   the environment, a file or a systemd credential.
//! - [`manual`]: the man pages of both binaries, from their clap definitions.
//! - `testing` (feature `testing`): private Redis servers for tests and queue invariant checks.
//!
//! `phone`, `campaign`, `message`, `delivery`, `schedule`, `render`, `window`, `streak` and `keys` do no I/O; Redis lives only in `queue`
//! and HTTP only in `provider`; `secret` and `redis_url` read the environment and their files.

pub mod campaign;
pub mod delivery;
pub mod duration;
pub mod error_chain;
pub mod keys;
pub mod manual;
pub mod message;
pub mod phone;
pub mod provider;
pub mod queue;
pub mod redact;
pub mod redis_url;
pub mod render;
pub mod schedule;
pub mod secret;
pub mod streak;
#[cfg(feature = "testing")]
pub mod testing;
pub mod window;
