//! Messages handed to seven ahead of their send time (a campaign with a handoff): which ones it
//! still holds, and what it answered when `wacast cancel` asked it to delete one
//! (`scripts/record_provider_delete.lua`).

use chrono::{DateTime, Utc};

use crate::campaign::CampaignId;
use crate::message::Row;
use crate::provider::seven::DeleteOutcome;
use crate::queue::bounds::{MAX_ERROR_LEN, truncate};
use crate::queue::campaign_store::CampaignRecord;
use crate::queue::clock::{now_ms, rfc3339_ms};
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

    /// Records seven's answer to deleting a held message (see [`Queue::held_at_provider`]).
    /// Deleted: the message becomes `cancelled`, its price comes off the campaign's cost, and a
    /// completed campaign becomes cancelled. Any other answer is noted in the message's
    /// `provider_delete` and `provider_delete_error` and it stays `sent`. Returns its status
    /// afterwards, or `None` when it is not `sent` with that provider id (nothing changed).
    pub async fn record_provider_delete(
        &self,
        id: &CampaignId,
        held: &HeldMessage,
        answer: &DeleteOutcome,
    ) -> Result<Option<MessageStatus>, QueueError> {
        let (word, detail) = delete_answer(answer);
        let status: Option<String> = SCRIPTS
            .record_provider_delete
            .key(self.keys.message(id, held.row))
            .key(self.keys.campaign(id))
            .arg(&held.provider_id)
            .arg(word)
            .arg(truncate(&detail, MAX_ERROR_LEN))
            .arg(rfc3339_ms(now_ms()))
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

/// The word stored in `provider_delete` for an answer, and its detail.
fn delete_answer(answer: &DeleteOutcome) -> (&'static str, String) {
    match answer {
        DeleteOutcome::Deleted => ("deleted", String::new()),
        DeleteOutcome::AlreadySent { reason } => ("already_sent", reason.clone()),
        DeleteOutcome::NotFound => ("not_found", String::new()),
        DeleteOutcome::Failed { code, reason } => ("failed", format!("{code}: {reason}")),
        DeleteOutcome::Halt { reason } => ("refused", reason.clone()),
        DeleteOutcome::Retry { reason, .. } => ("retry", reason.clone()),
        DeleteOutcome::Unknown { reason } => ("unknown", reason.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_delete_answer_has_a_distinct_word() {
        let answers = [
            DeleteOutcome::Deleted,
            DeleteOutcome::AlreadySent { reason: "r".into() },
            DeleteOutcome::NotFound,
            DeleteOutcome::Failed {
                code: "400".into(),
                reason: "r".into(),
            },
            DeleteOutcome::Halt { reason: "r".into() },
            DeleteOutcome::Retry {
                after: None,
                reason: "r".into(),
            },
            DeleteOutcome::Unknown { reason: "r".into() },
        ];
        let mut words: Vec<&str> = answers.iter().map(|a| delete_answer(a).0).collect();
        words.sort_unstable();
        words.dedup();
        assert_eq!(words.len(), answers.len());
        assert_eq!(delete_answer(&answers[3]), ("failed", "400: r".to_string()));
    }
}
