//! The Bird Channels API client for WhatsApp: `POST
//! {base}/workspaces/{workspaceId}/channels/{channelId}/messages` with `Authorization: AccessKey
//! <key>`, each answer classified once (see `reply.rs`) into the same classes as seven's (see
//! the [module essay](crate::provider)).
//!
//! - [`message`]: the typed request body ([`message::BirdMessage`]).
//! - [`validate`]: the checks made before any request.
//! - [`BirdClient`]: one HTTP connection pool, the access key as a sensitive header, the
//!   workspace and channel fixed in its URL.
//! - [`BirdClients`]: what a worker keeps: one access key and one connection pool for Bird's
//!   host, and a [`BirdClient`] per workspace and channel, made on first use, since each
//!   campaign names its own channel.
//!
//! Unlike seven's, Bird's 202 answer has a `status` (`accepted`, or `scheduled` for a message
//! with `scheduledFor`) and no price: a Bird send is `Done` with a [`BirdSent`], which carries
//! the status, and `From<BirdSent> for Sent` gives the provider-agnostic part for callers that
//! treat every provider alike.

pub mod message;
mod reply;
pub mod validate;

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use secrecy::SecretString;

use crate::campaign::ProviderKind;
use crate::provider::bird::message::BirdMessage;
use crate::provider::bird::validate::is_uuid;
use crate::provider::client::Provider;
use crate::provider::http::{ClientError, KeyProblem, endpoint, http_client, key_header};
use crate::provider::outcome::{APPLICATION_JSON, Outcome, Sent, exchange, request_body};
use crate::provider::request::BirdRequest;

/// Bird's API host.
pub const DEFAULT_BASE_URL: &str = "https://api.bird.com";

/// The default total time for one request. As for seven: room for a slow moment without holding
/// a send slot for long, since every timeout after the request was written is an `unknown` an
/// operator must look at.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// The default time to establish a connection (DNS, TCP, TLS). Failing here is safe to retry,
/// so it can be short.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Bird answers with the created message, a few kilobytes at most (it echoes the body); anything
/// past this is not one of its answers.
const MAX_BODY: usize = 256 * 1024;

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

/// Bird's status of a message it accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BirdStatus {
    /// `accepted`: Bird will send it now.
    Accepted,
    /// `scheduled`: Bird holds it until `scheduledFor`.
    Scheduled,
    /// Another status Bird reported for a message it created (`processing`, `sent`, …).
    Other(String),
}

impl BirdStatus {
    /// Reads Bird's word.
    pub fn from_wire(status: &str) -> Self {
        match status {
            "accepted" => BirdStatus::Accepted,
            "scheduled" => BirdStatus::Scheduled,
            other => BirdStatus::Other(other.to_string()),
        }
    }

    /// Bird's word for it.
    pub fn as_str(&self) -> &str {
        match self {
            BirdStatus::Accepted => "accepted",
            BirdStatus::Scheduled => "scheduled",
            BirdStatus::Other(other) => other,
        }
    }
}

/// What Bird said of a message it accepted: the `Done` of a Bird send's [`Outcome`].
#[derive(Debug, Clone, PartialEq)]
pub struct BirdSent {
    /// Bird's message id (a UUID).
    pub provider_id: String,
    /// `accepted` or `scheduled`.
    pub status: BirdStatus,
}

/// The provider-agnostic part, what the worker records: Bird states no price, and the status
/// has no place in [`Sent`] (yet): read it from the `BirdSent` before converting if it is
/// wanted.
impl From<BirdSent> for Sent {
    fn from(sent: BirdSent) -> Self {
        Sent {
            provider_id: sent.provider_id,
            price: None,
        }
    }
}

/// Bird's WhatsApp client for one workspace and channel. Cheap to clone (one shared connection
/// pool); build it once per process and channel and share it, so that connections are reused.
#[derive(Clone)]
pub struct BirdClient {
    http: reqwest::Client,
    /// Built once: `{base}/workspaces/{workspaceId}/channels/{channelId}/messages`.
    messages_url: Url,
    /// `AccessKey <key>`, marked sensitive, so that even hyper's debug output hides it.
    authorization: HeaderValue,
}

impl BirdClient {
    /// A client for `config`, with its own connection pool from [`http_client`].
    pub fn new(config: &BirdConfig) -> Result<Self, BirdConfigError> {
        let messages_url =
            messages_url(&config.base_url, &config.workspace_id, &config.channel_id)?;
        Ok(BirdClient {
            authorization: authorization(&config.access_key)?,
            http: http_client(config.timeout, config.connect_timeout)?,
            messages_url,
        })
    }

