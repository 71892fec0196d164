//! The queue against a real redis-server: every transition, the counters, fencing, reaping,
//! chunked walks, concurrent fetchers, and the apalis backend.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use apalis::prelude::WorkerBuilder;
use chrono::{TimeZone, Utc};
use redis::AsyncCommands;
use serde_json::json;
use tokio::sync::mpsc;
use wacast_shared::campaign::{Campaign, CampaignId, CampaignState};
use wacast_shared::message::{Row, RowOverrides};
use wacast_shared::phone::PhoneNumber;
use wacast_shared::queue::backend::{FetchConfig, QueueBackend};
use wacast_shared::queue::{
    Claimed, Created, Ingest, Lease, MAX_REJECT_LEN, MAX_REJECT_ROWS, MessageStatus, NewMessage,
    Queue, QueueError, RejectSample, RejectedRow, RetryEntry, RetryKind, SendPermit, Terminal,
};
use wacast_shared::testing::{self, TestRedis, counters_match_messages};

/// The time now, in unix milliseconds. The test's Redis runs on this host, so its clock (which
/// the queue decides by) is this host's.
fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

const LEASE: Duration = Duration::from_secs(30);
/// A fixed "now" for tests that drive time themselves: 2030-01-01T00:00:00Z.
const T0: i64 = 1_893_456_000_000;

fn campaign(id: &str) -> Campaign {
    Campaign {
        label: Some("spring".into()),
        created_at: Utc::now(),
        ..testing::campaign(
            id,
            json!({"type": "template", "template": "order", "language": "de",
                "components": {"body": ["{{name}}", "{{order_id}}"]}}),
            &["name", "order_id"],
            Utc.timestamp_millis_opt(T0).unwrap(),
        )
    }
}

fn message(row: Row, due_ms: i64) -> NewMessage {
    NewMessage {
        row,
        to: phone(row),
        values: vec![format!("Name {row}"), format!("A-{row}")],
        overrides: RowOverrides::default(),
        due_ms,
    }
}

fn phone(row: Row) -> PhoneNumber {
    PhoneNumber::from_stored(&format!("49151{row:08}")).unwrap()
}

fn messages(rows: std::ops::RangeInclusive<Row>, due_ms: i64) -> Vec<NewMessage> {
    rows.map(|row| message(row, due_ms)).collect()
}

/// A queue with a created campaign holding `rows` due at `due_ms`, its ingest finished.
async fn setup(rows: Row, due_ms: i64) -> (Queue, CampaignId) {
    let queue = TestRedis::shared().await.queue().await;
    let spec = campaign("spring-sale");
    assert_eq!(queue.create_campaign(&spec).await.unwrap(), Created::New);
    if rows > 0 {
        let result = queue
            .enqueue_chunk(&spec.id, &messages(1..=rows, due_ms))
            .await
            .unwrap();
        assert_eq!(result.enqueued, rows);
    }
    queue.finish_ingest(&spec.id, 0).await.unwrap();
    (queue, spec.id)
}

/// A message hash, all its fields.
pub(crate) async fn fields(queue: &Queue, id: &CampaignId, row: Row) -> HashMap<String, String> {
    queue
        .connection()
        .hgetall(queue.keys().message(id, row))
        .await
        .unwrap()
}

async fn status(queue: &Queue, id: &CampaignId, row: Row) -> String {
    fields(queue, id, row)
        .await
        .remove("status")
        .unwrap_or_default()
}

async fn score(queue: &Queue, key: String, member: &str) -> Option<i64> {
    let score: Option<f64> = queue.connection().zscore(key, member).await.unwrap();
    score.map(|s| s as i64)
}

/// How many rows of campaign `id` the entries of the sorted set `key` cover: an entry is one
/// row (`id:row`) or a run of rows (`id:from-to`).
async fn covered(queue: &Queue, key: String, id: &CampaignId) -> u64 {
    let members: Vec<String> = queue.connection().zrange(key, 0, -1).await.unwrap();
    members
        .iter()
        .filter_map(|m| m.strip_prefix(&format!("{id}:")))
        .map(|rows| match rows.split_once('-') {
            Some((from, to)) => to.parse::<u64>().unwrap() - from.parse::<u64>().unwrap() + 1,
            None => 1,
        })
        .sum()
}

async fn assert_consistent(queue: &Queue, id: &CampaignId) {
    if let Err(problems) = counters_match_messages(queue, id).await {
        panic!("{problems}");
    }
}

async fn claim_all(queue: &Queue, worker: &str, now: i64) -> Vec<Claimed> {
    queue.claim(worker, 1000, LEASE, now).await.unwrap().claimed
}

