//! The message flags → a seven campaign's content, in the shapes of `POST /api/waba/messages`
//! (seeds/001): a template with `components` arrays, a freetext `{"text": …}` (type omitted,
//! like seven's example), media with `url`, location with numbers, contacts, interactive
//! buttons and lists. `--content-json` takes any body, for what the flags do not cover.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Context, bail, ensure};
use serde_json::{Map, Value, json};

use crate::ingest::content::fields::{
    coordinate, placeholder, read_json, refuse, reply_button, require,
};
use crate::ingest::request::{ContentRequest, InteractiveType, Kind};

/// Body fields that are delivery options or the envelope, not content: they come from other
/// flags and from each row.
const ENVELOPE_FIELDS: [&str; 7] = [
    "from",
    "to",
    "delay",
    "ttl",
    "label",
    "foreign_id",
    "performance_tracking",
];

/// Bird's flags that have no meaning for seven: refused rather than silently dropped.
fn refuse_bird_flags(args: &ContentRequest) -> anyhow::Result<()> {
    ensure!(
        args.template_project.is_none(),
        "--template-project names a Bird template: add --provider bird, or give seven's \
         template with --template NAME --language LANG"
    );
    if let Some(kind @ (Kind::File | Kind::List)) = args.kind {
        bail!(
            "--kind {} is Bird's: add --provider bird, or for seven use {}",
            kind.as_str(),
            if kind == Kind::File {
                "--kind document (or image, video, audio)"
            } else {
                "--kind interactive --interactive-type list"
            }
        );
    }
    ensure!(
        args.content_type.is_none(),
        "--content-type is for Bird's --kind file: seven reads the type from the file"
    );
    Ok(())
}

/// Builds the content from the flags.
pub(super) fn build(args: &ContentRequest) -> anyhow::Result<Value> {
    refuse_bird_flags(args)?;
    let content = if let Some(name) = &args.template {
        template(args, name)?
    } else if let Some(text) = &args.text {
        ensure!(!text.trim().is_empty(), "--text is empty");
        json!({ "text": text })
    } else if let Some(kind) = args.kind {
        match kind {
            Kind::Image | Kind::Video | Kind::Audio | Kind::Document | Kind::Sticker => {
                media(args, kind)?
            }
            Kind::Location => location(args)?,
            Kind::Contacts => contacts(args)?,
            Kind::Interactive => interactive(args)?,
            // Refused above; kept apart so that a new kind cannot be forgotten here.
            Kind::File | Kind::List => {
                bail!("--kind {} is Bird's: add --provider bird", kind.as_str())
            }
        }
    } else if let Some(path) = &args.content_json {
        content_json(path)?
    } else {
        // clap's group makes one of them required.
        bail!("give one of --template, --text, --kind or --content-json")
    };
    Ok(content)
}

