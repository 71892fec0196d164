//! The opt-out list: numbers never to message, and where each came from. Enqueue rejects rows
//! to them (the enqueue script asks the list once per chunk) and the claim ends rows to them;
//! these are the operator's calls on it (`wacast optout`).
//!
//! The list is the set `{prefix}:optout`; beside it the hash `{prefix}:optout:source` holds,
//! per number, a JSON object saying how it got there (`reply`, `131050`, `manual`, `import`),
//! when, and through which message when that is known. A number without one was added before
//! sources were recorded. The set is the truth: a source without its number means nothing.

use chrono::{DateTime, Utc};
use redis::AsyncCommands;
use serde::Deserialize;

use crate::message::Row;
use crate::phone::PhoneNumber;
use crate::queue::clock::rfc3339_ms;
use crate::queue::connection::Queue;
use crate::queue::error::QueueError;

/// How a number got on the opt-out list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptoutSource {
    /// The recipient answered with an opt-out keyword (STOP, …).
    Reply,
    /// WhatsApp reported 131050: the recipient stopped marketing messages from this business.
    StoppedMarketing,
    /// `wacast optout add`.
    Manual,
    /// `wacast optout import`.
    Import,
}

impl OptoutSource {
    /// The source as stored: `reply`, `131050`, `manual` or `import`.
    pub fn as_str(self) -> &'static str {
        match self {
            OptoutSource::Reply => "reply",
            OptoutSource::StoppedMarketing => "131050",
            OptoutSource::Manual => "manual",
            OptoutSource::Import => "import",
        }
    }
}

/// One number of the opt-out list, with its source when one was recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Optout {
    /// The number's E.164 digits.
    pub number: String,
    /// `reply`, `131050`, `manual` or `import` (as [`OptoutSource::as_str`] spells them); `None`
    /// when the number was added before sources were recorded.
    pub source: Option<String>,
    /// When it was added.
    pub at: Option<DateTime<Utc>>,
    /// The campaign whose message the opt-out answered, when known.
    pub campaign: Option<String>,
    /// That message's row.
    pub row: Option<Row>,
}

/// A stored source, as the queue's writers spell it.
#[derive(Debug, Deserialize)]
struct StoredSource {
    source: Option<String>,
    at: Option<String>,
    campaign: Option<String>,
    row: Option<Row>,
}

/// One page of [`Queue::scan_optouts`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OptoutPage {
    /// The cursor of the next page; 0 when the list has been read through.
    pub cursor: u64,
    /// The numbers of this page (SSCAN's guarantee: every number on the list for the whole scan
    /// is returned at least once; one may come twice if the set is resized meanwhile).
    pub optouts: Vec<Optout>,
}

impl Queue {
    /// Adds numbers to the opt-out list; later enqueues reject rows to them. A number new to the
    /// list records `source` and now as its source; one already on it keeps the one it has.
    /// Returns how many were new.
    pub async fn add_optouts(
        &self,
        numbers: &[PhoneNumber],
        source: OptoutSource,
    ) -> Result<u64, QueueError> {
        if numbers.is_empty() {
            return Ok(0);
        }
        let digits: Vec<&str> = numbers.iter().map(PhoneNumber::digits).collect();
        let mut conn = self.conn();
        let listed: Vec<bool> = redis::cmd("SMISMEMBER")
            .arg(self.keys.optout())
            .arg(&digits)
            .query_async(&mut conn)
            .await
            .map_err(QueueError::redis("add opt-outs"))?;
        let record = serde_json::json!({
            "source": source.as_str(),
            "at": rfc3339_ms(self.now_ms()),
        })
        .to_string();
        let sources = self.keys.optout_source();
        let mut pipe = redis::pipe();
        pipe.atomic().sadd(self.keys.optout(), &digits);
        // HSETNX: an opt-out recorded by a callback between the two calls keeps its source.
        for (number, _) in digits.iter().zip(&listed).filter(|(_, listed)| !**listed) {
            pipe.hset_nx(&sources, *number, &record).ignore();
        }
        let (added,): (u64,) = pipe
            .query_async(&mut conn)
            .await
            .map_err(QueueError::redis("add opt-outs"))?;
        Ok(added)
    }

    /// Removes numbers from the opt-out list, with their sources. Returns how many were on it.
    pub async fn remove_optouts(&self, numbers: &[PhoneNumber]) -> Result<u64, QueueError> {
        if numbers.is_empty() {
            return Ok(0);
        }
        let digits: Vec<&str> = numbers.iter().map(PhoneNumber::digits).collect();
        let (removed,): (u64,) = redis::pipe()
            .atomic()
            .srem(self.keys.optout(), &digits)
            .hdel(self.keys.optout_source(), &digits)
            .ignore()
            .query_async(&mut self.conn())
            .await
            .map_err(QueueError::redis("remove opt-outs"))?;
        Ok(removed)
    }

    /// Whether a number is on the opt-out list.
    pub async fn is_opted_out(&self, number: &PhoneNumber) -> Result<bool, QueueError> {
        self.conn()
            .sismember(self.keys.optout(), number.digits())
            .await
            .map_err(QueueError::redis("check opt-out"))
    }

    /// How many numbers are on the opt-out list.
    pub async fn optout_count(&self) -> Result<u64, QueueError> {
        self.conn()
            .scard(self.keys.optout())
            .await
            .map_err(QueueError::redis("count opt-outs"))
    }

    /// One page of the opt-out list with its sources: about `count` numbers from `cursor` (0
    /// starts the list), read with SSCAN and one HMGET, so a list of any size is read in short
    /// calls.
    pub async fn scan_optouts(&self, cursor: u64, count: usize) -> Result<OptoutPage, QueueError> {
        let mut conn = self.conn();
        let (cursor, numbers): (u64, Vec<String>) = redis::cmd("SSCAN")
            .arg(self.keys.optout())
            .arg(cursor)
            .arg("COUNT")
            .arg(count.max(1))
            .query_async(&mut conn)
            .await
            .map_err(QueueError::redis("list opt-outs"))?;
        if numbers.is_empty() {
            return Ok(OptoutPage {
                cursor,
                optouts: Vec::new(),
            });
        }
        let sources: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.keys.optout_source())
            .arg(&numbers)
            .query_async(&mut conn)
            .await
            .map_err(QueueError::redis("list opt-outs"))?;
        let optouts = numbers
            .into_iter()
            .zip(sources)
            .map(|(number, source)| parse_optout(number, source.as_deref()))
            .collect();
        Ok(OptoutPage { cursor, optouts })
    }
}

/// A number and its stored source; a source that does not read (changed by hand) is no source.
fn parse_optout(number: String, source: Option<&str>) -> Optout {
    let stored = source.and_then(|text| serde_json::from_str::<StoredSource>(text).ok());
    let Some(stored) = stored else {
        return Optout {
            number,
            source: None,
            at: None,
            campaign: None,
            row: None,
        };
    };
    Optout {
        number,
        source: stored.source,
        at: stored
            .at
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&Utc)),
        campaign: stored.campaign,
        row: stored.row,
    }
}
