//! Strict validation of `POST /api/waba/messages` and `POST /api/waba/events` bodies, on the raw
//! JSON and independent of wacast's own request types, so that a client bug shows up as a
//! rejection here rather than being shared by client and mock.
//!
//! Rules come from seven's documentation (`seeds/001_…`) and, where it only names a field,
//! from WhatsApp's Cloud API limits (text 4096 characters, captions 1024, interactive header and
//! footer 60, list button text 20, 1-10 sections with at most 10 rows in all, row title 24,
//! description 72). Beyond the seed, the mock rejects fields that do not belong to the message
//! type (a typo in a field name would otherwise be dropped silently by the real gateway) and
//! treats an explicit `null` as an absent field.

mod content;
mod schema;
mod template;

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::{Map, Value};

use crate::gateway::config::Config;
use crate::gateway::validate::content::check_content;
use crate::gateway::validate::schema::check_types;
use crate::gateway::validate::template::check_template;

/// seven's code for a bad request (validation errors, bad numbers, template errors).
pub(crate) const CODE_BAD_REQUEST: &str = "400";
/// seven's code for freetext outside the 24-hour conversation window.
pub(crate) const CODE_NO_WINDOW: &str = "7002001";

/// Why a request was refused: seven's code and a message naming the problem.
#[derive(Debug)]
pub(crate) struct Rejection {
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

pub(crate) fn bad(message: impl Into<String>) -> Rejection {
    Rejection {
        code: CODE_BAD_REQUEST,
        message: message.into(),
    }
}

/// A message that passed validation.
#[derive(Debug)]
pub(crate) struct ValidMessage<'a> {
    pub(crate) from: &'a str,
    pub(crate) to: &'a str,
    /// Freetext, media, location, contacts and interactive messages need an open window.
    pub(crate) needs_window: bool,
    pub(crate) foreign_id: Option<&'a str>,
    pub(crate) label: Option<&'a str>,
    /// When `delay` asks for sending; `None` sends now.
    pub(crate) send_at: Option<DateTime<Utc>>,
    /// The response's `text`: the message content as a JSON string, templates rendered.
    pub(crate) text: String,
    /// Hash of recipient and content, to spot a recipient getting the same message twice.
    pub(crate) content_key: u64,
}

const COMMON_FIELDS: &[&str] = &[
    "from",
    "to",
    "type",
    "delay",
    "ttl",
    "label",
    "performance_tracking",
    "foreign_id",
];

fn type_fields(kind: &str, interactive_type: Option<&str>) -> &'static [&'static str] {
    match (kind, interactive_type) {
        ("template", _) => &["template", "language", "components"],
        ("text", _) => &["text"],
        ("image" | "video", _) => &["url", "caption"],
        ("audio" | "sticker", _) => &["url"],
        ("document", _) => &["url", "filename", "caption"],
        ("location", _) => &["latitude", "longitude", "name", "address"],
        ("contacts", _) => &["contacts"],
        ("interactive", Some("list")) => &[
            "interactive_type",
            "body",
            "header",
            "footer",
            "button_text",
            "sections",
        ],
        ("interactive", _) => &["interactive_type", "body", "header", "footer", "buttons"],
        _ => &[],
    }
}

/// A field's value, with `null` read as absent.
fn field<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|value| !value.is_null())
}

fn opt_str<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<Option<&'a str>, Rejection> {
    match field(obj, key) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(bad(format!("{at}{key} must be a string"))),
    }
}

/// A required, non-blank string of at most `max_chars` characters.
fn req_str<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    at: &str,
    max_chars: usize,
) -> Result<&'a str, Rejection> {
    let text = opt_str(obj, key, at)?.ok_or_else(|| bad(format!("{at}{key} is required")))?;
    if text.trim().is_empty() {
        return Err(bad(format!("{at}{key} must not be empty")));
    }
    check_len(text, key, at, max_chars)?;
    Ok(text)
}

fn opt_str_max<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    at: &str,
    max_chars: usize,
) -> Result<Option<&'a str>, Rejection> {
    let text = opt_str(obj, key, at)?;
    if let Some(text) = text {
        check_len(text, key, at, max_chars)?;
    }
    Ok(text)
}

fn check_len(text: &str, key: &str, at: &str, max_chars: usize) -> Result<(), Rejection> {
    let n_chars = text.chars().count();
    if n_chars > max_chars {
        return Err(bad(format!(
            "{at}{key} has {n_chars} characters; at most {max_chars} are allowed"
        )));
    }
    Ok(())
}

