//! Campaign-level operations: create, load, finish the ingest, pause, resume, cancel, and the
//! wait for a campaign's messages in flight to settle.
//!
//! The campaign hash holds the spec as readable strings (`content` and `columns` as JSON), the
//! `state`, the ingest progress (`ingest`, `rows`) and the counters. Pause and cancel walk the
//! campaign's rows `1..=rows` in chunks of [`WALK_CHUNK`]: the rows are dense, so this needs no
//! index of a campaign's due entries, and each chunk is a short script.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::AsyncCommands;

use crate::campaign::{BirdTarget, Campaign, CampaignId, CampaignState, ProviderKind};
use crate::message::Row;
use crate::phone::PhoneNumber;
use crate::queue::bounds::{MAX_PAUSE_REASON_LEN, WALK_CHUNK, truncate};
use crate::queue::clock::rfc3339_ms;
use crate::queue::connection::Queue;
use crate::queue::error::{QueueError, corrupt};
use crate::queue::lifecycle::MessageStatus;
use crate::queue::scripts::SCRIPTS;

/// What [`Queue::create_campaign`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// The campaign is new.
    New,
    /// The campaign exists and its enqueue never finished (it was interrupted): enqueue again;
    /// rows already stored are skipped.
    Resume,
}

/// Whether a campaign's rows are still being enqueued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingest {
    /// `wacast enqueue` is adding rows, or was interrupted.
    Running,
    /// Every row is in; the campaign completes when its last message is final.
    Done,
}

/// A campaign's counters: how many of its messages are in each status, and totals.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counters {
    /// Messages enqueued (rows accepted).
    pub total: u64,
    /// Rows rejected by the producer (as it reported with `finish_ingest`).
    pub rejected: u64,
    /// Waiting to be claimed (due, later, or set aside by a pause).
    pub queued: u64,
    /// Claimed by a worker, not yet sending.
    pub claimed: u64,
    /// Their request is being made.
    pub sending: u64,
    /// Accepted by the provider.
    pub sent: u64,
    /// Refused for good.
    pub failed: u64,
    /// Not sent before their validity ended.
    pub expired: u64,
    /// Cancelled before they were sent.
    pub cancelled: u64,
    /// May or may not have been sent.
    pub unknown: u64,
    /// Provider attempts that were retried.
    pub retries: u64,
    /// The sum of the prices the provider reported.
    pub cost: f64,
    /// Messages the provider reported delivered (or read, which implies it).
    pub delivered: u64,
    /// Messages the recipient read.
    pub read: u64,
    /// Messages the recipient answered (an inbound message within the reply window).
    pub replied: u64,
    /// Sent messages the provider reported failed afterwards (a late failure).
    pub delivery_failed: u64,
    /// Messages whose recipient opted out through them (a STOP reply, or WhatsApp's 131050).
    pub opted_out: u64,
    /// Late 131049 failures (the recipient's marketing limit) that put a message back in the
    /// queue: an event count, one message can be deferred more than once.
    pub deferred: u64,
}

impl Counters {
    /// The counter of one status.
    pub fn of(&self, status: MessageStatus) -> u64 {
        match status {
            MessageStatus::Queued => self.queued,
            MessageStatus::Claimed => self.claimed,
            MessageStatus::Sending => self.sending,
            MessageStatus::Sent => self.sent,
            MessageStatus::Failed => self.failed,
            MessageStatus::Expired => self.expired,
            MessageStatus::Cancelled => self.cancelled,
            MessageStatus::Unknown => self.unknown,
        }
    }

    /// Messages that are not final yet: queued, claimed or sending.
    pub fn open(&self) -> u64 {
        self.queued + self.claimed + self.sending
    }
}

