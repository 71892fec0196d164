//! The request's message → the campaign's content: the provider's message with `{{column}}`
//! placeholders, checked before anything is read or written. seven's content is built in
//! `seven`, Bird's in `bird`; `fields` holds the checks of single flags both share, and
//! `bird_target` the checks of Bird's workspace, channel and tags.

mod bird;
pub(crate) mod bird_target;
mod fields;
mod seven;

use anyhow::Context;
use serde_json::Value;
use wacast_shared::render;

use wacast_shared::campaign::ProviderKind;

use crate::ingest::request::ContentRequest;

/// Builds the content for `provider` from the request.
pub(crate) fn build(args: &ContentRequest, provider: ProviderKind) -> anyhow::Result<Value> {
    let content = match provider {
        ProviderKind::Seven => seven::build(args)?,
        ProviderKind::Bird => bird::build(args)?,
    };
    render::placeholders(&content).context("invalid placeholder in the message content")?;
    Ok(content)
}
