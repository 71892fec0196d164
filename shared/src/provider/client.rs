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
    /// Sends one request and classifies what happened; never fails (see the module essay).
    fn send(&self, request: &Self::Request) -> impl Future<Output = Outcome<Sent>> + Send;
}