/// A campaign as stored: its spec, state, ingest progress and counters.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignRecord {
    /// The spec every row shares.
    pub campaign: Campaign,
    /// Where it is in its life.
    pub state: CampaignState,
    /// Whether rows are still being added.
    pub ingest: Ingest,
    /// The highest row enqueued so far; rows are `1..=rows` (some may be missing: rejected).
    pub rows: Row,
    /// Its counters.
    pub counters: Counters,
    /// When its first message was claimed.
    pub started_at: Option<DateTime<Utc>>,
    /// When its last message became final (or it was cancelled and nothing was left).
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it was paused, when a reason was given (a provider's `Halt`).
    pub pause_reason: Option<String>,
    /// The last time a sender limit or the send window put its messages off: why, and until
    /// when (in the past once they went on).
    pub waiting: Option<Waiting>,
}

/// Why a campaign's messages wait, as the claim (or a worker) last recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// `rate`, `pair`, `tier` or `window`.
    pub reason: String,
    /// Until when.
    pub until: DateTime<Utc>,
}

impl Waiting {
    /// What the reason means, for people.
    pub fn describe(&self) -> &'static str {
        match self.reason.as_str() {
            "rate" => "for the sender's rate limit",
            "pair" => "for the recipient pair limit (one message per recipient per interval)",
            "tier" => "for the messaging tier (unique recipients per 24 hours)",
            "window" => "for the send window",
            _ => "for a sender limit",
        }
    }
}

/// What [`Queue::cancel`] changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CancelReport {
    /// Queued messages marked cancelled.
    pub cancelled: u64,
    /// Messages claimed or sending at the end of the walk: their workers record them (cancelled,
    /// unless a request was already under way).
    pub in_flight: u64,
}

impl Queue {
    /// Creates a campaign (`state` scheduled, `ingest` running, counters zero), or reports that
    /// an interrupted enqueue of it can be resumed. Fails with [`QueueError::CampaignExists`]
    /// when it exists and its enqueue finished. Atomic: two producers racing both see the truth.
    pub async fn create_campaign(&self, campaign: &Campaign) -> Result<Created, QueueError> {
        let fields = campaign_fields(campaign);
        let mut invocation = SCRIPTS.create_campaign.prepare_invoke();
        invocation
            .key(self.keys.campaign(&campaign.id))
            .key(self.keys.campaigns())
            .arg(campaign.id.as_str())
            .arg(campaign.created_at.timestamp_millis());
        for (name, value) in &fields {
            invocation.arg(*name).arg(value.as_str());
        }
        let answer: String = invocation
            .invoke_async(&mut self.conn())
            .await
            .map_err(QueueError::redis("create campaign"))?;
        match answer.as_str() {
            "new" => Ok(Created::New),
            "resume" => Ok(Created::Resume),
            _ => Err(QueueError::CampaignExists(campaign.id.clone())),
        }
    }

    /// Loads a campaign's spec, state and counters.
    pub async fn load_campaign(&self, id: &CampaignId) -> Result<CampaignRecord, QueueError> {
        let key = self.keys.campaign(id);
        let fields: HashMap<String, String> = self
            .conn()
            .hgetall(&key)
            .await
            .map_err(QueueError::redis("load campaign"))?;
        if fields.is_empty() {
            return Err(QueueError::NotFound(id.clone()));
        }
        parse_record(&key, &fields)
    }

    /// Marks the campaign's enqueue finished with `rejected` rejected rows. If every message is
    /// already final (or there is none), the campaign completes now. Returns its state.
    pub async fn finish_ingest(
        &self,
        id: &CampaignId,
        rejected: u64,
    ) -> Result<CampaignState, QueueError> {
        let state: Option<String> = SCRIPTS
            .finish_ingest
            .key(self.keys.campaign(id))
            .arg(rejected)
            .arg(rfc3339_ms(self.now_ms()))
            .invoke_async(&mut self.conn())
            .await
            .map_err(QueueError::redis("finish ingest"))?;
        let state = state.ok_or_else(|| QueueError::NotFound(id.clone()))?;
        parse_state(&self.keys.campaign(id), &state)
    }

