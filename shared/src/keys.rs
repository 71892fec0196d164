//! The Redis key schema: one documented function per key, all under one prefix.
//!
//! # The structures
//!
//! wacast keeps the queue and the operator's record in the same keys, so that one Lua script
//! changes both atomically and an operator reads one hash per message.
//!
//! - `{prefix}:campaigns` (sorted set): campaign ids scored by creation time (ms), for `wacast list`.
//! - `{prefix}:campaign:{id}` (hash): the campaign's spec (`from`, `content`, `columns`, `send_at`,
//!   `ttl`, `label`, …), its `state`, and its counters `total`, `rejected`, `queued`, `claimed`,
//!   `sending`, `sent`, `failed`, `expired`, `cancelled`, `unknown`, `retries`, `cost`. The
//!   counters always equal the number of message hashes in each status, because every status
//!   change is one script that moves both. Also: `ingest` (`running` while `wacast enqueue`
//!   adds rows, then `done`), `rows` (the highest row enqueued: messages are walked as
//!   `1..=rows`), `created_at`, and as it goes `started_at` (first claim), `paused_at`,
//!   `pause_reason`, `cancelled_at`, `finished_at` (ingest done and no message queued, claimed
//!   or sending). `streak_code` and `streak`: the failures in a row with the same code
//!   (fleet-wide, counted by the ack; `sent` ends a streak), which pause the campaign at a
//!   length the worker sets (`--pause-after-failures`, and 3 for WhatsApp's template-level
//!   codes); `late_streak_code` and `late_streak` count the same for failures the callbacks
//!   report after sending (a delivered or read report ends them). `handoff_ahead` (minutes, `--handoff-ahead`) is how long before its send time
//!   a message may be handed to seven, which holds it until then; `tz` the zone (`--tz`) the
//!   operator's commands show its times in; `purging` is set while
//!   `wacast purge` deletes the campaign (a purge interrupted is finished by running it again);
//!   `put_off_to` is the highest row a sender's rate or tier has put off so far (the claim
//!   counts each row it puts off once, in `wacast_messages_deferred_total`).
//! - `{prefix}:campaign:{id}:msg:{row}` (hash): one message: `to`, the row's values `p1`…`pN`
//!   (the campaign's `columns`, in order), `status`, the row's overrides `send_at`, `ttl`,
//!   `label`, `language` only when it has them, and as it goes `claims` (how often it was
//!   claimed: the fencing token of the current claim), `worker`, `attempts`, `missed_slots`
//!   (how often it went back unsent for missing its rate slot; at 20 it fails), `provider_id`,
//!   `price`, `error_code`, `error` (with `error_ref` when the whole reason is in the campaign's
//!   reasons table), `sent_at`, `updated_at`, `next_attempt_at`; after `wacast retry`,
//!   `last_status`, `last_error_code`, `last_error` (`last_error_ref`) and `retried_at` keep the
//!   failure it replaced; after `wacast cancel` asked seven to delete a message it held,
//!   `provider_delete` (`deleted`, `already_sent`, `not_found`, `failed`, `refused`, `retry`,
//!   `unknown`), `provider_delete_error` and `provider_delete_at`. Fields that
//!   have no value yet are absent rather than empty, and values are kept to 64 bytes, which
//!   keeps a queued message small (the whole point of the `p1`… naming): about 200 bytes of
//!   Redis memory per queued message with two short values, its share of the due entry included.
//! - `{prefix}:due` (sorted set): due entries scored by due time (ms): the send time, or the
//!   next retry. An entry is one message, `{id}:{row}`, or a run of consecutive rows due at the
//!   same time, `{id}:{from}-{to}`, as an upload writes them (one entry per run instead of one
//!   per row saves a sorted-set insertion and about 100 bytes per message). Workers claim from
//!   its low end, taking rows off the front of a run and putting the rest back. Runs of a paused
//!   campaign move aside when they come due; runs of a cancelled one are dropped then.
//! - `{prefix}:leases` (sorted set): claimed message references scored by lease expiry (ms).
//! - `{prefix}:campaign:{id}:paused` (sorted set): a paused campaign's due entries, with their
//!   scores, until it is resumed.
//! - `{prefix}:campaign:{id}:failed` (set): rows whose last outcome is `failed` or `unknown`.
//! - `{prefix}:campaign:{id}:reasons` (hash: id → text): the campaign's failure reasons longer
//!   than 64 bytes, whole (up to 1,000 bytes), each once, by id (the first 12 hex digits of its
//!   SHA-1). A message with such a reason keeps its id in `error_ref` (`last_error_ref` after
//!   `wacast retry`) and its first 37 bytes and `…` in `error`: a whole reason in each message
//!   hash would turn it from Redis's compact listpack into a hash table. At most 1,000 distinct
//!   reasons per campaign; past that a reason keeps only its first 64 bytes. The reads
//!   (`wacast status`, `report`) show the whole text.
//! - `{prefix}:campaign:{id}:rejects` (hash: reason code → JSON `{"count": n, "rows":
//!   [{"line": 4, "message": "…"}, …]}`): the rows the upload rejected, by reason: how many, and
//!   the first 20 with their line numbers (each message up to 300 bytes), written when the
//!   enqueue has read the whole file (`queue::rejects`); absent when it rejected none. The
//!   rejects file has every row; the console's campaign page shows these.
//! - `{prefix}:campaign:{id}:minutes:{hour}` (hash, the hour as whole hours since the Unix
//!   epoch, expiring a day after its last write): the campaign's messages recorded `sent`
//!   (`s{minute}`, the minute 0–59 of that hour) and counted `delivered` (`d{minute}`) in
//!   each minute, by Redis's clock, for the console's chart and current rate. Every script
//!   that moves the `sent` or `delivered` counter adds to them (`move` and `apply_deltas` in
//!   `common.lua`); a campaign keeps at most 25, and `wacast purge` deletes them with the rest.
//! - `{prefix}:optout` (set): numbers (E.164 digits) never to message, and
//!   `{prefix}:optout:source` (hash: digits → JSON `{"source": "reply" | "131050" | "manual" |
//!   "import", "at": RFC 3339, "campaign": id, "row": n}`, campaign and row only when known):
//!   how each got there. A callback that opts a number out adds its source only when the number
//!   is new to the list or has none, so the first reason stays.
//! - What the providers' callbacks report (`queue::delivery`), on the message hash: `delivery`
//!   (`delivered`, `read` or `failed`), `delivered_at`, `read_at`, `replied_at`,
//!   `delivery_error_code`, `delivery_error` (whole, up to 500 bytes: it is read rarely and
//!   only for failures), `opted_out_at`, `deferred` (how many times a late 131049 put the row
//!   back); on the campaign hash the counters `delivered` (messages delivered or read), `read`,
//!   `replied`, `delivery_failed`, `opted_out` (messages whose recipient opted out through
//!   them) and `deferred` (131049 deferrals, an event count). Absent counters are 0.
//! - Indexes written when a message is recorded `sent`, so that a callback finds it:
//!   `{prefix}:pid:{provider}:{provider_id}` (string, 30 days: `{campaign}:{row}`; for the
//!   callbacks that carry only the provider's id) and
//!   `{prefix}:last:{provider}:{sender}:{recipient}` (string, 7 days: `{campaign}:{row}` of
//!   the last message to that recipient from that sender, which an inbound message counts as
//!   replied to). The sender is [`crate::delivery::sender_key`]'s: seven's sender number
//!   (digits), Bird's channel id; the recipient is the number's digits.
//! - `{prefix}:window:{provider}:{sender}:{recipient}` (string, 24 hours: when the recipient
//!   last wrote to us): their 24-hour window is open. The claim fails the rows of
//!   `--only-open-window` campaigns without one (`no_window`).
//! - `{prefix}:hooks:unmatched` (list, newest first, the last 1,000): callbacks no message
//!   matched, as JSON `{"at", "provider", "kind": "status" | "inbound", "reference",
//!   "provider_id", "status", "from"}` (null where the callback had none).
//! - `{prefix}:hooks:nonce:{provider}:{nonce}` (string, set once with NX and a ttl): a signed
//!   callback's nonce, seen; a replay finds it taken.
//! - Sender limits, keyed by `{provider}:{sender}` (e.g. `seven:4915112345678`; see
//!   `queue::limits`): `{prefix}:limit:{provider}:{sender}` (hash: the operator's `rate`,
//!   `burst` and `tier`, `updated_at`), listed in `{prefix}:limits` (set);
//!   `{prefix}:backoff:{provider}:{sender}` (hash: `factor`, the share of the sender's rate
//!   left after the provider's rate limiting, and `at`, when it was last lowered, ms; the claim
//!   recovers it as time passes and the key expires once it would be whole again, see
//!   `queue::backoff`);
//!   `{prefix}:gcra:{provider}:{sender}` (string: the rate schedule, the theoretical arrival
//!   time of the sender's next message in ms); `{prefix}:pair:{provider}:{sender}`
//!   (sorted set: recent recipients by when, in ms, each may get the sender's next message;
//!   gone a second after the last frees); `{prefix}:tier:{provider}:{sender}` (sorted set:
//!   recipients by their last claim, ms). A campaign put off by a limit records why in
//!   `waiting` (`rate`, `pair`, `tier` or `window`) and until when in `waiting_until`.
//! - `{prefix}:wake` (pub/sub channel): the earliest due time (ms) of work just made due
//!   (enqueue, resume, retry, reap, release), so idle workers wake without polling.
//! - The live workers (`queue::workers`, `wacast workers`): `{prefix}:worker:{id}` (hash,
//!   expiring three heartbeats after the last: `host`, `pid`, `started_at`, `version`,
//!   `in_flight`, `last_seen` (RFC 3339, Redis's clock), and per provider `health:{provider}`
//!   (`ok`, `no_key`, `key_refused`, `unreachable`, `breaker_open`) with `since:{provider}`),
//!   and `{prefix}:workers` (sorted set: worker ids by last heartbeat, ms; ids gone a day are
//!   dropped), so that listing them needs no `SCAN`.
//! - `{prefix}:watch:leader` (string, expiring a few seconds after its holder last renewed it):
//!   the id of the one worker that logs the campaigns' lifecycle and progress (`queue::fleet`).
//!
//! Every value is a plain string, so `redis-cli HGETALL` reads it.
//!
//! The Lua scripts derive the campaign, message, paused, failed and sender keys from the prefixes
//! below with helpers of their own (`queue/scripts/common.lua`), spelled as here; a test in
//! `queue/scripts.rs` holds the two to the same names.

