//! A dry run's preview: the first messages as the worker will send them, rendered and
//! validated through the provider's `Renderer` as the worker does.

use anyhow::Context;
use chrono::DateTime;
use serde_json::{Value, json};
use wacast_shared::campaign::Campaign;
use wacast_shared::message::QueuedMessage;
use wacast_shared::provider::request::Renderer;
use wacast_shared::queue::NewMessage;
use wacast_shared::schedule::Schedule;

/// A message as the worker will send it when it claims it at its due time: the provider's
/// request body, validated as the worker validates it.
pub(crate) fn preview_message(
    campaign: &Campaign,
    renderer: &Renderer,
    m: &NewMessage,
) -> anyhow::Result<Value> {
    let message = QueuedMessage {
        campaign: campaign.id.clone(),
        row: m.row,
        to: m.to.clone(),
        values: m.values.clone(),
        overrides: m.overrides.clone(),
        attempts: 0,
    };
    let due = DateTime::from_timestamp_millis(m.due_ms).context("a due time out of range")?;
    let request = renderer
        .render(campaign, &message, due)
        .with_context(|| format!("row {}: its message would be refused", m.row))?;
    let send_at = Schedule::of(campaign, &m.overrides)
        .send_at
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Ok(json!({"row": m.row, "send_at": send_at, "body": request}))
}
