//! The operator's commands, one module each (or per close group), and what they share.

pub(crate) mod cancel;
pub(crate) mod control;
pub(crate) mod enqueue;
pub(crate) mod limits;
pub(crate) mod list;
pub(crate) mod optout;
pub(crate) mod purge;
pub(crate) mod report;
pub(crate) mod retry;
pub(crate) mod status;
pub(crate) mod view;
pub(crate) mod wait;