fn template(args: &ContentRequest, name: &str) -> anyhow::Result<Value> {
    let language = args
        .language
        .as_deref()
        .context("--template needs --language")?;
    crate::ingest::options::check_language(language).map_err(anyhow::Error::msg)?;
    ensure!(
        !name.is_empty() && !name.contains(char::is_whitespace),
        "template name {name:?} is not a template name: use the name as approved, e.g. order_confirmation"
    );
    let columns = |list: &[String]| -> anyhow::Result<Vec<Value>> {
        list.iter().map(|c| placeholder(c)).collect()
    };
    let mut components = Map::new();
    if !args.header.is_empty() {
        components.insert("header".into(), Value::Array(columns(&args.header)?));
    }
    if !args.body.is_empty() {
        components.insert("body".into(), Value::Array(columns(&args.body)?));
    }
    if !args.button.is_empty() {
        let buttons = args
            .button
            .iter()
            .map(|c| {
                Ok(json!({
                    "type": "button",
                    "sub_type": "url",
                    "parameters": [{"type": "text", "text": placeholder(c)?}],
                }))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        components.insert("buttons".into(), Value::Array(buttons));
    }
    let mut body = json!({"type": "template", "template": name, "language": language});
    if !components.is_empty() {
        body["components"] = Value::Object(components);
    }
    Ok(body)
}

fn media(args: &ContentRequest, kind: Kind) -> anyhow::Result<Value> {
    let name = kind.as_str();
    let url = require(&args.url, "--url", name)?;
    ensure!(
        url.contains("{{") || url.starts_with("https://") || url.starts_with("http://"),
        "--url {url:?} is not a URL: give https://… or a {{{{column}}}} holding one"
    );
    let mut body = json!({"type": name, "url": url});
    if matches!(kind, Kind::Audio | Kind::Sticker) {
        refuse(&args.caption, "--caption", name)?;
    } else if let Some(caption) = &args.caption {
        body["caption"] = caption.as_str().into();
    }
    if kind == Kind::Document {
        if let Some(filename) = &args.filename {
            body["filename"] = filename.as_str().into();
        }
    } else {
        refuse(&args.filename, "--filename", name)?;
    }
    Ok(body)
}

fn location(args: &ContentRequest) -> anyhow::Result<Value> {
    let lat = require(&args.latitude, "--latitude", "location")?;
    let lon = require(&args.longitude, "--longitude", "location")?;
    let mut body = json!({
        "type": "location",
        "latitude": coordinate(lat, "--latitude", 90.0)?,
        "longitude": coordinate(lon, "--longitude", 180.0)?,
    });
    if let Some(name) = &args.name {
        body["name"] = name.as_str().into();
    }
    if let Some(address) = &args.address {
        body["address"] = address.as_str().into();
    }
    Ok(body)
}

fn contacts(args: &ContentRequest) -> anyhow::Result<Value> {
    let first = require(&args.contact_first_name, "--contact-first-name", "contacts")?;
    let phone = require(&args.contact_phone, "--contact-phone", "contacts")?;
    let mut name = json!({"first_name": first});
    if let Some(last) = &args.contact_last_name {
        name["last_name"] = last.as_str().into();
    }
    Ok(json!({
        "type": "contacts",
        "contacts": [{
            "name": name,
            "phones": [{"phone": phone, "type": args.contact_phone_type.as_str()}],
        }],
    }))
}

fn interactive(args: &ContentRequest) -> anyhow::Result<Value> {
    let kind = args
        .interactive_type
        .context("--kind interactive needs --interactive-type button or list")?;
    let body_text = require(&args.body_text, "--body-text", "interactive")?;
    let mut body = json!({"type": "interactive", "body": body_text});
    match kind {
        InteractiveType::Button => {
            body["interactive_type"] = "button".into();
            ensure!(
                (2..=3).contains(&args.reply_button.len()),
                "--interactive-type button needs 2 or 3 --reply-button ID:TITLE (got {})",
                args.reply_button.len()
            );
            let mut ids = HashSet::new();
            let buttons = args
                .reply_button
                .iter()
                .map(|spec| {
                    let (id, title) = reply_button(spec)?;
                    ensure!(ids.insert(id), "--reply-button id {id:?} is given twice");
                    Ok(json!({"id": id, "title": title}))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            body["buttons"] = Value::Array(buttons);
            ensure!(
                args.button_text.is_none() && args.sections_json.is_none(),
                "--button-text and --sections-json are for --interactive-type list"
            );
        }
        InteractiveType::List => {
            body["interactive_type"] = "list".into();
            body["button_text"] =
                require(&args.button_text, "--button-text", "interactive list")?.into();
            let path = args
                .sections_json
                .as_deref()
                .context("--interactive-type list needs --sections-json FILE")?;
            body["sections"] = sections(path)?;
            ensure!(
                args.reply_button.is_empty(),
                "--reply-button is for --interactive-type button"
            );
        }
    }
    if let Some(header) = &args.header_text {
        body["header"] = header.as_str().into();
    }
    if let Some(footer) = &args.footer_text {
        body["footer"] = footer.as_str().into();
    }
    Ok(body)
}

fn sections(path: &Path) -> anyhow::Result<Value> {
    let sections = read_json(path)?;
    let shown = path.display();
    let list = sections
        .as_array()
        .filter(|l| !l.is_empty())
        .with_context(|| format!("{shown} must hold a non-empty JSON list of sections"))?;
    for (i, section) in list.iter().enumerate() {
        let n = i + 1;
        let rows = section
            .get("rows")
            .and_then(Value::as_array)
            .filter(|r| !r.is_empty())
            .with_context(|| format!("{shown}: section {n} needs a non-empty \"rows\" list"))?;
        for (j, row) in rows.iter().enumerate() {
            for field in ["id", "title"] {
                ensure!(
                    row.get(field)
                        .and_then(Value::as_str)
                        .is_some_and(|s| !s.is_empty()),
                    "{shown}: section {n}, row {} needs a {field:?} string",
                    j + 1
                );
            }
        }
    }
    Ok(sections)
}

fn content_json(path: &Path) -> anyhow::Result<Value> {
    let content = read_json(path)?;
    let shown = path.display();
    let object = content
        .as_object()
        .with_context(|| format!("{shown} must hold a JSON object: a seven message body"))?;
    for field in ENVELOPE_FIELDS {
        ensure!(
            !object.contains_key(field),
            "{shown} sets {field:?}: remove it; the recipient comes from the CSV and the \
             delivery options from --delay, --ttl, --label and --performance-tracking"
        );
    }
    let kind = object.get("type").and_then(Value::as_str).unwrap_or("text");
    match kind {
        "template" => ensure!(
            object.get("template").and_then(Value::as_str).is_some()
                && object.get("language").and_then(Value::as_str).is_some(),
            "{shown}: a template body needs \"template\" and \"language\""
        ),
        "text" => ensure!(
            object.get("text").and_then(Value::as_str).is_some(),
            "{shown}: a text body needs \"text\""
        ),
        _ => {}
    }
    Ok(content)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use wacast_shared::campaign::ProviderKind;

    use crate::cli::ContentArgs;
    use crate::cmd::enqueue::content_request;
    use crate::ingest::content::build;

    #[derive(Parser)]
    struct Harness {
        #[command(flatten)]
        content: ContentArgs,
    }

    fn build_from(flags: &[&str]) -> anyhow::Result<Value> {
        let harness =
            Harness::try_parse_from(std::iter::once("wacast").chain(flags.iter().copied()))?;
        build(&content_request(&harness.content), ProviderKind::Seven)
    }

    fn check(flags: &[&str], expect: Value) {
        assert_eq!(build_from(flags).unwrap(), expect, "{flags:?}");
    }

    fn check_err(flags: &[&str], fragment: &str) {
        let err = format!("{:#}", build_from(flags).unwrap_err());
        assert!(err.contains(fragment), "{flags:?}: {err}");
    }

    #[test]
    fn builds_each_kind_of_body() {
        check(
            &[
                "--template",
                "order",
                "--language",
                "de",
                "--header",
                "a",
                "--body",
                "Name,Order ID",
                "--button",
                "order_id",
            ],
            json!({"type": "template", "template": "order", "language": "de", "components": {
                "header": ["{{a}}"], "body": ["{{name}}", "{{order_id}}"],
                "buttons": [{"type": "button", "sub_type": "url",
                             "parameters": [{"type": "text", "text": "{{order_id}}"}]}]}}),
        );
        check(
            &["--template", "hello_world", "--language", "en_US"],
            json!({"type": "template", "template": "hello_world", "language": "en_US"}),
        );
        check(
            &["--text", "Hello {{name}}"],
            json!({"text": "Hello {{name}}"}),
        );
        check(
            &[
                "--kind",
                "document",
                "--url",
                "https://x.example/{{file}}",
                "--filename",
                "a.pdf",
                "--caption",
                "Hi",
            ],
            json!({"type": "document", "url": "https://x.example/{{file}}", "filename": "a.pdf",
                   "caption": "Hi"}),
        );
        check(
            &[
                "--kind",
                "location",
                "--latitude",
                "-33.9",
                "--longitude",
                "{{lon}}",
                "--name",
                "Shop",
            ],
            json!({"type": "location", "latitude": -33.9, "longitude": "{{lon}}", "name": "Shop"}),
        );
        check(
            &[
                "--kind",
                "contacts",
                "--contact-first-name",
                "Max",
                "--contact-phone",
                "+491234",
            ],
            json!({"type": "contacts", "contacts": [{"name": {"first_name": "Max"},
                   "phones": [{"phone": "+491234", "type": "cell"}]}]}),
        );
        check(
            &[
                "--kind",
                "interactive",
                "--interactive-type",
                "button",
                "--body-text",
                "Hi {{name}}",
                "--reply-button",
                "yes:Yes please",
                "--reply-button",
                "no:No",
                "--footer-text",
                "f",
            ],
            json!({"type": "interactive", "interactive_type": "button", "body": "Hi {{name}}",
                   "footer": "f", "buttons": [{"id": "yes", "title": "Yes please"},
                                              {"id": "no", "title": "No"}]}),
        );
    }

    #[test]
    fn flag_mistakes_are_named() {
        check_err(&["--kind", "image"], "--kind image needs --url");
        check_err(&["--kind", "image", "--url", "photo.jpg"], "is not a URL");
        check_err(
            &[
                "--kind",
                "audio",
                "--url",
                "https://a/b.mp3",
                "--caption",
                "x",
            ],
            "takes no --caption",
        );
        check_err(
            &["--kind", "location", "--latitude", "95", "--longitude", "1"],
            "--latitude \"95\" is not a number from -90 to 90",
        );
        check_err(
            &[
                "--kind",
                "interactive",
                "--interactive-type",
                "button",
                "--body-text",
                "b",
                "--reply-button",
                "a:A",
            ],
            "2 or 3 --reply-button",
        );
        check_err(
            &[
                "--kind",
                "interactive",
                "--interactive-type",
                "button",
                "--body-text",
                "b",
                "--reply-button",
                "a:A",
                "--reply-button",
                "a:B",
            ],
            "given twice",
        );
        check_err(
            &[
                "--kind",
                "interactive",
                "--interactive-type",
                "button",
                "--body-text",
                "b",
                "--reply-button",
                "a:A very long title indeed",
                "--reply-button",
                "b:B",
            ],
            "longer than 20",
        );
        check_err(
            &["--template", "order", "--language", "German"],
            "not a WhatsApp language",
        );
        check_err(&["--text", "Hi {{name"], "invalid placeholder");
    }

    #[test]
    fn content_json_refuses_envelope_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("body.json");
        std::fs::write(&path, r#"{"type": "video", "url": "{{u}}", "to": "49151"}"#).unwrap();
        check_err(&["--content-json", path.to_str().unwrap()], "sets \"to\"");
        std::fs::write(&path, r#"{"type": "video", "url": "{{u}}"}"#).unwrap();
        check(
            &["--content-json", path.to_str().unwrap()],
            json!({"type": "video", "url": "{{u}}"}),
        );
    }
}
