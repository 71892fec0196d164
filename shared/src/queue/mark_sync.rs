//! What a worker's `sending` marks wait for after Redis answered them ([`MarkSync`]), and the
//! wait itself: `WAITAOF` (Redis ≥ 7.2: on disk here and on the replicas) or `WAIT` (the
//! replicas acknowledged). `durability.rs` decides which, from the server's settings; `batch.rs`
//! waits after each batch of marks, on the marks' own connection.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::{Cmd, ErrorKind, Script, ServerErrorKind, Value};
use tokio::sync::Semaphore;

use crate::queue::error::QueueError;
use crate::queue::primary::RedisConn;

/// How long the marks wait for `WAIT`/`WAITAOF` before the messages go back unsent.
pub const MARK_SYNC_TIMEOUT: Duration = Duration::from_secs(2);

/// How many rounds of marks may wait at once, each on a connection of its own. A round waits
/// for the fsync and the replicas' acknowledgement, hops between processes that a loaded
/// machine schedules late; with one round at a time, every mark that arrives meanwhile waits
/// for that round and then its own. The worker's recorder sends this many rounds at once
/// (`worker/src/record.rs`).
pub const MARK_ROUNDS: usize = 4;

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

/// The marks' connections, [`MARK_ROUNDS`] of them: a round takes one for as long as it waits,
/// since `WAIT` blocks the connection it is sent on and counts what that connection wrote.
#[derive(Clone)]
pub(crate) struct MarkConns {
    free: Arc<Mutex<Vec<RedisConn>>>,
    /// One permit per connection in `free`.
    permits: Arc<Semaphore>,
}

impl MarkConns {
    /// [`MARK_ROUNDS`] connections of their own to `conn`'s server.
    pub(crate) async fn separate(conn: &RedisConn) -> redis::RedisResult<MarkConns> {
        let mut free = Vec::with_capacity(MARK_ROUNDS);
        for _ in 0..MARK_ROUNDS {
            free.push(conn.separate().await?);
        }
        Ok(MarkConns {
            free: Arc::new(Mutex::new(free)),
            permits: Arc::new(Semaphore::new(MARK_ROUNDS)),
        })
    }

    /// [`sync_marks`] on a free connection, waiting for one if every one is taken.
    pub(crate) async fn sync_marks(
        &self,
        sync: &MarkSync,
        script: &Script,
        cmds: &[Cmd],
    ) -> Result<(Vec<String>, bool), QueueError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let mut conn = self.take();
        let result = sync_marks(&mut conn, sync, script, cmds).await;
        // Back in the pool whatever happened: a connection reconnects by itself.
        self.free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
        result
    }

    fn take(&self) -> RedisConn {
        self.free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .expect("a permit stands for a free connection")
    }
}

/// Runs the mark scripts `cmds` (each built by `scripts::evalsha` for `script`) and the wait
/// `sync` asks for as one pipeline on `conn`: the answers of every script, in order, and
/// whether the marks were confirmed (the local fsync and every replica asked for, within the
/// timeout).
///
/// One pipeline, not a script call and then a wait: the wait is read in the same turn of
/// Redis's event loop as the marks, so the request for the replicas' acknowledgement goes out
/// with the marks themselves, saving a round trip per batch, and one acknowledgement covers
/// every chunk of the round (before, each chunk waited on its own, one after the other, since
/// a `WAIT` blocks the connection). Measured alone on loopback (a write and `WAIT 1`, both
/// servers `appendfsync always`): p50 0.50 ms as two round trips, 0.45 ms as one pipeline.
async fn sync_marks(
    conn: &mut RedisConn,
    sync: &MarkSync,
    script: &Script,
    cmds: &[Cmd],
) -> Result<(Vec<String>, bool), QueueError> {
    let timeout = u64::try_from(sync.timeout.as_millis()).unwrap_or(u64::MAX);
    let mut pipe = redis::pipe();
    for cmd in cmds {
        pipe.add_command(cmd.clone());
    }
    if sync.wait_aof {
        // Redis ≥ 7.2 only: this machine's Redis is 7.0, so this path is not covered by the
        // tests here; the tested path is `appendfsync always`, where no WAITAOF is needed.
        pipe.cmd("WAITAOF").arg(1).arg(sync.replicas).arg(timeout);
    } else {
        pipe.cmd("WAIT").arg(sync.replicas).arg(timeout);
    }
    let mut replies: Vec<Value> = match pipe.query_async(conn).await {
        // Redis forgot the script (a restart): load it and send the whole round again.
        Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
            script
                .load_async(conn)
                .await
                .map_err(QueueError::redis("mark sending"))?;
            pipe.query_async(conn).await
        }
        other => other,
    }
    .map_err(QueueError::redis("mark sending"))?;
    let confirmed = match replies.pop() {
        Some(Value::Array(counts)) if sync.wait_aof => {
            let count = |i: usize| match counts.get(i) {
                Some(Value::Int(n)) => *n,
                _ => 0,
            };
            count(0) >= 1 && count(1) >= i64::from(sync.replicas)
        }
        Some(Value::Int(n)) => n >= i64::from(sync.replicas),
        _ => false,
    };
    let mut answers = Vec::new();
    for reply in replies {
        let chunk: Vec<String> = redis::from_redis_value(reply)
            .map_err(|e| QueueError::redis("mark sending")(e.into()))?;
        answers.extend(chunk);
    }
    Ok((answers, confirmed))
}