    /// Validates and sends one message, and classifies what happened. Never fails: provider
    /// trouble is an [`Outcome`], and a message refused by [`BirdMessage::validate`] is
    /// `Outcome::Failed { code: "invalid", .. }` without any request, because for the
    /// caller it is the same thing: a message that will not go out as it stands.
    pub async fn send(&self, message: &BirdMessage) -> Outcome<BirdSent> {
        let body = match request_body(message.validate(), message) {
            Ok(body) => body,
            Err(trouble) => return trouble,
        };
        let request = self
            .http
            .post(self.messages_url.clone())
            .header(AUTHORIZATION, self.authorization.clone())
            .header(CONTENT_TYPE, APPLICATION_JSON)
            .body(body);
        match exchange(request, MAX_BODY).await {
            Ok(answer) => reply::classify_send(&answer),
            Err(trouble) => trouble,
        }
    }

    /// The URL messages are posted to, for logs (it holds no secret).
    pub fn messages_url(&self) -> &Url {
        &self.messages_url
    }
}

/// `{base}/workspaces/{workspaceId}/channels/{channelId}/messages`, the ids checked.
fn messages_url(base: &Url, workspace_id: &str, channel_id: &str) -> Result<Url, BirdConfigError> {
    if !is_uuid(workspace_id) {
        return Err(BirdConfigError::WorkspaceId(workspace_id.to_string()));
    }
    if !is_uuid(channel_id) {
        return Err(BirdConfigError::ChannelId(channel_id.to_string()));
    }
    endpoint(
        base,
        &[
            "workspaces",
            workspace_id,
            "channels",
            channel_id,
            "messages",
        ],
    )
    .ok_or_else(|| BirdConfigError::BaseUrl(base.to_string()))
}

/// `AccessKey <key>`, marked sensitive.
fn authorization(access_key: &SecretString) -> Result<HeaderValue, BirdConfigError> {
    key_header("AccessKey ", access_key).map_err(|problem| match problem {
        KeyProblem::Empty => BirdConfigError::EmptyAccessKey,
        KeyProblem::Chars => BirdConfigError::AccessKeyChars,
    })
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

/// Bird's clients of one worker: one access key and one connection pool (every channel is on
/// the same host, so they share connections), and a [`BirdClient`] per workspace and channel,
/// made on first use. Cheap to share behind an `Arc`.
pub struct BirdClients {
    http: reqwest::Client,
    base_url: Url,
    authorization: HeaderValue,
    /// The clients made so far, by workspace and channel id. A worker sends for a handful of
    /// channels, so the map stays small; a lookup is one uncontended lock.
    channels: Mutex<HashMap<(String, String), BirdClient>>,
}

impl BirdClients {
    /// Checks the credentials and builds the connection pool. No request is made.
    pub fn new(credentials: &BirdCredentials) -> Result<Self, BirdConfigError> {
        Ok(BirdClients {
            base_url: endpoint(&credentials.base_url, &[])
                .ok_or_else(|| BirdConfigError::BaseUrl(credentials.base_url.to_string()))?,
            authorization: authorization(&credentials.access_key)?,
            http: http_client(credentials.timeout, credentials.connect_timeout)?,
            channels: Mutex::new(HashMap::new()),
        })
    }

    /// The client for one workspace and channel, made on first use. Fails only for ids that
    /// are not UUIDs.
    pub fn client(
        &self,
        workspace_id: &str,
        channel_id: &str,
    ) -> Result<BirdClient, BirdConfigError> {
        // Lookups and inserts only: a poisoned map is still consistent.
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = channels.get(&(workspace_id.to_string(), channel_id.to_string())) {
            return Ok(client.clone());
        }
        let client = BirdClient {
            http: self.http.clone(),
            messages_url: messages_url(&self.base_url, workspace_id, channel_id)?,
            authorization: self.authorization.clone(),
        };
        channels.insert(
            (workspace_id.to_string(), channel_id.to_string()),
            client.clone(),
        );
        Ok(client)
    }

    /// Validates and sends one message on a workspace's channel, and classifies what happened
    /// (see [`BirdClient::send`]). Ids that are not UUIDs are a `Halt`: every message of the
    /// campaign would fail alike, and only an operator can fix its spec.
    pub async fn send(
        &self,
        workspace_id: &str,
        channel_id: &str,
        message: &BirdMessage,
    ) -> Outcome<BirdSent> {
        match self.client(workspace_id, channel_id) {
            Ok(client) => client.send(message).await,
            Err(error) => Outcome::Halt {
                reason: error.to_string(),
            },
        }
    }

    /// The base URL, for logs (it holds no secret).
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }
}

impl Provider for BirdClients {
    const KIND: ProviderKind = ProviderKind::Bird;
    type Request = BirdRequest;

    async fn send(&self, request: &BirdRequest) -> Outcome<Sent> {
        let target = &request.target;
        BirdClients::send(
            self,
            &target.workspace_id,
            &target.channel_id,
            &request.message,
        )
        .await
        .map(Sent::from)
    }
}

impl fmt::Debug for BirdClients {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BirdClients")
            .field("base_url", &self.base_url.as_str())
            .field("access_key", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for BirdClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BirdClient")
            .field("messages_url", &self.messages_url.as_str())
            .field("access_key", &"[redacted]")
            .finish_non_exhaustive()
    }
}
