//! `wacast tier set|unset`: the operator's caps on a sender's unique recipients per 24 hours, stored
//! in Redis and applied by every worker's next claim (see `wacast_shared::queue::limits`).

use std::num::NonZeroU32;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;
use wacast_shared::queue::limits::WHATSAPP_TIERS;

use crate::cli::{GlobalArgs, TierArgs, TierCommand};
use crate::cmd::connect;
use crate::cmd::sender::{done, parse_sender};

pub(crate) async fn run(global: &GlobalArgs, args: &TierArgs) -> anyhow::Result<ExitCode> {
    let (sender, cap, provider) = match &args.command {
        TierCommand::Set {
            sender,
            cap,
            provider,
        } => (sender, parse_tier(cap)?, provider),
        TierCommand::Unset { sender, provider } => (sender, None, provider),
    };
    let sender = parse_sender(sender)?;
    let queue = connect::connect(global).await?;
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
    fn tiers_read_as_documented() {
        assert_eq!(parse_tier("2000").unwrap(), NonZeroU32::new(2000));
        assert_eq!(parse_tier("unlimited").unwrap(), None);
        let error = parse_tier("lots").unwrap_err().to_string();
        assert!(error.contains("250, 2000, 10000, 100000"), "{error}");
    }
}
