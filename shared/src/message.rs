//! `QueuedMessage`: one accepted row as the queue stores it and hands it to a worker.
//!
//! Only what differs per row is stored per message (the recipient, the values of the campaign's
//! columns, and any per-row overrides); everything shared lives once in the campaign hash.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::campaign::CampaignId;
use crate::phone::PhoneNumber;

/// The row number of a message inside its campaign: the 1-based index of the data record in the
/// CSV (the header is not counted). Rows are dense except for rejected records, so a campaign's
/// messages can be walked as `1..=rows` without scanning Redis.
pub type Row = u64;

/// Per-row values that override the campaign's (from optional `delay`, `ttl`, `label`,
/// `language` columns).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowOverrides {
    /// This row's send time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_at: Option<DateTime<Utc>>,
    /// This row's validity in minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_minutes: Option<u32>,
    /// This row's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// This row's template language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

impl RowOverrides {
    /// Whether the row overrides nothing.
    pub fn is_empty(&self) -> bool {
        *self == RowOverrides::default()
    }
}

/// One message: a campaign's row, ready to be rendered and sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedMessage {
    /// Its campaign.
    pub campaign: CampaignId,
    /// Its row.
    pub row: Row,
    /// The recipient.
    pub to: PhoneNumber,
    /// The values of the campaign's `columns`, in the same order.
    pub values: Vec<String>,
    /// Per-row overrides of the campaign's options.
    #[serde(default)]
    pub overrides: RowOverrides,
    /// How many send attempts were made before this one.
    #[serde(default)]
    pub attempts: u32,
}

impl QueuedMessage {
    /// seven's `foreign_id` and Bird's `reference`: `{campaign}.{row}`, in seven's charset.
    pub fn foreign_id(&self) -> String {
        format!("{}.{}", self.campaign, self.row)
    }
}
