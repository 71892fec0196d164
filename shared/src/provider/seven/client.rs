//! [`SevenClient`]: seven's WhatsApp client, one connection pool and the API key as a sensitive
//! header; it sends messages and events and deletes scheduled messages.

use std::fmt;
use std::future::Future;

use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue};

use crate::campaign::ProviderKind;
use crate::provider::client::Provider;
use crate::provider::exchange::{APPLICATION_JSON, Answer, exchange, json_body};
use crate::provider::http::{ClientError, KeyProblem, endpoint, http_client, key_header};
use crate::provider::outcome::{Outcome, Sent};
use crate::provider::seven::config::SevenConfig;
use crate::provider::seven::deletion::Deletion;
use crate::provider::seven::message::{Event, SevenMessage};
use crate::provider::seven::reply;
use crate::provider::validate::Valid;

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
    /// Parsed once: `{base}/api/balance`, what a key probe reads.
    balance_url: Url,
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
            balance_url: join(&["api", "balance"])?,
            api_key,
        })
    }

    /// Sends one message, validated when it was made [`Valid`], and classifies what happened.
    /// Never fails: provider trouble is an [`Outcome`].
    pub async fn send(&self, message: &Valid<SevenMessage>) -> Outcome<Sent> {
        match self.post(&self.messages_url, message).await {
            Ok(answer) => reply::classify_send(&answer),
            Err(trouble) => trouble,
        }
    }

    /// Deletes a message scheduled with `delay` that seven has not sent yet.
    pub async fn delete(&self, provider_id: &str) -> Outcome<Deletion> {
        if provider_id.trim().is_empty() {
            return Outcome::invalid(
                "the message id is empty: give seven's id of the message to delete".into(),
            );
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

    /// Sends a read receipt, typing indicator or reaction, validated when it was made
    /// [`Valid`]; `Done` when seven accepted it.
    pub async fn send_event(&self, event: &Valid<Event>) -> Outcome<()> {
        match self.post(&self.events_url, event).await {
            Ok(answer) => reply::classify_event(&answer),
            Err(trouble) => trouble,
        }
    }

    /// Proves the key by reading the account's balance (`GET /api/balance`), which changes
    /// nothing; classified as a send's answer is ([`reply::classify_probe`]).
    pub async fn probe(&self) -> Outcome<()> {
        let request = self
            .http
            .get(self.balance_url.clone())
            .header(X_API_KEY, self.api_key.clone());
        match exchange(request, MAX_BODY).await {
            Ok(answer) => reply::classify_probe(&answer),
            Err(trouble) => trouble,
        }
    }

    /// Posts a validated JSON body and reads the answer. `Err` when it cannot be written or no
    /// response came.
    async fn post<B: serde::Serialize, T>(
        &self,
        url: &Url,
        body: &Valid<B>,
    ) -> Result<Answer, Outcome<T>> {
        let body = json_body(body)?;
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
    type Request = Valid<SevenMessage>;
    type ProbeTarget = ();

    fn send(&self, message: &Valid<SevenMessage>) -> impl Future<Output = Outcome<Sent>> + Send {
        SevenClient::send(self, message)
    }

    fn probe(&self, _: &()) -> impl Future<Output = Outcome<()>> + Send {
        SevenClient::probe(self)
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
