//! The operator's side of the queue: what `wacast list`, `status`, `report`, `retry`, `cancel`,
//! `optout` and `purge` read and change, beyond the campaign operations of `campaign_store`.
//!
//! Reads are plain commands, pipelined in batches of [`WALK_CHUNK`] so that a campaign of a
//! million rows is walked with a thousand round trips and Redis never serves one large reply.
//! Every change is a script (`scripts/requeue.lua`, `scripts/purge_*.lua`, `scripts/record_provider_delete.lua`) that moves a message and its campaign's
//! counters together, like the worker's scripts do, and works on a bounded chunk of rows.
//!
//! Work that could grow with a campaign's size is capped and says so: the failure reasons of
//! [`Queue::failure_reasons`] look at a random sample of at most the given number of failed
//! rows, and [`Queue::send_times`] reads the `sent_at` of at most the given number of evenly
//! spaced rows.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::AsyncCommands;

use crate::campaign::{CampaignId, CampaignState};
use crate::message::Row;
use crate::phone::PhoneNumber;
use crate::provider::seven::DeleteOutcome;
use crate::queue::bounds::{MAX_ERROR_LEN, WALK_CHUNK, truncate};
use crate::queue::campaign_store::{CampaignRecord, parse_record};
use crate::queue::clock::{now_ms, rfc3339_ms};
use crate::queue::connection::Queue;
use crate::queue::error::QueueError;
use crate::queue::lifecycle::MessageStatus;
use crate::queue::scripts::SCRIPTS;

/// A message's fields that say whether seven holds it: what [`Queue::held_at_provider`] reads.
const HELD_FIELDS: [&str; 4] = ["status", "provider_id", "send_at", "provider_delete"];

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

/// What [`Queue::purge`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Message hashes.
    pub messages: u64,
    /// Other keys: the campaign hash and its failed and paused sets.
    pub other_keys: u64,
}

/// One group of failures: how many sampled failed rows share a status, code and error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureReason {
    /// `failed` or `unknown`.
    pub status: MessageStatus,
    /// The provider's (or wacast's) error code, if any.
    pub code: Option<String>,
    /// The error text.
    pub error: Option<String>,
    /// Rows of the sample with this reason.
    pub count: u64,
}

/// The most common failure reasons of a campaign, from its failed set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailureReasons {
    /// Rows in the failed set (failed and unknown messages).
    pub in_set: u64,
    /// Rows looked at: all of them, or a random sample of them.
    pub examined: u64,
    /// Reasons, most common first.
    pub reasons: Vec<FailureReason>,
}

impl FailureReasons {
    /// Whether every failed row was looked at (the counts are exact).
    pub fn exact(&self) -> bool {
        self.examined >= self.in_set
    }
}

