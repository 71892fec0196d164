//! A campaign as the commands show it: the stable JSON object (documented in `wacast status
//! --help` and the README), its progress, counters and delivery funnel as text, and what its
//! state means (settled, waiting).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use wacast_shared::campaign::{Campaign, CampaignState};
use wacast_shared::queue::{CampaignRecord, Counters, Ingest, Waiting};
use wacast_shared::window::WindowZone;

use crate::cmd::output::{cost_json, time_json};

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
    let mut out = Map::new();
    out.insert("campaign".into(), campaign.id.as_str().into());
    out.insert("label".into(), campaign.label.clone().into());
    out.insert("state".into(), record.state.as_str().into());
    out.insert("kind".into(), campaign.kind().into());
    // seven's template name and language; Bird's project id, version and locale.
    out.insert("template".into(), campaign.template_name().into());
    out.insert(
        "template_version".into(),
        bird_template_version(campaign).into(),
    );
    out.insert("language".into(), campaign.template_language().into());
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
    let c = &record.counters;
    for (name, value) in [
        ("delivered", c.delivered),
        ("read", c.read),
        ("replied", c.replied),
        ("delivery_failed", c.delivery_failed),
        ("opted_out", c.opted_out),
        ("deferred", c.deferred),
    ] {
        out.insert(name.into(), value.into());
    }
    out
}

/// A Bird template's version; `None` for seven, which names templates without one.
fn bird_template_version(campaign: &Campaign) -> Option<&str> {
    campaign
        .content
        .get("template")
        .and_then(|t| t.get("version"))
        .and_then(Value::as_str)
}

/// What the campaign sends, for people: `template spring_sale (de)`, `template project 5b7…
/// version 3f2… (de-DE)` (Bird), or the message kind (`text`, `image`, …).
pub(crate) fn message_text(campaign: &Campaign) -> String {
    let name = campaign.template_name();
    let language = campaign.template_language().unwrap_or("-");
    match (name, bird_template_version(campaign)) {
        (Some(project), Some(version)) => {
            format!("template project {project} version {version} ({language})")
        }
        (Some(name), None) => format!("template {name} ({language})"),
        (None, _) => campaign.kind().to_string(),
    }
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

/// `95.0% (950 of 1000)`; a cancelled campaign says what it sent and what it cancelled
/// (`cancelled: 0 sent, 1000 cancelled of 1000`), as its share of final messages would read
/// 100% when nothing was sent.
pub(crate) fn progress_text(record: &CampaignRecord) -> String {
    let c = &record.counters;
    if record.state == CampaignState::Cancelled {
        let other = c.failed + c.expired + c.unknown;
        let other = if other > 0 {
            format!(", {other} failed, expired or unknown")
        } else {
            String::new()
        };
        return format!(
            "cancelled: {} sent, {} cancelled{other} of {}",
            c.sent, c.cancelled, c.total
        );
    }
    format!(
        "{:.1}% ({} of {})",
        progress(record) * 100.0,
        n_final(&record.counters),
        record.counters.total
    )
}

/// `n` as a share of `of` in percent with one decimal (`95.5%`), or `-` when `of` is 0.
pub(crate) fn share_text(n: u64, of: u64) -> String {
    if of == 0 {
        return "-".into();
    }
    format!("{:.1}%", n as f64 * 100.0 / of as f64)
}

/// The funnel from the providers' callbacks, as shares of the sent messages:
/// `sent 890 → delivered 95.5% (850) → read 68.5% (610) → replied 4.7% (42)`.
pub(crate) fn funnel_text(c: &Counters) -> String {
    format!(
        "sent {} → delivered {} ({}) → read {} ({}) → replied {} ({})",
        c.sent,
        share_text(c.delivered, c.sent),
        c.delivered,
        share_text(c.read, c.sent),
        c.read,
        share_text(c.replied, c.sent),
        c.replied,
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
