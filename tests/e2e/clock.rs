//! One clock, end to end: workers whose host clock is wrong (libfaketime moves their wall clock
//! ±2 s and ±20 s) send nothing before the scheduled time, keep the sender's fleet-wide rate when
//! they join a healthy worker, and take no lease from it. The gateway's clock (this host's, the
//! real one) is the judge.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;
use tempfile::TempDir;
use wacast_shared::campaign::{CampaignId, CampaignState};
use wacast_shared::testing::{TestRedis, counters_match_messages};
use wacast_tests::ChildGuard;

use crate::support::*;

/// Debian's and Ubuntu's libfaketime (`apt-get install faketime`; `scripts/test.sh` installs
/// it).
const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// The library, or `None` (with a loud message) where it is missing: the test is then skipped.
fn libfaketime() -> Option<&'static str> {
    if Path::new(LIBFAKETIME).exists() {
        return Some(LIBFAKETIME);
    }
    eprintln!(
        "\n*** SKIPPED: {LIBFAKETIME} is missing, so workers with a wrong clock cannot be \
         tested. Install it: apt-get install -y faketime (scripts/test.sh does). ***\n"
    );
    None
}

/// A worker started with a fake clock, and when (by this host's clock) it was started.
struct Skewed {
    process: ChildGuard,
    spawned: DateTime<Utc>,
}

/// Starts a worker whose wall clock is `skew` off (libfaketime's `FAKETIME`, e.g. `+20s`), with
/// JSON logs, so that the skew can be read off its first log line.
fn spawn_skewed_worker(
    lib: &str,
    redis: &TestRedis,
    gateway: &str,
    skew: &str,
    extra: &[&str],
) -> Skewed {
    let mut command = worker_command(&redis.url, &redis.prefix, gateway, Keys::BOTH);
    command
        .args(["--lease", "5s", "--default-rate", "unlimited"])
        .args(["--log-format", "json"])
        .args(extra)
        .env("RUST_LOG", "info")
        .env("LD_PRELOAD", lib)
        .env("FAKETIME", skew);
    let spawned = Utc::now();
    let process = ChildGuard::spawn_daemon(command).expect("wacast-worker starts");
    Skewed { process, spawned }
}

