//! The registry of the queue's Lua scripts: every script is in [`SCRIPTS`], each prefixed with
//! `scripts/common.lua` (its helpers and the key names) and loaded once per connection by
//! `redis::Script` (EVALSHA, reloaded on NOSCRIPT after a Redis restart); and the lean
//! EVALSHA command the hot calls are built as ([`evalsha`], [`run`]).
//!
//! Every script opens with Redis 7's `#!lua` shebang, which declares its flags before it runs
//! (it must be the first line, so the registry writes it, ahead of `common.lua`). The default
//! (no flag) is deny-oom: a Redis over `maxmemory` refuses the call before it starts, so a
//! claim or an enqueue never begins what it could not finish. `allow-oom` is for the scripts
//! that settle what is already under way (mark sending, ack, retry, extend leases, reap,
//! release, pause, cancel, purge, and the provider's answer to a delete): refusing them would
//! turn a message the provider accepted into `unknown`. They add little or free memory.
//! Outside Redis Cluster a shebang script may still touch keys it did not declare, which the
//! scripts do (a campaign's message hashes).

use std::sync::LazyLock;

use crate::queue::primary::RedisConn;
use redis::{Cmd, ErrorKind, FromRedisValue, RedisResult, Script, ServerErrorKind};

/// A script as Redis runs it: the shebang with its flags (`allow_oom` or none), then
/// `scripts/common.lua`, then the script. The second form is a
/// batch script that runs a single-message script for each entry: the common helpers, the
/// batch prelude, the single-message script wrapped as `one(KEYS, ARGV)`, and the driver
/// (see `batch.rs`).
macro_rules! script {
    ($name:literal) => {
        script!(@flags "", $name)
    };
    ($name:literal, allow_oom) => {
        script!(@flags " flags=allow-oom", $name)
    };
    ($single:literal wrapped by $driver:literal, allow_oom) => {
        script!(@flags " flags=allow-oom", $single wrapped by $driver)
    };
    (@flags $flags:literal, $name:literal) => {
        Script::new(concat!(
            "#!lua",
            $flags,
            "\n",
            include_str!("scripts/common.lua"),
            "\n",
            include_str!(concat!("scripts/", $name, ".lua"))
        ))
    };
    (@flags $flags:literal, $single:literal wrapped by $driver:literal) => {
        Script::new(concat!(
            "#!lua",
            $flags,
            "\n",
            include_str!("scripts/common.lua"),
            "\n",
            include_str!("scripts/batch_prelude.lua"),
            "\nlocal function one(KEYS, ARGV)\n",
            include_str!(concat!("scripts/", $single, ".lua")),
            "\nend\n",
            include_str!(concat!("scripts/", $driver, ".lua"))
        ))
    };
}

/// Every queue script, hashed once per process.
pub(crate) struct Scripts {
    // Campaigns (`campaign_store.rs`).
    pub(crate) create_campaign: Script,
    pub(crate) finish_ingest: Script,
    pub(crate) store_rejects: Script,
    pub(crate) set_state: Script,
    pub(crate) pause_chunk: Script,
    pub(crate) resume_chunk: Script,
    pub(crate) cancel_chunk: Script,
    // Enqueue (`enqueue.rs`).
    pub(crate) enqueue: Script,
    // A message's life (`lifecycle.rs`).
    pub(crate) claim: Script,
    pub(crate) mark_sending: Script,
    pub(crate) ack: Script,
    pub(crate) retry: Script,
    pub(crate) reap: Script,
    pub(crate) release: Script,
    pub(crate) extend_leases: Script,
    // Batches (`batch.rs`).
    pub(crate) batch_mark_sending: Script,
    pub(crate) batch_ack: Script,
    pub(crate) batch_retry: Script,
    // Sender limits (`limits.rs`, `backoff.rs`).
    pub(crate) note_waiting: Script,
    pub(crate) slow_sender: Script,
    pub(crate) sender_backoff: Script,
    // The operator's changes.
    pub(crate) requeue: Script,
    pub(crate) purge_begin: Script,
    pub(crate) purge_chunk: Script,
    pub(crate) purge_finish: Script,
    pub(crate) record_provider_delete: Script,
    // The providers' callbacks (`delivery.rs`).
    pub(crate) record_status: Script,
    pub(crate) record_inbound: Script,
}

