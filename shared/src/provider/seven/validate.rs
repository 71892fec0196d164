//! Checks a [`SevenMessage`] or an [`Event`] against seven's and WhatsApp's rules before any
//! request is made, so that a message that cannot succeed costs no request and fails with a
//! reason an operator can act on.
//!
//! seven's seed states some limits (2 to 3 buttons, button titles of at most 20 characters,
//! `label` and `foreign_id` charsets and lengths). Where it is silent, the limits are WhatsApp
//! Cloud API's, which seven forwards to: those and the field checks are shared with Bird's in
//! [`crate::provider::validate`].

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use crate::provider::seven::message::{
    ButtonMessage, Components, Contact, Conversation, Delay, Event, ListMessage, Location,
    MessageBody, Reaction, SendOptions, SevenMessage, Template,
};
use crate::provider::validate::{
    Check, MAX_BUTTON_ID, MAX_BUTTON_TITLE, MAX_CAPTION, MAX_HEADER_FOOTER, MAX_INTERACTIVE_BODY,
    MAX_LIST_BUTTON, MAX_ROW_ID, MAX_ROW_TITLE, MAX_ROWS, MAX_SECTION_TITLE, MAX_SECTIONS,
    MAX_TEXT, Validate, ValidationError, coordinate, indexed_text, non_empty, optional_text,
    template_parameter, text, url,
};

/// seven: statistics label, at most 100 characters.
const MAX_LABEL: usize = 100;
/// seven: `foreign_id`, at most 64 characters.
const MAX_FOREIGN_ID: usize = 64;
/// seven: an interactive button message has 2 or 3 buttons.
const BUTTONS: std::ops::RangeInclusive<usize> = 2..=3;
/// WhatsApp: a list row's description has at most 72 characters.
const MAX_ROW_DESCRIPTION: usize = 72;
/// WhatsApp: a template name has at most 512 characters.
const MAX_TEMPLATE_NAME: usize = 512;

/// Everything seven and WhatsApp would refuse and that can be known without asking them (none
/// of it depends on the time); what [`Valid`](crate::provider::validate::Valid) checks before a message can be sent.
impl Validate for SevenMessage {
    fn validate_at(&self, _now: DateTime<Utc>) -> Check {
        phone(&self.from, "from")?;
        phone(&self.to, "to")?;
        options(&self.options)?;
        match &self.body {
            MessageBody::Template(t) => template(t),
            MessageBody::Text(t) => text(&t.text, "text", MAX_TEXT),
            MessageBody::Image(m) | MessageBody::Video(m) => {
                url(&m.url, || "url".into())?;
                optional_text(m.caption.as_deref(), "caption", MAX_CAPTION)
            }
            MessageBody::Audio(l) | MessageBody::Sticker(l) => url(&l.url, || "url".into()),
            MessageBody::Document(d) => {
                url(&d.url, || "url".into())?;
                non_empty(&d.filename, || "filename".into())?;
                optional_text(d.caption.as_deref(), "caption", MAX_CAPTION)
            }
            MessageBody::Location(l) => location(l),
            MessageBody::Contacts(c) => contacts(&c.contacts),
            MessageBody::Buttons(b) => buttons(b),
            MessageBody::List(l) => list(l),
        }
    }
}

/// An event's checks, what [`Valid`](crate::provider::validate::Valid) checks before it can be sent.
impl Validate for Event {
    fn validate_at(&self, _now: DateTime<Utc>) -> Check {
        match self {
            Event::Read(c) | Event::IsTyping(c) => conversation(c),
            Event::Reaction(r) => reaction(r),
        }
    }
}

fn phone(value: &str, field: &str) -> Check {
    if (8..=15).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ValidationError::Phone {
            field: field.into(),
        })
    }
}

fn options(options: &SendOptions) -> Check {
    if options.ttl == Some(0) {
        return Err(ValidationError::ZeroTtl);
    }
    if let Some(Delay::Unix(secs)) = options.delay
        && secs <= 0
    {
        return Err(ValidationError::Delay(secs));
    }
    if let Some(label) = &options.label {
        seven_id(label, "label", MAX_LABEL)?;
    }
    if let Some(foreign_id) = &options.foreign_id {
        seven_id(foreign_id, "foreign_id", MAX_FOREIGN_ID)?;
    }
    Ok(())
}

