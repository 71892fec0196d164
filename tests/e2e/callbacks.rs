//! Delivery callbacks end to end: the mock gateway sends signed callbacks for what it accepted,
//! like the providers do, to a real `wacast-worker`'s hooks listener, which records them in a
//! real Redis. Each test asserts what an operator would check: the campaign's funnel counters
//! against what the mock says it sent and got a 2xx for, the message hashes (through the
//! invariant check), the opt-out list, and what a later campaign sends.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;
use wacast_shared::campaign::{CampaignId, CampaignState};
use wacast_shared::queue::Queue;
use wacast_shared::testing::{TestRedis, counters_match_messages};
use wacast_tests::MockGatewayProcess;

use crate::support::*;

const SLOW: Duration = Duration::from_secs(90);
const SEVEN_SIGNING_KEY: &str = "e2e-seven-signing-key";

/// A free loopback port for the worker's hooks listener.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The worker's flags for its hooks listener on `port`, with seven's signing key in a file, and
/// the mock's flags to send signed callbacks there.
pub(crate) fn hooks(dir: &Path, port: u16) -> (Vec<String>, Vec<String>) {
    let key_file = dir.join("seven-signing-key");
    std::fs::write(&key_file, SEVEN_SIGNING_KEY).unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let worker = vec![
        "--hooks-addr".into(),
        format!("127.0.0.1:{port}"),
        "--hooks-public-url".into(),
        url.clone(),
        "--seven-signing-key-file".into(),
        key_file.to_string_lossy().into_owned(),
    ];
    let gateway = vec![
        "--callback-url".into(),
        url,
        "--seven-signing-key".into(),
        SEVEN_SIGNING_KEY.into(),
    ];
    (worker, gateway)
}

