//! The message flags → a Bird campaign's content: `{"template": {…}}` or `{"body": {…}}` of
//! Bird's send request (seeds/002 and Bird's "Message types" documentation), with `{{column}}`
//! placeholders.
//!
//! The flags are seven's where they mean the same (`--text`, `--kind image --url`, `--caption`,
//! `--latitude`, `--reply-button`, `--sections-json`, …), plus Bird's template flags
//! (`--template-project`, `--template-version`, `--locale`, `--param KEY=COLUMN`) and
//! `--content-type` for files. What Bird cannot send (seven's video, audio, document, sticker,
//! contacts and interactive kinds as such, footers) is refused with the flag to use instead.
//! The checks here are those of the flags themselves; `bird_target` checks the workspace,
//! channel and tags, a dry run validates the first messages in full as the worker will, and the
//! worker validates every message before sending it.

use std::collections::HashSet;

use anyhow::{Context, bail, ensure};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use wacast_shared::provider::bird::message::Content;

use crate::ingest::content::fields::{
    coordinate, placeholder, read_json, refuse, reply_button, require,
};
use crate::ingest::request::{ContentRequest, Kind};

/// WhatsApp's limit of buttons on a message.
const MAX_BUTTONS: usize = 3;

/// Builds the content from the flags.
pub(super) fn build(args: &ContentRequest) -> anyhow::Result<Value> {
    refuse_seven_flags(args)?;
    if let Some(project) = &args.template_project {
        template(args, project)
    } else if let Some(text) = &args.text {
        ensure!(!text.trim().is_empty(), "--text is empty");
        let mut content = json!({"text": text});
        add_buttons(&mut content, args)?;
        Ok(body("text", content))
    } else if let Some(kind) = args.kind {
        match kind {
            Kind::Image => media(args, kind),
            Kind::File => media(args, kind),
            Kind::Location => location(args),
            Kind::List => list(args),
            Kind::Video | Kind::Audio | Kind::Document | Kind::Sticker => bail!(
                "Bird sends {} as --kind file with --content-type (e.g. {}), not --kind {}",
                match kind {
                    Kind::Video => "videos",
                    Kind::Audio => "audio",
                    Kind::Sticker => "stickers",
                    _ => "documents",
                },
                match kind {
                    Kind::Video => "video/mp4",
                    Kind::Audio => "audio/mpeg",
                    Kind::Sticker => "image/webp",
                    _ => "application/pdf",
                },
                kind.as_str()
            ),
            Kind::Contacts => {
                bail!("Bird's Channels API does not send contacts: use --provider seven")
            }
            Kind::Interactive => bail!(
                "for Bird, buttons go on the message itself (--text … --reply-button ID:TITLE) and \
                 a list is --kind list"
            ),
        }
    } else if let Some(path) = &args.content_json {
        content_json(path)
    } else {
        bail!("give one of --template-project, --text, --kind or --content-json")
    }
}

/// seven's flags that have no meaning for Bird: refused rather than silently dropped.
fn refuse_seven_flags(args: &ContentRequest) -> anyhow::Result<()> {
    ensure!(
        args.template.is_none(),
        "--template names a seven template: for Bird give --template-project UUID and --locale"
    );
    ensure!(
        args.interactive_type.is_none(),
        "--interactive-type is seven's: for Bird, use --reply-button on a text, image or file \
         message, or --kind list"
    );
    ensure!(
        args.footer_text.is_none(),
        "--footer-text is seven's: Bird's messages have no footer"
    );
    ensure!(
        args.contact_first_name.is_none()
            && args.contact_last_name.is_none()
            && args.contact_phone.is_none(),
        "--contact-* is seven's: Bird's Channels API does not send contacts"
    );
    ensure!(
        args.templates.is_none(),
        "--templates lists seven's templates: Bird checks its own (a message with a template \
         Bird does not know fails with Bird's reason)"
    );
    Ok(())
}

/// `{"body": {"type": kind, kind: content}}`.
fn body(kind: &str, content: Value) -> Value {
    let mut inner = Map::new();
    inner.insert("type".into(), kind.into());
    inner.insert(kind.into(), content);
    json!({ "body": inner })
}

