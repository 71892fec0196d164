//! The callbacks no message matched, as the operator reads them (`wacast hooks unmatched`).
//!
//! Recording a callback that matches no message (another system's, a purged campaign's) pushes
//! a JSON object onto the list `{prefix}:hooks:unmatched`, newest first, trimmed to the newest
//! 1,000; this reads the newest of them.

use chrono::{DateTime, Utc};
use redis::AsyncCommands;
use serde::Deserialize;

use crate::queue::connection::Queue;
use crate::queue::error::QueueError;

/// One callback that matched no message. A field the entry lacks (or holds as null) is `None`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UnmatchedCallback {
    /// When it was received.
    #[serde(default, deserialize_with = "time")]
    pub at: Option<DateTime<Utc>>,
    /// `seven` or `bird`.
    pub provider: Option<String>,
    /// `status` (a delivery report) or `inbound` (a message from a recipient).
    pub kind: Option<String>,
    /// Our reference (`{campaign}.{row}`), when the callback carried one.
    pub reference: Option<String>,
    /// The provider's message id, when it carried one.
    pub provider_id: Option<String>,
    /// The delivery status it reported (`delivered`, `read`, `failed`).
    pub status: Option<String>,
    /// Who wrote, for an inbound message.
    pub from: Option<String>,
}

/// The newest unmatched callbacks, and how many the list holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnmatchedCallbacks {
    /// How many the list holds (at most 1,000: older ones are dropped).
    pub total: u64,
    /// The newest ones, newest first.
    pub callbacks: Vec<UnmatchedCallback>,
    /// Entries read that were not such a JSON object (written by hand), left out.
    pub unreadable: u64,
}

impl Queue {
    /// The newest `limit` unmatched callbacks (every one with `None`), newest first.
    pub async fn unmatched_callbacks(
        &self,
        limit: Option<usize>,
    ) -> Result<UnmatchedCallbacks, QueueError> {
        let key = self.keys.hooks_unmatched();
        if limit == Some(0) {
            let total = self
                .conn()
                .llen(&key)
                .await
                .map_err(QueueError::redis("read unmatched callbacks"))?;
            return Ok(UnmatchedCallbacks {
                total,
                ..UnmatchedCallbacks::default()
            });
        }
        let stop = limit.map_or(-1, |n| isize::try_from(n).unwrap_or(isize::MAX) - 1);
        let (entries, total): (Vec<String>, u64) = redis::pipe()
            .lrange(&key, 0, stop)
            .llen(&key)
            .query_async(&mut self.conn())
            .await
            .map_err(QueueError::redis("read unmatched callbacks"))?;
        let mut out = UnmatchedCallbacks {
            total,
            ..UnmatchedCallbacks::default()
        };
        for entry in entries {
            match serde_json::from_str::<UnmatchedCallback>(&entry) {
                Ok(callback) => out.callbacks.push(callback),
                Err(_) => out.unreadable += 1,
            }
        }
        Ok(out)
    }
}

/// An RFC 3339 time, or none when it is absent, null or does not read.
fn time<'de, D>(deserializer: D) -> Result<Option<DateTime<Utc>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let text: Option<String> = Option::deserialize(deserializer)?;
    Ok(text
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc)))
}
