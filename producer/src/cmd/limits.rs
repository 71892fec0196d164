//! `wacast rate set|unset|list` and `wacast tier set`: the operator's sender limits, stored in
//! Redis and applied by every worker's next claim (see `wacast_shared::queue::limits`).

use std::num::NonZeroU32;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;
use wacast_shared::phone::PhoneNumber;
use wacast_shared::queue::limits::{Rate, WHATSAPP_TIERS};

use crate::cli::{Format, GlobalArgs, RateArgs, RateCommand, TierArgs, TierCommand};
use crate::cmd::view;

pub(crate) async fn rate(global: &GlobalArgs, args: &RateArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        RateCommand::Set {
            sender,
            rate,
            burst,
            provider,
        } => {
            let sender = parse_sender(sender)?;
            let rate = parse_rate(rate, *burst)?;
            let queue = view::connect(global).await?;
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
            let queue = view::connect(global).await?;
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
            let queue = view::connect(global).await?;
            let senders = queue.list_settings().await?;
            match global.format {
                Format::Json => view::print_json(&json!({"senders": senders}))?,
                Format::Text if senders.is_empty() => view::print(
                    "No sender has a rate or tier set; the workers' --rate flags apply.\n",
                )?,
                Format::Text => {
                    let mut out = format!(
                        "{:<8} {:<16} {:<22} {:>14}  {}\n",
                        "PROVIDER", "SENDER", "RATE", "TIER (24 H)", "UPDATED"
                    );
                    for s in &senders {
                        let tier = s.tier.map_or_else(
                            || "-".to_string(),
                            |cap| format!("{}/{cap}", s.tier_used),
                        );
                        out.push_str(&format!(
                            "{:<8} +{:<15} {:<22} {:>14}  {}\n",
                            s.provider,
                            s.sender,
                            s.rate.as_deref().unwrap_or("(workers' flags)"),
                            tier,
                            s.updated_at.as_deref().unwrap_or("-"),
                        ));
                    }
                    view::print(&out)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub(crate) async fn tier(global: &GlobalArgs, args: &TierArgs) -> anyhow::Result<ExitCode> {
    let TierCommand::Set {
        sender,
        cap,
        provider,
    } = &args.command;
    let sender = parse_sender(sender)?;
    let cap = parse_tier(cap)?;
    let queue = view::connect(global).await?;
    queue.set_tier(provider.kind(), &sender, cap).await?;
    let text = match cap {
        Some(cap) => format!(
            "Tier of +{} set to {cap} unique recipients per 24 hours.",
            sender.digits()
        ),
        None => format!("+{} has no tier cap now.", sender.digits()),
    };
    done(
        global,
        json!({"provider": provider.kind().as_str(), "sender": sender.digits(),
            "tier": cap.map(NonZeroU32::get)}),
        &text,
    )
}

fn done(global: &GlobalArgs, value: serde_json::Value, text: &str) -> anyhow::Result<ExitCode> {
    match global.format {
        Format::Json => view::print_json(&value)?,
        Format::Text => view::print(&format!("{text}\n"))?,
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_sender(text: &str) -> anyhow::Result<PhoneNumber> {
    PhoneNumber::parse(text, None).with_context(|| {
        format!("sender {text:?}: give the number in international form, e.g. +4915112345678")
    })
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

fn parse_tier(text: &str) -> anyhow::Result<Option<NonZeroU32>> {
    if text.trim().eq_ignore_ascii_case("unlimited") {
        return Ok(None);
    }
    let cap: NonZeroU32 = text.trim().parse().with_context(|| {
        format!(
            "tier {text:?}: give a number of recipients ≥ 1 (WhatsApp's tiers are {}) or `unlimited`",
            WHATSAPP_TIERS.map(|t| t.to_string()).join(", ")
        )
    })?;
    Ok(Some(cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_tiers_read_as_documented() {
        assert_eq!(parse_rate("60", None).unwrap(), Rate::per_second(60));
        assert_eq!(
            parse_rate("60", Some(5)).unwrap(),
            parse_rate("60:5", None).unwrap()
        );
        assert!(parse_rate("60:5", Some(5)).is_err());
        assert_eq!(parse_rate("unlimited", None).unwrap(), Rate::Unlimited);
        assert_eq!(parse_tier("2000").unwrap(), NonZeroU32::new(2000));
        assert_eq!(parse_tier("unlimited").unwrap(), None);
        let error = parse_tier("lots").unwrap_err().to_string();
        assert!(error.contains("250, 2000, 10000, 100000"), "{error}");
    }
}
