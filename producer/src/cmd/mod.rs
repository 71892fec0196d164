//! The operator's commands, one module each (or per close group), and what they share.

pub(crate) mod campaign_view;
pub(crate) mod cancel;
pub(crate) mod connect;
pub(crate) mod control;
pub(crate) mod enqueue;
pub(crate) mod list;
pub(crate) mod optout;
pub(crate) mod output;
pub(crate) mod purge;
pub(crate) mod rate;
pub(crate) mod refusal;
pub(crate) mod report;
pub(crate) mod retry;
pub(crate) mod sender;
pub(crate) mod status;
pub(crate) mod tier;
pub(crate) mod wait;
