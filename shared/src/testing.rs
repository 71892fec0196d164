//! Test support (feature `testing`): private Redis servers and queue invariant checks.
//!
//! Tests never touch the developer's Redis. [`TestRedis::shared`] starts one `redis-server` per
//! test process on a free loopback port and gives every caller its own key prefix, so tests run
//! in parallel without seeing each other's keys; set `WACAST_TEST_REDIS_URL` to use a running
//! server instead (still with unique prefixes). [`TestRedis::dedicated`] starts a server owned
//! by one test, which it may kill or restart.
//!
//! The servers are durable as the worker requires by default (`appendonly yes`, `appendfsync
//! always`), with their data on `/dev/shm` where it exists (tmpfs: an fsync costs nothing), so
//! that workers in tests pass `--durability strict`. [`TestRedis::volatile`] is one that is
//! not, for the test of the refusal. [`RedisServer::replica`] and [`RedisServer::sentinel`]
//! start a replica and Sentinels (`redis-server --sentinel`) with short failover timings.
//! [`TestRedis::dedicated_with`] starts one with [`ServerSettings`]: over TLS only, with more
//! configuration (ACL users) on its command line.
//!
//! Servers are stopped when their handle is dropped, and in any case by a small watchdog shell
//! loop once the test process is gone (statics are never dropped, and a test binary may be
//! killed), which also removes the server's temporary directory.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::OnceCell;

use chrono::{DateTime, Utc};

use crate::campaign::{Campaign, CampaignId, ProviderKind};
use crate::keys::Keys;
use crate::phone::PhoneNumber;
use crate::queue::{MessageStatus, Queue};

/// A Redis for one test: its URL and a key prefix no other test uses.
#[derive(Debug, Clone)]
pub struct TestRedis {
    /// The server's URL.
    pub url: String,
    /// This test's key prefix.
    pub prefix: String,
    /// The key schema under `prefix`.
    pub keys: Keys,
}

static SHARED: OnceCell<SharedServer> = OnceCell::const_new();
static PREFIXES: AtomicU64 = AtomicU64::new(0);

/// The process-wide server (or `WACAST_TEST_REDIS_URL`). Its child handle is kept so the
/// process stays ours; the watchdog ends it.
#[derive(Debug)]
struct SharedServer {
    url: String,
    _server: Option<RedisServer>,
}

impl TestRedis {
    /// The shared server of this test process, with a fresh prefix.
    pub async fn shared() -> TestRedis {
        let shared = SHARED
            .get_or_init(|| async {
                if let Ok(url) = std::env::var("WACAST_TEST_REDIS_URL") {
                    return SharedServer { url, _server: None };
                }
                let server = RedisServer::start(Role::Primary { durable: true }).await;
                SharedServer {
                    url: server.url(),
                    _server: Some(server),
                }
            })
            .await;
        TestRedis::with_url(&shared.url)
    }

    /// A server of its own, for tests that kill or restart Redis. It is durable, as every
    /// test server: [`RedisServer::restart`] keeps the data.
    pub async fn dedicated() -> RedisServer {
        RedisServer::start(Role::Primary { durable: true }).await
    }

    /// A server of its own with `appendonly yes`, so that [`RedisServer::restart`] keeps the
    /// data, as a production Redis configured for durability does (as [`TestRedis::dedicated`]).
    pub async fn dedicated_with_aof() -> RedisServer {
        RedisServer::start(Role::Primary { durable: true }).await
    }

    /// A durable server of its own with `settings` (TLS only, more configuration lines).
    pub async fn dedicated_with(settings: ServerSettings) -> RedisServer {
        RedisServer::start_with(Role::Primary { durable: true }, settings).await
    }

    /// A server of its own that keeps nothing on disk (`appendonly no`), as the development
    /// Redis on port 6379 is: a strict worker refuses it.
    pub async fn volatile() -> RedisServer {
        RedisServer::start(Role::Primary { durable: false }).await
    }

