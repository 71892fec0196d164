//! Strict validation of Bird's `POST /workspaces/{workspaceId}/channels/{channelId}/messages`
//! body, on the raw JSON and independent of wacast's own Bird types, so that a client bug
//! shows up as a rejection here rather than being shared by client and mock.
//!
//! Rules: the seed's (at most 10 tags, `scheduledFor` at most 35 days ahead, `capFrequency`
//! only with `meta.extraInformation.useCase` `marketing`, `body` or `template`), Bird's
//! documented shapes (`+E.164` identifiers, UUID template ids or the version `latest`, bodies
//! under a key named as their `type`), and WhatsApp's limits where Bird renders to it (text 4096 characters, 1024
//! with buttons or as a caption, at most 3 buttons of 20 characters, lists of at most 10
//! sections and 10 rows with 24-character titles, template parameters without newlines, tabs
//! or runs of five spaces). Beyond what Bird documents, the mock refuses unknown fields and
//! more than one recipient, as it does for seven, and caps lengths Bird does not document
//! generously (a `reference` at 256 characters, a tag at 100) to catch runaway values. The
//! first violation is reported, as Bird's `details` would name it: `{"<path>": ["<why>"]}`.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::gateway::bird::templates::{BirdTemplates, LATEST};

/// Seed: at most 10 tags per message.
const MAX_TAGS: usize = 10;
/// Seed: messages scheduled farther than 35 days ahead are refused.
const MAX_SCHEDULE_DAYS: i64 = 35;

/// Why a request was refused: the path of the offending field and why.
#[derive(Debug)]
pub(crate) struct Invalid {
    pub(crate) path: String,
    pub(crate) message: String,
}

fn bad(path: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid {
        path: path.into(),
        message: message.into(),
    }
}

type Check<T = ()> = Result<T, Invalid>;

/// A request that passed validation.
#[derive(Debug)]
pub(crate) struct ValidBird<'a> {
    /// The recipient's digits, without `+`, as the mock counts recipients for both providers.
    pub(crate) to: String,
    pub(crate) reference: Option<&'a str>,
    /// The tags as Bird stores them: lowercase.
    pub(crate) tags: Vec<String>,
    pub(crate) scheduled_for: Option<DateTime<Utc>>,
    /// Hash of recipient and content, to spot a recipient getting the same message twice.
    pub(crate) content_key: u64,
}

const TOP_FIELDS: &[&str] = &[
    "sender",
    "receiver",
    "reference",
    "template",
    "meta",
    "replyTo",
    "body",
    "notification",
    "capFrequency",
    "enableLinkTracking",
    "ignoreQuietHours",
    "tags",
    "shortLinks",
    "scheduledFor",
    "validity",
];

/// Whether `text` is a UUID: 8-4-4-4-12 hexadecimal digits.
pub(crate) fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A field's value, with `null` read as absent.
fn field<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|value| !value.is_null())
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_owned()
    } else {
        format!("{at}.{key}")
    }
}

fn object<'a>(value: &'a Value, at: &str) -> Check<&'a Map<String, Value>> {
    value
        .as_object()
        .ok_or_else(|| bad(at, "must be an object"))
}

fn only(obj: &Map<String, Value>, at: &str, allowed: &[&str]) -> Check {
    match obj.keys().find(|key| !allowed.contains(&key.as_str())) {
        Some(key) => Err(bad(join(at, key), "is not a known field here")),
        None => Ok(()),
    }
}

fn opt_str<'a>(obj: &'a Map<String, Value>, key: &str, at: &str) -> Check<Option<&'a str>> {
    match field(obj, key) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(bad(join(at, key), "must be a string")),
    }
}

/// A required, non-blank string of at most `max` characters.
fn req_str<'a>(obj: &'a Map<String, Value>, key: &str, at: &str, max: usize) -> Check<&'a str> {
    let text = opt_str(obj, key, at)?.ok_or_else(|| bad(join(at, key), "is required"))?;
    non_blank(text, &join(at, key), max)?;
    Ok(text)
}

/// An optional string that, when present, is non-blank and at most `max` characters.
fn opt_text<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    at: &str,
    max: usize,
) -> Check<Option<&'a str>> {
    let text = opt_str(obj, key, at)?;
    if let Some(text) = text {
        non_blank(text, &join(at, key), max)?;
    }
    Ok(text)
}

