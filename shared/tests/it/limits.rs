//! Sender limits in the claim, against a real redis-server and a clock the tests drive (the
//! claim takes `now`): the rate across several claimants, no head-of-line blocking, the
//! recipient pair interval and the messaging tier.

use std::num::NonZeroU32;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use redis::AsyncCommands;
use serde_json::json;
use wacast_shared::campaign::{Campaign, CampaignId, ProviderKind};
use wacast_shared::message::{Row, RowOverrides};
use wacast_shared::phone::PhoneNumber;
use wacast_shared::queue::limits::{ClaimLimits, Rate};
use wacast_shared::queue::{ClaimBatch, Created, NewMessage, Queue};
use wacast_shared::testing::{self, TestRedis, counters_match_messages};

const LEASE: Duration = Duration::from_secs(30);
/// 2030-01-01T00:00:00Z.
const T0: i64 = 1_893_456_000_000;

fn sender(n: u32) -> PhoneNumber {
    PhoneNumber::from_stored(&format!("4915112345{n:03}")).unwrap()
}

fn recipient(n: u64) -> PhoneNumber {
    PhoneNumber::from_stored(&format!("49151{n:08}")).unwrap()
}

/// Creates campaign `id` of `from` with one row per recipient, all due at T0.
async fn campaign(queue: &Queue, id: &str, from: &PhoneNumber, to: &[u64]) -> CampaignId {
    campaign_due(queue, id, from, to, T0).await
}

/// Creates campaign `id` of `from` with one row per recipient, all due at `due_ms`.
async fn campaign_due(
    queue: &Queue,
    id: &str,
    from: &PhoneNumber,
    to: &[u64],
    due_ms: i64,
) -> CampaignId {
    let spec = Campaign {
        from: from.clone(),
        ..testing::campaign(
            id,
            json!({"type": "text", "text": "hello"}),
            &[],
            Utc.timestamp_millis_opt(T0).unwrap(),
        )
    };
    assert_eq!(queue.create_campaign(&spec).await.unwrap(), Created::New);
    let rows: Vec<NewMessage> = to
        .iter()
        .enumerate()
        .map(|(i, n)| NewMessage {
            row: i as Row + 1,
            to: recipient(*n),
            values: Vec::new(),
            overrides: RowOverrides::default(),
            due_ms,
        })
        .collect();
    queue.enqueue_chunk(&spec.id, &rows).await.unwrap();
    queue.finish_ingest(&spec.id, 0).await.unwrap();
    spec.id
}

async fn claim(
    queue: &Queue,
    worker: &str,
    n: usize,
    now: i64,
    limits: &ClaimLimits,
) -> ClaimBatch {
    queue
        .claim_within(worker, n, LEASE, now, limits)
        .await
        .unwrap()
}

async fn campaign_field(queue: &Queue, id: &CampaignId, field: &str) -> Option<String> {
    queue
        .connection()
        .hget(queue.keys().campaign(id), field)
        .await
        .unwrap()
}

