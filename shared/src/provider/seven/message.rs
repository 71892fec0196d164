//! seven's WhatsApp request bodies, typed: [`SevenMessage`] for `POST /api/waba/messages` and
//! [`Event`] for `POST /api/waba/events`.
//!
//! The serde form is seven's wire form, field for field, so that a campaign's content (stored as
//! the JSON body it will become, see [`crate::render`]) deserialises into a [`SevenMessage`] and
//! serialises back unchanged. Two choices keep that true and safe:
//!
//! - A freetext message is written without `type`, as seven's own example does; `"type": "text"`
//!   is accepted on the way in.
//! - Unknown fields are refused, so that a misspelt `captoin` in a campaign's content is an error
//!   at enqueue time instead of a caption silently dropped on every message.
//!
//! Numbers are never validated here; `validate.rs` does that, and a client sends only a message
//! that passed it ([`crate::provider::validate::Valid`]).

use std::fmt;

use chrono::NaiveDateTime;
use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::phone::{PhoneNumber, mask};

/// One `POST /api/waba/messages` request: sender, recipient, the message and its delivery
/// options. `from` and `to` are E.164 digits without `+`, as seven writes them.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "WireMessage")]
pub struct SevenMessage {
    /// The registered WhatsApp Business sender number, e.g. `4915112345678`.
    pub from: String,
    /// The recipient, e.g. `4917612345678`.
    pub to: String,
    /// What is sent.
    #[serde(flatten)]
    pub body: MessageBody,
    /// `delay`, `ttl`, `label`, `performance_tracking`, `foreign_id`.
    #[serde(flatten)]
    pub options: SendOptions,
}

impl SevenMessage {
    /// A message from `from` to `to` with no delivery options.
    pub fn new(from: &PhoneNumber, to: &PhoneNumber, body: MessageBody) -> Self {
        SevenMessage {
            from: from.digits().to_string(),
            to: to.digits().to_string(),
            body,
            options: SendOptions::default(),
        }
    }
}

impl fmt::Debug for SevenMessage {
    // Debug output ends up in logs: the recipient is masked like every number we log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SevenMessage")
            .field("from", &self.from)
            .field("to", &mask(&self.to))
            .field("body", &self.body)
            .field("options", &self.options)
            .finish()
    }
}

/// The deserialisation order that makes flattening work: the options take their fields first,
/// and the body sees only what is left, so that it can refuse anything unknown.
#[derive(Deserialize)]
struct WireMessage {
    from: String,
    to: String,
    #[serde(flatten)]
    options: SendOptions,
    #[serde(flatten)]
    body: MessageBody,
}

impl From<WireMessage> for SevenMessage {
    fn from(wire: WireMessage) -> Self {
        SevenMessage {
            from: wire.from,
            to: wire.to,
            body: wire.body,
            options: wire.options,
        }
    }
}

/// seven's optional delivery parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendOptions {
    /// Send later, at this time (seven holds the message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Delay>,
    /// Validity in minutes; seven's default is 2880 (48 hours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
    /// Statistics label: at most 100 of `a-z A-Z 0-9 . - _ @`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Click and performance tracking for URLs in the text (turns on seven's URL shortener).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performance_tracking: Option<bool>,
    /// Our id for the message, echoed in status callbacks: at most 64 of `a-z A-Z 0-9 . - _ @`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign_id: Option<String>,
}

/// seven's `delay`: a unix timestamp, or `YYYY-MM-DD hh:mm:ss` (in seven's time zone; the seed
/// does not say which, so wacast itself only ever sends unix timestamps). Both are JSON strings,
/// as seven's `WabaMessageRequest` schema types `delay`; a number is still read (campaign
/// content written before).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delay {
    /// Seconds since the epoch, written as text (`"1796430651"`).
    Unix(i64),
    /// A wall-clock time, written as `YYYY-MM-DD hh:mm:ss`.
    At(NaiveDateTime),
}

const DELAY_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

impl Serialize for Delay {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Delay::Unix(secs) => serializer.collect_str(secs),
            Delay::At(at) => serializer.collect_str(&at.format(DELAY_FORMAT)),
        }
    }
}

