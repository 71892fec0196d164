//! What differs per provider on the callbacks endpoint: the URL the provider signs, its
//! signature headers and check, and its parser. The endpoint itself treats both alike.

use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use wacast_shared::campaign::ProviderKind;
use wacast_shared::delivery::Callback;
use wacast_shared::provider::callback::CallbackError;
use wacast_shared::provider::signature::SignatureError;
use wacast_shared::provider::{bird, seven};

/// Why a request's signature was not accepted.
#[derive(Debug)]
pub(super) enum Unverified {
    /// This worker has no signing key for the provider, and unsigned requests are not allowed.
    NoKey,
    /// The signature is missing, stale or wrong.
    Signature(SignatureError),
}

/// One provider's endpoint: `/hooks/{provider}`.
pub(super) struct Endpoint {
    pub(super) provider: ProviderKind,
    key: Option<SecretString>,
    /// The URL the provider calls, as it signs it.
    url: String,
    allow_unsigned: bool,
}

impl Endpoint {
    /// The endpoint of `provider` behind `public_url` (no trailing slash).
    pub(super) fn new(
        provider: ProviderKind,
        key: Option<SecretString>,
        public_url: &str,
        allow_unsigned: bool,
    ) -> Endpoint {
        Endpoint {
            provider,
            key,
            url: format!("{public_url}{}", path(provider)),
            allow_unsigned,
        }
    }

    /// Whether requests must be signed (a key is configured).
    pub(super) fn is_signed(&self) -> bool {
        self.key.is_some()
    }

    /// Checks the request's signature. Returns the nonce the caller must take once (seven
    /// signs one; Bird does not), or `None`.
    pub(super) fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<String>, Unverified> {
        let Some(key) = &self.key else {
            return if self.allow_unsigned {
                Ok(None)
            } else {
                Err(Unverified::NoKey)
            };
        };
        let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
        match self.provider {
            ProviderKind::Seven => {
                let signed = seven::signature::Headers {
                    signature: header(seven::signature::SIGNATURE_HEADER),
                    timestamp: header(seven::signature::TIMESTAMP_HEADER),
                    nonce: header(seven::signature::NONCE_HEADER),
                };
                seven::signature::verify(key, &signed, &self.url, body, now)
                    .map(|nonce| Some(nonce.to_string()))
            }
            ProviderKind::Bird => {
                let signed = bird::signature::Headers {
                    signature: header(bird::signature::SIGNATURE_HEADER),
                    timestamp: header(bird::signature::TIMESTAMP_HEADER),
                };
                bird::signature::verify(key, &signed, &self.url, body, now).map(|()| None)
            }
        }
        .map_err(Unverified::Signature)
    }

    /// Reads the body into callbacks.
    pub(super) fn parse(
        &self,
        body: &[u8],
        received_at: DateTime<Utc>,
    ) -> Result<Vec<Callback>, CallbackError> {
        match self.provider {
            ProviderKind::Seven => seven::callback::parse(body, received_at),
            ProviderKind::Bird => bird::callback::parse(body, received_at),
        }
    }
}

/// The route of a provider's callbacks.
pub(super) fn path(provider: ProviderKind) -> &'static str {
    match provider {
        ProviderKind::Seven => "/hooks/seven",
        ProviderKind::Bird => "/hooks/bird",
    }
}
