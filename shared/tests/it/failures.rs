//! What a campaign keeps of its failures, against a real redis-server: whole reasons in a
//! compact encoding, failure streaks that pause the campaign (WhatsApp's template-level codes
//! after three, any code after its rule), and a sender slowed after the provider's 429s.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use redis::AsyncCommands;
use serde_json::json;
use wacast_shared::campaign::{Campaign, CampaignId, CampaignState, ProviderKind};
use wacast_shared::keys::sender_name;
use wacast_shared::message::{Row, RowOverrides};
use wacast_shared::phone::PhoneNumber;
use wacast_shared::queue::limits::{ClaimLimits, Rate};
use wacast_shared::queue::{
    Claimed, Lease, MessageStatus, NewMessage, Queue, RetryFilter, RetryKind, Terminal,
};
use wacast_shared::streak::StreakRule;
use wacast_shared::testing::{self, TestRedis, counters_match_messages};

const LEASE: Duration = Duration::from_secs(30);
/// 2030-01-01T00:00:00Z.
const T0: i64 = 1_893_456_000_000;

/// seven's answer to a template Meta does not know, as the worker records it: 300 bytes, the
/// cause after the first 64 (with a two-byte character where the message's excerpt is cut).
fn long_reason() -> String {
    let reason = "seven refused the request (é code 400: invalid sender, recipient or parameters) \
                  (seven: (#132001) template spring_sale does not exist in language de: create \
                  it in WhatsApp Manager or correct the template's name and language, then wait \
                  for Meta to approve it; messages sent with it meanwhile all fail alike, \
                  whatever their recipient)";
    assert!(reason.len() >= 300, "{}", reason.len());
    reason.to_string()
}

/// A queue holding campaign `id` (sender `from`) with `rows` messages due at `due_ms`.
async fn setup(id: &str, rows: Row, due_ms: i64) -> (Queue, CampaignId) {
    let queue = TestRedis::shared().await.queue().await;
    let spec = Campaign {
        ttl_minutes: 24 * 60,
        ..testing::campaign(
            id,
            json!({"type": "template", "template": "spring_sale", "language": "de"}),
            &[],
            Utc.timestamp_millis_opt(due_ms).unwrap(),
        )
    };
    queue.create_campaign(&spec).await.unwrap();
    let messages: Vec<NewMessage> = (1..=rows)
        .map(|row| NewMessage {
            row,
            to: PhoneNumber::from_stored(&format!("49151{row:08}")).unwrap(),
            values: Vec::new(),
            overrides: RowOverrides::default(),
            due_ms,
        })
        .collect();
    queue.enqueue_chunk(&spec.id, &messages).await.unwrap();
    queue.finish_ingest(&spec.id, 0).await.unwrap();
    (queue, spec.id)
}

async fn claim_all(queue: &Queue, n: usize, now: i64) -> Vec<Lease> {
    let claimed: Vec<Claimed> = queue.claim("w1", n, LEASE, now).await.unwrap().claimed;
    claimed.into_iter().map(|c| c.lease).collect()
}

fn refused(code: &str, reason: &str, pause_after: u32) -> Terminal {
    Terminal::Refused {
        code: code.into(),
        reason: reason.into(),
        streak: StreakRule::for_code(code, pause_after),
    }
}

fn sent(row: usize) -> Terminal {
    Terminal::Sent {
        provider_id: format!("p{row}"),
        price: None,
    }
}

