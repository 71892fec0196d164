//! What the mock counts, for tests and benchmarks to assert on through `GET /stats`: requests
//! per endpoint, accepted messages per recipient, per `foreign_id` (seven) and per `reference`
//! (Bird), duplicates, rejections by code, injected faults, and per sender (a seven number or a
//! Bird channel) the highest number of messages accepted in one second.
//!
//! The per-second figure comes two ways, because rate-precision benchmarks need both: fixed
//! buckets (calendar seconds of the wall clock, as a rate-limited gateway would count them) and
//! a true sliding window (the most messages accepted within any 1000 ms span, from a ring of the
//! accept instants of the last second; memory stays bounded by the rate, not the run length).

use std::collections::{BTreeMap, VecDeque};

// A per-message map lookup or three: foldhash is several times cheaper than SipHash, and the
// keys are the gateway's own test traffic, not an attacker's.
use foldhash::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

/// The span of the sliding window.
const WINDOW: Duration = Duration::from_secs(1);

/// At most this many seconds of per-second history per sender (a day), so that a mock left
/// running does not grow without bound.
const MAX_SECONDS_KEPT: usize = 86_400;

/// The endpoints whose requests are counted.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Endpoint {
    Messages,
    Delete,
    Events,
    /// Bird's send endpoint.
    Bird,
    /// The read-only endpoints a key probe asks: seven's balance, Bird's channel.
    Probe,
}

/// Counters of one sender's accepted messages.
#[derive(Debug, Default)]
struct SenderStats {
    accepted: u64,
    /// Completed calendar seconds with their counts, oldest first.
    per_second: VecDeque<(i64, u32)>,
    current_second: i64,
    current_count: u32,
    max_bucket: u32,
    /// Accept instants within the last `WINDOW`.
    window: VecDeque<Instant>,
    max_sliding: usize,
}

impl SenderStats {
    fn accept(&mut self, now: Instant, unix_second: i64) {
        self.accepted += 1;
        if unix_second != self.current_second {
            if self.current_count > 0 {
                if self.per_second.len() == MAX_SECONDS_KEPT {
                    self.per_second.pop_front();
                }
                self.per_second
                    .push_back((self.current_second, self.current_count));
            }
            self.current_second = unix_second;
            self.current_count = 0;
        }
        self.current_count += 1;
        self.max_bucket = self.max_bucket.max(self.current_count);

        while self
            .window
            .front()
            .is_some_and(|&first| now.duration_since(first) >= WINDOW)
        {
            self.window.pop_front();
        }
        self.window.push_back(now);
        self.max_sliding = self.max_sliding.max(self.window.len());
    }

    fn to_json(&self, detail: bool) -> Value {
        let mut out = json!({
            "accepted": self.accepted,
            "max_per_second_bucket": self.max_bucket,
            "max_per_second_sliding": self.max_sliding,
        });
        if detail {
            let mut seconds: Vec<Value> = self
                .per_second
                .iter()
                .map(|(second, count)| json!([second, count]))
                .collect();
            if self.current_count > 0 {
                seconds.push(json!([self.current_second, self.current_count]));
            }
            out["per_second"] = Value::Array(seconds);
        }
        out
    }
}

/// All counters; lives behind the server's lock.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    requests_messages: u64,
    requests_delete: u64,
    requests_events: u64,
    requests_probe: u64,
    requests_bird: u64,
    accepted: u64,
    /// Of `accepted`, those sent through Bird's endpoint.
    accepted_bird: u64,
    scheduled: u64,
    total_price: f64,
    recipients: HashMap<Box<str>, u32>,
    foreign_ids: HashMap<Box<str>, u32>,
    /// Foreign ids accepted more than once.
    duplicate_foreign_ids: u64,
    /// Bird's `reference` of each accepted message: how often accepted.
    references: HashMap<Box<str>, u32>,
    /// References accepted more than once.
    duplicate_references: u64,
    /// Per hash of (recipient, content): how often accepted.
    contents: HashMap<u64, u32>,
    /// (recipient, content) pairs accepted more than once.
    duplicate_contents: u64,
    rejections: BTreeMap<String, u64>,
    events: BTreeMap<&'static str, u64>,
    deletes: BTreeMap<&'static str, u64>,
    rate_limited: u64,
    injected_5xx: u64,
    hung: u64,
    lost_answers: u64,
    error_bodies: u64,
    senders: HashMap<Box<str>, SenderStats>,
    first_accept_ms: Option<i64>,
    last_accept_ms: Option<i64>,
}

/// What is recorded of an accepted message.
pub(crate) struct Accept<'a> {
    pub(crate) from: &'a str,
    pub(crate) to: &'a str,
    pub(crate) foreign_id: Option<&'a str>,
    pub(crate) content_key: u64,
    pub(crate) scheduled: bool,
    pub(crate) price: f64,
    pub(crate) now: Instant,
    pub(crate) now_unix_ms: i64,
}

fn bump(map: &mut HashMap<Box<str>, u32>, key: &str) -> u32 {
    match map.get_mut(key) {
        Some(count) => {
            *count += 1;
            *count
        }
        None => {
            map.insert(key.into(), 1);
            1
        }
    }
}

impl Stats {
    pub(crate) fn request(&mut self, endpoint: Endpoint) {
        match endpoint {
            Endpoint::Messages => self.requests_messages += 1,
            Endpoint::Delete => self.requests_delete += 1,
            Endpoint::Events => self.requests_events += 1,
            Endpoint::Bird => self.requests_bird += 1,
            Endpoint::Probe => self.requests_probe += 1,
        }
    }

