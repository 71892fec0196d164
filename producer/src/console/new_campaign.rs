//! The new campaign page: upload a CSV (streamed to disk, size-capped), choose seven or Bird,
//! pick the template and map the file's columns to its parameters (or freetext, or an image),
//! see the dry run, then enqueue it in the background with a progress bar; the same ingest
//! pipeline, rules and messages as `wacast enqueue`.
//!
//! - `routes`: the routes and their handlers; `view`: the markup.
//! - `form`: the form's fields → the upload request; `mapping`: the template's parameters →
//!   the file's columns; `uploads`: the uploaded files; `job`: the dry run and the background
//!   enqueue.

mod form;
mod job;
mod mapping;
mod routes;
mod uploads;
mod view;

pub(crate) use routes::routes;