async fn field(queue: &Queue, id: &CampaignId, row: Row, name: &str) -> Option<String> {
    queue
        .connection()
        .hget(queue.keys().message(id, row), name)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_long_reason_is_kept_whole_while_the_message_hash_stays_compact() {
    let (queue, id) = setup("reasons", 3, T0).await;
    let leases = claim_all(&queue, 3, T0).await;
    let reason = long_reason();
    queue
        .ack(&leases[0], &refused("132001", &reason, 20))
        .await
        .unwrap();
    // What the message hash kept before: the reason's first 64 bytes.
    let cut = &reason[..64];
    queue
        .ack(&leases[1], &refused("132001", cut, 20))
        .await
        .unwrap();

    let kept = field(&queue, &id, 1, "error").await.unwrap();
    assert!(kept.len() <= 40 && kept.ends_with('…'), "{kept:?}");
    assert!(reason.starts_with(kept.trim_end_matches('…')));
    let mut conn = queue.connection();
    for row in [1, 2] {
        let encoding: String = redis::cmd("OBJECT")
            .arg("ENCODING")
            .arg(queue.keys().message(&id, row))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(encoding, "listpack", "row {row}");
    }
    // No more memory per failed message than the 64 bytes it kept before.
    let memory = |row: Row| {
        let key = queue.keys().message(&id, row);
        let mut conn = queue.connection();
        async move {
            let bytes: u64 = redis::cmd("MEMORY")
                .arg("USAGE")
                .arg(key)
                .query_async(&mut conn)
                .await
                .unwrap();
            bytes
        }
    };
    let (whole, before) = (memory(1).await, memory(2).await);
    assert!(
        whole <= before,
        "{whole} bytes with the reference, {before} with 64 bytes"
    );

    // Every read shows the whole reason.
    let hashes = queue.message_hashes(&id, 1, 2).await.unwrap();
    assert_eq!(hashes[0].1["error"], reason);
    assert_eq!(hashes[1].1["error"], cut);
    let reasons = queue.failure_reasons(&id, 100).await.unwrap();
    assert!(
        reasons
            .reasons
            .iter()
            .any(|r| r.error.as_deref() == Some(reason.as_str()) && r.count == 1),
        "{reasons:?}"
    );

    // `wacast retry` keeps it whole as the last error; a send clears the reference.
    let n = queue
        .requeue_failed(
            &id,
            RetryFilter {
                statuses: &[MessageStatus::Failed],
                error_code: Some("132001"),
            },
        )
        .await;
    // The campaign is running (row 3 is claimed): pause it first, as an operator must.
    assert!(n.is_err());
    queue.pause(&id, None).await.unwrap();
    let report = queue
        .requeue_failed(
            &id,
            RetryFilter {
                statuses: &[MessageStatus::Failed],
                error_code: Some("132001"),
            },
        )
        .await
        .unwrap();
    assert_eq!(report.requeued, 2);
    let hashes = queue.message_hashes(&id, 1, 1).await.unwrap();
    assert_eq!(hashes[0].1["last_error"], reason);
    assert!(!hashes[0].1.contains_key("error_ref"));
    queue.resume(&id).await.unwrap();
    let requeued = claim_all(&queue, 3, T0).await;
    assert_eq!(requeued.len(), 2);
    queue
        .retry(&requeued[0], T0, &reason, RetryKind::AfterAttempt)
        .await
        .unwrap();
    assert!(field(&queue, &id, 1, "error_ref").await.is_some());
    let again = claim_all(&queue, 3, T0).await;
    queue.ack(&again[0], &sent(1)).await.unwrap();
    assert_eq!(field(&queue, &id, 1, "error_ref").await, None);
    assert_eq!(field(&queue, &id, 1, "error").await, None);
    counters_match_messages(&queue, &id).await.unwrap();

    // Purging the campaign removes its reasons table too.
    queue.cancel(&id).await.unwrap();
    queue.ack(&leases[2], &sent(3)).await.unwrap();
    queue.ack(&requeued[1], &sent(2)).await.unwrap();
    queue.purge(&id, false).await.unwrap();
    let left: bool = conn.exists(queue.keys().reasons(&id)).await.unwrap();
    assert!(!left, "the reasons table outlived its campaign");
}

#[tokio::test]
async fn template_refusals_in_a_row_pause_the_campaign_and_a_send_ends_the_streak() {
    let (queue, id) = setup("template", 10, T0).await;
    let leases = claim_all(&queue, 6, T0).await;
    let reason = long_reason();
    let template = || refused("132001", &reason, 20);
    // Two refusals, a send, two more: never three in a row.
    for (i, lease) in leases[..5].iter().enumerate() {
        let outcome = if i == 2 { sent(i) } else { template() };
        queue.ack(lease, &outcome).await.unwrap();
    }
    let record = queue.load_campaign(&id).await.unwrap();
    assert_eq!(record.state, CampaignState::Running);
    queue.ack(&leases[5], &template()).await.unwrap();
    let record = queue.load_campaign(&id).await.unwrap();
    assert_eq!(record.state, CampaignState::Paused);
    let why = record.pause_reason.unwrap();
    for part in [
        "3 messages in a row failed with code 132001",
        reason.as_str(),
        "fix or re-approve the template",
        "wacast resume template",
        "wacast retry template --status failed --code 132001",
    ] {
        assert!(why.contains(part), "{why:?} lacks {part:?}");
    }
    // Nothing more of the campaign is claimed until it is resumed.
    assert!(claim_all(&queue, 10, T0).await.is_empty());
    counters_match_messages(&queue, &id).await.unwrap();
}

#[tokio::test]
async fn identical_refusals_pause_after_their_rule_and_other_codes_start_a_new_streak() {
    let (queue, id) = setup("same-error", 10, T0).await;
    let leases = claim_all(&queue, 5, T0).await;
    for (lease, code) in leases[..4].iter().zip(["400", "400", "401", "400"]) {
        queue
            .ack(lease, &refused(code, "bad parameters", 3))
            .await
            .unwrap();
    }
    assert_eq!(
        queue.load_campaign(&id).await.unwrap().state,
        CampaignState::Running
    );
    // A plain failure (no rule: a row of its own) neither counts nor ends the streak.
    queue
        .ack(
            &leases[4],
            &Terminal::Failed {
                code: "render".into(),
                reason: "no value for {{name}}".into(),
            },
        )
        .await
        .unwrap();
    let more = claim_all(&queue, 2, T0).await;
    for lease in &more {
        queue
            .ack(lease, &refused("400", "bad parameters", 3))
            .await
            .unwrap();
    }
    let record = queue.load_campaign(&id).await.unwrap();
    assert_eq!(record.state, CampaignState::Paused);
    let why = record.pause_reason.unwrap();
    assert!(
        why.contains("3 messages in a row failed with code 400: bad parameters")
            && why.contains("fix the cause"),
        "{why}"
    );
    // Resumed, the campaign starts a new streak.
    queue.resume(&id).await.unwrap();
    let streak: Option<String> = queue
        .connection()
        .hget(queue.keys().campaign(&id), "streak")
        .await
        .unwrap();
    assert_eq!(streak, None);
}

#[tokio::test]
async fn a_rate_limited_sender_is_slowed_for_the_whole_fleet() {
    let now = Utc::now().timestamp_millis();
    let (queue, id) = setup("slowed", 12, now).await;
    let from = PhoneNumber::from_stored("4915112345678").unwrap();
    let name = sender_name(ProviderKind::Seven, &from);
    queue
        .set_rate(ProviderKind::Seven, &from, Rate::per_second(10))
        .await
        .unwrap();
    let limits = ClaimLimits {
        lookahead: Duration::from_secs(20),
        ..ClaimLimits::default()
    };
    let slots = |batch: Vec<Claimed>| -> Vec<i64> {
        batch.iter().map(|c| c.not_before_ms.unwrap()).collect()
    };
    let claim = |n: usize| {
        let queue = queue.clone();
        let limits = limits.clone();
        async move {
            let now = Utc::now().timestamp_millis();
            queue
                .claim_within("w1", n, LEASE, now, &limits)
                .await
                .unwrap()
                .claimed
        }
    };
    let gaps = |slots: &[i64]| -> Vec<i64> { slots.windows(2).map(|w| w[1] - w[0]).collect() };
    let at_rate = slots(claim(3).await);
    assert!(
        gaps(&at_rate).iter().all(|g| (99..=101).contains(g)),
        "{at_rate:?}"
    );

    // A burst of 429s from requests in flight lowers the rate once.
    let first = queue
        .slow_sender(ProviderKind::Seven, &from, None)
        .await
        .unwrap();
    let second = queue
        .slow_sender(ProviderKind::Seven, &from, None)
        .await
        .unwrap();
    assert!(
        first.lowered && (first.factor - 0.5).abs() < 1e-9,
        "{first:?}"
    );
    assert!(
        !second.lowered && (second.factor - 0.5).abs() < 1e-9,
        "{second:?}"
    );
    assert!((queue.sender_backoff(&name).await.unwrap() - 0.5).abs() < 1e-9);
    let settings = queue.list_settings().await.unwrap();
    assert!((settings[0].rate_factor - 0.5).abs() < 1e-9, "{settings:?}");
    let slowed = slots(claim(3).await);
    assert!(
        gaps(&slowed).iter().all(|g| (199..=201).contains(g)),
        "{slowed:?}"
    );

    // Retry-After holds every claim of the sender's rows until then.
    let asked = Utc::now().timestamp_millis();
    queue
        .slow_sender(ProviderKind::Seven, &from, Some(Duration::from_secs(5)))
        .await
        .unwrap();
    let held = slots(claim(2).await);
    assert!(held[0] >= asked + 4_990, "{} ms after", held[0] - asked);
    counters_match_messages(&queue, &id).await.unwrap();
}
