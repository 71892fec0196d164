//! The HTTP plumbing every provider client is built from: [`http_client`] (the one way to build
//! a client's connection pool), the API key as a sensitive header, endpoint URLs, and
//! [`ClientError`], why a client cannot be built.

use std::time::Duration;

use reqwest::Url;
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

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
/// (see [`crate::provider::exchange`]'s `transport_trouble`). Redirects are not followed (a POST
/// redirected is a misconfiguration, classified `Halt`), and reqwest's own retries are off:
/// resending is the queue's decision alone.
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
