//! Integration tests of the shared crate: one binary.

mod provider;
mod queue;
