//! What a sender's campaign does when the provider refuses it as a whole, end to end: a
//! template WhatsApp refuses pauses the campaign with the provider's whole explanation (in
//! `wacast status` and `report` too), and a provider answering 429 slows the sender fleet-wide
//! without using up the messages' attempts.

use std::process::Command;
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use serde_json::Value;
use tempfile::TempDir;
use wacast_shared::campaign::{CampaignId, CampaignState};
use wacast_shared::testing::{TestRedis, counters_match_messages};

use crate::support::*;

const SLOW: Duration = Duration::from_secs(90);

/// `wacast ARGS… --format FORMAT` against the test's Redis: exit code and stdout.
fn wacast(redis: &TestRedis, args: &[&str], format: &str) -> (i32, String) {
    let output = Command::new(bin("wacast"))
        .args(args)
        .args(["--redis-url", &redis.url, "--prefix", &redis.prefix])
        .args(["--format", format])
        .output()
        .expect("wacast runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_whatsapp_refuses_pauses_the_campaign_with_the_whole_reason() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let gateway = spawn_gateway(&[]);
    let dir = TempDir::new().unwrap();
    let rows = 100;
    let csv = write_csv(dir.path(), rows);
    // A template Meta never approved: the mock answers seven's code 400 with WhatsApp's
    // `(#132001) template spring_sale does not exist or is not approved`.
    enqueue(
        &redis.url,
        &redis.prefix,
        &csv,
        "spring",
        &["--template", "spring_sale", "--language", "de"],
    );
    let id = CampaignId::parse("spring").unwrap();
    let rate = format!("{SENDER}=20");
    let _worker = spawn_worker(
        &redis.url,
        &redis.prefix,
        &gateway.url(),
        &["--rate", &rate],
    );
    let record = wait_for(&queue, &id, SLOW, "paused", |r| {
        r.state == CampaignState::Paused && r.counters.claimed + r.counters.sending == 0
    })
    .await;
    let failed = record.counters.failed;
    assert!(
        (3..=15).contains(&failed),
        "3 refusals pause it, plus the few in flight: {failed} of {rows} failed"
    );
    assert_eq!(record.counters.queued, rows as u64 - failed);
    let why = record.pause_reason.clone().unwrap();
    for part in [
        "132001",
        "template spring_sale does not exist or is not approved",
        "fix or re-approve the template",
        "wacast resume spring",
        "--code 132001",
    ] {
        assert!(why.contains(part), "{why:?} lacks {part:?}");
    }
    let stats = gateway_stats(&gateway).await;
    assert_eq!(
        stats["requests"]["messages"], failed,
        "nothing more was sent"
    );

    // `wacast status` and `wacast report` show the provider's whole explanation.
    let (code, status) = wacast(&redis, &["status", "spring"], "json");
    assert_eq!(code, 0, "{status}");
    let status: Value = serde_json::from_str(&status).unwrap();
    let top = &status["failures"]["top"][0];
    assert_eq!(top["error_code"], "132001", "{status:#}");
    let error = top["error"].as_str().unwrap();
    assert!(
        error.len() > 64 && error.contains("does not exist or is not approved"),
        "{error:?}"
    );
    let (code, report) = wacast(&redis, &["report", "spring", "--status", "failed"], "text");
    assert_eq!(code, 0, "{report}");
    let lines: Vec<&str> = report.lines().skip(1).collect();
    assert_eq!(lines.len() as u64, failed, "{report}");
    assert!(
        lines
            .iter()
            .all(|line| line.contains("template spring_sale does not exist or is not approved")),
        "{report}"
    );

    // The fix named in the reason works: the failed rows are queued again by their code.
    let (code, out) = wacast(
        &redis,
        &["retry", "spring", "--status", "failed", "--code", "132001"],
        "json",
    );
    assert_eq!(code, 0, "{out}");
    let out: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["requeued"], failed);
    let record = queue.load_campaign(&id).await.unwrap();
    assert_eq!(record.counters.queued, rows as u64);
    counters_match_messages(&queue, &id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_answering_429_slows_the_sender_without_using_attempts() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    // The provider allows 20 messages a second per sender; the operator set 50.
    let gateway = spawn_gateway(&["--rate-limit-per-sender", "20"]);
    let (code, out) = wacast(&redis, &["rate", "set", SENDER, "50"], "json");
    assert_eq!(code, 0, "{out}");
    let dir = TempDir::new().unwrap();
    let rows = 500;
    let csv = write_csv(dir.path(), rows);
    enqueue(&redis.url, &redis.prefix, &csv, "throttled", &[]);
    let id = CampaignId::parse("throttled").unwrap();
    let _worker = spawn_worker(&redis.url, &redis.prefix, &gateway.url(), &[]);

    // Meanwhile the sender's rate is visibly lowered in Redis, and `wacast rate list` says so.
    let backoff = queue.keys().backoff(&format!("seven:{SENDER}"));
    let deadline = Instant::now() + SLOW;
    let (mut lowest, mut listed) = (1.0_f64, String::new());
    loop {
        let factor: Option<f64> = queue.connection().hget(&backoff, "factor").await.unwrap();
        if let Some(factor) = factor
            && factor < lowest
        {
            lowest = factor;
            listed = wacast(&redis, &["rate", "list"], "text").1;
        }
        let record = queue.load_campaign(&id).await.unwrap();
        if record.state == CampaignState::Completed {
            break;
        }
        assert!(Instant::now() < deadline, "not completed: {record:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(lowest <= 0.5, "the rate was lowered to {lowest} of 50/s");
    assert!(listed.contains("(429)"), "{listed}");

    let record = queue.load_campaign(&id).await.unwrap();
    assert_eq!(record.counters.sent, rows as u64);
    assert_eq!(record.counters.retries, 0, "a 429 is no attempt");
    let hashes = message_hashes(&queue, &id, rows as u64).await;
    let most = hashes
        .iter()
        .map(|h| h["attempts"].parse::<u32>().unwrap())
        .max()
        .unwrap();
    assert_eq!(most, 1, "no message used more than its one request");
    let stats = gateway_stats(&gateway).await;
    let requests = stats["requests"]["messages"].as_u64().unwrap();
    let limited = stats["rate_limited"].as_u64().unwrap();
    if std::env::var_os("TEST_LOG").is_some() {
        eprintln!(
            "{requests} requests, {limited} answered 429, for {rows} messages; rate factor down to {lowest}"
        );
    }
    assert!(limited > 0, "the provider did limit the rate");
    assert!(
        requests as f64 <= 1.2 * rows as f64,
        "{requests} requests ({limited} answered 429) for {rows} messages"
    );
    assert_eq!(stats["duplicates"]["foreign_ids"], 0);
    counters_match_messages(&queue, &id).await.unwrap();
}
