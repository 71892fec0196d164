//! `wacast retry`: puts a campaign's failed or unknown messages back in the queue, on the
//! operator's word, keeping each message's history.

use std::process::ExitCode;

use serde_json::Value;
use wacast_shared::campaign::CampaignState;
use wacast_shared::queue::{MessageStatus, RetryFilter};
use wacast_shared::schedule::Schedule;

use crate::cli::{Format, GlobalArgs, RetryArgs};
use crate::cmd::{campaign_view, connect, output, refusal::refusal};

pub(crate) async fn run(global: &GlobalArgs, args: &RetryArgs) -> anyhow::Result<ExitCode> {
    let queue = connect::connect(global).await?;
    let id = connect::parse_id(&args.id)?;
    let mut statuses = args.status.clone();
    statuses.sort();
    statuses.dedup();
    let report = queue
        .requeue_failed(
            &id,
            RetryFilter {
                statuses: &statuses,
                error_code: args.error_code.as_deref(),
            },
        )
        .await
        .map_err(refusal)?;
    let record = connect::load(&queue, &id).await?;
    let which = statuses
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" or ");
    if global.format == Format::Text && !global.quiet && report.requeued > 0 {
        let valid_until = Schedule::campaign(&record.campaign).expires_at();
        if valid_until < queue.now() {
            eprintln!(
                "warning: the campaign's validity ended at {} (send time + ttl): messages \
                 without a later send time of their own expire instead of being sent",
                output::time_text(Some(valid_until))
            );
        }
        if statuses.contains(&MessageStatus::Unknown) {
            eprintln!(
                "note: unknown messages may have reached their recipients already; they are \
                 sent again now, as you asked"
            );
        }
    }
    match global.format {
        Format::Json => {
            let mut out = campaign_view::campaign_json(&record);
            out.insert("requeued".into(), report.requeued.into());
            output::print_json(&Value::Object(out))?;
        }
        Format::Text => {
            let filter = args
                .error_code
                .as_deref()
                .map(|c| format!(" with error code {c}"))
                .unwrap_or_default();
            let text = match (report.requeued, report.state) {
                (0, _) => format!("campaign {id}: no {which} messages{filter} to retry\n"),
                (n, CampaignState::Paused) => format!(
                    "campaign {id}: {n} {which} messages{filter} queued again; the campaign is \
                     paused, so they are sent after `wacast resume {id}`\n"
                ),
                (n, state) => format!(
                    "campaign {id}: {n} {which} messages{filter} queued again, due now; the \
                     campaign is {state}\n"
                ),
            };
            output::print(&text)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
