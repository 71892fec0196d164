//! `Campaign`: what every row of one upload shares, and its lifecycle state.
//!
//! The message content is stored as the provider's message body with `{{column}}` placeholders in
//! its string values (see [`crate::render`]): one mechanism covers every message type of the seed
//! (template components, freetext, media, location, contacts, interactive), and the stored spec
//! reads in `redis-cli` like the request it will become.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::phone::PhoneNumber;

/// seven's default validity of a message, in minutes (48 hours).
pub const DEFAULT_TTL_MINUTES: u32 = 2880;

/// The longest campaign id. `foreign_id` is `{campaign}.{row}` and seven allows 64 characters;
/// 32 leaves room for any row number.
pub const MAX_CAMPAIGN_ID_LEN: usize = 32;

/// A campaign's id: 1 to 32 of `a-z A-Z 0-9 _ -`, so that it is safe in Redis keys and in
/// seven's `foreign_id` charset.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CampaignId(String);

/// Why a text is not a campaign id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "campaign id {0:?} is invalid: use 1 to 32 letters, digits, '_' or '-' (for example spring-sale-2026)"
)]
pub struct CampaignIdError(String);

impl CampaignId {
    /// Checks and wraps a campaign id.
    pub fn parse(text: &str) -> Result<Self, CampaignIdError> {
        let ok = !text.is_empty()
            && text.len() <= MAX_CAMPAIGN_ID_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(CampaignId(text.to_string()))
        } else {
            Err(CampaignIdError(text.to_string()))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CampaignId {
    type Error = CampaignIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        CampaignId::parse(&value)
    }
}

impl From<CampaignId> for String {
    fn from(id: CampaignId) -> String {
        id.0
    }
}

impl FromStr for CampaignId {
    type Err = CampaignIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CampaignId::parse(s)
    }
}

impl fmt::Display for CampaignId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a campaign is in its life. Stored as the lowercase word in the campaign hash's `state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CampaignState {
    /// Created; no message has been claimed yet.
    Scheduled,
    /// Messages are being sent.
    Running,
    /// An operator (or a `Halt` outcome) paused it; due messages wait aside.
    Paused,
    /// Cancelled: every message not yet sent ends `cancelled`.
    Cancelled,
    /// Every message is in a terminal state.
    Completed,
}

impl CampaignState {
    /// The word stored in Redis.
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignState::Scheduled => "scheduled",
            CampaignState::Running => "running",
            CampaignState::Paused => "paused",
            CampaignState::Cancelled => "cancelled",
            CampaignState::Completed => "completed",
        }
    }

    /// Whether nothing more will be sent.
    pub fn is_finished(self) -> bool {
        matches!(self, CampaignState::Cancelled | CampaignState::Completed)
    }
}

impl FromStr for CampaignState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "scheduled" => CampaignState::Scheduled,
            "running" => CampaignState::Running,
            "paused" => CampaignState::Paused,
            "cancelled" => CampaignState::Cancelled,
            "completed" => CampaignState::Completed,
            other => return Err(format!("unknown campaign state {other:?}")),
        })
    }
}

impl fmt::Display for CampaignState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which provider's API sends a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// seven.io's WhatsApp API (`POST /api/waba/messages`).
    Seven,
}

impl ProviderKind {
    /// The word stored in Redis.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Seven => "seven",
        }
    }
}

/// Everything one upload's rows share. Written once by `wacast enqueue`, read by workers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    /// The campaign's id.
    pub id: CampaignId,
    /// Which provider sends it.
    pub provider: ProviderKind,
    /// The registered WhatsApp Business sender number.
    pub from: PhoneNumber,
    /// The provider's message body without `from`, `to` and the delivery options, with
    /// `{{column}}` placeholders in its strings (see [`crate::render`]).
    pub content: serde_json::Value,
    /// The CSV columns whose values each message stores, in order; the placeholders of
    /// `content` name only these.
    pub columns: Vec<String>,
    /// When sending may start (the campaign's `delay`).
    pub send_at: DateTime<Utc>,
    /// How long after its send time a message may still be sent, in minutes.
    pub ttl_minutes: u32,
    /// seven's statistics label (`a-z A-Z 0-9 . - _ @`, at most 100).
    pub label: Option<String>,
    /// seven's click and performance tracking.
    pub performance_tracking: bool,
    /// When the campaign was created.
    pub created_at: DateTime<Utc>,
}

impl Campaign {
    /// The message kind, for display: `template`, `text`, `image`, …
    pub fn kind(&self) -> &str {
        self.content
            .get("type")
            .and_then(|t| t.as_str())
            .unwrap_or("text")
    }
}
