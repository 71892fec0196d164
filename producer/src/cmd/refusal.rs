//! The refusals the commands that change a campaign share (pause, resume, cancel, purge): the
//! queue's refusal with what to do instead, in the error itself.

use wacast_shared::campaign::CampaignState;
use wacast_shared::queue::QueueError;

/// A queue refusal with what to do instead.
pub(crate) fn refusal(error: QueueError) -> anyhow::Error {
    let QueueError::InvalidState {
        campaign,
        state,
        action,
    } = &error
    else {
        return error.into();
    };
    let hint = match (*state, *action) {
        (CampaignState::Completed, "paused" | "resumed" | "cancelled") => {
            "every message is final already".to_string()
        }
        (CampaignState::Cancelled, "resumed" | "paused") => format!(
            "a cancelled campaign stays cancelled; to send its rows, enqueue the file again \
             with another --id (see `wacast report {campaign} --status cancelled`)"
        ),
        (CampaignState::Running, "retried") => format!(
            "its failures are still changing: wait for it to finish (`wacast wait {campaign}`) \
             or pause it (`wacast pause {campaign}`), then retry"
        ),
        (CampaignState::Cancelled, "retried") => {
            "a cancelled campaign sends nothing more; enqueue the rows again as a new campaign"
                .to_string()
        }
        (CampaignState::Scheduled | CampaignState::Running, "purged") => format!(
            "only finished campaigns are purged: cancel it first (`wacast cancel {campaign}`)"
        ),
        (CampaignState::Paused, "purged") => {
            "a paused campaign still has messages to send: cancel it first, or purge it with \
             --force to drop them"
                .to_string()
        }
        _ => return error.into(),
    };
    anyhow::anyhow!("{error}: {hint}")
}