fn req_array<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<&'a Vec<Value>, Rejection> {
    match field(obj, key) {
        None => Err(bad(format!("{at}{key} is required"))),
        Some(Value::Array(items)) if items.is_empty() => {
            Err(bad(format!("{at}{key} must not be empty")))
        }
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(bad(format!("{at}{key} must be an array"))),
    }
}

fn as_object<'a>(value: &'a Value, at: &str) -> Result<&'a Map<String, Value>, Rejection> {
    value
        .as_object()
        .ok_or_else(|| bad(format!("{at} must be an object")))
}

/// International format as seven's wire wants it: digits only, no leading zero, 8 to 15 digits.
pub(crate) fn is_phone_number(text: &str) -> bool {
    (8..=15).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_digit())
        && !text.starts_with('0')
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

fn check_sender<'a>(
    obj: &'a Map<String, Value>,
    senders: &HashSet<String>,
) -> Result<&'a str, Rejection> {
    match opt_str(obj, "from", "")? {
        Some(from) if senders.contains(from) => Ok(from),
        Some(_) => Err(bad("Invalid WhatsApp sender number")),
        None => Err(bad(
            "from is required: your registered WhatsApp sender number",
        )),
    }
}

fn check_recipient(to: Option<&str>) -> Result<(), Rejection> {
    match to {
        Some(to) if is_phone_number(to) => Ok(()),
        Some(to) => Err(bad(format!(
            "Invalid recipient number {to:?}: use international format, digits only (8 to 15, no + or leading 0)"
        ))),
        None => Err(bad("to is required: the recipient's number")),
    }
}

/// Validates a message request body.
pub(crate) fn validate_message<'a>(
    body: &'a Value,
    config: &Config,
) -> Result<ValidMessage<'a>, Rejection> {
    let obj = body
        .as_object()
        .ok_or_else(|| bad("the request body must be a JSON object"))?;
    check_types(obj)?;
    let from = check_sender(obj, &config.senders)?;
    let to = opt_str(obj, "to", "")?;
    check_recipient(to)?;
    let to = to.unwrap_or_default();

    let kind = match opt_str(obj, "type", "")? {
        None => "text",
        Some(
            kind @ ("template" | "text" | "image" | "video" | "audio" | "document" | "sticker"
            | "location" | "contacts" | "interactive"),
        ) => kind,
        Some(other) => {
            return Err(bad(format!(
                "type {other:?} is unknown; use template, text, image, video, audio, document, sticker, location, contacts or interactive"
            )));
        }
    };
    let interactive_type = if kind == "interactive" {
        opt_str(obj, "interactive_type", "")?
    } else {
        None
    };
    let allowed = type_fields(kind, interactive_type);
    for key in obj.keys() {
        if !COMMON_FIELDS.contains(&key.as_str()) && !allowed.contains(&key.as_str()) {
            return Err(bad(format!(
                "field {key:?} is not a parameter of {kind} messages"
            )));
        }
    }

    let foreign_id = check_tag(obj, "foreign_id", 64)?;
    let label = check_tag(obj, "label", 100)?;
    if let Some(ttl) = field(obj, "ttl")
        && ttl.as_u64().is_none_or(|minutes| minutes == 0)
    {
        return Err(bad("ttl must be a whole number of minutes above 0"));
    }
    if let Some(tracking) = field(obj, "performance_tracking")
        && !tracking.is_boolean()
    {
        return Err(bad("performance_tracking must be true or false"));
    }
    let send_at = match field(obj, "delay") {
        Some(delay) => Some(parse_delay(delay, config.timezone)?),
        None => None,
    };

    let (text, content) = match kind {
        "template" => check_template(obj, config)?,
        _ => {
            check_content(obj, kind, interactive_type)?;
            (content_text(obj, kind, allowed), None)
        }
    };
    let mut hasher = DefaultHasher::new();
    to.hash(&mut hasher);
    content.as_deref().unwrap_or(&text).hash(&mut hasher);

    Ok(ValidMessage {
        from,
        to,
        needs_window: kind != "template",
        foreign_id,
        label,
        send_at,
        text,
        content_key: hasher.finish(),
    })
}

