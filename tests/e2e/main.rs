//! wacast's one end-to-end test binary: real binaries, real HTTP, real Redis.

mod bird;
mod callbacks;
mod clock;
mod fleet;
mod hooks;
mod mock_gateway;
mod operator;
mod redis_cli;
mod support;
mod worker;
mod zombie;
