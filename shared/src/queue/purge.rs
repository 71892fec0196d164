//! `wacast purge`: every key of a finished campaign deleted, in chunks of rows
//! (`scripts/purge_*.lua`), and its entries in the due set after them.

use redis::AsyncCommands;

use crate::campaign::CampaignId;
use crate::message::Row;
use crate::queue::bounds::WALK_CHUNK;
use crate::queue::campaign_store::parse_state;
use crate::queue::clock::rfc3339_ms;
use crate::queue::connection::Queue;
use crate::queue::error::{QueueError, corrupt};
use crate::queue::scripts::SCRIPTS;

/// What [`Queue::purge`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Message hashes.
    pub messages: u64,
    /// Other keys: the campaign hash, its failed and paused sets, its reasons table, its
    /// upload's rejects and its per-minute counters.
    pub other_keys: u64,
}

impl Queue {
    /// Deletes every key of a finished (completed or cancelled) campaign, and its entry in the
    /// campaigns index, in chunks of [`WALK_CHUNK`] rows. `allow_paused` also purges a paused
    /// campaign (its queued messages are dropped unsent). Refused while messages are in flight.
    /// An interrupted purge (the campaign hash has `purging`) is finished by running it again.
    pub async fn purge(
        &self,
        id: &CampaignId,
        allow_paused: bool,
    ) -> Result<PurgeReport, QueueError> {
        let key = self.keys.campaign(id);
        let answer: Option<(String, String)> = SCRIPTS
            .purge_begin
            .key(&key)
            .arg(if allow_paused { "1" } else { "0" })
            .arg(rfc3339_ms(self.now_ms()))
            .invoke_async(&mut self.conn())
            .await
            .map_err(QueueError::redis("purge"))?;
        let (verdict, detail) = answer.ok_or_else(|| QueueError::NotFound(id.clone()))?;
        let rows: Row = match verdict.as_str() {
            "ok" => detail.parse().map_err(|_| corrupt(&key, "rows", &detail))?,
            "in_flight" => {
                return Err(QueueError::InFlight {
                    campaign: id.clone(),
                    n: detail.parse().unwrap_or(0),
                });
            }
            "ingest" => {
                return Err(QueueError::InvalidState {
                    campaign: id.clone(),
                    state: parse_state(&key, &detail)?,
                    action: "purged while its enqueue is unfinished (cancel it first)",
                });
            }
            _ => {
                return Err(QueueError::InvalidState {
                    campaign: id.clone(),
                    state: parse_state(&key, &detail)?,
                    action: "purged",
                });
            }
        };
        let mut report = PurgeReport::default();
        let msg_prefix = self.keys.message_prefix(id);
        let mut from: Row = 1;
        while from <= rows {
            let to = rows.min(from + WALK_CHUNK - 1);
            let n: i64 = SCRIPTS
                .purge_chunk
                .key(&key)
                .key(self.keys.leases())
                .arg(id.as_str())
                .arg(&msg_prefix)
                .arg(from)
                .arg(to)
                .invoke_async(&mut self.conn())
                .await
                .map_err(QueueError::redis("purge"))?;
            if n < 0 {
                // Another purge of the same campaign finished meanwhile.
                return Ok(report);
            }
            report.messages += n.unsigned_abs();
            from = to + 1;
        }
        self.drop_due_entries(id).await?;
        let n: i64 = SCRIPTS
            .purge_finish
            .key(&key)
            .key(self.keys.campaigns())
            .key(self.keys.failed(id))
            .key(self.keys.paused(id))
            .key(self.keys.reasons(id))
            .key(self.keys.rejects(id))
            .arg(id.as_str())
            .invoke_async(&mut self.conn())
            .await
            .map_err(QueueError::redis("purge"))?;
        report.other_keys = u64::try_from(n).unwrap_or(0);
        Ok(report)
    }

    /// Removes a purged campaign's entries from the due set, single rows and runs alike, with a
    /// cursor scan (a bounded step per call; the due set holds one entry per run of rows, so it
    /// stays small). Entries left behind would be dropped as stale when they come due; removing
    /// them now leaves no trace of the campaign.
    async fn drop_due_entries(&self, id: &CampaignId) -> Result<(), QueueError> {
        // Ids have no glob characters (`a-z A-Z 0-9 _ -`), so this matches this campaign only.
        let pattern = format!("{id}:*");
        let due = self.keys.due();
        let mut cursor: u64 = 0;
        loop {
            let (next, flat): (u64, Vec<String>) = redis::cmd("ZSCAN")
                .arg(&due)
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(WALK_CHUNK)
                .query_async(&mut self.conn())
                .await
                .map_err(QueueError::redis("purge"))?;
            // Members and scores alternate.
            let members: Vec<&String> = flat.iter().step_by(2).collect();
            if !members.is_empty() {
                let _: u64 = self
                    .conn()
                    .zrem(&due, members)
                    .await
                    .map_err(QueueError::redis("purge"))?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }
}