fn non_blank(text: &str, path: &str, max: usize) -> Check {
    if text.trim().is_empty() {
        return Err(bad(path, "must not be empty"));
    }
    let n_chars = text.chars().count();
    if n_chars > max {
        return Err(bad(
            path,
            format!("has {n_chars} characters; at most {max} are allowed"),
        ));
    }
    Ok(())
}

fn opt_bool(obj: &Map<String, Value>, key: &str) -> Check<Option<bool>> {
    match field(obj, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(bad(key, "must be true or false")),
    }
}

fn array<'a>(obj: &'a Map<String, Value>, key: &str, at: &str) -> Check<Option<&'a Vec<Value>>> {
    match field(obj, key) {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(_) => Err(bad(join(at, key), "must be an array")),
    }
}

fn req_array<'a>(obj: &'a Map<String, Value>, key: &str, at: &str) -> Check<&'a Vec<Value>> {
    match array(obj, key, at)? {
        None => Err(bad(join(at, key), "is required")),
        Some(items) if items.is_empty() => Err(bad(join(at, key), "must not be empty")),
        Some(items) => Ok(items),
    }
}

fn is_http_url(text: &str) -> bool {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    rest.is_some_and(|rest| {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        !host.is_empty() && !rest.contains(char::is_whitespace)
    })
}

/// Validates a send request for a known workspace and channel.
pub(crate) fn validate<'a>(body: &'a Value, templates: &BirdTemplates) -> Check<ValidBird<'a>> {
    let obj = object(body, "(body)")?;
    only(obj, "", TOP_FIELDS)?;
    let to = check_receiver(obj)?;

    let content = match (field(obj, "body"), field(obj, "template")) {
        (Some(body), None) => {
            check_body(body)?;
            body
        }
        (None, Some(template)) => {
            check_template(template, templates)?;
            template
        }
        (Some(_), Some(_)) => {
            return Err(bad(
                "template",
                "must not be set together with body: a template message sets only template",
            ));
        }
        (None, None) => return Err(bad("body", "is required unless template is set")),
    };

    let reference = opt_text(obj, "reference", "", 256)?;
    let scheduled_for = match opt_str(obj, "scheduledFor", "")? {
        None => None,
        Some(text) => {
            let at = DateTime::parse_from_rfc3339(text)
                .map_err(|_| bad("scheduledFor", "must be an RFC 3339 timestamp"))?
                .with_timezone(&Utc);
            if at > Utc::now() + chrono::Duration::days(MAX_SCHEDULE_DAYS) {
                return Err(bad(
                    "scheduledFor",
                    "must not be more than 35 days in the future",
                ));
            }
            Some(at)
        }
    };
    if let Some(validity) = field(obj, "validity")
        && validity.as_u64().is_none_or(|seconds| seconds == 0)
    {
        return Err(bad("validity", "must be a whole number of seconds above 0"));
    }
    let mut tags = Vec::new();
    if let Some(items) = array(obj, "tags", "")? {
        if items.len() > MAX_TAGS {
            return Err(bad(
                "tags",
                format!(
                    "has {} entries; at most {MAX_TAGS} are allowed",
                    items.len()
                ),
            ));
        }
        for (idx, tag) in items.iter().enumerate() {
            let path = format!("tags[{idx}]");
            let tag = tag.as_str().ok_or_else(|| bad(&path, "must be a string"))?;
            non_blank(tag, &path, 100)?;
            tags.push(tag.trim().to_lowercase());
        }
    }
    opt_bool(obj, "ignoreQuietHours")?;
    opt_bool(obj, "enableLinkTracking")?;
    let use_case = check_meta(obj)?;
    if opt_bool(obj, "capFrequency")? == Some(true) && use_case != Some("marketing") {
        return Err(bad(
            "capFrequency",
            "can only be true if meta.extraInformation.useCase is marketing",
        ));
    }
    if let Some(reply_to) = field(obj, "replyTo") {
        let reply_to = object(reply_to, "replyTo")?;
        only(reply_to, "replyTo", &["id", "type"])?;
        req_str(reply_to, "id", "replyTo", 256)?;
        if opt_str(reply_to, "type", "replyTo")? != Some("message") {
            return Err(bad("replyTo.type", "must be message"));
        }
    }
    for key in ["sender", "notification", "shortLinks"] {
        if let Some(value) = field(obj, key) {
            object(value, key)?;
        }
    }

    let mut hasher = DefaultHasher::new();
    to.hash(&mut hasher);
    content.to_string().hash(&mut hasher);
    Ok(ValidBird {
        to,
        reference,
        tags,
        scheduled_for,
        content_key: hasher.finish(),
    })
}

