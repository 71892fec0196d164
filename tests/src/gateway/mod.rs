//! `mock-gateway`: a small, fast HTTP server that behaves like seven's WhatsApp API
//! (`seeds/001_…`) for wacast's tests, demo and benchmarks, with fault injection and counters.
//!
//! It validates requests strictly on the raw JSON, never through wacast's own provider types, so
//! that a bug in wacast's client shows up as a rejection rather than being shared by both sides.
//!
//! # Endpoints
//!
//! - `POST /api/waba/messages`: checks `X-Api-Key`, then the body (see [`validate`]); accepts
//!   with the seed's exact success shape (`"success": "100"`, one entry in `messages` with a
//!   monotonic `id`, the configured `price`, `text` holding the message content as a JSON string
//!   with templates rendered). A `delay` in the future keeps the message "scheduled" until then.
//! - `DELETE /api/waba/messages/{id}`: a still scheduled message → `{"success": true}`; one already
//!   sent → `{"error_code": 400, "error_message": "Message already sent. …"}`; an unknown or
//!   deleted id → HTTP 404 `{"code": 404, "message": "Page not found", "errors": []}`.
//! - `POST /api/waba/events`: `read` and `is_typing` (`from` plus `to` or `msg_id`), `reaction`
//!   (`msg_id`, `emoji`) → `{"success": true}`.
//! - Control endpoints, never faulted or rate-limited: `GET /stats` (see [`stats`];
//!   `?summary=true` leaves out the per-recipient maps), `POST /stats/reset`,
//!   `GET /messages?foreign_id=&to=&from=&label=` (accepted messages with their request bodies),
//!   `POST /windows` with `{"open": [numbers], "close": [numbers]}`, `GET /faults` and
//!   `POST /faults` with any of `{"hang", "fail_5xx", "lose_answer", "error_body"` (fractions),
//!   `"rate_limit", "rate_limit_per_sender"` (0: off), `"api_key", "bird_access_key"}` (the key
//!   accepted from now on): the faults changed while running, absent fields unchanged.
//! - `--journal FILE`: a JSON line per message request on arrival and per accepted message (see
//!   [`journal`]), for checking a long run message by message.
//! - Bird's `POST /workspaces/{workspaceId}/channels/{channelId}/messages` (`seeds/002_…`), with
//!   Bird's own answers and error shapes: see [`bird`].
//! - `--callback-url URL`: signed delivery callbacks (delivered, read, replies, late failures)
//!   for every accepted message, posted to `URL/hooks/seven` and `URL/hooks/bird` like the
//!   providers post them, with their own faults and retries; `/stats` counts them under
//!   `callbacks`. See [`callbacks`].
//!
//! # Error shape (a choice; the seed does not show one for sending)
//!
//! seven answers errors with HTTP 200 and a code in the body, so the mock does too. Sending
//! errors take the success shape's `success` field with the code as a string, plus a message
//! naming the problem: `{"success": "400", "error_message": "…", "messages": []}`. Codes:
//! `900` bad or missing `X-Api-Key`, `902` a key without the waba scope (`--no-waba-scope-key`),
//! `400` any validation error (WhatsApp's own codes such as `(#132018)` lead the message where
//! one applies), `7002001` freetext, media, location, contacts or interactive content to a
//! recipient without an open 24-hour window. Events errors use the seed's events shape
//! `{"success": false, "error_code": 400, "error_message": "…"}`, delete errors the delete shape;
//! "already sent" is HTTP 200 too, so a client must read the body. Only an unknown path or id
//! (404), `--rate-limit` (429 with `Retry-After: 1`) and `--fail-5xx` change the HTTP status.
//!
//! # Faults, in the order applied
//!
//! latency (`--latency`), hang (`--hang`: no answer ever), 5xx (`--fail-5xx`), authentication,
//! global rate limit (`--rate-limit`), per-sender rate limit (`--rate-limit-per-sender`), error
//! body (`--error-body`: HTTP 200 with `"success": "<--error-body-code>"`), validation. Random
//! choices come from one generator seeded with `--seed`, so a run is reproducible.

pub mod bird;
pub mod callbacks;
pub mod config;
pub(crate) mod control;
pub mod journal;
pub(crate) mod routes;
pub(crate) mod state;
pub mod stats;
pub mod templates;
pub mod validate;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;

use crate::gateway::callbacks::Callbacks;
use crate::gateway::config::Config;
use crate::gateway::journal::Journal;
use crate::gateway::state::AppState;

/// The first stdout line of `mock-gateway` starts with this, followed by the bound address.
pub const LISTENING_PREFIX: &str = "listening on ";

/// A bound, not yet serving gateway.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    state: Arc<AppState>,
}

impl Server {
    /// Binds `config.bind:config.port` and creates the journal file, if one is configured.
    pub async fn bind(config: Config) -> io::Result<Server> {
        let journal = config.journal.as_deref().map(Journal::create).transpose()?;
        let callbacks = match &config.callbacks {
            Some(settings) => Some(Arc::new(
                Callbacks::new(settings.clone(), config.faults.seed).map_err(io::Error::other)?,
            )),
            None => None,
        };
        let listener = TcpListener::bind((config.bind, config.port)).await?;
        Ok(Server {
            listener,
            state: Arc::new(AppState::new(config, journal, callbacks)),
        })
    }

    /// The bound address (the real port when 0 was asked for).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the task is dropped or aborted. Not graceful on purpose: `--hang` holds
    /// requests forever, which a graceful shutdown would wait for.
    pub async fn run(self) -> io::Result<()> {
        let listener = self.listener.tap_io(|tcp| {
            // Small request/response pairs on keep-alive connections: Nagle only adds latency.
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, routes::router(self.state)).await
    }
}