    /// Pauses a campaign: no more of its messages are claimed, and its single due entries are
    /// moved aside with their scores (runs of rows move aside when the fetcher meets them; see
    /// [`crate::keys`]). `reason` is shown to the operator (a provider's `Halt`). Messages
    /// already claimed go aside when their worker asks to send them. Refused for cancelled and
    /// completed campaigns; pausing a paused campaign walks it again. Returns how many due
    /// entries the walk moved.
    pub async fn pause(&self, id: &CampaignId, reason: Option<&str>) -> Result<u64, QueueError> {
        let rows = self.set_state(id, "pause", reason.unwrap_or("")).await?;
        let mut moved = 0;
        let mut from = 1;
        while from <= rows {
            let to = rows.min(from + WALK_CHUNK - 1);
            let n: i64 = SCRIPTS
                .pause_chunk
                .key(self.keys.campaign(id))
                .key(self.keys.due())
                .key(self.keys.paused(id))
                .arg(id.as_str())
                .arg(from)
                .arg(to)
                .invoke_async(&mut self.conn())
                .await
                .map_err(QueueError::redis("pause"))?;
            if n < 0 {
                // Resumed or cancelled meanwhile: that command owns the campaign now.
                break;
            }
            moved += n.unsigned_abs();
            from = to + 1;
        }
        Ok(moved)
    }

    /// Resumes a paused campaign: its set-aside entries go back to the due set with their
    /// scores, and idle workers are woken. Resuming a running campaign finishes an interrupted
    /// resume. Refused for cancelled and completed campaigns. Returns how many entries moved.
    pub async fn resume(&self, id: &CampaignId) -> Result<u64, QueueError> {
        self.set_state(id, "resume", "").await?;
        let mut moved = 0;
        loop {
            let n: i64 = SCRIPTS
                .resume_chunk
                .key(self.keys.campaign(id))
                .key(self.keys.paused(id))
                .key(self.keys.due())
                .arg(WALK_CHUNK)
                .arg(self.keys.wake())
                .invoke_async(&mut self.conn())
                .await
                .map_err(QueueError::redis("resume"))?;
            if n < 0 {
                break;
            }
            moved += n.unsigned_abs();
            if n.unsigned_abs() < WALK_CHUNK {
                break;
            }
        }
        Ok(moved)
    }

