//! Full memory stops claims first, end to end: a Redis over its `maxmemory` mid-campaign
//! refuses the worker's claims before they start, while the marks and acks of the messages it
//! holds still go through, so what the gateway accepted ends `sent`; the worker says so plainly
//! (`/healthz` 503, one ERROR) and finishes the campaign once memory is raised.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use wacast_shared::campaign::{CampaignId, CampaignState};
use wacast_shared::queue::Counters;
use wacast_shared::testing::{TestRedis, counters_match_messages};

use crate::support::*;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Messages that a claim took: everything not queued.
fn claimed_so_far(c: &Counters) -> u64 {
    c.claimed + c.sending + c.sent + c.failed + c.unknown + c.expired + c.cancelled
}

async fn healthz(addr: &str) -> (u16, String) {
    match reqwest::get(format!("http://{addr}/healthz")).await {
        Ok(answer) => (
            answer.status().as_u16(),
            answer.text().await.unwrap_or_default(),
        ),
        Err(_) => (0, String::new()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_out_of_memory_stops_claims_and_loses_no_sent_message() {
    let rows = 400;
    let server = TestRedis::dedicated().await;
    let redis = server.test_redis();
    let queue = redis.queue().await;
    let gateway = spawn_gateway(&["--latency", "20-60"]);
    let dir = TempDir::new().unwrap();
    let csv = write_csv(dir.path(), rows);
    enqueue(&redis.url, &redis.prefix, &csv, "memory", &[]);
    let rate = std::process::Command::new(bin("wacast"))
        .args(["--redis-url", &redis.url, "--prefix", &redis.prefix])
        .args(["rate", "set", SENDER, "60", "5"])
        .output()
        .expect("wacast runs");
    assert!(
        rate.status.success(),
        "{}",
        String::from_utf8_lossy(&rate.stderr)
    );
    let metrics = format!("127.0.0.1:{}", free_port());
    let worker = spawn_worker(
        &redis.url,
        &redis.prefix,
        &gateway.url(),
        &["--concurrency", "8", "--metrics-addr", &metrics],
    );
    let id = CampaignId::parse("memory").unwrap();
    wait_for(&queue, &id, Duration::from_secs(30), "some sent", |r| {
        r.counters.sent >= 40
    })
    .await;

    // Over maxmemory, with the policy that evicts nothing.
    let mut conn = queue.connection();
    let used: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut conn)
        .await
        .unwrap();
    let used: u64 = used
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("INFO memory has used_memory");
    let config = |name: &'static str, value: String| {
        let mut conn = queue.connection();
        async move {
            redis::cmd("CONFIG")
                .arg("SET")
                .arg(name)
                .arg(value)
                .query_async::<()>(&mut conn)
                .await
                .unwrap();
        }
    };
    config("maxmemory-policy", "noeviction".into()).await;
    config("maxmemory", (used / 2).to_string()).await;

    // /healthz says so within a couple of seconds.
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        let (status, body) = healthz(&metrics).await;
        if status == 503 {
            break body;
        }
        assert!(Instant::now() < deadline, "/healthz never answered 503");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(body.contains("out of memory"), "{body}");

    // No claim goes through meanwhile; what was claimed gets recorded.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = queue.load_campaign(&id).await.unwrap().counters;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = queue.load_campaign(&id).await.unwrap().counters;
    assert_eq!(
        claimed_so_far(&before),
        claimed_so_far(&after),
        "claims stopped: {before:?} then {after:?}"
    );
    assert!(after.sent < rows as u64, "the campaign was not done yet");
    assert_eq!(
        after.claimed + after.sending,
        0,
        "what was held was recorded: {after:?}"
    );
    assert_eq!(healthz(&metrics).await.0, 503);

    config("maxmemory", "0".into()).await;
    let record = wait_for(&queue, &id, Duration::from_secs(60), "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;
    assert_eq!(record.counters.sent, rows as u64, "{:?}", record.counters);
    assert_eq!(record.counters.unknown, 0);
    let stats = gateway_stats(&gateway).await;
    assert_eq!(stats["accepted"], rows as u64);
    assert_eq!(stats["duplicates"]["foreign_ids"], 0);
    assert_eq!(healthz(&metrics).await.0, 200);
    if let Err(problems) = counters_match_messages(&queue, &id).await {
        panic!("{problems}");
    }

    let log = worker.stderr();
    assert_eq!(
        log.matches("Redis is out of memory").count(),
        1,
        "one ERROR for the whole episode: {log}"
    );
    assert!(
        !log.contains("Redis call failed") && !log.contains("Claiming messages failed"),
        "no warning per call: {log}"
    );
}
