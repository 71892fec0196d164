//! What `wacast rate` and `wacast tier` share: the sender argument, and how they report what
//! they set.

use std::process::ExitCode;

use anyhow::Context;
use wacast_shared::phone::PhoneNumber;

use crate::cli::{Format, GlobalArgs};
use crate::cmd::output;

/// Prints what a command set: `value` with --format json, else `text`.
pub(crate) fn done(
    global: &GlobalArgs,
    value: serde_json::Value,
    text: &str,
) -> anyhow::Result<ExitCode> {
    match global.format {
        Format::Json => output::print_json(&value)?,
        Format::Text => output::print(&format!("{text}\n"))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The sender's number, in international form.
pub(crate) fn parse_sender(text: &str) -> anyhow::Result<PhoneNumber> {
    PhoneNumber::parse(text, None).with_context(|| {
        format!("sender {text:?}: give the number in international form, e.g. +4915112345678")
    })
}