fn template(args: &ContentRequest, project: &str) -> anyhow::Result<Value> {
    let locale = args
        .locale
        .as_deref()
        .context("--template-project needs --locale")?;
    let mut keys = HashSet::new();
    let parameters = args
        .param
        .iter()
        .map(|spec| {
            let (key, column) = spec
                .split_once('=')
                .map(|(k, c)| (k.trim(), c.trim()))
                .filter(|(k, c)| !k.is_empty() && !c.is_empty())
                .with_context(|| {
                    format!("--param {spec:?} must be KEY=COLUMN, e.g. name=first_name")
                })?;
            ensure!(keys.insert(key), "--param {key} is given twice");
            Ok(json!({"type": "string", "key": key, "value": placeholder(column)?}))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut template = json!({
        "projectId": project.trim(),
        "version": args.template_version.trim(),
        "locale": locale.trim(),
    });
    if !parameters.is_empty() {
        template["parameters"] = Value::Array(parameters);
    }
    let content = json!({ "template": template });
    // Nothing of a template but its values holds a placeholder, and a placeholder is a valid
    // value: the whole template can be checked now (project and version ids, locale, keys).
    Content::deserialize(&content)
        .context("the Bird template is invalid")?
        .validate()
        .context("the Bird template is invalid")?;
    Ok(content)
}

/// `--reply-button ID:TITLE` as postback actions, whose payload (the id) comes back when
/// chosen.
fn add_buttons(content: &mut Value, args: &ContentRequest) -> anyhow::Result<()> {
    if args.reply_button.is_empty() {
        return Ok(());
    }
    ensure!(
        args.reply_button.len() <= MAX_BUTTONS,
        "give at most {MAX_BUTTONS} --reply-button (got {})",
        args.reply_button.len()
    );
    let mut ids = HashSet::new();
    let actions = args
        .reply_button
        .iter()
        .map(|spec| {
            let (id, title) = reply_button(spec)?;
            ensure!(ids.insert(id), "--reply-button id {id:?} is given twice");
            Ok(json!({"type": "postback", "postback": {"text": title, "payload": id}}))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    content["actions"] = Value::Array(actions);
    Ok(())
}

fn media(args: &ContentRequest, kind: Kind) -> anyhow::Result<Value> {
    let name = kind.as_str();
    let url = require(&args.url, "--url", name)?;
    ensure!(
        url.contains("{{") || url.starts_with("https://") || url.starts_with("http://"),
        "--url {url:?} is not a URL: give https://… or a {{{{column}}}} holding one"
    );
    let mut content = if kind == Kind::File {
        let content_type = require(&args.content_type, "--content-type", name)?;
        ensure!(
            content_type.contains("{{")
                || content_type
                    .split_once('/')
                    .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty()),
            "--content-type {content_type:?} is not a MIME type such as application/pdf"
        );
        let mut file = json!({"mediaUrl": url, "contentType": content_type});
        if let Some(filename) = &args.filename {
            file["filename"] = filename.as_str().into();
        }
        json!({ "files": [file] })
    } else {
        refuse(&args.filename, "--filename", name)?;
        refuse(&args.content_type, "--content-type", name)?;
        json!({ "images": [{"mediaUrl": url}] })
    };
    if let Some(caption) = &args.caption {
        content["text"] = caption.as_str().into();
    }
    add_buttons(&mut content, args)?;
    Ok(body(name, content))
}

fn location(args: &ContentRequest) -> anyhow::Result<Value> {
    let lat = require(&args.latitude, "--latitude", "location")?;
    let lon = require(&args.longitude, "--longitude", "location")?;
    let mut content = json!({
        "coordinates": {
            "latitude": coordinate(lat, "--latitude", 90.0)?,
            "longitude": coordinate(lon, "--longitude", 180.0)?,
        },
    });
    let mut place = Map::new();
    if let Some(name) = &args.name {
        place.insert("label".into(), name.as_str().into());
    }
    if let Some(address) = &args.address {
        place.insert("address".into(), address.as_str().into());
    }
    if !place.is_empty() {
        content["location"] = Value::Object(place);
    }
    ensure!(
        args.reply_button.is_empty(),
        "--reply-button is for text, image and file messages"
    );
    Ok(body("location", content))
}

fn list(args: &ContentRequest) -> anyhow::Result<Value> {
    let text = require(&args.body_text, "--body-text", "list")?;
    let path = args
        .sections_json
        .as_deref()
        .context("--kind list needs --sections-json FILE")?;
    let mut content = json!({"text": text, "items": items(path)?});
    if let Some(title) = &args.header_text {
        content["title"] = title.as_str().into();
    }
    if let Some(label) = &args.button_text {
        content["metadata"] = json!({"button": {"label": label}});
    }
    ensure!(
        args.reply_button.is_empty(),
        "--reply-button is for text, image and file messages; a list's choices come from \
         --sections-json"
    );
    Ok(body("list", content))
}

/// A list's sections: seven's shape (`rows` of `id`, `title`), converted to Bird's postback
/// choices, or Bird's own `items` (`actions`), kept as they are.
fn items(path: &std::path::Path) -> anyhow::Result<Value> {
    let sections = read_json(path)?;
    let shown = path.display();
    let list = sections
        .as_array()
        .filter(|l| !l.is_empty())
        .with_context(|| format!("{shown} must hold a non-empty JSON list of sections"))?;
    let mut items = Vec::with_capacity(list.len());
    for (i, section) in list.iter().enumerate() {
        let n = i + 1;
        let section = section
            .as_object()
            .with_context(|| format!("{shown}: section {n} must be an object"))?;
        if section.contains_key("actions") {
            items.push(Value::Object(section.clone()));
            continue;
        }
        let rows = section
            .get("rows")
            .and_then(Value::as_array)
            .filter(|r| !r.is_empty())
            .with_context(|| {
                format!(
                    "{shown}: section {n} needs a non-empty \"rows\" (or Bird's \"actions\") list"
                )
            })?;
        let mut actions = Vec::with_capacity(rows.len());
        for (j, row) in rows.iter().enumerate() {
            let field = |name: &str| {
                row.get(name)
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .with_context(|| {
                        format!(
                            "{shown}: section {n}, row {} needs a {name:?} string",
                            j + 1
                        )
                    })
            };
            ensure!(
                row.get("description").is_none(),
                "{shown}: section {n}, row {} has a description, which Bird's lists do not show: \
                 remove it",
                j + 1
            );
            actions.push(json!({"type": "postback",
                                "postback": {"text": field("title")?, "payload": field("id")?}}));
        }
        let mut item = json!({ "actions": actions });
        if let Some(title) = section.get("title") {
            item["title"] = title.clone();
        }
        items.push(item);
    }
    Ok(Value::Array(items))
}

fn content_json(path: &std::path::Path) -> anyhow::Result<Value> {
    let content = read_json(path)?;
    let shown = path.display();
    let object = content.as_object().with_context(|| {
        format!("{shown} must hold a JSON object: {{\"body\": {{…}}}} or {{\"template\": {{…}}}}")
    })?;
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    ensure!(
        matches!(keys.as_slice(), ["body"] | ["template"]),
        "{shown} has {keys:?}: a Bird message's content is {{\"body\": {{…}}}} or \
         {{\"template\": {{…}}}} alone; the receiver comes from the CSV and the delivery \
         options from --delay, --ttl, --label and --tag"
    );
    Ok(content)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::ContentArgs;
    use crate::cmd::enqueue::content_request;

    #[derive(Parser)]
    struct Harness {
        #[command(flatten)]
        content: ContentArgs,
    }

    const PROJECT: &str = "0b9c3f7e-1a2b-4c5d-8e9f-0a1b2c3d4e5f";

    fn build_from(flags: &[&str]) -> anyhow::Result<Value> {
        let harness =
            Harness::try_parse_from(std::iter::once("wacast").chain(flags.iter().copied()))?;
        build(&content_request(&harness.content))
    }

    fn check(flags: &[&str], expect: Value) {
        assert_eq!(build_from(flags).unwrap(), expect, "{flags:?}");
    }

    fn check_err(flags: &[&str], fragment: &str) {
        let err = format!("{:#}", build_from(flags).unwrap_err());
        assert!(err.contains(fragment), "{flags:?}: {err}");
    }

    #[test]
    fn builds_each_kind_of_bird_content() {
        check(
            &[
                "--template-project",
                PROJECT,
                "--locale",
                "en",
                "--param",
                "name=First Name",
                "--param",
                "order=order_id",
            ],
            json!({"template": {"projectId": PROJECT, "version": "latest", "locale": "en",
                "parameters": [{"type": "string", "key": "name", "value": "{{first_name}}"},
                               {"type": "string", "key": "order", "value": "{{order_id}}"}]}}),
        );
        check(
            &["--text", "Hi {{name}}", "--reply-button", "yes:Yes"],
            json!({"body": {"type": "text", "text": {"text": "Hi {{name}}", "actions": [
                {"type": "postback", "postback": {"text": "Yes", "payload": "yes"}}]}}}),
        );
        check(
            &[
                "--kind",
                "image",
                "--url",
                "{{photo}}",
                "--caption",
                "For {{name}}",
            ],
            json!({"body": {"type": "image", "image": {"images": [{"mediaUrl": "{{photo}}"}],
                "text": "For {{name}}"}}}),
        );
        check(
            &[
                "--kind",
                "file",
                "--url",
                "https://x.example/{{f}}.pdf",
                "--content-type",
                "application/pdf",
                "--filename",
                "invoice.pdf",
            ],
            json!({"body": {"type": "file", "file": {"files": [{"mediaUrl":
                "https://x.example/{{f}}.pdf", "contentType": "application/pdf",
                "filename": "invoice.pdf"}]}}}),
        );
        check(
            &[
                "--kind",
                "location",
                "--latitude",
                "{{lat}}",
                "--longitude",
                "13.4",
                "--name",
                "Shop",
            ],
            json!({"body": {"type": "location", "location": {"coordinates":
                {"latitude": "{{lat}}", "longitude": 13.4}, "location": {"label": "Shop"}}}}),
        );
    }

    #[test]
    fn lists_take_seven_s_sections_or_bird_s_items() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(
            &path,
            r#"[{"title": "Sizes", "rows": [{"id": "s", "title": "Small"}]},
                {"title": "More", "actions": [{"type": "postback",
                 "postback": {"text": "Large", "payload": "l"}}]}]"#,
        )
        .unwrap();
        check(
            &[
                "--kind",
                "list",
                "--body-text",
                "Pick {{name}}",
                "--button-text",
                "Sizes",
                "--sections-json",
                path.to_str().unwrap(),
            ],
            json!({"body": {"type": "list", "list": {"text": "Pick {{name}}",
                "metadata": {"button": {"label": "Sizes"}}, "items": [
                {"title": "Sizes", "actions": [{"type": "postback",
                    "postback": {"text": "Small", "payload": "s"}}]},
                {"title": "More", "actions": [{"type": "postback",
                    "postback": {"text": "Large", "payload": "l"}}]}]}}}),
        );
        std::fs::write(
            &path,
            r#"[{"rows": [{"id": "s", "title": "Small", "description": "d"}]}]"#,
        )
        .unwrap();
        check_err(
            &[
                "--kind",
                "list",
                "--body-text",
                "b",
                "--sections-json",
                path.to_str().unwrap(),
            ],
            "has a description",
        );
    }

    #[test]
    fn what_bird_cannot_send_is_refused_with_the_way_it_can() {
        check_err(
            &["--template", "order", "--language", "de"],
            "--template-project UUID",
        );
        check_err(
            &["--kind", "document", "--url", "https://a/b"],
            "--kind file",
        );
        check_err(&["--kind", "contacts"], "does not send contacts");
        check_err(
            &["--kind", "file", "--url", "https://a/b.pdf"],
            "needs --content-type",
        );
        check_err(
            &["--template-project", "spring", "--locale", "en"],
            "is not a UUID",
        );
        check_err(
            &["--template-project", PROJECT, "--locale", "english"],
            "is not a locale",
        );
        check_err(
            &[
                "--template-project",
                PROJECT,
                "--locale",
                "en",
                "--param",
                "name",
            ],
            "KEY=COLUMN",
        );
        check_err(
            &[
                "--text",
                "x",
                "--reply-button",
                "a:A",
                "--reply-button",
                "b:B",
                "--reply-button",
                "c:C",
                "--reply-button",
                "d:D",
            ],
            "at most 3",
        );
    }

    #[test]
    fn content_json_takes_body_or_template_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        std::fs::write(
            &path,
            r#"{"body": {"type": "text", "text": {"text": "Hi {{name}}"}}, "tags": ["x"]}"#,
        )
        .unwrap();
        check_err(&["--content-json", path.to_str().unwrap()], "alone");
        std::fs::write(
            &path,
            r#"{"body": {"type": "text", "text": {"text": "Hi {{name}}"}}}"#,
        )
        .unwrap();
        check(
            &["--content-json", path.to_str().unwrap()],
            json!({"body": {"type": "text", "text": {"text": "Hi {{name}}"}}}),
        );
    }
}