use crate::campaign::{CampaignId, ProviderKind};
use crate::message::Row;
use crate::phone::PhoneNumber;

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "wacast";

/// The key schema under one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// The schema under `prefix` (without the trailing `:`).
    pub fn new(prefix: &str) -> Self {
        Keys {
            prefix: prefix.trim_end_matches(':').to_string(),
        }
    }

    /// The prefix, without the trailing `:`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Sorted set of campaign ids by creation time.
    pub fn campaigns(&self) -> String {
        format!("{}:campaigns", self.prefix)
    }

    /// Hash: a campaign's spec, state and counters.
    pub fn campaign(&self, id: &CampaignId) -> String {
        format!("{}:campaign:{id}", self.prefix)
    }

    /// Hash: one message of a campaign.
    pub fn message(&self, id: &CampaignId, row: Row) -> String {
        format!("{}:campaign:{id}:msg:{row}", self.prefix)
    }

    /// The prefix of a campaign's message keys; the row follows it. Lua scripts build message
    /// keys from it (`msg_prefix .. row`).
    pub fn message_prefix(&self, id: &CampaignId) -> String {
        format!("{}:campaign:{id}:msg:", self.prefix)
    }

    /// The prefix every campaign key starts with; `{id}` follows it. Lua scripts build campaign
    /// keys from it.
    pub fn campaign_prefix(&self) -> String {
        format!("{}:campaign:", self.prefix)
    }

    /// Sorted set: due message references by due time (ms).
    pub fn due(&self) -> String {
        format!("{}:due", self.prefix)
    }

    /// Sorted set: claimed message references by lease expiry (ms).
    pub fn leases(&self) -> String {
        format!("{}:leases", self.prefix)
    }

    /// Sorted set: a paused campaign's due references, scores kept.
    pub fn paused(&self, id: &CampaignId) -> String {
        format!("{}:campaign:{id}:paused", self.prefix)
    }

    /// Set: rows whose last outcome is `failed` or `unknown`.
    pub fn failed(&self, id: &CampaignId) -> String {
        format!("{}:campaign:{id}:failed", self.prefix)
    }

    /// Hash: a campaign's failure reasons longer than a message hash keeps, whole, by their
    /// id (the first 12 hex digits of their SHA-1), which messages keep in `error_ref`.
    pub fn reasons(&self, id: &CampaignId) -> String {
        format!("{}:campaign:{id}:reasons", self.prefix)
    }

    /// Hash: the rows a campaign's upload rejected, by reason code → JSON of its count and
    /// first rows.
    pub fn rejects(&self, id: &CampaignId) -> String {
        format!("{}:campaign:{id}:rejects", self.prefix)
    }

    /// Hash: a campaign's sends (`s{minute}`) and deliveries (`d{minute}`) per minute of
    /// `hour` (whole hours since the Unix epoch).
    pub fn minutes(&self, id: &CampaignId, hour: i64) -> String {
        format!("{}:campaign:{id}:minutes:{hour}", self.prefix)
    }
    /// Set: numbers never to message.
    pub fn optout(&self) -> String {
        format!("{}:optout", self.prefix)
    }

    /// Hash: opted-out number (digits) → JSON of how it got on the list.
    pub fn optout_source(&self) -> String {
        format!("{}:optout:source", self.prefix)
    }

    /// String: the message (`{campaign}:{row}`) a provider's message id belongs to.
    pub fn provider_id(&self, provider: ProviderKind, provider_id: &str) -> String {
        format!("{}:pid:{}:{provider_id}", self.prefix, provider.as_str())
    }

    /// String: the last message (`{campaign}:{row}`) sent to `recipient` (digits) from
    /// `sender` ([`crate::delivery::sender_key`]).
    pub fn last_sent(&self, provider: ProviderKind, sender: &str, recipient: &str) -> String {
        format!(
            "{}:last:{}:{sender}:{recipient}",
            self.prefix,
            provider.as_str()
        )
    }

    /// String: present while `recipient`'s 24-hour window with `sender` is open.
    pub fn window(&self, provider: ProviderKind, sender: &str, recipient: &str) -> String {
        format!(
            "{}:window:{}:{sender}:{recipient}",
            self.prefix,
            provider.as_str()
        )
    }

    /// List: the callbacks no message matched, newest first.
    pub fn hooks_unmatched(&self) -> String {
        format!("{}:hooks:unmatched", self.prefix)
    }

    /// String: a signed callback's nonce, taken.
    pub fn hooks_nonce(&self, provider: &str, nonce: &str) -> String {
        format!("{}:hooks:nonce:{provider}:{nonce}", self.prefix)
    }

    /// Pub/sub channel that wakes idle workers.
    pub fn wake(&self) -> String {
        format!("{}:wake", self.prefix)
    }

    /// Hash: a live worker's registration, expiring when its heartbeats stop.
    pub fn worker(&self, id: &str) -> String {
        format!("{}:worker:{id}", self.prefix)
    }

    /// Sorted set: worker ids by their last heartbeat (ms).
    pub fn workers(&self) -> String {
        format!("{}:workers", self.prefix)
    }

    /// String: the id of the worker that logs the campaigns' lifecycle, expiring unless it
    /// renews it.
    pub fn watch_leader(&self) -> String {
        format!("{}:watch:leader", self.prefix)
    }

    /// Set: the senders the operator has settings for, as [`sender_name`]s.
    pub fn limits(&self) -> String {
        format!("{}:limits", self.prefix)
    }

    /// Hash: a sender's settings (`rate`, `burst`, `tier`, `updated_at`).
    pub fn limit(&self, sender: &str) -> String {
        format!("{}:limit:{sender}", self.prefix)
    }

    /// String: a sender's GCRA schedule, the theoretical arrival time of its next message (ms).
    pub fn gcra(&self, sender: &str) -> String {
        format!("{}:gcra:{sender}", self.prefix)
    }

    /// Sorted set: `sender`'s recent recipients, scored by when (ms) each may get its next
    /// message (the pair interval after the last one's slot).
    pub fn pair(&self, sender: &str) -> String {
        format!("{}:pair:{sender}", self.prefix)
    }

    /// Hash: a sender's rate backoff after the provider's rate limiting (`factor`, the share
    /// of its rate left, and `at`, the last decrease in ms); gone once the rate recovered.
    pub fn backoff(&self, sender: &str) -> String {
        format!("{}:backoff:{sender}", self.prefix)
    }

    /// Sorted set: a sender's recipients by their last claim (ms), for the tier cap.
    pub fn tier(&self, sender: &str) -> String {
        format!("{}:tier:{sender}", self.prefix)
    }

    /// The prefix the scripts build the sender, opt-out and delivery index keys from
    /// (`{prefix}:`).
    pub fn limit_prefix(&self) -> String {
        format!("{}:", self.prefix)
    }
}

