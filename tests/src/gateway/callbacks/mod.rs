//! The mock's delivery callbacks, sent like the providers send them: for each accepted message
//! a signed `delivered` (or a late `failed`) to `--callback-url` + `/hooks/seven` or
//! `/hooks/bird`, and for shares of them a `read` and an inbound reply (some `STOP`), with
//! faults (drops, duplicates, reordering, forged signatures) and retries of 429, 5xx and
//! unanswered requests.
//!
//! - `config`: the flags.
//! - `plan`: what to send about one message.
//! - `payload`: the bodies, in each provider's shape.
//! - `sign`: the providers' signatures.
//! - `sender`: [`Callbacks`], the background tasks that send, retry and count.
//! - `stats`: the counters under `/stats` `callbacks`.

pub mod config;
pub mod payload;
pub mod plan;
pub mod sender;
pub mod sign;
pub(crate) mod stats;

pub use sender::Callbacks;
