//! Integration tests of the `wacast` binary, and of the library's `ingest` without it: one
//! test binary, run against a private `redis-server` (`wacast_shared::testing`) with a fresh
//! key prefix per test.

mod control;
mod delivery;
mod edges;
mod enqueue;
mod hostile;
mod ingest;
mod ops;
mod optout;
mod purge;
mod report;
mod retry;
mod status;
mod support;
