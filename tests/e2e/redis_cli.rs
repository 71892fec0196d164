//! The README's "Inspecting with redis-cli" commands, run with the real `redis-cli` against a
//! finished and a scheduled campaign: what they print agrees with `wacast status` and
//! `wacast list`.

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;
use wacast_shared::campaign::{CampaignId, CampaignState};
use wacast_shared::testing::TestRedis;

use crate::support::*;

/// `redis-cli` against the test's server; its output is raw (one value per line) because
/// stdout is not a terminal, as in `redis-cli … | wc -l`.
fn redis_cli(redis: &TestRedis, args: &[&str]) -> Vec<String> {
    let port = redis.url.rsplit(':').next().expect("a port in the URL");
    let output = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", port])
        .args(args)
        .output()
        .expect("redis-cli is installed with redis-server");
    assert!(output.status.success(), "redis-cli {args:?}: {output:?}");
    String::from_utf8(output.stdout)
        .expect("UTF-8")
        .lines()
        .map(str::to_string)
        .collect()
}

/// Field/value lines (HGETALL, WITHSCORES) as pairs.
fn pairs(lines: &[String]) -> Vec<(String, String)> {
    lines
        .chunks(2)
        .map(|pair| (pair[0].clone(), pair[1].clone()))
        .collect()
}

