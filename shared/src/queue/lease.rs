//! A claimed message's identity: its address ([`MessageRef`]) and the fenced claim a worker
//! holds on it ([`Lease`]), which every call about the message after the claim presents.

use std::fmt;

use crate::campaign::CampaignId;
use crate::keys::message_ref;
use crate::message::{QueuedMessage, Row};

/// A message's address: campaign and row. Written `{campaign}:{row}` in the due and lease sets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageRef {
    /// The campaign.
    pub campaign: CampaignId,
    /// The row.
    pub row: Row,
}

impl MessageRef {
    /// The reference of a message.
    pub fn of(message: &QueuedMessage) -> MessageRef {
        MessageRef {
            campaign: message.campaign.clone(),
            row: message.row,
        }
    }
}

impl fmt::Display for MessageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&message_ref(&self.campaign, self.row))
    }
}

/// A worker's claim on a message: the proof it presents to act on it. Only
/// [`Queue::claim`](crate::queue::Queue::claim) makes one; it stays valid until the message is
/// acked, retried, released or reaped.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Lease {
    reference: MessageRef,
    worker: String,
    claim: u64,
}

impl Lease {
    /// The lease of claim number `claim` of a message by `worker`, as the claim script
    /// recorded it.
    pub(crate) fn new(reference: MessageRef, worker: String, claim: u64) -> Lease {
        Lease {
            reference,
            worker,
            claim,
        }
    }

    /// The message.
    pub fn reference(&self) -> &MessageRef {
        &self.reference
    }

    /// The worker that claimed it.
    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// Which claim of the message this is (its `claims` field when it was claimed).
    pub fn claim(&self) -> u64 {
        self.claim
    }
}
