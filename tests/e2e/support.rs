//! What the worker's end-to-end tests share: the workspace's binaries, a sample CSV, a campaign
//! enqueued with the real `wacast` CLI, a real `wacast-worker` process, and waiting on Redis.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use wacast_shared::campaign::CampaignId;
use wacast_shared::queue::{CampaignRecord, Queue};
use wacast_shared::testing::TestRedis;
use wacast_tests::gateway::bird::{DEFAULT_ACCESS_KEY, DEFAULT_CHANNEL, DEFAULT_WORKSPACE};
use wacast_tests::{ChildGuard, MockGatewayProcess};

/// The sender every test campaign uses (registered at the mock by default).
pub(crate) const SENDER: &str = "4915112345678";
/// The API key the mock accepts by default.
pub(crate) const API_KEY: &str = "test-key";
/// The Bird workspace and channel the mock knows by default; the channel is Bird's sender.
pub(crate) const BIRD_WORKSPACE: &str = DEFAULT_WORKSPACE;
pub(crate) const BIRD_CHANNEL: &str = DEFAULT_CHANNEL;
/// The Bird access key the mock accepts by default.
pub(crate) const BIRD_KEY: &str = DEFAULT_ACCESS_KEY;

/// The path of one of the workspace's binaries, built first (once per test process) so that a
/// test never runs a stale binary: `cargo test -p wacast-tests` alone does not rebuild the other
/// packages' binaries. When they are fresh this costs a no-op cargo call.
pub(crate) fn bin(name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let dir = Path::new(env!("CARGO_BIN_EXE_mock-gateway"))
        .parent()
        .expect("binaries live in a directory")
        .to_path_buf();
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.iter().any(|b| b == name) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "--workspace", "--bin", name])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building {name} failed");
        built.push(name.to_string());
    }
    dir.join(name)
}

/// A recipient number for row `i`: valid German mobile numbers, all different.
pub(crate) fn recipient(i: usize) -> String {
    format!("+49151{i:08}")
}

/// Writes a CSV of `rows` recipients with `name` and `order_id` columns.
pub(crate) fn write_csv(dir: &Path, rows: usize) -> PathBuf {
    let path = dir.join(format!("recipients-{rows}.csv"));
    let mut text = String::from("phone,name,order_id\n");
    for i in 0..rows {
        text.push_str(&format!("{},Customer {i},ORD-{i}\n", recipient(i)));
    }
    std::fs::write(&path, text).expect("the temp dir is writable");
    path
}

/// The content flags of the seed's `order_confirmation` template, filled from [`write_csv`]'s
/// columns.
pub(crate) const TEMPLATE: [&str; 8] = wacast_tests::ORDER_CONFIRMATION;

/// Enqueues `csv` as campaign `id` from [`SENDER`] with the real CLI: [`TEMPLATE`] unless
/// `content` flags are given.
pub(crate) fn enqueue(redis_url: &str, prefix: &str, csv: &Path, id: &str, content: &[&str]) {
    enqueue_from(redis_url, prefix, csv, id, SENDER, content);
}

/// [`enqueue`] from another sender.
pub(crate) fn enqueue_from(
    redis_url: &str,
    prefix: &str,
    csv: &Path,
    id: &str,
    from: &str,
    content: &[&str],
) {
    let content = if content.is_empty() {
        &TEMPLATE[..]
    } else {
        content
    };
    run_enqueue(redis_url, prefix, csv, id, from, content);
}

/// Enqueues `csv` as campaign `id` through Bird on the mock's workspace and channel, with the
/// real CLI: the seed's text template with a variable (`name` from the column of that name)
/// unless `content` flags are given, then the `extra` flags.
pub(crate) fn enqueue_bird(
    redis_url: &str,
    prefix: &str,
    csv: &Path,
    id: &str,
    content: &[&str],
    extra: &[&str],
) {
    let (project, _, locale) = wacast_tests::gateway::bird::templates::BUILTIN_TEXT;
    let template = [
        "--template-project",
        project,
        "--locale",
        locale,
        "--param",
        "name=name",
    ];
    let content = if content.is_empty() {
        &template[..]
    } else {
        content
    };
    let target = [
        "--provider",
        "bird",
        "--workspace",
        BIRD_WORKSPACE,
        "--channel",
        BIRD_CHANNEL,
    ];
    run_enqueue(
        redis_url,
        prefix,
        csv,
        id,
        SENDER,
        &[&target[..], content, extra].concat(),
    );
}

fn run_enqueue(redis_url: &str, prefix: &str, csv: &Path, id: &str, from: &str, flags: &[&str]) {
    let output = Command::new(bin("wacast"))
        .args(["enqueue", "--redis-url", redis_url, "--prefix", prefix])
        .arg("--csv")
        .arg(csv)
        .args(["--from", from, "--id", id, "--format", "json"])
        .args(flags)
        .output()
        .expect("wacast runs");
    assert!(
        output.status.success(),
        "wacast enqueue failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The provider keys a worker is started with; `None` leaves that provider unconfigured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Keys<'a> {
    pub(crate) seven: Option<&'a str>,
    pub(crate) bird: Option<&'a str>,
}

impl Keys<'static> {
    /// Both keys the mock accepts.
    pub(crate) const BOTH: Keys<'static> = Keys {
        seven: Some(API_KEY),
        bird: Some(BIRD_KEY),
    };
}