impl<'de> Deserialize<'de> for Delay {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DelayVisitor;
        impl Visitor<'_> for DelayVisitor {
            type Value = Delay;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a unix timestamp or a time written YYYY-MM-DD hh:mm:ss")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Delay, E> {
                Ok(Delay::Unix(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Delay, E> {
                i64::try_from(v)
                    .map(Delay::Unix)
                    .map_err(|_| E::custom(format!("delay {v} is too large for a unix timestamp")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Delay, E> {
                if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
                    return v.parse().map(Delay::Unix).map_err(|_| {
                        E::custom(format!("delay {v} is too large for a unix timestamp"))
                    });
                }
                NaiveDateTime::parse_from_str(v, DELAY_FORMAT)
                    .map(Delay::At)
                    .map_err(|_| {
                        E::custom(format!(
                            "delay {v:?} is not a time: write YYYY-MM-DD hh:mm:ss or a unix timestamp"
                        ))
                    })
            }
        }
        deserializer.deserialize_any(DelayVisitor)
    }
}

/// What a message says: one variant per message type of seven's API.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageBody {
    /// A pre-approved template (`type: template`): the only kind that may open a conversation.
    Template(Template),
    /// Freetext (`type` omitted): only within a 24-hour conversation window.
    Text(Text),
    /// `type: image`, JPEG or PNG.
    Image(Media),
    /// `type: video`, MP4 or 3GPP.
    Video(Media),
    /// `type: audio`, MP3, OGG, AMR or AAC.
    Audio(Link),
    /// `type: document`.
    Document(Document),
    /// `type: sticker`, WebP.
    Sticker(Link),
    /// `type: location`.
    Location(Location),
    /// `type: contacts`.
    Contacts(Contacts),
    /// `type: interactive`, `interactive_type: button`: 2 or 3 reply buttons.
    Buttons(ButtonMessage),
    /// `type: interactive`, `interactive_type: list`.
    List(ListMessage),
}

impl MessageBody {
    /// The message's `type` as seven names it (`text` for freetext).
    pub fn kind(&self) -> &'static str {
        match self {
            MessageBody::Template(_) => "template",
            MessageBody::Text(_) => "text",
            MessageBody::Image(_) => "image",
            MessageBody::Video(_) => "video",
            MessageBody::Audio(_) => "audio",
            MessageBody::Document(_) => "document",
            MessageBody::Sticker(_) => "sticker",
            MessageBody::Location(_) => "location",
            MessageBody::Contacts(_) => "contacts",
            MessageBody::Buttons(_) | MessageBody::List(_) => "interactive",
        }
    }

