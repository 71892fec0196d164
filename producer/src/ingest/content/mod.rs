//! The message flags → the campaign's content: the provider's message with `{{column}}`
//! placeholders, checked before anything is read or written. seven's content is built in
//! [`seven`], Bird's in [`bird`]; [`fields`] holds the checks of single flags both share.

mod bird;
mod fields;
mod seven;

use anyhow::Context;
use serde_json::Value;
use wacast_shared::render;

use crate::cli::{ContentArgs, Provider};

/// Builds the content for `provider` from the flags.
pub(crate) fn build(args: &ContentArgs, provider: Provider) -> anyhow::Result<Value> {
    let content = match provider {
        Provider::Seven => seven::build(args)?,
        Provider::Bird => bird::build(args)?,
    };
    render::placeholders(&content).context("invalid placeholder in the message content")?;
    Ok(content)
}
