//! The Lua scripts, each prefixed with `scripts/common.lua` and loaded once per connection by
//! `redis::Script` (EVALSHA, reloaded on NOSCRIPT after a Redis restart).

use std::sync::LazyLock;

use redis::aio::ConnectionManager;
use redis::{Cmd, ErrorKind, FromRedisValue, RedisResult, Script, ServerErrorKind};

macro_rules! script {
    ($name:literal) => {
        Script::new(concat!(
            include_str!("scripts/common.lua"),
            "\n",
            include_str!(concat!("scripts/", $name, ".lua"))
        ))
    };
}

/// Every queue script, hashed once per process.
pub(crate) struct Scripts {
    pub(crate) create_campaign: Script,
    pub(crate) enqueue: Script,
    pub(crate) finish_ingest: Script,
    pub(crate) claim: Script,
    pub(crate) mark_sending: Script,
    pub(crate) ack: Script,
    pub(crate) retry: Script,
    pub(crate) reap: Script,
    pub(crate) release: Script,
    pub(crate) extend_leases: Script,
    pub(crate) set_state: Script,
    pub(crate) pause_chunk: Script,
    pub(crate) resume_chunk: Script,
    pub(crate) cancel_chunk: Script,
}

pub(crate) static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    create_campaign: script!("create_campaign"),
    enqueue: script!("enqueue"),
    finish_ingest: script!("finish_ingest"),
    claim: script!("claim"),
    mark_sending: script!("mark_sending"),
    ack: script!("ack"),
    retry: script!("retry"),
    reap: script!("reap"),
    release: script!("release"),
    extend_leases: script!("extend_leases"),
    set_state: script!("set_state"),
    pause_chunk: script!("pause_chunk"),
    resume_chunk: script!("resume_chunk"),
    cancel_chunk: script!("cancel_chunk"),
});

/// An EVALSHA of `script` with `keys` as its keys, for the arguments to follow, built as one
/// command rather than a `redis::ScriptInvocation`, which allocates every argument on its own
/// and copies them all once more when it is sent. The hot calls (claim, and the batches a
/// worker sends for every message) and the enqueue of thousands of rows are built this way.
/// `args` and `bytes` size the command's buffers.
pub(crate) fn evalsha(script: &Script, keys: &[&str], args: usize, bytes: usize) -> Cmd {
    let mut cmd = Cmd::with_capacity(3 + keys.len() + args, 64 + bytes);
    cmd.arg("EVALSHA").arg(script.get_hash()).arg(keys.len());
    for key in keys {
        cmd.arg(*key);
    }
    cmd
}

/// Runs a command built by [`evalsha`]; when Redis has forgotten the script (a restart, a
/// `SCRIPT FLUSH`) it loads it and sends the command once more.
pub(crate) async fn run<T: FromRedisValue>(
    script: &Script,
    cmd: &Cmd,
    conn: &mut ConnectionManager,
) -> RedisResult<T> {
    match cmd.query_async(conn).await {
        Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
            script.load_async(conn).await?;
            cmd.query_async(conn).await
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use crate::campaign::CampaignId;
    use crate::keys::Keys;

    #[test]
    fn scripts_build_the_keys_that_keys_rs_documents() {
        // The Lua scripts build these from campaign_prefix; keep both in step.
        let keys = Keys::new("p");
        let id = CampaignId::parse("c1").unwrap();
        let base = keys.campaign_prefix() + "c1";
        assert_eq!(base, keys.campaign(&id));
        assert_eq!(format!("{base}:msg:7"), keys.message(&id, 7));
        assert_eq!(format!("{base}:paused"), keys.paused(&id));
        assert_eq!(format!("{base}:failed"), keys.failed(&id));
        assert_eq!(crate::keys::message_ref(&id, 7), format!("{}{}", "c1:", 7));
    }
}
