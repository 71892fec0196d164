//! `wacast purge ID` and `wacast purge --finished-before AGE`: deletes finished campaigns'
//! keys, in chunks (see `Queue::purge`), so that Redis does not grow without bound.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use wacast_shared::campaign::{CampaignId, CampaignState};
use wacast_shared::queue::{CampaignRecord, PurgeReport, Queue};

use crate::cli::{Format, GlobalArgs, PurgeArgs};
use crate::cmd::confirm::confirm;
use crate::cmd::{connect, output, refusal::refusal};

/// Campaign ids read per page of the campaigns index.
const PAGE: usize = 100;

pub(crate) async fn run(global: &GlobalArgs, args: &PurgeArgs) -> anyhow::Result<ExitCode> {
    let queue = connect::connect(global).await?;
    let mut purged = Vec::new();
    let cutoff = match (&args.id, args.finished_before) {
        (Some(id), _) => {
            let id = connect::parse_id(id)?;
            let record = connect::load(&queue, &id).await?;
            if args.dry_run {
                check_purgeable(&record, args.force)?;
                purged.push((record, None));
            } else {
                // Refused campaigns are refused before the question.
                check_purgeable(&record, args.force)?;
                confirm(
                    &format!(
                        "Purge campaign {id} ({}): delete its {} messages and their report \
                         from Redis for good?",
                        record.state.as_str(),
                        record.counters.total
                    ),
                    args.yes,
                )?;
                let report = queue.purge(&id, args.force).await.map_err(refusal)?;
                purged.push((record, Some(report)));
            }
            None
        }
        (None, Some(age)) => {
            let cutoff = cutoff(queue.now(), age)?;
            let records = finished_before(&queue, cutoff).await?;
            if !args.dry_run && !records.is_empty() {
                let n_messages: u64 = records.iter().map(|r| r.counters.total).sum();
                confirm(
                    &format!(
                        "Purge {} campaigns finished before {}: delete their {n_messages} \
                         messages and reports from Redis for good?",
                        records.len(),
                        output::time_text(Some(cutoff))
                    ),
                    args.yes,
                )?;
            }
            for record in records {
                let report = if args.dry_run {
                    None
                } else {
                    match queue.purge(&record.campaign.id, false).await {
                        Ok(report) => Some(report),
                        // Changed since it was read (retried, say): leave it for the next run.
                        Err(e) if !e.is_redis() => {
                            eprintln!("skipped: {}", refusal(e));
                            continue;
                        }
                        Err(e) => return Err(e.into()),
                    }
                };
                purged.push((record, report));
            }
            Some(cutoff)
        }
        (None, None) => anyhow::bail!("give a campaign id or --finished-before"),
    };
    print(global, args.dry_run, cutoff, &purged)?;
    Ok(ExitCode::SUCCESS)
}

/// `age` before `now` (Redis's time, which `finished_at` was recorded by).
fn cutoff(now: DateTime<Utc>, age: Duration) -> anyhow::Result<DateTime<Utc>> {
    let age = chrono::Duration::from_std(age).context("--finished-before is too long")?;
    now.checked_sub_signed(age)
        .context("--finished-before is too long")
}

/// Finished campaigns whose `finished_at` is before `cutoff`. Only campaigns created before the
/// cutoff can qualify, so only those are read, a page at a time.
async fn finished_before(
    queue: &Queue,
    cutoff: DateTime<Utc>,
) -> anyhow::Result<Vec<CampaignRecord>> {
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let ids: Vec<CampaignId> = queue.campaigns_created_before(cutoff, offset, PAGE).await?;
        if ids.is_empty() {
            return Ok(out);
        }
        offset += ids.len();
        for record in queue.load_campaigns(&ids).await? {
            match record {
                Ok(r) if is_finished(&r) && r.finished_at.is_some_and(|t| t < cutoff) => {
                    out.push(r);
                }
                Ok(_) => {}
                Err(e) => eprintln!("warning: {e}"),
            }
        }
    }
}

fn is_finished(record: &CampaignRecord) -> bool {
    matches!(
        record.state,
        CampaignState::Completed | CampaignState::Cancelled
    ) && record.finished_at.is_some()
}

/// The refusals of `Queue::purge`, checked without changing anything (for --dry-run).
fn check_purgeable(record: &CampaignRecord, force: bool) -> anyhow::Result<()> {
    let id = &record.campaign.id;
    let allowed = match record.state {
        CampaignState::Completed | CampaignState::Cancelled => true,
        CampaignState::Paused => force,
        _ => false,
    };
    if !allowed {
        return Err(refusal(wacast_shared::queue::QueueError::InvalidState {
            campaign: id.clone(),
            state: record.state,
            action: "purged",
        }));
    }
    let n = record.counters.claimed + record.counters.sending;
    if n > 0 {
        return Err(wacast_shared::queue::QueueError::InFlight {
            campaign: id.clone(),
            n,
        }
        .into());
    }
    Ok(())
}

fn print(
    global: &GlobalArgs,
    dry_run: bool,
    cutoff: Option<DateTime<Utc>>,
    purged: &[(CampaignRecord, Option<PurgeReport>)],
) -> anyhow::Result<()> {
    match global.format {
        Format::Json => {
            let list: Vec<Value> = purged
                .iter()
                .map(|(r, report)| {
                    json!({
                        "campaign": r.campaign.id.as_str(),
                        "state": r.state.as_str(),
                        "finished_at": output::time_json(r.finished_at),
                        "messages": report.map_or(r.counters.total, |p| p.messages),
                        "other_keys": report.map(|p| p.other_keys),
                    })
                })
                .collect();
            output::print_json(&json!({
                "dry_run": dry_run,
                "finished_before": output::time_json(cutoff),
                "purged": list,
            }))
        }
        Format::Text => {
            let verb = if dry_run { "would purge" } else { "purged" };
            let mut text = String::new();
            for (r, report) in purged {
                let messages = report.map_or(r.counters.total, |p| p.messages);
                text.push_str(&format!(
                    "{verb} campaign {} ({}, finished {}): {messages} messages\n",
                    r.campaign.id,
                    r.state,
                    output::time_text(r.finished_at)
                ));
            }
            if let Some(cutoff) = cutoff {
                text.push_str(&format!(
                    "{} campaigns {verb} (finished before {})\n",
                    purged.len(),
                    output::time_text(Some(cutoff))
                ));
            }
            output::print(&text)
        }
    }
}
