//! wacast's one end-to-end test binary: real binaries, real HTTP, real Redis.

mod bird;
mod browser;
mod callbacks;
mod check_config;
mod clock;
mod console;
mod console_browser;
mod console_new_campaign;
mod console_support;
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
mod tls;
mod watch;
mod worker;
mod zombie;
