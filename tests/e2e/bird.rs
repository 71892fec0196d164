//! Bird's Channels API end to end, beside seven: real `wacast enqueue --provider bird`, real
//! worker processes, real HTTP to the mock's Bird endpoint, real Redis. Each test asserts what
//! an operator would check: the campaign's counters, the message hashes, and what the gateway
//! received, counted by Bird's `reference` and seven's `foreign_id`.

use std::collections::HashSet;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;
use wacast_shared::campaign::{CampaignId, CampaignState};
use wacast_shared::provider::bird::validate::is_uuid;
use wacast_shared::queue::Queue;
use wacast_shared::testing::{TestRedis, counters_match_messages};

use crate::support::*;

const SLOW: Duration = Duration::from_secs(60);

/// Checks that the gateway accepted every row `1..=rows` of campaign `id` exactly once under
/// `ids` (`references` for Bird, `foreign_ids` for seven), and nothing else of it.
fn each_row_once(stats: &Value, ids: &str, id: &str, rows: u64) {
    let counts = stats[ids].as_object().expect("/stats has the per-id map");
    let ours: Vec<(&String, &Value)> = counts
        .iter()
        .filter(|(key, _)| key.starts_with(&format!("{id}.")))
        .collect();
    assert_eq!(ours.len() as u64, rows, "{ids} of {id}");
    for row in 1..=rows {
        assert_eq!(counts[&format!("{id}.{row}")], 1, "{ids}: {id}.{row}");
    }
}