#[tokio::test]
async fn a_created_campaign_reads_back_with_zero_counters_and_is_not_created_twice() {
    let queue = TestRedis::shared().await.queue().await;
    let spec = campaign("spring-sale");
    assert_eq!(queue.create_campaign(&spec).await.unwrap(), Created::New);

    let record = queue.load_campaign(&spec.id).await.unwrap();
    assert_eq!(record.campaign, spec);
    assert_eq!(record.state, CampaignState::Scheduled);
    assert_eq!(record.ingest, Ingest::Running);
    assert_eq!(record.rows, 0);
    assert_eq!(record.counters, Default::default());
    let hash: HashMap<String, String> = queue
        .connection()
        .hgetall(queue.keys().campaign(&spec.id))
        .await
        .unwrap();
    assert_eq!(hash["kind"], "template");
    assert_eq!(hash["template"], "order");
    assert_eq!(hash["from"], "4915112345678");
    assert_eq!(hash["columns"], r#"["name","order_id"]"#);
    assert_eq!(hash["send_at"], "2030-01-01T00:00:00Z");
    let listed: Vec<String> = queue
        .connection()
        .zrange(queue.keys().campaigns(), 0, -1)
        .await
        .unwrap();
    assert_eq!(listed, ["spring-sale"]);

    // An interrupted enqueue is resumed; a finished one is refused.
    assert_eq!(queue.create_campaign(&spec).await.unwrap(), Created::Resume);
    queue.finish_ingest(&spec.id, 3).await.unwrap();
    let err = queue.create_campaign(&spec).await.unwrap_err();
    assert!(
        matches!(err, QueueError::CampaignExists(ref id) if *id == spec.id),
        "{err}"
    );
    // An empty campaign completes as soon as its ingest is done.
    let record = queue.load_campaign(&spec.id).await.unwrap();
    assert_eq!(record.counters.rejected, 3);
    assert_eq!(record.state, CampaignState::Completed);
    assert!(record.finished_at.is_some());

    let missing = CampaignId::parse("nope").unwrap();
    assert!(matches!(
        queue.load_campaign(&missing).await,
        Err(QueueError::NotFound(_))
    ));
}

#[tokio::test]
async fn enqueue_stores_one_small_hash_per_row_and_one_due_entry_per_run() {
    let queue = TestRedis::shared().await.queue().await;
    let spec = campaign("spring-sale");
    queue.create_campaign(&spec).await.unwrap();
    let mut rows = messages(1..=3, T0);
    rows[2].due_ms = T0 + 5000;
    rows[2].overrides = RowOverrides {
        send_at: Some(Utc.timestamp_millis_opt(T0 + 5000).unwrap()),
        ttl_minutes: Some(60),
        label: Some("vip".into()),
        language: Some("en".into()),
    };
    let result = queue.enqueue_chunk(&spec.id, &rows).await.unwrap();
    assert_eq!((result.enqueued, result.skipped_existing), (3, 0));

    let plain = fields(&queue, &spec.id, 1).await;
    let expected: HashMap<String, String> = [
        ("to", "4915100000001"),
        ("p1", "Name 1"),
        ("p2", "A-1"),
        ("status", "queued"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(plain, expected);
    let with_overrides = fields(&queue, &spec.id, 3).await;
    assert_eq!(with_overrides["send_at"], "2030-01-01T00:00:05Z");
    assert_eq!(with_overrides["ttl"], "60");
    assert_eq!(with_overrides["label"], "vip");
    assert_eq!(with_overrides["language"], "en");
    // Rows 1 and 2 are due together: one entry for the run; row 3 has its own time.
    assert_eq!(
        score(&queue, queue.keys().due(), "spring-sale:1-2").await,
        Some(T0)
    );
    assert_eq!(
        score(&queue, queue.keys().due(), "spring-sale:3").await,
        Some(T0 + 5000)
    );
    let entries: u64 = queue.connection().zcard(queue.keys().due()).await.unwrap();
    assert_eq!(entries, 2);

    let record = queue.load_campaign(&spec.id).await.unwrap();
    assert_eq!(record.rows, 3);
    assert_eq!((record.counters.total, record.counters.queued), (3, 3));
    assert_consistent(&queue, &spec.id).await;
}

#[tokio::test]
async fn enqueueing_a_chunk_again_skips_the_rows_already_stored() {
    let queue = TestRedis::shared().await.queue().await;
    let spec = campaign("spring-sale");
    queue.create_campaign(&spec).await.unwrap();
    queue
        .enqueue_chunk(&spec.id, &messages(1..=10, T0))
        .await
        .unwrap();
    // Interrupted here; the re-run sends rows 1..=20 again.
    assert_eq!(queue.create_campaign(&spec).await.unwrap(), Created::Resume);
    let again = queue
        .enqueue_chunk(&spec.id, &messages(1..=20, T0))
        .await
        .unwrap();
    assert_eq!((again.enqueued, again.skipped_existing), (10, 10));
    let record = queue.load_campaign(&spec.id).await.unwrap();
    assert_eq!((record.counters.total, record.counters.queued), (20, 20));
    assert_eq!(record.rows, 20);
    assert_consistent(&queue, &spec.id).await;
}

#[tokio::test]
async fn opted_out_numbers_are_reported_instead_of_enqueued() {
    let queue = TestRedis::shared().await.queue().await;
    let spec = campaign("spring-sale");
    queue.create_campaign(&spec).await.unwrap();
    assert_eq!(
        queue
            .add_optouts(
                &[phone(2), phone(4)],
                wacast_shared::queue::OptoutSource::Manual
            )
            .await
            .unwrap(),
        2
    );
    let result = queue
        .enqueue_chunk(&spec.id, &messages(1..=5, T0))
        .await
        .unwrap();
    assert_eq!(result.enqueued, 3);
    assert_eq!(result.opted_out, vec![2, 4]);
    assert!(fields(&queue, &spec.id, 2).await.is_empty());
    queue.finish_ingest(&spec.id, 2).await.unwrap();
    let record = queue.load_campaign(&spec.id).await.unwrap();
    assert_eq!((record.counters.total, record.counters.rejected), (3, 2));
    assert_consistent(&queue, &spec.id).await;
}

#[tokio::test]
async fn enqueue_refuses_rows_that_do_not_fit_the_campaign() {
    let queue = TestRedis::shared().await.queue().await;
    let spec = campaign("spring-sale");
    let unknown = CampaignId::parse("unknown").unwrap();
    assert!(matches!(
        queue.enqueue_chunk(&unknown, &messages(1..=1, T0)).await,
        Err(QueueError::NotFound(_))
    ));
    queue.create_campaign(&spec).await.unwrap();
    let mut short = message(1, T0);
    short.values.pop();
    let err = queue.enqueue_chunk(&spec.id, &[short]).await.unwrap_err();
    assert!(
        matches!(
            err,
            QueueError::ValueCount {
                expected: 2,
                got: 1,
                ..
            }
        ),
        "{err}"
    );
    queue.finish_ingest(&spec.id, 0).await.unwrap();
    assert!(matches!(
        queue.enqueue_chunk(&spec.id, &messages(1..=1, T0)).await,
        Err(QueueError::IngestFinished(_))
    ));
}

#[tokio::test]
async fn claim_takes_only_due_messages_and_leases_them_to_the_worker() {
    let queue = TestRedis::shared().await.queue().await;
    let spec = campaign("claims");
    queue.create_campaign(&spec).await.unwrap();
    let id2 = spec.id;
    let mut rows = messages(1..=3, T0);
    rows[2].due_ms = T0 + 60_000;
    queue.enqueue_chunk(&id2, &rows).await.unwrap();
    queue.finish_ingest(&id2, 0).await.unwrap();

    let batch = queue.claim("w1", 10, LEASE, T0 + 1).await.unwrap();
    assert_eq!(batch.claimed.len(), 2);
    assert_eq!(batch.processed, 2);
    assert_eq!(batch.next_due_ms, Some(T0 + 60_000));
    let first = &batch.claimed[0];
    assert_eq!(first.message.campaign, id2);
    assert_eq!(first.message.row, 1);
    assert_eq!(first.message.to, phone(1));
    assert_eq!(first.message.values, ["Name 1", "A-1"]);
    assert_eq!(first.message.attempts, 0);
    assert_eq!(first.due_ms, T0);
    assert_eq!(first.lease.worker(), "w1");
    assert_eq!(first.lease.claim(), 1);

    let hash = fields(&queue, &id2, 1).await;
    assert_eq!(hash["status"], "claimed");
    assert_eq!(hash["worker"], "w1");
    // The lease runs from Redis's time (the script reads it), not from the `now` the claim
    // was given (T0, in the future).
    let expiry = score(&queue, queue.keys().leases(), "claims:1")
        .await
        .unwrap();
    let expected = queue.now_ms() + LEASE.as_millis() as i64;
    assert!((expected - expiry).abs() < 1000, "{expiry} vs {expected}");
    assert_eq!(score(&queue, queue.keys().due(), "claims:1").await, None);
    let record = queue.load_campaign(&id2).await.unwrap();
    assert_eq!(record.state, CampaignState::Running);
    assert!(record.started_at.is_some());
    assert_eq!((record.counters.queued, record.counters.claimed), (1, 2));
    assert_consistent(&queue, &id2).await;

    // Nothing else is due now.
    let again = queue.claim("w2", 10, LEASE, T0 + 1).await.unwrap();
    assert!(again.claimed.is_empty());
    assert_eq!(again.processed, 0);
}

#[tokio::test]
async fn a_message_goes_from_claimed_through_sending_to_sent_and_completes_its_campaign() {
    let (queue, id) = setup(2, T0).await;
    let claimed = claim_all(&queue, "w1", T0).await;
    assert_eq!(claimed.len(), 2);
    for (claim, price) in claimed.iter().zip([0.0735, 0.0265]) {
        assert_eq!(
            queue.mark_sending(&claim.lease, LEASE).await.unwrap(),
            SendPermit::Send
        );
        assert_eq!(status(&queue, &id, claim.message.row).await, "sending");
        assert_consistent(&queue, &id).await;
        let outcome = Terminal::Sent {
            provider_id: format!("prov-{}", claim.message.row),
            price: Some(price),
        };
        assert_eq!(
            queue.ack(&claim.lease, &outcome).await.unwrap(),
            Some(MessageStatus::Sent)
        );
        // Acking twice changes nothing.
        assert_eq!(queue.ack(&claim.lease, &outcome).await.unwrap(), None);
    }
    let hash = fields(&queue, &id, 1).await;
    assert_eq!(hash["status"], "sent");
    assert_eq!(hash["provider_id"], "prov-1");
    assert_eq!(hash["price"], "0.0735");
    assert_eq!(hash["attempts"], "1");
    assert!(hash.contains_key("sent_at"));
    let leases: u64 = queue
        .connection()
        .zcard(queue.keys().leases())
        .await
        .unwrap();
    assert_eq!(leases, 0);

    let record = queue.load_campaign(&id).await.unwrap();
    assert_eq!(record.counters.sent, 2);
    assert!(
        (record.counters.cost - 0.1).abs() < 1e-9,
        "{}",
        record.counters.cost
    );
    assert_eq!(record.state, CampaignState::Completed);
    assert!(record.finished_at.is_some());
    assert_consistent(&queue, &id).await;
}

#[tokio::test]
async fn every_terminal_outcome_moves_its_counter_and_the_failed_set() {
    let (queue, id) = setup(5, T0).await;
    let claimed = claim_all(&queue, "w1", T0).await;
    let outcomes = [
        Terminal::Failed {
            code: "400".into(),
            reason: "invalid recipient ".repeat(10),
        },
        Terminal::Expired,
        Terminal::Unknown {
            reason: "read timeout after the body was written".into(),
        },
        Terminal::Cancelled,
        Terminal::Sent {
            provider_id: "p".into(),
            price: None,
        },
    ];
    for (claim, outcome) in claimed.iter().zip(&outcomes) {
        if matches!(
            outcome,
            Terminal::Failed { .. } | Terminal::Unknown { .. } | Terminal::Sent { .. }
        ) {
            queue.mark_sending(&claim.lease, LEASE).await.unwrap();
        }
        assert_eq!(
            queue.ack(&claim.lease, outcome).await.unwrap(),
            Some(outcome.status())
        );
        assert_consistent(&queue, &id).await;
    }
    let failed = fields(&queue, &id, 1).await;
    assert_eq!(failed["error_code"], "400");
    // A long reason is kept whole in the campaign's reasons table; the hash keeps its
    // beginning and a reference, so it stays compact.
    assert!(
        failed["error"].len() <= 64 && failed.contains_key("error_ref"),
        "{failed:?}"
    );
    let whole = queue.message_hashes(&id, 1, 1).await.unwrap();
    assert_eq!(whole[0].1["error"], "invalid recipient ".repeat(10));
    let mut failed_rows: Vec<u64> = queue
        .connection()
        .smembers(queue.keys().failed(&id))
        .await
        .unwrap();
    failed_rows.sort();
    assert_eq!(failed_rows, [1, 3]);
    let c = queue.load_campaign(&id).await.unwrap().counters;
    assert_eq!(
        (c.failed, c.expired, c.unknown, c.cancelled, c.sent, c.cost),
        (1, 1, 1, 1, 1, 0.0)
    );
    assert_eq!(
        queue.load_campaign(&id).await.unwrap().state,
        CampaignState::Completed
    );
}

#[tokio::test]
async fn a_reaped_lease_can_no_longer_send_or_ack_even_when_the_same_worker_claims_again() {
    let (queue, id) = setup(1, T0).await;
    let old = claim_all(&queue, "w1", T0).await.remove(0);
    let report = queue.reap_ahead(2 * LEASE, 100).await.unwrap();
    assert_eq!(report.requeued, 1);
    assert_eq!(status(&queue, &id, 1).await, "queued");
    assert!(!fields(&queue, &id, 1).await.contains_key("worker"));
    assert_consistent(&queue, &id).await;

    assert_eq!(
        queue.mark_sending(&old.lease, LEASE).await.unwrap(),
        SendPermit::LeaseLost
    );
    assert_eq!(
        queue.ack(&old.lease, &Terminal::Expired).await.unwrap(),
        None
    );

    // The same worker claims it again: the old claim still must not act.
    let new = claim_all(&queue, "w1", T0 + LEASE.as_millis() as i64 + 1)
        .await
        .remove(0);
    assert_eq!(new.lease.claim(), 2);
    assert_eq!(
        queue.mark_sending(&old.lease, LEASE).await.unwrap(),
        SendPermit::LeaseLost
    );
    assert_eq!(
        queue
            .retry(&old.lease, T0, "x", RetryKind::Deferred)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        queue.mark_sending(&new.lease, LEASE).await.unwrap(),
        SendPermit::Send
    );
    assert_consistent(&queue, &id).await;
}

#[tokio::test]
async fn a_late_answer_after_the_lease_expired_while_sending_is_still_recorded() {
    let (queue, id) = setup(1, T0).await;
    let claim = claim_all(&queue, "w1", T0).await.remove(0);
    queue.mark_sending(&claim.lease, LEASE).await.unwrap();
    let report = queue
        .reap_ahead(Duration::from_secs(3600), 100)
        .await
        .unwrap();
    assert_eq!(report.unknown, 1);
    let hash = fields(&queue, &id, 1).await;
    assert_eq!(hash["status"], "unknown");
    assert_eq!(hash["attempts"], "1");
    assert!(hash["error"].contains("may have sent"));
    assert_consistent(&queue, &id).await;
    let record = queue.load_campaign(&id).await.unwrap();
    assert_eq!(record.counters.unknown, 1);
    assert_eq!(record.state, CampaignState::Completed);

    // The provider's answer arrives after all: it replaces the guess.
    let sent = Terminal::Sent {
        provider_id: "late".into(),
        price: Some(0.05),
    };
    assert_eq!(
        queue.ack(&claim.lease, &sent).await.unwrap(),
        Some(MessageStatus::Sent)
    );
    let hash = fields(&queue, &id, 1).await;
    assert_eq!(hash["status"], "sent");
    assert_eq!(hash["attempts"], "1");
    assert!(!hash.contains_key("error"));
    let c = queue.load_campaign(&id).await.unwrap().counters;
    assert_eq!((c.unknown, c.sent, c.cost), (0, 1, 0.05));
    assert_consistent(&queue, &id).await;
}

#[tokio::test]
async fn retry_puts_a_message_back_with_its_due_time_reason_and_attempts() {
    let (queue, id) = setup(1, T0).await;
    let claim = claim_all(&queue, "w1", T0).await.remove(0);
    queue.mark_sending(&claim.lease, LEASE).await.unwrap();
    assert_eq!(
        queue
            .retry(
                &claim.lease,
                T0 + 30_000,
                "HTTP 503",
                RetryKind::AfterAttempt
            )
            .await
            .unwrap(),
        Some(MessageStatus::Queued)
    );
    let hash = fields(&queue, &id, 1).await;
    assert_eq!(hash["status"], "queued");
    assert_eq!(hash["attempts"], "1");
    assert_eq!(hash["error"], "HTTP 503");
    assert_eq!(hash["next_attempt_at"], "2030-01-01T00:00:30.000Z");
    assert!(!hash.contains_key("worker"));
    assert_eq!(
        score(&queue, queue.keys().due(), "spring-sale:1").await,
        Some(T0 + 30_000)
    );
    assert_consistent(&queue, &id).await;
    assert!(claim_all(&queue, "w1", T0 + 29_999).await.is_empty());

    // A deferral before sending is no attempt.
    let claim = claim_all(&queue, "w1", T0 + 30_000).await.remove(0);
    assert_eq!(claim.message.attempts, 1);
    queue
        .retry(&claim.lease, T0 + 31_000, "rate limit", RetryKind::Deferred)
        .await
        .unwrap();
    let hash = fields(&queue, &id, 1).await;
    assert_eq!(hash["attempts"], "1");
    let c = queue.load_campaign(&id).await.unwrap().counters;
    assert_eq!((c.retries, c.queued), (1, 1));
    assert_consistent(&queue, &id).await;
}

#[tokio::test]
async fn pause_sets_due_messages_aside_with_their_times_and_resume_brings_them_back() {
    let (queue, id) = setup(2500, T0).await;
    let held = queue.claim("w1", 2, LEASE, T0).await.unwrap().claimed;
    queue.mark_sending(&held[1].lease, LEASE).await.unwrap();

    // The walk moves single entries; the run of rows 3-2500 moves aside when the fetcher meets
    // it, and nothing of the campaign is claimed either way.
    let moved = queue.pause(&id, Some("seven error 900")).await.unwrap();
    assert_eq!(moved, 0);
    let record = queue.load_campaign(&id).await.unwrap();
    assert_eq!(record.state, CampaignState::Paused);
    assert_eq!(record.pause_reason.as_deref(), Some("seven error 900"));
    assert!(claim_all(&queue, "w2", T0).await.is_empty());
    assert_eq!(
        score(&queue, queue.keys().paused(&id), "spring-sale:3-2500").await,
        Some(T0)
    );
    // A message claimed before the pause is not sent: it waits with the others.
    assert_eq!(
        queue.mark_sending(&held[0].lease, LEASE).await.unwrap(),
        SendPermit::Paused
    );
    // A retry during the pause waits too.
    queue
        .retry(&held[1].lease, T0 + 5, "503", RetryKind::AfterAttempt)
        .await
        .unwrap();
    assert_consistent(&queue, &id).await;
    assert_eq!(covered(&queue, queue.keys().paused(&id), &id).await, 2500);

    assert!(matches!(
        queue.cancel(&CampaignId::parse("other").unwrap()).await,
        Err(QueueError::NotFound(_))
    ));
    // Three entries: the run, the message claimed before the pause, and the retried one.
    assert_eq!(queue.resume(&id).await.unwrap(), 3);
    let record = queue.load_campaign(&id).await.unwrap();
    assert_eq!(record.state, CampaignState::Running);
    assert_eq!(record.pause_reason, None);
    let retried = held[1].lease.reference().to_string();
    assert_eq!(
        score(&queue, queue.keys().due(), &retried).await,
        Some(T0 + 5)
    );
    assert_eq!(
        queue
            .claim("w2", 3000, LEASE, T0 + 5)
            .await
            .unwrap()
            .claimed
            .len(),
        2500
    );
    assert_consistent(&queue, &id).await;
}

#[tokio::test]
async fn rows_enqueued_while_paused_wait_aside_and_a_cancelled_upload_stops() {
    let queue = TestRedis::shared().await.queue().await;
    let spec = campaign("spring-sale");
    queue.create_campaign(&spec).await.unwrap();
    queue
        .enqueue_chunk(&spec.id, &messages(1..=2, T0))
        .await
        .unwrap();
    queue.pause(&spec.id, None).await.unwrap();
    queue
        .enqueue_chunk(&spec.id, &messages(3..=4, T0))
        .await
        .unwrap();
    assert_eq!(
        score(&queue, queue.keys().paused(&spec.id), "spring-sale:3-4").await,
        Some(T0)
    );
    assert!(claim_all(&queue, "w", T0).await.is_empty());
    assert_consistent(&queue, &spec.id).await;
    // Two runs: 1-2 (moved aside by the fetcher) and 3-4 (enqueued aside).
    assert_eq!(queue.resume(&spec.id).await.unwrap(), 2);
    assert_eq!(
        queue.load_campaign(&spec.id).await.unwrap().state,
        CampaignState::Scheduled,
        "never started, so back to scheduled"
    );

    queue.cancel(&spec.id).await.unwrap();
    let err = queue
        .enqueue_chunk(&spec.id, &messages(5..=6, T0))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            QueueError::InvalidState {
                state: CampaignState::Cancelled,
                ..
            }
        ),
        "{err}"
    );
    queue.finish_ingest(&spec.id, 0).await.unwrap();
    let record = queue.load_campaign(&spec.id).await.unwrap();
    assert_eq!(record.counters.cancelled, 4);
    assert_eq!(record.state, CampaignState::Cancelled);
    assert!(record.finished_at.is_some());
    assert_consistent(&queue, &spec.id).await;
}

#[tokio::test]
async fn a_message_that_became_due_during_a_pause_is_moved_aside_by_the_fetcher() {
    let (queue, id) = setup(3, T0).await;
    queue.pause(&id, None).await.unwrap();
    // The run of rows 1-3 is still in the due set: the fetcher meets it and moves it aside.
    let batch = queue.claim("w1", 10, LEASE, T0).await.unwrap();
    assert!(batch.claimed.is_empty());
    assert_eq!(batch.processed, 1);
    assert_eq!(
        score(&queue, queue.keys().paused(&id), "spring-sale:1-3").await,
        Some(T0)
    );
    // Something re-added a single due entry behind the walk (as a retry racing the pause can).
    let _: () = queue
        .connection()
        .zrem(queue.keys().paused(&id), "spring-sale:1-3")
        .await
        .unwrap();
    let _: () = queue
        .connection()
        .zadd(queue.keys().paused(&id), "spring-sale:2-3", T0)
        .await
        .unwrap();
    let _: () = queue
        .connection()
        .zadd(queue.keys().due(), "spring-sale:1", T0)
        .await
        .unwrap();
    let batch = queue.claim("w1", 10, LEASE, T0).await.unwrap();
    assert!(batch.claimed.is_empty());
    assert_eq!(batch.processed, 1);
    assert_consistent(&queue, &id).await;
}

#[tokio::test]
async fn cancel_cancels_queued_messages_and_workers_record_theirs() {
    let (queue, id) = setup(1200, T0).await;
    let claimed = queue.claim("w1", 3, LEASE, T0).await.unwrap().claimed;
    queue.mark_sending(&claimed[2].lease, LEASE).await.unwrap();
    queue.pause(&id, None).await.unwrap();

    let report = queue.cancel(&id).await.unwrap();
    assert_eq!(report.cancelled, 1197);
    assert_eq!(report.in_flight, 3);
    assert_consistent(&queue, &id).await;
    // The run of cancelled rows left in the due set is dropped when the fetcher meets it,
    // at most a claim's worth of rows per call.
    loop {
        let batch = queue.claim("w2", 1000, LEASE, T0).await.unwrap();
        assert!(batch.claimed.is_empty());
        if batch.processed == 0 {
            break;
        }
    }
    let due: u64 = queue.connection().zcard(queue.keys().due()).await.unwrap();
    let paused: u64 = queue
        .connection()
        .zcard(queue.keys().paused(&id))
        .await
        .unwrap();
    assert_eq!((due, paused), (0, 0));
    assert_consistent(&queue, &id).await;

    // Claimed: not sent, whatever the worker would have said.
    assert_eq!(
        queue.mark_sending(&claimed[0].lease, LEASE).await.unwrap(),
        SendPermit::Cancelled
    );
    assert_eq!(
        queue
            .ack(&claimed[1].lease, &Terminal::Expired)
            .await
            .unwrap(),
        Some(MessageStatus::Cancelled)
    );
    // Sending: its request was under way, its real outcome counts.
    let sent = Terminal::Sent {
        provider_id: "x".into(),
        price: None,
    };
    assert_eq!(
        queue.ack(&claimed[2].lease, &sent).await.unwrap(),
        Some(MessageStatus::Sent)
    );
    let record = queue.load_campaign(&id).await.unwrap();
    assert_eq!(record.state, CampaignState::Cancelled);
    assert_eq!((record.counters.cancelled, record.counters.sent), (1199, 1));
    assert!(record.finished_at.is_some());
    assert_consistent(&queue, &id).await;

    for refused in [queue.pause(&id, None).await, queue.resume(&id).await] {
        assert!(
            matches!(
                refused,
                Err(QueueError::InvalidState {
                    state: CampaignState::Cancelled,
                    ..
                })
            ),
            "{refused:?}"
        );
    }
}

#[tokio::test]
async fn release_returns_claimed_messages_but_not_sending_ones() {
    let (queue, id) = setup(3, T0).await;
    let claimed = claim_all(&queue, "w1", T0).await;
    queue.mark_sending(&claimed[0].lease, LEASE).await.unwrap();
    let leases: Vec<Lease> = claimed.iter().map(|c| c.lease.clone()).collect();
    assert_eq!(queue.release(&leases).await.unwrap(), 2);
    assert_eq!(status(&queue, &id, 1).await, "sending");
    assert_eq!(status(&queue, &id, 2).await, "queued");
    assert_consistent(&queue, &id).await;
    assert_eq!(claim_all(&queue, "w2", now_ms()).await.len(), 2);
}

#[tokio::test]
async fn extending_leases_extends_only_those_still_held() {
    let (queue, id) = setup(2, T0).await;
    let claimed = claim_all(&queue, "w1", T0).await;
    queue
        .ack(&claimed[1].lease, &Terminal::Expired)
        .await
        .unwrap();
    let leases: Vec<Lease> = claimed.iter().map(|c| c.lease.clone()).collect();
    let before = now_ms();
    assert_eq!(
        queue
            .extend_leases(&leases, Duration::from_secs(600))
            .await
            .unwrap(),
        1
    );
    let expiry = score(&queue, queue.keys().leases(), "spring-sale:1")
        .await
        .unwrap();
    assert!(expiry >= before + 600_000, "{expiry}");
    assert_eq!(
        score(&queue, queue.keys().leases(), "spring-sale:2").await,
        None
    );
    assert_consistent(&queue, &id).await;
}

#[tokio::test]
async fn a_killed_claimants_leases_are_reaped_and_its_messages_claimed_by_another_worker() {
    let (queue, id) = setup(10, T0).await;
    let dead = claim_all(&queue, "dead-worker", T0).await;
    let mut unsent: HashSet<Row> = dead.iter().map(|c| c.message.row).collect();
    for claim in &dead[..3] {
        queue.mark_sending(&claim.lease, LEASE).await.unwrap();
        unsent.remove(&claim.message.row);
    }
    drop(dead);
    // Its leases have not expired yet: nothing to reap.
    assert_eq!(queue.reap(100).await.unwrap().total(), 0);

    // Leases run from Redis's time, whatever time the claim was made at (T0, in the future).
    let expired_at = T0 + LEASE.as_millis() as i64 + 1;
    // Bounded: two calls of at most 6.
    let first = queue.reap_ahead(2 * LEASE, 6).await.unwrap();
    let second = queue.reap_ahead(2 * LEASE, 6).await.unwrap();
    assert_eq!(first.total(), 6);
    assert_eq!(
        (
            first.requeued + second.requeued,
            first.unknown + second.unknown
        ),
        (7, 3)
    );
    assert_consistent(&queue, &id).await;

    let taken = claim_all(&queue, "live-worker", expired_at).await;
    let rows: HashSet<Row> = taken.iter().map(|c| c.message.row).collect();
    assert_eq!(rows, unsent);
    let c = queue.load_campaign(&id).await.unwrap().counters;
    assert_eq!((c.claimed, c.unknown, c.queued), (7, 3, 0));
}

#[tokio::test]
async fn two_concurrent_fetchers_never_get_the_same_message() {
    let (queue, id) = setup(3000, T0).await;
    let redis = TestRedis {
        prefix: queue.keys().prefix().to_string(),
        ..TestRedis::shared().await
    };
    let mut fetchers = Vec::new();
    for worker in ["a", "b"] {
        // Each fetcher on its own connection, as separate worker processes are.
        let queue = redis.queue().await;
        fetchers.push(tokio::spawn(async move {
            let mut rows = Vec::new();
            loop {
                let batch = queue.claim(worker, 37, LEASE, T0).await.unwrap();
                if batch.processed == 0 {
                    return rows;
                }
                rows.extend(batch.claimed.iter().map(|c| c.message.row));
            }
        }));
    }
    let a = fetchers.remove(0).await.unwrap();
    let b = fetchers.remove(0).await.unwrap();
    assert!(!a.is_empty() && !b.is_empty(), "both fetchers got work");
    let all: HashSet<Row> = a.iter().chain(&b).copied().collect();
    assert_eq!(a.len() + b.len(), 3000, "no message was claimed twice");
    assert_eq!(all.len(), 3000);
    assert_consistent(&queue, &id).await;
}

#[tokio::test]
async fn twenty_thousand_messages_due_at_the_same_instant_are_fetched_in_bounded_chunks() {
    let queue = TestRedis::shared().await.queue().await;
    let spec = campaign("burst");
    queue.create_campaign(&spec).await.unwrap();
    for start in (1..=20_000).step_by(2000) {
        queue
            .enqueue_chunk(&spec.id, &messages(start..=start + 1999, T0))
            .await
            .unwrap();
    }
    queue.finish_ingest(&spec.id, 0).await.unwrap();
    let mut seen = HashSet::new();
    let mut calls = 0;
    loop {
        let batch = queue.claim("w", 500, LEASE, T0).await.unwrap();
        if batch.processed == 0 {
            break;
        }
        assert!(batch.claimed.len() <= 500);
        calls += 1;
        seen.extend(batch.claimed.iter().map(|c| c.message.row));
    }
    assert_eq!(seen.len(), 20_000);
    assert_eq!(calls, 40);
    assert_consistent(&queue, &spec.id).await;
}

/// Starts an apalis worker on the queue backend whose handler sends every message (after
/// `work`), reports its row on the channel, and tracks its peak concurrency.
struct TestWorker {
    rows: mpsc::UnboundedReceiver<(Row, Instant)>,
    peak: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<()>,
}

impl TestWorker {
    fn start(queue: &Queue, config: FetchConfig, work: Duration) -> TestWorker {
        let (rows_tx, rows) = mpsc::unbounded_channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let peak = Arc::new(AtomicUsize::new(0));
        let running = Arc::new(AtomicUsize::new(0));
        let backend = QueueBackend::new(queue.clone(), config);
        let handler_queue = queue.clone();
        let handler_peak = Arc::clone(&peak);
        let worker = WorkerBuilder::new(format!("test-worker-{}", rand::random::<u32>()))
            .backend(backend)
            .build(move |claimed: Claimed| {
                let queue = handler_queue.clone();
                let rows_tx = rows_tx.clone();
                let peak = Arc::clone(&handler_peak);
                let running = Arc::clone(&running);
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(work).await;
                    if queue.mark_sending(&claimed.lease, LEASE).await? == SendPermit::Send {
                        let outcome = Terminal::Sent {
                            provider_id: format!("p{}", claimed.message.row),
                            price: Some(0.01),
                        };
                        queue.ack(&claimed.lease, &outcome).await?;
                    }
                    running.fetch_sub(1, Ordering::SeqCst);
                    let _ = rows_tx.send((claimed.message.row, Instant::now()));
                    Ok::<(), QueueError>(())
                }
            });
        let handle = tokio::spawn(async move {
            worker
                .run_until(async move {
                    let _ = stopped.await;
                    Ok::<(), std::io::Error>(())
                })
                .await
                .expect("the worker never fails");
        });
        TestWorker {
            rows,
            peak,
            stop: Some(stop),
            handle,
        }
    }

    async fn next_row(&mut self, within: Duration) -> (Row, Instant) {
        tokio::time::timeout(within, self.rows.recv())
            .await
            .expect("a message was handed out in time")
            .expect("the worker is running")
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), self.handle)
            .await
            .expect("the worker stops")
            .expect("the worker task ends cleanly");
    }
}

