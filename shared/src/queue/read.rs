//! What the operator's commands read (`wacast list`, `status`, `report`): the campaigns index,
//! several campaigns at once, message hashes and fields, and a campaign's failure reasons, late
//! failures and send times.
//!
//! Reads are plain commands, pipelined in batches of [`WALK_CHUNK`] so that a campaign of a
//! million rows is walked with a thousand round trips and Redis never serves one large reply.
//! Work that could grow with a campaign's size is capped and says so: the failure reasons of
//! [`Queue::failure_reasons`] look at a random sample of at most the given number of failed
//! rows, [`Queue::late_failures`] walks at most the given number of rows from the first, and
//! [`Queue::send_times`] reads the `sent_at` of at most the given number of evenly spaced rows.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use redis::AsyncCommands;

use crate::campaign::CampaignId;
use crate::message::Row;
use crate::queue::bounds::WALK_CHUNK;
use crate::queue::campaign_store::{CampaignRecord, parse_record};
use crate::queue::connection::Queue;
use crate::queue::error::QueueError;
use crate::queue::lifecycle::MessageStatus;

/// One group of failures: how many sampled failed rows share a status, code and error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureReason {
    /// `failed` or `unknown`.
    pub status: MessageStatus,
    /// The provider's (or wacast's) error code, if any.
    pub code: Option<String>,
    /// The error text, whole.
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

/// One group of late failures: how many of the failures found share a code and error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LateFailure {
    /// The code the provider reported (WhatsApp's: 131049, 131050, 131026, …), if any.
    pub code: Option<String>,
    /// The error text the provider reported, whole.
    pub error: Option<String>,
    /// Failures found with this code and error.
    pub count: u64,
}

/// A campaign's late failures: sent messages whose delivery the provider reported failed
/// afterwards (`delivery` = `failed`), grouped by code and error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LateFailures {
    /// Rows read looking for them.
    pub examined: u64,
    /// Late failures found.
    pub found: u64,
    /// Whether every one was found (the counts are exact): the walk found as many as the
    /// campaign counts, or read every row.
    pub exact: bool,
    /// Groups, most common first.
    pub reasons: Vec<LateFailure>,
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

impl Queue {
    /// The ids of the newest `limit` campaigns (all with `None`), newest first, and how many
    /// campaigns there are.
    pub async fn campaign_ids(
        &self,
        limit: Option<usize>,
    ) -> Result<(Vec<CampaignId>, u64), QueueError> {
        self.campaign_id_range(0, limit.unwrap_or(usize::MAX)).await
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
            let mut hashes: Vec<HashMap<String, String>> = pipe
                .query_async(&mut self.conn())
                .await
                .map_err(QueueError::redis("read messages"))?;
            self.whole_reasons(id, &mut hashes).await?;
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

    /// Replaces each message's `error` and `last_error` by the whole text when the message
    /// refers to it in the campaign's reasons table (`error_ref`, `last_error_ref`): one
    /// round trip for the distinct references of the batch, none when there are none.
    async fn whole_reasons(
        &self,
        id: &CampaignId,
        hashes: &mut [HashMap<String, String>],
    ) -> Result<(), QueueError> {
        const FIELDS: [(&str, &str); 2] =
            [("error", "error_ref"), ("last_error", "last_error_ref")];
        let mut refs: Vec<&str> = hashes
            .iter()
            .flat_map(|fields| FIELDS.iter().filter_map(|(_, r)| fields.get(*r)))
            .map(String::as_str)
            .collect();
        refs.sort_unstable();
        refs.dedup();
        let texts = self.reason_texts(id, &refs).await?;
        for fields in hashes {
            for (field, reference) in FIELDS {
                if let Some(text) = fields.get(reference).and_then(|r| texts.get(r)) {
                    fields.insert(field.to_string(), text.clone());
                }
            }
        }
        Ok(())
    }

    /// The whole texts of the reasons `refs` in campaign `id`'s reasons table, by reference;
    /// one that is not there (the table was full) is left out.
    pub async fn reason_texts(
        &self,
        id: &CampaignId,
        refs: &[&str],
    ) -> Result<HashMap<String, String>, QueueError> {
        if refs.is_empty() {
            return Ok(HashMap::new());
        }
        let texts: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.keys.reasons(id))
            .arg(refs)
            .query_async(&mut self.conn())
            .await
            .map_err(QueueError::redis("read reasons"))?;
        Ok(refs
            .iter()
            .zip(texts)
            .filter_map(|(r, text)| Some((r.to_string(), text?)))
            .collect())
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
            .message_fields(id, &rows, &["status", "error_code", "error", "error_ref"])
            .await?;
        let mut refs: Vec<&str> = values.iter().filter_map(|f| f[3].as_deref()).collect();
        refs.sort_unstable();
        refs.dedup();
        let texts = self.reason_texts(id, &refs).await?;
        let mut groups: HashMap<(MessageStatus, Option<String>, Option<String>), u64> =
            HashMap::new();
        for mut fields in values {
            // A row that stopped failing since the sample was drawn is not a reason.
            let Some(status) = fields[0].as_deref().and_then(|s| s.parse().ok()) else {
                continue;
            };
            // The whole reason, where the message keeps only its beginning.
            let whole = fields[3].as_ref().and_then(|r| texts.get(r)).cloned();
            let error = whole.or_else(|| fields[2].take());
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

    /// The late failures of the campaign's rows `1..=rows`, grouped by code and error, read from
    /// the first row on, in chunks of [`WALK_CHUNK`], until `expected` of them (the campaign's
    /// `delivery_failed` counter) were found or `max_rows` rows were read. No index lists them,
    /// so a campaign of more rows than that is judged by its first rows (sent first, they had
    /// the most time for their callbacks).
    pub async fn late_failures(
        &self,
        id: &CampaignId,
        rows: Row,
        expected: u64,
        max_rows: u64,
    ) -> Result<LateFailures, QueueError> {
        let mut out = LateFailures {
            exact: expected == 0,
            ..LateFailures::default()
        };
        let mut groups: HashMap<(Option<String>, Option<String>), u64> = HashMap::new();
        let last = rows.min(max_rows);
        let mut from: Row = 1;
        while expected > 0 && from <= last && out.found < expected {
            let to = last.min(from + WALK_CHUNK - 1);
            let chunk: Vec<Row> = (from..=to).collect();
            let values = self
                .message_fields(
                    id,
                    &chunk,
                    &["delivery", "delivery_error_code", "delivery_error"],
                )
                .await?;
            for mut fields in values {
                if fields[0].as_deref() != Some("failed") {
                    continue;
                }
                out.found += 1;
                *groups
                    .entry((fields[1].take(), fields[2].take()))
                    .or_default() += 1;
            }
            out.examined += to - from + 1;
            from = to + 1;
        }
        out.exact = out.found >= expected || out.examined >= rows;
        out.reasons = groups
            .into_iter()
            .map(|((code, error), count)| LateFailure { code, error, count })
            .collect();
        out.reasons.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.code.cmp(&b.code))
                .then_with(|| a.error.cmp(&b.error))
        });
        Ok(out)
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
}
