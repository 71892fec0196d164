//! What a key probe came to ([`KeyProbe`]): a provider's answer to a harmless authenticated
//! read (`Provider::probe`), in the words of a worker's provider health: the key works, the
//! provider refused it, or it cannot be reached as configured. `wacast-worker check-config
//! --probe` reports one per configured provider, so that a wrong key is found at deploy time
//! rather than by a paused campaign.

use std::fmt;

use crate::provider::outcome::{HaltScope, Outcome, WorkerFault};

/// What probing one provider's key came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyProbe {
    /// The provider answered the read: it accepted the key.
    Ok,
    /// The provider refused the key (or its permissions): what it said and what to do.
    KeyRefused(String),
    /// No answer came, or not one such API gives (a wrong base URL): what happened.
    Unreachable(String),
    /// Another answer, which proves nothing about the key (a 429, a workspace or channel the
    /// provider does not know): what it said.
    Inconclusive(String),
}

impl KeyProbe {
    /// The probe's answer read as [`KeyProbe`].
    pub fn from_outcome(outcome: Outcome<()>) -> KeyProbe {
        match outcome {
            Outcome::Done(()) => KeyProbe::Ok,
            Outcome::Halt {
                scope: HaltScope::Worker(WorkerFault::KeyRefused),
                reason,
            } => KeyProbe::KeyRefused(reason),
            Outcome::Halt {
                scope: HaltScope::Worker(WorkerFault::Unreachable),
                reason,
            }
            | Outcome::Retry { reason, .. }
            | Outcome::Unknown { reason } => KeyProbe::Unreachable(reason),
            Outcome::Halt { reason, .. }
            | Outcome::RateLimited { reason, .. }
            | Outcome::Failed { reason, .. } => KeyProbe::Inconclusive(reason),
        }
    }

    /// The word a report shows: `ok`, `key_refused`, `unreachable`, `inconclusive`.
    pub fn as_str(&self) -> &'static str {
        match self {
            KeyProbe::Ok => "ok",
            KeyProbe::KeyRefused(_) => "key_refused",
            KeyProbe::Unreachable(_) => "unreachable",
            KeyProbe::Inconclusive(_) => "inconclusive",
        }
    }

    /// Whether the key is proven good.
    pub fn is_ok(&self) -> bool {
        matches!(self, KeyProbe::Ok)
    }
}

/// `ok`, or the word and what the provider said.
impl fmt::Display for KeyProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyProbe::Ok => f.write_str("ok"),
            KeyProbe::KeyRefused(reason)
            | KeyProbe::Unreachable(reason)
            | KeyProbe::Inconclusive(reason) => write!(f, "{}: {reason}", self.as_str()),
        }
    }
}
