//! `check-config --probe`: each configured provider key proven with a harmless authenticated
//! request (`Providers::probe`), reported one line per provider; an error naming every
//! provider whose key is not proven, with its answer and the fix.

use wacast_shared::campaign::{BirdTarget, ProviderKind};
use wacast_shared::provider::Providers;
use wacast_shared::provider::probe::KeyProbe;

use crate::config::CheckConfigArgs;

/// Probes every provider this worker has a key for. `Ok` only when each key is accepted.
pub(crate) async fn probe_keys(
    providers: &Providers,
    args: &CheckConfigArgs,
) -> anyhow::Result<()> {
    let bird = match (&args.probe_bird_workspace, &args.probe_bird_channel) {
        (Some(workspace), Some(channel)) => Some(BirdTarget {
            workspace_id: workspace.clone(),
            channel_id: channel.clone(),
            tags: Vec::new(),
        }),
        _ => None,
    };
    let mut failed = Vec::new();
    for kind in [ProviderKind::Seven, ProviderKind::Bird] {
        if !providers.has(kind) {
            continue;
        }
        let result = match providers.probe(kind, bird.as_ref()).await {
            Some(result) => result,
            None => KeyProbe::Inconclusive(
                "not probed: Bird's probe reads a channel; give --probe-bird-workspace and --probe-bird-channel (one the campaigns send on)".into(),
            ),
        };
        if result.is_ok() {
            tracing::info!(provider = %kind, probe = result.as_str(), "The provider accepted the key.");
        } else {
            tracing::error!(provider = %kind, probe = result.as_str(), answer = %result, "The provider's key is not proven.");
            failed.push(format!("{kind}: {result}"));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("key probe failed: {}", failed.join("; "))
    }
}
