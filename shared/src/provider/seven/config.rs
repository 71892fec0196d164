//! How to reach seven: [`SevenConfig`] and its defaults.

use std::fmt;
use std::time::Duration;

use reqwest::Url;
use secrecy::SecretString;

/// seven's API host.
pub const DEFAULT_BASE_URL: &str = "https://gateway.seven.io";

/// The default total time for one request. seven answers in well under a second; 15 s leaves
/// room for a slow moment without holding a send slot for long, and every timeout after the
/// request was written is an `unknown` an operator must look at.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// The default time to establish a connection (DNS, TCP, TLS). Failing here is safe to retry,
/// so it can be short.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How to reach seven.
#[derive(Clone)]
pub struct SevenConfig {
    /// The API's base URL; a path prefix is kept (`http://127.0.0.1:8080/seven`).
    pub base_url: Url,
    /// The API key, sent as `X-Api-Key`. Never printed.
    pub api_key: SecretString,
    /// Total time for one request, from connecting to the last byte of the answer.
    pub timeout: Duration,
    /// Time to connect; must be shorter than `timeout`.
    pub connect_timeout: Duration,
}

impl SevenConfig {
    /// seven's production endpoint with the default timeouts.
    pub fn new(api_key: SecretString) -> Self {
        SevenConfig {
            base_url: Url::parse(DEFAULT_BASE_URL).expect("the default base URL is a valid URL"),
            api_key,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

impl fmt::Debug for SevenConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SevenConfig")
            .field("base_url", &self.base_url.as_str())
            .field("api_key", &"[redacted]")
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}
