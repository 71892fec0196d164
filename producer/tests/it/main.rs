//! Integration tests of the `wacast` binary: one test binary, run against a private
//! `redis-server` (`wacast_shared::testing`) with a fresh key prefix per test.

mod enqueue;
mod support;