fn wacast_json(redis: &TestRedis, args: &[&str]) -> Value {
    let output = Command::new(bin("wacast"))
        .args(args)
        .args(["--redis-url", &redis.url, "--prefix", &redis.prefix])
        .args(["--format", "json"])
        .output()
        .expect("wacast runs");
    assert!(output.status.success(), "wacast {args:?}: {output:?}");
    serde_json::from_slice(&output.stdout).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_redis_cli_commands_agree_with_wacast_status() {
    let redis = TestRedis::shared().await;
    let p = redis.prefix.as_str();
    let queue = redis.queue().await;
    let dir = TempDir::new().unwrap();
    // Freetext: recipients without an open 24-hour window fail with 7002001.
    let windows = dir.path().join("windows.txt");
    let open: Vec<String> = (0..12)
        .step_by(3)
        .map(|i| recipient(i)[1..].to_string())
        .collect();
    std::fs::write(&windows, open.join("\n")).unwrap();
    let gateway = spawn_gateway(&["--windows", windows.to_str().unwrap()]);
    let csv = write_csv(dir.path(), 12);
    enqueue(&redis.url, p, &csv, "done", &["--text", "Hi {{name}}"]);
    let done = CampaignId::parse("done").unwrap();
    let worker = spawn_worker(&redis.url, p, &gateway.url(), &[]);
    wait_for(&queue, &done, Duration::from_secs(60), "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;
    drop(worker);
    tokio::time::sleep(Duration::from_millis(20)).await;
    enqueue(
        &redis.url,
        p,
        &csv,
        "later",
        &["--text", "Hi {{name}}", "--delay", "+1h"],
    );

    // HGETALL wacast:campaign:ID: the state and every counter `wacast status` shows.
    let status = wacast_json(&redis, &["status", "done"]);
    let campaign: HashMap<String, String> = pairs(&redis_cli(
        &redis,
        &["HGETALL", &format!("{p}:campaign:done")],
    ))
    .into_iter()
    .collect();
    assert_eq!(campaign["state"], status["state"].as_str().unwrap());
    for (name, value) in status["counters"].as_object().unwrap() {
        assert_eq!(campaign[name], value.to_string(), "counter {name}");
    }
    // The status rounds the cost to seven's four decimals.
    let cost = campaign["cost"].parse::<f64>().unwrap();
    assert!(
        (cost - status["cost"].as_f64().unwrap()).abs() < 1e-4,
        "{cost}"
    );
    assert!(cost > 0.0);
    assert_eq!(status["counters"]["failed"], 8);

    // HMGET … state sent failed: the same, picked.
    assert_eq!(
        redis_cli(
            &redis,
            &[
                "HMGET",
                &format!("{p}:campaign:done"),
                "state",
                "sent",
                "failed"
            ]
        ),
        ["completed", "4", "8"]
    );

    // HGETALL wacast:campaign:ID:msg:ROW: one message, as the report shows it.
    let message: HashMap<String, String> = pairs(&redis_cli(
        &redis,
        &["HGETALL", &format!("{p}:campaign:done:msg:2")],
    ))
    .into_iter()
    .collect();
    assert_eq!(message["status"], "failed");
    assert_eq!(message["error_code"], "7002001");
    assert_eq!(message["to"], recipient(1)[1..]);

    // SMEMBERS wacast:campaign:ID:failed: the failed rows, as many as status counts.
    let mut failed: Vec<u64> =
        redis_cli(&redis, &["SMEMBERS", &format!("{p}:campaign:done:failed")])
            .iter()
            .map(|r| r.parse().unwrap())
            .collect();
    failed.sort_unstable();
    assert_eq!(failed, [2, 3, 5, 6, 8, 9, 11, 12]);
    assert_eq!(status["failures"]["in_failed_set"], 8);
    assert_eq!(
        redis_cli(&redis, &["SCARD", &format!("{p}:campaign:done:failed")]),
        ["8"]
    );

    // --scan --pattern 'wacast:campaign:ID:msg:*': one hash per message.
    let scanned = redis_cli(
        &redis,
        &["--scan", "--pattern", &format!("{p}:campaign:done:msg:*")],
    );
    assert_eq!(
        scanned.len() as u64,
        status["counters"]["total"].as_u64().unwrap()
    );

    // ZRANGE … WITHSCORES and ZCARD of the due set: the scheduled campaign's queued messages,
    // scored by their send time in milliseconds. An entry is one row (`later:7`) or a run of
    // rows due together (`later:1-12`).
    let later = wacast_json(&redis, &["status", "later"]);
    let send_at: chrono::DateTime<chrono::Utc> =
        later["send_at"].as_str().unwrap().parse().unwrap();
    let due = pairs(&redis_cli(
        &redis,
        &["ZRANGE", &format!("{p}:due"), "0", "-1", "WITHSCORES"],
    ));
    let mut rows = 0;
    for (member, score) in &due {
        let span = member
            .strip_prefix("later:")
            .expect("only `later` is queued");
        let (from, to) = span.split_once('-').unwrap_or((span, span));
        rows += to.parse::<u64>().unwrap() - from.parse::<u64>().unwrap() + 1;
        let score: i64 = score.parse().unwrap();
        // The status shows whole seconds; the score has the milliseconds.
        assert_eq!(score / 1000, send_at.timestamp(), "{member}");
    }
    assert_eq!(rows, later["counters"]["queued"].as_u64().unwrap());
    assert_eq!(
        redis_cli(&redis, &["ZCARD", &format!("{p}:due")]),
        [due.len().to_string()]
    );
    // ZCOUNT up to now: the backlog of what is due already; nothing, the send time is ahead.
    let now_ms = chrono::Utc::now().timestamp_millis().to_string();
    assert_eq!(
        redis_cli(&redis, &["ZCOUNT", &format!("{p}:due"), "-inf", &now_ms]),
        ["0"]
    );
    assert_eq!(redis_cli(&redis, &["ZCARD", &format!("{p}:leases")]), ["0"]);

    // SISMEMBER wacast:optout NUMBER says what `wacast optout check` says.
    let number = recipient(3)[1..].to_string();
    let _ = wacast_json(&redis, &["optout", "add", &format!("+{number}")]);
    assert_eq!(
        redis_cli(&redis, &["SISMEMBER", &format!("{p}:optout"), &number]),
        ["1"]
    );
    let check = wacast_json(&redis, &["optout", "check", &format!("+{number}")]);
    assert_eq!(check["opted_out"], true);
    assert_eq!(
        redis_cli(
            &redis,
            &["SISMEMBER", &format!("{p}:optout"), "4915123456789"]
        ),
        ["0"]
    );

    // ZREVRANGE wacast:campaigns 0 9: newest first, as `wacast list` shows them.
    let list = wacast_json(&redis, &["list"]);
    let listed: Vec<&str> = list["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["campaign"].as_str().unwrap())
        .collect();
    assert_eq!(
        redis_cli(&redis, &["ZREVRANGE", &format!("{p}:campaigns"), "0", "9"]),
        listed
    );
    assert_eq!(listed, ["later", "done"]);
}
