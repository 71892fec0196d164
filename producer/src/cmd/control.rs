//! `wacast pause` and `wacast resume` (cancel, which may also talk to seven, is `cancel`), and
//! the refusals every control command shares: what to do instead, in the error itself.

use std::process::ExitCode;

use redis::AsyncCommands;
use serde_json::Value;
use wacast_shared::campaign::CampaignState;
use wacast_shared::queue::{CampaignRecord, QueueError};

use crate::cli::{Format, GlobalArgs, IdArgs, PauseArgs};
use crate::cmd::view;

pub(crate) async fn pause(global: &GlobalArgs, args: &PauseArgs) -> anyhow::Result<ExitCode> {
    let queue = view::connect(global).await?;
    let id = view::parse_id(&args.id)?;
    let before = view::load(&queue, &id).await?;
    let moved = queue
        .pause(&id, args.reason.as_deref())
        .await
        .map_err(refusal)?;
    let after = view::load(&queue, &id).await?;
    let note = if before.state == CampaignState::Paused {
        " (it was paused already)"
    } else {
        ""
    };
    tracing::info!(campaign = %id, moved, "Campaign paused.");
    report(
        global,
        &after,
        &format!(
            "campaign {id} paused{note}: none of its messages is sent until `wacast resume {id}`"
        ),
    )
}

pub(crate) async fn resume(global: &GlobalArgs, args: &IdArgs) -> anyhow::Result<ExitCode> {
    let queue = view::connect(global).await?;
    let id = view::parse_id(&args.id)?;
    let before = view::load(&queue, &id).await?;
    if matches!(
        before.state,
        CampaignState::Running | CampaignState::Scheduled
    ) {
        // A resume interrupted half-way leaves the campaign running with entries still aside:
        // running it again finishes it. Otherwise there is nothing to resume.
        let aside: u64 = queue
            .connection()
            .zcard(queue.keys().paused(&id))
            .await
            .map_err(|e| anyhow::anyhow!("cannot read the paused set: {e}"))?;
        if aside == 0 {
            anyhow::bail!(
                "campaign {id} is {}, not paused: there is nothing to resume",
                before.state
            );
        }
    }
    let moved = queue.resume(&id).await.map_err(refusal)?;
    let after = view::load(&queue, &id).await?;
    tracing::info!(campaign = %id, moved, "Campaign resumed.");
    report(
        global,
        &after,
        &format!("campaign {id} resumed: it is {} again", after.state),
    )
}

/// Prints the campaign after a control command.
fn report(global: &GlobalArgs, record: &CampaignRecord, text: &str) -> anyhow::Result<ExitCode> {
    match global.format {
        Format::Json => view::print_json(&Value::Object(view::campaign_json(record)))?,
        Format::Text => view::print(&format!("{text}\n"))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// A queue refusal with what to do instead.
pub(crate) fn refusal(error: QueueError) -> anyhow::Error {
    let QueueError::InvalidState {
        campaign,
        state,
        action,
    } = &error
    else {
        return error.into();
    };
    let hint = match (*state, *action) {
        (CampaignState::Completed, "paused" | "resumed" | "cancelled") => {
            "every message is final already".to_string()
        }
        (CampaignState::Cancelled, "resumed" | "paused") => format!(
            "a cancelled campaign stays cancelled; to send its rows, enqueue the file again \
             with another --id (see `wacast report {campaign} --status cancelled`)"
        ),
        (CampaignState::Running, "retried") => format!(
            "its failures are still changing: wait for it to finish (`wacast wait {campaign}`) \
             or pause it (`wacast pause {campaign}`), then retry"
        ),
        (CampaignState::Cancelled, "retried") => {
            "a cancelled campaign sends nothing more; enqueue the rows again as a new campaign"
                .to_string()
        }
        (CampaignState::Scheduled | CampaignState::Running, "purged") => format!(
            "only finished campaigns are purged: cancel it first (`wacast cancel {campaign}`)"
        ),
        (CampaignState::Paused, "purged") => {
            "a paused campaign still has messages to send: cancel it first, or purge it with \
             --force to drop them"
                .to_string()
        }
        _ => return error.into(),
    };
    anyhow::anyhow!("{error}: {hint}")
}
