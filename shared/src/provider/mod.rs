//! The provider clients (seven, Bird), the seam that hides which one a campaign uses, and the one
//! taxonomy of what a send came to.
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
//! response exactly once, in one place (`seven/reply.rs`, `bird/reply.rs`), and never returns
//! an error for provider trouble: the caller matches on the outcome and nothing else.
//!
//! # The seam
//!
//! A campaign names its provider; nothing outside this module needs to know which one it is.
//! [`request::Renderer`] turns a campaign's row into its provider's validated request, a
//! [`request::Rendered`]; [`Providers`] holds one client per configured provider and sends a
//! `Rendered` through the right one, each client being a [`Provider`]; what comes back is an
//! [`Outcome`] either way. A provider without a key in this process is a `Halt`: its campaigns
//! pause with a reason that says which key to configure, rather than failing their rows.
//!
//! # Layout
//!
//! - [`outcome`]: [`outcome::Outcome`], the exchange, transport-error classification,
//!   `Retry-After`.
//! - [`request`]: a campaign and a row → the provider's validated request.
//! - [`validate`]: the one validation error type, WhatsApp's limits and the field checks both
//!   providers' validation is made of.
//! - [`seven`], [`bird`]: each provider's typed messages, validation, client and answer
//!   classification.
//! - [`Provider`], [`Providers`]: the interface both clients implement, and one client per
//!   configured provider.
//! - [`http_client`]: the one way to build an HTTP client for a provider.

pub mod bird;
pub mod outcome;
pub mod request;
pub mod seven;
pub mod validate;

use std::fmt;
use std::future::Future;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use crate::campaign::ProviderKind;
use crate::provider::bird::{BirdClients, BirdConfigError, BirdCredentials};
use crate::provider::outcome::Outcome;
use crate::provider::request::Rendered;
use crate::provider::seven::{SevenClient, SevenConfig};

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

/// Why an API key cannot be sent in a header; each client names it in its own error.
pub(crate) enum KeyProblem {
    /// The key is empty.
    Empty,
    /// It has blanks or control characters (a trailing newline from a key file?).
    Chars,
}

/// `{scheme}{key}` as a header value marked sensitive, so that even hyper's debug output hides
/// it.
pub(crate) fn key_header(scheme: &str, key: &SecretString) -> Result<HeaderValue, KeyProblem> {
    let key = key.expose_secret();
    if key.is_empty() {
        return Err(KeyProblem::Empty);
    }
    if key.contains(char::is_whitespace) {
        return Err(KeyProblem::Chars);
    }
    let mut value =
        HeaderValue::from_str(&format!("{scheme}{key}")).map_err(|_| KeyProblem::Chars)?;
    value.set_sensitive(true);
    Ok(value)
}

/// `base` with `segments` appended as path segments, each percent-encoded so that an id stays
/// one segment, after any path prefix of `base` (`http://127.0.0.1:8080/seven`). `None` unless
/// `base` is an http(s) URL that can take a path.
pub(crate) fn endpoint(base: &Url, segments: &[&str]) -> Option<Url> {
    if !matches!(base.scheme(), "http" | "https") {
        return None;
    }
    let mut url = base.clone();
    url.path_segments_mut()
        .ok()?
        // Without a doubled `/` after a base ending in one.
        .pop_if_empty()
        .extend(segments);
    Some(url)
}

/// What each provider's client is to the rest of wacast: its validated request in, one
/// [`Outcome`] out.
pub trait Provider {
    /// Which provider the client sends through.
    const KIND: ProviderKind;
    /// The request it sends, as [`request::Renderer`] makes it.
    type Request;
    /// Sends one request and classifies what happened; never fails (see the module essay).
    fn send(&self, request: &Self::Request) -> impl Future<Output = Outcome> + Send;
}

/// The providers a process sends through: those it has a key for.
#[derive(Debug, Clone, Default)]
pub struct ProvidersConfig {
    /// seven's endpoint and API key, if configured.
    pub seven: Option<SevenConfig>,
    /// Bird's endpoint and access key, if configured.
    pub bird: Option<BirdCredentials>,
}

