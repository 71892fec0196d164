//! Bird's clients: [`BirdClient`] for one workspace and channel, and [`BirdClients`], a worker's
//! one access key and connection pool with a `BirdClient` per channel, made on first use.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use reqwest::Url;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use secrecy::SecretString;

use crate::campaign::{BirdTarget, ProviderKind};
use crate::provider::bird::config::{BirdConfig, BirdConfigError, BirdCredentials};
use crate::provider::bird::message::BirdMessage;
use crate::provider::bird::reply;
use crate::provider::bird::request::BirdRequest;
use crate::provider::bird::sent::BirdSent;
use crate::provider::bird::validate::is_uuid;
use crate::provider::client::Provider;
use crate::provider::exchange::{APPLICATION_JSON, exchange, json_body};
use crate::provider::http::{KeyProblem, endpoint, http_client, key_header};
use crate::provider::outcome::{HaltScope, Outcome, Sent};
use crate::provider::validate::Valid;

/// Bird answers with the created message, a few kilobytes at most (it echoes the body); anything
/// past this is not one of its answers.
const MAX_BODY: usize = 256 * 1024;

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

    /// Sends one message, validated when it was made [`Valid`], and classifies what happened.
    /// Never fails: provider trouble is an [`Outcome`].
    pub async fn send(&self, message: &Valid<BirdMessage>) -> Outcome<BirdSent> {
        let body = match json_body(message) {
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
    channel_endpoint(base, workspace_id, channel_id, Some("messages"))
}

/// `{base}/workspaces/{workspaceId}/channels/{channelId}`, the ids checked.
fn channel_url(base: &Url, workspace_id: &str, channel_id: &str) -> Result<Url, BirdConfigError> {
    channel_endpoint(base, workspace_id, channel_id, None)
}

fn channel_endpoint(
    base: &Url,
    workspace_id: &str,
    channel_id: &str,
    below: Option<&str>,
) -> Result<Url, BirdConfigError> {
    if !is_uuid(workspace_id) {
        return Err(BirdConfigError::WorkspaceId(workspace_id.to_string()));
    }
    if !is_uuid(channel_id) {
        return Err(BirdConfigError::ChannelId(channel_id.to_string()));
    }
    let path = ["workspaces", workspace_id, "channels", channel_id];
    let path: Vec<&str> = path.into_iter().chain(below).collect();
    endpoint(base, &path).ok_or_else(|| BirdConfigError::BaseUrl(base.to_string()))
}

/// `AccessKey <key>`, marked sensitive.
fn authorization(access_key: &SecretString) -> Result<HeaderValue, BirdConfigError> {
    key_header("AccessKey ", access_key).map_err(|problem| match problem {
        KeyProblem::Empty => BirdConfigError::EmptyAccessKey,
        KeyProblem::Chars => BirdConfigError::AccessKeyChars,
    })
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

    /// Sends one message on a workspace's channel, and classifies what happened
    /// (see [`BirdClient::send`]). Ids that are not UUIDs are a `Halt`: every message of the
    /// campaign would fail alike, and only an operator can fix its spec.
    pub async fn send(
        &self,
        workspace_id: &str,
        channel_id: &str,
        message: &Valid<BirdMessage>,
    ) -> Outcome<BirdSent> {
        match self.client(workspace_id, channel_id) {
            Ok(client) => client.send(message).await,
            // The ids are the campaign's.
            Err(error) => Outcome::Halt {
                scope: HaltScope::Campaign,
                reason: error.to_string(),
            },
        }
    }

    /// The base URL, for logs (it holds no secret).
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// Proves the access key by reading a workspace's channel (`GET
    /// /workspaces/{workspaceId}/channels/{channelId}`), which changes nothing; classified as a
    /// send's answer is ([`reply::classify_probe`]).
    pub async fn probe(&self, target: &BirdTarget) -> Outcome<()> {
        let url = match channel_url(&self.base_url, &target.workspace_id, &target.channel_id) {
            Ok(url) => url,
            Err(error) => return Outcome::invalid(error.to_string()),
        };
        let request = self
            .http
            .get(url)
            .header(AUTHORIZATION, self.authorization.clone());
        match exchange(request, MAX_BODY).await {
            Ok(answer) => reply::classify_probe(&answer),
            Err(trouble) => trouble,
        }
    }
}

impl Provider for BirdClients {
    const KIND: ProviderKind = ProviderKind::Bird;
    type Request = BirdRequest;
    type ProbeTarget = BirdTarget;

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

    async fn probe(&self, target: &BirdTarget) -> Outcome<()> {
        BirdClients::probe(self, target).await
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
