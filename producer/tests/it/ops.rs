//! What the operator commands' tests share: running any `wacast` command against the test's
//! Redis, enqueueing a small campaign with the real CLI, and playing the worker's part through
//! the queue (claim, mark sending, record an outcome) so that campaigns reach known states
//! without a gateway.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use redis::AsyncCommands;
use wacast_shared::campaign::CampaignId;
use wacast_shared::message::Row;
use wacast_shared::queue::{Queue, Terminal};

use crate::support::{Env, Outcome};

/// The time now, in unix milliseconds. The test's Redis runs on this host, so its clock (which
/// the queue decides by) is this host's.
fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The lease the tests' stand-in worker takes.
pub(crate) const LEASE: Duration = Duration::from_secs(60);

/// The price the stand-in worker records for a sent message.
pub(crate) const PRICE: f64 = 0.0735;

/// `wacast ARGS…` under this test's prefix and Redis, with `--format json` unless ARGS give a
/// format, and `envs` set.
pub(crate) fn wacast_env(env: &Env, args: &[&str], envs: &[(&str, &str)]) -> Outcome {
    let output = command(env, args, envs).output().expect("run wacast");
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `wacast ARGS…` (see [`wacast_env`]).
pub(crate) fn wacast(env: &Env, args: &[&str]) -> Outcome {
    wacast_env(env, args, &[])
}

/// The prepared command, for tests that run it in the background.
pub(crate) fn command(env: &Env, args: &[&str], envs: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wacast"));
    command.args(args).args(["--prefix", &env.redis.prefix]);
    if !args.contains(&"--redis-url") {
        command.args(["--redis-url", &env.redis.url]);
    }
    if !args.contains(&"--format") {
        command.args(["--format", "json"]);
    }
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("WACAST_") || key == "SEVEN_API_KEY" || key == "RUST_LOG" {
            command.env_remove(key.as_ref());
        }
    }
    command.envs(envs.iter().copied());
    command.stdin(Stdio::null());
    command
}

/// A CSV of `n` recipients (`+49151000000{i}`) with a `name` column; `extra` adds
/// `(header, value of row i)` columns.
pub(crate) fn write_rows(env: &Env, name: &str, n: usize) -> PathBuf {
    let mut text = String::from("phone,name\n");
    for i in 1..=n {
        text.push_str(&format!("{},Name {i}\n", number(i)));
    }
    env.write(name, text)
}

/// Row `i`'s number, as the CSV writes it.
pub(crate) fn number(i: usize) -> String {
    format!("+49151{i:08}")
}

/// Enqueues `n` rows as campaign `id` (freetext `Hi {{name}}`), plus `extra` flags; panics
/// unless every row was enqueued.
pub(crate) fn enqueue(env: &Env, id: &str, n: usize, extra: &[&str]) -> CampaignId {
    let csv = write_rows(env, &format!("{id}.csv"), n);
    let out = env.enqueue(
        &csv,
        &[&["--text", "Hi {{name}}", "--id", id][..], extra].concat(),
    );
    assert_eq!(out.code, 0, "{out:#?}");
    CampaignId::parse(id).expect("a valid id")
}

/// Plays the worker: claims up to `n` due messages and records `outcome(row)` for each (after
/// marking it sending, as a real send would). Returns the rows handled.
pub(crate) async fn finish(queue: &Queue, n: usize, outcome: impl Fn(Row) -> Terminal) -> Vec<Row> {
    let mut rows = Vec::new();
    while rows.len() < n {
        // Claims of up to 500, as a worker's fetches are.
        let batch = queue
            .claim("test-worker", (n - rows.len()).min(500), LEASE, now_ms())
            .await
            .expect("claim");
        if batch.claimed.is_empty() {
            break;
        }
        for claimed in batch.claimed {
            queue
                .mark_sending(&claimed.lease, LEASE)
                .await
                .expect("mark sending");
            queue
                .ack(&claimed.lease, &outcome(claimed.message.row))
                .await
                .expect("ack");
            rows.push(claimed.message.row);
        }
    }
    rows.sort_unstable();
    rows
}

/// A sent outcome with row-derived provider id and [`PRICE`].
pub(crate) fn sent(row: Row) -> Terminal {
    Terminal::Sent {
        provider_id: format!("9000{row}"),
        price: Some(PRICE),
    }
}

/// A failed outcome.
pub(crate) fn failed(code: &str, reason: &str) -> Terminal {
    Terminal::Failed {
        code: code.into(),
        reason: reason.into(),
    }
}

/// Asserts that a refused command exits 2 with `fragment` in its error, and printed nothing
/// on stdout.
pub(crate) fn assert_refused(out: &Outcome, fragment: &str) {
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(
        out.stderr.contains(fragment),
        "{fragment:?} not in {out:#?}"
    );
    assert!(out.stdout.is_empty(), "{out:#?}");
}

/// The rows of campaign `id` that the entries of a due or paused sorted set cover, with their
/// scores (due times in ms). An entry is one row, `id:row`, or a run of rows due together,
/// `id:from-to`. Reads the whole set: for tests only.
pub(crate) async fn covered(env: &Env, key: &str, id: &str) -> BTreeMap<Row, i64> {
    let entries: Vec<(String, f64)> = env
        .conn()
        .await
        .zrange_withscores(key, 0, -1)
        .await
        .expect("ZRANGE");
    let mut rows = BTreeMap::new();
    for (entry, score) in entries {
        let Some((entry_id, span)) = entry.rsplit_once(':') else {
            continue;
        };
        if entry_id != id {
            continue;
        }
        let (from, to) = span.split_once('-').unwrap_or((span, span));
        let (from, to): (Row, Row) = (from.parse().unwrap(), to.parse().unwrap());
        for row in from..=to {
            rows.insert(row, score as i64);
        }
    }
    rows
}

/// Claims what is due now and gives it back at once (as a stopping worker would): returns how
/// many messages could be claimed. Paused campaigns' entries are moved aside on the way.
pub(crate) async fn claimable(queue: &Queue) -> usize {
    let batch = queue
        .claim("probe", 1000, LEASE, now_ms())
        .await
        .expect("claim");
    let leases: Vec<_> = batch.claimed.iter().map(|c| c.lease.clone()).collect();
    queue.release(&leases).await.expect("release");
    leases.len()
}
