//! The operator's commands end to end: a campaign handed to seven ahead of its send time
//! (`--handoff-ahead`) is sent by a real worker with seven's `delay`, and `wacast cancel` deletes
//! at the gateway what it still holds, recording every answer.

use std::process::Command;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tempfile::TempDir;
use wacast_shared::campaign::{CampaignId, CampaignState};
use wacast_shared::queue::{HeldMessage, MessageStatus, ProviderDelete};
use wacast_shared::testing::{TestRedis, counters_match_messages};

use crate::support::*;

const SLOW: Duration = Duration::from_secs(60);

/// `wacast ARGS…` against the test's Redis, with `envs`.
fn wacast(redis: &TestRedis, args: &[&str], envs: &[(&str, &str)]) -> (i32, Value, String) {
    let mut command = Command::new(bin("wacast"));
    command
        .args(args)
        .args(["--redis-url", &redis.url, "--prefix", &redis.prefix])
        .args(["--format", "json"])
        .env_remove("SEVEN_API_KEY")
        .env_remove("WACAST_API_KEY_FILE")
        .env_remove("WACAST_SEVEN_BASE_URL")
        .envs(envs.iter().copied());
    let output = command.output().expect("wacast runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (
        output.status.code().unwrap_or(-1),
        json,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_deletes_what_seven_holds_and_records_every_answer() {
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let gateway = spawn_gateway(&[]);
    let dir = TempDir::new().unwrap();
    // Rows 1-18 are sent in ten minutes; rows 19 and 20 now (their delay column says so).
    let csv = dir.path().join("handoff.csv");
    let mut text = String::from("phone,name,order_id,delay\n");
    for i in 0..20 {
        let delay = if i >= 18 { "now" } else { "" };
        text.push_str(&format!("{},Customer {i},ORD-{i},{delay}\n", recipient(i)));
    }
    std::fs::write(&csv, text).unwrap();
    let handoff = [&TEMPLATE[..], &["--delay", "+10m", "--handoff-ahead", "30"]].concat();
    enqueue(&redis.url, &redis.prefix, &csv, "held", &handoff);
    let id = CampaignId::parse("held").unwrap();

    // The worker claims every message at once (due 30 minutes before its send time) and
    // hands rows 1-18 to seven with their send time as `delay`.
    let worker = spawn_worker(&redis.url, &redis.prefix, &gateway.url(), &[]);
    let record = wait_for(&queue, &id, SLOW, "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;
    drop(worker);
    assert_eq!(record.counters.sent, 20);
    let send_at = record.campaign.send_at;
    let listed: Value = reqwest::get(format!("{}/messages", gateway.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let messages = listed["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 20);
    for message in messages {
        let row: u64 = message["foreign_id"].as_str().unwrap()["held.".len()..]
            .parse()
            .unwrap();
        if row <= 18 {
            assert_eq!(
                message["request"]["delay"],
                send_at.timestamp().to_string(),
                "row {row}"
            );
            assert_eq!(message["status"], "scheduled", "row {row}");
        } else {
            assert_eq!(message["request"].get("delay"), None, "row {row}");
            assert_eq!(message["status"], "sent", "row {row}");
        }
    }
    // Without the key, nothing changes.
    let (code, _, stderr) = wacast(&redis, &["cancel", "held"], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("needs the API key"), "{stderr}");
    assert_eq!(queue.load_campaign(&id).await.unwrap(), record);

    // An earlier cancel learnt that seven had sent row 1 already; row 2 was deleted at seven
    // by hand. Both stay `sent`.
    let hash = |row: u64| {
        let queue = queue.clone();
        let id = id.clone();
        async move { message_hashes(&queue, &id, 20).await[usize::try_from(row).unwrap() - 1].clone() }
    };
    let held = |row: u64, provider_id: String| HeldMessage {
        row,
        provider_id,
        send_at,
    };
    let first = hash(1).await;
    queue
        .record_provider_delete(
            &id,
            &held(1, first["provider_id"].clone()),
            &ProviderDelete::AlreadySent {
                reason: "Message already sent.".into(),
            },
        )
        .await
        .unwrap();
    let second = hash(2).await["provider_id"].clone();
    let deleted = reqwest::Client::new()
        .delete(format!("{}/api/waba/messages/{second}", gateway.url()))
        .header("X-Api-Key", API_KEY)
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success());

    let base = gateway.url();
    let envs = [("SEVEN_API_KEY", API_KEY)];
    let (code, json, stderr) = wacast(
        &redis,
        &["cancel", "held", "--seven-base-url", &base],
        &envs,
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json["state"], "cancelled");
    let seven = &json["held_at_seven"];
    assert_eq!(
        seven["found"], 17,
        "row 1 was answered for already: {json:#}"
    );
    assert_eq!(seven["deleted"], 16);
    assert_eq!(seven["not_found"], 1);
    assert_eq!(seven["failed"], 0);

    let after = queue.load_campaign(&id).await.unwrap();
    assert_eq!(after.state, CampaignState::Cancelled);
    assert_eq!((after.counters.sent, after.counters.cancelled), (4, 16));
    assert!(after.finished_at.is_some());
    let hashes = message_hashes(&queue, &id, 20).await;
    let price_of_sent: f64 = hashes
        .iter()
        .filter(|h| h["status"] == "sent")
        .map(|h| h["price"].parse::<f64>().unwrap())
        .sum();
    assert!(
        (after.counters.cost - price_of_sent).abs() < 1e-9,
        "{} vs {price_of_sent}",
        after.counters.cost
    );
    for (i, hash) in hashes.iter().enumerate() {
        let (status, answer) = match i + 1 {
            1 => ("sent", Some("already_sent")),
            2 => ("sent", Some("not_found")),
            19 | 20 => ("sent", None),
            _ => ("cancelled", Some("deleted")),
        };
        assert_eq!(hash["status"], status, "row {}", i + 1);
        assert_eq!(
            hash.get("provider_delete").map(String::as_str),
            answer,
            "row {}",
            i + 1
        );
    }
    counters_match_messages(&queue, &id).await.unwrap();
    let stats = gateway_stats(&gateway).await;
    assert_eq!(stats["deletes"]["deleted"], 17);
    assert_eq!(stats["deletes"]["not_found"], 1);

    // The report shows what seven held and what became of it.
    let output = Command::new(bin("wacast"))
        .args([
            "report",
            "held",
            "--redis-url",
            &redis.url,
            "--prefix",
            &redis.prefix,
        ])
        .args(["--format", "json"])
        .output()
        .unwrap();
    let lines: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let scheduled: DateTime<Utc> = lines[2]["provider_scheduled_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(scheduled, send_at);
    assert_eq!(lines[2]["provider_delete"], "deleted");
    assert_eq!(lines[19]["provider_scheduled_at"], Value::Null);

    // Cancelling again finds nothing more to delete and asks seven nothing.
    let (code, json, stderr) = wacast(
        &redis,
        &["cancel", "held", "--seven-base-url", &base],
        &envs,
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json["held_at_seven"]["found"], 0);
    assert_eq!(gateway_stats(&gateway).await["requests"]["delete"], 18);
    assert_eq!(
        hashes[2]["status"],
        MessageStatus::Cancelled.as_str(),
        "row 3"
    );
}