    /// Cancels a campaign: every queued message (due, later or set aside) becomes `cancelled`.
    /// Claimed and sending messages are left to their workers, which record them cancelled
    /// unless their request was already under way. Refused for completed campaigns; cancelling
    /// a cancelled campaign walks it again.
    pub async fn cancel(&self, id: &CampaignId) -> Result<CancelReport, QueueError> {
        let rows = self.set_state(id, "cancel", "").await?;
        let msg_prefix = self.keys.message_prefix(id);
        let mut cancelled = 0;
        let mut from = 1;
        while from <= rows {
            let to = rows.min(from + WALK_CHUNK - 1);
            let n: u64 = SCRIPTS
                .cancel_chunk
                .key(self.keys.campaign(id))
                .key(self.keys.due())
                .key(self.keys.paused(id))
                .arg(id.as_str())
                .arg(from)
                .arg(to)
                .arg(&msg_prefix)
                .arg(rfc3339_ms(self.now_ms()))
                .invoke_async(&mut self.conn())
                .await
                .map_err(QueueError::redis("cancel"))?;
            cancelled += n;
            from = to + 1;
        }
        let record = self.load_campaign(id).await?;
        Ok(CancelReport {
            cancelled,
            in_flight: record.counters.claimed + record.counters.sending,
        })
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

    /// Changes the state for `action` and returns the campaign's `rows`.
    async fn set_state(
        &self,
        id: &CampaignId,
        action: &'static str,
        reason: &str,
    ) -> Result<Row, QueueError> {
        let key = self.keys.campaign(id);
        let answer: Option<(String, String)> = SCRIPTS
            .set_state
            .key(&key)
            .arg(action)
            .arg(rfc3339_ms(self.now_ms()))
            .arg(truncate(reason, MAX_PAUSE_REASON_LEN))
            .invoke_async(&mut self.conn())
            .await
            .map_err(QueueError::redis(action))?;
        let (verdict, detail) = answer.ok_or_else(|| QueueError::NotFound(id.clone()))?;
        if verdict == "ok" {
            return detail.parse().map_err(|_| corrupt(&key, "rows", &detail));
        }
        Err(QueueError::InvalidState {
            campaign: id.clone(),
            state: parse_state(&key, &detail)?,
            action: match action {
                "pause" => "paused",
                "resume" => "resumed",
                _ => "cancelled",
            },
        })
    }
}

/// The campaign hash's fields at creation, every value a plain string.
fn campaign_fields(campaign: &Campaign) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("id", campaign.id.to_string()),
        ("provider", campaign.provider.as_str().to_string()),
        ("from", campaign.from.digits().to_string()),
        ("kind", campaign.kind().to_string()),
    ];
    // Only for people reading the hash: `content` is what is used.
    if let Some(template) = campaign.template_name() {
        fields.push(("template", template.to_string()));
    }
    if let Some(language) = campaign.template_language() {
        fields.push(("language", language.to_string()));
    }
    if let Some(bird) = &campaign.bird {
        fields.extend([
            ("workspace", bird.workspace_id.clone()),
            ("channel", bird.channel_id.clone()),
            (
                "tags",
                serde_json::Value::from(bird.tags.clone()).to_string(),
            ),
        ]);
    }
    fields.extend([
        ("content", campaign.content.to_string()),
        (
            "columns",
            serde_json::Value::from(campaign.columns.clone()).to_string(),
        ),
        ("send_at", rfc3339(campaign.send_at)),
        ("ttl", campaign.ttl_minutes.to_string()),
        ("handoff_ahead", campaign.handoff_ahead_minutes.to_string()),
    ]);
    if let Some(label) = &campaign.label {
        fields.push(("label", label.clone()));
    }
    if let Some(window) = &campaign.window {
        fields.push(("window", window.to_string()));
    }
    if campaign.only_open_window {
        fields.push(("only_window", "1".to_string()));
    }
    fields.push(("tz", campaign.tz.name().to_string()));
    fields.extend([
        (
            "performance_tracking",
            if campaign.performance_tracking {
                "1"
            } else {
                "0"
            }
            .to_string(),
        ),
        ("created_at", rfc3339(campaign.created_at)),
        ("state", CampaignState::Scheduled.as_str().to_string()),
        ("ingest", "running".to_string()),
        ("rows", "0".to_string()),
    ]);
    for counter in COUNTERS {
        fields.push((counter, "0".to_string()));
    }
    fields.push(("cost", "0".to_string()));
    fields
}

/// The integer counters of a campaign hash.
const COUNTERS: [&str; 11] = [
    "total",
    "rejected",
    "queued",
    "claimed",
    "sending",
    "sent",
    "failed",
    "expired",
    "cancelled",
    "unknown",
    "retries",
];

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// A campaign's `state` as stored in `key`.
pub(crate) fn parse_state(key: &str, text: &str) -> Result<CampaignState, QueueError> {
    CampaignState::from_str(text).map_err(|e| corrupt(key, "state", e))
}

