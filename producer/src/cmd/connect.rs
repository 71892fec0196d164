//! How a command reaches its campaign: connecting to Redis (failing fast when it is down),
//! reading the id given on the command line, and loading the campaign with a clear refusal when
//! it does not exist.

use anyhow::Context;
use wacast_shared::campaign::CampaignId;
use wacast_shared::queue::{CampaignRecord, Queue};
use wacast_shared::redact::redact_url;

use crate::cli::GlobalArgs;

/// Connects to Redis for one command, failing within seconds when it does not answer.
pub(crate) async fn connect(global: &GlobalArgs) -> anyhow::Result<Queue> {
    Queue::connect_once(&global.redis_url, &global.redis_tls, &global.prefix)
        .await
        .with_context(|| {
            format!(
                "cannot connect to Redis at {}",
                redact_url(&global.redis_url)
            )
        })
}

/// Checks a campaign id given on the command line.
pub(crate) fn parse_id(text: &str) -> anyhow::Result<CampaignId> {
    Ok(CampaignId::parse(text)?)
}

/// A campaign, or the error that says it does not exist (and how to find the right id).
pub(crate) async fn load(queue: &Queue, id: &CampaignId) -> anyhow::Result<CampaignRecord> {
    // `QueueError::NotFound` already reads "campaign X does not exist: check the id with
    // `wacast list`"; no context is added, so that it is the whole message.
    Ok(queue.load_campaign(id).await?)
}
