//! `wacast retry`: failed (or unknown) messages put back in the queue on the operator's word,
//! walking the campaign's failed set in chunks (`scripts/requeue.lua`).

use crate::campaign::{CampaignId, CampaignState};
use crate::queue::bounds::WALK_CHUNK;
use crate::queue::campaign_store::parse_state;
use crate::queue::clock::rfc3339_ms;
use crate::queue::connection::Queue;
use crate::queue::error::QueueError;
use crate::queue::lifecycle::MessageStatus;
use crate::queue::scripts::SCRIPTS;

/// Which failed messages [`Queue::requeue_failed`] puts back in the queue.
#[derive(Debug, Clone, Copy)]
pub struct RetryFilter<'a> {
    /// `failed`, `unknown` or both; other statuses are ignored.
    pub statuses: &'a [MessageStatus],
    /// Only messages whose `error_code` is this one.
    pub error_code: Option<&'a str>,
}

/// What [`Queue::requeue_failed`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryReport {
    /// Messages queued again.
    pub requeued: u64,
    /// The campaign's state afterwards.
    pub state: CampaignState,
}

impl Queue {
    /// Puts the campaign's failed (or unknown) messages back in the queue, due now, walking its
    /// failed set in chunks. Each keeps its history (`attempts`; the error in `last_error`,
    /// `last_error_code`). A completed campaign runs again; a paused one keeps them aside until
    /// it is resumed. Refused for running campaigns (their failed set is still changing: pause
    /// the campaign or wait for it to finish) and cancelled ones.
    pub async fn requeue_failed(
        &self,
        id: &CampaignId,
        filter: RetryFilter<'_>,
    ) -> Result<RetryReport, QueueError> {
        let record = self.load_campaign(id).await?;
        if matches!(
            record.state,
            CampaignState::Running | CampaignState::Cancelled
        ) {
            return Err(QueueError::InvalidState {
                campaign: id.clone(),
                state: record.state,
                action: "retried",
            });
        }
        let statuses = filter
            .statuses
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let failed = self.keys.failed(id);
        let mut report = RetryReport {
            requeued: 0,
            state: record.state,
        };
        let mut cursor: u64 = 0;
        loop {
            let (next, members): (u64, Vec<String>) = redis::cmd("SSCAN")
                .arg(&failed)
                .arg(cursor)
                .arg("COUNT")
                .arg(WALK_CHUNK)
                .query_async(&mut self.conn())
                .await
                .map_err(QueueError::redis("retry"))?;
            if !members.is_empty() {
                let now = self.now_ms();
                let mut invocation = SCRIPTS.requeue.prepare_invoke();
                invocation
                    .key(self.keys.campaign(id))
                    .key(self.keys.due())
                    .key(self.keys.paused(id))
                    .key(&failed)
                    .arg(id.as_str())
                    .arg(self.keys.message_prefix(id))
                    .arg(now)
                    .arg(rfc3339_ms(now))
                    .arg(&statuses)
                    .arg(filter.error_code.unwrap_or(""))
                    .arg(self.keys.wake());
                for member in &members {
                    invocation.arg(member.as_str());
                }
                let answer: Option<(i64, String)> = invocation
                    .invoke_async(&mut self.conn())
                    .await
                    .map_err(QueueError::redis("retry"))?;
                let (n, state) = answer.ok_or_else(|| QueueError::NotFound(id.clone()))?;
                let state = parse_state(&self.keys.campaign(id), &state)?;
                if n < 0 {
                    // Cancelled or purged since the walk began.
                    return Err(QueueError::InvalidState {
                        campaign: id.clone(),
                        state,
                        action: "retried",
                    });
                }
                report.requeued += n.unsigned_abs();
                report.state = state;
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        Ok(report)
    }
}