/// seven's charset for `label` and `foreign_id`: `a-z A-Z 0-9 . - _ @`.
fn seven_id(value: &str, field: &str, max: usize) -> Check {
    text(value, field, max)?;
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'@');
    if value.bytes().all(allowed) {
        Ok(())
    } else {
        Err(ValidationError::Charset {
            field: field.into(),
        })
    }
}

fn template(t: &Template) -> Check {
    // WhatsApp: template names are lowercase letters, digits and underscores.
    let name_ok = t
        .template
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if t.template.is_empty() || !name_ok || t.template.len() > MAX_TEMPLATE_NAME {
        return Err(ValidationError::TemplateName(t.template.clone()));
    }
    if !is_language_code(&t.language) {
        return Err(ValidationError::Language(t.language.clone()));
    }
    match &t.components {
        Some(c) => components(c),
        None => Ok(()),
    }
}

/// WhatsApp's language codes: `de`, `fil`, `en_US`, `zh_HK`.
fn is_language_code(code: &str) -> bool {
    let (lang, region) = match code.split_once('_') {
        Some((lang, region)) => (lang, Some(region)),
        None => (code, None),
    };
    let lang_ok = (2..=3).contains(&lang.len()) && lang.bytes().all(|b| b.is_ascii_lowercase());
    let region_ok = region
        .is_none_or(|r| (2..=4).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphabetic()));
    lang_ok && region_ok
}

fn components(c: &Components) -> Check {
    for (i, value) in c.header.iter().flatten().enumerate() {
        template_parameter(value, || format!("components.header[{i}]"))?;
    }
    for (i, value) in c.body.iter().flatten().enumerate() {
        template_parameter(value, || format!("components.body[{i}]"))?;
    }
    for (i, button) in c.buttons.iter().flatten().enumerate() {
        non_empty(&button.sub_type, || {
            format!("components.buttons[{i}].sub_type")
        })?;
        if button.parameters.is_empty() {
            return Err(ValidationError::NoEntries {
                field: format!("components.buttons[{i}].parameters"),
            });
        }
        for (j, parameter) in button.parameters.iter().enumerate() {
            let crate::provider::seven::message::ButtonParameter::Text { text } = parameter;
            template_parameter(text, || {
                format!("components.buttons[{i}].parameters[{j}].text")
            })?;
        }
    }
    Ok(())
}

fn location(l: &Location) -> Check {
    coordinate(l.latitude, "latitude", 90.0)?;
    coordinate(l.longitude, "longitude", 180.0)?;
    optional_non_empty(l.name.as_deref(), "name")?;
    optional_non_empty(l.address.as_deref(), "address")
}

fn contacts(contacts: &[Contact]) -> Check {
    if contacts.is_empty() {
        return Err(ValidationError::NoEntries {
            field: "contacts".into(),
        });
    }
    for (i, contact) in contacts.iter().enumerate() {
        non_empty(&contact.name.first_name, || {
            format!("contacts[{i}].name.first_name")
        })?;
        if let Some(last) = &contact.name.last_name {
            non_empty(last, || format!("contacts[{i}].name.last_name"))?;
        }
        if contact.phones.is_empty() {
            return Err(ValidationError::NoEntries {
                field: format!("contacts[{i}].phones"),
            });
        }
        for (j, phone) in contact.phones.iter().enumerate() {
            let field = || format!("contacts[{i}].phones[{j}].phone");
            non_empty(&phone.phone, field)?;
            let allowed = |c: char| c.is_ascii_digit() || " +-().".contains(c);
            if !phone.phone.chars().all(allowed) || !phone.phone.chars().any(|c| c.is_ascii_digit())
            {
                return Err(ValidationError::ContactPhone { field: field() });
            }
        }
    }
    Ok(())
}

