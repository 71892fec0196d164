//! Enqueueing: a chunk of a campaign's rows in one script call (rows to numbers on the opt-out
//! list are left out; see `optout`).
//!
//! A chunk is one EVALSHA: per row one HSET (the message hash) and, only for rows that may
//! already exist (an interrupted enqueue run again), one EXISTS; one SMISMEMBER per 1,000 rows
//! only when the opt-out list is not empty; one due entry per run of consecutive rows due at
//! the same time; the counters once per chunk.
//!
//! Redis runs the chunks one after the other on one core, so its cost per row bounds the whole
//! upload. The arguments are laid out so that the script does as little per row as it can:
//! each row is its message key, number and values as stored (Redis turns every argument into a
//! Lua string, so fewer and ready-made ones are cheaper than numbers to convert or keys to
//! concatenate), and the runs with their due entries are computed here. Measured with
//! callgrind on Redis 7.0 (instructions, so independent of the machine's load): about 21,000
//! instructions per row of two values, of which the HSET itself (listpack inserts) is 9,000,
//! and 23,000 with a non-empty opt-out list; the previous layout (row, due and override count
//! per row, runs found in Lua, SISMEMBER per row) took 27,000 and 31,000.
//! The producer keeps a few chunks in flight on the multiplexed connection; Redis runs them
//! one after the other, each atomically.

use std::fmt::Write as _;

use redis::Value;

use crate::campaign::{CampaignId, CampaignState};
use crate::keys::message_ref;
use crate::message::{Row, RowOverrides};
use crate::phone::PhoneNumber;
use crate::queue::connection::Queue;
use crate::queue::error::QueueError;
use crate::queue::scripts::{self, SCRIPTS};

/// One accepted row, ready to be enqueued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Its row number (1-based data record of the CSV).
    pub row: Row,
    /// The recipient.
    pub to: PhoneNumber,
    /// The values of the campaign's columns, in order.
    pub values: Vec<String>,
    /// The row's overrides of the campaign's options.
    pub overrides: RowOverrides,
    /// When it is due, in unix milliseconds: its send time.
    pub due_ms: i64,
}

/// What one chunk did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChunkResult {
    /// Rows stored as new queued messages.
    pub enqueued: u64,
    /// Rows whose message already existed (an earlier, interrupted run stored them).
    pub skipped_existing: u64,
    /// Rows not stored because their number is on the opt-out list; the producer reports them
    /// as rejected.
    pub opted_out: Vec<Row>,
}

impl Queue {
    /// Enqueues rows of a campaign whose ingest is running. Idempotent per row: a row whose
    /// message exists is skipped, so running an interrupted enqueue again completes it without
    /// duplicates. Rows of a paused campaign are set aside until it is resumed. Every row must
    /// have one value per column of the campaign.
    pub async fn enqueue_chunk(
        &self,
        id: &CampaignId,
        messages: &[NewMessage],
    ) -> Result<ChunkResult, QueueError> {
        let Some(first) = messages.first() else {
            return Ok(ChunkResult::default());
        };
        let n_values = first.values.len();
        if let Some(odd) = messages.iter().find(|m| m.values.len() != n_values) {
            return Err(QueueError::ValueCount {
                campaign: id.clone(),
                row: odd.row,
                expected: n_values,
                got: odd.values.len(),
            });
        }
        // The script trusts these summaries to skip per-row work.
        let min_row = messages.iter().map(|m| m.row).min().unwrap_or(first.row);
        let max_row = messages.iter().map(|m| m.row).max().unwrap_or(first.row);
        let min_due = messages
            .iter()
            .map(|m| m.due_ms)
            .min()
            .unwrap_or(first.due_ms);
        let runs = runs(messages);
        let overrides: Vec<(usize, &'static str, String)> = messages
            .iter()
            .enumerate()
            .flat_map(|(i, m)| {
                override_fields(&m.overrides)
                    .into_iter()
                    .map(move |(name, value)| (i + 1, name, value))
            })
            .collect();
        let ref_prefix = format!("{id}:");
        let mut key = self.keys.message_prefix(id);
        let prefix_len = key.len();

        let n_args = 13 + 3 * runs.len() + 3 * overrides.len() + messages.len() * (2 + n_values);
        let (campaign, due, paused, optout) = (
            self.keys.campaign(id),
            self.keys.due(),
            self.keys.paused(id),
            self.keys.optout(),
        );
        let mut cmd = scripts::evalsha(
            &SCRIPTS.enqueue,
            &[&campaign, &due, &paused, &optout],
            n_args,
            192 + messages.len() * (prefix_len + 64),
        );
        cmd.arg(&key)
            .arg(&ref_prefix)
            .arg(n_values)
            .arg(messages.len())
            .arg(runs.len())
            .arg(overrides.len())
            .arg(self.keys.wake())
            .arg(min_row)
            .arg(max_row)
            .arg(min_due);
        for run in &runs {
            let entry = if run.from == run.to {
                message_ref(id, run.from)
            } else {
                format!("{ref_prefix}{}-{}", run.from, run.to)
            };
            cmd.arg(run.to - run.from + 1).arg(run.due_ms).arg(entry);
        }
        for (position, name, value) in &overrides {
            cmd.arg(*position).arg(*name).arg(value.as_str());
        }
        for message in messages {
            key.truncate(prefix_len);
            // Writing to a String cannot fail.
            let _ = write!(key, "{}", message.row);
            cmd.arg(&key).arg(message.to.digits());
            for value in &message.values {
                cmd.arg(value.as_str());
            }
        }
        let reply: Vec<Value> = scripts::run(&SCRIPTS.enqueue, &cmd, &mut self.conn())
            .await
            .map_err(QueueError::redis("enqueue"))?;
        parse_reply(id, first.row, n_values, reply)
    }
}

/// Consecutive rows due at the same time: one due entry for all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Run {
    from: Row,
    to: Row,
    due_ms: i64,
}

