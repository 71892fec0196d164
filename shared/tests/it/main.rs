//! Integration tests of the shared crate: one binary.

mod batch;
mod bird;
mod classify;
mod delivery;
mod failures;
mod limits;
mod provider;
mod queue;
mod workers;
