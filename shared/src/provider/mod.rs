//! The provider clients (seven now, Bird later) and the one taxonomy of what a send came to.
//!
//! # Outcomes, and why there are five
//!
//! wacast promises that every accepted row ends in exactly one recorded state and that no
//! recipient gets the same campaign message twice by wacast's own doing. Everything a provider
//! client can observe is therefore sorted by one question first: *could the provider have
//! accepted this request?* Then by a second: *would trying again help?*
//!
//! - [`Sent`](outcome::Outcome::Sent): the provider said yes. Record its id and price; done.
//! - [`Retry`](outcome::Outcome::Retry): surely not accepted, and likely to work later: the
//!   connection could not be made (refused, DNS, TLS, connect timeout), the provider is
//!   rate limiting (429, honouring `Retry-After`) or failing (408, 5xx, which the contract in
//!   DESIGN.md treats as not processed). Resending cannot duplicate, so the queue does it with
//!   backoff.
//! - [`Failed`](outcome::Outcome::Failed): surely not accepted, and the same request would be
//!   refused again: an invalid number, no open 24-hour window (seven's 7002001), a template
//!   error, or a message our own validation refused (`code = "invalid"`) before any request.
//!   Record the code and the reason an operator can act on.
//! - [`Halt`](outcome::Outcome::Halt): surely not accepted, and *no* message of this account
//!   will be until someone acts: authentication failed (seven 900, HTTP 401), the key lacks a
//!   permission (902, HTTP 403), or the endpoint is misconfigured (a redirect). Failing every
//!   remaining row would bury the one real cause under thousands of identical failures, so the
//!   worker pauses the campaign and logs one error instead.
//! - [`Unknown`](outcome::Outcome::Unknown): the request may have reached the provider and no
//!   answer says what became of it: a timeout or a broken connection after the request was
//!   written, or a 2xx whose body cannot be read. Resending could message someone twice, and
//!   not resending could drop a message; only an operator can weigh that, so it is recorded and
//!   resent only on their word (`wacast retry --status unknown`).
//!
//! When in doubt between `Retry` and `Unknown`, a client chooses `Unknown`: a message held back
//! costs a command, a message sent twice cannot be taken back. Each client classifies a
//! response exactly once, in one place (`seven/reply.rs`), and never returns an error for
//! provider trouble: the caller matches on the outcome and nothing else.
//!
//! # Layout
//!
//! - [`outcome`]: [`outcome::Outcome`], transport-error classification, `Retry-After`.
//! - [`seven`]: seven's typed messages, validation, client and answer classification.
//! - [`http_client`]: the one way to build an HTTP client for a provider.

pub mod bird;
pub mod outcome;
pub mod seven;

use std::time::Duration;

/// Sent with every request, so that a provider can tell wacast's traffic apart.
pub const USER_AGENT: &str = concat!("wacast/", env!("CARGO_PKG_VERSION"));

/// How long an idle pooled connection is kept. Servers close idle keep-alive connections
/// after their own timeout (often 60 s or more); closing ours earlier avoids writing a request
/// on a connection the server is closing at that moment, which would end `unknown`.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// TCP keepalive, so that a connection silently dropped by a middlebox is noticed.
const TCP_KEEPALIVE: Duration = Duration::from_secs(30);

/// Why a provider client cannot be built. Raised at start-up, never per message.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The timeouts cannot tell a failed connect from a lost answer.
    #[error(
        "timeout ({timeout:?}) must be longer than connect_timeout ({connect_timeout:?}), and both above zero: raise the timeout or lower the connect timeout"
    )]
    Timeouts {
        /// The total request timeout.
        timeout: Duration,
        /// The connect timeout.
        connect_timeout: Duration,
    },
    /// The base URL is not an http(s) URL.
    #[error("base URL {0:?} is not an http(s) URL: give one such as https://gateway.seven.io")]
    BaseUrl(String),
    /// The API key is empty.
    #[error("the API key is empty: set it (SEVEN_API_KEY for seven) or point to the key file")]
    EmptyApiKey,
    /// The API key cannot be sent in a header.
    #[error(
        "the API key contains blanks or control characters (a trailing newline from a key file?): remove them"
    )]
    ApiKeyChars,
    /// reqwest could not build the client (its TLS backend failed to initialise).
    #[error("cannot build the HTTP client")]
    Http(#[source] reqwest::Error),
}

/// Builds the HTTP client a provider client keeps for its whole life (one connection pool).
///
/// `timeout` bounds a whole request, from connecting to the last byte of the answer;
/// `connect_timeout` bounds connecting (DNS, TCP, TLS) and must be shorter, so that a stalled
/// connect is always reported as a connect error: the only error that proves nothing was sent
/// (see [`outcome`]'s `transport_trouble`). Redirects are not followed (a POST redirected is a
/// misconfiguration, classified `Halt`), and reqwest's own retries are off: resending is the
/// queue's decision alone.
pub fn http_client(
    timeout: Duration,
    connect_timeout: Duration,
) -> Result<reqwest::Client, ClientError> {
    if connect_timeout.is_zero() || timeout <= connect_timeout {
        return Err(ClientError::Timeouts {
            timeout,
            connect_timeout,
        });
    }
    // The number of idle connections per host is left unbounded (reqwest's default): it never
    // exceeds the number of requests in flight at the busiest moment, and closing connections
    // above a cap would cost a TLS handshake each under load.
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .timeout(timeout)
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .tcp_nodelay(true)
        .tcp_keepalive(TCP_KEEPALIVE)
        .redirect(reqwest::redirect::Policy::none())
        .retry(reqwest::retry::never())
        .build()
        .map_err(ClientError::Http)
}