pub(crate) static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    create_campaign: script!("create_campaign"),
    finish_ingest: script!("finish_ingest"),
    store_rejects: script!("store_rejects"),
    set_state: script!("set_state", allow_oom),
    pause_chunk: script!("pause_chunk", allow_oom),
    resume_chunk: script!("resume_chunk"),
    cancel_chunk: script!("cancel_chunk", allow_oom),
    enqueue: script!("enqueue"),
    claim: script!("claim"),
    mark_sending: script!("mark_sending", allow_oom),
    ack: script!("ack", allow_oom),
    retry: script!("retry", allow_oom),
    reap: script!("reap", allow_oom),
    release: script!("release", allow_oom),
    extend_leases: script!("extend_leases", allow_oom),
    batch_mark_sending: script!("batch_mark_sending", allow_oom),
    batch_ack: script!("batch_ack", allow_oom),
    batch_retry: script!("retry" wrapped by "batch_retry", allow_oom),
    note_waiting: script!("note_waiting", allow_oom),
    slow_sender: script!("slow_sender", allow_oom),
    sender_backoff: script!("sender_backoff", allow_oom),
    requeue: script!("requeue"),
    purge_begin: script!("purge_begin", allow_oom),
    purge_chunk: script!("purge_chunk", allow_oom),
    purge_finish: script!("purge_finish", allow_oom),
    record_provider_delete: script!("record_provider_delete", allow_oom),
    record_status: script!("record_status"),
    record_inbound: script!("record_inbound"),
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
    conn: &mut RedisConn,
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
    use crate::campaign::{CampaignId, ProviderKind};
    use crate::delivery::sender_key;
    use crate::keys::{Keys, message_ref, sender_name};
    use crate::phone::PhoneNumber;
    use crate::testing::TestRedis;

    /// The helpers every script starts with.
    const COMMON: &str = include_str!("scripts/common.lua");

    /// The key names the Lua helpers derive are the ones keys.rs builds, in every way a script
    /// derives them: one by one, and through a campaign's remembered keys.
    #[tokio::test]
    async fn the_lua_helpers_build_the_keys_that_keys_rs_builds() {
        let queue = TestRedis::shared().await.queue().await;
        let keys = queue.keys();
        let id = CampaignId::parse("spring-2").unwrap();
        let sender = PhoneNumber::from_stored("4915112345678").unwrap();
        let names = r"
local campaign_prefix, limit_prefix, id, row = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local camp = campaign_key(campaign_prefix, id)
local k = campaign_keys({}, campaign_prefix, id)
local sender = sender_name(ARGV[5], ARGV[6])
return {camp, message_key(camp, row), message_prefix(camp) .. row, paused_key(camp),
  failed_key(camp), k.hash, k.msg .. row, k.paused, k.failed, message_ref(id, row),
  k.ref .. row, run_entry(k.ref, row, row), sender, limit_key(limit_prefix, sender),
  gcra_key(limit_prefix, sender), pair_key(limit_prefix, sender),
  tier_key(limit_prefix, sender), optout_key(limit_prefix), optout_source_key(limit_prefix),
  reasons_key(camp), backoff_key(limit_prefix, sender),
  pid_key(limit_prefix, ARGV[5], 'abc-1'),
  last_key(limit_prefix, ARGV[5], delivery_sender(ARGV[5], ARGV[6], nil), '491701234567'),
  window_key(limit_prefix, 'bird', delivery_sender('bird', ARGV[6], 'chan-1'), '491701234567'),
  unmatched_key(limit_prefix), minutes_key(camp, 493000)}
";
        let got: Vec<String> = redis::Script::new(&format!("{COMMON}\n{names}"))
            .arg(keys.campaign_prefix())
            .arg(keys.limit_prefix())
            .arg(id.as_str())
            .arg(7)
            .arg(ProviderKind::Seven.as_str())
            .arg(sender.digits())
            .invoke_async(&mut queue.connection())
            .await
            .unwrap();
        let name = sender_name(ProviderKind::Seven, &sender);
        let want = [
            keys.campaign(&id),
            keys.message(&id, 7),
            keys.message(&id, 7),
            keys.paused(&id),
            keys.failed(&id),
            keys.campaign(&id),
            keys.message(&id, 7),
            keys.paused(&id),
            keys.failed(&id),
            message_ref(&id, 7),
            message_ref(&id, 7),
            message_ref(&id, 7),
            name.clone(),
            keys.limit(&name),
            keys.gcra(&name),
            keys.pair(&name),
            keys.tier(&name),
            keys.optout(),
            keys.optout_source(),
            keys.reasons(&id),
            keys.backoff(&name),
            keys.provider_id(ProviderKind::Seven, "abc-1"),
            keys.last_sent(
                ProviderKind::Seven,
                &sender_key(ProviderKind::Seven, sender.digits(), None),
                "491701234567",
            ),
            keys.window(
                ProviderKind::Bird,
                &sender_key(ProviderKind::Bird, sender.digits(), Some("chan-1")),
                "491701234567",
            ),
            keys.hooks_unmatched(),
            keys.minutes(&id, 493000),
        ];
        assert_eq!(got, want);
    }

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
