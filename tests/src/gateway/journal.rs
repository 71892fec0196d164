//! `--journal FILE`: one JSON line per message request as it arrives, and one per message
//! accepted, on seven's and Bird's send endpoints, so that a long run can be checked afterwards
//! message by message: what was offered per sender and second, when each `foreign_id` (seven) or
//! `reference` (Bird) arrived, and how often it was accepted. `/stats` keeps totals only, and
//! `GET /messages` keeps seven's accepted messages in memory.
//!
//! A `request` line is written before latency, hangs and any other fault, with the time of
//! arrival: it is what the client offered, whatever the answer. An `accepted` line follows when
//! the message is accepted. Lines are written whole, one `write` each and unbuffered, so the file
//! is complete up to the last request even if the mock is killed.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::gateway::state::unix_ms;

/// What a line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// A message request arrived.
    Request,
    /// A message was accepted.
    Accepted,
}

/// Which endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// `POST /api/waba/messages`.
    Seven,
    /// `POST /workspaces/{workspace}/channels/{channel}/messages`.
    Bird,
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// What happened.
    pub event: Event,
    /// When, in unix milliseconds: the arrival of a request, the acceptance of a message.
    pub at_ms: i64,
    /// The endpoint.
    pub provider: Provider,
    /// seven's `from`, or Bird's channel id (lowercase): whose rate the message counts against.
    /// `None` when a request's body does not say.
    pub sender: Option<String>,
    /// seven's `foreign_id` or Bird's `reference`, when the request has one.
    pub id: Option<String>,
}

/// The open journal file.
#[derive(Debug)]
pub(crate) struct Journal {
    file: Mutex<File>,
}

/// The fields of a request body the journal reads on arrival; the rest is ignored here and
/// validated later as usual.
#[derive(Deserialize)]
struct SevenIds {
    from: Option<String>,
    foreign_id: Option<String>,
}

#[derive(Deserialize)]
struct BirdIds {
    reference: Option<String>,
}

impl Journal {
    /// Creates (or truncates) `path`.
    pub(crate) fn create(path: &Path) -> io::Result<Journal> {
        let file = File::create(path).map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("cannot create the journal {}: {error}", path.display()),
            )
        })?;
        Ok(Journal {
            file: Mutex::new(file),
        })
    }

    /// Records a seven message request on arrival, reading `from` and `foreign_id` from the raw
    /// body (nothing when it is not JSON).
    pub(crate) fn seven_request(&self, body: &[u8]) {
        let ids = serde_json::from_slice::<SevenIds>(body).ok();
        let (sender, id) = ids.map_or((None, None), |ids| (ids.from, ids.foreign_id));
        self.write(Event::Request, Provider::Seven, sender, id);
    }

    /// Records a Bird message request to `channel` on arrival, with the body's `reference`.
    pub(crate) fn bird_request(&self, channel: &str, body: &[u8]) {
        let reference = serde_json::from_slice::<BirdIds>(body)
            .ok()
            .and_then(|ids| ids.reference);
        let sender = Some(channel.to_ascii_lowercase());
        self.write(Event::Request, Provider::Bird, sender, reference);
    }

    /// Records an accepted message.
    pub(crate) fn accepted(&self, provider: Provider, sender: &str, id: Option<&str>) {
        let sender = Some(sender.to_owned());
        self.write(Event::Accepted, provider, sender, id.map(str::to_owned));
    }

    fn write(&self, event: Event, provider: Provider, sender: Option<String>, id: Option<String>) {
        let entry = Entry {
            event,
            at_ms: unix_ms(),
            provider,
            sender,
            id,
        };
        let mut line = serde_json::to_vec(&entry).expect("a journal entry serialises");
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(error) = file.write_all(&line) {
            // The run goes on; the check that reads the journal will miss lines and say so.
            tracing::error!(%error, "Cannot write the journal.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_back_as_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let journal = Journal::create(&path).unwrap();
        journal.seven_request(br#"{"from": "4915112345678", "foreign_id": "c.1", "to": "x"}"#);
        journal.seven_request(b"not json");
        journal.bird_request("5E6F", br#"{"reference": "c.2"}"#);
        journal.accepted(Provider::Seven, "4915112345678", Some("c.1"));

        let text = std::fs::read_to_string(&path).unwrap();
        let entries: Vec<Entry> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let summary: Vec<_> = entries
            .iter()
            .map(|e| (e.event, e.provider, e.sender.as_deref(), e.id.as_deref()))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    Event::Request,
                    Provider::Seven,
                    Some("4915112345678"),
                    Some("c.1")
                ),
                (Event::Request, Provider::Seven, None, None),
                (Event::Request, Provider::Bird, Some("5e6f"), Some("c.2")),
                (
                    Event::Accepted,
                    Provider::Seven,
                    Some("4915112345678"),
                    Some("c.1")
                ),
            ]
        );
        assert!(entries.iter().all(|e| e.at_ms > 1_700_000_000_000));
    }
}
