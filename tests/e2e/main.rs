//! wacast's one end-to-end test binary: real binaries, real HTTP, real Redis.

mod bird;
mod callbacks;
mod fleet;
mod health;
mod hooks;
mod mock_gateway;
mod operator;
mod redis_cli;
mod support;
mod worker;
