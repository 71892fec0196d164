//! Where a Bird campaign goes (`--workspace`, `--channel`, `--tag`), checked against what Bird
//! would refuse for every message, before anything is read or written.

use anyhow::{Context, ensure};
use wacast_shared::campaign::{BirdTarget, ProviderKind};
use wacast_shared::provider::bird::message as bird_message;
use wacast_shared::provider::bird::validate::{MAX_TAGS, is_uuid};
use wacast_shared::render;

use crate::ingest::csv_import::Layout;
use crate::ingest::request::IngestRequest;

/// `--workspace`, `--channel` and `--tag` as the campaign's Bird target, checked against what
/// Bird would refuse for every message: a missing or malformed workspace or channel id, and
/// more than 10 tags (the label is one). `None` for seven, which refuses Bird's flags rather
/// than drop them.
///
/// Bird also refuses a `scheduledFor` more than 35 days ahead. wacast asks for one only when it
/// hands a message over before its send time, at most `--handoff-ahead` before it, which its
/// parser caps at 7 days; the worker validates every request again before sending it.
pub(crate) fn bird_target(request: &IngestRequest) -> anyhow::Result<Option<BirdTarget>> {
    let flags = &request.bird;
    if request.provider == ProviderKind::Seven {
        ensure!(
            flags.workspace.is_none() && flags.channel.is_none() && flags.tags.is_empty(),
            "--workspace, --channel and --tag are Bird's: add --provider bird, or leave them out \
             for seven"
        );
        return Ok(None);
    }
    ensure!(
        !request.delivery.performance_tracking,
        "--performance-tracking is seven's click tracking: Bird's Channels API has no such \
         option, so leave it out for --provider bird"
    );
    let id = |flag: &str, value: Option<&str>, what: &str| -> anyhow::Result<String> {
        let value = value
            .map(str::trim)
            .with_context(|| format!("--provider bird needs {flag} UUID: {what}"))?;
        ensure!(
            is_uuid(value),
            "{flag} {value:?} is not a UUID: {what} (it looks like \
             0b9c3f7e-1a2b-4c5d-8e9f-0a1b2c3d4e5f)"
        );
        Ok(value.to_ascii_lowercase())
    };
    let workspace_id = id(
        "--workspace",
        flags.workspace.as_deref(),
        "copy the workspace's id from Bird's workspace settings",
    )?;
    let channel_id = id(
        "--channel",
        flags.channel.as_deref(),
        "copy the WhatsApp channel's id from its settings in Bird",
    )?;
    let mut tags: Vec<String> = Vec::with_capacity(flags.tags.len());
    for tag in flags.tags.iter().map(|t| bird_message::tag(t)) {
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    let label_tag = request
        .delivery
        .label
        .as_deref()
        .map(bird_message::tag)
        .filter(|label| !tags.contains(label));
    let n_tags = tags.len() + usize::from(label_tag.is_some());
    ensure!(
        n_tags <= MAX_TAGS,
        "Bird takes at most {MAX_TAGS} tags per message, and these options give {n_tags} \
         ({} --tag{}): drop some",
        tags.len(),
        if label_tag.is_some() {
            " and --label, which Bird gets as a tag"
        } else {
            ""
        }
    );
    Ok(Some(BirdTarget {
        workspace_id,
        channel_id,
        tags,
    }))
}

/// A `label` column makes its row's label one more tag: with 10 tags already, Bird would
/// refuse every row that has one.
pub(crate) fn check_label_column_tag(bird: &BirdTarget, layout: &Layout) -> anyhow::Result<()> {
    let has_label_column = layout
        .names
        .iter()
        .any(|name| render::normalise_column(name) == "label");
    ensure!(
        !has_label_column || bird.tags.len() < MAX_TAGS,
        "the file has a label column, whose value Bird gets as one more tag, and --tag gives \
         {MAX_TAGS} already: Bird takes at most {MAX_TAGS}, so drop a --tag or the column"
    );
    Ok(())
}
