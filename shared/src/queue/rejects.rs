//! The rows an upload rejected, kept with its campaign for the console's campaign page: per
//! reason its code, how many rows, and the first of them (line number and why), a bounded
//! sample; the rejects file beside the upload has every row.
//!
//! The ingest writes them once, when the whole file has been read (`store_rejects.lua`, which
//! replaces what an interrupted run may have left): a resumed run reads the file from its start
//! again, so its count and first rows are the file's. The hash is
//! `{prefix}:campaign:{id}:rejects` (see [`crate::keys`]); a campaign without rejects has none.

use std::collections::HashMap;

use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

use crate::campaign::CampaignId;
use crate::queue::bounds::{MAX_REJECT_LEN, MAX_REJECT_ROWS, truncate};
use crate::queue::connection::Queue;
use crate::queue::error::{QueueError, corrupt};
use crate::queue::scripts::SCRIPTS;

/// The rows rejected for one reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectSample {
    /// The reason's stable code (`invalid_phone`, `duplicate`, …).
    pub code: String,
    /// How many rows it rejected.
    pub count: u64,
    /// The first of them, in line order, at most [`MAX_REJECT_ROWS`].
    pub rows: Vec<RejectedRow>,
}

/// One rejected row: its line in the file and why it was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedRow {
    /// Its line in the file (the header is line 1).
    pub line: u64,
    /// Why, as `wacast enqueue` says it.
    pub message: String,
}

/// A reason's value in the hash: `{"count": n, "rows": [{"line": 4, "message": "…"}, …]}`.
#[derive(Serialize, Deserialize)]
struct Stored {
    count: u64,
    rows: Vec<RejectedRow>,
}

impl Queue {
    /// Keeps `samples` as the campaign's upload rejects, replacing earlier ones (none: nothing
    /// is kept), each cut to [`MAX_REJECT_ROWS`] rows of at most [`MAX_REJECT_LEN`] bytes.
    /// Nothing is written for a campaign that no longer exists.
    pub async fn store_rejects(
        &self,
        id: &CampaignId,
        samples: &[RejectSample],
    ) -> Result<(), QueueError> {
        let mut invocation = SCRIPTS.store_rejects.prepare_invoke();
        invocation
            .key(self.keys.campaign(id))
            .key(self.keys.rejects(id));
        for sample in samples {
            let stored = serde_json::json!(Stored {
                count: sample.count,
                rows: sample
                    .rows
                    .iter()
                    .take(MAX_REJECT_ROWS)
                    .map(|row| RejectedRow {
                        line: row.line,
                        message: truncate(&row.message, MAX_REJECT_LEN).to_string(),
                    })
                    .collect(),
            });
            invocation.arg(&sample.code).arg(stored.to_string());
        }
        let stored: Option<i64> = invocation
            .invoke_async(&mut self.conn())
            .await
            .map_err(QueueError::redis("store the upload's rejects"))?;
        stored
            .map(|_| ())
            .ok_or_else(|| QueueError::NotFound(id.clone()))
    }

    /// The campaign's upload rejects, the most frequent reason first.
    pub async fn upload_rejects(&self, id: &CampaignId) -> Result<Vec<RejectSample>, QueueError> {
        let key = self.keys.rejects(id);
        let fields: HashMap<String, String> = self
            .conn()
            .hgetall(&key)
            .await
            .map_err(QueueError::redis("read the upload's rejects"))?;
        let mut samples = fields
            .into_iter()
            .map(|(code, json)| {
                let stored: Stored =
                    serde_json::from_str(&json).map_err(|e| corrupt(&key, &code, e))?;
                Ok(RejectSample {
                    code,
                    count: stored.count,
                    rows: stored.rows,
                })
            })
            .collect::<Result<Vec<_>, QueueError>>()?;
        samples.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.code.cmp(&b.code)));
        Ok(samples)
    }
}
