//! `wacast list`: campaigns, newest first, from the `campaigns` index and one pipelined read of
//! their hashes.

use std::process::ExitCode;

use serde_json::Value;

use crate::cli::{Format, GlobalArgs, ListArgs};
use crate::cmd::{campaign_view, connect, output};

pub(crate) async fn run(global: &GlobalArgs, args: &ListArgs) -> anyhow::Result<ExitCode> {
    let queue = connect::connect(global).await?;
    let limit = (args.limit > 0).then_some(args.limit);
    let (ids, total) = queue.campaign_ids(limit).await?;
    let records = queue.load_campaigns(&ids).await?;
    let mut campaigns = Vec::with_capacity(records.len());
    for record in records {
        match record {
            Ok(record) => campaigns.push(record),
            // One unreadable campaign (changed by hand) should not hide the others.
            Err(e) => eprintln!("warning: {e}"),
        }
    }
    match global.format {
        Format::Json => {
            let list: Vec<Value> = campaigns
                .iter()
                .map(|r| Value::Object(campaign_view::campaign_json(r)))
                .collect();
            output::print_json(&serde_json::json!({
                "campaigns": list,
                "total": total,
            }))?;
        }
        Format::Text => {
            let mut table = output::table(
                &["ID", "LABEL", "STATE", "CREATED", "PROGRESS", "COST"],
                &[5],
            );
            for r in &campaigns {
                table.add_row(vec![
                    r.campaign.id.as_str().to_string(),
                    r.campaign.label.clone().unwrap_or_else(|| "-".into()),
                    r.state.as_str().to_string(),
                    output::time_in(Some(r.campaign.created_at), r.campaign.tz),
                    campaign_view::progress_text(r),
                    format!("{:.4}", r.counters.cost),
                ]);
            }
            output::print_table(&table)?;
            if !global.quiet && (campaigns.len() as u64) < total {
                eprintln!(
                    "showing the newest {} of {total} campaigns (--limit 0 shows all)",
                    campaigns.len()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
