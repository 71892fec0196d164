//! What Bird says of a message it accepted: [`BirdSent`], with its [`BirdStatus`].

use crate::provider::outcome::Sent;

/// Bird's status of a message it accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BirdStatus {
    /// `accepted`: Bird will send it now.
    Accepted,
    /// `scheduled`: Bird holds it until `scheduledFor`.
    Scheduled,
    /// Another status Bird reported for a message it created (`processing`, `sent`, …).
    Other(String),
}

impl BirdStatus {
    /// Reads Bird's word.
    pub fn from_wire(status: &str) -> Self {
        match status {
            "accepted" => BirdStatus::Accepted,
            "scheduled" => BirdStatus::Scheduled,
            other => BirdStatus::Other(other.to_string()),
        }
    }

    /// Bird's word for it.
    pub fn as_str(&self) -> &str {
        match self {
            BirdStatus::Accepted => "accepted",
            BirdStatus::Scheduled => "scheduled",
            BirdStatus::Other(other) => other,
        }
    }
}

/// What Bird said of a message it accepted: the `Done` of a Bird send's
/// [`Outcome`](crate::provider::outcome::Outcome).
#[derive(Debug, Clone, PartialEq)]
pub struct BirdSent {
    /// Bird's message id (a UUID).
    pub provider_id: String,
    /// `accepted` or `scheduled`.
    pub status: BirdStatus,
}

/// The provider-agnostic part, what the worker records: Bird states no price, and the status
/// has no place in [`Sent`] (yet): read it from the `BirdSent` before converting if it is
/// wanted.
impl From<BirdSent> for Sent {
    fn from(sent: BirdSent) -> Self {
        Sent {
            provider_id: sent.provider_id,
            price: None,
        }
    }
}
