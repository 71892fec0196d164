//! What the mock counts of its callbacks, under `/stats` `callbacks`, so that tests can compare
//! what it sent with what the receiver recorded. Events are counted by kind (`delivered`,
//! `read`, `failed`, `reply`, `stop`): `planned` (decided when the message was accepted),
//! `dropped` (planned, never sent), `acknowledged` (answered 2xx at least once), `refused` (a
//! final 4xx), `gave_up` (retries ran out), `pending` (not finished yet: a test waits for 0);
//! `failed_codes` the acknowledged late failures by code. Requests: `requests` (every attempt,
//! forged copies and duplicates included), `answers` by HTTP status (`error` when none came),
//! `retried`, `duplicates`, `forged`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// How one event's sending ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    Acknowledged,
    Refused,
    GaveUp,
}

/// The callback counters; behind the callbacks' own lock.
#[derive(Debug, Default)]
pub(crate) struct CallbackStats {
    planned: BTreeMap<&'static str, u64>,
    dropped: BTreeMap<&'static str, u64>,
    acknowledged: BTreeMap<&'static str, u64>,
    refused: BTreeMap<&'static str, u64>,
    gave_up: BTreeMap<&'static str, u64>,
    failed_codes: BTreeMap<String, u64>,
    answers: BTreeMap<String, u64>,
    requests: u64,
    retried: u64,
    duplicates: u64,
    forged: u64,
    /// Events planned, not dropped, and not finished: survives a reset.
    pending: u64,
}

fn bump<K: Ord>(map: &mut BTreeMap<K, u64>, key: K) {
    *map.entry(key).or_default() += 1;
}

impl CallbackStats {
    pub(crate) fn planned(&mut self, kind: &'static str, dropped: bool) {
        bump(&mut self.planned, kind);
        if dropped {
            bump(&mut self.dropped, kind);
        } else {
            self.pending += 1;
        }
    }

    /// One request and its answer: the HTTP status, or `None` when none came.
    pub(crate) fn answered(&mut self, status: Option<u16>, retry: bool) {
        self.requests += 1;
        if retry {
            self.retried += 1;
        }
        let key = status.map_or_else(|| "error".to_owned(), |status| status.to_string());
        bump(&mut self.answers, key);
    }

    pub(crate) fn duplicate(&mut self) {
        self.duplicates += 1;
    }

    pub(crate) fn forged(&mut self) {
        self.forged += 1;
    }

    /// An event is done; `code` is a late failure's.
    pub(crate) fn finished(&mut self, kind: &'static str, code: Option<&str>, ending: Ending) {
        self.pending = self.pending.saturating_sub(1);
        let map = match ending {
            Ending::Acknowledged => &mut self.acknowledged,
            Ending::Refused => &mut self.refused,
            Ending::GaveUp => &mut self.gave_up,
        };
        bump(map, kind);
        if let (Ending::Acknowledged, Some(code)) = (ending, code) {
            bump(&mut self.failed_codes, code.to_owned());
        }
    }

    /// Clears the counters; events in flight stay pending.
    pub(crate) fn reset(&mut self) {
        *self = CallbackStats {
            pending: self.pending,
            ..CallbackStats::default()
        };
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "planned": self.planned,
            "dropped": self.dropped,
            "acknowledged": self.acknowledged,
            "refused": self.refused,
            "gave_up": self.gave_up,
            "failed_codes": self.failed_codes,
            "pending": self.pending,
            "requests": self.requests,
            "answers": self.answers,
            "retried": self.retried,
            "duplicates": self.duplicates,
            "forged": self.forged,
        })
    }
}
