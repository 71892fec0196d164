//! [`Outcome`]: what one request came to, the same for every provider and request, and
//! [`Sent`], what a send's `Done` carries.
//!
//! See the [module essay](crate::provider) for why each class exists.

use std::time::Duration;

use crate::provider::validate::ValidationError;

/// What one request to a provider came to. Every response, and every failure to get one, is
/// classified into exactly one of these, once, by the provider's client. `T` is what the
/// provider said when it did what was asked: [`Sent`] for a send (Bird's client says more, in
/// its `BirdSent`), a `Deletion` for seven's delete, `()` for seven's events. The other classes
/// are the same for every request (see the [module essay](crate::provider)).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<T> {
    /// The provider did what was asked, and said this.
    Done(T),
    /// Surely not done, and worth trying again later.
    Retry {
        /// How long the provider asked us to wait (`Retry-After`), unclamped.
        after: Option<Duration>,
        /// What happened.
        reason: String,
    },
    /// Surely not done: the provider is limiting this account's rate (HTTP 429). Worth
    /// trying again later, and slower: the worker lowers the sender's rate fleet-wide, honours
    /// `after` fleet-wide, and counts no attempt (the request was refused unread).
    RateLimited {
        /// How long the provider asked us to wait (`Retry-After`), unclamped.
        after: Option<Duration>,
        /// What happened.
        reason: String,
    },
    /// Not done, and the same request again would fail the same way.
    Failed {
        /// The provider's error code, the HTTP status, or `invalid` for a request refused
        /// before it was made.
        code: String,
        /// What happened and what to do.
        reason: String,
    },
    /// Not done, and no request like it will be until an operator acts (bad API key, missing
    /// permission, misconfigured endpoint, a campaign's unknown channel). `scope` says whose
    /// problem it is: this process's ([`HaltScope::Worker`]: other workers may send it) or
    /// the campaign's ([`HaltScope::Campaign`]: pause it).
    Halt {
        /// Whose problem it is.
        scope: HaltScope,
        /// What happened and what to do.
        reason: String,
    },
    /// The request may have reached the provider, and no answer says what became of it. Never
    /// resent automatically.
    Unknown {
        /// What happened.
        reason: String,
    },
}

impl<T> Outcome<T> {
    /// A request refused before it was made, for a reason of ours: `Failed` with `code =
    /// "invalid"`, which is for the caller the same as the provider's refusal.
    pub fn invalid(reason: String) -> Outcome<T> {
        Outcome::Failed {
            code: "invalid".into(),
            reason,
        }
    }

    /// The same class, with what the provider said turned by `f`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        match self {
            Outcome::Done(done) => Outcome::Done(f(done)),
            Outcome::Retry { after, reason } => Outcome::Retry { after, reason },
            Outcome::RateLimited { after, reason } => Outcome::RateLimited { after, reason },
            Outcome::Failed { code, reason } => Outcome::Failed { code, reason },
            Outcome::Halt { scope, reason } => Outcome::Halt { scope, reason },
            Outcome::Unknown { reason } => Outcome::Unknown { reason },
        }
    }
}

/// Whose problem a [`Outcome::Halt`] is, decided where the provider's answer is read (each
/// provider's `reply.rs`), so that the worker only acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaltScope {
    /// This process cannot send through the provider (its key, its endpoint): the worker holds
    /// the provider and leaves the campaign to workers that can; the campaign pauses only when
    /// no live worker can send through the provider.
    Worker(WorkerFault),
    /// The campaign's own (its workspace or channel, its sender): every worker would meet it,
    /// so the campaign pauses.
    Campaign,
}

/// Why this process cannot send through a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkerFault {
    /// No key for the provider in this process: nothing changes without a restart.
    NoKey,
    /// The provider refused the key (seven 900/902/9xx, HTTP 401/403).
    KeyRefused,
    /// The provider cannot be reached as configured (a redirect: a wrong base URL; a request
    /// that cannot be built).
    Unreachable,
}

impl WorkerFault {
    /// The word `wacast workers` and the registry show (`no_key`, `key_refused`,
    /// `unreachable`).
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerFault::NoKey => "no_key",
            WorkerFault::KeyRefused => "key_refused",
            WorkerFault::Unreachable => "unreachable",
        }
    }
}

/// A request its provider's checks refused ([`crate::provider::validate::Valid::new`]), in the
/// terms of the provider's own refusal, for a caller that reports both alike.
impl<T> From<ValidationError> for Outcome<T> {
    fn from(error: ValidationError) -> Self {
        Outcome::invalid(error.to_string())
    }
}

/// What a provider said of a message it accepted: what the worker records.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    /// The provider's id for it (empty if the provider accepted without giving one).
    pub provider_id: String,
    /// What it cost, if the provider said.
    pub price: Option<f64>,
}
