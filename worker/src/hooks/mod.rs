//! The providers' callbacks received: `POST /hooks/seven` and `POST /hooks/bird` on a listener
//! of its own (`--hooks-addr`), each request verified, parsed and recorded in Redis before it is
//! answered 200, so that no callback is lost: a provider retries whatever got no 2xx.
//!
//! - `server`: [`serve`], the listener, the routes and the start-up log.
//! - `handler`: one request's way through: the flood check, the body limit, the signature,
//!   the parse, the recording, and the answer and metric each step can end in.
//! - `verify`: what differs per provider: its signature headers and check, its parser.
//! - `limiter`: the per-address limiter of failed requests, which answers 429 before a flood
//!   costs an HMAC or a Redis call.

mod handler;
mod limiter;
mod server;
mod verify;

pub use server::serve;
