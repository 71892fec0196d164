//! wacast's one end-to-end test binary: real binaries, real HTTP, real Redis.

mod bird;
mod callbacks;
mod check_config;
mod clock;
mod failover;
mod fleet;
mod health;
mod hooks;
mod hostile;
mod memory;
mod mock_gateway;
mod operator;
mod redis_cli;
mod sender;
mod shell;
mod support;
mod watch;
mod tls;
mod worker;
mod zombie;