fn config(concurrency: usize, batch_max: usize) -> FetchConfig {
    FetchConfig {
        concurrency,
        batch_max,
        lease: LEASE,
        // Long, so that tests show the wake-up and due-time paths, not this safety net.
        idle_poll: Duration::from_secs(30),
        reap_interval: Duration::from_secs(30),
        limits: Default::default(),
    }
}

#[tokio::test]
async fn an_apalis_worker_on_the_backend_sends_every_message_within_its_concurrency() {
    let queue = TestRedis::shared().await.queue().await;
    let spec = campaign("worker-run");
    queue.create_campaign(&spec).await.unwrap();
    queue
        .enqueue_chunk(&spec.id, &messages(1..=30, now_ms()))
        .await
        .unwrap();
    queue.finish_ingest(&spec.id, 0).await.unwrap();

    let mut worker = TestWorker::start(&queue, config(4, 3), Duration::from_millis(20));
    let mut rows = HashSet::new();
    while rows.len() < 30 {
        rows.insert(worker.next_row(Duration::from_secs(10)).await.0);
    }
    let peak = worker.peak.load(Ordering::SeqCst);
    assert!(peak <= 4, "at most 4 messages at once, saw {peak}");
    assert!(peak >= 2, "messages ran concurrently, saw {peak}");
    worker.stop().await;

    let record = queue.load_campaign(&spec.id).await.unwrap();
    assert_eq!(record.counters.sent, 30);
    assert_eq!(record.state, CampaignState::Completed);
    assert!((record.counters.cost - 0.30).abs() < 1e-9);
    assert_consistent(&queue, &spec.id).await;
}

