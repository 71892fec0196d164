//! No zombie sends, end to end: a worker stopped (SIGSTOP) while it holds messages, long past
//! its lease, sends nothing when it wakes (SIGCONT). Its messages were settled meanwhile by a
//! healthy worker and the reaper: those it had written stay single (`unknown` until a late
//! answer), the others are sent once, by the other worker.

use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;
use wacast_shared::campaign::{CampaignId, CampaignState};
use wacast_shared::testing::{TestRedis, counters_match_messages};

use wacast_tests::ChildGuard;

use crate::support::*;

/// The journal's lines (see the mock's `--journal`).
fn journal(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON journal line"))
        .collect()
}

/// A worker with a short lease (5 s, the shortest) and a few requests at a time.
fn spawn(redis: &TestRedis, gateway: &str) -> ChildGuard {
    let mut command = worker_command(&redis.url, &redis.prefix, gateway, Keys::BOTH);
    command
        .args([
            "--lease",
            "5s",
            "--concurrency",
            "4",
            "--default-rate",
            "unlimited",
        ])
        .env("RUST_LOG", "info");
    ChildGuard::spawn_daemon(command).expect("wacast-worker starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_past_its_lease_sends_nothing_when_it_wakes() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let dir = TempDir::new().unwrap();
    let journal_path = dir.path().join("journal.jsonl");
    // Slow answers: the stopped worker holds requests in flight and more messages marked or
    // claimed behind them.
    let gateway = spawn_gateway(&[
        "--latency",
        "2000",
        "--journal",
        journal_path.to_str().unwrap(),
    ]);
    let rows = 16;
    let csv = write_csv(dir.path(), rows);
    enqueue(&redis.url, &redis.prefix, &csv, "zombie", &[]);
    let id = CampaignId::parse("zombie").unwrap();
    let stopped = spawn(&redis, &gateway.url());
    wait_for(&queue, &id, Duration::from_secs(20), "sending", |r| {
        r.counters.sending >= 1
    })
    .await;
    stopped.signal("STOP").unwrap();
    let at_stop = queue.load_campaign(&id).await.unwrap().counters;
    // Another worker reaps the stopped one's leases once they expire and sends the rest.
    let _healthy = spawn(&redis, &gateway.url());
    wait_for(&queue, &id, Duration::from_secs(60), "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;
    // Long past the lease: wake the stopped worker and give it time to do harm.
    let woke_ms = chrono::Utc::now().timestamp_millis();
    stopped.signal("CONT").unwrap();
    let settle = Instant::now() + Duration::from_secs(3);
    while Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after_wake: Vec<Value> = journal(&journal_path)
        .into_iter()
        .filter(|line| line["event"] == "request" && line["at_ms"].as_i64() >= Some(woke_ms))
        .collect();
    assert!(
        after_wake.is_empty(),
        "the woken worker sent {} requests: {after_wake:?}",
        after_wake.len()
    );
    let stats = gateway_stats(&gateway).await;
    assert_eq!(
        stats["duplicates"]["foreign_ids"], 0,
        "no recipient got two"
    );
    assert_eq!(stats["senders"][SENDER]["accepted"], rows);
    let record = queue.load_campaign(&id).await.unwrap();
    eprintln!(
        "zombie: at the stop {} claimed, {} sending; at the end {} sent, {} unknown",
        at_stop.claimed, at_stop.sending, record.counters.sent, record.counters.unknown
    );
    // Only what was written before the stop can be `unknown` (until its late answer).
    assert!(record.counters.unknown <= at_stop.sending + at_stop.claimed);
    if let Err(problems) = counters_match_messages(&queue, &id).await {
        panic!("{problems}");
    }
}
