//! `Campaign`: what every row of one upload shares, and its lifecycle state.
//!
//! The message content is stored as the provider's message body with `{{column}}` placeholders in
//! its string values (see [`crate::render`]): one mechanism covers every message type of the seeds
//! (template components, freetext, media, location, contacts, interactive), and the stored spec
//! reads in `redis-cli` like the request it will become. For seven it is the body of `POST
//! /api/waba/messages` without the envelope (`{"type": "template", "template": …}`); for Bird it
//! is `{"template": {…}}` or `{"body": {…}}` of its send request, and the workspace and channel
//! are in [`Campaign::bird`].

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::phone::PhoneNumber;
use crate::window::SendWindow;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// seven.io's WhatsApp API (`POST /api/waba/messages`).
    Seven,
    /// Bird's Channels API (`POST /workspaces/{workspaceId}/channels/{channelId}/messages`).
    Bird,
}

impl ProviderKind {
    /// Every provider, in the order they are listed to operators.
    pub const ALL: [ProviderKind; 2] = [ProviderKind::Seven, ProviderKind::Bird];

    /// The word stored in Redis.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Seven => "seven",
            ProviderKind::Bird => "bird",
        }
    }

    /// The provider's name as operators know it, for messages.
    pub fn display_name(self) -> &'static str {
        match self {
            ProviderKind::Seven => "seven",
            ProviderKind::Bird => "Bird",
        }
    }
}

impl FromStr for ProviderKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "seven" => Ok(ProviderKind::Seven),
            "bird" => Ok(ProviderKind::Bird),
            other => Err(format!("unknown provider {other:?}: use seven or bird")),
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a Bird campaign is sent: the workspace and the WhatsApp channel (Bird's sender), and
/// the tags every message carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BirdTarget {
    /// The workspace's id, a UUID.
    pub workspace_id: String,
    /// The WhatsApp channel's id, a UUID.
    pub channel_id: String,
    /// Tags of every message (lowercase; the row's label is added to them), at most 10 with
    /// the label.
    #[serde(default)]
    pub tags: Vec<String>,
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
    /// How many minutes before its send time a message may be handed to seven, which then
    /// holds it (seven's `delay`) and sends it at the send time; 0 (the default) hands every
    /// message over at its send time. A message held at seven can still be deleted there
    /// (`wacast cancel`) until its send time. Stored as `handoff_ahead`.
    #[serde(default)]
    pub handoff_ahead_minutes: u32,
    /// Where a Bird campaign is sent; `None` for seven. Stored as `workspace`, `channel` and
    /// `tags`.
    #[serde(default)]
    pub bird: Option<BirdTarget>,
    /// The hours of the day it may send in (`--window`), if limited; a message due outside
    /// waits for the next opening. Stored as `window` (`09:00-20:00 Europe/Berlin`).
    #[serde(default)]
    pub window: Option<SendWindow>,
    /// Send only to recipients whose 24-hour window is open (they wrote within the last 24
    /// hours, as the providers' inbound callbacks tell): the others end `failed` (`no_window`)
    /// without a request (`--only-open-window`, freetext and media). Stored as `only_window`.
    #[serde(default)]
    pub only_open_window: bool,
    /// The zone its times were written in (`--tz`), which the operator's commands show its
    /// times in; JSON keeps UTC. Stored as `tz`; campaigns stored before it have UTC.
    #[serde(default)]
    pub tz: Tz,
}

impl Campaign {
    /// The message kind, for display: `template`, `text`, `image`, …
    pub fn kind(&self) -> &str {
        match self.provider {
            // seven's body: `{"type": "template", …}`; a freetext body has no `type`.
            ProviderKind::Seven => self
                .content
                .get("type")
                .and_then(|t| t.as_str())
                .unwrap_or("text"),
            // Bird's content: `{"template": {…}}` or `{"body": {"type": "text", …}}`.
            ProviderKind::Bird => {
                if self.content.get("template").is_some() {
                    "template"
                } else {
                    self.content
                        .get("body")
                        .and_then(|b| b.get("type"))
                        .and_then(|t| t.as_str())
                        .unwrap_or("unknown")
                }
            }
        }
    }

    /// The template's name (seven) or project id (Bird), for display; `None` unless the
    /// campaign sends a template.
    pub fn template_name(&self) -> Option<&str> {
        match self.provider {
            ProviderKind::Seven if self.kind() == "template" => {
                self.content.get("template").and_then(|t| t.as_str())
            }
            ProviderKind::Bird => self
                .content
                .get("template")
                .and_then(|t| t.get("projectId"))
                .and_then(|t| t.as_str()),
            ProviderKind::Seven => None,
        }
    }

    /// The template's language (seven) or locale (Bird), for display and as the default of the
    /// per-row `language` column; `None` unless the campaign sends a template.
    pub fn template_language(&self) -> Option<&str> {
        match self.provider {
            ProviderKind::Seven if self.kind() == "template" => {
                self.content.get("language").and_then(|t| t.as_str())
            }
            ProviderKind::Bird => self
                .content
                .get("template")
                .and_then(|t| t.get("locale"))
                .and_then(|t| t.as_str()),
            ProviderKind::Seven => None,
        }
    }
}
