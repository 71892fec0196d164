//! `wacast rate set|unset|list`: the operator's sender rates, stored in Redis and applied by
//! every worker's next claim (see `wacast_shared::queue::limits`).

use std::process::ExitCode;

use serde_json::{Map, Value, json};
use wacast_shared::queue::limits::{Rate, SenderSettings};

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
            let mut value = rate_json(Some(rate));
            value.insert("provider".into(), provider.kind().as_str().into());
            value.insert("sender".into(), sender.digits().into());
            done(
                global,
                Value::Object(value),
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
                Format::Json => {
                    let senders: Vec<Value> = senders.iter().map(sender_json).collect();
                    output::print_json(&json!({"senders": senders}))?
                }
                Format::Text if senders.is_empty() => output::print(
                    "No sender has a rate or tier set; the workers' --rate flags apply.\n",
                )?,
                Format::Text => {
                    let mut table = output::table(
                        &["PROVIDER", "SENDER", "RATE", "TIER (24 H)", "UPDATED"],
                        &[3],
                    );
                    for s in &senders {
                        // Slowed after the provider's 429s: the rate the claims use now.
                        let rate = match (s.rate, s.max_per_second) {
                            (Some(rate), Some(max)) if s.rate_factor < 1.0 => {
                                format!("{rate}, now {:.1}/s (429)", f64::from(max) * s.rate_factor)
                            }
                            (Some(rate), _) => rate.to_string(),
                            (None, _) => "(workers' flags)".to_string(),
                        };
                        let tier = s.tier.map_or_else(
                            || "-".to_string(),
                            |cap| format!("{}/{cap}", s.tier_used),
                        );
                        table.add_row(vec![
                            s.provider.clone(),
                            format!("+{}", s.sender),
                            rate,
                            tier,
                            s.updated_at.clone().unwrap_or_else(|| "-".into()),
                        ]);
                    }
                    output::print_table(&table)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A rate as JSON numbers: `rate_per_second` and `burst` (null when unlimited or not set),
/// `unlimited`, and `max_per_second` (the most in any one second).
fn rate_json(rate: Option<Rate>) -> Map<String, Value> {
    let (per_second, burst) = match rate {
        Some(Rate::PerSecond { mps, burst }) => (Some(mps.get()), Some(burst.get())),
        Some(Rate::Unlimited) | None => (None, None),
    };
    let mut out = Map::new();
    out.insert("rate_per_second".into(), per_second.into());
    out.insert("burst".into(), burst.into());
    out.insert("unlimited".into(), (rate == Some(Rate::Unlimited)).into());
    out.insert(
        "max_per_second".into(),
        rate.and_then(Rate::max_per_second).into(),
    );
    out
}

/// One sender of `rate list --format json`: every number a JSON number.
fn sender_json(s: &SenderSettings) -> Value {
    let mut out = Map::new();
    out.insert("provider".into(), s.provider.clone().into());
    out.insert("sender".into(), s.sender.clone().into());
    out.extend(rate_json(s.rate));
    out.insert("tier".into(), s.tier.into());
    out.insert("tier_used".into(), s.tier_used.into());
    out.insert("rate_factor".into(), json!(s.rate_factor));
    out.insert("updated_at".into(), s.updated_at.clone().into());
    Value::Object(out)
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

    #[test]
    fn rates_are_json_numbers() {
        let rate = rate_json(Some(parse_rate("60:5", None).unwrap()));
        assert_eq!(rate["rate_per_second"], json!(60));
        assert_eq!(rate["burst"], json!(5));
        assert_eq!(rate["unlimited"], json!(false));
        assert!(rate["max_per_second"].is_u64(), "{rate:?}");
        let unlimited = rate_json(Some(Rate::Unlimited));
        assert_eq!(unlimited["unlimited"], json!(true));
        assert_eq!(unlimited["rate_per_second"], Value::Null);
    }
}
