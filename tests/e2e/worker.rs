//! `wacast-worker` end to end: real `wacast enqueue`, real worker processes, real HTTP to the
//! mock gateway, real Redis. Each test asserts what an operator would check: the campaign's
//! counters, the message hashes, and what the gateway received.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use tempfile::TempDir;
use wacast_shared::campaign::{Campaign, CampaignId, CampaignState};
use wacast_shared::message::RowOverrides;
use wacast_shared::phone::PhoneNumber;
use wacast_shared::queue::NewMessage;
use wacast_shared::testing::{self, TestRedis, counters_match_messages};

use crate::support::*;

/// The time now, in unix milliseconds. The test's Redis runs on this host, so its clock (which
/// the queue decides by) is this host's.
fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

const SLOW: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_is_sent_exactly_once_and_recorded() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let gateway = spawn_gateway(&[]);
    let dir = TempDir::new().unwrap();
    let csv = write_csv(dir.path(), 2000);
    enqueue(&redis.url, &redis.prefix, &csv, "exactly-once", &[]);
    let id = CampaignId::parse("exactly-once").unwrap();

    let _worker = spawn_worker(&redis.url, &redis.prefix, &gateway.url(), &[]);
    let record = wait_for(&queue, &id, SLOW, "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;

    assert_eq!(record.counters.total, 2000);
    assert_eq!(record.counters.sent, 2000);
    counters_match_messages(&queue, &id).await.unwrap();
    let stats = gateway_stats(&gateway).await;
    assert_eq!(stats["accepted"], 2000);
    assert_eq!(stats["duplicates"]["foreign_ids"], 0);
    let foreign_ids = stats["foreign_ids"].as_object().unwrap();
    assert_eq!(foreign_ids.len(), 2000);
    assert!(foreign_ids.contains_key("exactly-once.1"));
    assert!(foreign_ids.contains_key("exactly-once.2000"));

    // The cost is the sum of the prices recorded per message, and what the gateway charged.
    let hashes = message_hashes(&queue, &id, 2000).await;
    let sum: f64 = hashes
        .iter()
        .map(|h| h["price"].parse::<f64>().unwrap())
        .sum();
    assert!(
        (record.counters.cost - sum).abs() < 1e-6,
        "{} vs {sum}",
        record.counters.cost
    );
    assert!((stats["total_price"].as_f64().unwrap() - sum).abs() < 1e-6);
    assert!(
        hashes
            .iter()
            .all(|h| h["status"] == "sent" && !h["provider_id"].is_empty())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freetext_without_an_open_window_fails_with_7002001() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let dir = TempDir::new().unwrap();
    // Half of the recipients wrote to us in the last 24 hours.
    let windows = dir.path().join("windows.txt");
    let open: Vec<String> = (0..10)
        .step_by(2)
        .map(|i| recipient(i)[1..].to_string())
        .collect();
    std::fs::write(&windows, open.join("\n")).unwrap();
    let gateway = spawn_gateway(&["--windows", windows.to_str().unwrap()]);
    let csv = write_csv(dir.path(), 10);
    enqueue(
        &redis.url,
        &redis.prefix,
        &csv,
        "freetext",
        &["--text", "Hello {{name}}, your order {{order_id}} shipped."],
    );
    let id = CampaignId::parse("freetext").unwrap();
    let _worker = spawn_worker(&redis.url, &redis.prefix, &gateway.url(), &[]);
    let record = wait_for(&queue, &id, SLOW, "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;
    assert_eq!((record.counters.sent, record.counters.failed), (5, 5));
    let hashes = message_hashes(&queue, &id, 10).await;
    for (i, hash) in hashes.iter().enumerate() {
        if i % 2 == 0 {
            assert_eq!(hash["status"], "sent", "row {}", i + 1);
        } else {
            assert_eq!(hash["status"], "failed", "row {}", i + 1);
            assert_eq!(hash["error_code"], "7002001");
            assert!(hash["error"].contains("window"), "{:?}", hash["error"]);
        }
    }
    counters_match_messages(&queue, &id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_api_key_pauses_the_campaign_instead_of_failing_rows() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let gateway = spawn_gateway(&[]);
    let dir = TempDir::new().unwrap();
    let csv = write_csv(dir.path(), 50);
    enqueue(&redis.url, &redis.prefix, &csv, "halted", &[]);
    let id = CampaignId::parse("halted").unwrap();

    let mut worker =
        spawn_worker_with_key(&redis.url, &redis.prefix, &gateway.url(), "wrong-key", &[]);
    let record = wait_for(&queue, &id, SLOW, "paused", |r| {
        r.state == CampaignState::Paused && r.counters.claimed + r.counters.sending == 0
    })
    .await;
    assert!(
        record.pause_reason.as_deref().unwrap_or("").contains("900")
            || record.pause_reason.as_deref().unwrap_or("").contains("key"),
        "{:?}",
        record.pause_reason
    );
    assert_eq!(record.counters.failed, 0, "a halt fails no row");
    assert_eq!(record.counters.queued, 50);
    assert_eq!(gateway_stats(&gateway).await["accepted"], 0);
    let errors = worker.stderr().matches("ERROR").count();
    assert!(
        errors >= 1,
        "one ERROR tells the operator: {}",
        worker.stderr()
    );
    worker.kill();

    // With the right key and the campaign resumed, every row goes out once.
    let _worker = spawn_worker(&redis.url, &redis.prefix, &gateway.url(), &[]);
    queue.resume(&id).await.unwrap();
    let record = wait_for(&queue, &id, SLOW, "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;
    assert_eq!(record.counters.sent, 50);
    assert_eq!(
        gateway_stats(&gateway).await["duplicates"]["foreign_ids"],
        0
    );
    counters_match_messages(&queue, &id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_errors_are_retried_until_sent() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let gateway = spawn_gateway(&["--fail-5xx", "0.3", "--seed", "7"]);
    let dir = TempDir::new().unwrap();
    let csv = write_csv(dir.path(), 60);
    enqueue(&redis.url, &redis.prefix, &csv, "retried", &[]);
    let id = CampaignId::parse("retried").unwrap();
    let _worker = spawn_worker(
        &redis.url,
        &redis.prefix,
        &gateway.url(),
        &["--max-attempts", "12"],
    );
    let record = wait_for(&queue, &id, SLOW, "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;
    assert_eq!(record.counters.sent, 60);
    let stats = gateway_stats(&gateway).await;
    let injected = stats["injected_5xx"].as_u64().unwrap();
    assert!(injected > 0);
    assert_eq!(record.counters.retries, injected, "every 5xx was one retry");
    assert_eq!(stats["duplicates"]["foreign_ids"], 0);
    counters_match_messages(&queue, &id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_request_is_recorded_unknown_and_not_resent() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let gateway = spawn_gateway(&["--hang", "1.0"]);
    let dir = TempDir::new().unwrap();
    let csv = write_csv(dir.path(), 5);
    enqueue(&redis.url, &redis.prefix, &csv, "hung", &[]);
    let id = CampaignId::parse("hung").unwrap();
    let _worker = spawn_worker(
        &redis.url,
        &redis.prefix,
        &gateway.url(),
        &["--request-timeout", "1s"],
    );
    let record = wait_for(&queue, &id, SLOW, "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;
    assert_eq!(record.counters.unknown, 5);
    assert_eq!(
        record.counters.retries, 0,
        "an ambiguous request is never retried"
    );
    let stats = gateway_stats(&gateway).await;
    assert_eq!(stats["requests"]["messages"], 5, "one request per message");
    let failed: Vec<String> = redis::cmd("SMEMBERS")
        .arg(queue.keys().failed(&id))
        .query_async(&mut queue.connection())
        .await
        .unwrap();
    assert_eq!(
        failed.len(),
        5,
        "unknown rows are listed for `wacast retry`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_the_provider_refuses_fails_its_rows() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let gateway = spawn_gateway(&[]);
    let dir = TempDir::new().unwrap();
    let csv = write_csv(dir.path(), 3);
    // order_confirmation takes two body parameters; one is a mistake the gateway answers 400.
    enqueue(
        &redis.url,
        &redis.prefix,
        &csv,
        "refused",
        &[
            "--template",
            "order_confirmation",
            "--language",
            "de",
            "--body",
            "name",
        ],
    );
    let id = CampaignId::parse("refused").unwrap();
    let _worker = spawn_worker(&redis.url, &redis.prefix, &gateway.url(), &[]);
    let record = wait_for(&queue, &id, SLOW, "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;
    assert_eq!(record.counters.failed, 3);
    // seven answers code 400 and names WhatsApp's 132000 in its explanation: the code kept is
    // WhatsApp's, and the explanation is kept whole (the message holds its beginning).
    let hashes = message_hashes(&queue, &id, 3).await;
    assert!(
        hashes.iter().all(|h| h["error_code"] == "132000"),
        "{hashes:?}"
    );
    let read = queue.message_hashes(&id, 1, 3).await.unwrap();
    assert!(
        read.iter()
            .all(|(_, h)| h["error"].contains("expects 2 body parameters, got 1")),
        "{read:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_past_its_ttl_expires_without_a_request() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let gateway = spawn_gateway(&[]);
    // A campaign scheduled two hours ago with a one-hour validity: nothing may go out.
    let id = CampaignId::parse("stale").unwrap();
    let campaign = Campaign {
        ttl_minutes: 60,
        created_at: Utc::now(),
        ..testing::campaign(
            "stale",
            json!({"type": "template", "template": "hello_world", "language": "de"}),
            &[],
            Utc::now() - chrono::Duration::hours(2),
        )
    };
    queue.create_campaign(&campaign).await.unwrap();
    let messages: Vec<NewMessage> = (1..=3)
        .map(|row| NewMessage {
            row,
            to: PhoneNumber::parse(&recipient(row as usize), None).unwrap(),
            values: vec![],
            overrides: RowOverrides::default(),
            due_ms: now_ms(),
        })
        .collect();
    queue.enqueue_chunk(&id, &messages).await.unwrap();
    queue.finish_ingest(&id, 0).await.unwrap();

    let _worker = spawn_worker(&redis.url, &redis.prefix, &gateway.url(), &[]);
    let record = wait_for(&queue, &id, SLOW, "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;
    assert_eq!(record.counters.expired, 3);
    assert_eq!(gateway_stats(&gateway).await["requests"]["messages"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_loses_nothing_and_sends_nothing_twice() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let gateway = spawn_gateway(&["--latency", "20"]);
    let dir = TempDir::new().unwrap();
    let csv = write_csv(dir.path(), 5000);
    enqueue(&redis.url, &redis.prefix, &csv, "killed", &[]);
    let id = CampaignId::parse("killed").unwrap();

    let concurrency = 64;
    let mut first = spawn_worker(
        &redis.url,
        &redis.prefix,
        &gateway.url(),
        &["--concurrency", "64"],
    );
    wait_for(&queue, &id, SLOW, "1000 sent", |r| r.counters.sent >= 1000).await;
    first.kill();
    let at_kill = queue.load_campaign(&id).await.unwrap().counters;
    assert!(at_kill.sending <= concurrency, "{at_kill:?}");

    let _second = spawn_worker(&redis.url, &redis.prefix, &gateway.url(), &[]);
    let record = wait_for(&queue, &id, SLOW, "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;
    let c = record.counters;
    assert_eq!(c.sent + c.unknown, 5000, "{c:?}");
    assert!(c.unknown <= at_kill.sending, "{c:?} vs {at_kill:?}");
    let stats = gateway_stats(&gateway).await;
    assert_eq!(stats["duplicates"]["foreign_ids"], 0);
    assert_eq!(stats["duplicates"]["recipient_content"], 0);
    assert!(stats["accepted"].as_u64().unwrap() >= c.sent);
    counters_match_messages(&queue, &id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_rides_out_a_redis_restart() {
    let mut server = TestRedis::dedicated_with_aof().await;
    let redis = server.test_redis();
    let queue = redis.queue().await;
    let gateway = spawn_gateway(&["--latency", "5"]);
    let dir = TempDir::new().unwrap();
    let csv = write_csv(dir.path(), 3000);
    enqueue(&redis.url, &redis.prefix, &csv, "restarted", &[]);
    let id = CampaignId::parse("restarted").unwrap();

    let mut worker = spawn_worker(&redis.url, &redis.prefix, &gateway.url(), &[]);
    wait_for(&queue, &id, SLOW, "500 sent", |r| r.counters.sent >= 500).await;
    server.restart().await;
    let record = wait_for(&queue, &id, SLOW, "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;
    let c = record.counters;
    assert_eq!(c.sent + c.unknown, 3000, "{c:?}");
    let stats = gateway_stats(&gateway).await;
    assert_eq!(stats["duplicates"]["foreign_ids"], 0);
    counters_match_messages(&queue, &id).await.unwrap();
    assert!(
        worker.wait_timeout(Duration::ZERO).unwrap().is_none(),
        "the worker is still running"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_never_exceeds_its_rate() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let gateway = spawn_gateway(&[]);
    let dir = TempDir::new().unwrap();
    let csv = write_csv(dir.path(), 150);
    enqueue(&redis.url, &redis.prefix, &csv, "rated", &[]);
    let id = CampaignId::parse("rated").unwrap();
    let rate = format!("{SENDER}=50:5");
    let _worker = spawn_worker(
        &redis.url,
        &redis.prefix,
        &gateway.url(),
        &["--rate", &rate],
    );
    wait_for(&queue, &id, SLOW, "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;
    let stats = gateway_stats(&gateway).await;
    let sender = &stats["senders"][SENDER];
    assert_eq!(sender["accepted"], 150);
    let max = sender["max_per_second_sliding"].as_u64().unwrap();
    assert!(max <= 55, "at most 50 + burst 5 in any second, saw {max}");
    assert!(max >= 45, "the rate is used, not wasted: {max}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_leaves_nothing_claimed() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let gateway = spawn_gateway(&["--latency", "200"]);
    let dir = TempDir::new().unwrap();
    let csv = write_csv(dir.path(), 1000);
    enqueue(&redis.url, &redis.prefix, &csv, "drained", &[]);
    let id = CampaignId::parse("drained").unwrap();
    let mut worker = spawn_worker(
        &redis.url,
        &redis.prefix,
        &gateway.url(),
        &["--concurrency", "32", "--shutdown-timeout", "5s"],
    );
    wait_for(&queue, &id, SLOW, "100 sent", |r| r.counters.sent >= 100).await;
    worker.terminate().unwrap();
    let status = worker
        .wait_timeout(Duration::from_secs(8))
        .unwrap()
        .expect("the worker exits within its shutdown timeout");
    assert!(
        status.success(),
        "exit status {status}: {}",
        worker.stderr()
    );
    let c = queue.load_campaign(&id).await.unwrap().counters;
    assert_eq!((c.claimed, c.sending), (0, 0), "{c:?}");
    assert_eq!(c.unknown, 0, "{c:?}");
    assert_eq!(c.sent + c.queued, 1000, "{c:?}");
    counters_match_messages(&queue, &id).await.unwrap();
}