/// `receiver.contacts`: exactly one phone number, `+` and 8 to 15 digits. `identifierKey` may
/// be left out (Bird's own examples do; the channel's key applies) but must then be
/// `phonenumber`.
fn check_receiver(obj: &Map<String, Value>) -> Check<String> {
    let receiver = object(
        field(obj, "receiver").ok_or_else(|| bad("receiver", "is required"))?,
        "receiver",
    )?;
    only(receiver, "receiver", &["contacts"])?;
    let contacts = req_array(receiver, "contacts", "receiver")?;
    if contacts.len() > 1 {
        return Err(bad(
            "receiver.contacts",
            "a WhatsApp message goes to exactly one contact",
        ));
    }
    let at = "receiver.contacts[0]";
    let contact = object(&contacts[0], at)?;
    only(contact, at, &["id", "identifierKey", "identifierValue"])?;
    if let Some(key) = opt_str(contact, "identifierKey", at)?
        && key != "phonenumber"
    {
        return Err(bad(
            join(at, "identifierKey"),
            "must be phonenumber on a WhatsApp channel",
        ));
    }
    let value = opt_str(contact, "identifierValue", at)?
        .ok_or_else(|| bad(join(at, "identifierValue"), "is required"))?;
    let digits = value.strip_prefix('+').filter(|digits| {
        (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    });
    match digits {
        Some(digits) => Ok(digits.to_owned()),
        None => Err(bad(
            join(at, "identifierValue"),
            "must be a phone number in E.164 format with a leading + (for example +31612345678)",
        )),
    }
}

fn check_meta(obj: &Map<String, Value>) -> Check<Option<&str>> {
    let Some(meta) = field(obj, "meta") else {
        return Ok(None);
    };
    let meta = object(meta, "meta")?;
    let Some(extra) = field(meta, "extraInformation") else {
        return Ok(None);
    };
    let extra = object(extra, "meta.extraInformation")?;
    opt_text(extra, "useCase", "meta.extraInformation", 100)
}

fn check_body(body: &Value) -> Check {
    let body = object(body, "body")?;
    let kind = match opt_str(body, "type", "body")? {
        Some(kind @ ("text" | "image" | "file" | "location" | "list")) => kind,
        Some(other) => {
            return Err(bad(
                "body.type",
                format!(
                    "{other:?} is not a message type a WhatsApp channel sends; use text, image, file, location or list"
                ),
            ));
        }
        None => return Err(bad("body.type", "is required")),
    };
    only(body, "body", &["type", kind])?;
    let at = format!("body.{kind}");
    let content = object(
        field(body, kind).ok_or_else(|| bad(&at, format!("is required for type {kind}")))?,
        &at,
    )?;
    match kind {
        "text" => {
            only(content, &at, &["text", "actions"])?;
            let has_actions = array(content, "actions", &at)?.is_some_and(|a| !a.is_empty());
            req_str(content, "text", &at, if has_actions { 1024 } else { 4096 })?;
            check_buttons(content, &at, true)
        }
        "image" => {
            only(content, &at, &["images", "text", "actions"])?;
            for (idx, image) in req_array(content, "images", &at)?.iter().enumerate() {
                let at = format!("{at}.images[{idx}]");
                let image = object(image, &at)?;
                only(image, &at, &["mediaUrl", "altText"])?;
                check_media_url(image, &at)?;
                opt_text(image, "altText", &at, 1024)?;
            }
            opt_text(content, "text", &at, 1024)?;
            check_buttons(content, &at, false)
        }
        "file" => {
            only(content, &at, &["files", "text", "actions"])?;
            for (idx, file) in req_array(content, "files", &at)?.iter().enumerate() {
                let at = format!("{at}.files[{idx}]");
                let file = object(file, &at)?;
                only(
                    file,
                    &at,
                    &["mediaUrl", "contentType", "filename", "altText"],
                )?;
                check_media_url(file, &at)?;
                let content_type = req_str(file, "contentType", &at, 255)?;
                if !content_type
                    .split_once('/')
                    .is_some_and(|(kind, sub)| !kind.is_empty() && !sub.is_empty())
                {
                    return Err(bad(
                        join(&at, "contentType"),
                        "must be a MIME type such as application/pdf",
                    ));
                }
                opt_text(file, "filename", &at, 240)?;
                opt_text(file, "altText", &at, 1024)?;
            }
            opt_text(content, "text", &at, 1024)?;
            check_buttons(content, &at, false)
        }
        "location" => check_location(content, &at),
        _ => check_list(content, &at),
    }
}

fn check_media_url(obj: &Map<String, Value>, at: &str) -> Check {
    let url = req_str(obj, "mediaUrl", at, 2048)?;
    if is_http_url(url) {
        Ok(())
    } else {
        Err(bad(join(at, "mediaUrl"), "must be a public http(s) URL"))
    }
}

fn check_location(content: &Map<String, Value>, at: &str) -> Check {
    only(content, at, &["coordinates", "location"])?;
    let coordinates_at = join(at, "coordinates");
    let coordinates = object(
        field(content, "coordinates").ok_or_else(|| bad(&coordinates_at, "is required"))?,
        &coordinates_at,
    )?;
    only(coordinates, &coordinates_at, &["latitude", "longitude"])?;
    for (key, limit) in [("latitude", 90.0), ("longitude", 180.0)] {
        match field(coordinates, key).and_then(Value::as_f64) {
            Some(degrees) if (-limit..=limit).contains(&degrees) => {}
            Some(_) => {
                return Err(bad(
                    join(&coordinates_at, key),
                    format!("must be between -{limit} and {limit}"),
                ));
            }
            None => {
                return Err(bad(
                    join(&coordinates_at, key),
                    "is required and must be a number",
                ));
            }
        }
    }
    if let Some(place) = field(content, "location") {
        let place_at = join(at, "location");
        let place = object(place, &place_at)?;
        only(place, &place_at, &["label", "address"])?;
        opt_text(place, "label", &place_at, 1000)?;
        opt_text(place, "address", &place_at, 1000)?;
    }
    Ok(())
}

fn check_list(content: &Map<String, Value>, at: &str) -> Check {
    only(
        content,
        at,
        &["title", "text", "altText", "items", "metadata"],
    )?;
    opt_text(content, "title", at, 60)?;
    req_str(content, "text", at, 1024)?;
    opt_text(content, "altText", at, 1024)?;
    if let Some(metadata) = field(content, "metadata") {
        let metadata_at = join(at, "metadata");
        let metadata = object(metadata, &metadata_at)?;
        only(metadata, &metadata_at, &["button"])?;
        if let Some(button) = field(metadata, "button") {
            let button_at = join(&metadata_at, "button");
            let button = object(button, &button_at)?;
            only(button, &button_at, &["label"])?;
            req_str(button, "label", &button_at, 20)?;
        }
    }
    let items = req_array(content, "items", at)?;
    if items.len() > 10 {
        return Err(bad(
            join(at, "items"),
            format!("has {} sections; at most 10 are allowed", items.len()),
        ));
    }
    let mut n_rows = 0;
    let mut payloads = HashSet::new();
    for (idx, item) in items.iter().enumerate() {
        let item_at = format!("{at}.items[{idx}]");
        let item = object(item, &item_at)?;
        only(item, &item_at, &["title", "actions"])?;
        if opt_text(item, "title", &item_at, 24)?.is_none() && items.len() > 1 {
            return Err(bad(
                join(&item_at, "title"),
                "is required when a list has several sections",
            ));
        }
        for (row_idx, action) in req_array(item, "actions", &item_at)?.iter().enumerate() {
            n_rows += 1;
            let row_at = format!("{item_at}.actions[{row_idx}]");
            let (kind, action) = check_action(action, &row_at)?;
            if kind != "postback" {
                return Err(bad(
                    join(&row_at, "type"),
                    "must be postback in a list: the payload says which row was chosen",
                ));
            }
            req_str(action, "text", &join(&row_at, kind), 24)?;
            let payload = req_str(action, "payload", &join(&row_at, kind), 200)?;
            if !payloads.insert(payload) {
                return Err(bad(
                    format!("{row_at}.{kind}.payload"),
                    "repeats the payload of another row",
                ));
            }
        }
    }
    if n_rows > 10 {
        return Err(bad(
            join(at, "items"),
            format!("has {n_rows} rows in all; at most 10 are allowed"),
        ));
    }
    Ok(())
}

/// One action: `{"type": kind, kind: {...}}` with the fields of its kind. Returns the kind and
/// its content.
fn check_action<'a>(action: &'a Value, at: &str) -> Check<(&'a str, &'a Map<String, Value>)> {
    let action = object(action, at)?;
    let kind = match opt_str(action, "type", at)? {
        Some(kind @ ("reply" | "postback" | "locationRequest")) => kind,
        Some(other) => {
            return Err(bad(
                join(at, "type"),
                format!("{other:?} is not an action type; use reply, postback or locationRequest"),
            ));
        }
        None => return Err(bad(join(at, "type"), "is required")),
    };
    only(action, at, &["type", kind])?;
    let content_at = join(at, kind);
    let content = object(
        field(action, kind).ok_or_else(|| bad(&content_at, "is required"))?,
        &content_at,
    )?;
    let fields: &[&str] = if kind == "postback" {
        &["text", "payload"]
    } else {
        &["text"]
    };
    only(content, &content_at, fields)?;
    req_str(content, "text", &content_at, 1024)?;
    Ok((kind, content))
}

