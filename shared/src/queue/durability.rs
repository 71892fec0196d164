//! Durable before sent: whether the queue's Redis keeps a `sending` mark through a crash
//! ([`Persistence`], [`Verdict`]), and so what the marks must wait for after they are written
//! ([`MarkSync`], in `mark_sync.rs`: `WAITAOF` or `WAIT`, run by `batch.rs`).
//!
//! A message is marked `sending` before its request is written, so that a crash between the two
//! leaves it `unknown` rather than queued to be sent again. That only holds if the mark
//! survives: a Redis that loses its last second of writes (a crash with `appendfsync everysec`,
//! a failover to a replica that had not received them) brings back messages as `claimed` whose
//! requests went out, and they are sent twice. The mark is durable when
//!
//! - Redis writes it to its append-only file and fsyncs before it answers: `appendonly yes`
//!   and `appendfsync always` (Redis ≥ 7.0 replies only after the fsync); or
//! - Redis ≥ 7.2 confirms it with `WAITAOF 1 0 timeout` after the marks (any `appendfsync`);
//! - and, with `--replicas N`, N replicas acknowledged it (`WAIT N`, or `WAITAOF 1 N`: on
//!   their disks too), so that a failover to one of them keeps it.
//!
//! Redis must also keep the queue's keys: a `maxmemory-policy` other than `noeviction` evicts
//! them under memory pressure, losing messages outright.

use crate::queue::connection::Queue;
use crate::queue::error::QueueError;
use crate::queue::mark_sync::{MARK_SYNC_TIMEOUT, MarkSync};

/// The persistence settings of a Redis, as read at the worker's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Persistence {
    /// `redis_version` from `INFO server`.
    pub version: String,
    /// `appendonly` (CONFIG) or `aof_enabled` (INFO).
    pub appendonly: Option<bool>,
    /// `appendfsync`; `None` where `CONFIG GET` is refused (managed Redis), since INFO does
    /// not tell it.
    pub appendfsync: Option<String>,
    /// `maxmemory-policy` (CONFIG) or `maxmemory_policy` (INFO memory).
    pub maxmemory_policy: Option<String>,
    /// The role: `master` or `slave` (INFO replication).
    pub role: Option<String>,
}

/// Whether the marks can be made durable, and how; or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// How the marks are made durable: `None` when they cannot be (see `problems`).
    pub sync: Option<MarkSync>,
    /// What is unsafe, each naming the setting to change.
    pub problems: Vec<String>,
}