    /// `url` with a fresh prefix.
    pub fn with_url(url: &str) -> TestRedis {
        let prefix = format!(
            "t{}-{}-{:06x}",
            std::process::id(),
            PREFIXES.fetch_add(1, Ordering::Relaxed),
            rand::random::<u32>() & 0xff_ffff
        );
        TestRedis {
            url: url.to_string(),
            keys: Keys::new(&prefix),
            prefix,
        }
    }

    /// A queue on this server under this prefix.
    pub async fn queue(&self) -> Queue {
        Queue::connect(&self.url, &self.prefix)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the test redis at {}: {e}", self.url))
    }
}

/// A `redis-server` child process on a loopback port, in a temporary directory.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    role: Role,
    settings: ServerSettings,
    child: Option<Child>,
}

/// What a dedicated server has beyond the defaults.
#[derive(Debug, Clone, Default)]
pub struct ServerSettings {
    /// Listen over TLS only (`--port 0 --tls-port PORT`) with these files.
    pub tls: Option<ServerTls>,
    /// More configuration, as `redis-server` takes it on its command line: each `--name`
    /// starts a line, e.g. `["--user", "wacast", "on", ">pw", "~wacast:*", "+get"]`.
    pub args: Vec<String>,
}

/// The files of a TLS-only server (PEM).
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// The server's certificate (`tls-cert-file`).
    pub cert_file: PathBuf,
    /// Its key (`tls-key-file`).
    pub key_file: PathBuf,
    /// The CA its clients' certificates must be signed by (`tls-ca-cert-file`); clients must
    /// present one (`tls-auth-clients yes`, Redis's default).
    pub ca_file: PathBuf,
}

/// What a [`RedisServer`] is.
#[derive(Debug, Clone)]
enum Role {
    /// A server of its own; `durable`: `appendonly yes` and `appendfsync always`.
    Primary { durable: bool },
    /// A durable replica of the server on this port.
    Replica { of: u16 },
    /// A Sentinel monitoring the primary on this port as `service`.
    Sentinel { monitor: u16, service: String },
}

/// How long a Sentinel waits before it calls a silent primary down: short, for tests.
const SENTINEL_DOWN_AFTER_MS: u64 = 1000;
/// A Sentinel's failover timeout: short, for tests.
const SENTINEL_FAILOVER_TIMEOUT_MS: u64 = 3000;

impl RedisServer {
    async fn start(role: Role) -> RedisServer {
        RedisServer::start_with(role, ServerSettings::default()).await
    }