#[tokio::test]
async fn an_idle_worker_gets_a_message_due_now_within_100_ms_and_a_later_one_on_time() {
    let queue = TestRedis::shared().await.queue().await;
    let spec = campaign("wake");
    queue.create_campaign(&spec).await.unwrap();
    let mut worker = TestWorker::start(&queue, config(2, 10), Duration::ZERO);
    // Let the fetcher find nothing and go to sleep.
    tokio::time::sleep(Duration::from_millis(300)).await;

    for row in 1..=3 {
        let enqueued = Instant::now();
        queue
            .enqueue_chunk(&spec.id, &[message(row, now_ms())])
            .await
            .unwrap();
        let (got, at) = worker.next_row(Duration::from_secs(5)).await;
        assert_eq!(got, row);
        let latency = at - enqueued;
        assert!(latency < Duration::from_millis(100), "took {latency:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Due in 400 ms: handed out then, not at the 30 s idle poll, and not before.
    let enqueued = Instant::now();
    queue
        .enqueue_chunk(&spec.id, &[message(4, now_ms() + 400)])
        .await
        .unwrap();
    let (got, at) = worker.next_row(Duration::from_secs(5)).await;
    assert_eq!(got, 4);
    let waited = at - enqueued;
    assert!(
        waited >= Duration::from_millis(390) && waited < Duration::from_millis(600),
        "took {waited:?}"
    );
    worker.stop().await;
    assert_consistent(&queue, &spec.id).await;
}

#[tokio::test]
async fn a_stopping_worker_releases_what_it_claimed_but_did_not_start() {
    let queue = TestRedis::shared().await.queue().await;
    let spec = campaign("stop");
    queue.create_campaign(&spec).await.unwrap();
    queue
        .enqueue_chunk(&spec.id, &messages(1..=2, now_ms()))
        .await
        .unwrap();
    queue.finish_ingest(&spec.id, 0).await.unwrap();
    let mut worker = TestWorker::start(&queue, config(1, 1), Duration::from_millis(300));
    // Stop while the first message is being handled; the second is never claimed or is
    // released, never left claimed.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stop = worker.stop.take().unwrap();
    let _ = stop.send(());
    let (first, _) = worker.next_row(Duration::from_secs(5)).await;
    assert_eq!(first, 1);
    worker.stop().await;
    let record = queue.load_campaign(&spec.id).await.unwrap();
    assert_eq!(record.counters.sent, 1);
    assert_eq!(record.counters.queued, 1);
    assert_eq!(record.counters.claimed, 0);
    assert_consistent(&queue, &spec.id).await;
}

#[tokio::test]
async fn the_worker_keeps_running_through_a_redis_restart() {
    let mut server = TestRedis::dedicated_with_aof().await;
    let queue = server.test_redis().queue().await;
    let spec = campaign("restart");
    queue.create_campaign(&spec).await.unwrap();
    queue
        .enqueue_chunk(&spec.id, &messages(1..=3, now_ms()))
        .await
        .unwrap();
    let mut worker = TestWorker::start(&queue, config(2, 2), Duration::ZERO);
    for _ in 0..3 {
        worker.next_row(Duration::from_secs(5)).await;
    }

    server.restart().await;
    // The first calls after the restart may fail while the connection comes back.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match queue
            .enqueue_chunk(&spec.id, &messages(4..=6, now_ms()))
            .await
        {
            Ok(_) => break,
            Err(e) if Instant::now() < deadline => {
                assert!(e.is_redis(), "{e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("redis did not come back: {e}"),
        }
    }
    let mut rows = HashSet::new();
    while rows.len() < 3 {
        rows.insert(worker.next_row(Duration::from_secs(10)).await.0);
    }
    assert_eq!(rows, (4..=6).collect());
    assert!(!worker.handle.is_finished());
    worker.stop().await;
    queue.finish_ingest(&spec.id, 0).await.unwrap();
    let record = queue.load_campaign(&spec.id).await.unwrap();
    assert_eq!(
        record.counters.sent, 6,
        "the data survived the restart (AOF)"
    );
    assert_consistent(&queue, &spec.id).await;
}

mod property {
    //! Random sequences of operations keep counters, indexes and the delivery promise intact.

    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Enqueue,
        FinishIngest,
        Claim {
            worker: u8,
            n: usize,
            advance: i64,
        },
        MarkSending {
            lease: usize,
        },
        Ack {
            lease: usize,
            outcome: u8,
        },
        Retry {
            lease: usize,
            delay: i64,
            attempted: bool,
        },
        Release {
            lease: usize,
        },
        Extend {
            lease: usize,
        },
        Reap {
            advance: i64,
        },
        Pause,
        Resume,
        Cancel,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            2 => Just(Op::Enqueue),
            1 => Just(Op::FinishIngest),
            4 => (0u8..2, 1usize..5, 0i64..3000).prop_map(|(worker, n, advance)| Op::Claim { worker, n, advance }),
            4 => any::<usize>().prop_map(|lease| Op::MarkSending { lease }),
            4 => (any::<usize>(), 0u8..5).prop_map(|(lease, outcome)| Op::Ack { lease, outcome }),
            2 => (any::<usize>(), 0i64..2000, any::<bool>()).prop_map(|(lease, delay, attempted)| Op::Retry { lease, delay, attempted }),
            1 => any::<usize>().prop_map(|lease| Op::Release { lease }),
            1 => any::<usize>().prop_map(|lease| Op::Extend { lease }),
            2 => (0i64..120_000).prop_map(|advance| Op::Reap { advance }),
            1 => Just(Op::Pause),
            1 => Just(Op::Resume),
            1 => Just(Op::Cancel),
        ]
    }

    fn outcome(n: u8) -> Terminal {
        match n {
            0 => Terminal::Sent {
                provider_id: "p".into(),
                price: Some(0.5),
            },
            1 => Terminal::Failed {
                code: "400".into(),
                reason: "bad".into(),
            },
            2 => Terminal::Expired,
            3 => Terminal::Unknown {
                reason: "timeout".into(),
            },
            _ => Terminal::Cancelled,
        }
    }

    async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
        let queue = TestRedis::shared().await.queue().await;
        let spec = campaign("prop");
        queue.create_campaign(&spec).await.unwrap();
        let id = spec.id;
        let mut now = T0;
        let mut next_row: Row = 1;
        let mut leases: Vec<Lease> = Vec::new();
        // Rows allowed to send, by the claim allowed, or `None` once a retry (the request
        // surely did not reach the provider) has since allowed another request.
        let mut granted: HashMap<Row, Option<u64>> = HashMap::new();
        let pick = |leases: &Vec<Lease>, i: usize| leases.get(i % leases.len().max(1)).cloned();
        for op in ops {
            match op.clone() {
                Op::Enqueue => {
                    let rows: Vec<NewMessage> = (next_row..next_row + 4)
                        .map(|row| message(row, T0 + (row as i64 % 3) * 1000))
                        .collect();
                    match queue.enqueue_chunk(&id, &rows).await {
                        Ok(result) => prop_assert_eq!(result.enqueued, 4),
                        Err(QueueError::IngestFinished(_) | QueueError::InvalidState { .. }) => {}
                        Err(e) => return Err(TestCaseError::fail(e.to_string())),
                    }
                    next_row += 4;
                }
                Op::FinishIngest => {
                    queue.finish_ingest(&id, 0).await.unwrap();
                }
                Op::Claim { worker, n, advance } => {
                    now += advance;
                    let batch = queue
                        .claim(&format!("w{worker}"), n, LEASE, now)
                        .await
                        .unwrap();
                    prop_assert!(batch.claimed.len() <= n);
                    leases.extend(batch.claimed.into_iter().map(|c| c.lease));
                }
                Op::MarkSending { lease } => {
                    if let Some(lease) = pick(&leases, lease)
                        && queue.mark_sending(&lease, LEASE).await.unwrap() == SendPermit::Send
                    {
                        // The promise: a message is sent again only after a retry said the
                        // earlier request did not reach the provider. The same claim asking
                        // again gets the same permit ("yours already", after a lost answer):
                        // its worker writes the request once, after an answer.
                        let row = lease.reference().row;
                        let before = granted.insert(row, Some(lease.claim())).flatten();
                        prop_assert!(
                            before.is_none_or(|claim| claim == lease.claim()),
                            "row {} was allowed to send twice without a retry",
                            row
                        );
                    }
                }
                Op::Ack { lease, outcome: n } => {
                    if let Some(lease) = pick(&leases, lease) {
                        let recorded = queue.ack(&lease, &outcome(n)).await.unwrap();
                        if let Some(status) = recorded {
                            prop_assert!(status.is_final());
                        }
                    }
                }
                Op::Retry {
                    lease,
                    delay,
                    attempted,
                } => {
                    if let Some(lease) = pick(&leases, lease) {
                        let kind = if attempted {
                            RetryKind::AfterAttempt
                        } else {
                            RetryKind::Deferred
                        };
                        if queue.retry(&lease, now + delay, "503", kind).await.unwrap()
                            == Some(MessageStatus::Queued)
                        {
                            granted.insert(lease.reference().row, None);
                        }
                    }
                }
                Op::Release { lease } => {
                    if let Some(lease) = pick(&leases, lease) {
                        queue.release(&[lease]).await.unwrap();
                    }
                }
                Op::Extend { lease } => {
                    if let Some(lease) = pick(&leases, lease) {
                        queue.extend_leases(&[lease], LEASE).await.unwrap();
                    }
                }
                Op::Reap { advance } => {
                    queue
                        .reap_ahead(Duration::from_millis(advance.unsigned_abs()), 3)
                        .await
                        .unwrap();
                }
                Op::Pause => match queue.pause(&id, None).await {
                    Ok(_) | Err(QueueError::InvalidState { .. }) => {}
                    Err(e) => return Err(TestCaseError::fail(e.to_string())),
                },
                Op::Resume => match queue.resume(&id).await {
                    Ok(_) | Err(QueueError::InvalidState { .. }) => {}
                    Err(e) => return Err(TestCaseError::fail(e.to_string())),
                },
                Op::Cancel => match queue.cancel(&id).await {
                    Ok(_) | Err(QueueError::InvalidState { .. }) => {}
                    Err(e) => return Err(TestCaseError::fail(e.to_string())),
                },
            }
            if let Err(problems) = counters_match_messages(&queue, &id).await {
                return Err(TestCaseError::fail(format!("after {op:?}: {problems}")));
            }
        }
        let record = queue.load_campaign(&id).await.unwrap();
        let finished = record.ingest == Ingest::Done && record.counters.open() == 0;
        prop_assert_eq!(
            record.finished_at.is_some(),
            finished,
            "finished_at is set exactly when nothing is left: {:?}",
            record
        );
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
        #[test]
        fn counters_equal_the_message_hashes_after_any_sequence_of_operations(
            ops in proptest::collection::vec(op(), 1..40)
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(run(ops))?;
        }
    }
}

