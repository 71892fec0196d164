//! `wacast pause` and `wacast resume` (cancel, which may also talk to seven, is `cancel`).

use std::process::ExitCode;

use redis::AsyncCommands;
use serde_json::Value;
use wacast_shared::campaign::CampaignState;
use wacast_shared::queue::CampaignRecord;

use crate::cli::{Format, GlobalArgs, IdArgs, PauseArgs};
use crate::cmd::{campaign_view, connect, output, refusal::refusal};

pub(crate) async fn pause(global: &GlobalArgs, args: &PauseArgs) -> anyhow::Result<ExitCode> {
    let queue = connect::connect(global).await?;
    let id = connect::parse_id(&args.id)?;
    let before = connect::load(&queue, &id).await?;
    let moved = queue
        .pause(&id, args.reason.as_deref())
        .await
        .map_err(refusal)?;
    let after = connect::load(&queue, &id).await?;
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
    let queue = connect::connect(global).await?;
    let id = connect::parse_id(&args.id)?;
    let before = connect::load(&queue, &id).await?;
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
    let after = connect::load(&queue, &id).await?;
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
        Format::Json => output::print_json(&Value::Object(campaign_view::campaign_json(record)))?,
        Format::Text => output::print(&format!("{text}\n"))?,
    }
    Ok(ExitCode::SUCCESS)
}
