//! What the console reads besides what the commands read: a page of the campaigns index,
//! filtered by state and label, a campaign's sends and deliveries per minute (the hourly
//! hashes `keys.rs` describes as `{campaign}:minutes:{hour}`), and one row as the worker would
//! read it (to render a sample message).
//!
//! Both are bounded: a filtered page reads two fields of every campaign (in pipelined chunks of
//! [`WALK_CHUNK`], so 10,000 campaigns cost ten round trips) and loads only the page's hashes;
//! the per-minute counts read at most one hash per hour of the span asked for.

use std::collections::HashMap;

use chrono::{DateTime, Duration, DurationRound, Utc};

use crate::campaign::{CampaignId, CampaignState};
use crate::message::{QueuedMessage, Row};
use crate::queue::bounds::WALK_CHUNK;
use crate::queue::campaign_store::CampaignRecord;
use crate::queue::connection::Queue;
use crate::queue::error::{QueueError, corrupt};
use crate::queue::lifecycle::message_from_fields;

/// Which campaigns a page lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CampaignFilter {
    /// Only campaigns in this state.
    pub state: Option<CampaignState>,
    /// Only campaigns whose label contains this text, ignoring case.
    pub label: Option<String>,
}

impl CampaignFilter {
    fn is_empty(&self) -> bool {
        self.state.is_none() && self.label.is_none()
    }

    fn admits(&self, state: Option<&str>, label: Option<&str>) -> bool {
        if let Some(wanted) = self.state
            && state != Some(wanted.as_str())
        {
            return false;
        }
        match &self.label {
            Some(text) => label.is_some_and(|l| l.to_lowercase().contains(&text.to_lowercase())),
            None => true,
        }
    }
}

/// One page of campaigns, newest first.
#[derive(Debug, Default)]
pub struct CampaignPage {
    /// The page's campaigns; one that cannot be read is an `Err` in its place.
    pub campaigns: Vec<Result<CampaignRecord, QueueError>>,
    /// Campaigns that match the filter, on every page.
    pub matching: u64,
}

/// A campaign's messages recorded sent, and counted delivered, in one minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinuteCount {
    /// The minute's start.
    pub minute: DateTime<Utc>,
    /// Messages recorded `sent` in it.
    pub sent: u64,
    /// Messages counted `delivered` in it (a delivery or read callback).
    pub delivered: u64,
}

impl Queue {
    /// The campaigns matching `filter`, newest first, `limit` of them after the first `offset`.
    pub async fn campaign_page(
        &self,
        filter: &CampaignFilter,
        offset: usize,
        limit: usize,
    ) -> Result<CampaignPage, QueueError> {
        let ids = if filter.is_empty() {
            let (ids, matching) = self.campaign_id_range(offset, limit).await?;
            return Ok(CampaignPage {
                campaigns: self.load_campaigns(&ids).await?,
                matching,
            });
        } else {
            self.campaign_id_range(0, usize::MAX).await?.0
        };
        let mut matching = Vec::new();
        for chunk in ids.chunks(usize::try_from(WALK_CHUNK).unwrap_or(1000)) {
            let mut pipe = redis::pipe();
            for id in chunk {
                pipe.cmd("HMGET")
                    .arg(self.keys.campaign(id))
                    .arg(&["state", "label"]);
            }
            let fields: Vec<(Option<String>, Option<String>)> = pipe
                .query_async(&mut self.conn())
                .await
                .map_err(QueueError::redis("list campaigns"))?;
            for (id, (state, label)) in chunk.iter().zip(fields) {
                if filter.admits(state.as_deref(), label.as_deref()) {
                    matching.push(id.clone());
                }
            }
        }
        let page: Vec<CampaignId> = matching.iter().skip(offset).take(limit).cloned().collect();
        Ok(CampaignPage {
            campaigns: self.load_campaigns(&page).await?,
            matching: u64::try_from(matching.len()).unwrap_or(u64::MAX),
        })
    }