/// The name a sender's limits are keyed by: `{provider}:{digits}`, e.g. `seven:4915112345678`.
pub fn sender_name(provider: ProviderKind, sender: &PhoneNumber) -> String {
    format!("{}:{}", provider.as_str(), sender.digits())
}

/// A message's reference in the due and lease sets: `{campaign}:{row}`.
pub fn message_ref(id: &CampaignId, row: Row) -> String {
    let mut out = String::new();
    write_message_ref(&mut out, id, row);
    out
}

/// [`message_ref`] appended to `out`, for callers that reuse one buffer for many messages.
pub fn write_message_ref(out: &mut String, id: &CampaignId, row: Row) {
    use std::fmt::Write as _;
    // Writing to a String cannot fail.
    let _ = write!(out, "{id}:{row}");
}

/// Splits a message reference back into campaign and row.
pub fn parse_message_ref(reference: &str) -> Option<(CampaignId, Row)> {
    let (id, row) = reference.rsplit_once(':')?;
    Some((CampaignId::parse(id).ok()?, row.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_documented_layout() {
        let keys = Keys::new("wacast:");
        let id = CampaignId::parse("spring").unwrap();
        assert_eq!(keys.campaign(&id), "wacast:campaign:spring");
        assert_eq!(keys.message(&id, 7), "wacast:campaign:spring:msg:7");
        assert_eq!(keys.message_prefix(&id) + "7", keys.message(&id, 7));
        assert_eq!(keys.due(), "wacast:due");
        assert_eq!(keys.failed(&id), "wacast:campaign:spring:failed");
        assert_eq!(message_ref(&id, 7), "spring:7");
        assert_eq!(parse_message_ref("spring:7"), Some((id, 7)));
        assert_eq!(parse_message_ref("spring"), None);
    }
}