/// Starts a `wacast-worker` process against Redis and the mock (both providers' endpoints),
/// with a short lease so that recovery tests finish quickly, plus `extra` flags.
pub(crate) fn spawn_worker(
    redis_url: &str,
    prefix: &str,
    gateway: &str,
    extra: &[&str],
) -> ChildGuard {
    spawn_worker_with_keys(redis_url, prefix, gateway, Keys::BOTH, extra)
}

/// [`spawn_worker`] with another seven API key.
pub(crate) fn spawn_worker_with_key(
    redis_url: &str,
    prefix: &str,
    gateway: &str,
    api_key: &str,
    extra: &[&str],
) -> ChildGuard {
    let keys = Keys {
        seven: Some(api_key),
        ..Keys::BOTH
    };
    spawn_worker_with_keys(redis_url, prefix, gateway, keys, extra)
}

/// [`spawn_worker`] with these provider keys.
pub(crate) fn spawn_worker_with_keys(
    redis_url: &str,
    prefix: &str,
    gateway: &str,
    keys: Keys<'_>,
    extra: &[&str],
) -> ChildGuard {
    let mut command = worker_command(redis_url, prefix, gateway, keys);
    command
        .args(["--lease", "5s", "--default-rate", "unlimited"])
        .args(extra)
        .env("RUST_LOG", "info");
    ChildGuard::spawn_daemon(command).expect("wacast-worker starts")
}

/// `wacast-worker` pointed at Redis and at the mock for both providers, with these keys and
/// nothing of the test process's own configuration.
pub(crate) fn worker_command(
    redis_url: &str,
    prefix: &str,
    gateway: &str,
    keys: Keys<'_>,
) -> Command {
    let mut command = Command::new(bin("wacast-worker"));
    command
        .args(["--redis-url", redis_url, "--prefix", prefix])
        .args(["--seven-base-url", gateway, "--bird-base-url", gateway]);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("WACAST_") || key == "CREDENTIALS_DIRECTORY" {
            command.env_remove(key.as_ref());
        }
    }
    for (var, key) in [
        ("SEVEN_API_KEY", keys.seven),
        ("BIRD_ACCESS_KEY", keys.bird),
    ] {
        match key {
            Some(key) => command.env(var, key),
            None => command.env_remove(var),
        };
    }
    command
}

/// Runs `wacast` with `args` against the test's Redis and returns its stdout (it must succeed).
pub(crate) fn wacast(redis: &TestRedis, args: &[&str]) -> String {
    let output = Command::new(bin("wacast"))
        .args(["--redis-url", &redis.url, "--prefix", &redis.prefix])
        .args(args)
        .output()
        .expect("wacast runs");
    assert!(
        output.status.success(),
        "wacast {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("output is UTF-8")
}

/// Starts the mock gateway with `args`.
pub(crate) fn spawn_gateway(args: &[&str]) -> MockGatewayProcess {
    MockGatewayProcess::spawn(env!("CARGO_BIN_EXE_mock-gateway"), args)
        .expect("mock-gateway starts")
}

/// The gateway's `/stats` with the per-recipient and per-foreign-id maps.
pub(crate) async fn gateway_stats(gateway: &MockGatewayProcess) -> Value {
    reqwest::get(format!("{}/stats", gateway.url()))
        .await
        .expect("the mock answers /stats")
        .json()
        .await
        .expect("/stats is JSON")
}

/// Waits until `done` holds for the campaign's record, or panics after `timeout`.
pub(crate) async fn wait_for(
    queue: &Queue,
    id: &CampaignId,
    timeout: Duration,
    what: &str,
    done: impl Fn(&CampaignRecord) -> bool,
) -> CampaignRecord {
    let deadline = Instant::now() + timeout;
    loop {
        // Redis may be restarting in some tests: an error is just "not yet".
        if let Ok(record) = queue.load_campaign(id).await {
            if done(&record) {
                return record;
            }
            if Instant::now() > deadline {
                panic!("campaign {id} did not reach {what} within {timeout:?}: {record:#?}");
            }
        } else if Instant::now() > deadline {
            panic!("campaign {id} could not be read within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every message field of one status, as `HGETALL` maps.
pub(crate) async fn message_hashes(
    queue: &Queue,
    id: &CampaignId,
    rows: u64,
) -> Vec<std::collections::HashMap<String, String>> {
    let mut conn = queue.connection();
    let mut out = Vec::new();
    for row in 1..=rows {
        let hash: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
            .arg(queue.keys().message(id, row))
            .query_async(&mut conn)
            .await
            .expect("HGETALL works");
        out.push(hash);
    }
    out
}
