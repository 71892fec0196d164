//! [`BirdRequest`]: one Bird send, as [`crate::provider::request::Renderer`] makes it.

use std::sync::Arc;

use crate::campaign::BirdTarget;
use crate::provider::bird::message::BirdMessage;
use crate::provider::validate::Valid;

/// One Bird send: the workspace and channel it is posted to, and the body.
#[derive(Debug, Clone, PartialEq)]
pub struct BirdRequest {
    /// The campaign's workspace and channel.
    pub target: Arc<BirdTarget>,
    /// The body.
    pub message: Valid<BirdMessage>,
}
