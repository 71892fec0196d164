//! `wacast workers`: the live workers (those whose heartbeat is recent), most recently seen
//! first: host, id, each provider's health, requests in flight, last seen.

use std::process::ExitCode;

use serde_json::json;

use crate::cli::{Format, GlobalArgs};
use crate::cmd::{connect, output};

pub(crate) async fn run(global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let queue = connect::connect(global).await?;
    let workers = queue.live_workers().await?;
    match global.format {
        Format::Json => output::print_json(&json!({ "workers": workers }))?,
        Format::Text => {
            let mut out = format!(
                "{:<20}  {:<40}  {:<36}  {:>9}  {}\n",
                "HOST", "ID", "PROVIDERS", "IN FLIGHT", "LAST SEEN (UTC)"
            );
            for worker in &workers {
                let providers: Vec<String> = worker
                    .providers
                    .iter()
                    .map(|p| format!("{}={}", p.provider, p.health))
                    .collect();
                out.push_str(&format!(
                    "{:<20}  {:<40}  {:<36}  {:>9}  {}\n",
                    worker.host,
                    worker.id,
                    providers.join(" "),
                    worker.in_flight,
                    worker.last_seen.replace('T', " ").trim_end_matches('Z'),
                ));
            }
            output::print(&out)?;
            if workers.is_empty() && !global.quiet {
                eprintln!("no live worker: none has written a heartbeat in the last 15 s");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
