//! `wacast hooks unmatched`: the providers' callbacks that matched no message, newest first, as
//! the worker kept them (the newest 1,000).

use std::process::ExitCode;

use serde_json::{Value, json};
use wacast_shared::queue::UnmatchedCallback;

use crate::cli::{Format, GlobalArgs, HooksArgs, HooksCommand};
use crate::cmd::{connect, output};

pub(crate) async fn run(global: &GlobalArgs, args: &HooksArgs) -> anyhow::Result<ExitCode> {
    let HooksCommand::Unmatched { limit } = args.command;
    let queue = connect::connect(global).await?;
    let unmatched = queue
        .unmatched_callbacks((limit > 0).then_some(limit))
        .await?;
    if unmatched.unreadable > 0 && !global.quiet {
        eprintln!(
            "warning: {} entries of the list are not callbacks (written by hand?): left out",
            unmatched.unreadable
        );
    }
    match global.format {
        Format::Json => {
            let callbacks: Vec<Value> = unmatched.callbacks.iter().map(callback_json).collect();
            output::print_json(&json!({
                "callbacks": callbacks,
                "total": unmatched.total,
            }))?;
        }
        Format::Text => {
            let mut out = format!(
                "{:<19}  {:<8}  {:<7}  {:<24}  {:<36}  {:<9}  {}\n",
                "AT (UTC)", "PROVIDER", "KIND", "REFERENCE", "PROVIDER ID", "STATUS", "FROM"
            );
            for c in &unmatched.callbacks {
                let text = |value: &Option<String>| value.as_deref().unwrap_or("-").to_string();
                out.push_str(&format!(
                    "{:<19}  {:<8}  {:<7}  {:<24}  {:<36}  {:<9}  {}\n",
                    c.at.map_or_else(|| "-".into(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
                    text(&c.provider),
                    text(&c.kind),
                    text(&c.reference),
                    text(&c.provider_id),
                    text(&c.status),
                    text(&c.from),
                ));
            }
            output::print(&out)?;
            let shown = unmatched.callbacks.len() as u64 + unmatched.unreadable;
            if !global.quiet && shown < unmatched.total {
                eprintln!(
                    "showing the newest {shown} of {} unmatched callbacks (--limit 0 shows all)",
                    unmatched.total
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn callback_json(c: &UnmatchedCallback) -> Value {
    json!({
        "at": output::time_json(c.at),
        "provider": c.provider,
        "kind": c.kind,
        "reference": c.reference,
        "provider_id": c.provider_id,
        "status": c.status,
        "from": c.from,
    })
}
