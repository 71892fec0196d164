//! Running the real `wacast` binary against a test Redis, and reading what it wrote.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use serde_json::Value;
use tempfile::TempDir;
use wacast_shared::testing::TestRedis;

/// The sender every test uses.
pub(crate) const FROM: &str = "4915112345678";

/// A test's Redis prefix and working directory.
pub(crate) struct Env {
    pub(crate) redis: TestRedis,
    pub(crate) dir: TempDir,
}

/// What a run of `wacast` did.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Outcome {
    /// The JSON summary on stdout.
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }

    /// The error of a command run with `--format json`: one JSON object on stderr.
    pub(crate) fn error(&self) -> Value {
        serde_json::from_str(self.stderr.trim())
            .unwrap_or_else(|e| panic!("stderr is not one JSON object ({e}): {self:#?}"))
    }
}

impl Env {
    pub(crate) async fn new() -> Env {
        Env {
            redis: TestRedis::shared().await,
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    /// Writes a file into the test's directory.
    pub(crate) fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).expect("write a test file");
        path
    }

    /// `wacast enqueue --csv CSV --from FROM ARGS…` under this test's prefix, on its Redis and
    /// with the JSON summary unless ARGS give another URL or format.
    pub(crate) fn enqueue(&self, csv: &Path, args: &[&str]) -> Outcome {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wacast"));
        command
            .arg("enqueue")
            .arg("--csv")
            .arg(csv)
            .args(["--from", FROM])
            .args(["--prefix", &self.redis.prefix]);
        if !args.contains(&"--redis-url") {
            command.args(["--redis-url", &self.redis.url]);
        }
        if !args.contains(&"--format") {
            command.args(["--format", "json"]);
        }
        let output = command
            .args(args)
            .env_remove("WACAST_REDIS_URL")
            .env_remove("WACAST_PREFIX")
            .env_remove("WACAST_REGION")
            .env_remove("WACAST_TZ")
            .env_remove("WACAST_TEMPLATES")
            .env_remove("RUST_LOG")
            .output()
            .expect("run wacast");
        Outcome {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    pub(crate) fn read(&self, path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    pub(crate) async fn conn(&self) -> MultiplexedConnection {
        redis::Client::open(self.redis.url.as_str())
            .expect("a redis url")
            .get_multiplexed_async_connection()
            .await
            .expect("connect to the test redis")
    }

    /// Every key under this test's prefix.
    pub(crate) async fn keys(&self) -> Vec<String> {
        let mut conn = self.conn().await;
        let mut keys: Vec<String> = conn
            .keys(format!("{}:*", self.redis.prefix))
            .await
            .expect("KEYS");
        keys.sort();
        keys
    }

    pub(crate) async fn hash(&self, key: &str) -> HashMap<String, String> {
        self.conn().await.hgetall(key).await.expect("HGETALL")
    }

    pub(crate) async fn campaign(&self, id: &str) -> HashMap<String, String> {
        self.hash(&format!("{}:campaign:{id}", self.redis.prefix))
            .await
    }

    pub(crate) async fn message(&self, id: &str, row: u64) -> HashMap<String, String> {
        self.hash(&format!("{}:campaign:{id}:msg:{row}", self.redis.prefix))
            .await
    }

    /// The due score of a message, in unix milliseconds: that of the entry (the row alone, or a
    /// run `id:from-to` holding it) that covers it.
    pub(crate) async fn due(&self, id: &str, row: u64) -> Option<i64> {
        let entries: Vec<(String, f64)> = self
            .conn()
            .await
            .zrange_withscores(format!("{}:due", self.redis.prefix), 0, -1)
            .await
            .expect("ZRANGE");
        entries.into_iter().find_map(|(entry, score)| {
            let (entry_id, rows) = entry.rsplit_once(':')?;
            let (from, to) = rows.split_once('-').unwrap_or((rows, rows));
            let covers = entry_id == id
                && (from.parse::<u64>().ok()?..=to.parse::<u64>().ok()?).contains(&row);
            covers.then_some(score as i64)
        })
    }

    /// How many messages the due set holds: an entry is one row (`id:row`) or a run of rows
    /// (`id:from-to`).
    pub(crate) async fn n_due(&self) -> u64 {
        let entries: Vec<String> = self
            .conn()
            .await
            .zrange(format!("{}:due", self.redis.prefix), 0, -1)
            .await
            .expect("ZRANGE");
        entries
            .iter()
            .filter_map(|entry| entry.rsplit_once(':'))
            .map(|(_, rows)| match rows.split_once('-') {
                Some((from, to)) => to.parse::<u64>().unwrap() - from.parse::<u64>().unwrap() + 1,
                None => 1,
            })
            .sum()
    }
}

/// The fields of a message hash that a test compares: `to` and the values.
pub(crate) fn to_and_values(hash: &HashMap<String, String>) -> Vec<&str> {
    let mut out = vec![hash.get("to").map(String::as_str).unwrap_or("<none>")];
    for i in 1.. {
        match hash.get(&format!("p{i}")) {
            Some(v) => out.push(v),
            None => break,
        }
    }
    out
}
