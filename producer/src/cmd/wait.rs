//! `wacast wait`: blocks until a campaign is finished, for scripts (`wacast wait ID && …`).

use std::process::ExitCode;
use std::time::Instant;

use serde_json::Value;

use crate::cli::{EXIT_TIMEOUT, Format, GlobalArgs, WaitArgs};
use crate::cmd::{campaign_view, connect, output};

pub(crate) async fn run(global: &GlobalArgs, args: &WaitArgs) -> anyhow::Result<ExitCode> {
    let queue = connect::connect(global).await?;
    let id = connect::parse_id(&args.id)?;
    let deadline = args.timeout.map(|t| Instant::now() + t);
    let mut told_paused = false;
    loop {
        let record = connect::load(&queue, &id).await?;
        let settled = campaign_view::is_settled(&record);
        let timed_out = !settled && deadline.is_some_and(|d| Instant::now() >= d);
        if settled || timed_out {
            match global.format {
                Format::Json => {
                    let mut out = campaign_view::campaign_json(&record);
                    out.insert("finished".into(), settled.into());
                    output::print_json(&Value::Object(out))?;
                }
                Format::Text => output::print(&format!(
                    "{} {} {}\n",
                    record.campaign.id,
                    record.state.as_str(),
                    campaign_view::progress_text(&record)
                ))?,
            }
            if timed_out {
                eprintln!(
                    "campaign {id} is not finished after {:?}: it is {}, {}",
                    args.timeout.unwrap_or_default(),
                    record.state.as_str(),
                    campaign_view::progress_text(&record)
                );
                return Ok(ExitCode::from(EXIT_TIMEOUT));
            }
            return Ok(ExitCode::SUCCESS);
        }
        if record.state == wacast_shared::campaign::CampaignState::Paused
            && !told_paused
            && !global.quiet
        {
            let reason = record
                .pause_reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            eprintln!("campaign {id} is paused{reason}: waiting until it is resumed and finishes");
            told_paused = true;
        }
        let pause = match deadline {
            Some(d) => args
                .interval
                .min(d.saturating_duration_since(Instant::now())),
            None => args.interval,
        };
        tokio::time::sleep(pause).await;
    }
}