pub(crate) fn parse_record(
    key: &str,
    fields: &HashMap<String, String>,
) -> Result<CampaignRecord, QueueError> {
    let get = |name: &str| {
        fields
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| corrupt(key, name, "missing"))
    };
    let time = |name: &str| -> Result<Option<DateTime<Utc>>, QueueError> {
        fields
            .get(name)
            .map(|text| {
                DateTime::parse_from_rfc3339(text)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| corrupt(key, name, e))
            })
            .transpose()
    };
    let number = |name: &str| -> Result<u64, QueueError> {
        let text = get(name)?;
        text.parse::<u64>()
            .map_err(|_| corrupt(key, name, format!("{text:?} is not a count")))
    };
    let json = |name: &str| -> Result<serde_json::Value, QueueError> {
        serde_json::from_str(get(name)?).map_err(|e| corrupt(key, name, e))
    };

    let provider: ProviderKind = get("provider")?
        .parse()
        .map_err(|e| corrupt(key, "provider", e))?;
    let bird = match provider {
        ProviderKind::Seven => None,
        ProviderKind::Bird => Some(BirdTarget {
            workspace_id: get("workspace")?.to_string(),
            channel_id: get("channel")?.to_string(),
            tags: serde_json::from_value(json("tags")?).map_err(|e| corrupt(key, "tags", e))?,
        }),
    };
    let columns: Vec<String> =
        serde_json::from_value(json("columns")?).map_err(|e| corrupt(key, "columns", e))?;
    let campaign = Campaign {
        id: CampaignId::parse(get("id")?).map_err(|e| corrupt(key, "id", e))?,
        provider,
        from: PhoneNumber::from_stored(get("from")?).map_err(|e| corrupt(key, "from", e))?,
        content: json("content")?,
        columns,
        send_at: time("send_at")?.ok_or_else(|| corrupt(key, "send_at", "missing"))?,
        ttl_minutes: get("ttl")?.parse().map_err(|e| corrupt(key, "ttl", e))?,
        label: fields.get("label").cloned(),
        performance_tracking: get("performance_tracking")? == "1",
        created_at: time("created_at")?.ok_or_else(|| corrupt(key, "created_at", "missing"))?,
        // Campaigns created before the option existed have no field: no handoff.
        handoff_ahead_minutes: fields
            .get("handoff_ahead")
            .map(|m| m.parse().map_err(|e| corrupt(key, "handoff_ahead", e)))
            .transpose()?
            .unwrap_or(0),
        bird,
        window: fields
            .get("window")
            .map(|w| w.parse().map_err(|e| corrupt(key, "window", e)))
            .transpose()?,
        // Absent unless set, like every optional field.
        only_open_window: fields.get("only_window").is_some_and(|v| v == "1"),
        // Campaigns created before the zone was kept showed their times in UTC.
        tz: fields
            .get("tz")
            .map(|tz| tz.parse().map_err(|e| corrupt(key, "tz", e)))
            .transpose()?
            .unwrap_or_default(),
    };
    // The delivery counters came with the providers' callbacks: a campaign created before
    // them, or one no callback reached yet, has none, which is zero.
    let optional_number = |name: &str| -> Result<u64, QueueError> {
        match fields.get(name) {
            Some(_) => number(name),
            None => Ok(0),
        }
    };
    let cost_text = get("cost")?;
    let counters = Counters {
        total: number("total")?,
        rejected: number("rejected")?,
        queued: number("queued")?,
        claimed: number("claimed")?,
        sending: number("sending")?,
        sent: number("sent")?,
        failed: number("failed")?,
        expired: number("expired")?,
        cancelled: number("cancelled")?,
        unknown: number("unknown")?,
        retries: number("retries")?,
        cost: cost_text
            .parse()
            .map_err(|_| corrupt(key, "cost", format!("{cost_text:?} is not a number")))?,
        delivered: optional_number("delivered")?,
        read: optional_number("read")?,
        replied: optional_number("replied")?,
        delivery_failed: optional_number("delivery_failed")?,
        opted_out: optional_number("opted_out")?,
        deferred: optional_number("deferred")?,
    };
    let ingest = match get("ingest")? {
        "running" => Ingest::Running,
        "done" => Ingest::Done,
        other => return Err(corrupt(key, "ingest", format!("unknown value {other:?}"))),
    };
    Ok(CampaignRecord {
        campaign,
        state: parse_state(key, get("state")?)?,
        ingest,
        rows: number("rows")?,
        counters,
        started_at: time("started_at")?,
        finished_at: time("finished_at")?,
        pause_reason: fields.get("pause_reason").cloned(),
        waiting: match (fields.get("waiting"), time("waiting_until")?) {
            (Some(reason), Some(until)) => Some(Waiting {
                reason: reason.clone(),
                until,
            }),
            _ => None,
        },
    })
}
