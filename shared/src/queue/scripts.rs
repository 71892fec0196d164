//! The Lua scripts, each prefixed with `scripts/common.lua` and loaded once per connection by
//! `redis::Script` (EVALSHA, reloaded on NOSCRIPT after a Redis restart).

use std::sync::LazyLock;

use redis::Script;

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
