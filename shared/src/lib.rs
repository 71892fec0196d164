//! wacast's shared library: the domain model, the Redis queue and the provider clients.
//!
//! # Layout
//!
//! - [`phone`]: `PhoneNumber`, an E.164 newtype; parsing is the only way in.
//! - [`campaign`]: `CampaignId`, `Campaign` (what every row of an upload shares) and its state.
//! - [`message`]: `QueuedMessage`, one row's data as the queue stores and hands it out.
//! - [`render`]: campaign + row values → a provider message; pure, no I/O.
//! - [`window`]: send windows (hours of the day, in one zone or the recipient's).
//! - [`keys`]: the Redis key schema, one documented function per key.
//! - [`queue`]: wacast's Redis backend (Lua scripts) and its apalis adapter; the only code that
//!   writes queue state.
//! - [`provider`]: the provider seam (a row → its provider's request; one client per provider),
//!   the seven and Bird clients, and the outcome taxonomy.
//! - `testing` (feature `testing`): private Redis servers for tests and queue invariant checks.
//!
//! `phone`, `campaign`, `message`, `render`, `window` and `keys` do no I/O; Redis lives only in `queue`
//! and HTTP only in `provider`.

pub mod campaign;
pub mod keys;
pub mod message;
pub mod phone;
pub mod provider;
pub mod queue;
pub mod render;
#[cfg(feature = "testing")]
pub mod testing;
pub mod window;