#[tokio::test]
async fn marking_sending_again_under_the_same_claim_is_yours_already() {
    let (queue, id) = setup(2, T0).await;
    let claimed = claim_all(&queue, "w1", T0).await;
    let first = &claimed[0].lease;
    assert_eq!(
        queue.mark_sending(first, LEASE).await.unwrap(),
        SendPermit::Send
    );
    // The answer was lost on the way; the worker asks again, alone or in a batch: the same
    // permit, not `lost` (which would leave a message never sent to end `unknown`).
    assert_eq!(
        queue.mark_sending(first, LEASE).await.unwrap(),
        SendPermit::Send
    );
    let both = [first, &claimed[1].lease];
    assert_eq!(
        queue.mark_sending_many(&both, LEASE).await.unwrap(),
        [SendPermit::Send, SendPermit::Send]
    );
    let c = queue.load_campaign(&id).await.unwrap().counters;
    assert_eq!((c.claimed, c.sending), (0, 2));
    assert_consistent(&queue, &id).await;
    // Another worker, or a later claim, still gets nothing.
    let stranger = claim_all(&queue, "w1", T0).await;
    assert!(stranger.is_empty());
}

#[tokio::test]
async fn leases_run_on_redis_time_whatever_time_the_claimant_gives() {
    let (queue, id) = setup(2, T0 - 3_600_000).await;
    // A claimant whose clock is an hour behind: its leases still run from Redis's time...
    let behind = queue
        .claim("w1", 1, LEASE, queue.now_ms() - 3_600_000)
        .await
        .unwrap();
    assert_eq!(behind.claimed.len(), 0, "nothing due an hour ago");
    let claimed = claim_all(&queue, "w1", T0).await;
    assert_eq!(claimed.len(), 2);
    queue.mark_sending(&claimed[0].lease, LEASE).await.unwrap();
    // ...and a reaper, whatever its own clock, finds none of them expired: Redis's clock says.
    assert_eq!(queue.reap(100).await.unwrap().total(), 0);
    let expiry = score(&queue, queue.keys().leases(), "spring-sale:1")
        .await
        .unwrap();
    assert!(expiry > queue.now_ms() + LEASE.as_millis() as i64 - 1000);
    // Once Redis's clock passes them, they are reaped.
    let report = queue.reap_ahead(2 * LEASE, 100).await.unwrap();
    assert_eq!((report.requeued, report.unknown), (1, 1));
    assert_consistent(&queue, &id).await;
}