    pub(crate) fn rejected(&mut self, code: &str) {
        match self.rejections.get_mut(code) {
            Some(count) => *count += 1,
            None => {
                self.rejections.insert(code.to_owned(), 1);
            }
        }
    }

    pub(crate) fn rate_limited(&mut self) {
        self.rate_limited += 1;
    }

    pub(crate) fn injected_5xx(&mut self) {
        self.injected_5xx += 1;
    }

    pub(crate) fn hung(&mut self) {
        self.hung += 1;
    }

    pub(crate) fn lost_answer(&mut self) {
        self.lost_answers += 1;
    }

    pub(crate) fn error_body(&mut self) {
        self.error_bodies += 1;
    }

    pub(crate) fn event(&mut self, event: &'static str) {
        *self.events.entry(event).or_default() += 1;
    }

    pub(crate) fn delete(&mut self, outcome: &'static str) {
        *self.deletes.entry(outcome).or_default() += 1;
    }

    pub(crate) fn accepted(&mut self, accept: &Accept<'_>) {
        self.accepted += 1;
        self.total_price += accept.price;
        if accept.scheduled {
            self.scheduled += 1;
        }
        bump(&mut self.recipients, accept.to);
        if let Some(foreign_id) = accept.foreign_id
            && bump(&mut self.foreign_ids, foreign_id) == 2
        {
            self.duplicate_foreign_ids += 1;
        }
        let seen = self.contents.entry(accept.content_key).or_default();
        *seen += 1;
        if *seen == 2 {
            self.duplicate_contents += 1;
        }
        let sender = match self.senders.get_mut(accept.from) {
            Some(sender) => sender,
            None => self.senders.entry(accept.from.into()).or_default(),
        };
        sender.accept(accept.now, accept.now_unix_ms.div_euclid(1000));
        self.first_accept_ms.get_or_insert(accept.now_unix_ms);
        self.last_accept_ms = Some(accept.now_unix_ms);
    }

    /// Counts a message accepted through Bird's endpoint (after [`Stats::accepted`]), by its
    /// `reference`.
    pub(crate) fn bird_accepted(&mut self, reference: Option<&str>) {
        self.accepted_bird += 1;
        if let Some(reference) = reference
            && bump(&mut self.references, reference) == 2
        {
            self.duplicate_references += 1;
        }
    }

    /// The counters as JSON; `detail` adds the per-recipient, per-foreign-id, per-reference and
    /// per-second maps.
    pub(crate) fn to_json(&self, detail: bool) -> Value {
        let max_bucket = self.senders.values().map(|s| s.max_bucket).max();
        let max_sliding = self.senders.values().map(|s| s.max_sliding).max();
        let senders: Map<String, Value> = self
            .senders
            .iter()
            .map(|(number, sender)| (number.to_string(), sender.to_json(detail)))
            .collect();
        let mut out = json!({
            "requests": {
                "total": self.requests_messages + self.requests_delete + self.requests_events
                    + self.requests_bird + self.requests_probe,
                "messages": self.requests_messages,
                "delete": self.requests_delete,
                "events": self.requests_events,
                "bird": self.requests_bird,
                "probe": self.requests_probe,
            },
            "accepted": self.accepted,
            "scheduled": self.scheduled,
            "total_price": self.total_price,
            "distinct_recipients": self.recipients.len(),
            "duplicates": {
                "foreign_ids": self.duplicate_foreign_ids,
                "recipient_content": self.duplicate_contents,
            },
            // Bird's part of `accepted`, and its references accepted more than once (the
            // counterpart of `duplicates.foreign_ids`).
            "bird": {
                "accepted": self.accepted_bird,
                "duplicate_references": self.duplicate_references,
            },
            "rejections": self.rejections,
            "events": self.events,
            "deletes": self.deletes,
            "rate_limited": self.rate_limited,
            "injected_5xx": self.injected_5xx,
            "hung": self.hung,
            "lost_answers": self.lost_answers,
            "error_bodies": self.error_bodies,
            "max_per_second": {
                "bucket": max_bucket.unwrap_or(0),
                "sliding": max_sliding.unwrap_or(0),
            },
            "senders": senders,
            "first_accept_at_ms": self.first_accept_ms,
            "last_accept_at_ms": self.last_accept_ms,
        });
        if detail {
            let map = |counts: &HashMap<Box<str>, u32>| -> Map<String, Value> {
                counts
                    .iter()
                    .map(|(key, count)| (key.to_string(), Value::from(*count)))
                    .collect()
            };
            out["recipients"] = Value::Object(map(&self.recipients));
            out["foreign_ids"] = Value::Object(map(&self.foreign_ids));
            out["references"] = Value::Object(map(&self.references));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_window_counts_the_densest_second_across_bucket_edges() {
        let start = Instant::now();
        let mut sender = SenderStats::default();
        // 3 at the end of second 10 and 3 at the start of second 11: buckets see 3 each,
        // the sliding window sees all 6 within 200 ms.
        for (ms, second) in [
            (900, 10),
            (950, 10),
            (990, 10),
            (1010, 11),
            (1050, 11),
            (1100, 11),
        ] {
            sender.accept(start + Duration::from_millis(ms), second);
        }
        assert_eq!(sender.max_bucket, 3);
        assert_eq!(sender.max_sliding, 6);
        // One second after the first accept it falls out of the window.
        sender.accept(start + Duration::from_millis(1900), 11);
        assert_eq!(sender.window.len(), 6);
        assert_eq!(sender.max_sliding, 6);
        assert_eq!(sender.max_bucket, 4);
    }
}
