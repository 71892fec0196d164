//! `wacast rate set|unset|list`: the operator's sender rates, stored in Redis and applied by
//! every worker's next claim (see `wacast_shared::queue::limits`).

use std::process::ExitCode;

use serde_json::json;
use wacast_shared::queue::limits::Rate;

use crate::cli::{Format, GlobalArgs, RateArgs, RateCommand};
use crate::cmd::sender::{done, parse_sender};
use crate::cmd::{connect, output};

pub(crate) async fn run(global: &GlobalArgs, args: &RateArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        RateCommand::Set {
            sender,
            rate,
            burst,
            provider,
        } => {
            let sender = parse_sender(sender)?;
            let rate = parse_rate(rate, *burst)?;
            let queue = connect::connect(global).await?;
            queue.set_rate(provider.kind(), &sender, rate).await?;
            done(
                global,
                json!({"provider": provider.kind().as_str(), "sender": sender.digits(),
                    "rate": rate.to_string(), "max_per_second": rate.max_per_second()}),
                &format!(
                    "Rate of +{} ({}) set to {rate}; every worker applies it from its next claim.",
                    sender.digits(),
                    provider.kind().display_name()
                ),
            )
        }
        RateCommand::Unset { sender, provider } => {
            let sender = parse_sender(sender)?;
            let queue = connect::connect(global).await?;
            let removed = queue.unset_rate(provider.kind(), &sender).await?;
            done(
                global,
                json!({"provider": provider.kind().as_str(), "sender": sender.digits(),
                    "removed": removed}),
                &if removed {
                    format!(
                        "Rate of +{} removed; the workers' --rate flags apply to it again.",
                        sender.digits()
                    )
                } else {
                    format!("+{} had no rate set; nothing changed.", sender.digits())
                },
            )
        }
        RateCommand::List => {
            let queue = connect::connect(global).await?;
            let senders = queue.list_settings().await?;
            match global.format {
                Format::Json => output::print_json(&json!({"senders": senders}))?,
                Format::Text if senders.is_empty() => output::print(
                    "No sender has a rate or tier set; the workers' --rate flags apply.\n",
                )?,
                Format::Text => {
                    let mut out = format!(
                        "{:<8} {:<16} {:<22} {:>14}  {}\n",
                        "PROVIDER", "SENDER", "RATE", "TIER (24 H)", "UPDATED"
                    );
                    for s in &senders {
                        // Slowed after the provider's 429s: the rate the claims use now.
                        let rate = match (&s.rate, s.max_per_second) {
                            (Some(rate), Some(max)) if s.rate_factor < 1.0 => {
                                format!("{rate}, now {:.1}/s (429)", f64::from(max) * s.rate_factor)
                            }
                            (rate, _) => rate.as_deref().unwrap_or("(workers' flags)").to_string(),
                        };
                        let tier = s.tier.map_or_else(
                            || "-".to_string(),
                            |cap| format!("{}/{cap}", s.tier_used),
                        );
                        out.push_str(&format!(
                            "{:<8} +{:<15} {:<22} {:>14}  {}\n",
                            s.provider,
                            s.sender,
                            rate,
                            tier,
                            s.updated_at.as_deref().unwrap_or("-"),
                        ));
                    }
                    output::print(&out)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `MPS`, `MPS:BURST` or `unlimited`, with the burst also accepted as its own argument.
fn parse_rate(text: &str, burst: Option<u32>) -> anyhow::Result<Rate> {
    let text = match burst {
        Some(_) if text.contains(':') => {
            anyhow::bail!("give the burst once: as MPS:BURST or as the third argument")
        }
        Some(burst) => format!("{text}:{burst}"),
        None => text.to_string(),
    };
    Ok(text.parse()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_as_documented() {
        assert_eq!(parse_rate("60", None).unwrap(), Rate::per_second(60));
        assert_eq!(
            parse_rate("60", Some(5)).unwrap(),
            parse_rate("60:5", None).unwrap()
        );
        assert!(parse_rate("60:5", Some(5)).is_err());
        assert_eq!(parse_rate("unlimited", None).unwrap(), Rate::Unlimited);
    }
}
