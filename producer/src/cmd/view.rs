//! What the operator commands share: connecting (fast failure when Redis is down), reading a
//! campaign with a clear refusal when it does not exist, and showing a campaign as the stable
//! JSON object (documented in `wacast status --help` and the README) or as text.

use std::io::Write;

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use wacast_shared::campaign::{CampaignId, CampaignState};
use wacast_shared::queue::{CampaignRecord, Counters, Ingest, Queue, Waiting};
use wacast_shared::window::WindowZone;

use crate::cli::GlobalArgs;
use crate::cmd::enqueue::redact_url;

/// Connects to Redis for one command, failing within seconds when it does not answer.
pub(crate) async fn connect(global: &GlobalArgs) -> anyhow::Result<Queue> {
    Queue::connect_once(&global.redis_url, &global.prefix)
        .await
        .with_context(|| {
            format!(
                "cannot connect to Redis at {}",
                redact_url(&global.redis_url)
            )
        })
}

/// Checks a campaign id given on the command line.
pub(crate) fn parse_id(text: &str) -> anyhow::Result<CampaignId> {
    Ok(CampaignId::parse(text)?)
}

/// A campaign, or the error that says it does not exist (and how to find the right id).
pub(crate) async fn load(queue: &Queue, id: &CampaignId) -> anyhow::Result<CampaignRecord> {
    // `QueueError::NotFound` already reads "campaign X does not exist: check the id with
    // `wacast list`"; no context is added, so that it is the whole message.
    Ok(queue.load_campaign(id).await?)
}

/// Whether nothing about the campaign will change on its own any more: completed, or
/// cancelled with no message left in flight.
pub(crate) fn is_settled(record: &CampaignRecord) -> bool {
    match record.state {
        CampaignState::Completed => true,
        CampaignState::Cancelled => record.counters.claimed + record.counters.sending == 0,
        _ => false,
    }
}

/// Messages that reached a final status.
pub(crate) fn n_final(c: &Counters) -> u64 {
    c.sent + c.failed + c.expired + c.cancelled + c.unknown
}

/// The share of messages that are final, from 0 to 1; a campaign without messages is done
/// once its enqueue is.
pub(crate) fn progress(record: &CampaignRecord) -> f64 {
    let c = &record.counters;
    if c.total == 0 {
        return if record.ingest == Ingest::Done {
            1.0
        } else {
            0.0
        };
    }
    n_final(c) as f64 / c.total as f64
}

/// RFC 3339 in UTC with whole seconds, as every JSON time is written.
pub(crate) fn time_json(at: Option<DateTime<Utc>>) -> Value {
    at.map_or(Value::Null, |t| {
        t.to_rfc3339_opts(SecondsFormat::Secs, true).into()
    })
}