fn rfc3339(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[tokio::test]
async fn three_claimants_share_one_sender_schedule() {
    let queue = TestRedis::shared().await.queue().await;
    let from = sender(1);
    let id = campaign(&queue, "fleet", &from, &(1..=60).collect::<Vec<_>>()).await;
    // 20/s: a slot every 50 ms, set by the operator for every worker.
    queue
        .set_rate(ProviderKind::Seven, &from, Rate::per_second(20))
        .await
        .unwrap();
    let limits = ClaimLimits::default();
    let mut slots = Vec::new();
    // Three workers claim in turn every 10 ms for three seconds, each as much as it can.
    for tick in 0..300 {
        let now = T0 + tick * 10;
        let worker = format!("w{}", tick % 3);
        let batch = claim(&queue, &worker, 50, now, &limits).await;
        for claimed in batch.claimed {
            let slot = claimed
                .not_before_ms
                .expect("a rated sender's message has a slot");
            assert!(
                slot <= now + 250,
                "a slot is handed out at most the lookahead ahead"
            );
            slots.push(slot);
        }
    }
    assert_eq!(
        slots.len(),
        60,
        "every row was claimed within three seconds"
    );
    slots.sort_unstable();
    for pair in slots.windows(2) {
        assert!(pair[1] - pair[0] >= 50, "slots 50 ms apart: {pair:?}");
    }
    // The schedule runs at the rate from the first slot: 60 slots span 59 intervals.
    assert_eq!(slots[59] - slots[0], 59 * 50);
    if let Err(problems) = counters_match_messages(&queue, &id).await {
        panic!("{problems}");
    }
}

/// Issue 17: the counter of rows put off counted every row of a throttled run at every claim
/// that looked at it again (542,553 after 600 messages); each row counts once.
#[tokio::test]
async fn rows_a_rate_puts_off_are_counted_once_not_at_every_claim() {
    let queue = TestRedis::shared().await.queue().await;
    let from = sender(4);
    let id = campaign(&queue, "counted", &from, &(1..=600).collect::<Vec<_>>()).await;
    queue
        .set_rate(ProviderKind::Seven, &from, Rate::per_second(100))
        .await
        .unwrap();
    let limits = ClaimLimits::default();
    let (mut claimed, mut put_off) = (0, 0);
    // Two workers claim in turn every 10 ms until every row is claimed (6 s at 100/s).
    for tick in 0..1_000 {
        let batch = claim(
            &queue,
            &format!("w{}", tick % 2),
            50,
            T0 + tick * 10,
            &limits,
        )
        .await;
        claimed += batch.claimed.len();
        put_off += batch.deferred.rate + batch.deferred.pair + batch.deferred.tier;
        if claimed == 600 {
            break;
        }
    }
    assert_eq!(claimed, 600, "every row was claimed");
    assert!(put_off > 0, "the rate put rows off");
    assert!(
        put_off <= 600,
        "{put_off} rows counted as put off for a campaign of 600"
    );
    if let Err(problems) = counters_match_messages(&queue, &id).await {
        panic!("{problems}");
    }
}

#[tokio::test]
async fn a_slow_sender_does_not_hold_back_a_fast_one() {
    let queue = TestRedis::shared().await.queue().await;
    let slow = sender(2);
    let fast = sender(3);
    // The slow campaign is due first, so it is first in the due set.
    let slow_id = campaign_due(
        &queue,
        "slow",
        &slow,
        &(1..=100).collect::<Vec<_>>(),
        T0 - 1,
    )
    .await;
    let fast_id = campaign(&queue, "fast", &fast, &(101..=200).collect::<Vec<_>>()).await;
    let limits = ClaimLimits {
        default_rate: Rate::Unlimited,
        sender_rates: vec![(slow.clone(), Rate::per_second(1))],
        ..ClaimLimits::default()
    };
    let batch = claim(&queue, "w1", 50, T0, &limits).await;
    let of = |id: &CampaignId| {
        batch
            .claimed
            .iter()
            .filter(|c| &c.message.campaign == id)
            .count()
    };
    assert_eq!(
        of(&slow_id),
        1,
        "one slot of the slow sender is within reach"
    );
    assert_eq!(
        of(&fast_id),
        49,
        "the other 49 claims go to the fast sender"
    );
    assert_eq!(
        batch.deferred.rate, 99,
        "the slow sender's next rows were put off"
    );
    // The slow sender's rows wait in the queue, due when its next slot is within reach.
    let next = claim(&queue, "w1", 50, T0 + 1, &limits).await;
    assert!(next.claimed.iter().all(|c| c.message.campaign == fast_id));
    assert_eq!(next.claimed.len(), 50);
    let waiting = campaign_field(&queue, &slow_id, "waiting").await;
    assert_eq!(waiting.as_deref(), Some("rate"));
    // The fast sender's last row, and the slow sender's second, within the lookahead of its
    // slot a second after the first.
    let later = claim(&queue, "w1", 50, T0 + 1000 - 250, &limits).await;
    let slow_slots: Vec<Option<i64>> = later
        .claimed
        .iter()
        .filter(|c| c.message.campaign == slow_id)
        .map(|c| c.not_before_ms)
        .collect();
    assert_eq!(slow_slots, [Some(T0 + 1000)]);
    // An unlimited sender's messages carry no slot.
    assert!(
        later
            .claimed
            .iter()
            .filter(|c| c.message.campaign == fast_id)
            .all(|c| c.not_before_ms.is_none())
    );
}

#[tokio::test]
async fn a_rate_set_in_redis_overrides_the_workers_flags_and_applies_at_once() {
    let queue = TestRedis::shared().await.queue().await;
    let from = sender(4);
    campaign(&queue, "override", &from, &(1..=10).collect::<Vec<_>>()).await;
    let limits = ClaimLimits {
        default_rate: Rate::per_second(1),
        ..ClaimLimits::default()
    };
    assert_eq!(claim(&queue, "w1", 10, T0, &limits).await.claimed.len(), 1);
    queue
        .set_rate(ProviderKind::Seven, &from, Rate::Unlimited)
        .await
        .unwrap();
    assert_eq!(
        claim(&queue, "w1", 10, T0 + 1000, &limits)
            .await
            .claimed
            .len(),
        9
    );
    let listed = queue.list_settings().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].sender, from.digits());
    assert_eq!(listed[0].rate, Some(Rate::Unlimited));
    // Unset, the worker's own rate applies again.
    assert!(queue.unset_rate(ProviderKind::Seven, &from).await.unwrap());
    assert!(queue.list_settings().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_recipient_gets_one_message_per_pair_interval_across_campaigns() {
    let queue = TestRedis::shared().await.queue().await;
    let from = sender(5);
    let first = campaign(&queue, "pair-a", &from, &[7, 8]).await;
    let second = campaign(&queue, "pair-b", &from, &[7]).await;
    let limits = ClaimLimits {
        pair_interval: Duration::from_secs(6),
        ..ClaimLimits::default()
    };
    let batch = claim(&queue, "w1", 10, T0, &limits).await;
    let claimed: Vec<(String, String)> = batch
        .claimed
        .iter()
        .map(|c| {
            (
                c.message.campaign.to_string(),
                c.message.to.digits().to_string(),
            )
        })
        .collect();
    assert_eq!(claimed.len(), 2, "{claimed:?}");
    assert_eq!(batch.deferred.pair, 1);
    assert!(claimed.contains(&(first.to_string(), recipient(7).digits().to_string())));
    // The second message to recipient 7 waits six seconds: deferred, not failed.
    let row = queue.keys().message(&second, 1);
    let status: String = queue.connection().hget(&row, "status").await.unwrap();
    assert_eq!(status, "queued");
    assert_eq!(
        campaign_field(&queue, &second, "waiting").await.as_deref(),
        Some("pair")
    );
    assert!(
        claim(&queue, "w1", 10, T0 + 5_999, &limits)
            .await
            .claimed
            .is_empty()
    );
    let later = claim(&queue, "w1", 10, T0 + 6_000, &limits).await;
    assert_eq!(later.claimed.len(), 1);
    assert_eq!(later.claimed[0].message.campaign, second);
}

#[tokio::test]
async fn a_full_tier_holds_new_recipients_until_the_window_frees() {
    let queue = TestRedis::shared().await.queue().await;
    let from = sender(6);
    queue
        .set_tier(ProviderKind::Seven, &from, NonZeroU32::new(2))
        .await
        .unwrap();
    let window = Duration::from_secs(60);
    let limits = ClaimLimits {
        tier_window: window,
        ..ClaimLimits::default()
    };
    let early = campaign(&queue, "tier-a", &from, &[1]).await;
    let a = claim(&queue, "w1", 10, T0, &limits).await;
    assert_eq!(a.claimed.len(), 1);
    let id = campaign(&queue, "tier-b", &from, &[2, 1, 3, 4]).await;
    // Recipient 2 fills the tier; 1 already counts; 3 and 4 would be new: they wait.
    let b = claim(&queue, "w1", 10, T0 + 10_000, &limits).await;
    let to: Vec<String> = b
        .claimed
        .iter()
        .map(|c| c.message.to.digits().to_string())
        .collect();
    assert_eq!(to, [recipient(2).digits(), recipient(1).digits()]);
    assert_eq!(b.deferred.tier, 2);
    assert_eq!(
        campaign_field(&queue, &id, "waiting").await.as_deref(),
        Some("tier")
    );
    // Recipient 1 got a message again at T0 + 10 s, so both places stay taken until 60 s
    // after that.
    let opens = T0 + 70_001;
    assert_eq!(
        campaign_field(&queue, &id, "waiting_until").await,
        Some(rfc3339(opens))
    );
    let settings = queue.list_settings().await.unwrap();
    assert_eq!(settings[0].tier, Some(2));
    assert!(
        claim(&queue, "w1", 10, opens - 1, &limits)
            .await
            .claimed
            .is_empty()
    );
    let d = claim(&queue, "w1", 10, opens, &limits).await;
    assert_eq!(d.claimed.len(), 2, "both places free by then");
    for id in [early, id] {
        if let Err(problems) = counters_match_messages(&queue, &id).await {
            panic!("{problems}");
        }
    }
}