/// The runs of `messages`, in their order.
fn runs(messages: &[NewMessage]) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for m in messages {
        match runs.last_mut() {
            Some(run) if m.row == run.to + 1 && m.due_ms == run.due_ms => run.to = m.row,
            _ => runs.push(Run {
                from: m.row,
                to: m.row,
                due_ms: m.due_ms,
            }),
        }
    }
    runs
}

/// The message hash fields of the overrides a row has; none for most rows.
fn override_fields(overrides: &RowOverrides) -> Vec<(&'static str, String)> {
    let mut fields = Vec::new();
    if let Some(send_at) = overrides.send_at {
        fields.push((
            "send_at",
            send_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        ));
    }
    if let Some(ttl) = overrides.ttl_minutes {
        fields.push(("ttl", ttl.to_string()));
    }
    if let Some(label) = &overrides.label {
        fields.push(("label", label.clone()));
    }
    if let Some(language) = &overrides.language {
        fields.push(("language", language.clone()));
    }
    fields
}

fn parse_reply(
    id: &CampaignId,
    first_row: Row,
    n_values: usize,
    reply: Vec<Value>,
) -> Result<ChunkResult, QueueError> {
    let bad = |detail: &str| QueueError::Corrupt {
        key: format!("campaign {id}"),
        field: "enqueue reply".into(),
        detail: detail.into(),
    };
    match reply.as_slice() {
        [Value::Int(enqueued), Value::Int(skipped), opted] => {
            let opted_out = match opted {
                Value::Array(rows) => rows
                    .iter()
                    .map(|v| match v {
                        Value::Int(row) => Ok(row.unsigned_abs()),
                        _ => Err(bad("opted-out row is not a number")),
                    })
                    .collect::<Result<_, _>>()?,
                _ => Vec::new(),
            };
            Ok(ChunkResult {
                enqueued: enqueued.unsigned_abs(),
                skipped_existing: skipped.unsigned_abs(),
                opted_out,
            })
        }
        [_, reason, detail] => {
            let text = |v: &Value| match v {
                Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                _ => String::new(),
            };
            let detail = text(detail);
            Err(match text(reason).as_str() {
                "notfound" => QueueError::NotFound(id.clone()),
                "ingest" => QueueError::IngestFinished(id.clone()),
                "state" => QueueError::InvalidState {
                    campaign: id.clone(),
                    state: detail.parse().unwrap_or(CampaignState::Cancelled),
                    action: "enqueued to",
                },
                "columns" => QueueError::ValueCount {
                    campaign: id.clone(),
                    row: first_row,
                    expected: detail.parse().unwrap_or(0),
                    got: n_values,
                },
                other => bad(&format!("unexpected refusal {other:?}")),
            })
        }
        _ => Err(bad("unexpected shape")),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use chrono::{TimeZone, Utc};
    use redis::AsyncCommands;
    use serde_json::json;

    use super::*;
    use crate::campaign::{Campaign, ProviderKind};
    use crate::testing::{TestRedis, counters_match_messages};

    const T0: i64 = 1_893_456_000_000;

    fn message(row: Row, due_ms: i64) -> NewMessage {
        NewMessage {
            row,
            to: PhoneNumber::from_stored(&format!("49151{row:08}")).unwrap(),
            values: vec![format!("Name {row}"), format!("A-{row}")],
            overrides: RowOverrides::default(),
            due_ms,
        }
    }

    async fn created(queue: &Queue, id: &str) -> CampaignId {
        let campaign = Campaign {
            id: CampaignId::parse(id).unwrap(),
            provider: ProviderKind::Seven,
            from: PhoneNumber::from_stored("4915112345678").unwrap(),
            content: json!({"type": "template", "template": "order", "language": "de",
                "components": {"body": ["{{name}}", "{{order_id}}"]}}),
            columns: vec!["name".into(), "order_id".into()],
            send_at: Utc.timestamp_millis_opt(T0).unwrap(),
            ttl_minutes: 2880,
            label: None,
            performance_tracking: false,
            created_at: Utc::now(),
            handoff_ahead_minutes: 0,
            bird: None,
            window: None,
            only_open_window: false,
            tz: chrono_tz::UTC,
        };
        queue.create_campaign(&campaign).await.unwrap();
        campaign.id
    }

    /// The due set as entry → score.
    async fn due_entries(queue: &Queue) -> HashMap<String, i64> {
        let entries: Vec<(String, f64)> = queue
            .connection()
            .zrange_withscores(queue.keys().due(), 0, -1)
            .await
            .unwrap();
        entries.into_iter().map(|(e, s)| (e, s as i64)).collect()
    }

    fn entries(list: &[(&str, i64)]) -> HashMap<String, i64> {
        list.iter().map(|(e, s)| (e.to_string(), *s)).collect()
    }

    #[test]
    fn runs_are_consecutive_rows_due_at_the_same_time() {
        let rows: Vec<NewMessage> = [(1, T0), (2, T0), (3, T0 + 1), (5, T0 + 1), (6, T0 + 1)]
            .into_iter()
            .map(|(row, due)| message(row, due))
            .collect();
        let got: Vec<(Row, Row, i64)> = runs(&rows)
            .into_iter()
            .map(|r| (r.from, r.to, r.due_ms))
            .collect();
        assert_eq!(got, vec![(1, 2, T0), (3, 3, T0 + 1), (5, 6, T0 + 1)]);
    }

    /// Rows that are not stored (opted out, or stored by an earlier run) split their run's due
    /// entry, and the overrides of the rows after them still land on the right rows.
    #[tokio::test]
    async fn rows_not_stored_split_their_run_and_keep_overrides_in_place() {
        let queue = TestRedis::shared().await.queue().await;
        let id = created(&queue, "split").await;
        let mut rows: Vec<NewMessage> = (1..=8).map(|row| message(row, T0)).collect();
        rows[7].due_ms = T0 + 60_000;
        // Row 3 opts out and has an override; rows 4 and 8 have overrides of their own.
        rows[2].overrides.label = Some("opted".into());
        rows[3].overrides.label = Some("four".into());
        rows[7].overrides.ttl_minutes = Some(60);
        rows[7].overrides.language = Some("en".into());
        queue
            .add_optouts(
                &[rows[2].to.clone(), rows[5].to.clone()],
                crate::queue::optout::OptoutSource::Manual,
            )
            .await
            .unwrap();
        // An earlier, interrupted run stored row 1.
        queue.enqueue_chunk(&id, &rows[..1]).await.unwrap();

        let result = queue.enqueue_chunk(&id, &rows).await.unwrap();
        assert_eq!(result.enqueued, 5);
        assert_eq!(result.skipped_existing, 1);
        assert_eq!(result.opted_out, vec![3, 6]);
        assert_eq!(
            due_entries(&queue).await,
            entries(&[
                ("split:1", T0),
                ("split:2", T0),
                ("split:4-5", T0),
                ("split:7", T0),
                ("split:8", T0 + 60_000),
            ])
        );
        let mut conn = queue.connection();
        let label: Option<String> = conn
            .hget(queue.keys().message(&id, 4), "label")
            .await
            .unwrap();
        assert_eq!(label.as_deref(), Some("four"));
        let eight: HashMap<String, String> =
            conn.hgetall(queue.keys().message(&id, 8)).await.unwrap();
        assert_eq!(eight["ttl"], "60");
        assert_eq!(eight["language"], "en");
        assert!(!eight.contains_key("label"), "{eight:?}");
        let three: HashMap<String, String> =
            conn.hgetall(queue.keys().message(&id, 3)).await.unwrap();
        assert!(three.is_empty(), "{three:?}");
        counters_match_messages(&queue, &id).await.unwrap();
    }

    /// The opt-out list is asked in slices of 1,000 numbers; a chunk larger than that finds
    /// opted-out numbers in every slice.
    #[tokio::test]
    async fn opt_outs_are_found_across_a_chunk_of_several_thousand_rows() {
        let queue = TestRedis::shared().await.queue().await;
        let id = created(&queue, "big").await;
        let rows: Vec<NewMessage> = (1..=2500).map(|row| message(row, T0)).collect();
        let opted: Vec<Row> = vec![1, 1000, 1001, 2500];
        let numbers: Vec<PhoneNumber> = opted
            .iter()
            .map(|&row| rows[row as usize - 1].to.clone())
            .collect();
        queue
            .add_optouts(&numbers, crate::queue::optout::OptoutSource::Manual)
            .await
            .unwrap();

        let result = queue.enqueue_chunk(&id, &rows).await.unwrap();
        assert_eq!(result.enqueued, 2496);
        assert_eq!(result.opted_out, opted);
        assert_eq!(
            due_entries(&queue).await,
            entries(&[("big:2-999", T0), ("big:1002-2499", T0)])
        );
        counters_match_messages(&queue, &id).await.unwrap();
    }
}
