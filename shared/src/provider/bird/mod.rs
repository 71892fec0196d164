//! The Bird Channels API client for WhatsApp: `POST
//! {base}/workspaces/{workspaceId}/channels/{channelId}/messages` with `Authorization: AccessKey
//! <key>`, each answer classified once (see `reply.rs`) into the same classes as seven's (see
//! the [module essay](crate::provider)).
//!
//! - [`message`]: the typed request body ([`message::BirdMessage`]).
//! - [`validate`]: the checks made before any request.
//! - [`BirdClient`]: one HTTP connection pool, the access key as a sensitive header, the
//!   workspace and channel fixed in its URL.
//!
//! Unlike seven's, Bird's 202 answer has a `status` (`accepted`, or `scheduled` for a message
//! with `scheduledFor`) and no price: [`BirdOutcome::Sent`] carries the status, and
//! `From<BirdOutcome> for Outcome` gives the provider-agnostic class for callers that treat
//! every provider alike.

pub mod message;
mod reply;
pub mod validate;

use std::fmt;
use std::time::{Duration, SystemTime};

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use reqwest::{RequestBuilder, Url};
use secrecy::{ExposeSecret, SecretString};

use crate::provider::bird::message::BirdMessage;
use crate::provider::bird::reply::Answer;
use crate::provider::bird::validate::is_uuid;
use crate::provider::outcome::{
    Outcome, Trouble, error_chain, parse_retry_after, read_body, transport_trouble,
};
use crate::provider::{ClientError, http_client};

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

const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

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
        "Bird workspace id {0:?} is not a UUID: copy it from Bird's workspace settings (BIRD_WORKSPACE_ID)"
    )]
    WorkspaceId(String),
    /// The channel id is not a UUID.
    #[error(
        "Bird channel id {0:?} is not a UUID: copy the WhatsApp channel's id from Bird's channel settings (BIRD_CHANNEL_ID)"
    )]
    ChannelId(String),
    /// The access key is empty.
    #[error("the Bird access key is empty: set it (BIRD_ACCESS_KEY) or point to the key file")]
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

/// What one Bird send came to: [`Outcome`]'s classes, with Bird's status when it accepted.
#[derive(Debug, Clone, PartialEq)]
pub enum BirdOutcome {
    /// Bird created the message.
    Sent {
        /// Bird's message id (a UUID).
        provider_id: String,
        /// `accepted` or `scheduled`.
        status: BirdStatus,
    },
    /// Surely not sent, and worth trying again later.
    Retry {
        /// How long Bird asked us to wait (`Retry-After`), unclamped.
        after: Option<Duration>,
        /// What happened.
        reason: String,
    },
    /// Not sent, and sending the same request again would fail the same way.
    Failed {
        /// Bird's error code (`InvalidPayload`), a failure status, the HTTP status, or
        /// `invalid` for a message refused by validation before any request.
        code: String,
        /// What happened and what to do.
        reason: String,
    },
    /// Not sent, and no message on this channel will be until an operator acts.
    Halt {
        /// What happened and what to do.
        reason: String,
    },
    /// The request may have reached Bird, and no answer says whether it was accepted.
    Unknown {
        /// What happened.
        reason: String,
    },
}

impl From<Trouble> for BirdOutcome {
    fn from(trouble: Trouble) -> Self {
        match trouble {
            Trouble::Retry { after, reason } => BirdOutcome::Retry { after, reason },
            Trouble::Failed { code, reason } => BirdOutcome::Failed { code, reason },
            Trouble::Halt { reason } => BirdOutcome::Halt { reason },
            Trouble::Unknown { reason } => BirdOutcome::Unknown { reason },
        }
    }
}

impl From<BirdOutcome> for Outcome {
    /// The provider-agnostic class. Bird states no price, and the status has no place in
    /// `Outcome` (yet): read it from the `BirdOutcome` before converting if it is wanted.
    fn from(outcome: BirdOutcome) -> Self {
        match outcome {
            BirdOutcome::Sent { provider_id, .. } => Outcome::Sent {
                provider_id,
                price: None,
            },
            BirdOutcome::Retry { after, reason } => Outcome::Retry { after, reason },
            BirdOutcome::Failed { code, reason } => Outcome::Failed { code, reason },
            BirdOutcome::Halt { reason } => Outcome::Halt { reason },
            BirdOutcome::Unknown { reason } => Outcome::Unknown { reason },
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
        if !is_uuid(&config.workspace_id) {
            return Err(BirdConfigError::WorkspaceId(config.workspace_id.clone()));
        }
        if !is_uuid(&config.channel_id) {
            return Err(BirdConfigError::ChannelId(config.channel_id.clone()));
        }
        let mut messages_url = config.base_url.clone();
        if !matches!(messages_url.scheme(), "http" | "https") || messages_url.cannot_be_a_base() {
            return Err(BirdConfigError::BaseUrl(config.base_url.to_string()));
        }
        messages_url
            .path_segments_mut()
            .map_err(|()| BirdConfigError::BaseUrl(config.base_url.to_string()))?
            // Keeps a base path prefix, without a doubled `/` after a trailing one.
            .pop_if_empty()
            .extend([
                "workspaces",
                config.workspace_id.as_str(),
                "channels",
                config.channel_id.as_str(),
                "messages",
            ]);
        let key = config.access_key.expose_secret();
        if key.is_empty() {
            return Err(BirdConfigError::EmptyAccessKey);
        }
        if key.contains(char::is_whitespace) {
            return Err(BirdConfigError::AccessKeyChars);
        }
        let mut authorization = HeaderValue::from_str(&format!("AccessKey {key}"))
            .map_err(|_| BirdConfigError::AccessKeyChars)?;
        authorization.set_sensitive(true);
        Ok(BirdClient {
            http: http_client(config.timeout, config.connect_timeout)?,
            messages_url,
            authorization,
        })
    }

    /// Validates and sends one message, and classifies what happened. Never fails: provider
    /// trouble is a [`BirdOutcome`], and a message refused by [`BirdMessage::validate`] is
    /// `BirdOutcome::Failed { code: "invalid", .. }` without any request, because for the
    /// caller it is the same thing: a message that will not go out as it stands.
    pub async fn send(&self, message: &BirdMessage) -> BirdOutcome {
        if let Err(error) = message.validate() {
            return BirdOutcome::Failed {
                code: "invalid".into(),
                reason: error.to_string(),
            };
        }
        let body = match serde_json::to_vec(message) {
            Ok(body) => body,
            Err(error) => {
                return BirdOutcome::Failed {
                    code: "invalid".into(),
                    reason: format!("the message cannot be written as JSON: {error}"),
                };
            }
        };
        let request = self.http.post(self.messages_url.clone()).body(body);
        match self.exchange(request).await {
            Ok(answer) => reply::classify_send(&answer),
            Err(trouble) => trouble.into(),
        }
    }

    /// The URL messages are posted to, for logs (it holds no secret).
    pub fn messages_url(&self) -> &Url {
        &self.messages_url
    }

    /// Sends one request and reads its answer. `Err` only when no response came.
    async fn exchange(&self, request: RequestBuilder) -> Result<Answer, Trouble> {
        let response = request
            .header(AUTHORIZATION, self.authorization.clone())
            .header(ACCEPT, APPLICATION_JSON)
            .header(CONTENT_TYPE, APPLICATION_JSON)
            .send()
            .await
            .map_err(|e| transport_trouble(&e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let body = read_body(response, MAX_BODY)
            .await
            .map_err(|e| error_chain(&e));
        Ok(Answer {
            status,
            retry_after,
            body,
        })
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