    /// Calls `f` on every text of the body (names, captions, parameters, ids, titles, URLs:
    /// every `String` it holds), stopping at the first error. Numbers and the fixed words
    /// (`type`, `interactive_type`, a contact phone's kind) are not texts.
    ///
    /// This is how a campaign's body, parsed once with its `{{column}}` placeholders, is filled
    /// in for each row without going through JSON again. The patterns below name every field,
    /// so that a field added to a body type cannot be forgotten here.
    pub fn try_for_each_text<E>(
        &mut self,
        mut f: impl FnMut(&mut String) -> Result<(), E>,
    ) -> Result<(), E> {
        fn optional<E>(
            text: &mut Option<String>,
            f: &mut impl FnMut(&mut String) -> Result<(), E>,
        ) -> Result<(), E> {
            text.as_mut().map_or(Ok(()), f)
        }
        match self {
            MessageBody::Template(Template {
                template,
                language,
                components,
            }) => {
                f(template)?;
                f(language)?;
                if let Some(Components {
                    header,
                    body,
                    buttons,
                }) = components
                {
                    for text in header.iter_mut().chain(body.iter_mut()).flatten() {
                        f(text)?;
                    }
                    for TemplateButton {
                        kind: _,
                        sub_type,
                        parameters,
                    } in buttons.iter_mut().flatten()
                    {
                        f(sub_type)?;
                        for ButtonParameter::Text { text } in parameters {
                            f(text)?;
                        }
                    }
                }
            }
            MessageBody::Text(Text { text }) => f(text)?,
            MessageBody::Image(Media { url, caption })
            | MessageBody::Video(Media { url, caption }) => {
                f(url)?;
                optional(caption, &mut f)?;
            }
            MessageBody::Audio(Link { url }) | MessageBody::Sticker(Link { url }) => f(url)?,
            MessageBody::Document(Document {
                url,
                filename,
                caption,
            }) => {
                f(url)?;
                f(filename)?;
                optional(caption, &mut f)?;
            }
            MessageBody::Location(Location {
                latitude: _,
                longitude: _,
                name,
                address,
            }) => {
                optional(name, &mut f)?;
                optional(address, &mut f)?;
            }
            MessageBody::Contacts(Contacts { contacts }) => {
                for Contact {
                    name:
                        ContactName {
                            first_name,
                            last_name,
                        },
                    phones,
                } in contacts
                {
                    f(first_name)?;
                    optional(last_name, &mut f)?;
                    for ContactPhone { phone, kind: _ } in phones {
                        f(phone)?;
                    }
                }
            }
            MessageBody::Buttons(ButtonMessage {
                body,
                header,
                footer,
                buttons,
            }) => {
                f(body)?;
                optional(header, &mut f)?;
                optional(footer, &mut f)?;
                for ReplyButton { id, title } in buttons {
                    f(id)?;
                    f(title)?;
                }
            }
            MessageBody::List(ListMessage {
                body,
                header,
                footer,
                button_text,
                sections,
            }) => {
                f(body)?;
                optional(header, &mut f)?;
                optional(footer, &mut f)?;
                f(button_text)?;
                for ListSection { title, rows } in sections {
                    f(title)?;
                    for ListRow {
                        id,
                        title,
                        description,
                    } in rows
                    {
                        f(id)?;
                        f(title)?;
                        optional(description, &mut f)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Serialisation borrows the body into serde's internally tagged form, so that sending does not
/// copy the message.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum TaggedRef<'a> {
    Template(&'a Template),
    Image(&'a Media),
    Video(&'a Media),
    Audio(&'a Link),
    Document(&'a Document),
    Sticker(&'a Link),
    Location(&'a Location),
    Contacts(&'a Contacts),
    Interactive(InteractiveRef<'a>),
}

#[derive(Serialize)]
#[serde(tag = "interactive_type", rename_all = "lowercase")]
enum InteractiveRef<'a> {
    Button(&'a ButtonMessage),
    List(&'a ListMessage),
}

impl Serialize for MessageBody {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let tagged = match self {
            // seven's freetext example omits `type`; writing it the same way keeps content
            // round-trips exact.
            MessageBody::Text(text) => return text.serialize(serializer),
            MessageBody::Template(t) => TaggedRef::Template(t),
            MessageBody::Image(m) => TaggedRef::Image(m),
            MessageBody::Video(m) => TaggedRef::Video(m),
            MessageBody::Audio(l) => TaggedRef::Audio(l),
            MessageBody::Document(d) => TaggedRef::Document(d),
            MessageBody::Sticker(l) => TaggedRef::Sticker(l),
            MessageBody::Location(l) => TaggedRef::Location(l),
            MessageBody::Contacts(c) => TaggedRef::Contacts(c),
            MessageBody::Buttons(b) => TaggedRef::Interactive(InteractiveRef::Button(b)),
            MessageBody::List(l) => TaggedRef::Interactive(InteractiveRef::List(l)),
        };
        tagged.serialize(serializer)
    }
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Tagged {
    Template(Template),
    Text(Text),
    Image(Media),
    Video(Media),
    Audio(Link),
    Document(Document),
    Sticker(Link),
    Location(Location),
    Contacts(Contacts),
    Interactive(Interactive),
}

#[derive(Deserialize)]
#[serde(tag = "interactive_type", rename_all = "lowercase")]
enum Interactive {
    Button(ButtonMessage),
    List(ListMessage),
}

impl<'de> Deserialize<'de> for MessageBody {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // The body is read into a map first because `type` may be absent (freetext), which
        // serde's internally tagged enums cannot express.
        let map = Map::<String, Value>::deserialize(deserializer)?;
        let has_type = map.contains_key("type");
        if !has_type && !map.contains_key("text") {
            return Err(de::Error::custom(
                "message has no type and no text: set type (template, text, image, video, audio, \
                 document, sticker, location, contacts or interactive) or give a text",
            ));
        }
        let body = if has_type {
            match Tagged::deserialize(Value::Object(map)).map_err(de::Error::custom)? {
                Tagged::Template(t) => MessageBody::Template(t),
                Tagged::Text(t) => MessageBody::Text(t),
                Tagged::Image(m) => MessageBody::Image(m),
                Tagged::Video(m) => MessageBody::Video(m),
                Tagged::Audio(l) => MessageBody::Audio(l),
                Tagged::Document(d) => MessageBody::Document(d),
                Tagged::Sticker(l) => MessageBody::Sticker(l),
                Tagged::Location(l) => MessageBody::Location(l),
                Tagged::Contacts(c) => MessageBody::Contacts(c),
                Tagged::Interactive(Interactive::Button(b)) => MessageBody::Buttons(b),
                Tagged::Interactive(Interactive::List(l)) => MessageBody::List(l),
            }
        } else {
            MessageBody::Text(Text::deserialize(Value::Object(map)).map_err(de::Error::custom)?)
        };
        Ok(body)
    }
}

/// A template message: `template`, `language` and the values of its placeholders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// The approved template's name, e.g. `hello_world`.
    pub template: String,
    /// Its language code, e.g. `de` or `en_US`.
    pub language: String,
    /// Values for its `{{n}}` placeholders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<Components>,
}

/// Positional values for a template's placeholders.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Components {
    /// Header values: text for a text header, a URL for an image header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<Vec<String>>,
    /// Body values, replacing `{{1}}`, `{{2}}`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Vec<String>>,
    /// Button values, e.g. a URL button's dynamic suffix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buttons: Option<Vec<TemplateButton>>,
}

/// One template button's parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateButton {
    /// Always `button`.
    #[serde(rename = "type")]
    pub kind: TemplateButtonKind,
    /// The button's type, e.g. `url`.
    pub sub_type: String,
    /// Its values.
    pub parameters: Vec<ButtonParameter>,
}

impl TemplateButton {
    /// A URL button whose dynamic suffix is `suffix`.
    pub fn url(suffix: &str) -> Self {
        TemplateButton {
            kind: TemplateButtonKind::Button,
            sub_type: "url".to_string(),
            parameters: vec![ButtonParameter::Text {
                text: suffix.to_string(),
            }],
        }
    }
}

/// A template button's `type`: seven knows only `button`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TemplateButtonKind {
    /// `button`.
    Button,
}

/// One value of a template button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ButtonParameter {
    /// `{"type": "text", "text": …}`.
    Text {
        /// The value.
        text: String,
    },
}

/// A freetext message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    /// The text.
    pub text: String,
}

/// An image or a video: a public URL and an optional caption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Media {
    /// Public URL of the file.
    pub url: String,
    /// Shown under the media.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
}

/// An audio file or a sticker: a public URL, no caption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Public URL of the file.
    pub url: String,
}

/// A document: a public URL, the filename the recipient sees, an optional caption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Public URL of the file.
    pub url: String,
    /// The filename shown to the recipient.
    pub filename: String,
    /// Shown under the document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
}

/// A location pin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// Degrees north, −90 to 90.
    pub latitude: f64,
    /// Degrees east, −180 to 180.
    pub longitude: f64,
    /// The place's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The place's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// Contact cards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contacts {
    /// At least one contact.
    pub contacts: Vec<Contact>,
}

/// One contact card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// The contact's name.
    pub name: ContactName,
    /// At least one phone number.
    pub phones: Vec<ContactPhone>,
}

/// A contact's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactName {
    /// Required.
    pub first_name: String,
    /// Optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
}

/// One phone number of a contact card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactPhone {
    /// The number as it should be shown, e.g. `+491234567890`.
    pub phone: String,
    /// What kind of number it is.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<PhoneKind>,
}

/// The kinds of contact phone numbers seven knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PhoneKind {
    /// `cell`.
    Cell,
    /// `main`.
    Main,
    /// `iphone`.
    Iphone,
    /// `home`.
    Home,
    /// `work`.
    Work,
}