    /// Ids `offset..offset + limit` of the campaigns index, newest first, and its size (also
    /// `read.rs`'s `campaign_ids`).
    pub(super) async fn campaign_id_range(
        &self,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<CampaignId>, u64), QueueError> {
        let start = isize::try_from(offset).unwrap_or(isize::MAX);
        let stop = if limit == usize::MAX {
            -1
        } else {
            isize::try_from(offset.saturating_add(limit))
                .unwrap_or(isize::MAX)
                .saturating_sub(1)
        };
        let (ids, total): (Vec<String>, u64) = redis::pipe()
            .zrevrange(self.keys.campaigns(), start, stop)
            .zcard(self.keys.campaigns())
            .query_async(&mut self.conn())
            .await
            .map_err(QueueError::redis("list campaigns"))?;
        let ids = ids
            .iter()
            .filter_map(|id| CampaignId::parse(id).ok())
            .collect();
        Ok((ids, total))
    }

    /// The campaign's sends and deliveries in each minute from `from` to `to` (both rounded
    /// down to their minute), oldest first, zeros included; at most 25 hours are kept.
    pub async fn per_minute(
        &self,
        id: &CampaignId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<MinuteCount>, QueueError> {
        let minute = |t: DateTime<Utc>| t.duration_trunc(Duration::minutes(1)).unwrap_or(t);
        let (from, to) = (minute(from), minute(to));
        if to < from {
            return Ok(Vec::new());
        }
        let hour_of = |t: DateTime<Utc>| t.timestamp().div_euclid(3600);
        let hours: Vec<i64> = (hour_of(from)..=hour_of(to)).collect();
        let mut pipe = redis::pipe();
        for hour in &hours {
            pipe.hgetall(self.keys.minutes(id, *hour));
        }
        let hashes: Vec<HashMap<String, u64>> = pipe
            .query_async(&mut self.conn())
            .await
            .map_err(QueueError::redis("read sends per minute"))?;
        let by_hour: HashMap<i64, HashMap<String, u64>> = hours.into_iter().zip(hashes).collect();
        let mut out = Vec::new();
        let mut at = from;
        while at <= to {
            let hour = by_hour.get(&hour_of(at));
            let mm = at.timestamp().div_euclid(60).rem_euclid(60);
            let count = |kind: &str| {
                hour.and_then(|h| h.get(&format!("{kind}{mm}")))
                    .copied()
                    .unwrap_or(0)
            };
            out.push(MinuteCount {
                minute: at,
                sent: count("s"),
                delivered: count("d"),
            });
            at += Duration::minutes(1);
        }
        Ok(out)
    }
}

impl Queue {
    /// Row `row` of campaign `id` as a worker reads it when it claims it: `None` when the row
    /// has no message (rejected at enqueue, or beyond the last row).
    pub async fn queued_message(
        &self,
        id: &CampaignId,
        row: Row,
    ) -> Result<Option<QueuedMessage>, QueueError> {
        let flat: Vec<redis::Value> = redis::cmd("HGETALL")
            .arg(self.keys.message(id, row))
            .query_async(&mut self.conn())
            .await
            .map_err(QueueError::redis("read a message"))?;
        if flat.is_empty() {
            return Ok(None);
        }
        message_from_fields(id.clone(), row, &flat)
            .map(Some)
            .map_err(|reason| corrupt(&self.keys.message(id, row), "message", reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_matches_state_and_label_text() {
        let filter = CampaignFilter {
            state: Some(CampaignState::Running),
            label: Some("Spring".into()),
        };
        assert!(filter.admits(Some("running"), Some("spring-sale")));
        assert!(!filter.admits(Some("paused"), Some("spring-sale")));
        assert!(!filter.admits(Some("running"), Some("winter")));
        assert!(!filter.admits(Some("running"), None));
        assert!(CampaignFilter::default().admits(None, None));
    }
}
