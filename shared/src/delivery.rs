//! What the providers' callbacks say after a message was sent, in wacast's own words: a
//! message's delivery status (delivered, read, failed late with WhatsApp's code) and inbound
//! messages (replies, opt-outs). Each provider's parser (`provider::{seven,bird}::callback`)
//! turns its payloads into [`Callback`]s; the queue records them (`queue::delivery`); neither
//! knows the other. Pure.
//!
//! Callbacks are matched to a message by our reference (`{campaign}.{row}`, seven's
//! `foreign_id` and Bird's `reference`) or by the provider's message id stored at send, never
//! by phone number: WhatsApp identifies some users by business-scoped ids instead of numbers.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::campaign::{CampaignId, ProviderKind};
use crate::message::Row;

/// WhatsApp's late error: the recipient's marketing message limit was reached; Meta asks to
/// wait at least 24 hours before trying again. The row is queued again, later.
pub const MARKETING_LIMIT: &str = "131049";
/// WhatsApp's late error: the recipient stopped marketing messages from this business. Never
/// again: the number goes on the opt-out list.
pub const STOPPED_MARKETING: &str = "131050";
/// WhatsApp's late error: the message was undeliverable. Failed for good.
pub const UNDELIVERABLE: &str = "131026";
/// WhatsApp's late error: a Meta experiment held the message back (not delivered, not
/// charged). Failed for good.
pub const EXPERIMENT: &str = "130472";

/// The opt-out keywords by default: a reply whose whole text is one of them (any case)
/// puts the number on the opt-out list.
pub const DEFAULT_OPTOUT_KEYWORDS: [&str; 5] =
    ["STOP", "STOPP", "ABMELDEN", "ABBESTELLEN", "UNSUBSCRIBE"];

/// What a provider reported about one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// It reached the recipient's phone.
    Delivered,
    /// The recipient opened it (implies delivered).
    Read,
    /// It failed after the provider accepted it (WhatsApp's code in the report).
    Failed,
}

impl DeliveryStatus {
    /// The word stored in a message's `delivery` field.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Read => "read",
            DeliveryStatus::Failed => "failed",
        }
    }
}

/// Which message a callback is about: our reference when the payload carries it, else the
/// provider's message id (looked up in the index written at send).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMatch {
    /// `{campaign}.{row}`, read by [`parse_reference`].
    pub reference: Option<(CampaignId, Row)>,
    /// The provider's id of the message (seven's `msg_id`/`id`, Bird's message UUID).
    pub provider_id: Option<String>,
}

/// A status callback: what became of a message after the provider accepted it.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusReport {
    /// Who sent the callback.
    pub provider: ProviderKind,
    /// The message it is about.
    pub message: MessageMatch,
    /// What happened.
    pub status: DeliveryStatus,
    /// When it happened, as the provider says (else when the callback arrived).
    pub at: DateTime<Utc>,
    /// WhatsApp's error code of a failure (`131049`, …), or the provider's.
    pub error_code: Option<String>,
    /// The provider's explanation of a failure, whole.
    pub error: Option<String>,
    /// The final price, when the callback carries one: it replaces the provisional one.
    pub price: Option<f64>,
}

/// An inbound message: a recipient wrote to one of our senders.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    /// Who forwarded it.
    pub provider: ProviderKind,
    /// Our side, as the index written at send names it: the sender number's digits for seven,
    /// the channel id for Bird ([`sender_key`]).
    pub sender: String,
    /// The recipient who wrote: E.164 digits (no `+`), or a business-scoped user id.
    pub from: String,
    /// The text, for text messages.
    pub text: Option<String>,
    /// When it was written.
    pub at: DateTime<Utc>,
}

/// One thing a callback reported.
#[derive(Debug, Clone, PartialEq)]
pub enum Callback {
    /// A delivery status of a sent message.
    Status(StatusReport),
    /// A message from a recipient.
    Inbound(Inbound),
}

/// What recording a callback came to; the hooks endpoint answers 200 for each (the provider
/// must not retry), and counts them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// It changed the message (and its campaign's counters).
    Recorded,
    /// It was known already (a duplicate, or older news: `delivered` after `read`).
    Duplicate,
    /// No message matches it (another system's, a purged campaign); kept in the unmatched list.
    Unmatched,
}

impl Recorded {
    /// The word for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Recorded::Recorded => "recorded",
            Recorded::Duplicate => "duplicate",
            Recorded::Unmatched => "unmatched",
        }
    }
}

/// How recorded callbacks act on the queue: set by the worker's flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// How long after a late 131049 the row is due again (Meta: at least 24 hours).
    pub marketing_limit_delay: Duration,
    /// An inbound message is a reply to the most recent campaign that messaged its writer from
    /// that sender within this long.
    pub reply_window: Duration,
    /// A reply whose whole text is one of these (any case, surrounding space ignored) opts the
    /// number out.
    pub optout_keywords: Vec<String>,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        DeliveryPolicy {
            marketing_limit_delay: Duration::from_secs(24 * 3600),
            reply_window: Duration::from_secs(7 * 24 * 3600),
            optout_keywords: DEFAULT_OPTOUT_KEYWORDS.map(str::to_string).to_vec(),
        }
    }
}

impl DeliveryPolicy {
    /// Whether a reply's text asks to opt out.
    pub fn is_optout(&self, text: &str) -> bool {
        let text = text.trim();
        self.optout_keywords
            .iter()
            .any(|keyword| keyword.eq_ignore_ascii_case(text))
    }
}

/// Reads our reference, `{campaign}.{row}` (seven's `foreign_id`, Bird's `reference`).
pub fn parse_reference(text: &str) -> Option<(CampaignId, Row)> {
    let (campaign, row) = text.trim().rsplit_once('.')?;
    let row: Row = row.parse().ok().filter(|row| *row > 0)?;
    Some((CampaignId::parse(campaign).ok()?, row))
}

/// The sender side of the reply index: seven's sender number (digits), Bird's channel id, so
/// that an inbound message, which names one of those, finds the campaign that wrote last.
pub fn sender_key(provider: ProviderKind, from_digits: &str, bird_channel: Option<&str>) -> String {
    match (provider, bird_channel) {
        (ProviderKind::Bird, Some(channel)) => channel.to_string(),
        _ => from_digits.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_read_as_campaign_and_row() {
        let id = |s: &str| CampaignId::parse(s).unwrap();
        assert_eq!(parse_reference("spring-1.42"), Some((id("spring-1"), 42)));
        assert_eq!(parse_reference("a.b.7"), None, "a campaign id has no dot");
        for bad in [
            "",
            "spring",
            "spring.",
            ".4",
            "spring.0",
            "spring.-1",
            "spr ing.3",
        ] {
            assert_eq!(parse_reference(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn only_a_whole_keyword_opts_out() {
        let policy = DeliveryPolicy::default();
        for yes in ["STOP", "stop", " Stopp ", "abmelden", "Unsubscribe"] {
            assert!(policy.is_optout(yes), "{yes:?}");
        }
        for no in ["stop it", "please STOP", "", "STOP!"] {
            assert!(!policy.is_optout(no), "{no:?}");
        }
    }
}