/// The response `text` of a non-template message: `type` first, then the type's fields in the
/// order the seed lists them.
fn content_text(obj: &Map<String, Value>, kind: &str, fields: &[&str]) -> String {
    let mut text = format!(r#"{{"type":"{kind}""#);
    for key in fields {
        if let Some(value) = field(obj, key) {
            text.push_str(&format!(",{}:{value}", Value::from(*key)));
        }
    }
    text.push('}');
    text
}

/// `label` and `foreign_id`: 1..=max characters from `a-zA-Z0-9.-_@`.
fn check_tag<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    max_chars: usize,
) -> Result<Option<&'a str>, Rejection> {
    let Some(tag) = opt_str(obj, key, "")? else {
        return Ok(None);
    };
    if tag.is_empty() {
        return Err(bad(format!("{key} must not be empty; omit it instead")));
    }
    check_len(tag, key, "", max_chars)?;
    if let Some(bad_char) = tag
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@')))
    {
        return Err(bad(format!(
            "{key} contains {bad_char:?}; allowed characters are a-z, A-Z, 0-9 and .-_@"
        )));
    }
    Ok(Some(tag))
}

/// `YYYY-MM-DD hh:mm:ss` in the configured time zone, or unix seconds as text (the schema
/// types `delay` as a string; `check_types` refused a number).
fn parse_delay(delay: &Value, timezone: chrono_tz::Tz) -> Result<DateTime<Utc>, Rejection> {
    let invalid = || {
        bad(format!(
            "delay {delay} must be YYYY-MM-DD hh:mm:ss or a unix timestamp in seconds"
        ))
    };
    let unix = |seconds: i64| DateTime::from_timestamp(seconds, 0).ok_or_else(invalid);
    match delay {
        Value::String(text) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
            unix(text.parse().map_err(|_| invalid())?)
        }
        Value::String(text) => {
            let local =
                NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").map_err(|_| invalid())?;
            timezone
                .from_local_datetime(&local)
                .earliest()
                .map(|at| at.with_timezone(&Utc))
                .ok_or_else(|| bad(format!("delay {text:?} does not exist in {timezone}")))
        }
        _ => Err(invalid()),
    }
}

/// A validated event.
#[derive(Debug)]
pub(crate) struct ValidEvent {
    pub(crate) event: &'static str,
}

/// Validates a `POST /api/waba/events` body.
pub(crate) fn validate_event(body: &Value, config: &Config) -> Result<ValidEvent, Rejection> {
    let obj = body
        .as_object()
        .ok_or_else(|| bad("the request body must be a JSON object"))?;
    let event = match opt_str(obj, "event", "")? {
        Some("read") => "read",
        Some("is_typing") => "is_typing",
        Some("reaction") => "reaction",
        Some(other) => {
            return Err(bad(format!(
                "event {other:?} is unknown; use read, is_typing or reaction"
            )));
        }
        None => return Err(bad("event is required: read, is_typing or reaction")),
    };
    let allowed: &[&str] = match event {
        "reaction" => &["event", "from", "to", "msg_id", "emoji"],
        _ => &["event", "from", "to", "msg_id"],
    };
    if let Some(key) = obj.keys().find(|key| !allowed.contains(&key.as_str())) {
        return Err(bad(format!(
            "field {key:?} is not a parameter of {event} events"
        )));
    }
    if event == "reaction" {
        if field(obj, "from").is_some() {
            check_sender(obj, &config.senders)?;
        }
        if let Some(to) = opt_str(obj, "to", "")? {
            check_recipient(Some(to))?;
        }
        req_str(obj, "msg_id", "", 256)?;
        // An empty emoji removes the reaction, so only its presence is required.
        let emoji =
            opt_str(obj, "emoji", "")?.ok_or_else(|| bad("emoji is required for reactions"))?;
        if emoji.chars().count() > 10 {
            return Err(bad("emoji must be a single emoji"));
        }
    } else {
        check_sender(obj, &config.senders)?;
        let to = opt_str(obj, "to", "")?;
        let msg_id = opt_str(obj, "msg_id", "")?;
        if to.is_none() && msg_id.is_none() {
            return Err(bad("at least one of to or msg_id must be provided"));
        }
        if to.is_some() {
            check_recipient(to)?;
        }
        if msg_id.is_some_and(|id| id.trim().is_empty()) {
            return Err(bad("msg_id must not be empty"));
        }
    }
    Ok(ValidEvent { event })
}
