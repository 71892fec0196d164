//! `wacast-worker check-config` before a deploy: `--probe` proves each provider key with a
//! harmless request to the mock gateway (seven's balance, Bird's channel), naming a refused
//! key's provider and its fix; and a Redis that evicts keys is refused, not called valid.

use std::process::Output;

use wacast_shared::testing::{ServerSettings, TestRedis};

use crate::support::*;

/// `check-config --probe` with these keys, reading the mock's Bird channel.
fn probe(redis: &TestRedis, gateway: &str, keys: Keys<'_>) -> Output {
    worker_command(&redis.url, &redis.prefix, gateway, keys)
        .args(["check-config", "--probe"])
        .args(["--probe-bird-workspace", BIRD_WORKSPACE])
        .args(["--probe-bird-channel", BIRD_CHANNEL])
        .output()
        .expect("wacast-worker runs")
}

/// The stderr of a `check-config` that exited 2.
fn refused(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_proves_good_keys_and_names_a_refused_one() {
    let redis = TestRedis::shared().await;
    let gateway = spawn_gateway(&[]);

    let good = probe(&redis, &gateway.url(), Keys::BOTH);
    let stderr = String::from_utf8_lossy(&good.stderr);
    assert!(good.status.success(), "{stderr}");
    assert_eq!(
        stderr.matches("The provider accepted the key.").count(),
        2,
        "{stderr}"
    );
    let stats = gateway_stats(&gateway).await;
    assert_eq!(stats["requests"]["probe"], 2, "{stats}");
    assert_eq!(stats["accepted"], 0, "a probe sends nothing: {stats}");

    let wrong_seven = Keys {
        seven: Some("not-the-key"),
        ..Keys::BOTH
    };
    let stderr = refused(&probe(&redis, &gateway.url(), wrong_seven));
    assert!(
        stderr.contains("key probe failed: seven: key_refused")
            && stderr.contains("SEVEN_API_KEY")
            && !stderr.contains("bird: key_refused"),
        "{stderr}"
    );

    let wrong_bird = Keys {
        bird: Some("not-the-key"),
        ..Keys::BOTH
    };
    let stderr = refused(&probe(&redis, &gateway.url(), wrong_bird));
    assert!(
        stderr.contains("bird: key_refused") && stderr.contains("BIRD_ACCESS_KEY"),
        "{stderr}"
    );

    // Bird's probe needs a channel to read: without one, it says which flags to give.
    let unprobed = worker_command(&redis.url, &redis.prefix, &gateway.url(), Keys::BOTH)
        .args(["check-config", "--probe"])
        .output()
        .expect("wacast-worker runs");
    let stderr = refused(&unprobed);
    assert!(stderr.contains("--probe-bird-channel"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_refuses_a_redis_that_evicts_keys() {
    let server = TestRedis::dedicated_with(ServerSettings {
        args: ["--maxmemory-policy", "allkeys-lru"]
            .map(String::from)
            .to_vec(),
        ..ServerSettings::default()
    })
    .await;
    let redis = server.test_redis();
    let output = worker_command(&redis.url, &redis.prefix, "http://127.0.0.1:9", Keys::BOTH)
        .arg("check-config")
        .output()
        .expect("wacast-worker runs");
    let stderr = refused(&output);
    assert!(
        stderr.contains("maxmemory-policy allkeys-lru")
            && stderr.contains("maxmemory-policy noeviction"),
        "{stderr}"
    );
    assert!(!stderr.contains("Configuration is valid"), "{stderr}");
}
