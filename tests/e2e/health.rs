//! A broken worker stays a local problem, end to end: a worker whose key the provider refuses
//! (or that has none) leaves the campaign to the workers that can send it, says so on
//! `/healthz`, in its log and in `wacast workers`; a campaign pauses only when no live worker can
//! send it. A provider that hangs opens the worker's breaker: no new claims, a probe at a time,
//! and sending again once it answers.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;
use wacast_shared::campaign::{CampaignId, CampaignState};
use wacast_shared::testing::{TestRedis, counters_match_messages};
use wacast_tests::{ChildGuard, MockGatewayProcess};

use crate::support::*;

const SLOW: Duration = Duration::from_secs(60);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// `wacast workers --format json`'s workers.
fn workers(redis: &TestRedis) -> Vec<Value> {
    let out: Value = serde_json::from_str(&wacast(redis, &["workers", "--format", "json"]))
        .expect("workers prints JSON");
    out["workers"].as_array().cloned().unwrap_or_default()
}

/// A worker's health of `provider` as `wacast workers` shows it, by the worker's name.
fn provider_health(workers: &[Value], name: &str, provider: &str) -> Option<String> {
    let worker = workers.iter().find(|w| {
        w["id"]
            .as_str()
            .is_some_and(|id| id.starts_with(&format!("{name}-")))
    })?;
    worker["providers"]
        .as_array()?
        .iter()
        .find(|p| p["provider"] == provider)
        .and_then(|p| p["health"].as_str())
        .map(str::to_string)
}

