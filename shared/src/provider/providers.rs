//! [`Providers`]: one client per configured provider, and the [`ProvidersConfig`] it is built
//! from; what a worker sends every campaign through without knowing its provider.

use std::fmt;

use crate::campaign::{BirdTarget, ProviderKind};
use crate::provider::bird::client::BirdClients;
use crate::provider::bird::config::{BirdConfigError, BirdCredentials};
use crate::provider::client::Provider;
use crate::provider::http::ClientError;
use crate::provider::outcome::{HaltScope, Outcome, Sent, WorkerFault};
use crate::provider::probe::KeyProbe;
use crate::provider::request::Rendered;
use crate::provider::seven::client::SevenClient;
use crate::provider::seven::config::SevenConfig;

/// The providers a process sends through: those it has a key for.
#[derive(Debug, Clone, Default)]
pub struct ProvidersConfig {
    /// seven's endpoint and API key, if configured.
    pub seven: Option<SevenConfig>,
    /// Bird's endpoint and access key, if configured.
    pub bird: Option<BirdCredentials>,
}

/// For logs: `seven (https://gateway.seven.io/), bird (https://api.bird.com/)`, or `none`. Holds
/// no secret.
impl fmt::Display for ProvidersConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let base_urls = [
            self.seven
                .as_ref()
                .map(|c| (ProviderKind::Seven, &c.base_url)),
            self.bird
                .as_ref()
                .map(|c| (ProviderKind::Bird, &c.base_url)),
        ];
        let mut any = false;
        for (kind, base_url) in base_urls.into_iter().flatten() {
            if any {
                f.write_str(", ")?;
            }
            write!(f, "{kind} ({base_url})")?;
            any = true;
        }
        if !any {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// Why a provider's client cannot be built. Raised at start-up, never per message.
#[derive(Debug, thiserror::Error)]
pub enum ProvidersError {
    /// seven's configuration is unusable.
    #[error("cannot use seven's configuration")]
    Seven(#[source] ClientError),
    /// Bird's configuration is unusable.
    #[error("cannot use Bird's configuration")]
    Bird(#[source] BirdConfigError),
}

/// One client per configured provider, each with its own connection pool: what a worker sends
/// every campaign through. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Providers {
    seven: Option<SevenClient>,
    bird: Option<BirdClients>,
}

impl Providers {
    /// Checks every configured provider's endpoint and key and builds its client. No request
    /// is made.
    pub fn new(config: &ProvidersConfig) -> Result<Providers, ProvidersError> {
        Ok(Providers {
            seven: config
                .seven
                .as_ref()
                .map(SevenClient::new)
                .transpose()
                .map_err(ProvidersError::Seven)?,
            bird: config
                .bird
                .as_ref()
                .map(BirdClients::new)
                .transpose()
                .map_err(ProvidersError::Bird)?,
        })
    }

    /// Whether this process has a key (and so a client) for `kind`.
    pub fn has(&self, kind: ProviderKind) -> bool {
        match kind {
            ProviderKind::Seven => self.seven.is_some(),
            ProviderKind::Bird => self.bird.is_some(),
        }
    }

    /// Proves `kind`'s key with a harmless read (seven's balance; Bird's channel `bird`, which
    /// only a Bird probe needs): `None` when this process has no key for it, or no channel
    /// was given for Bird's.
    pub async fn probe(&self, kind: ProviderKind, bird: Option<&BirdTarget>) -> Option<KeyProbe> {
        let outcome = match kind {
            ProviderKind::Seven => Provider::probe(self.seven.as_ref()?, &()).await,
            ProviderKind::Bird => Provider::probe(self.bird.as_ref()?, bird?).await,
        };
        Some(KeyProbe::from_outcome(outcome))
    }

    /// Sends a request through its provider's client and classifies what happened. A provider
    /// this process has no key for is a `Halt` of this worker ([`WorkerFault::NoKey`]): every
    /// message it takes of the campaign would meet the same gap, which only an operator can
    /// fill, and other workers may have the key.
    pub async fn send(&self, request: &Rendered) -> Outcome<Sent> {
        match request {
            Rendered::Seven(message) => via(self.seven.as_ref(), message).await,
            Rendered::Bird(request) => via(self.bird.as_ref(), request).await,
        }
    }
}

async fn via<P: Provider>(client: Option<&P>, request: &P::Request) -> Outcome<Sent> {
    match client {
        Some(client) => client.send(request).await,
        None => Outcome::Halt {
            scope: HaltScope::Worker(WorkerFault::NoKey),
            reason: not_configured(P::KIND),
        },
    }
}

/// The reason a campaign pauses on a worker without its provider's key: short enough to be
/// stored whole as the campaign's `pause_reason` (the queue keeps 64 bytes of a reason), so
/// that `wacast status` shows the variable to set. The README and `deploy/` give the other
/// ways to set it (a key file, a systemd credential).
fn not_configured(kind: ProviderKind) -> String {
    let (key, variable) = match kind {
        ProviderKind::Seven => ("seven key", "SEVEN_API_KEY"),
        ProviderKind::Bird => ("Bird key", "BIRD_ACCESS_KEY"),
    };
    format!("this worker has no {key}: set {variable} and restart it")
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;
    use crate::provider::validate::Valid;

    #[tokio::test]
    async fn a_provider_without_a_key_halts_with_a_reason_stored_whole() {
        let providers = Providers::new(&ProvidersConfig::default()).unwrap();
        for kind in ProviderKind::ALL {
            let request = match kind {
                ProviderKind::Seven => Rendered::Seven(
                    Valid::new(
                        serde_json::from_value(serde_json::json!({
                            "from": "4915112345678", "to": "4917612345678", "text": "Hi"
                        }))
                        .unwrap(),
                    )
                    .unwrap(),
                ),
                ProviderKind::Bird => Rendered::Bird(crate::provider::bird::request::BirdRequest {
                    target: std::sync::Arc::new(crate::campaign::BirdTarget {
                        workspace_id: "3f7a1c2e-8b4d-4e6f-9a0b-1c2d3e4f5a6b".into(),
                        channel_id: "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b".into(),
                        tags: Vec::new(),
                    }),
                    message: Valid::new(
                        serde_json::from_value(serde_json::json!({
                            "receiver": {"contacts": [{"identifierKey": "phonenumber",
                                                       "identifierValue": "+4917612345678"}]},
                            "body": {"type": "text", "text": {"text": "Hi"}}
                        }))
                        .unwrap(),
                    )
                    .unwrap(),
                }),
            };
            let Outcome::Halt {
                scope: HaltScope::Worker(WorkerFault::NoKey),
                reason,
            } = providers.send(&request).await
            else {
                panic!("{kind}: a provider without a key is a halt");
            };
            let variable = match kind {
                ProviderKind::Seven => "SEVEN_API_KEY",
                ProviderKind::Bird => "BIRD_ACCESS_KEY",
            };
            assert!(reason.contains(variable), "{reason}");
            assert!(reason.len() <= crate::queue::MAX_ERROR_LEN, "{reason}");
        }
    }

    #[test]
    fn the_configured_providers_are_listed_without_their_keys() {
        let key = || SecretString::from("sk-secret".to_string());
        let both = ProvidersConfig {
            seven: Some(SevenConfig::new(key())),
            bird: Some(BirdCredentials::new(key())),
        };
        assert_eq!(
            both.to_string(),
            "seven (https://gateway.seven.io/), bird (https://api.bird.com/)"
        );
        assert!(!format!("{both:?}").contains("sk-secret"));
        assert_eq!(ProvidersConfig::default().to_string(), "none");
    }
}