/// The `actions` of a text, image or file body: at most 3 reply or postback buttons with
/// titles of at most 20 characters and unique payloads, or (text only) one location request.
fn check_buttons(content: &Map<String, Value>, at: &str, location_request_allowed: bool) -> Check {
    let Some(actions) = array(content, "actions", at)? else {
        return Ok(());
    };
    let actions_at = join(at, "actions");
    if actions.len() > 3 {
        return Err(bad(
            &actions_at,
            format!("has {} buttons; WhatsApp shows at most 3", actions.len()),
        ));
    }
    let mut payloads = HashSet::new();
    for (idx, action) in actions.iter().enumerate() {
        let action_at = format!("{actions_at}[{idx}]");
        let (kind, content) = check_action(action, &action_at)?;
        let content_at = join(&action_at, kind);
        if kind == "locationRequest" {
            if !location_request_allowed {
                return Err(bad(
                    join(&action_at, "type"),
                    "locationRequest is only allowed on text messages",
                ));
            }
            if actions.len() > 1 {
                return Err(bad(
                    &actions_at,
                    "a locationRequest must be the only action",
                ));
            }
            continue;
        }
        req_str(content, "text", &content_at, 20)?;
        if kind == "postback" {
            let payload = req_str(content, "payload", &content_at, 256)?;
            if !payloads.insert(payload) {
                return Err(bad(
                    join(&content_at, "payload"),
                    "repeats the payload of another button",
                ));
            }
        }
    }
    Ok(())
}

