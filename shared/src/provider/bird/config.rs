//! How to reach Bird: [`BirdConfig`] (one workspace and channel) and [`BirdCredentials`] (a
//! worker's, for every channel), their defaults, and [`BirdConfigError`].

use std::fmt;
use std::time::Duration;

use reqwest::Url;
use secrecy::SecretString;

use crate::provider::http::ClientError;

/// Bird's API host.
pub const DEFAULT_BASE_URL: &str = "https://api.bird.com";

/// The default total time for one request. As for seven: room for a slow moment without holding
/// a send slot for long, since every timeout after the request was written is an `unknown` an
/// operator must look at.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// The default time to establish a connection (DNS, TCP, TLS). Failing here is safe to retry,
/// so it can be short.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How to reach Bird: the API, the workspace and WhatsApp channel to send on, the access key.
#[derive(Clone)]
pub struct BirdConfig {
    /// The API's base URL; a path prefix is kept (`http://127.0.0.1:8080/bird`).
    pub base_url: Url,
    /// The workspace's id, a UUID.
    pub workspace_id: String,
    /// The WhatsApp channel's id, a UUID: the channel is the sender.
    pub channel_id: String,
    /// The access key, sent as `Authorization: AccessKey <key>`. Never printed.
    pub access_key: SecretString,
    /// Total time for one request, from connecting to the last byte of the answer.
    pub timeout: Duration,
    /// Time to connect; must be shorter than `timeout`.
    pub connect_timeout: Duration,
}

impl BirdConfig {
    /// Bird's production endpoint with the default timeouts.
    pub fn new(workspace_id: &str, channel_id: &str, access_key: SecretString) -> Self {
        BirdConfig {
            base_url: Url::parse(DEFAULT_BASE_URL).expect("the default base URL is a valid URL"),
            workspace_id: workspace_id.to_string(),
            channel_id: channel_id.to_string(),
            access_key,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

impl fmt::Debug for BirdConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BirdConfig")
            .field("base_url", &self.base_url.as_str())
            .field("workspace_id", &self.workspace_id)
            .field("channel_id", &self.channel_id)
            .field("access_key", &"[redacted]")
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// Why a Bird client cannot be built. Raised at start-up, never per message.
#[derive(Debug, thiserror::Error)]
pub enum BirdConfigError {
    /// The base URL is not an http(s) URL.
    #[error("Bird's base URL {0:?} is not an http(s) URL: give one such as https://api.bird.com")]
    BaseUrl(String),
    /// The workspace id is not a UUID.
    #[error(
        "Bird workspace id {0:?} is not a UUID: copy it from Bird's workspace settings (--workspace)"
    )]
    WorkspaceId(String),
    /// The channel id is not a UUID.
    #[error(
        "Bird channel id {0:?} is not a UUID: copy the WhatsApp channel's id from Bird's channel settings (--channel)"
    )]
    ChannelId(String),
    /// The access key is empty.
    #[error(
        "the Bird access key is empty: set it (BIRD_ACCESS_KEY) or point to the key file (--bird-access-key-file)"
    )]
    EmptyAccessKey,
    /// The access key cannot be sent in a header.
    #[error(
        "the Bird access key contains blanks or control characters (a trailing newline from a key file?): remove them"
    )]
    AccessKeyChars,
    /// The timeouts or the HTTP client.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// How a worker reaches Bird: the API and the access key. Workspaces and channels come with
/// each campaign.
#[derive(Clone)]
pub struct BirdCredentials {
    /// The API's base URL; a path prefix is kept (`http://127.0.0.1:8080/bird`).
    pub base_url: Url,
    /// The access key, sent as `Authorization: AccessKey <key>`. Never printed.
    pub access_key: SecretString,
    /// Total time for one request, from connecting to the last byte of the answer.
    pub timeout: Duration,
    /// Time to connect; must be shorter than `timeout`.
    pub connect_timeout: Duration,
}

impl BirdCredentials {
    /// Bird's production endpoint with the default timeouts.
    pub fn new(access_key: SecretString) -> Self {
        BirdCredentials {
            base_url: Url::parse(DEFAULT_BASE_URL).expect("the default base URL is a valid URL"),
            access_key,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

impl fmt::Debug for BirdCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BirdCredentials")
            .field("base_url", &self.base_url.as_str())
            .field("access_key", &"[redacted]")
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}