/// For logs: `seven (https://gateway.seven.io/), bird (https://api.bird.com/)`, or `none`. Holds
/// no secret.
impl fmt::Display for ProvidersConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let base_urls = [
            self.seven
                .as_ref()
                .map(|c| (ProviderKind::Seven, &c.base_url)),
            self.bird
                .as_ref()
                .map(|c| (ProviderKind::Bird, &c.base_url)),
        ];
        let mut any = false;
        for (kind, base_url) in base_urls.into_iter().flatten() {
            if any {
                f.write_str(", ")?;
            }
            write!(f, "{kind} ({base_url})")?;
            any = true;
        }
        if !any {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// Why a provider's client cannot be built. Raised at start-up, never per message.
#[derive(Debug, thiserror::Error)]
pub enum ProvidersError {
    /// seven's configuration is unusable.
    #[error("cannot use seven's configuration")]
    Seven(#[source] ClientError),
    /// Bird's configuration is unusable.
    #[error("cannot use Bird's configuration")]
    Bird(#[source] BirdConfigError),
}

/// One client per configured provider, each with its own connection pool: what a worker sends
/// every campaign through. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Providers {
    seven: Option<SevenClient>,
    bird: Option<BirdClients>,
}

impl Providers {
    /// Checks every configured provider's endpoint and key and builds its client. No request
    /// is made.
    pub fn new(config: &ProvidersConfig) -> Result<Providers, ProvidersError> {
        Ok(Providers {
            seven: config
                .seven
                .as_ref()
                .map(SevenClient::new)
                .transpose()
                .map_err(ProvidersError::Seven)?,
            bird: config
                .bird
                .as_ref()
                .map(BirdClients::new)
                .transpose()
                .map_err(ProvidersError::Bird)?,
        })
    }

    /// Sends a request through its provider's client and classifies what happened. A provider
    /// this process has no key for is a `Halt`: every message of the campaign would meet the
    /// same gap, and only an operator can fill it.
    pub async fn send(&self, request: &Rendered) -> Outcome {
        match request {
            Rendered::Seven(message) => via(self.seven.as_ref(), message).await,
            Rendered::Bird(request) => via(self.bird.as_ref(), request).await,
        }
    }
}

async fn via<P: Provider>(client: Option<&P>, request: &P::Request) -> Outcome {
    match client {
        Some(client) => client.send(request).await,
        None => Outcome::Halt {
            reason: not_configured(P::KIND),
        },
    }
}

/// The reason a campaign pauses on a worker without its provider's key: short enough to be
/// stored whole as the campaign's `pause_reason` (the queue keeps 64 bytes of a reason), so
/// that `wacast status` shows the variable to set. The README and `deploy/` give the other
/// ways to set it (a key file, a systemd credential).
fn not_configured(kind: ProviderKind) -> String {
    let (key, variable) = match kind {
        ProviderKind::Seven => ("seven key", "SEVEN_API_KEY"),
        ProviderKind::Bird => ("Bird key", "BIRD_ACCESS_KEY"),
    };
    format!("this worker has no {key}: set {variable}, then resume")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_provider_without_a_key_halts_with_a_reason_stored_whole() {
        let providers = Providers::new(&ProvidersConfig::default()).unwrap();
        for kind in ProviderKind::ALL {
            let request = match kind {
                ProviderKind::Seven => Rendered::Seven(
                    serde_json::from_value(serde_json::json!({
                        "from": "4915112345678", "to": "4917612345678", "text": "Hi"
                    }))
                    .unwrap(),
                ),
                ProviderKind::Bird => Rendered::Bird(request::BirdRequest {
                    target: std::sync::Arc::new(crate::campaign::BirdTarget {
                        workspace_id: "3f7a1c2e-8b4d-4e6f-9a0b-1c2d3e4f5a6b".into(),
                        channel_id: "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b".into(),
                        tags: Vec::new(),
                    }),
                    message: serde_json::from_value(serde_json::json!({
                        "receiver": {"contacts": [{"identifierKey": "phonenumber",
                                                   "identifierValue": "+4917612345678"}]},
                        "body": {"type": "text", "text": {"text": "Hi"}}
                    }))
                    .unwrap(),
                }),
            };
            let Outcome::Halt { reason } = providers.send(&request).await else {
                panic!("{kind}: a provider without a key is a halt");
            };
            let variable = match kind {
                ProviderKind::Seven => "SEVEN_API_KEY",
                ProviderKind::Bird => "BIRD_ACCESS_KEY",
            };
            assert!(reason.contains(variable), "{reason}");
            assert!(reason.len() <= crate::queue::MAX_ERROR_LEN, "{reason}");
        }
    }

    #[test]
    fn the_configured_providers_are_listed_without_their_keys() {
        let key = || SecretString::from("sk-secret".to_string());
        let both = ProvidersConfig {
            seven: Some(SevenConfig::new(key())),
            bird: Some(BirdCredentials::new(key())),
        };
        assert_eq!(
            both.to_string(),
            "seven (https://gateway.seven.io/), bird (https://api.bird.com/)"
        );
        assert!(!format!("{both:?}").contains("sk-secret"));
        assert_eq!(ProvidersConfig::default().to_string(), "none");
    }
}