/// An interactive message with 2 or 3 reply buttons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ButtonMessage {
    /// The text above the buttons.
    pub body: String,
    /// Header text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// Footer text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
    /// 2 or 3 buttons with unique ids.
    pub buttons: Vec<ReplyButton>,
}

/// One reply button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyButton {
    /// Returned when the recipient taps it; unique within the message.
    pub id: String,
    /// Its label, at most 20 characters.
    pub title: String,
}

/// An interactive list message: a button that opens sections of rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListMessage {
    /// The text above the button.
    pub body: String,
    /// Header text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// Footer text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
    /// The label of the button that opens the list.
    pub button_text: String,
    /// The list's sections.
    pub sections: Vec<ListSection>,
}

/// One section of a list message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListSection {
    /// The section's title.
    pub title: String,
    /// Its rows.
    pub rows: Vec<ListRow>,
}

/// One choice of a list message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListRow {
    /// Returned when the recipient picks it; unique within the message.
    pub id: String,
    /// Its label.
    pub title: String,
    /// A line under the label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// One `POST /api/waba/events` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Mark a conversation (or one message) read.
    Read(Conversation),
    /// Show the typing indicator.
    IsTyping(Conversation),
    /// React to a message with an emoji; an empty emoji removes the reaction.
    Reaction(Reaction),
}

/// Which conversation a read or typing event concerns: `from` and at least one of `to` and
/// `msg_id`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conversation {
    /// The business sender number.
    pub from: String,
    /// The contact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// A message id, to mark that message read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg_id: Option<String>,
}

impl fmt::Debug for Conversation {
    // Masked for logs, like every recipient number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conversation")
            .field("from", &self.from)
            .field("to", &self.to.as_deref().map(mask))
            .field("msg_id", &self.msg_id)
            .finish()
    }
}

/// A reaction to one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reaction {
    /// The WhatsApp message id reacted to.
    pub msg_id: String,
    /// The emoji, or empty to remove the reaction.
    pub emoji: String,
}
