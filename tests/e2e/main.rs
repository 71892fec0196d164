//! wacast's one end-to-end test binary: real binaries, real HTTP, real Redis.

mod mock_gateway;
mod support;
mod worker;