/// `2026-05-01 09:00:00 UTC`, or `-`.
pub(crate) fn time_text(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(
        || "-".to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// A cost with four decimals (seven's prices have up to four), cutting float residue.
pub(crate) fn cost_json(cost: f64) -> Value {
    json!((cost * 10_000.0).round() / 10_000.0)
}

/// The counters object of the JSON form.
pub(crate) fn counters_json(c: &Counters) -> Value {
    json!({
        "total": c.total,
        "rejected": c.rejected,
        "queued": c.queued,
        "claimed": c.claimed,
        "sending": c.sending,
        "sent": c.sent,
        "failed": c.failed,
        "expired": c.expired,
        "cancelled": c.cancelled,
        "unknown": c.unknown,
        "retries": c.retries,
    })
}

/// The stable JSON object of a campaign: its spec, state, progress, cost and counters. Every
/// command that shows a campaign starts from this object and adds its own fields.
pub(crate) fn campaign_json(record: &CampaignRecord) -> Map<String, Value> {
    let campaign = &record.campaign;
    let content = &campaign.content;
    let text = |name: &str| {
        content
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let mut out = Map::new();
    out.insert("campaign".into(), campaign.id.as_str().into());
    out.insert("label".into(), campaign.label.clone().into());
    out.insert("state".into(), record.state.as_str().into());
    out.insert("kind".into(), campaign.kind().into());
    out.insert(
        "template".into(),
        if campaign.kind() == "template" {
            text("template").into()
        } else {
            Value::Null
        },
    );
    out.insert(
        "language".into(),
        if campaign.kind() == "template" {
            text("language").into()
        } else {
            Value::Null
        },
    );
    out.insert("from".into(), campaign.from.digits().into());
    out.insert("provider".into(), campaign.provider.as_str().into());
    out.insert("created_at".into(), time_json(Some(campaign.created_at)));
    out.insert("send_at".into(), time_json(Some(campaign.send_at)));
    out.insert("ttl_minutes".into(), campaign.ttl_minutes.into());
    out.insert(
        "handoff_ahead_minutes".into(),
        campaign.handoff_ahead_minutes.into(),
    );
    out.insert(
        "ingest".into(),
        match record.ingest {
            Ingest::Running => "running",
            Ingest::Done => "done",
        }
        .into(),
    );
    out.insert("rows".into(), record.rows.into());
    out.insert("started_at".into(), time_json(record.started_at));
    out.insert("finished_at".into(), time_json(record.finished_at));
    out.insert("pause_reason".into(), record.pause_reason.clone().into());
    out.insert(
        "window".into(),
        campaign.window.as_ref().map(ToString::to_string).into(),
    );
    out.insert(
        "waiting".into(),
        match waiting_now(record, Utc::now()) {
            Some(w) => json!({"reason": w.reason, "until": time_json(Some(w.until))}),
            None => Value::Null,
        },
    );
    out.insert(
        "progress".into(),
        json!((progress(record) * 10_000.0).round() / 10_000.0),
    );
    out.insert("cost".into(), cost_json(record.counters.cost));
    out.insert("counters".into(), counters_json(&record.counters));
    out
}

/// Why the campaign's queued messages wait now, if they do: what a limit last recorded (while
/// it lasts, and briefly after, as the rate limit renews it with every claim), or the
/// campaign's own send window when it is closed.
pub(crate) fn waiting_now(record: &CampaignRecord, now: DateTime<Utc>) -> Option<Waiting> {
    let open = matches!(
        record.state,
        CampaignState::Scheduled | CampaignState::Running
    ) && record.counters.queued > 0;
    if !open {
        return None;
    }
    if let Some(w) = &record.waiting
        && w.until + chrono::Duration::seconds(2) > now
    {
        return Some(w.clone());
    }
    let window = record.campaign.window.as_ref()?;
    // A window on one clock can be judged without a recipient; `recipient` ones cannot.
    let zones = window.zones_of(&record.campaign.from).ok()?;
    if !matches!(window.zone, WindowZone::Fixed(_)) || window.is_open(now, &zones) {
        return None;
    }
    Some(Waiting {
        reason: "window".into(),
        until: window.next_opening(now, &zones).ok()?,
    })
}

/// `95.0% (950 of 1000)`.
pub(crate) fn progress_text(record: &CampaignRecord) -> String {
    format!(
        "{:.1}% ({} of {})",
        progress(record) * 100.0,
        n_final(&record.counters),
        record.counters.total
    )
}

/// The counters as two aligned lines of text.
pub(crate) fn counters_text(c: &Counters) -> [String; 2] {
    [
        format!(
            "queued {}  claimed {}  sending {}",
            c.queued, c.claimed, c.sending
        ),
        format!(
            "sent {}  failed {}  expired {}  cancelled {}  unknown {}",
            c.sent, c.failed, c.expired, c.cancelled, c.unknown
        ),
    ]
}

/// Text output: `label     value` lines, labels padded to one width.
#[derive(Debug, Default)]
pub(crate) struct Lines(String);

impl Lines {
    pub(crate) fn line(&mut self, label: &str, value: impl std::fmt::Display) {
        self.0.push_str(&format!("{label:<12} {value}\n"));
    }

    pub(crate) fn into_string(self) -> String {
        self.0
    }
}

/// Writes text to stdout and flushes it (a closed pipe is not an error worth a message).
pub(crate) fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Writes one JSON value and a newline to stdout.
pub(crate) fn print_json(value: &Value) -> anyhow::Result<()> {
    print(&format!("{value}\n"))
}

/// A duration for people: `45s`, `12m 5s`, `3h 20m`, `2d 4h`.
pub(crate) fn duration_text(d: chrono::Duration) -> String {
    let secs = d.num_seconds().max(0);
    let (days, hours, minutes, seconds) =
        (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, _) => format!("{minutes}m {seconds}s"),
        (0, _, _) => format!("{hours}h {minutes}m"),
        _ => format!("{days}d {hours}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_would_say_them() {
        let check = |secs: i64, expect: &str| {
            assert_eq!(duration_text(chrono::Duration::seconds(secs)), expect);
        };
        check(0, "0s");
        check(45, "45s");
        check(725, "12m 5s");
        check(12_000, "3h 20m");
        check(187_200, "2d 4h");
        check(-5, "0s");
    }

    #[test]
    fn costs_lose_their_float_residue() {
        assert_eq!(cost_json(0.1 + 0.2), json!(0.3));
        assert_eq!(cost_json(0.0075 * 3.0), json!(0.0225));
    }
}
