//! What a worker's `sending` marks wait for after Redis answered them ([`MarkSync`]), and the
//! wait itself: `WAITAOF` (Redis ≥ 7.2: on disk here and on the replicas) or `WAIT` (the
//! replicas acknowledged). `durability.rs` decides which, from the server's settings; `batch.rs`
//! waits after each batch of marks, on the marks' own connection.

use std::time::Duration;

use redis::Value;

use crate::queue::error::QueueError;
use crate::queue::primary::RedisConn;

/// How long the marks wait for `WAIT`/`WAITAOF` before the messages go back unsent.
pub const MARK_SYNC_TIMEOUT: Duration = Duration::from_secs(2);

/// What the `sending` marks wait for after they are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkSync {
    /// `WAITAOF 1 replicas`: Redis's own fsync (and the replicas'), where `appendfsync` is not
    /// `always` but the server has WAITAOF (Redis ≥ 7.2).
    pub wait_aof: bool,
    /// Replicas that must acknowledge each batch of marks.
    pub replicas: u32,
    /// How long to wait for them.
    pub timeout: Duration,
}

impl MarkSync {
    /// Whether the marks wait for anything after the script's answer.
    pub fn waits(&self) -> bool {
        self.wait_aof || self.replicas > 0
    }
}

/// After marks written on `conn`: waits as `sync` says, and answers whether it was
/// confirmed (the local fsync and every replica asked for, within the timeout).
pub(crate) async fn sync_marks(conn: &mut RedisConn, sync: &MarkSync) -> Result<bool, QueueError> {
    let timeout = u64::try_from(sync.timeout.as_millis()).unwrap_or(u64::MAX);
    if sync.wait_aof {
        // Redis ≥ 7.2 only: this machine's Redis is 7.0, so this path is not covered by the
        // tests here; the tested path is `appendfsync always`, where no WAITAOF is needed.
        let answer: Vec<i64> = redis::cmd("WAITAOF")
            .arg(1)
            .arg(sync.replicas)
            .arg(timeout)
            .query_async(conn)
            .await
            .map_err(QueueError::redis("WAITAOF"))?;
        let local = answer.first().copied().unwrap_or(0);
        let replicas = answer.get(1).copied().unwrap_or(0);
        return Ok(local >= 1 && replicas >= i64::from(sync.replicas));
    }
    let acked: Value = redis::cmd("WAIT")
        .arg(sync.replicas)
        .arg(timeout)
        .query_async(conn)
        .await
        .map_err(QueueError::redis("WAIT"))?;
    Ok(matches!(acked, Value::Int(n) if n >= i64::from(sync.replicas)))
}