/// Checks that every message of the campaign is `sent` with the provider's id, all different.
async fn all_sent_with_ids(queue: &Queue, id: &CampaignId, rows: u64, bird: bool) {
    let hashes = message_hashes(queue, id, rows).await;
    let mut ids = HashSet::new();
    for (row, hash) in (1..).zip(&hashes) {
        assert_eq!(hash["status"], "sent", "row {row}: {hash:?}");
        let provider_id = &hash["provider_id"];
        if bird {
            assert!(is_uuid(provider_id), "row {row}: Bird's id {provider_id:?}");
        }
        assert!(
            ids.insert(provider_id.clone()),
            "row {row}: {provider_id} twice"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bird_campaign_of_1000_rows_is_sent_exactly_once_and_recorded() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let gateway = spawn_gateway(&[]);
    let dir = TempDir::new().unwrap();
    let csv = write_csv(dir.path(), 1000);
    enqueue_bird(
        &redis.url,
        &redis.prefix,
        &csv,
        "bird-once",
        &[],
        &["--label", "Spring", "--tag", "VIP"],
    );
    let id = CampaignId::parse("bird-once").unwrap();

    let _worker = spawn_worker(&redis.url, &redis.prefix, &gateway.url(), &[]);
    let record = wait_for(&queue, &id, SLOW, "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;

    assert_eq!(record.counters.total, 1000);
    assert_eq!(record.counters.sent, 1000);
    assert_eq!(record.counters.retries, 0);
    // Bird states no price.
    assert_eq!(record.counters.cost, 0.0);
    counters_match_messages(&queue, &id).await.unwrap();
    let stats = gateway_stats(&gateway).await;
    assert_eq!(stats["accepted"], 1000);
    assert_eq!(stats["bird"]["accepted"], 1000);
    assert_eq!(stats["bird"]["duplicate_references"], 0);
    assert_eq!(stats["requests"]["bird"], 1000, "one request per message");
    assert_eq!(stats["requests"]["messages"], 0, "nothing went to seven");
    assert_eq!(stats["duplicates"]["recipient_content"], 0);
    each_row_once(&stats, "references", "bird-once", 1000);
    // Bird's channel is the sender the mock counts.
    assert_eq!(stats["senders"][BIRD_CHANNEL]["accepted"], 1000);
    all_sent_with_ids(&queue, &id, 1000, true).await;

    // The spec an operator reads with redis-cli names the workspace, channel and tags.
    let stored = record.campaign;
    let target = stored.bird.expect("a Bird campaign keeps its target");
    assert_eq!(target.workspace_id, BIRD_WORKSPACE);
    assert_eq!(target.channel_id, BIRD_CHANNEL);
    assert_eq!(target.tags, ["vip"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_1000_rows_through_seven_are_sent_exactly_once() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let gateway = spawn_gateway(&[]);
    let dir = TempDir::new().unwrap();
    let csv = write_csv(dir.path(), 1000);
    enqueue(&redis.url, &redis.prefix, &csv, "seven-once", &[]);
    let id = CampaignId::parse("seven-once").unwrap();

    let _worker = spawn_worker(&redis.url, &redis.prefix, &gateway.url(), &[]);
    let record = wait_for(&queue, &id, SLOW, "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;
    assert_eq!(record.counters.sent, 1000);
    counters_match_messages(&queue, &id).await.unwrap();
    let stats = gateway_stats(&gateway).await;
    assert_eq!(stats["accepted"], 1000);
    assert_eq!(stats["requests"]["bird"], 0, "nothing went to Bird");
    assert_eq!(stats["duplicates"]["foreign_ids"], 0);
    each_row_once(&stats, "foreign_ids", "seven-once", 1000);
    all_sent_with_ids(&queue, &id, 1000, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_worker_sends_a_seven_and_a_bird_campaign_of_the_same_csv_at_once() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let gateway = spawn_gateway(&[]);
    let dir = TempDir::new().unwrap();
    let csv = write_csv(dir.path(), 1000);
    enqueue(&redis.url, &redis.prefix, &csv, "mixed-seven", &[]);
    enqueue_bird(&redis.url, &redis.prefix, &csv, "mixed-bird", &[], &[]);
    let seven = CampaignId::parse("mixed-seven").unwrap();
    let bird = CampaignId::parse("mixed-bird").unwrap();

    let _worker = spawn_worker(&redis.url, &redis.prefix, &gateway.url(), &[]);
    for id in [&seven, &bird] {
        let record = wait_for(&queue, id, SLOW, "completed", |r| {
            r.state == CampaignState::Completed
        })
        .await;
        assert_eq!(record.counters.sent, 1000, "{id}");
        counters_match_messages(&queue, id).await.unwrap();
    }

    let stats = gateway_stats(&gateway).await;
    assert_eq!(stats["accepted"], 2000);
    assert_eq!(stats["requests"]["messages"], 1000);
    assert_eq!(stats["requests"]["bird"], 1000);
    assert_eq!(stats["duplicates"]["foreign_ids"], 0);
    assert_eq!(stats["bird"]["accepted"], 1000);
    assert_eq!(stats["bird"]["duplicate_references"], 0);
    each_row_once(&stats, "foreign_ids", "mixed-seven", 1000);
    each_row_once(&stats, "references", "mixed-bird", 1000);
    // Every recipient got each campaign's message once: once through each provider.
    let recipients = stats["recipients"].as_object().unwrap();
    assert_eq!(recipients.len(), 1000);
    assert!(recipients.values().all(|n| n == 2), "{recipients:?}");
    all_sent_with_ids(&queue, &seven, 1000, false).await;
    all_sent_with_ids(&queue, &bird, 1000, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_bird_refuses_with_422_fails_with_bird_s_details() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let gateway = spawn_gateway(&[]);
    let dir = TempDir::new().unwrap();
    let csv = write_csv(dir.path(), 3);
    // The built-in text template has one variable, `name`: `nickname` is a mistake only Bird
    // knows about.
    let (project, _, locale) = wacast_tests::gateway::bird::templates::BUILTIN_TEXT;
    let content = [
        "--template-project",
        project,
        "--locale",
        locale,
        "--param",
        "nickname=name",
    ];
    enqueue_bird(&redis.url, &redis.prefix, &csv, "bird-422", &content, &[]);
    let id = CampaignId::parse("bird-422").unwrap();
    let _worker = spawn_worker(&redis.url, &redis.prefix, &gateway.url(), &[]);
    let record = wait_for(&queue, &id, SLOW, "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;
    assert_eq!(record.counters.failed, 3);
    assert_eq!(record.counters.retries, 0, "a 422 is not retried");
    for hash in message_hashes(&queue, &id, 3).await {
        assert_eq!(hash["status"], "failed");
        assert_eq!(hash["error_code"], "InvalidPayload", "{hash:?}");
        // The message hash keeps the reason's beginning (the whole is in the campaign's
        // reasons table): Bird's details lead it, so that it names the field to fix.
        assert!(
            hash["error"].starts_with("template.parameters[0].key"),
            "the details name the field: {:?}",
            hash["error"]
        );
    }
    // Read through the queue (as `status` and `report` do), the reason is whole.
    for (_, hash) in queue.message_hashes(&id, 1, 3).await.unwrap() {
        assert!(
            hash["error"].starts_with("template.parameters[0].key: the template has no variable")
                && hash["error"].contains("InvalidPayload"),
            "{:?}",
            hash["error"]
        );
    }
    assert_eq!(gateway_stats(&gateway).await["rejections"]["bird_422"], 3);
    counters_match_messages(&queue, &id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_bird_key_pauses_the_campaign_instead_of_failing_rows() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let gateway = spawn_gateway(&[]);
    let dir = TempDir::new().unwrap();
    let csv = write_csv(dir.path(), 50);
    enqueue_bird(&redis.url, &redis.prefix, &csv, "bird-halted", &[], &[]);
    let id = CampaignId::parse("bird-halted").unwrap();

    let wrong = Keys {
        bird: Some("wrong-key"),
        ..Keys::BOTH
    };
    let mut worker = spawn_worker_with_keys(&redis.url, &redis.prefix, &gateway.url(), wrong, &[]);
    let record = wait_for(&queue, &id, SLOW, "paused", |r| {
        r.state == CampaignState::Paused && r.counters.claimed + r.counters.sending == 0
    })
    .await;
    let reason = record.pause_reason.clone().unwrap_or_default();
    assert!(reason.contains("401"), "{reason:?}");
    assert_eq!(record.counters.failed, 0, "a halt fails no row");
    assert_eq!(record.counters.queued, 50);
    let stats = gateway_stats(&gateway).await;
    assert_eq!(stats["bird"]["accepted"], 0);
    assert!(stats["rejections"]["bird_401"].as_u64().unwrap() >= 1);
    assert!(
        worker.stderr().contains("ERROR"),
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
    let stats = gateway_stats(&gateway).await;
    each_row_once(&stats, "references", "bird-halted", 50);
    counters_match_messages(&queue, &id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_without_a_bird_key_sends_seven_and_pauses_bird_saying_which_key() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let gateway = spawn_gateway(&[]);
    let dir = TempDir::new().unwrap();
    let csv = write_csv(dir.path(), 20);
    enqueue(&redis.url, &redis.prefix, &csv, "keyless-seven", &[]);
    enqueue_bird(&redis.url, &redis.prefix, &csv, "keyless-bird", &[], &[]);
    let seven = CampaignId::parse("keyless-seven").unwrap();
    let bird = CampaignId::parse("keyless-bird").unwrap();

    let seven_only = Keys {
        bird: None,
        ..Keys::BOTH
    };
    let mut worker =
        spawn_worker_with_keys(&redis.url, &redis.prefix, &gateway.url(), seven_only, &[]);
    let record = wait_for(&queue, &seven, SLOW, "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;
    assert_eq!(record.counters.sent, 20);
    let record = wait_for(&queue, &bird, SLOW, "paused", |r| {
        r.state == CampaignState::Paused && r.counters.claimed + r.counters.sending == 0
    })
    .await;
    let reason = record.pause_reason.clone().unwrap_or_default();
    assert!(
        reason.contains("no Bird key") && reason.contains("BIRD_ACCESS_KEY"),
        "the reason says which key to configure: {reason:?}"
    );
    assert_eq!(record.counters.failed, 0, "{:?}", record.counters);
    assert_eq!(record.counters.queued, 20, "every row waits");
    assert_eq!(gateway_stats(&gateway).await["requests"]["bird"], 0);
    let stderr = worker.stderr();
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("ERROR") && line.contains("keyless-bird"))
        .collect();
    assert_eq!(errors.len(), 1, "one ERROR for the campaign: {stderr}");
    assert!(errors[0].contains("BIRD_ACCESS_KEY"), "{}", errors[0]);
    worker.kill();

    // A worker with the key sends them, once, after the operator resumes the campaign.
    let _worker = spawn_worker(&redis.url, &redis.prefix, &gateway.url(), &[]);
    queue.resume(&bird).await.unwrap();
    let record = wait_for(&queue, &bird, SLOW, "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;
    assert_eq!(record.counters.sent, 20);
    each_row_once(
        &gateway_stats(&gateway).await,
        "references",
        "keyless-bird",
        20,
    );
    counters_match_messages(&queue, &bird).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_reports_the_providers_a_worker_can_send_through() {
    let redis = TestRedis::shared().await;
    let gateway = "http://127.0.0.1:9";
    let check = |keys: Keys<'_>| {
        let output = worker_command(&redis.url, &redis.prefix, gateway, keys)
            .arg("check-config")
            .env("RUST_LOG", "info")
            .output()
            .expect("wacast-worker runs");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        (output.status.code(), stderr)
    };

    let (code, stderr) = check(Keys::BOTH);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("seven (http://127.0.0.1:9/)")
            && stderr.contains("bird (http://127.0.0.1:9/)"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(BIRD_KEY) && !stderr.contains(API_KEY),
        "{stderr}"
    );

    let bird_only = Keys {
        seven: None,
        ..Keys::BOTH
    };
    let (code, stderr) = check(bird_only);
    assert_eq!(code, Some(0), "a Bird key alone is enough: {stderr}");
    assert!(
        stderr.contains("bird (") && !stderr.contains("seven ("),
        "{stderr}"
    );

    let (code, stderr) = check(Keys {
        seven: None,
        bird: None,
    });
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("SEVEN_API_KEY") && stderr.contains("BIRD_ACCESS_KEY"),
        "{stderr}"
    );

    let (code, stderr) = check(Keys {
        bird: Some("two words"),
        ..Keys::BOTH
    });
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("Bird access key contains blanks"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("two words"),
        "the key is never printed: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_bird_would_refuse_is_refused_before_anything_is_enqueued() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let dir = TempDir::new().unwrap();
    let csv = write_csv(dir.path(), 3);
    let (project, _, locale) = wacast_tests::gateway::bird::templates::BUILTIN_TEXT;
    let tags: Vec<String> = (1..=10).map(|i| format!("--tag=t{i}")).collect();
    let ten_tags: Vec<&str> = tags.iter().map(String::as_str).collect();
    let check = |id: &str, flags: &[&str], expect: &str| {
        let output = Command::new(bin("wacast"))
            .args([
                "enqueue",
                "--redis-url",
                &redis.url,
                "--prefix",
                &redis.prefix,
            ])
            .arg("--csv")
            .arg(&csv)
            .args(["--from", SENDER, "--id", id, "--provider", "bird"])
            .args([
                "--template-project",
                project,
                "--locale",
                locale,
                "--param",
                "name=name",
            ])
            .args(flags)
            .output()
            .expect("wacast runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{id}: {stderr}");
        assert!(stderr.contains(expect), "{id}: {stderr}");
    };
    let target = ["--workspace", BIRD_WORKSPACE, "--channel", BIRD_CHANNEL];

    check(
        "no-channel",
        &["--workspace", BIRD_WORKSPACE],
        "needs --channel",
    );
    check(
        "bad-workspace",
        &["--workspace", "my-workspace", "--channel", BIRD_CHANNEL],
        "--workspace \"my-workspace\" is not a UUID",
    );
    check(
        "eleven-tags",
        &[&target[..], &ten_tags, &["--label", "spring"]].concat(),
        "at most 10 tags",
    );
    check(
        "tracking",
        &[&target[..], &["--performance-tracking"]].concat(),
        "--performance-tracking is seven's",
    );
    // A handoff is capped at 7 days, well within the 35 Bird takes `scheduledFor` ahead.
    check(
        "far-handoff",
        &[&target[..], &["--handoff-ahead", "50401"]].concat(),
        "50401 is not in 0..=10080",
    );
    let mut conn = queue.connection();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:*", redis.prefix))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(keys.is_empty(), "nothing was enqueued: {keys:?}");
}