pub(crate) fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The mock's callback counters once nothing is pending any more.
async fn callbacks_settled(gateway: &MockGatewayProcess) -> Value {
    let deadline = Instant::now() + SLOW;
    loop {
        let stats = gateway_stats(gateway).await;
        let callbacks = stats["callbacks"].clone();
        if callbacks["pending"] == 0 && callbacks["planned"].as_object().is_some() {
            return callbacks;
        }
        assert!(
            Instant::now() < deadline,
            "callbacks still pending: {callbacks}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn count(map: &Value, kind: &str) -> u64 {
    map[kind].as_u64().unwrap_or(0)
}

async fn optout_size(queue: &Queue) -> u64 {
    let mut conn = queue.connection();
    redis::cmd("SCARD")
        .arg(queue.keys().optout())
        .query_async(&mut conn)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_reordered_late_callbacks_fill_the_funnel_once_and_stop_opts_out() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let dir = TempDir::new().unwrap();
    let port = free_port();
    let (worker_flags, gateway_flags) = hooks(dir.path(), port);
    let faults = [
        "--callback-delay",
        "150ms",
        "--read-share",
        "0.5",
        "--reply-share",
        "0.3",
        "--stop-share",
        "0.3",
        "--callback-duplicate-share",
        "0.3",
        "--callback-reorder",
        "0.5",
    ];
    let gateway = spawn_gateway(&[&strs(&gateway_flags)[..], &faults].concat());
    let csv = write_csv(dir.path(), 200);
    enqueue(&redis.url, &redis.prefix, &csv, "funnel", &[]);
    // A second campaign to the same recipients, due once the first one's callbacks are in: the
    // numbers that answered STOP meanwhile must get nothing from it.
    enqueue(
        &redis.url,
        &redis.prefix,
        &csv,
        "after-stop",
        &[&TEMPLATE[..], &["--delay", "+20s"]].concat(),
    );
    let first = CampaignId::parse("funnel").unwrap();
    let second = CampaignId::parse("after-stop").unwrap();

    let _worker = spawn_worker(
        &redis.url,
        &redis.prefix,
        &gateway.url(),
        &strs(&worker_flags),
    );
    wait_for(&queue, &first, SLOW, "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;
    let callbacks = callbacks_settled(&gateway).await;
    let acknowledged = &callbacks["acknowledged"];
    assert_eq!(count(&callbacks, "gave_up"), 0, "{callbacks}");

    let record = queue.load_campaign(&first).await.unwrap();
    let c = &record.counters;
    assert_eq!(c.sent, 200, "{c:?}");
    assert_eq!(c.delivered, 200, "every message was delivered: {callbacks}");
    assert_eq!(c.read, count(acknowledged, "read"), "{callbacks}");
    let stops = count(acknowledged, "stop");
    assert_eq!(
        c.replied,
        count(acknowledged, "reply") + stops,
        "{callbacks}"
    );
    assert_eq!(c.opted_out, stops, "{callbacks}");
    assert!(
        count(&callbacks, "duplicates") > 0,
        "the mock duplicated some: {callbacks}"
    );
    assert!(stops > 0, "some recipients said STOP: {callbacks}");
    assert_eq!(optout_size(&queue).await, stops);
    counters_match_messages(&queue, &first).await.unwrap();

    let record = wait_for(&queue, &second, SLOW, "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;
    assert_eq!(record.counters.cancelled, stops, "{:?}", record.counters);
    assert_eq!(record.counters.sent, 200 - stops, "{:?}", record.counters);
    counters_match_messages(&queue, &second).await.unwrap();
    let stats = gateway_stats(&gateway).await;
    assert_eq!(stats["accepted"], 400 - stops);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_that_meet_a_redis_outage_are_all_recorded_after_it() {
    let mut server = TestRedis::dedicated_with_aof().await;
    let redis = server.test_redis();
    let queue = redis.queue().await;
    let dir = TempDir::new().unwrap();
    let port = free_port();
    let (worker_flags, gateway_flags) = hooks(dir.path(), port);
    // The callbacks come 1.5 to 4.5 s after each send: Redis is down when they arrive.
    let gateway = spawn_gateway(
        &[
            &strs(&gateway_flags)[..],
            &["--callback-delay", "3s", "--read-share", "1"],
        ]
        .concat(),
    );
    let csv = write_csv(dir.path(), 50);
    enqueue(&redis.url, &redis.prefix, &csv, "outage", &[]);
    let id = CampaignId::parse("outage").unwrap();
    let _worker = spawn_worker(
        &redis.url,
        &redis.prefix,
        &gateway.url(),
        &strs(&worker_flags),
    );
    wait_for(&queue, &id, SLOW, "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;
    server.kill();
    tokio::time::sleep(Duration::from_secs(4)).await;
    server.restart().await;

    // Each callback that came meanwhile either waited for the worker's reconnection or was
    // answered 503 and sent again (`hooks::callbacks_get_503_while_redis_is_down…` holds the
    // 503 itself): either way none is lost.
    let callbacks = callbacks_settled(&gateway).await;
    assert_eq!(count(&callbacks, "gave_up"), 0, "{callbacks}");
    // The test's own connection meets the restart too: read through it as `wait_for` does.
    let record = wait_for(&queue, &id, SLOW, "readable", |_| true).await;
    assert_eq!(record.counters.delivered, 50, "{:?}", record.counters);
    assert_eq!(record.counters.read, 50, "{:?}", record.counters);
    counters_match_messages(&queue, &id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_marketing_limit_requeues_the_row_and_131050_opts_out() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let dir = TempDir::new().unwrap();
    let port = free_port();
    let (mut worker_flags, gateway_flags) = hooks(dir.path(), port);
    // Meta asks for 24 hours after a 131049; the test waits two seconds.
    worker_flags.extend(["--marketing-limit-delay".into(), "2s".into()]);
    let gateway = spawn_gateway(
        &[
            &strs(&gateway_flags)[..],
            &[
                "--callback-delay",
                "100ms",
                "--late-failure-share",
                "0.3",
                "--late-failure-codes",
                "131049,131050",
            ],
        ]
        .concat(),
    );
    let csv = write_csv(dir.path(), 60);
    enqueue(&redis.url, &redis.prefix, &csv, "late", &[]);
    let id = CampaignId::parse("late").unwrap();
    let _worker = spawn_worker(
        &redis.url,
        &redis.prefix,
        &gateway.url(),
        &strs(&worker_flags),
    );
    // Rows put back by a 131049 are sent again (and may meet another late failure), so the
    // campaign is done when nothing is open any more and the callbacks are in.
    let deadline = Instant::now() + SLOW;
    let (record, callbacks) = loop {
        let record = wait_for(&queue, &id, SLOW, "completed", |r| {
            r.state == CampaignState::Completed
        })
        .await;
        let callbacks = callbacks_settled(&gateway).await;
        let again = queue.load_campaign(&id).await.unwrap();
        if again.state == CampaignState::Completed && again.counters == record.counters {
            break (again, callbacks);
        }
        assert!(Instant::now() < deadline, "the campaign kept changing");
    };
    let failed = &callbacks["failed_codes"];
    let c = &record.counters;
    assert!(count(failed, "131049") > 0, "{callbacks}");
    assert_eq!(c.deferred, count(failed, "131049"), "{c:?} {callbacks}");
    assert_eq!(c.opted_out, count(failed, "131050"), "{c:?} {callbacks}");
    assert_eq!(optout_size(&queue).await, count(failed, "131050"));
    // Every deferral was a resend: the mock accepted each row once plus once per deferral.
    let stats = gateway_stats(&gateway).await;
    assert_eq!(stats["accepted"].as_u64().unwrap(), 60 + c.deferred);
    assert_eq!(c.sent, 60, "{c:?}");
    counters_match_messages(&queue, &id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_resolves_an_unknown_message_as_sent() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let dir = TempDir::new().unwrap();
    let port = free_port();
    let (mut worker_flags, gateway_flags) = hooks(dir.path(), port);
    worker_flags.extend(["--request-timeout".into(), "1s".into()]);
    // The mock accepts every message but loses a third of its answers: the worker times out
    // and records those `unknown`. Their `delivered` comes later, and proves they were sent.
    let gateway = spawn_gateway(
        &[
            &strs(&gateway_flags)[..],
            &["--lose-answer", "0.35", "--callback-delay", "3s"],
        ]
        .concat(),
    );
    let csv = write_csv(dir.path(), 30);
    enqueue(&redis.url, &redis.prefix, &csv, "proven", &[]);
    let id = CampaignId::parse("proven").unwrap();
    let _worker = spawn_worker(
        &redis.url,
        &redis.prefix,
        &gateway.url(),
        &strs(&worker_flags),
    );
    let record = wait_for(&queue, &id, SLOW, "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;
    let lost = gateway_stats(&gateway).await["lost_answers"]
        .as_u64()
        .unwrap();
    assert!(lost > 0, "the mock lost some answers");
    assert_eq!(record.counters.unknown, lost, "{:?}", record.counters);

    callbacks_settled(&gateway).await;
    let record = queue.load_campaign(&id).await.unwrap();
    let c = &record.counters;
    assert_eq!((c.sent, c.unknown, c.delivered), (30, 0, 30), "{c:?}");
    // Nothing was sent twice: resolving `unknown` takes evidence, not a resend.
    let stats = gateway_stats(&gateway).await;
    assert_eq!(stats["accepted"], 30);
    assert_eq!(stats["duplicates"]["foreign_ids"], 0);
    counters_match_messages(&queue, &id).await.unwrap();
}
