//! Checks a [`BirdMessage`] against Bird's and WhatsApp's rules before any request is made, so
//! that a message that cannot succeed costs no request and fails with a reason an operator can
//! act on.
//!
//! The seed states some rules: at most 10 tags, `scheduledFor` at most 35 days ahead,
//! `capFrequency` only with `meta.extraInformation.useCase` `marketing`, `body` or `template`.
//! Bird's public documentation adds the shapes (UUIDs for template projects and versions, or
//! `latest` for the newest approved version, as its template examples send; `+` and digits for
//! phone numbers). Where both are silent, the limits are WhatsApp Cloud API's, which Bird
//! renders to: those and the field checks are shared with seven's in
//! [`crate::provider::validate`]. Field names in errors are the wire paths
//! (`body.text.actions[1].reply.text`), which is also how a campaign's content writes them.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use crate::provider::bird::message::{
    Action, BirdMessage, Body, Content, File, Files, Images, List, Location, PHONE_IDENTIFIER_KEY,
    Receiver, SendOptions, TEMPLATE_VERSION_LATEST, Template, Text, USE_CASE_MARKETING,
};
use crate::provider::validate::{
    Check, MAX_BUTTON_ID, MAX_BUTTON_TITLE, MAX_CAPTION, MAX_HEADER_FOOTER, MAX_INTERACTIVE_BODY,
    MAX_LIST_BUTTON, MAX_ROW_ID, MAX_ROW_TITLE, MAX_ROWS, MAX_SECTION_TITLE, MAX_SECTIONS,
    MAX_TEXT, Validate, ValidationError, coordinate, indexed_text, non_empty, optional_text,
    template_parameter, text, url,
};

/// Seed: "You can specify up to 10 tags per message."
pub const MAX_TAGS: usize = 10;
/// Seed: "Messages scheduled farther than 35 days will be rejected."
pub const MAX_SCHEDULE_AHEAD_DAYS: i64 = 35;
/// WhatsApp: at most 3 quick-reply buttons.
const MAX_BUTTONS: usize = 3;

/// Everything Bird and WhatsApp would refuse and that can be known without asking them, with
/// `scheduledFor` compared to `now`; what [`Valid`](crate::provider::validate::Valid) checks before a message can be sent.
impl Validate for BirdMessage {
    fn validate_at(&self, now: DateTime<Utc>) -> Check {
        receiver(&self.receiver)?;
        self.content.validate()?;
        self.options.validate_at(now)
    }
}

impl Content {
    /// Checks the body or template alone: what a campaign's content can be checked for before
    /// any recipient or send time is known.
    pub fn validate(&self) -> Check {
        match self {
            Content::Template(t) => template(t),
            Content::Body(Body::Text(t)) => text_body(t),
            Content::Body(Body::Image(i)) => images(i),
            Content::Body(Body::File(f)) => files(f),
            Content::Body(Body::Location(l)) => location(l),
            Content::Body(Body::List(l)) => list(l),
        }
    }
}

impl SendOptions {
    /// Checks the delivery options as of `now`.
    pub fn validate_at(&self, now: DateTime<Utc>) -> Check {
        if let Some(reference) = &self.reference {
            non_empty(reference, || "reference".into())?;
        }
        if let Some(at) = self.scheduled_for
            && at > now + chrono::Duration::days(MAX_SCHEDULE_AHEAD_DAYS)
        {
            return Err(ValidationError::ScheduledTooFar {
                scheduled_for: at,
                max_days: MAX_SCHEDULE_AHEAD_DAYS,
            });
        }
        if self.validity == Some(0) {
            return Err(ValidationError::ZeroValidity);
        }
        if self.tags.len() > MAX_TAGS {
            return Err(ValidationError::TooMany {
                field: "tags".into(),
                count: self.tags.len(),
                max: MAX_TAGS,
            });
        }
        for (i, tag) in self.tags.iter().enumerate() {
            non_empty(tag, || format!("tags[{i}]"))?;
        }
        if self.cap_frequency == Some(true) {
            let use_case = self
                .meta
                .as_ref()
                .and_then(|m| m.extra_information.use_case.as_deref());
            if use_case != Some(USE_CASE_MARKETING) {
                return Err(ValidationError::CapFrequencyUseCase);
            }
        }
        if let Some(reply_to) = &self.reply_to {
            non_empty(&reply_to.id, || "replyTo.id".into())?;
        }
        if let Some(use_case) = self
            .meta
            .as_ref()
            .and_then(|m| m.extra_information.use_case.as_deref())
        {
            non_empty(use_case, || "meta.extraInformation.useCase".into())?;
        }
        Ok(())
    }
}

