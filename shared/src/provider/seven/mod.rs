//! The seven.io WhatsApp client: `POST /api/waba/messages`, `DELETE /api/waba/messages/{id}`
//! and `POST /api/waba/events`, each answer classified once (see `reply.rs`).
//!
//! - [`message`]: the typed request bodies ([`message::SevenMessage`], [`message::Event`]).
//! - [`validate`]: the checks made before any request.
//! - [`config`]: [`SevenConfig`], how to reach seven, and its defaults.
//! - [`client`]: [`SevenClient`], one HTTP connection pool, the API key as a sensitive header.
//! - [`deletion`]: [`Deletion`], what a delete did.
//! - [`callback`]: seven's webhook payloads (status reports, inbound messages) read.
//! - [`signature`]: seven's webhook signature (`X-Signature`, `X-Timestamp`, `X-Nonce`).

pub mod callback;
pub mod client;
pub mod config;
pub mod deletion;
pub mod message;
mod reply;
pub mod signature;
pub mod validate;

pub use client::SevenClient;
pub use config::{DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, SevenConfig};
pub use deletion::Deletion;
