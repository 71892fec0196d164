//! The provider clients (seven, Bird), the seam that hides which one a campaign uses, and the one
//! taxonomy of what a send came to.
//!
//! # Outcomes: one type, five classes
//!
//! wacast promises that every accepted row ends in exactly one recorded state and that no
//! recipient gets the same campaign message twice by wacast's own doing. Everything a provider
//! client can observe is therefore sorted by one question first: *could the provider have
//! done what was asked?* Then by a second: *would trying again help?* The answer is one
//! [`outcome::Outcome<T>`] for every request to every provider; only what a provider says when
//! it did what was asked, `T`, differs by request: [`outcome::Sent`] (its id and price) for a
//! send, Bird's [`bird::BirdSent`] (its id and status) from Bird's own client, seven's
//! [`seven::Deletion`] for a delete, and `()` for seven's events.
//!
//! - [`Done`](outcome::Outcome::Done): the provider said yes. For a send, record its id and
//!   price; done.
//! - [`Retry`](outcome::Outcome::Retry): surely not accepted, and likely to work later: the
//!   connection could not be made (refused, DNS, TLS, connect timeout) or the provider is
//!   failing (408, 5xx, which the contract in DESIGN.md treats as not processed). Resending
//!   cannot duplicate, so the queue does it with backoff.
//! - [`RateLimited`](outcome::Outcome::RateLimited): surely not accepted, because the provider
//!   limits this account's rate (429, honouring `Retry-After`): the worker slows the sender
//!   fleet-wide and puts the message back without counting an attempt.
//! - [`Failed`](outcome::Outcome::Failed): surely not accepted, and the same request would be
//!   refused again: an invalid number, no open 24-hour window (seven's 7002001), a template
//!   error, or a request refused before it was made (`code = "invalid"`). Record the code and
//!   the reason an operator can act on.
//! - [`Halt`](outcome::Outcome::Halt): surely not accepted, and *no* message of this account
//!   will be until someone acts: authentication failed (seven 900, HTTP 401), the key lacks a
//!   permission (902, HTTP 403), or the endpoint is misconfigured (a redirect). Failing every
//!   remaining row would bury the one real cause under thousands of identical failures. Its
//!   `scope` says whose cause it is: this worker's (a key missing or refused, an endpoint
//!   misconfigured: the worker holds the provider and other workers send the campaign) or the
//!   campaign's (Bird's unknown workspace or channel: the campaign pauses).
//! - [`Unknown`](outcome::Outcome::Unknown): the request may have reached the provider and no
//!   answer says what became of it: a timeout or a broken connection after the request was
//!   written, or a 2xx whose body cannot be read. Resending could message someone twice, and
//!   not resending could drop a message; only an operator can weigh that, so it is recorded and
//!   resent only on their word (`wacast retry --status unknown`).
//!
//! When in doubt between `Retry` and `Unknown`, a client chooses `Unknown`: a message held back
//! costs a command, a message sent twice cannot be taken back. Each client classifies a
//! response exactly once, in one place (`seven/reply.rs`, `bird/reply.rs`), and never returns
//! an error for provider trouble: the caller matches on the outcome and nothing else.
//!
//! # The seam
//!
//! A campaign names its provider; nothing outside this module needs to know which one it is.
//! [`request::Renderer`] turns a campaign's row into its provider's validated request, a
//! [`request::Rendered`]; [`Providers`] holds one client per configured provider and sends a
//! `Rendered` through the right one, each client being a [`client::Provider`]; what comes back is an
//! `Outcome<Sent>` either way. A provider without a key in this process is a worker-scoped `Halt`:
//! the worker leaves its campaigns to workers that have one, with a reason that says which key
//! to configure, rather than failing their rows.
//!
//! # Layout
//!
//! - [`outcome`]: [`outcome::Outcome`] (with [`outcome::HaltScope`]) and [`outcome::Sent`].
//! - [`exchange`]: one request and its answer, transport-error classification, `Retry-After`.
//! - [`request`]: a campaign and a row → the provider's validated request.
//! - [`validate`]: the one validation error type, WhatsApp's limits and the field checks both
//!   providers' validation is made of.
//! - [`seven`], [`bird`]: each provider's typed messages, validation, client and answer
//!   classification.
//! - [`client`]: [`client::Provider`], the interface both clients implement.
//! - [`providers`]: [`Providers`], one client per configured provider.
//! - [`http`]: [`http_client`], the one way to build an HTTP client for a provider, and the
//!   API key as a header.
//! - The other direction, the providers' callbacks: [`callback`] ([`callback::CallbackError`]
//!   and the field readers both parsers share) and [`signature`] ([`signature::SignatureError`],
//!   the timestamp window, the HMAC); each provider's `callback.rs` reads its payloads into
//!   `delivery::Callback`s and its `signature.rs` verifies (and, for tests, makes) its
//!   signature.

pub mod bird;
pub mod callback;
pub mod client;
pub mod exchange;
pub mod http;
pub mod outcome;
pub mod probe;
pub mod providers;
pub mod request;
pub mod seven;
pub mod signature;
pub mod validate;

pub use http::{ClientError, http_client};
pub use providers::{Providers, ProvidersConfig};
