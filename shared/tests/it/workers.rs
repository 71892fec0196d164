//! A worker that cannot send through a provider leaves its rows to the others: the claim skips
//! the providers its gate closes and leaves their due entries as they were; and the live
//! workers registry, as `wacast workers` and the workers read it.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::json;
use wacast_shared::campaign::ProviderKind;
use wacast_shared::message::{Row, RowOverrides};
use wacast_shared::phone::PhoneNumber;
use wacast_shared::queue::limits::{ClaimLimits, ProviderGate};
use wacast_shared::queue::{Created, NewMessage, ProviderHealthEntry, WorkerBeat};
use wacast_shared::testing::{self, TestRedis, counters_match_messages};

const LEASE: Duration = Duration::from_secs(30);
/// 2030-01-01T00:00:00Z.
const T0: i64 = 1_893_456_000_000;

#[tokio::test]
async fn a_closed_provider_is_left_in_the_due_set_untouched() {
    let queue = TestRedis::shared().await.queue().await;
    let spec = testing::campaign(
        "gated",
        json!({"type": "text", "text": "hello"}),
        &[],
        Utc.timestamp_millis_opt(T0).unwrap(),
    );
    assert_eq!(spec.provider, ProviderKind::Seven);
    assert_eq!(queue.create_campaign(&spec).await.unwrap(), Created::New);
    let rows: Vec<NewMessage> = (1..=30)
        .map(|i: u64| NewMessage {
            row: i as Row,
            to: PhoneNumber::from_stored(&format!("49151{i:08}")).unwrap(),
            values: Vec::new(),
            overrides: RowOverrides::default(),
            due_ms: T0,
        })
        .collect();
    queue.enqueue_chunk(&spec.id, &rows).await.unwrap();
    queue.finish_ingest(&spec.id, 0).await.unwrap();
    let due = || async {
        let entries: Vec<(String, f64)> = redis::cmd("ZRANGE")
            .arg(queue.keys().due())
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query_async(&mut queue.connection())
            .await
            .unwrap();
        entries
    };
    let before = due().await;

    let gate = ProviderGate::default();
    let limits = ClaimLimits {
        providers: gate.clone(),
        ..ClaimLimits::default()
    };
    gate.set(ProviderKind::Seven, false);
    let batch = queue
        .claim_within("w", 10, LEASE, T0 + 1, &limits)
        .await
        .unwrap();
    assert!(batch.claimed.is_empty());
    assert_eq!(batch.processed, 0, "nothing changed, so nothing processed");
    assert_eq!(batch.next_due_ms, None, "no entry this worker would take");
    assert_eq!(due().await, before, "the entries stay as they were");

    gate.set(ProviderKind::Seven, true);
    let batch = queue
        .claim_within("w", 10, LEASE, T0 + 1, &limits)
        .await
        .unwrap();
    assert_eq!(batch.claimed.len(), 10);
    counters_match_messages(&queue, &spec.id).await.unwrap();
}

#[tokio::test]
async fn live_workers_are_listed_with_their_providers_health_until_they_expire() {
    let queue = TestRedis::shared().await.queue().await;
    let beat = |id: &str, seven: &str| WorkerBeat {
        id: id.to_string(),
        host: "host-a".into(),
        pid: 42,
        started_at: "2030-01-01T00:00:00.000Z".into(),
        version: "0.1.0".into(),
        in_flight: 3,
        providers: vec![
            ProviderHealthEntry {
                provider: "seven".into(),
                health: seven.into(),
                since: Some("2030-01-01T00:00:01.000Z".into()),
            },
            ProviderHealthEntry {
                provider: "bird".into(),
                health: "no_key".into(),
                since: None,
            },
        ],
    };
    queue
        .worker_beat(&beat("bad", "key_refused"), Duration::from_millis(300))
        .await
        .unwrap();
    queue
        .worker_beat(&beat("good", "ok"), Duration::from_secs(30))
        .await
        .unwrap();
    let workers = queue.live_workers().await.unwrap();
    assert_eq!(workers.len(), 2);
    assert_eq!(workers[0].id, "good", "most recently seen first");
    assert!(workers[0].can_send(ProviderKind::Seven));
    assert!(!workers[0].can_send(ProviderKind::Bird));
    assert!(!workers[1].can_send(ProviderKind::Seven));
    assert_eq!(workers[1].host, "host-a");
    assert_eq!(workers[1].in_flight, 3);
    assert_eq!(workers[1].providers[0].health, "key_refused");
    assert!(!workers[1].last_seen.is_empty());

    // A worker whose heartbeats stop is gone once its hash expires; one that stops says so.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let workers = queue.live_workers().await.unwrap();
    assert_eq!(workers.len(), 1);
    queue.worker_gone("good").await.unwrap();
    assert!(queue.live_workers().await.unwrap().is_empty());
}
