//! The CSV upload pipeline: a file of recipients → a campaign and one queued message per
//! valid row, with the rejected rows reported. It takes an [`IngestRequest`] (plain data; the
//! enqueue command converts its flags into one) and a [`Source`], reports warnings and progress
//! through a callback ([`Event`]), and returns an [`IngestReport`]; without a queue it is a dry
//! run.
//!
//! A run has two stages: [`prepare`] checks everything that can fail the whole upload before
//! Redis is touched, and [`Prepared::run`] creates (or resumes) the campaign and streams the
//! rows; [`run`] does both.
//!
//! - `request`: the request; `source`: the input (hash, encoding, delimiter; the header's
//!   names, which the console offers to map columns); `prepare`: the first stage, over
//!   `content` (the message from the request, per provider, and Bird's target), `templates`
//!   (the approved-templates check), `options` (delay, ttl, label, language) and
//!   `campaign_id` (the id derived from the file and the options).
//! - `run`: the second stage, over `open_campaign` (create or resume), `records` (the CSV's
//!   records with the file's line numbers, a row's byte bound and unbalanced quotes),
//!   `csv_import` (header mapping and per-row checks), `normalise` (phone numbers, with a fast
//!   path for E.164), `numbers` (the accepted numbers, 8 bytes each, for duplicates), `pump`
//!   (reader thread → Redis), `rejects` (the rejects file) and `preview` (a dry run's first
//!   messages).
//! - `event`: what a run reports as it goes; `summary`: what it reports at the end.
//!
//! Exactly once: the campaign id is derived from the file and the options (or given); a
//! finished campaign is refused, an unfinished one is resumed, and the queue skips rows whose
//! message exists, so an interrupted run can be repeated until it completes. Memory holds a
//! few chunks, each bounded in rows and in bytes, one row of at most 64 KiB being read, and the
//! set of accepted numbers, whatever the file's size.

mod campaign_id;
pub(crate) mod content;
pub(crate) mod csv_import;
mod event;
pub(crate) mod normalise;
mod numbers;
mod open_campaign;
pub(crate) mod options;
mod prepare;
mod preview;
mod pump;
mod records;
pub(crate) mod rejects;
mod request;
mod run;
mod source;
mod summary;
pub(crate) mod templates;

pub use csv_import::Reason;
pub use event::{Event, Progress};
pub use prepare::{Prepared, prepare};
pub use request::{
    BirdOptions, ContactPhoneType, ContentRequest, DeliveryOptions, IngestRequest, InputOptions,
    InteractiveType, Kind,
};
pub use run::run;
pub use source::Source;
pub(crate) use source::header_names;
pub use summary::{Excerpt, IngestReport, Summary};
