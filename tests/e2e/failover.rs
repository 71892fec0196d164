//! Durable before sent, end to end: a worker refuses a Redis that could lose a `sending` mark
//! (and runs on it with `--durability relaxed`), and a fleet on `redis+sentinel://` with
//! `--replicas 1` follows a failover after its primary is SIGKILLed mid-campaign without
//! sending any message twice.

use std::time::{Duration, Instant};

use tempfile::TempDir;
use wacast_shared::campaign::{CampaignId, CampaignState};
use wacast_shared::queue::Queue;
use wacast_shared::testing::{RedisServer, TestRedis, counters_match_messages};

use crate::support::*;

/// The name the Sentinels monitor the primary under.
const SERVICE: &str = "wacast";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_refuses_a_redis_that_keeps_nothing_on_disk_unless_relaxed() {
    let server = TestRedis::volatile().await;
    let redis = server.test_redis();
    let gateway = spawn_gateway(&[]);

    // check-config gives the same verdict as the start, and names the setting.
    let output = worker_command(&redis.url, &redis.prefix, &gateway.url(), Keys::BOTH)
        .arg("check-config")
        .output()
        .expect("wacast-worker runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "check-config passed: {stderr}");
    assert!(
        stderr.contains("appendonly no: set `appendonly yes` and `appendfsync always`"),
        "{stderr}"
    );

    let mut strict = spawn_worker(&redis.url, &redis.prefix, &gateway.url(), &[]);
    let status = strict
        .wait_timeout(Duration::from_secs(20))
        .unwrap()
        .expect("a strict worker exits on a Redis without appendonly");
    assert!(!status.success());
    let stderr = strict.stderr();
    assert!(
        stderr.contains("appendonly no: set `appendonly yes` and `appendfsync always`")
            && stderr.contains("--durability relaxed"),
        "the refusal names the settings and the way out: {stderr}"
    );

    // Relaxed, it sends, after one warning that says what is at stake.
    let dir = TempDir::new().unwrap();
    let csv = write_csv(dir.path(), 5);
    enqueue(&redis.url, &redis.prefix, &csv, "relaxed", &[]);
    let mut relaxed = spawn_worker(
        &redis.url,
        &redis.prefix,
        &gateway.url(),
        &["--durability", "relaxed"],
    );
    let queue = redis.queue().await;
    let id = CampaignId::parse("relaxed").unwrap();
    let record = wait_for(&queue, &id, Duration::from_secs(30), "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;
    assert_eq!(record.counters.sent, 5);
    assert!(
        relaxed.try_wait().unwrap().is_none(),
        "the relaxed worker runs"
    );
    let stderr = relaxed.stderr();
    assert_eq!(
        stderr
            .matches("--durability relaxed: running on a Redis")
            .count(),
        1,
        "one warning: {stderr}"
    );
    assert!(stderr.contains("messages twice"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_follow_a_sentinel_failover_without_sending_twice() {
    let rows = 1000;
    let mut primary = TestRedis::dedicated().await;
    // Two replicas: after the failover the new primary still has one to acknowledge the
    // marks (`--replicas 1`), as a production setup of three servers has.
    let replicas = [primary.replica().await, primary.replica().await];
    let mut sentinels = Vec::new();
    for _ in 0..3 {
        sentinels.push(primary.sentinel(SERVICE).await);
    }
    wait_until_sentinels_agree(&sentinels, 2).await;
    let url = format!(
        "redis+sentinel://{}/{SERVICE}",
        sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port()))
            .collect::<Vec<_>>()
            .join(",")
    );
    let prefix = primary.test_redis().prefix;
    let gateway = spawn_gateway(&["--latency", "10-40"]);
    let dir = TempDir::new().unwrap();
    let csv = write_csv(dir.path(), rows);
    // The CLI follows the Sentinels' URL too.
    enqueue(&url, &prefix, &csv, "failover", &[]);
    let rate = std::process::Command::new(bin("wacast"))
        .args(["--redis-url", &url, "--prefix", &prefix])
        .args(["rate", "set", SENDER, "150", "10"])
        .output()
        .expect("wacast runs");
    assert!(
        rate.status.success(),
        "{}",
        String::from_utf8_lossy(&rate.stderr)
    );

    let concurrency = 16;
    let workers: Vec<_> = (0..2)
        .map(|_| {
            spawn_worker(
                &url,
                &prefix,
                &gateway.url(),
                &["--replicas", "1", "--concurrency", &concurrency.to_string()],
            )
        })
        .collect();
    let queue = Queue::connect(&url, &prefix)
        .await
        .expect("Sentinel answers");
    let id = CampaignId::parse("failover").unwrap();
    wait_for(&queue, &id, Duration::from_secs(60), "a third sent", |r| {
        r.counters.sent >= rows as u64 / 3
    })
    .await;
    let killed_at = Instant::now();
    primary.kill();

    let record = wait_for(&queue, &id, Duration::from_secs(120), "completed", |r| {
        r.state == CampaignState::Completed
    })
    .await;
    eprintln!(
        "failover: completed {:?} after the kill: {:?}",
        killed_at.elapsed(),
        record.counters
    );
    let c = &record.counters;
    assert_eq!(c.sent + c.unknown + c.failed, rows as u64, "{c:?}");
    assert_eq!(c.failed, 0, "{c:?}");
    // At most what was in flight at the kill: the requests of both workers.
    assert!(
        c.unknown <= 2 * concurrency,
        "unknown {} > in flight {}",
        c.unknown,
        2 * concurrency
    );
    let stats = gateway_stats(&gateway).await;
    assert_eq!(stats["duplicates"]["foreign_ids"], 0, "{stats}");
    assert_eq!(stats["duplicates"]["recipient_content"], 0, "{stats}");
    let accepted = stats["accepted"].as_u64().unwrap();
    assert!(
        accepted >= c.sent && accepted <= c.sent + c.unknown,
        "the gateway accepted {accepted}: every sent, some unknown, none more: {c:?}"
    );
    if let Err(problems) = counters_match_messages(&queue, &id).await {
        panic!("{problems}");
    }
    for worker in &workers {
        let stderr = worker.stderr();
        assert!(
            stderr.contains("following the new primary"),
            "each worker followed the failover: {stderr}"
        );
    }
    drop(replicas);
}

/// Waits until every Sentinel knows the other Sentinels and `replicas` replicas: before that, a
/// failover cannot reach its quorum.
async fn wait_until_sentinels_agree(sentinels: &[RedisServer], replicas: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut ready = true;
        for sentinel in sentinels {
            let master: Option<Vec<String>> = async {
                let client = redis::Client::open(sentinel.url()).ok()?;
                let mut conn = client.get_multiplexed_async_connection().await.ok()?;
                redis::cmd("SENTINEL")
                    .arg("MASTER")
                    .arg(SERVICE)
                    .query_async(&mut conn)
                    .await
                    .ok()
            }
            .await;
            let field = |fields: &[String], name: &str| -> usize {
                fields
                    .chunks(2)
                    .find(|pair| pair[0] == name)
                    .and_then(|pair| pair.get(1)?.parse().ok())
                    .unwrap_or(0)
            };
            ready &= master.is_some_and(|m| {
                field(&m, "num-other-sentinels") == sentinels.len() - 1
                    && field(&m, "num-slaves") >= replicas
            });
        }
        if ready {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the Sentinels did not find each other and the replicas within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