/// Waits until `wacast workers` shows `name`'s `provider` as `health`.
async fn wait_for_health(redis: &TestRedis, name: &str, provider: &str, health: &str) {
    let deadline = Instant::now() + SLOW;
    loop {
        let listed = workers(redis);
        if provider_health(&listed, name, provider).as_deref() == Some(health) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never showed {provider}={health}: {listed:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn healthz(addr: &str) -> (u16, String) {
    let response = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .expect("/healthz answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

async fn set_faults(gateway: &MockGatewayProcess, faults: Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/faults", gateway.url()))
        .json(&faults)
        .send()
        .await
        .expect("the mock answers /faults");
    assert!(response.status().is_success(), "{faults}");
}

/// Waits until the campaign is completed, failing if it is ever paused.
async fn completed_never_paused(
    queue: &wacast_shared::queue::Queue,
    id: &CampaignId,
) -> wacast_shared::queue::CampaignRecord {
    wait_for(queue, id, SLOW, "completed", |r| {
        assert_ne!(
            r.state,
            CampaignState::Paused,
            "never paused: {:?}",
            r.pause_reason
        );
        r.state == CampaignState::Completed
    })
    .await
}

fn spawn_named(
    redis: &TestRedis,
    gateway: &MockGatewayProcess,
    name: &str,
    keys: Keys<'_>,
    extra: &[&str],
) -> ChildGuard {
    let mut args = vec!["--name", name];
    args.extend_from_slice(extra);
    spawn_worker_with_keys(&redis.url, &redis.prefix, &gateway.url(), keys, &args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_whose_key_is_refused_leaves_the_campaign_to_the_healthy_one() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let gateway = spawn_gateway(&[]);
    let dir = TempDir::new().unwrap();
    let rows = 120;
    let csv = write_csv(dir.path(), rows);
    wacast(&redis, &["rate", "set", SENDER, "60"]);

    let good = spawn_named(&redis, &gateway, "good", Keys::BOTH, &[]);
    wait_for_health(&redis, "good", "seven", "ok").await;
    let metrics = format!("127.0.0.1:{}", free_port());
    let bad_keys = Keys {
        seven: Some("wrong-key"),
        ..Keys::BOTH
    };
    let bad = spawn_named(
        &redis,
        &gateway,
        "bad",
        bad_keys,
        &["--metrics-addr", &metrics],
    );
    wait_for_health(&redis, "bad", "seven", "ok").await;
    // The healthy worker stands still (still registered) until the bad one has met the refusal.
    good.signal("STOP").unwrap();
    enqueue(&redis.url, &redis.prefix, &csv, "two-workers", &[]);
    let id = CampaignId::parse("two-workers").unwrap();
    wait_for_health(&redis, "bad", "seven", "key_refused").await;
    good.signal("CONT").unwrap();

    let record = completed_never_paused(&queue, &id).await;
    assert_eq!(record.counters.sent, rows as u64, "{:?}", record.counters);
    assert_eq!(record.counters.failed + record.counters.unknown, 0);
    let stats = gateway_stats(&gateway).await;
    assert!(
        stats["rejections"]["900"].as_u64().unwrap_or(0) >= 1,
        "{stats}"
    );
    assert_eq!(stats["accepted"], rows as u64);
    assert_eq!(stats["duplicates"]["foreign_ids"], 0);
    counters_match_messages(&queue, &id).await.unwrap();

    let (status, body) = healthz(&metrics).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("seven") && body.contains("key_refused"),
        "{body}"
    );
    let metrics_text = reqwest::get(format!("http://{metrics}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics_text.contains("wacast_provider_healthy{provider=\"seven\"} 0"),
        "{metrics_text}"
    );
    let listed = workers(&redis);
    assert_eq!(
        provider_health(&listed, "bad", "seven").as_deref(),
        Some("key_refused")
    );
    assert_eq!(
        provider_health(&listed, "good", "seven").as_deref(),
        Some("ok")
    );
    let text = wacast(&redis, &["workers"]);
    assert!(
        text.contains("seven=key_refused") && text.contains("seven=ok"),
        "{text}"
    );

    let stderr = bad.stderr();
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "one ERROR (a minute): {stderr}");
    assert!(
        errors[0].contains("seven") && errors[0].contains("SEVEN_API_KEY"),
        "it names the provider and the fix: {}",
        errors[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_only_a_refused_key_the_campaign_pauses_saying_no_live_worker_can_send_it() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let gateway = spawn_gateway(&[]);
    let dir = TempDir::new().unwrap();
    let csv = write_csv(dir.path(), 20);
    enqueue(&redis.url, &redis.prefix, &csv, "lone-bad", &[]);
    let id = CampaignId::parse("lone-bad").unwrap();

    let keys = Keys {
        seven: Some("wrong-key"),
        ..Keys::BOTH
    };
    let _bad = spawn_named(&redis, &gateway, "bad", keys, &[]);
    let record = wait_for(&queue, &id, SLOW, "paused", |r| {
        r.state == CampaignState::Paused && r.counters.claimed + r.counters.sending == 0
    })
    .await;
    let reason = record.pause_reason.clone().unwrap_or_default();
    assert!(
        reason.contains("no live worker can send through seven") && reason.contains("900"),
        "{reason:?}"
    );
    assert_eq!(record.counters.failed, 0);
    assert_eq!(record.counters.queued, 20);
    assert_eq!(gateway_stats(&gateway).await["accepted"], 0);
    counters_match_messages(&queue, &id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_without_a_bird_key_leaves_bird_to_the_worker_with_one() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let gateway = spawn_gateway(&[]);
    let dir = TempDir::new().unwrap();
    let rows = 60;
    let csv = write_csv(dir.path(), rows);

    let with_key = spawn_named(&redis, &gateway, "birdie", Keys::BOTH, &[]);
    wait_for_health(&redis, "birdie", "bird", "ok").await;
    let metrics = format!("127.0.0.1:{}", free_port());
    let seven_only = Keys {
        bird: None,
        ..Keys::BOTH
    };
    let _keyless = spawn_named(
        &redis,
        &gateway,
        "keyless",
        seven_only,
        &["--metrics-addr", &metrics],
    );
    wait_for_health(&redis, "keyless", "bird", "no_key").await;
    with_key.signal("STOP").unwrap();
    enqueue_bird(&redis.url, &redis.prefix, &csv, "bird-pair", &[], &[]);
    let id = CampaignId::parse("bird-pair").unwrap();
    // The keyless worker meets the missing key with the first message it takes.
    let deadline = Instant::now() + SLOW;
    while healthz(&metrics).await.0 != 503 {
        assert!(
            Instant::now() < deadline,
            "the keyless worker never met a Bird message"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    with_key.signal("CONT").unwrap();

    let record = completed_never_paused(&queue, &id).await;
    assert_eq!(record.counters.sent, rows as u64, "{:?}", record.counters);
    let (_, body) = healthz(&metrics).await;
    assert!(body.contains("bird") && body.contains("no_key"), "{body}");
    let stats = gateway_stats(&gateway).await;
    assert_eq!(stats["bird"]["accepted"], rows as u64);
    assert_eq!(stats["bird"]["duplicate_references"], 0);
    counters_match_messages(&queue, &id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_provider_opens_the_breaker_until_a_probe_is_answered() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let gateway = spawn_gateway(&[]);
    let dir = TempDir::new().unwrap();
    let rows = 60;
    let concurrency = 4;
    let min_requests = 4;
    let csv = write_csv(dir.path(), rows);
    let metrics = format!("127.0.0.1:{}", free_port());
    set_faults(&gateway, json!({"hang": 1.0})).await;
    let faults: Value = reqwest::get(format!("{}/faults", gateway.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(faults["hang"], 1.0, "{faults}");

    let _worker = spawn_named(
        &redis,
        &gateway,
        "breaker",
        Keys::BOTH,
        &[
            "--concurrency",
            "4",
            "--request-timeout",
            "1s",
            "--breaker-min-requests",
            "4",
            "--breaker-window",
            "20s",
            "--breaker-cooldown",
            "1s",
            "--breaker-max-cooldown",
            "2s",
            "--metrics-addr",
            &metrics,
        ],
    );
    enqueue(&redis.url, &redis.prefix, &csv, "hanging", &[]);
    let id = CampaignId::parse("hanging").unwrap();
    wait_for_health(&redis, "breaker", "seven", "breaker_open").await;
    let opened = gateway_stats(&gateway).await["requests"]["messages"]
        .as_u64()
        .unwrap();
    // While open, only probes reach the provider: one at a time, 1 s then 2 s apart, each
    // hanging for the 1 s timeout.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let while_open = gateway_stats(&gateway).await["requests"]["messages"]
        .as_u64()
        .unwrap()
        - opened;
    assert!(
        while_open <= 3,
        "{while_open} requests while the breaker was open"
    );
    let metrics_text = reqwest::get(format!("http://{metrics}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics_text.contains("wacast_provider_healthy{provider=\"seven\"} 0"),
        "{metrics_text}"
    );

    set_faults(&gateway, json!({"hang": 0.0})).await;
    let record = wait_for(&queue, &id, SLOW, "finished", |r| {
        r.counters.queued + r.counters.claimed + r.counters.sending == 0
    })
    .await;
    wait_for_health(&redis, "breaker", "seven", "ok").await;
    let counters = &record.counters;
    assert_eq!(
        counters.sent + counters.unknown,
        rows as u64,
        "{counters:?}"
    );
    // Hung requests are unknown: those made before the breaker opened (at most the window's
    // minimum plus those in flight) and the failed probes.
    assert!(
        counters.unknown <= min_requests + concurrency + while_open,
        "{counters:?}"
    );
    let stats = gateway_stats(&gateway).await;
    assert_eq!(stats["accepted"], counters.sent);
    assert_eq!(stats["duplicates"]["foreign_ids"], 0);
    counters_match_messages(&queue, &id).await.unwrap();
}
