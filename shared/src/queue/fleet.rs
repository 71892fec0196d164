//! What the workers' fleet watch reads every few seconds (the worker's `watch` module): the due
//! backlog by campaign, and the lease that makes one worker of the fleet the one that logs the
//! campaigns' lifecycle.
//!
//! Both are bounded whatever the queue holds: the backlog reads at most a given number of due
//! entries (a run of rows is one entry, so that covers far more messages), and the lease is one
//! `SET`.

use std::collections::HashMap;
use std::time::Duration;

use redis::AsyncCommands;

use crate::campaign::CampaignId;
use crate::queue::connection::Queue;
use crate::queue::error::QueueError;

/// The messages in the due set due by some time, by campaign.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DueBacklog {
    /// Messages due, by campaign.
    pub by_campaign: HashMap<CampaignId, u64>,
    /// Whether every due entry was read (otherwise the counts are a lower bound).
    pub complete: bool,
}

impl Queue {
    /// The messages due at `until_ms` or before, counted from at most `max_entries` due
    /// entries (a run `{id}:{from}-{to}` counts its rows). Entries of paused campaigns are
    /// not in the due set, so they are not counted.
    pub async fn due_backlog(
        &self,
        until_ms: i64,
        max_entries: usize,
    ) -> Result<DueBacklog, QueueError> {
        let entries: Vec<String> = self
            .conn()
            .zrangebyscore_limit(
                self.keys.due(),
                "-inf",
                until_ms,
                0,
                isize::try_from(max_entries).unwrap_or(isize::MAX),
            )
            .await
            .map_err(QueueError::redis("read the due backlog"))?;
        let mut backlog = DueBacklog {
            complete: entries.len() < max_entries,
            ..DueBacklog::default()
        };
        for entry in &entries {
            let Some((id, rows)) = parse_entry(entry) else {
                continue;
            };
            let Ok(id) = CampaignId::parse(id) else {
                continue;
            };
            *backlog.by_campaign.entry(id).or_default() += rows;
        }
        Ok(backlog)
    }

    /// Takes or keeps the fleet watch's lease for `worker`, for `ttl`: whether `worker` holds
    /// it now. One worker at a time logs the campaigns' lifecycle, so that each line appears
    /// once in the fleet's logs; when it stops, another takes over within `ttl`.
    pub async fn lead_watch(&self, worker: &str, ttl: Duration) -> Result<bool, QueueError> {
        let key = self.keys.watch_leader();
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        let mut conn = self.conn();
        // SET NX GET (Redis 7): the holder, if another one holds it.
        let holder: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(worker)
            .arg("NX")
            .arg("GET")
            .arg("PX")
            .arg(ttl_ms)
            .query_async(&mut conn)
            .await
            .map_err(QueueError::redis("take the watch lease"))?;
        match holder {
            None => Ok(true),
            Some(holder) if holder == worker => {
                let _: bool = conn
                    .pexpire(&key, i64::try_from(ttl_ms).unwrap_or(i64::MAX))
                    .await
                    .map_err(QueueError::redis("keep the watch lease"))?;
                Ok(true)
            }
            Some(_) => Ok(false),
        }
    }
}

/// A due entry's campaign and how many rows it holds: `{id}:{row}` or `{id}:{from}-{to}`
/// (`common.lua`'s `parse_entry`).
fn parse_entry(entry: &str) -> Option<(&str, u64)> {
    let (id, rows) = entry.rsplit_once(':')?;
    let count = match rows.split_once('-') {
        Some((from, to)) => {
            let (from, to): (u64, u64) = (from.parse().ok()?, to.parse().ok()?);
            to.checked_sub(from)? + 1
        }
        None => {
            rows.parse::<u64>().ok()?;
            1
        }
    };
    Some((id, count))
}

#[cfg(test)]
mod tests {
    use super::parse_entry;

    #[test]
    fn entries_count_their_rows() {
        let check = |entry: &str, expect: Option<(&str, u64)>| {
            assert_eq!(parse_entry(entry), expect, "{entry}");
        };
        check("spring:7", Some(("spring", 1)));
        check("spring:1-1000", Some(("spring", 1000)));
        check("a:b:3-4", Some(("a:b", 2)));
        check("spring:9-3", None);
        check("spring", None);
        check("spring:x", None);
    }
}