/// Whether `text` is a UUID as Bird writes ids: 8-4-4-4-12 hexadecimal digits.
pub fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether `text` is a phone number as Bird's `identifierValue` wants it: `+`, then 8 to 15
/// digits, the first not 0.
pub fn is_e164(text: &str) -> bool {
    text.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    })
}

fn receiver(r: &Receiver) -> Check {
    if r.contacts.len() != 1 {
        return Err(ValidationError::Receivers {
            count: r.contacts.len(),
        });
    }
    let contact = &r.contacts[0];
    if contact.identifier_key != PHONE_IDENTIFIER_KEY {
        return Err(ValidationError::IdentifierKey {
            field: "receiver.contacts[0].identifierKey".into(),
            key: contact.identifier_key.clone(),
        });
    }
    if !is_e164(&contact.identifier_value) {
        return Err(ValidationError::Recipient {
            field: "receiver.contacts[0].identifierValue".into(),
        });
    }
    Ok(())
}

fn text_body(t: &Text) -> Check {
    let max = if t.actions.is_empty() {
        MAX_TEXT
    } else {
        MAX_INTERACTIVE_BODY
    };
    text(&t.text, "body.text.text", max)?;
    buttons(&t.actions, "body.text.actions", true)
}

fn images(i: &Images) -> Check {
    if i.images.is_empty() {
        return Err(ValidationError::NoEntries {
            field: "body.image.images".into(),
        });
    }
    for (n, image) in i.images.iter().enumerate() {
        url(&image.media_url, || {
            format!("body.image.images[{n}].mediaUrl")
        })?;
        if let Some(alt) = &image.alt_text {
            non_empty(alt, || format!("body.image.images[{n}].altText"))?;
        }
    }
    optional_text(i.text.as_deref(), "body.image.text", MAX_CAPTION)?;
    buttons(&i.actions, "body.image.actions", false)
}

fn files(f: &Files) -> Check {
    if f.files.is_empty() {
        return Err(ValidationError::NoEntries {
            field: "body.file.files".into(),
        });
    }
    for (n, file) in f.files.iter().enumerate() {
        one_file(file, n)?;
    }
    optional_text(f.text.as_deref(), "body.file.text", MAX_CAPTION)?;
    buttons(&f.actions, "body.file.actions", false)
}

fn one_file(file: &File, n: usize) -> Check {
    url(&file.media_url, || format!("body.file.files[{n}].mediaUrl"))?;
    let field = || format!("body.file.files[{n}].contentType");
    non_empty(&file.content_type, field)?;
    let is_mime = file
        .content_type
        .split_once('/')
        .is_some_and(|(kind, sub)| {
            !kind.is_empty() && !sub.is_empty() && !file.content_type.contains(char::is_whitespace)
        });
    if !is_mime {
        return Err(ValidationError::ContentType {
            field: field(),
            value: file.content_type.clone(),
        });
    }
    if let Some(name) = &file.filename {
        non_empty(name, || format!("body.file.files[{n}].filename"))?;
    }
    if let Some(alt) = &file.alt_text {
        non_empty(alt, || format!("body.file.files[{n}].altText"))?;
    }
    Ok(())
}