/// When a campaign's first and last messages were sent, from their `sent_at`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendTimes {
    /// The earliest `sent_at` found.
    pub first: Option<DateTime<Utc>>,
    /// The latest `sent_at` found.
    pub last: Option<DateTime<Utc>>,
    /// Rows whose `sent_at` was read.
    pub examined: u64,
    /// Whether every row was read (otherwise evenly spaced rows were, and both times are
    /// approximate: within the time it takes to send the rows between two samples).
    pub exact: bool,
}

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
    /// The ids of the newest `limit` campaigns (all with `None`), newest first, and how many
    /// campaigns there are.
    pub async fn campaign_ids(
        &self,
        limit: Option<usize>,
    ) -> Result<(Vec<CampaignId>, u64), QueueError> {
        let stop = limit.map_or(-1, |n| isize::try_from(n).unwrap_or(isize::MAX) - 1);
        let mut conn = self.conn();
        let (ids, total): (Vec<String>, u64) = redis::pipe()
            .zrevrange(self.keys.campaigns(), 0, stop)
            .zcard(self.keys.campaigns())
            .query_async(&mut conn)
            .await
            .map_err(QueueError::redis("list campaigns"))?;
        let ids = ids
            .iter()
            .filter_map(|id| CampaignId::parse(id).ok())
            .collect();
        Ok((ids, total))
    }

    /// The ids of campaigns created before `before`, oldest first, at most `limit` of them
    /// after the first `offset`.
    pub async fn campaigns_created_before(
        &self,
        before: DateTime<Utc>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<CampaignId>, QueueError> {
        let ids: Vec<String> = self
            .conn()
            .zrangebyscore_limit(
                self.keys.campaigns(),
                "-inf",
                before.timestamp_millis(),
                isize::try_from(offset).unwrap_or(isize::MAX),
                isize::try_from(limit).unwrap_or(isize::MAX),
            )
            .await
            .map_err(QueueError::redis("list campaigns"))?;
        Ok(ids
            .iter()
            .filter_map(|id| CampaignId::parse(id).ok())
            .collect())
    }

    /// Loads several campaigns in one round trip. A campaign that is gone (purged meanwhile)
    /// is left out; one that cannot be read is an `Err` in its place.
    pub async fn load_campaigns(
        &self,
        ids: &[CampaignId],
    ) -> Result<Vec<Result<CampaignRecord, QueueError>>, QueueError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(100) {
            let mut pipe = redis::pipe();
            for id in chunk {
                pipe.hgetall(self.keys.campaign(id));
            }
            let hashes: Vec<HashMap<String, String>> = pipe
                .query_async(&mut self.conn())
                .await
                .map_err(QueueError::redis("load campaigns"))?;
            for (id, fields) in chunk.iter().zip(hashes) {
                if !fields.is_empty() {
                    out.push(parse_record(&self.keys.campaign(id), &fields));
                }
            }
        }
        Ok(out)
    }

    /// The message hashes of rows `from..=to` (at most [`WALK_CHUNK`] rows per round trip), in
    /// row order; rows without a message (rejected) are left out.
    pub async fn message_hashes(
        &self,
        id: &CampaignId,
        from: Row,
        to: Row,
    ) -> Result<Vec<(Row, HashMap<String, String>)>, QueueError> {
        let mut out = Vec::new();
        let mut start = from;
        while start <= to {
            let end = to.min(start.saturating_add(WALK_CHUNK - 1));
            let mut pipe = redis::pipe();
            for row in start..=end {
                pipe.hgetall(self.keys.message(id, row));
            }
            let hashes: Vec<HashMap<String, String>> = pipe
                .query_async(&mut self.conn())
                .await
                .map_err(QueueError::redis("read messages"))?;
            out.extend(
                (start..=end)
                    .zip(hashes)
                    .filter(|(_, fields)| !fields.is_empty()),
            );
            if end == Row::MAX {
                break;
            }
            start = end + 1;
        }
        Ok(out)
    }

    /// The values of `fields` of the given rows' messages, in one round trip per
    /// [`WALK_CHUNK`] rows; `None` for a field (or a message) that does not exist.
    pub async fn message_fields(
        &self,
        id: &CampaignId,
        rows: &[Row],
        fields: &[&str],
    ) -> Result<Vec<Vec<Option<String>>>, QueueError> {
        let mut out = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(usize::try_from(WALK_CHUNK).unwrap_or(1000)) {
            let mut pipe = redis::pipe();
            for row in chunk {
                pipe.cmd("HMGET")
                    .arg(self.keys.message(id, *row))
                    .arg(fields);
            }
            let values: Vec<Vec<Option<String>>> = pipe
                .query_async(&mut self.conn())
                .await
                .map_err(QueueError::redis("read messages"))?;
            out.extend(values);
        }
        Ok(out)
    }

    /// The most common reasons among the campaign's failed and unknown messages, from a random
    /// sample of at most `max` rows of its failed set (all of them when there are fewer).
    pub async fn failure_reasons(
        &self,
        id: &CampaignId,
        max: usize,
    ) -> Result<FailureReasons, QueueError> {
        let key = self.keys.failed(id);
        let mut conn = self.conn();
        let in_set: u64 = conn
            .scard(&key)
            .await
            .map_err(QueueError::redis("read failures"))?;
        if in_set == 0 || max == 0 {
            return Ok(FailureReasons {
                in_set,
                ..FailureReasons::default()
            });
        }
        // SRANDMEMBER with a positive count returns distinct members, at most `max`.
        let members: Vec<String> = redis::cmd("SRANDMEMBER")
            .arg(&key)
            .arg(max)
            .query_async(&mut conn)
            .await
            .map_err(QueueError::redis("read failures"))?;
        let rows: Vec<Row> = members.iter().filter_map(|m| m.parse().ok()).collect();
        let values = self
            .message_fields(id, &rows, &["status", "error_code", "error"])
            .await?;
        let mut groups: HashMap<(MessageStatus, Option<String>, Option<String>), u64> =
            HashMap::new();
        for mut fields in values {
            // A row that stopped failing since the sample was drawn is not a reason.
            let Some(status) = fields[0].as_deref().and_then(|s| s.parse().ok()) else {
                continue;
            };
            let error = fields[2].take();
            let code = fields[1].take();
            *groups.entry((status, code, error)).or_default() += 1;
        }
        let mut reasons: Vec<FailureReason> = groups
            .into_iter()
            .map(|((status, code, error), count)| FailureReason {
                status,
                code,
                error,
                count,
            })
            .collect();
        reasons.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.code.cmp(&b.code))
                .then_with(|| a.error.cmp(&b.error))
        });
        Ok(FailureReasons {
            in_set,
            examined: u64::try_from(rows.len()).unwrap_or(u64::MAX),
            reasons,
        })
    }

    /// The earliest and latest `sent_at` among the campaign's messages, reading at most
    /// `max_samples` evenly spaced rows of `1..=rows` (every row when there are fewer).
    pub async fn send_times(
        &self,
        id: &CampaignId,
        rows: Row,
        max_samples: u64,
    ) -> Result<SendTimes, QueueError> {
        if rows == 0 || max_samples == 0 {
            return Ok(SendTimes {
                exact: rows == 0,
                ..SendTimes::default()
            });
        }
        let stride = rows.div_ceil(max_samples);
        let mut sample: Vec<Row> = (1..=rows)
            .step_by(usize::try_from(stride).unwrap_or(1))
            .collect();
        if sample.last() != Some(&rows) {
            sample.push(rows);
        }
        let values = self.message_fields(id, &sample, &["sent_at"]).await?;
        let mut times = SendTimes {
            examined: u64::try_from(sample.len()).unwrap_or(u64::MAX),
            exact: stride == 1,
            ..SendTimes::default()
        };
        for value in values.into_iter().filter_map(|mut v| v.pop().flatten()) {
            let Ok(at) = DateTime::parse_from_rfc3339(&value) else {
                continue;
            };
            let at = at.with_timezone(&Utc);
            times.first = Some(times.first.map_or(at, |t| t.min(at)));
            times.last = Some(times.last.map_or(at, |t| t.max(at)));
        }
        Ok(times)
    }

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
                let now = now_ms();
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
            .arg(rfc3339_ms(now_ms()))
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

    /// Whether a number is on the opt-out list.
    pub async fn is_opted_out(&self, number: &PhoneNumber) -> Result<bool, QueueError> {
        self.conn()
            .sismember(self.keys.optout(), number.digits())
            .await
            .map_err(QueueError::redis("check opt-out"))
    }

    /// How many numbers are on the opt-out list.
    pub async fn optout_count(&self) -> Result<u64, QueueError> {
        self.conn()
            .scard(self.keys.optout())
            .await
            .map_err(QueueError::redis("count opt-outs"))
    }

    /// Waits until the campaign has no message claimed or sending, polling every `every`, for
    /// at most `timeout`. Returns the last record read.
    pub async fn settle(
        &self,
        id: &CampaignId,
        every: Duration,
        timeout: Duration,
    ) -> Result<CampaignRecord, QueueError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let record = self.load_campaign(id).await?;
            let busy = record.counters.claimed + record.counters.sending;
            if busy == 0 || tokio::time::Instant::now() + every > deadline {
                return Ok(record);
            }
            tokio::time::sleep(every).await;
        }
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

fn corrupt(key: &str, field: &str, detail: impl std::fmt::Display) -> QueueError {
    QueueError::Corrupt {
        key: key.to_string(),
        field: field.to_string(),
        detail: detail.to_string(),
    }
}

fn parse_state(key: &str, text: &str) -> Result<CampaignState, QueueError> {
    text.parse().map_err(|e| corrupt(key, "state", e))
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