#[tokio::test]
async fn missed_rate_slots_are_counted_on_the_message_without_an_attempt() {
    let (queue, id) = setup(1, T0).await;
    for missed in 0..3 {
        let claimed = claim_all(&queue, "w1", T0).await.remove(0);
        assert_eq!(claimed.missed_slots, missed);
        queue
            .retry(
                &claimed.lease,
                T0,
                "missed its rate slot",
                RetryKind::MissedSlot,
            )
            .await
            .unwrap();
    }
    let claimed = claim_all(&queue, "w1", T0).await.remove(0);
    assert_eq!(claimed.missed_slots, 3);
    assert_eq!(claimed.message.attempts, 0, "a missed slot is no attempt");
    // The batch script counts them the same way.
    queue
        .retry_many(&[RetryEntry {
            lease: &claimed.lease,
            due_ms: T0,
            reason: "missed its rate slot",
            kind: RetryKind::MissedSlot,
        }])
        .await
        .unwrap();
    assert_eq!(fields(&queue, &id, 1).await["missed_slots"], "4");
    assert_consistent(&queue, &id).await;
}

#[tokio::test]
async fn the_queues_clock_is_redis_time_and_stays_so_after_a_resync() {
    let queue = TestRedis::shared().await.queue().await;
    let redis_ms = || async {
        let (secs, micros): (i64, i64) = redis::cmd("TIME")
            .query_async(&mut queue.connection())
            .await
            .unwrap();
        secs * 1000 + micros / 1000
    };
    for _ in 0..2 {
        let before = queue.now_ms();
        let redis = redis_ms().await;
        let after = queue.now_ms();
        // Redis's time lies within the round trip, by the queue's clock, give or take the
        // sync's own error (half its round trip: well under 25 ms even on a loaded machine).
        assert!(
            before - 25 <= redis && redis <= after + 25,
            "{before} ≤ {redis} ≤ {after}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        queue.sync_clock().await.unwrap();
    }
}

#[tokio::test]
async fn an_uploads_rejects_are_kept_bounded_replaced_and_purged() {
    let (queue, id) = setup(2, T0).await;
    let rows = |n: u64, text: &str| -> Vec<RejectedRow> {
        (1..=n)
            .map(|i| RejectedRow {
                line: i + 1,
                message: text.to_string(),
            })
            .collect()
    };
    let long = "é".repeat(MAX_REJECT_LEN);
    let samples = [
        RejectSample {
            code: "invalid_phone".into(),
            count: 3,
            rows: rows(3, "phone \"12\" is not a valid number"),
        },
        RejectSample {
            code: "duplicate".into(),
            count: 40,
            rows: rows(30, &long),
        },
    ];
    queue.store_rejects(&id, &samples).await.unwrap();
    let kept = queue.upload_rejects(&id).await.unwrap();
    // The most frequent first; at most MAX_REJECT_ROWS rows, each cut on a character boundary.
    assert_eq!(kept[0].code, "duplicate");
    assert_eq!(kept[0].count, 40);
    assert_eq!(kept[0].rows.len(), MAX_REJECT_ROWS);
    assert_eq!(kept[0].rows[19].line, 21);
    assert_eq!(kept[0].rows[0].message, "é".repeat(MAX_REJECT_LEN / 2));
    assert_eq!(kept[1], samples[0]);

    // A second write (a resumed upload) replaces the first; none keeps no key.
    queue.store_rejects(&id, &samples[..1]).await.unwrap();
    assert_eq!(queue.upload_rejects(&id).await.unwrap(), samples[..1]);
    queue.store_rejects(&id, &[]).await.unwrap();
    let exists: bool = queue
        .connection()
        .exists(queue.keys().rejects(&id))
        .await
        .unwrap();
    assert!(!exists);

    // Purge deletes them with the campaign, and a late write finds no campaign to keep them for.
    queue.store_rejects(&id, &samples).await.unwrap();
    queue.cancel(&id).await.unwrap();
    queue.purge(&id, false).await.unwrap();
    let exists: bool = queue
        .connection()
        .exists(queue.keys().rejects(&id))
        .await
        .unwrap();
    assert!(!exists, "the rejects outlived their campaign");
    assert!(matches!(
        queue.store_rejects(&id, &samples).await,
        Err(QueueError::NotFound(_))
    ));
    assert!(queue.upload_rejects(&id).await.unwrap().is_empty());
}