fn location(l: &Location) -> Check {
    coordinate(
        l.coordinates.latitude,
        "body.location.coordinates.latitude",
        90.0,
    )?;
    coordinate(
        l.coordinates.longitude,
        "body.location.coordinates.longitude",
        180.0,
    )?;
    if let Some(place) = &l.location {
        if let Some(label) = &place.label {
            non_empty(label, || "body.location.location.label".into())?;
        }
        if let Some(address) = &place.address {
            non_empty(address, || "body.location.location.address".into())?;
        }
    }
    Ok(())
}

/// The buttons of a text, image or file message: reply and postback actions, at most 3, or
/// (on text only) one location request.
fn buttons(actions: &[Action], field: &str, location_request_allowed: bool) -> Check {
    let is_location_request = |a: &Action| matches!(a, Action::LocationRequest(_));
    if let Some(i) = actions.iter().position(is_location_request) {
        if !location_request_allowed {
            return Err(ValidationError::ActionKind {
                field: format!("{field}[{i}]"),
                kind: "locationRequest".into(),
                allowed: "reply or postback actions (a location request goes on a text message)",
            });
        }
        if actions.len() > 1 {
            return Err(ValidationError::LocationRequestAlone {
                field: field.into(),
            });
        }
    }
    if actions.len() > MAX_BUTTONS {
        return Err(ValidationError::TooMany {
            field: field.into(),
            count: actions.len(),
            max: MAX_BUTTONS,
        });
    }
    let mut payloads = HashSet::with_capacity(actions.len());
    for (i, action) in actions.iter().enumerate() {
        let at = format!("{field}[{i}].{}", action.kind());
        indexed_text(action.text(), MAX_BUTTON_TITLE, || format!("{at}.text"))?;
        if let Action::Postback(p) = action {
            indexed_text(&p.payload, MAX_BUTTON_ID, || format!("{at}.payload"))?;
            if !payloads.insert(p.payload.as_str()) {
                return Err(ValidationError::DuplicatePayload {
                    field: format!("{at}.payload"),
                    payload: p.payload.clone(),
                });
            }
        }
    }
    Ok(())
}

fn list(l: &List) -> Check {
    if let Some(title) = &l.title {
        text(title, "body.list.title", MAX_HEADER_FOOTER)?;
    }
    text(&l.text, "body.list.text", MAX_INTERACTIVE_BODY)?;
    if let Some(alt) = &l.alt_text {
        non_empty(alt, || "body.list.altText".into())?;
    }
    if let Some(label) = l.metadata.as_ref().and_then(|m| m.button.as_ref()) {
        text(
            &label.label,
            "body.list.metadata.button.label",
            MAX_LIST_BUTTON,
        )?;
    }
    if l.items.is_empty() {
        return Err(ValidationError::NoEntries {
            field: "body.list.items".into(),
        });
    }
    if l.items.len() > MAX_SECTIONS {
        return Err(ValidationError::TooMany {
            field: "body.list.items".into(),
            count: l.items.len(),
            max: MAX_SECTIONS,
        });
    }
    let n_rows: usize = l.items.iter().map(|item| item.actions.len()).sum();
    if n_rows > MAX_ROWS {
        return Err(ValidationError::TooMany {
            field: "body.list.items[].actions".into(),
            count: n_rows,
            max: MAX_ROWS,
        });
    }
    let mut payloads = HashSet::with_capacity(n_rows);
    for (i, item) in l.items.iter().enumerate() {
        let at = format!("body.list.items[{i}]");
        match &item.title {
            Some(title) => indexed_text(title, MAX_SECTION_TITLE, || format!("{at}.title"))?,
            // WhatsApp needs a title on every section once there are several.
            None if l.items.len() > 1 => {
                return Err(ValidationError::Empty {
                    field: format!("{at}.title"),
                });
            }
            None => {}
        }
        if item.actions.is_empty() {
            return Err(ValidationError::NoEntries {
                field: format!("{at}.actions"),
            });
        }
        for (j, action) in item.actions.iter().enumerate() {
            let at = format!("{at}.actions[{j}]");
            let Action::Postback(p) = action else {
                return Err(ValidationError::ActionKind {
                    field: at,
                    kind: action.kind().into(),
                    allowed: "postback actions, whose payload says which row was chosen",
                });
            };
            indexed_text(&p.text, MAX_ROW_TITLE, || format!("{at}.postback.text"))?;
            indexed_text(&p.payload, MAX_ROW_ID, || format!("{at}.postback.payload"))?;
            if !payloads.insert(p.payload.as_str()) {
                return Err(ValidationError::DuplicatePayload {
                    field: format!("{at}.postback.payload"),
                    payload: p.payload.clone(),
                });
            }
        }
    }
    Ok(())
}

