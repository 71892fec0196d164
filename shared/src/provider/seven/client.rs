//! [`SevenClient`]: seven's WhatsApp client, one connection pool and the API key as a sensitive
//! header; it sends messages and events and deletes scheduled messages.

use std::fmt;
use std::future::Future;

use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue};

use crate::campaign::ProviderKind;
use crate::provider::client::Provider;
use crate::provider::exchange::{APPLICATION_JSON, Answer, exchange, request_body};
use crate::provider::http::{ClientError, KeyProblem, endpoint, http_client, key_header};
use crate::provider::outcome::{Outcome, Sent};
use crate::provider::seven::config::SevenConfig;
use crate::provider::seven::deletion::Deletion;
use crate::provider::seven::message::{Event, SevenMessage};
use crate::provider::seven::reply;
use crate::provider::validate::ValidationError;

/// seven's answers are a few hundred bytes; anything past this is not one.
const MAX_BODY: usize = 64 * 1024;

const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

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
