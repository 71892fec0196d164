//! The Bird Channels API client for WhatsApp: `POST
//! {base}/workspaces/{workspaceId}/channels/{channelId}/messages` with `Authorization: AccessKey
//! <key>`, each answer classified once (see `reply.rs`) into the same classes as seven's (see
//! the [module essay](crate::provider)).
//!
//! - [`message`]: the typed request body ([`message::BirdMessage`]).
//! - [`validate`]: the checks made before any request.
//! - [`request`]: [`BirdRequest`], a body and the workspace and channel it is posted to.
//! - [`config`]: [`BirdConfig`], [`BirdCredentials`]: how to reach Bird, and the defaults.
//! - [`client`]: [`BirdClient`], one HTTP connection pool, the access key as a sensitive
//!   header, the workspace and channel fixed in its URL; and [`BirdClients`], what a worker
//!   keeps: one access key and one connection pool for Bird's host, and a [`BirdClient`] per
//!   workspace and channel, made on first use, since each campaign names its own channel.
//! - [`sent`]: [`BirdSent`], what Bird says of a message it accepted.
//! - [`callback`]: Bird's webhook payloads (outbound statuses, interactions, inbound) read.
//! - [`signature`]: Bird's webhook signature (`messagebird-signature`).
//!
//! Unlike seven's, Bird's 202 answer has a `status` (`accepted`, or `scheduled` for a message
//! with `scheduledFor`) and no price: a Bird send is `Done` with a [`BirdSent`], which carries
//! the status, and `From<BirdSent> for Sent` gives the provider-agnostic part for callers that
//! treat every provider alike.

pub mod callback;
pub mod client;
pub mod config;
pub mod message;
mod reply;
pub mod request;
pub mod sent;
pub mod signature;
pub mod validate;

pub use client::{BirdClient, BirdClients};
pub use config::{
    BirdConfig, BirdConfigError, BirdCredentials, DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_TIMEOUT,
};
pub use request::BirdRequest;
pub use sent::{BirdSent, BirdStatus};
