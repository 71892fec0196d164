//! [`Provider`]: what each provider's client is to the rest of wacast.

use std::future::Future;

use crate::campaign::ProviderKind;
use crate::provider::outcome::{Outcome, Sent};

/// What each provider's client is to the rest of wacast: its validated request in, one
/// [`Outcome`] out.
pub trait Provider {
    /// Which provider the client sends through.
    const KIND: ProviderKind;
    /// The request it sends, as [`crate::provider::request::Renderer`] makes it.
    type Request;
    /// What a key probe reads: nothing more for seven (the balance), the workspace's channel
    /// for Bird.
    type ProbeTarget;
    /// Sends one request and classifies what happened; never fails (see the module essay).
    fn send(&self, request: &Self::Request) -> impl Future<Output = Outcome<Sent>> + Send;
    /// Proves the key with a harmless authenticated read, classified as a send's answer is:
    /// `Done` when the provider accepted the key, a `Halt` of this worker when it refused it
    /// (`KeyRefused`) or answered as no such API would (`Unreachable`), `Retry` when no answer
    /// came.
    fn probe(&self, target: &Self::ProbeTarget) -> impl Future<Output = Outcome<()>> + Send;
}