/// WhatsApp's own wording for its error 132018.
const PARAM_FORMAT_ERROR: &str =
    "(#132018) Param text cannot have new-line/tab characters or more than 4 consecutive spaces";

fn check_template(template: &Value, templates: &BirdTemplates) -> Check {
    let template = object(template, "template")?;
    only(
        template,
        "template",
        &["projectId", "version", "locale", "parameters"],
    )?;
    let project = req_str(template, "projectId", "template", 36)?;
    let version = req_str(template, "version", "template", 36)?;
    if !is_uuid(project) {
        return Err(bad(join("template", "projectId"), "must be a UUID"));
    }
    if version != LATEST && !is_uuid(version) {
        return Err(bad(join("template", "version"), "must be a UUID or latest"));
    }
    let locale = req_str(template, "locale", "template", 16)?;
    let spec = templates.get(project, version, locale).ok_or_else(|| {
        bad(
            "template",
            "no approved template with this projectId, version and locale",
        )
    })?;
    let expected = spec.parameter_set();
    let mut given = HashSet::new();
    for (idx, parameter) in array(template, "parameters", "template")?
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let at = format!("template.parameters[{idx}]");
        let parameter = object(parameter, &at)?;
        only(parameter, &at, &["type", "key", "value"])?;
        if opt_str(parameter, "type", &at)? != Some("string") {
            return Err(bad(join(&at, "type"), "must be string"));
        }
        let key = req_str(parameter, "key", &at, 256)?;
        if !expected.contains(key) {
            return Err(bad(
                join(&at, "key"),
                format!("the template has no variable {key:?}"),
            ));
        }
        if !given.insert(key) {
            return Err(bad(join(&at, "key"), format!("{key:?} is given twice")));
        }
        let value = req_str(parameter, "value", &at, 1024)?;
        if value.contains(['\n', '\r', '\t']) || value.contains("     ") {
            return Err(bad(join(&at, "value"), PARAM_FORMAT_ERROR));
        }
    }
    if let Some(missing) = spec.parameters.iter().find(|p| !given.contains(p.as_str())) {
        return Err(bad(
            "template.parameters",
            format!("the template's variable {missing:?} has no value"),
        ));
    }
    Ok(())
}
