//! The operator's commands, one module each: `enqueue` (the flags → an ingest request, the
//! progress bar), `list`, `status` (`--watch` too), `wait`, `report`, `control` (pause and
//! resume), `cancel` (with deleting messages held at seven), `retry`, `optout`, `purge`, `rate`,
//! `tier`, `hooks` (the callbacks that matched no message), `workers` (the live workers and
//! their providers' health) and `serve` (the console's flags → its configuration).
//!
//! What they share: `connect` (Redis, and the campaign a command names), `campaign_view` (a
//! campaign's JSON and text forms), `output` (stdout; times, costs and durations),
//! `refusal` (the queue's refusals with what to do instead) and `sender` (the sender argument
//! of `rate` and `tier`).

pub(crate) mod campaign_view;
pub(crate) mod cancel;
pub(crate) mod connect;
pub(crate) mod control;
pub(crate) mod enqueue;
pub(crate) mod hooks;
pub(crate) mod list;
pub(crate) mod optout;
pub(crate) mod output;
pub(crate) mod purge;
pub(crate) mod rate;
pub(crate) mod refusal;
pub(crate) mod report;
pub(crate) mod retry;
pub(crate) mod sender;
pub(crate) mod serve;
pub(crate) mod status;
pub(crate) mod tier;
pub(crate) mod wait;
pub(crate) mod workers;