fn buttons(b: &ButtonMessage) -> Check {
    text(&b.body, "body", MAX_INTERACTIVE_BODY)?;
    optional_text(b.header.as_deref(), "header", MAX_HEADER_FOOTER)?;
    optional_text(b.footer.as_deref(), "footer", MAX_HEADER_FOOTER)?;
    if !BUTTONS.contains(&b.buttons.len()) {
        return Err(ValidationError::ButtonCount {
            count: b.buttons.len(),
        });
    }
    let mut ids = HashSet::with_capacity(b.buttons.len());
    for (i, button) in b.buttons.iter().enumerate() {
        indexed_text(&button.id, MAX_BUTTON_ID, || format!("buttons[{i}].id"))?;
        indexed_text(&button.title, MAX_BUTTON_TITLE, || {
            format!("buttons[{i}].title")
        })?;
        if !ids.insert(button.id.as_str()) {
            return Err(ValidationError::DuplicateId {
                field: format!("buttons[{i}].id"),
                id: button.id.clone(),
            });
        }
    }
    Ok(())
}

fn list(l: &ListMessage) -> Check {
    text(&l.body, "body", MAX_INTERACTIVE_BODY)?;
    optional_text(l.header.as_deref(), "header", MAX_HEADER_FOOTER)?;
    optional_text(l.footer.as_deref(), "footer", MAX_HEADER_FOOTER)?;
    text(&l.button_text, "button_text", MAX_LIST_BUTTON)?;
    if l.sections.is_empty() {
        return Err(ValidationError::NoEntries {
            field: "sections".into(),
        });
    }
    if l.sections.len() > MAX_SECTIONS {
        return Err(ValidationError::TooMany {
            field: "sections".into(),
            count: l.sections.len(),
            max: MAX_SECTIONS,
        });
    }
    let n_rows: usize = l.sections.iter().map(|s| s.rows.len()).sum();
    if n_rows > MAX_ROWS {
        return Err(ValidationError::TooMany {
            field: "sections[].rows".into(),
            count: n_rows,
            max: MAX_ROWS,
        });
    }
    let mut ids = HashSet::with_capacity(n_rows);
    for (i, section) in l.sections.iter().enumerate() {
        indexed_text(&section.title, MAX_SECTION_TITLE, || {
            format!("sections[{i}].title")
        })?;
        if section.rows.is_empty() {
            return Err(ValidationError::NoEntries {
                field: format!("sections[{i}].rows"),
            });
        }
        for (j, row) in section.rows.iter().enumerate() {
            indexed_text(&row.id, MAX_ROW_ID, || {
                format!("sections[{i}].rows[{j}].id")
            })?;
            indexed_text(&row.title, MAX_ROW_TITLE, || {
                format!("sections[{i}].rows[{j}].title")
            })?;
            if let Some(description) = &row.description {
                indexed_text(description, MAX_ROW_DESCRIPTION, || {
                    format!("sections[{i}].rows[{j}].description")
                })?;
            }
            if !ids.insert(row.id.as_str()) {
                return Err(ValidationError::DuplicateId {
                    field: format!("sections[{i}].rows[{j}].id"),
                    id: row.id.clone(),
                });
            }
        }
    }
    Ok(())
}

fn conversation(c: &Conversation) -> Check {
    phone(&c.from, "from")?;
    if let Some(to) = &c.to {
        phone(to, "to")?;
    }
    if let Some(msg_id) = &c.msg_id {
        non_empty(msg_id, || "msg_id".into())?;
    }
    if c.to.is_none() && c.msg_id.is_none() {
        return Err(ValidationError::NoTarget);
    }
    Ok(())
}

fn reaction(r: &Reaction) -> Check {
    non_empty(&r.msg_id, || "msg_id".into())?;
    // An empty emoji removes the reaction. A real emoji may contain ASCII digits, `#` or `*`
    // (keycaps), but never letters or blanks: those catch a word given instead of an emoji.
    if r.emoji
        .chars()
        .any(|c| c.is_ascii_alphabetic() || c.is_whitespace())
    {
        return Err(ValidationError::Emoji(r.emoji.clone()));
    }
    Ok(())
}

fn optional_non_empty(value: Option<&str>, field: &str) -> Check {
    value.map_or(Ok(()), |v| non_empty(v, || field.to_string()))
}
