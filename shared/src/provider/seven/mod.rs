//! The seven.io WhatsApp client: `POST /api/waba/messages`, `DELETE /api/waba/messages/{id}`
//! and `POST /api/waba/events`, each answer classified once (see `reply.rs`).
//!
//! - [`message`]: the typed request bodies ([`message::SevenMessage`], [`message::Event`]).
//! - [`validate`]: the checks made before any request.
//! - [`SevenClient`]: one HTTP connection pool, the API key as a sensitive header.

pub mod message;
mod reply;
pub mod validate;

use std::fmt;
use std::future::Future;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use secrecy::SecretString;

use crate::campaign::ProviderKind;
use crate::provider::client::Provider;
use crate::provider::http::{ClientError, KeyProblem, endpoint, http_client, key_header};
use crate::provider::outcome::{APPLICATION_JSON, Answer, Outcome, Sent, exchange, request_body};
use crate::provider::seven::message::{Event, SevenMessage};
use crate::provider::validate::ValidationError;

/// seven's API host.
pub const DEFAULT_BASE_URL: &str = "https://gateway.seven.io";

/// The default total time for one request. seven answers in well under a second; 15 s leaves
/// room for a slow moment without holding a send slot for long, and every timeout after the
/// request was written is an `unknown` an operator must look at.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// The default time to establish a connection (DNS, TCP, TLS). Failing here is safe to retry,
/// so it can be short.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// seven's answers are a few hundred bytes; anything past this is not one.
const MAX_BODY: usize = 64 * 1024;

const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

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

/// What seven did with a message it was asked to delete: the `Done` of a delete's
/// [`Outcome`]. Whatever else can happen to a delete (retry later, refused, an access problem,
/// no answer) is one of `Outcome`'s other classes; deleting again is always safe.
#[derive(Debug, Clone, PartialEq)]
pub enum Deletion {
    /// The scheduled message was deleted and will not be sent.
    Deleted,
    /// Too late: seven already sent it, and WhatsApp cannot revoke a message.
    AlreadySent {
        /// seven's words.
        reason: String,
    },
    /// seven has no such message for this account.
    NotFound,
}

/// seven's WhatsApp client. Cheap to clone (one shared connection pool); build it once per
/// process and share it, so that connections are reused.
#[derive(Clone)]
pub struct SevenClient {
    http: reqwest::Client,
    /// Parsed once: `{base}/api/waba/messages`.
    messages_url: Url,
    /// Parsed once: `{base}/api/waba/events`.
    events_url: Url,
    /// Marked sensitive, so that even hyper's debug output hides it.
    api_key: HeaderValue,
}

impl SevenClient {
    /// A client for `config`, with its own connection pool from [`http_client`].
    pub fn new(config: &SevenConfig) -> Result<Self, ClientError> {
        let join = |path: &[&str]| {
            endpoint(&config.base_url, path)
                .ok_or_else(|| ClientError::BaseUrl(config.base_url.to_string()))
        };
        let api_key = key_header("", &config.api_key).map_err(|problem| match problem {
            KeyProblem::Empty => ClientError::EmptyApiKey,
            KeyProblem::Chars => ClientError::ApiKeyChars,
        })?;
        Ok(SevenClient {
            http: http_client(config.timeout, config.connect_timeout)?,
            messages_url: join(&["api", "waba", "messages"])?,
            events_url: join(&["api", "waba", "events"])?,
            api_key,
        })
    }

    /// Validates and sends one message, and classifies what happened. Never fails: provider
    /// trouble is an [`Outcome`], and a message refused by [`SevenMessage::validate`] is
    /// `Outcome::Failed { code: "invalid", .. }` without any request, because for the caller it
    /// is the same thing: a message that will not go out as it stands.
    pub async fn send(&self, message: &SevenMessage) -> Outcome<Sent> {
        match self
            .post(&self.messages_url, message.validate(), message)
            .await
        {
            Ok(answer) => reply::classify_send(&answer),
            Err(trouble) => trouble,
        }
    }

    /// Deletes a message scheduled with `delay` that seven has not sent yet.
    pub async fn delete(&self, provider_id: &str) -> Outcome<Deletion> {
        if provider_id.trim().is_empty() {
            return Outcome::Failed {
                code: "invalid".into(),
                reason: "the message id is empty: give seven's id of the message to delete".into(),
            };
        }
        let mut url = self.messages_url.clone();
        // Percent-encodes the id, so that it stays one path segment.
        url.path_segments_mut()
            .expect("an http(s) URL, checked in new, can be a base")
            .push(provider_id);
        let request = self
            .http
            .delete(url)
            .header(X_API_KEY, self.api_key.clone());
        match exchange(request, MAX_BODY).await {
            Ok(answer) => reply::classify_delete(&answer),
            Err(trouble) => trouble,
        }
    }

    /// Validates and sends a read receipt, typing indicator or reaction; `Done` when seven
    /// accepted it.
    pub async fn send_event(&self, event: &Event) -> Outcome<()> {
        match self.post(&self.events_url, event.validate(), event).await {
            Ok(answer) => reply::classify_event(&answer),
            Err(trouble) => trouble,
        }
    }

    /// Posts a validated JSON body and reads the answer. `Err` when validation refused it or no
    /// response came.
    async fn post<B: serde::Serialize, T>(
        &self,
        url: &Url,
        validation: Result<(), ValidationError>,
        body: &B,
    ) -> Result<Answer, Outcome<T>> {
        let body = request_body(validation, body)?;
        let request = self
            .http
            .post(url.clone())
            .header(X_API_KEY, self.api_key.clone())
            .header(CONTENT_TYPE, APPLICATION_JSON)
            .body(body);
        exchange(request, MAX_BODY).await
    }
}

impl Provider for SevenClient {
    const KIND: ProviderKind = ProviderKind::Seven;
    type Request = SevenMessage;

    fn send(&self, message: &SevenMessage) -> impl Future<Output = Outcome<Sent>> + Send {
        SevenClient::send(self, message)
    }
}

impl fmt::Debug for SevenClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SevenClient")
            .field("messages_url", &self.messages_url.as_str())
            .field("events_url", &self.events_url.as_str())
            .field("api_key", &"[redacted]")
            .finish_non_exhaustive()
    }
}