    async fn start_with(role: Role, settings: ServerSettings) -> RedisServer {
        // Another process may take the free port between our check and the server's bind:
        // try a few ports.
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port();
            // tmpfs where there is one: `appendfsync always` costs nothing there.
            let shm = Path::new("/dev/shm");
            let base = if shm.is_dir() {
                shm.to_path_buf()
            } else {
                std::env::temp_dir()
            };
            let dir = base.join(format!("wacast-test-redis-{}-{port}", std::process::id()));
            if let Err(e) = std::fs::create_dir_all(&dir) {
                panic!("cannot create {}: {e}", dir.display());
            }
            let mut server = RedisServer {
                port,
                dir,
                role: role.clone(),
                settings: settings.clone(),
                child: None,
            };
            match server.spawn().await {
                Ok(()) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("cannot start redis-server for tests: {last_error}");
    }

    /// The URL to connect to (`rediss://` for a TLS-only server).
    pub fn url(&self) -> String {
        let scheme = if self.settings.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A durable replica of this server (`--replicaof`), once it has synced: its link is up
    /// and this server counts it online (what `WAIT` counts).
    pub async fn replica(&self) -> RedisServer {
        let replica = RedisServer::start(Role::Replica { of: self.port }).await;
        let needle = format!("port={},state=online", replica.port);
        for _ in 0..1000 {
            if replication_info(&replica.url())
                .await
                .is_some_and(|i| i.contains("master_link_status:up"))
                && replication_info(&self.url())
                    .await
                    .is_some_and(|i| i.contains(&needle))
            {
                return replica;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the replica on port {} did not sync", replica.port);
    }

    /// A Sentinel monitoring this server as `service`, with a quorum of 2 and short timings
    /// (down after 1 s, failover timeout 3 s). Start three.
    pub async fn sentinel(&self, service: &str) -> RedisServer {
        RedisServer::start(Role::Sentinel {
            monitor: self.port,
            service: service.to_string(),
        })
        .await
    }

    /// A [`TestRedis`] on this server with a fresh prefix.
    pub fn test_redis(&self) -> TestRedis {
        TestRedis::with_url(&self.url())
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server and starts it again on the same port and directory. With AOF the data
    /// written before the kill is back.
    pub async fn restart(&mut self) {
        self.kill();
        if let Err(e) = self.spawn().await {
            panic!("cannot restart redis-server on port {}: {e}", self.port);
        }
    }

    async fn spawn(&mut self) -> Result<(), String> {
        let binary =
            std::env::var("WACAST_TEST_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let mut command = Command::new(&binary);
        match &self.role {
            Role::Sentinel { monitor, service } => {
                // Sentinel rewrites its configuration file, so it gets one of its own.
                let conf = self.dir.join("sentinel.conf");
                let text = format!(
                    "port {port}\nbind 127.0.0.1\ndir {dir}\n\
                     sentinel monitor {service} 127.0.0.1 {monitor} 2\n\
                     sentinel down-after-milliseconds {service} {SENTINEL_DOWN_AFTER_MS}\n\
                     sentinel failover-timeout {service} {SENTINEL_FAILOVER_TIMEOUT_MS}\n\
                     sentinel parallel-syncs {service} 1\n",
                    port = self.port,
                    dir = self.dir.display(),
                );
                if !conf.exists() {
                    std::fs::write(&conf, text)
                        .map_err(|e| format!("cannot write {}: {e}", conf.display()))?;
                }
                command.arg(&conf).arg("--sentinel");
            }
            role => {
                let durable = !matches!(role, Role::Primary { durable: false });
                match &self.settings.tls {
                    None => command.args(["--port", &self.port.to_string()]),
                    Some(tls) => command
                        .args(["--port", "0", "--tls-port", &self.port.to_string()])
                        .arg("--tls-cert-file")
                        .arg(&tls.cert_file)
                        .arg("--tls-key-file")
                        .arg(&tls.key_file)
                        .arg("--tls-ca-cert-file")
                        .arg(&tls.ca_file),
                };
                command
                    .args(["--bind", "127.0.0.1"])
                    .args([
                        "--save",
                        "",
                        "--appendonly",
                        if durable { "yes" } else { "no" },
                    ])
                    .args(["--appendfsync", if durable { "always" } else { "everysec" }])
                    // A replica syncs at once, not after the default 5 s of waiting for others.
                    .args(["--repl-diskless-sync-delay", "0"])
                    .arg("--dir")
                    .arg(&self.dir);
                if let Role::Replica { of } = role {
                    command.args(["--replicaof", "127.0.0.1", &of.to_string()]);
                }
                command.args(&self.settings.args);
            }
        }
        let mut child = command
            .args([
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
                "--logfile",
                "",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {binary} (is redis-server installed?): {e}"))?;
        spawn_watchdog(child.id(), &self.dir);
        for _ in 0..500 {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "redis-server on port {} exited: {status}",
                    self.port
                ));
            }
            // A TLS-only server (whose clients need a certificate and a user) counts as up
            // once it listens: it binds only after loading its data.
            let up = if self.settings.tls.is_some() {
                tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                    .await
                    .is_ok()
            } else {
                ping(self.port).await
            };
            if up {
                self.child = Some(child);
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = child.kill();
        Err(format!(
            "redis-server on port {} did not answer PING",
            self.port
        ))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `INFO replication` of the server at `url`, if it answers.
async fn replication_info(url: &str) -> Option<String> {
    let client = redis::Client::open(url).ok()?;
    let mut conn = client.get_multiplexed_async_connection().await.ok()?;
    redis::cmd("INFO")
        .arg("replication")
        .query_async(&mut conn)
        .await
        .ok()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|e| panic!("cannot find a free port: {e}"))
}

/// Kills `pid` (if it is still a redis-server) and removes `dir` once this process is gone.
fn spawn_watchdog(pid: u32, dir: &Path) {
    let script = format!(
        "while kill -0 {parent} 2>/dev/null; do sleep 1; done; \
         [ \"$(cat /proc/{pid}/comm 2>/dev/null)\" = redis-server ] && kill -9 {pid}; \
         rm -rf '{dir}'",
        parent = std::process::id(),
        dir = dir.display(),
    );
    // Without the watchdog, a killed test run leaves a server behind; nothing else breaks.
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

async fn ping(port: u16) -> bool {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream.write_all(b"PING\r\n").await?;
        let mut reply = [0u8; 7];
        stream.read_exact(&mut reply).await?;
        Ok::<_, std::io::Error>(&reply == b"+PONG\r\n")
    };
    matches!(
        tokio::time::timeout(Duration::from_millis(200), attempt).await,
        Ok(Ok(true))
    )
}

/// Checks, in one atomic script, that a campaign's counters equal the number of its message
/// hashes in each status, that `total` is their number, and that every message is indexed as
/// its status says: queued in exactly one entry (a single or a run) of the due and paused sets,
/// claimed and sending in the lease set only, final ones in none (cancelled ones may still sit
/// in a run, which the fetcher drops when it comes due), and `failed`/`unknown` ones (only they) in the failed
/// set; and that the funnel counters the callbacks move equal the messages they count:
/// `delivered` those whose `delivery` is delivered or read, `read` those read,
/// `delivery_failed` those failed late, `replied` those with `replied_at`, `opted_out` those
/// with `opted_out_at` (an absent counter is 0). Returns every discrepancy found.
pub async fn counters_match_messages(queue: &Queue, id: &CampaignId) -> Result<(), String> {
    let keys = queue.keys();
    let script = redis::Script::new(CHECK_SCRIPT);
    let (n_messages, counts, problems): (u64, Vec<String>, Vec<String>) = script
        .key(keys.campaign(id))
        .key(keys.due())
        .key(keys.leases())
        .key(keys.paused(id))
        .key(keys.failed(id))
        .arg(keys.message_prefix(id))
        .arg(id.as_str())
        .invoke_async(&mut queue.connection())
        .await
        .map_err(|e| format!("check script failed: {e}"))?;
    let record = queue
        .load_campaign(id)
        .await
        .map_err(|e| format!("cannot load campaign {id}: {e}"))?;
    let mut problems = problems;
    let count_of = |status: MessageStatus| {
        counts
            .chunks(2)
            .find(|pair| pair[0] == status.as_str())
            .and_then(|pair| pair[1].parse::<u64>().ok())
            .unwrap_or(0)
    };
    for status in MessageStatus::ALL {
        let (counter, actual) = (record.counters.of(status), count_of(status));
        if counter != actual {
            problems.push(format!(
                "counter {status} is {counter} but {actual} messages are {status}"
            ));
        }
    }
    if record.counters.total != n_messages {
        problems.push(format!(
            "counter total is {} but there are {n_messages} messages",
            record.counters.total
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("campaign {id}: {}", problems.join("; ")))
    }
}

const CHECK_SCRIPT: &str = r#"
local rows = tonumber(redis.call('HGET', KEYS[1], 'rows') or '0') or 0
local id = ARGV[2]
local counts, problems = {}, {}
local n, n_failed = 0, 0
-- What the callbacks recorded, counted from the messages as the funnel counters count it.
local funnel = {delivered = 0, read = 0, delivery_failed = 0, replied = 0, opted_out = 0}
-- Which rows the due and paused entries of this campaign cover; an entry is `id:row` or a run
-- `id:from-to`. Test-only: it reads the whole sets.
local function cover(key)
  local single, ranged = {}, {}
  for _, ref in ipairs(redis.call('ZRANGE', key, 0, -1)) do
    local rid, from, to = string.match(ref, '^(.+):(%d+)-(%d+)$')
    if not rid then
      rid, from = string.match(ref, '^(.+):(%d+)$')
      to = from
    end
    if rid == id then
      local t = ranged
      if from == to then t = single end
      for row = tonumber(from), tonumber(to) do t[row] = (t[row] or 0) + 1 end
    end
  end
  return single, ranged
end
local due_single, due_ranged = cover(KEYS[2])
local paused_single, paused_ranged = cover(KEYS[4])
for row = 1, rows do
  local m = redis.call('HMGET', ARGV[1] .. row, 'status', 'delivery', 'replied_at', 'opted_out_at')
  local status = m[1]
  if status then
    if m[2] == 'delivered' or m[2] == 'read' then funnel.delivered = funnel.delivered + 1 end
    if m[2] == 'read' then funnel.read = funnel.read + 1 end
    if m[2] == 'failed' then funnel.delivery_failed = funnel.delivery_failed + 1 end
    if m[3] then funnel.replied = funnel.replied + 1 end
    if m[4] then funnel.opted_out = funnel.opted_out + 1 end
    n = n + 1
    counts[status] = (counts[status] or 0) + 1
    local ref = id .. ':' .. row
    local single = (due_single[row] or 0) + (paused_single[row] or 0)
    local ranged = (due_ranged[row] or 0) + (paused_ranged[row] or 0)
    local leased = redis.call('ZSCORE', KEYS[3], ref) ~= false
    local failed = redis.call('SISMEMBER', KEYS[5], row) == 1
    if failed then n_failed = n_failed + 1 end
    local ok
    if status == 'queued' then
      ok = single + ranged == 1 and not leased
    elseif status == 'claimed' or status == 'sending' then
      ok = leased and single + ranged == 0
    elseif status == 'cancelled' then
      -- A cancel walk leaves runs behind; the fetcher drops them when they come due.
      ok = not leased and single == 0
    else
      ok = not leased and single + ranged == 0
    end
    if (status == 'failed' or status == 'unknown') ~= failed then ok = false end
    if not ok then
      problems[#problems + 1] = string.format('row %d is %s but covered by %d single and %d run entries, leased=%s failed-set=%s',
        row, status, single, ranged, tostring(leased), tostring(failed))
    end
  end
end
for row, _ in pairs(paused_single) do
  if redis.call('HGET', ARGV[1] .. row, 'status') ~= 'queued' then
    problems[#problems + 1] = string.format('the paused set holds row %d, which is not queued', row)
  end
end
for _, counter in ipairs({'delivered', 'read', 'delivery_failed', 'replied', 'opted_out'}) do
  local value = tonumber(redis.call('HGET', KEYS[1], counter) or '0')
  if value ~= funnel[counter] then
    problems[#problems + 1] = string.format('counter %s is %d but %d messages count in it',
      counter, value, funnel[counter])
  end
end
if redis.call('SCARD', KEYS[5]) ~= n_failed then
  problems[#problems + 1] = 'the failed set has rows of no failed or unknown message'
end
local flat = {}
for status, count in pairs(counts) do
  flat[#flat + 1] = status
  flat[#flat + 1] = tostring(count)
end
return {n, flat, problems}
"#;

/// A seven campaign `id` from 4915112345678 with `content` and `columns`, to send at `send_at`
/// (also its creation time), a ttl of two days, no label and no options: the spec tests start
/// from, changing what they test with `Campaign { label: …, ..testing::campaign(…) }`. One
/// constructor, so that a new field of `Campaign` is added here and not in every test.
pub fn campaign(
    id: &str,
    content: serde_json::Value,
    columns: &[&str],
    send_at: DateTime<Utc>,
) -> Campaign {
    Campaign {
        id: CampaignId::parse(id).expect("a valid test campaign id"),
        provider: ProviderKind::Seven,
        from: PhoneNumber::from_stored("4915112345678").expect("a valid sender"),
        content,
        columns: columns.iter().map(|c| c.to_string()).collect(),
        send_at,
        ttl_minutes: 2880,
        label: None,
        performance_tracking: false,
        created_at: send_at,
        handoff_ahead_minutes: 0,
        bird: None,
        window: None,
        only_open_window: false,
        tz: chrono_tz::UTC,
    }
}
