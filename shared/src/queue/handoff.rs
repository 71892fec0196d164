//! Messages handed to a provider ahead of their send time (a campaign with a handoff): which
//! ones it still holds, and what it answered when `wacast cancel` asked it to delete one
//! (`scripts/record_provider_delete.lua`). The queue records the answer in its own words
//! ([`ProviderDelete`]); the caller translates its provider's answer into them.

use chrono::{DateTime, Utc};

use crate::campaign::CampaignId;
use crate::message::Row;
use crate::queue::bounds::{MAX_ERROR_LEN, truncate};
use crate::queue::campaign_store::CampaignRecord;
use crate::queue::clock::rfc3339_ms;
use crate::queue::connection::Queue;
use crate::queue::error::{QueueError, corrupt};
use crate::queue::lifecycle::MessageStatus;
use crate::queue::scripts::SCRIPTS;

/// A message's fields that say whether seven holds it: what [`Queue::held_at_provider`] reads.
const HELD_FIELDS: [&str; 4] = ["status", "provider_id", "send_at", "provider_delete"];

/// A sent message that seven holds until its send time (a campaign with a handoff).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldMessage {
    /// Its row.
    pub row: Row,
    /// seven's id of it.
    pub provider_id: String,
    /// When seven will send it.
    pub send_at: DateTime<Utc>,
}

/// A provider's answer to deleting a message it holds, as recorded in the message's
/// `provider_delete` (the word) and `provider_delete_error` (the detail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderDelete {
    /// The provider deleted it: it will not be sent.
    Deleted,
    /// The provider sent it already.
    AlreadySent {
        /// The provider's words.
        reason: String,
    },
    /// The provider does not know it.
    NotFound,
    /// The provider refused to delete it.
    Failed {
        /// The provider's code and words.
        reason: String,
    },
    /// The provider refused the credentials: no delete can succeed.
    Refused {
        /// The provider's words.
        reason: String,
    },
    /// The provider asked to be asked again later.
    Retry {
        /// The provider's words.
        reason: String,
    },
    /// No answer came: the request may or may not have reached the provider.
    Unknown {
        /// What happened.
        reason: String,
    },
}

impl ProviderDelete {
    /// The word stored in `provider_delete`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ProviderDelete::Deleted => "deleted",
            ProviderDelete::AlreadySent { .. } => "already_sent",
            ProviderDelete::NotFound => "not_found",
            ProviderDelete::Failed { .. } => "failed",
            ProviderDelete::Refused { .. } => "refused",
            ProviderDelete::Retry { .. } => "retry",
            ProviderDelete::Unknown { .. } => "unknown",
        }
    }

    /// The detail stored in `provider_delete_error`; empty for none.
    pub fn detail(&self) -> &str {
        match self {
            ProviderDelete::Deleted | ProviderDelete::NotFound => "",
            ProviderDelete::AlreadySent { reason }
            | ProviderDelete::Failed { reason }
            | ProviderDelete::Refused { reason }
            | ProviderDelete::Retry { reason }
            | ProviderDelete::Unknown { reason } => reason,
        }
    }
}

impl Queue {
    /// The messages of rows `from..=to` that seven holds until a send time after `now`: `sent`
    /// with a provider id, and not already answered for by a delete (deleted, already sent, not
    /// found). Only campaigns with a handoff have such messages.
    pub async fn held_at_provider(
        &self,
        record: &CampaignRecord,
        from: Row,
        to: Row,
        now: DateTime<Utc>,
    ) -> Result<Vec<HeldMessage>, QueueError> {
        let id = &record.campaign.id;
        let rows: Vec<Row> = (from..=to).collect();
        let values = self.message_fields(id, &rows, &HELD_FIELDS).await?;
        let mut held = Vec::new();
        for (row, fields) in rows.into_iter().zip(values) {
            let [status, provider_id, send_at, answered] = <[Option<String>; 4]>::try_from(fields)
                .map_err(|_| corrupt(&self.keys.message(id, row), "HMGET reply", "short"))?;
            if status.as_deref() != Some("sent")
                || matches!(
                    answered.as_deref(),
                    Some("deleted" | "already_sent" | "not_found")
                )
            {
                continue;
            }
            let Some(provider_id) = provider_id.filter(|p| !p.is_empty()) else {
                continue;
            };
            let send_at = match send_at {
                Some(text) => DateTime::parse_from_rfc3339(&text)
                    .map_err(|e| corrupt(&self.keys.message(id, row), "send_at", e))?
                    .with_timezone(&Utc),
                None => record.campaign.send_at,
            };
            if send_at > now {
                held.push(HeldMessage {
                    row,
                    provider_id,
                    send_at,
                });
            }
        }
        Ok(held)
    }

    /// Records the provider's answer to deleting a held message (see [`Queue::held_at_provider`]).
    /// Deleted: the message becomes `cancelled`, its price comes off the campaign's cost, and a
    /// completed campaign becomes cancelled. Any other answer is noted in the message's
    /// `provider_delete` and `provider_delete_error` and it stays `sent`. Returns its status
    /// afterwards, or `None` when it is not `sent` with that provider id (nothing changed).
    pub async fn record_provider_delete(
        &self,
        id: &CampaignId,
        held: &HeldMessage,
        answer: &ProviderDelete,
    ) -> Result<Option<MessageStatus>, QueueError> {
        let status: Option<String> = SCRIPTS
            .record_provider_delete
            .key(self.keys.message(id, held.row))
            .key(self.keys.campaign(id))
            .arg(&held.provider_id)
            .arg(answer.as_str())
            .arg(truncate(answer.detail(), MAX_ERROR_LEN))
            .arg(rfc3339_ms(self.now_ms()))
            .invoke_async(&mut self.conn())
            .await
            .map_err(QueueError::redis("record delete"))?;
        status
            .map(|s| {
                s.parse().map_err(|detail| QueueError::Corrupt {
                    key: self.keys.message(id, held.row),
                    field: "status".into(),
                    detail,
                })
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_delete_answer_has_a_distinct_word() {
        let answers = [
            ProviderDelete::Deleted,
            ProviderDelete::AlreadySent { reason: "r".into() },
            ProviderDelete::NotFound,
            ProviderDelete::Failed {
                reason: "400: r".into(),
            },
            ProviderDelete::Refused { reason: "r".into() },
            ProviderDelete::Retry { reason: "r".into() },
            ProviderDelete::Unknown { reason: "r".into() },
        ];
        let mut words: Vec<&str> = answers.iter().map(ProviderDelete::as_str).collect();
        words.sort_unstable();
        words.dedup();
        assert_eq!(words.len(), answers.len());
        assert_eq!(
            (answers[3].as_str(), answers[3].detail()),
            ("failed", "400: r")
        );
    }
}