/// How far the worker's wall clock is from this host's, in milliseconds, as bounds: its first
/// log line was written after it was spawned and before the test read it.
async fn observed_skew(worker: &Skewed) -> (i64, i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = worker.process.stderr();
        if let Some(line) = log.lines().find(|l| l.starts_with('{')) {
            let read = Utc::now();
            let line: Value = serde_json::from_str(line).expect("a JSON log line");
            let at = line["timestamp"].as_str().expect("a timestamp");
            let at: DateTime<Utc> = at.parse().expect("an RFC 3339 timestamp");
            return (
                (at - read).num_milliseconds(),
                (at - worker.spawned).num_milliseconds(),
            );
        }
        assert!(
            Instant::now() < deadline,
            "the worker logged nothing: {log}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many messages of the campaign the worker with process id `pid` handled (worker ids
/// hold the pid).
fn handled_by(messages: &[std::collections::HashMap<String, String>], pid: u32) -> usize {
    let marker = format!("-{pid}-");
    messages
        .iter()
        .filter(|m| m.get("worker").is_some_and(|w| w.contains(&marker)))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_whose_clocks_are_wrong_send_nothing_before_the_scheduled_time() {
    let Some(lib) = libfaketime() else { return };
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    let gateway = spawn_gateway(&[]);
    let dir = TempDir::new().unwrap();
    let rows = 40;
    let csv = write_csv(dir.path(), rows);
    // The workers first, up and idle before the campaign exists: one whose clock runs 20 s
    // ahead would otherwise take the rows as soon as they are enqueued, seconds early.
    let workers: Vec<(&str, Skewed)> = ["+2s", "+20s", "-2s", "-20s"]
        .into_iter()
        .map(|skew| {
            let worker = spawn_skewed_worker(lib, &redis, &gateway.url(), skew, &[]);
            (skew, worker)
        })
        .collect();
    // The fake clocks took hold (else this test proves nothing).
    for (skew, worker) in &workers {
        let (low, high) = observed_skew(worker).await;
        let want: i64 = skew.trim_end_matches('s').parse::<i64>().unwrap() * 1000;
        assert!(
            low - 1000 <= want && want <= high + 1000,
            "a worker started with FAKETIME={skew} logs {low}..{high} ms off"
        );
    }
    // Built before the send time is chosen, so that the enqueue is quick.
    bin("wacast");
    // Whole seconds, a few from now.
    let send_at_s = Utc::now().timestamp() + 5;
    enqueue(
        &redis.url,
        &redis.prefix,
        &csv,
        "skewed",
        &[&TEMPLATE[..], &["--delay", &send_at_s.to_string()]].concat(),
    );
    let id = CampaignId::parse("skewed").unwrap();
    wait_for(&queue, &id, Duration::from_secs(60), "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;
    let stats = gateway_stats(&gateway).await;
    assert_eq!(stats["senders"][SENDER]["accepted"], rows);
    assert_eq!(stats["duplicates"]["foreign_ids"], 0);
    let first = stats["first_accept_at_ms"].as_i64().unwrap();
    let early = send_at_s * 1000 - first;
    eprintln!("clock: first message {}ms after the send time", -early);
    assert!(
        early <= 0,
        "the first message reached the gateway {early} ms before the send time"
    );
    let record = queue.load_campaign(&id).await.unwrap();
    assert_eq!(record.counters.unknown, 0);
    if let Err(problems) = counters_match_messages(&queue, &id).await {
        panic!("{problems}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_whose_clocks_are_wrong_join_a_healthy_one_and_keep_the_fleet_rate() {
    let Some(lib) = libfaketime() else { return };
    let redis = TestRedis::shared().await;
    let queue = redis.queue().await;
    // Requests take a while, so that the healthy worker always has messages `sending` under
    // short leases: a reaper trusting a clock 20 s ahead would make them `unknown`.
    let gateway = spawn_gateway(&["--latency", "100"]);
    let dir = TempDir::new().unwrap();
    let rows = 500;
    let csv = write_csv(dir.path(), rows);
    wacast(&redis, &["rate", "set", SENDER, "50", "5"]);
    enqueue(&redis.url, &redis.prefix, &csv, "joined", &[]);
    let id = CampaignId::parse("joined").unwrap();
    let healthy = spawn_worker(&redis.url, &redis.prefix, &gateway.url(), &[]);
    wait_for(&queue, &id, Duration::from_secs(30), "under way", |r| {
        r.counters.sent >= 100
    })
    .await;
    let ahead = spawn_skewed_worker(lib, &redis, &gateway.url(), "+20s", &[]);
    let behind = spawn_skewed_worker(lib, &redis, &gateway.url(), "-20s", &[]);
    wait_for(&queue, &id, Duration::from_secs(60), "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;
    let stats = gateway_stats(&gateway).await;
    let sender = &stats["senders"][SENDER];
    assert_eq!(sender["accepted"], rows);
    assert_eq!(
        stats["duplicates"]["foreign_ids"], 0,
        "no message sent twice"
    );
    let record = queue.load_campaign(&id).await.unwrap();
    assert_eq!(
        record.counters.unknown, 0,
        "no lease was taken from a live worker"
    );
    let messages = message_hashes(&queue, &id, rows as u64).await;
    let by = |worker: &ChildGuard| handled_by(&messages, worker.id());
    let (ahead, behind) = (ahead.process, behind.process);
    eprintln!(
        "clock: healthy {}, +20 s {}, -20 s {}",
        by(&healthy),
        by(&ahead),
        by(&behind)
    );
    assert!(by(&ahead) + by(&behind) > 0, "the skewed workers took part");
    // The rate plus its burst plus the worker's 20 ms slot tolerance (one at 50/s), as in
    // fleet.rs: the skewed workers' claims take the slots the fleet's schedule gives.
    let max = sender["max_per_second_sliding"].as_u64().unwrap();
    assert!(max <= 50 + 5 + 1, "at most 56 in any one second, saw {max}");
    let span_s = (stats["last_accept_at_ms"].as_f64().unwrap()
        - stats["first_accept_at_ms"].as_f64().unwrap())
        / 1000.0;
    let mean = (rows - 1) as f64 / span_s;
    eprintln!("clock: max {max} in one second, mean {mean:.2}/s");
    assert!(
        mean <= 50.0 * 1.1,
        "the mean rate is within 10% of 50/s: {mean:.2}/s"
    );
    assert!(
        mean >= 50.0 * 0.5,
        "the fleet keeps at least half its rate: {mean:.2}/s"
    );
    if let Err(problems) = counters_match_messages(&queue, &id).await {
        panic!("{problems}");
    }
}