fn template(t: &Template) -> Check {
    uuid(&t.project_id, "template.projectId")?;
    if t.version != TEMPLATE_VERSION_LATEST {
        uuid(&t.version, "template.version")?;
    }
    if !is_locale(&t.locale) {
        return Err(ValidationError::Locale(t.locale.clone()));
    }
    let mut keys = HashSet::with_capacity(t.parameters.len());
    for (i, parameter) in t.parameters.iter().enumerate() {
        non_empty(&parameter.key, || format!("template.parameters[{i}].key"))?;
        if !keys.insert(parameter.key.as_str()) {
            return Err(ValidationError::DuplicateKey {
                field: format!("template.parameters[{i}].key"),
                key: parameter.key.clone(),
            });
        }
        template_parameter(&parameter.value, || {
            format!("template.parameters[{i}].value")
        })?;
    }
    Ok(())
}

fn uuid(value: &str, field: &str) -> Check {
    if is_uuid(value) {
        Ok(())
    } else {
        Err(ValidationError::Uuid {
            field: field.into(),
            value: value.to_string(),
        })
    }
}

/// Whether `code` is one of Bird's locales: a language (`en`, `fil`) with an optional region
/// (`en-US`, `pt_BR`).
pub fn is_locale(code: &str) -> bool {
    let (lang, region) = match code.split_once(['-', '_']) {
        Some((lang, region)) => (lang, Some(region)),
        None => (code, None),
    };
    let lang_ok = (2..=3).contains(&lang.len()) && lang.bytes().all(|b| b.is_ascii_alphabetic());
    let region_ok = region
        .is_none_or(|r| (2..=4).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric()));
    lang_ok && region_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_phone_numbers_and_locales_are_recognised() {
        for (text, expect) in [
            ("0b9c3f7e-1a2b-4c5d-8e9f-0a1b2c3d4e5f", true),
            ("0B9C3F7E-1A2B-4C5D-8E9F-0A1B2C3D4E5F", true),
            ("0b9c3f7e1a2b4c5d8e9f0a1b2c3d4e5f", false),
            ("0b9c3f7e-1a2b-4c5d-8e9f-0a1b2c3d4e5", false),
            ("0b9c3f7g-1a2b-4c5d-8e9f-0a1b2c3d4e5f", false),
            ("", false),
        ] {
            assert_eq!(is_uuid(text), expect, "{text:?}");
        }
        for (text, expect) in [
            ("+4917612345678", true),
            ("+12025550123", true),
            ("4917612345678", false),
            ("+0917612345678", false),
            ("+4917", false),
            ("+49 176 12345678", false),
            ("+1234567890123456", false),
        ] {
            assert_eq!(is_e164(text), expect, "{text:?}");
        }
        for (text, expect) in [
            ("en", true),
            ("de-DE", true),
            ("pt_BR", true),
            ("fil", true),
            ("zh-Hant", true),
            ("e", false),
            ("english", false),
            ("en-", false),
        ] {
            assert_eq!(is_locale(text), expect, "{text:?}");
        }
    }
}
