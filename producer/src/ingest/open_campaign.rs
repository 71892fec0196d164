//! Creating the campaign, or resuming an interrupted enqueue of it: a finished campaign is
//! refused (an upload is sent once), an unfinished one with the same spec is taken up again.

use anyhow::{Context, bail};
use wacast_shared::campaign::{Campaign, CampaignId};
use wacast_shared::queue::{Created, Queue, QueueError};

/// Creates the campaign, or resumes an interrupted enqueue of it (then `campaign` becomes the
/// stored one, whose times every row's due time derives from). Returns whether it resumed.
pub(crate) async fn open_campaign(
    queue: &Queue,
    campaign: &mut Campaign,
    explicit_id: bool,
) -> anyhow::Result<bool> {
    match queue.create_campaign(campaign).await {
        Ok(Created::New) => Ok(false),
        Ok(Created::Resume) => {
            let stored = queue.load_campaign(&campaign.id).await?.campaign;
            check_same_spec(&stored, campaign)?;
            *campaign = stored;
            Ok(true)
        }
        Err(QueueError::CampaignExists(id)) => Err(already_enqueued(queue, &id, explicit_id).await),
        Err(e) => Err(e).context("cannot create the campaign"),
    }
}

/// Refuses to resume a campaign whose stored spec is not this run's: an `--id` reused for
/// another upload while its first enqueue was unfinished.
fn check_same_spec(stored: &Campaign, ours: &Campaign) -> anyhow::Result<()> {
    let same = stored.provider == ours.provider
        && stored.bird == ours.bird
        && stored.from == ours.from
        && stored.content == ours.content
        && stored.columns == ours.columns
        && stored.ttl_minutes == ours.ttl_minutes
        && stored.label == ours.label
        && stored.performance_tracking == ours.performance_tracking
        && stored.handoff_ahead_minutes == ours.handoff_ahead_minutes
        && stored.window == ours.window;
    if !same {
        bail!(
            "campaign {} exists with other options, and its enqueue was interrupted: run it \
             again with the options it was created with (see redis-cli HGETALL …:campaign:{}), \
             or choose another --id",
            ours.id,
            ours.id
        );
    }
    Ok(())
}

async fn already_enqueued(queue: &Queue, id: &CampaignId, explicit_id: bool) -> anyhow::Error {
    let detail = match queue.load_campaign(id).await {
        Ok(record) => format!(
            " on {} ({} messages)",
            record.campaign.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
            record.counters.total
        ),
        Err(_) => String::new(),
    };
    if explicit_id {
        anyhow::anyhow!("campaign {id} was already enqueued{detail}: choose another --id")
    } else {
        anyhow::anyhow!(
            "campaign {id} was already enqueued{detail}: this file was sent with these options \
             before; use --id to send the same file again as a new campaign"
        )
    }
}