impl Verdict {
    /// Whether nothing is unsafe.
    pub fn is_durable(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Persistence {
    /// `(major, minor)` of the version, `(0, 0)` if unreadable.
    pub fn version_number(&self) -> (u32, u32) {
        let mut parts = self
            .version
            .split('.')
            .map(|p| p.parse::<u32>().unwrap_or(0));
        (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
    }

    /// Whether the server has `WAITAOF` (Redis ≥ 7.2).
    pub fn has_waitaof(&self) -> bool {
        self.version_number() >= (7, 2)
    }

    /// The verdict for marks that must reach `replicas` replicas.
    pub fn verdict(&self, replicas: u32) -> Verdict {
        let mut problems = Vec::new();
        let version = self.version_number();
        if version < (7, 0) {
            problems.push(format!(
                "Redis {} is older than 7.0: wacast needs Redis 7.0 or later (its scripts declare their flags, and only 7.0 answers a write after fsyncing it)",
                self.version
            ));
        }
        let fsync_always = self.appendfsync.as_deref() == Some("always");
        let sync = match self.appendonly {
            Some(false) => {
                problems.push(
                    "Redis has appendonly no: set `appendonly yes` and `appendfsync always` in redis.conf (or CONFIG SET appendonly yes, CONFIG SET appendfsync always, CONFIG REWRITE), or run with --durability relaxed to accept that a Redis crash may resend every message sent since its last snapshot"
                        .to_string(),
                );
                None
            }
            _ if fsync_always => Some(MarkSync {
                wait_aof: false,
                replicas,
                timeout: MARK_SYNC_TIMEOUT,
            }),
            // WAITAOF fails on a Redis without an append-only file, so it needs to know that
            // there is one; and it needs 7.2.
            Some(true) if self.has_waitaof() => Some(MarkSync {
                wait_aof: true,
                replicas,
                timeout: MARK_SYNC_TIMEOUT,
            }),
            _ => {
                problems.push(match (&self.appendfsync, self.appendonly) {
                    (Some(fsync), _) => format!(
                        "Redis has appendfsync {fsync}: set `appendfsync always` in redis.conf (or CONFIG SET appendfsync always, CONFIG REWRITE), or use Redis 7.2 or later (WAITAOF), or run with --durability relaxed to accept that a Redis crash may resend up to ~1 s of messages"
                    ),
                    (None, _) => format!(
                        "Redis {} refuses CONFIG GET, so its appendfsync cannot be checked, and it has no WAITAOF (Redis 7.2 or later): ask for `appendonly yes` and `appendfsync always`, then run with --durability relaxed, which accepts what cannot be checked",
                        self.version
                    ),
                });
                None
            }
        };
        match self.maxmemory_policy.as_deref() {
            Some("noeviction") | None => {}
            Some(policy) => problems.push(format!(
                "Redis has maxmemory-policy {policy}: set `maxmemory-policy noeviction` in redis.conf (or CONFIG SET maxmemory-policy noeviction): evicting the queue's keys loses messages; or run with --durability relaxed to accept that"
            )),
        }
        if self.role.as_deref() == Some("slave") {
            problems.push(
                "Redis is a replica: point the worker at the primary, or at the Sentinels with a redis+sentinel:// URL"
                    .to_string(),
            );
        }
        Verdict { sync, problems }
    }
}

impl Queue {
    /// Reads the server's persistence settings: `CONFIG GET`, and `INFO` for what CONFIG does
    /// not tell or where it is refused (managed Redis renames or forbids it).
    pub async fn persistence(&self) -> Result<Persistence, QueueError> {
        let mut conn = self.conn();
        // The default sections (server, persistence, memory, replication among them): INFO
        // with several sections needs Redis 7, and an older one must hear that it is too old.
        let info: String = redis::cmd("INFO")
            .query_async(&mut conn)
            .await
            .map_err(QueueError::redis("INFO"))?;
        let field = |name: &str| {
            info.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .map(|v| v.trim().to_string())
        };
        let mut found = Persistence {
            version: field("redis_version").unwrap_or_default(),
            appendonly: field("aof_enabled").map(|v| v == "1"),
            appendfsync: None,
            maxmemory_policy: field("maxmemory_policy"),
            role: field("role"),
        };
        let config: Result<Vec<String>, _> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("appendonly")
            .arg("appendfsync")
            .arg("maxmemory-policy")
            .query_async(&mut conn)
            .await;
        match config {
            Ok(pairs) => {
                for pair in pairs.chunks(2) {
                    if let [name, value] = pair {
                        match name.as_str() {
                            "appendonly" => found.appendonly = Some(value == "yes"),
                            "appendfsync" => found.appendfsync = Some(value.clone()),
                            "maxmemory-policy" => found.maxmemory_policy = Some(value.clone()),
                            _ => {}
                        }
                    }
                }
            }
            Err(error) => {
                tracing::debug!(%error, "CONFIG GET refused; reading persistence from INFO.")
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redis(appendonly: bool, fsync: Option<&str>, policy: &str, version: &str) -> Persistence {
        Persistence {
            version: version.into(),
            appendonly: Some(appendonly),
            appendfsync: fsync.map(String::from),
            maxmemory_policy: Some(policy.into()),
            role: Some("master".into()),
        }
    }

    #[test]
    fn only_an_fsynced_or_waitaof_redis_is_durable() {
        let v = redis(true, Some("always"), "noeviction", "7.0.15").verdict(1);
        assert!(v.is_durable());
        assert_eq!(v.sync.map(|s| (s.wait_aof, s.replicas)), Some((false, 1)));

        let v = redis(true, Some("everysec"), "noeviction", "7.0.15").verdict(0);
        assert!(v.sync.is_none());
        assert!(v.problems[0].contains("appendfsync everysec: set `appendfsync always`"));

        // 7.2 confirms each batch with WAITAOF instead.
        let v = redis(true, Some("everysec"), "noeviction", "7.2.4").verdict(0);
        assert!(v.is_durable());
        assert_eq!(v.sync.map(|s| s.wait_aof), Some(true));

        let v = redis(false, Some("always"), "noeviction", "7.2.4").verdict(0);
        assert!(v.problems[0].starts_with("Redis has appendonly no: set `appendonly yes`"));
        assert!(v.problems[0].contains("--durability relaxed"));
    }

    #[test]
    fn an_evicting_policy_is_unsafe() {
        let v = redis(true, Some("always"), "allkeys-lru", "7.0.15").verdict(0);
        assert_eq!(v.problems.len(), 1);
        assert!(v.problems[0].contains("maxmemory-policy allkeys-lru"));
        assert!(v.sync.is_some());
    }

    #[test]
    fn a_managed_redis_without_config_is_checked_through_info() {
        let mut managed = redis(true, None, "noeviction", "7.0.15");
        assert!(!managed.verdict(0).is_durable());
        managed.version = "7.2.5".into();
        assert!(managed.verdict(0).is_durable());
    }
}
