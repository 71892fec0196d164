//! Why a queue operation failed ([`QueueError`]), and the one constructor of a corrupt-value error.

use crate::campaign::{CampaignId, CampaignState};
use crate::message::Row;

/// Why a queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// A Redis command failed: the connection is lost or timed out, or Redis refused it.
    #[error("redis {action} failed (check that Redis is running and reachable)")]
    Redis {
        /// What was being done, e.g. `claim`.
        action: &'static str,
        /// The error from the `redis` crate.
        #[source]
        source: redis::RedisError,
    },
    /// Redis refused a command because it is over its `maxmemory` (an `OOM` error reply): the
    /// scripts that start new work (claim, enqueue) are refused until memory is freed or
    /// raised; those that settle work under way declare `allow-oom` and still run.
    #[error(
        "Redis is out of memory: {action} refused (used memory is over maxmemory; raise maxmemory, or free memory with `wacast purge`)"
    )]
    OutOfMemory {
        /// What was being done, e.g. `claim`.
        action: &'static str,
        /// The error from the `redis` crate.
        #[source]
        source: redis::RedisError,
    },
    /// The campaign exists and its enqueue finished: it would be sent twice.
    #[error(
        "campaign {0} already exists and was enqueued completely: choose another id, or see `wacast status {0}`"
    )]
    CampaignExists(CampaignId),
    /// No campaign with this id.
    #[error("campaign {0} does not exist: check the id with `wacast list`")]
    NotFound(CampaignId),
    /// The campaign's state does not allow the operation.
    #[error("campaign {campaign} is {state}, so it cannot be {action}")]
    InvalidState {
        /// The campaign.
        campaign: CampaignId,
        /// Its state.
        state: CampaignState,
        /// What was refused, as a past participle: `paused`, `resumed`, `enqueued to`, ….
        action: &'static str,
    },
    /// Messages of the campaign are claimed or being sent: their workers record them soon.
    #[error(
        "campaign {campaign} has {n} messages in flight: wait until their workers record them (seconds), then run it again"
    )]
    InFlight {
        /// The campaign.
        campaign: CampaignId,
        /// Messages claimed or sending.
        n: u64,
    },
    /// Rows were enqueued to a campaign whose enqueue already finished.
    #[error("campaign {0} finished its enqueue: start a new campaign for more rows")]
    IngestFinished(CampaignId),
    /// A row has a different number of values than the campaign has columns.
    #[error(
        "row {row} of campaign {campaign} has {got} values, but the campaign has {expected} columns"
    )]
    ValueCount {
        /// The campaign.
        campaign: CampaignId,
        /// The row.
        row: Row,
        /// The number of the campaign's columns.
        expected: usize,
        /// The number of values the row has.
        got: usize,
    },
    /// A key holds something wacast did not write.
    #[error("redis key {key} has a corrupt {field}: {detail} (was it changed by hand?)")]
    Corrupt {
        /// The key.
        key: String,
        /// The hash field, or what was read.
        field: String,
        /// What is wrong.
        detail: String,
    },
}

impl QueueError {
    pub(crate) fn redis(action: &'static str) -> impl FnOnce(redis::RedisError) -> QueueError {
        move |source| {
            if is_out_of_memory(&source) {
                QueueError::OutOfMemory { action, source }
            } else {
                QueueError::Redis { action, source }
            }
        }
    }

    /// Whether the error is Redis being unreachable or failing (out of memory included), as
    /// opposed to a refusal that retrying will not change.
    pub fn is_redis(&self) -> bool {
        matches!(
            self,
            QueueError::Redis { .. } | QueueError::OutOfMemory { .. }
        )
    }

    /// Whether Redis refused the call for being over its `maxmemory`.
    pub fn is_out_of_memory(&self) -> bool {
        matches!(self, QueueError::OutOfMemory { .. })
    }
}

/// Whether `error` is Redis's `OOM command not allowed when used memory > 'maxmemory'`.
pub(crate) fn is_out_of_memory(error: &redis::RedisError) -> bool {
    error.code() == Some("OOM")
}

/// A [`QueueError::Corrupt`] of `field` of `key`.
pub(crate) fn corrupt(key: &str, field: &str, detail: impl std::fmt::Display) -> QueueError {
    QueueError::Corrupt {
        key: key.to_string(),
        field: field.to_string(),
        detail: detail.to_string(),
    }
}
