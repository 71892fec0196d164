//! The CSV upload pipeline: a file of recipients → a campaign and one queued message per
//! valid row, with the rejected rows reported.

pub(crate) mod content;
pub(crate) mod csv_import;
pub(crate) mod normalise;
pub(crate) mod options;
pub(crate) mod pump;
pub(crate) mod rejects;
pub(crate) mod source;
pub(crate) mod summary;
pub(crate) mod templates;
