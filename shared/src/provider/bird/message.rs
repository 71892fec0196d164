//! Bird's Channels API request body, typed: [`BirdMessage`] for
//! `POST /workspaces/{workspaceId}/channels/{channelId}/messages`.
//!
//! # Where the shapes come from
//!
//! The seed (`seeds/002_…`) names the operation, its options (`capFrequency`,
//! `ignoreQuietHours`, `tags`, `scheduledFor`, `validity`), the `body`/`template` choice and the
//! examples (text, text with reply buttons, postback actions and a location request, images,
//! files, location, lists, `replyTo`, templates), but omits their JSON. The JSON here follows
//! Bird's public documentation (docs.bird.com, Channels API, "Message types" and "Sending
//! WhatsApp messages"):
//!
//! - `receiver.contacts[{identifierKey: "phonenumber", identifierValue: "+E.164"}]`.
//! - `body: {type, <type>: {...}}`, the content under a key named as its type:
//!   `{"type": "text", "text": {"text": …, "actions": [...]}}`,
//!   `{"type": "image", "image": {"images": [{"mediaUrl", "altText"}], "text", "actions"}}`,
//!   `{"type": "file", "file": {"files": [{"mediaUrl", "contentType", "filename", "altText"}], …}}`,
//!   `{"type": "location", "location": {"coordinates": {"latitude", "longitude"},
//!   "location": {"label", "address"}}}`,
//!   `{"type": "list", "list": {"title", "text", "altText", "items": [{"title", "actions"}]}}`.
//! - actions: `{"type": "reply", "reply": {"text"}}`, `{"type": "postback", "postback":
//!   {"text", "payload"}}`, `{"type": "locationRequest", "locationRequest": {"text"}}`.
//! - `template: {projectId, version, locale, parameters: [{type: "string", key, value}]}`:
//!   named parameters, unlike seven's positional ones.
//! - `replyTo: {id, type: "message"}`; `meta.extraInformation.useCase`, which `capFrequency`
//!   requires to be `marketing` (the seed says so).
//!
//! Two shapes are from memory of Bird's documentation rather than a page at hand, and say so
//! where they are defined: the list's custom button label (`list.metadata.button.label`) and the
//! file's `contentType` being required.
//!
//! As for seven, the serde form is the wire form field for field, so that a campaign's content
//! (the `{"body": …}` or `{"template": …}` object with `{{column}}` placeholders, see
//! [`crate::render`]) reads into a [`Content`] and writes back unchanged, and unknown fields are
//! refused, so that a misspelt `mediaURL` is an error at enqueue time rather than an image
//! silently missing from every message.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::{self, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::phone::{PhoneNumber, mask};

/// The `identifierKey` of a phone number, which WhatsApp contacts are identified by.
pub const PHONE_IDENTIFIER_KEY: &str = "phonenumber";

/// One send request: the recipient, what is sent and the delivery options. The sender is the
/// channel in the URL, not a field. Its `Debug` output masks the recipient (see [`Contact`]).
#[derive(Debug, Clone, PartialEq)]
pub struct BirdMessage {
    /// Who receives it: one phone number for a WhatsApp message.
    pub receiver: Receiver,
    /// A `body`, or a `template`.
    pub content: Content,
    /// `reference`, `scheduledFor`, `validity`, `tags`, `capFrequency`, `ignoreQuietHours`,
    /// `replyTo`, `meta`.
    pub options: SendOptions,
}

impl BirdMessage {
    /// A message to `to` with no delivery options.
    pub fn new(to: &PhoneNumber, content: Content) -> Self {
        BirdMessage {
            receiver: Receiver::phone(to),
            content,
            options: SendOptions::default(),
        }
    }
}

/// The request as written: `body` or `template` beside the receiver and the options.
#[derive(Serialize)]
struct WireRef<'a> {
    receiver: &'a Receiver,
    #[serde(flatten)]
    content: &'a Content,
    #[serde(flatten)]
    options: &'a SendOptions,
}

impl Serialize for BirdMessage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WireRef {
            receiver: &self.receiver,
            content: &self.content,
            options: &self.options,
        }
        .serialize(serializer)
    }
}

/// The request as read: the options take their fields first, `unknown` keeps the rest, so that
/// anything unknown is refused (serde's `deny_unknown_fields` does not work with `flatten`).
#[derive(Deserialize)]
struct Wire {
    receiver: Receiver,
    #[serde(default)]
    body: Option<Body>,
    #[serde(default)]
    template: Option<Template>,
    #[serde(flatten)]
    options: SendOptions,
    #[serde(flatten)]
    unknown: Map<String, Value>,
}

impl<'de> Deserialize<'de> for BirdMessage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = Wire::deserialize(deserializer)?;
        if let Some(key) = wire.unknown.keys().next() {
            return Err(de::Error::custom(format!(
                "unknown field {key:?}: a Bird message has receiver, body or template, reference, \
                 scheduledFor, validity, tags, capFrequency, ignoreQuietHours, replyTo and meta"
            )));
        }
        let content = Content::from_parts(wire.body, wire.template).map_err(de::Error::custom)?;
        Ok(BirdMessage {
            receiver: wire.receiver,
            content,
            options: wire.options,
        })
    }
}

/// `receiver`: the contacts a message goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receiver {
    /// Exactly one contact for the messages wacast sends.
    pub contacts: Vec<Contact>,
}

impl Receiver {
    /// One WhatsApp contact identified by its phone number, written `+` and digits.
    pub fn phone(to: &PhoneNumber) -> Self {
        Receiver {
            contacts: vec![Contact {
                identifier_key: PHONE_IDENTIFIER_KEY.to_string(),
                identifier_value: to.e164(),
            }],
        }
    }
}

/// One contact of `receiver.contacts`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Contact {
    /// `phonenumber` for WhatsApp.
    pub identifier_key: String,
    /// The number in E.164 with `+`, e.g. `+4917612345678`.
    pub identifier_value: String,
}

impl fmt::Debug for Contact {
    // Debug output ends up in logs: the number is masked like every number we log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Contact")
            .field("identifier_key", &self.identifier_key)
            .field("identifier_value", &mask(&self.identifier_value))
            .finish()
    }
}

/// What a message says: Bird wants exactly one of `body` (any message within the 24-hour
/// window) and `template` (an approved template, the only kind that may open a conversation).
///
/// It reads from and writes as an object with one key, `{"body": {…}}` or `{"template": {…}}`:
/// the form a campaign stores its content in.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// `body`.
    Body(Body),
    /// `template`.
    Template(Template),
}

impl Content {
    /// The message kind as one word: `template`, or the body's `type` (`text`, `image`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Content::Template(_) => "template",
            Content::Body(body) => body.kind(),
        }
    }

    /// Calls `f` on every text of the content (texts, labels, URLs, ids, template values: every
    /// `String` it holds but the fixed words such as a parameter's `type`), stopping at the
    /// first error.
    ///
    /// This is how a campaign's content, parsed once with its `{{column}}` placeholders, is
    /// filled in for each row without going through JSON again. The patterns name every field,
    /// so that a field added to a type cannot be forgotten here.
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
        fn actions<E>(
            actions: &mut [Action],
            f: &mut impl FnMut(&mut String) -> Result<(), E>,
        ) -> Result<(), E> {
            for action in actions {
                match action {
                    Action::Reply(Reply { text }) => f(text)?,
                    Action::Postback(Postback { text, payload }) => {
                        f(text)?;
                        f(payload)?;
                    }
                    Action::LocationRequest(LocationRequest { text }) => f(text)?,
                }
            }
            Ok(())
        }
        match self {
            Content::Template(Template {
                project_id,
                version,
                locale,
                parameters,
            }) => {
                f(project_id)?;
                f(version)?;
                f(locale)?;
                for TemplateParameter {
                    kind: _,
                    key,
                    value,
                } in parameters
                {
                    f(key)?;
                    f(value)?;
                }
            }
            Content::Body(Body::Text(Text { text, actions: a })) => {
                f(text)?;
                actions(a, &mut f)?;
            }
            Content::Body(Body::Image(Images {
                images,
                text,
                actions: a,
            })) => {
                for Image {
                    media_url,
                    alt_text,
                } in images
                {
                    f(media_url)?;
                    optional(alt_text, &mut f)?;
                }
                optional(text, &mut f)?;
                actions(a, &mut f)?;
            }
            Content::Body(Body::File(Files {
                files,
                text,
                actions: a,
            })) => {
                for File {
                    media_url,
                    content_type,
                    filename,
                    alt_text,
                } in files
                {
                    f(media_url)?;
                    f(content_type)?;
                    optional(filename, &mut f)?;
                    optional(alt_text, &mut f)?;
                }
                optional(text, &mut f)?;
                actions(a, &mut f)?;
            }
            Content::Body(Body::Location(Location {
                coordinates: _,
                location,
            })) => {
                if let Some(Place { label, address }) = location {
                    optional(label, &mut f)?;
                    optional(address, &mut f)?;
                }
            }
            Content::Body(Body::List(List {
                title,
                text,
                alt_text,
                items,
                metadata,
            })) => {
                optional(title, &mut f)?;
                f(text)?;
                optional(alt_text, &mut f)?;
                for ListItem { title, actions: a } in items {
                    optional(title, &mut f)?;
                    actions(a, &mut f)?;
                }
                if let Some(ListMetadata {
                    button: Some(ListButton { label }),
                }) = metadata
                {
                    f(label)?;
                }
            }
        }
        Ok(())
    }

    fn from_parts(body: Option<Body>, template: Option<Template>) -> Result<Content, &'static str> {
        match (body, template) {
            (Some(body), None) => Ok(Content::Body(body)),
            (None, Some(template)) => Ok(Content::Template(template)),
            (Some(_), Some(_)) => Err(
                "a Bird message has both body and template: keep template for a template message, body otherwise",
            ),
            (None, None) => Err("a Bird message needs body or template: give one of them"),
        }
    }
}

impl Serialize for Content {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            Content::Body(body) => map.serialize_entry("body", body)?,
            Content::Template(template) => map.serialize_entry("template", template)?,
        }
        map.end()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireContent {
    #[serde(default)]
    body: Option<Body>,
    #[serde(default)]
    template: Option<Template>,
}

impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireContent::deserialize(deserializer)?;
        Content::from_parts(wire.body, wire.template).map_err(de::Error::custom)
    }
}

/// A `body`: one variant per message type of Bird's Channels API that WhatsApp renders.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// `{"type": "text", "text": {…}}`: text, optionally with reply or postback buttons or a
    /// location request.
    Text(Text),
    /// `{"type": "image", "image": {…}}`: one or more images, optionally with text and buttons.
    Image(Images),
    /// `{"type": "file", "file": {…}}`: documents, audio or video, optionally with text and
    /// buttons.
    File(Files),
    /// `{"type": "location", "location": {…}}`: a pin.
    Location(Location),
    /// `{"type": "list", "list": {…}}`: an interactive list.
    List(List),
}

impl Body {
    /// The body's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Body::Text(_) => "text",
            Body::Image(_) => "image",
            Body::File(_) => "file",
            Body::Location(_) => "location",
            Body::List(_) => "list",
        }
    }
}

/// Serialisation borrows the body into serde's internally tagged form with the content under a
/// key named as the type, which is Bird's shape.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum BodyRef<'a> {
    Text { text: &'a Text },
    Image { image: &'a Images },
    File { file: &'a Files },
    Location { location: &'a Location },
    List { list: &'a List },
}

impl Serialize for Body {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Body::Text(text) => BodyRef::Text { text },
            Body::Image(image) => BodyRef::Image { image },
            Body::File(file) => BodyRef::File { file },
            Body::Location(location) => BodyRef::Location { location },
            Body::List(list) => BodyRef::List { list },
        }
        .serialize(serializer)
    }
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum WireBody {
    Text { text: Text },
    Image { image: Images },
    File { file: Files },
    Location { location: Location },
    List { list: List },
}

impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match WireBody::deserialize(deserializer)? {
            WireBody::Text { text } => Body::Text(text),
            WireBody::Image { image } => Body::Image(image),
            WireBody::File { file } => Body::File(file),
            WireBody::Location { location } => Body::Location(location),
            WireBody::List { list } => Body::List(list),
        })
    }
}

/// A text message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    /// The text.
    pub text: String,
    /// Up to 3 reply or postback buttons, or one location request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
}

/// An image message: one or more images, optional text, optional buttons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Images {
    /// At least one image.
    pub images: Vec<Image>,
    /// Shown with the image (WhatsApp's caption).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Up to 3 reply or postback buttons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
}

/// One image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Image {
    /// Public URL of the image.
    pub media_url: String,
    /// The image's label, shown where the platform shows one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt_text: Option<String>,
}

/// A file message: documents, audio or video, optional text, optional buttons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Files {
    /// At least one file.
    pub files: Vec<File>,
    /// Shown with the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Up to 3 reply or postback buttons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
}

/// One file. Bird's documentation gives `contentType` with every file example; it is taken as
/// required (from memory of the docs' schema), since Bird uses it to pick WhatsApp's message
/// type (document, audio, video).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct File {
    /// Public URL of the file.
    pub media_url: String,
    /// Its MIME type, e.g. `application/pdf`.
    pub content_type: String,
    /// The filename the recipient sees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// The file's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt_text: Option<String>,
}

/// A location pin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// Where the pin is.
    pub coordinates: Coordinates,
    /// The place's name and address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Place>,
}

/// A position in decimal degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coordinates {
    /// Degrees north, −90 to 90.
    pub latitude: f64,
    /// Degrees east, −180 to 180.
    pub longitude: f64,
}

/// A place's name (`label`) and address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Place {
    /// The place's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Its address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// An interactive list: a button that opens sections of choices.
///
/// Bird writes the sections as `items`, each with an optional `title` and its choices as
/// `actions` (postback actions, whose payload comes back when chosen); a list "without
/// sections" is one item without a title.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct List {
    /// The header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The text above the button.
    pub text: String,
    /// Text shown where lists cannot be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt_text: Option<String>,
    /// The sections.
    pub items: Vec<ListItem>,
    /// The button's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ListMetadata>,
}

/// One section of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListItem {
    /// The section's title (required by WhatsApp when there are several sections).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Its choices.
    pub actions: Vec<Action>,
}

/// A list's settings beyond its content. The shape (`metadata.button.label`) is from memory of
/// Bird's WhatsApp "list with sections and custom button label" example, not from the seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListMetadata {
    /// The button that opens the list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button: Option<ListButton>,
}

/// The button that opens a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListButton {
    /// Its label, at most 20 characters.
    pub label: String,
}

/// A button or choice: `{"type": …, "<type>": {…}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A quick-reply button: its text comes back as the recipient's answer.
    Reply(Reply),
    /// A button or list choice whose `payload` comes back when chosen.
    Postback(Postback),
    /// Asks the recipient to share their location.
    LocationRequest(LocationRequest),
}

impl Action {
    /// A reply button.
    pub fn reply(text: &str) -> Self {
        Action::Reply(Reply {
            text: text.to_string(),
        })
    }

    /// A postback button or list choice.
    pub fn postback(text: &str, payload: &str) -> Self {
        Action::Postback(Postback {
            text: text.to_string(),
            payload: payload.to_string(),
        })
    }

    /// The action's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Reply(_) => "reply",
            Action::Postback(_) => "postback",
            Action::LocationRequest(_) => "locationRequest",
        }
    }

    /// The label the recipient sees.
    pub fn text(&self) -> &str {
        match self {
            Action::Reply(r) => &r.text,
            Action::Postback(p) => &p.text,
            Action::LocationRequest(l) => &l.text,
        }
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum ActionRef<'a> {
    Reply {
        reply: &'a Reply,
    },
    Postback {
        postback: &'a Postback,
    },
    #[serde(rename_all = "camelCase")]
    LocationRequest {
        location_request: &'a LocationRequest,
    },
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Action::Reply(reply) => ActionRef::Reply { reply },
            Action::Postback(postback) => ActionRef::Postback { postback },
            Action::LocationRequest(location_request) => {
                ActionRef::LocationRequest { location_request }
            }
        }
        .serialize(serializer)
    }
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
enum WireAction {
    Reply {
        reply: Reply,
    },
    Postback {
        postback: Postback,
    },
    #[serde(rename_all = "camelCase")]
    LocationRequest {
        location_request: LocationRequest,
    },
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match WireAction::deserialize(deserializer)? {
            WireAction::Reply { reply } => Action::Reply(reply),
            WireAction::Postback { postback } => Action::Postback(postback),
            WireAction::LocationRequest { location_request } => {
                Action::LocationRequest(location_request)
            }
        })
    }
}

/// `{"text": …}` of a reply action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    /// The button's label, which is also the answer.
    pub text: String,
}

/// `{"text": …, "payload": …}` of a postback action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Postback {
    /// The label.
    pub text: String,
    /// What comes back when chosen; unique within the message.
    pub payload: String,
}

/// `{"text": …}` of a location request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationRequest {
    /// The request's text.
    pub text: String,
}

/// A template message: the approved template's project, version and locale, and the values of
/// its variables by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Template {
    /// The template project's id (a UUID).
    pub project_id: String,
    /// The approved version's id (a UUID), or [`TEMPLATE_VERSION_LATEST`].
    pub version: String,
    /// The language, e.g. `en` or `de-DE`.
    pub locale: String,
    /// The values of the template's variables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<TemplateParameter>,
}

/// The `version` that sends a template project's newest approved version (Bird's template
/// examples send it).
pub const TEMPLATE_VERSION_LATEST: &str = "latest";

/// One variable's value: `{"type": "string", "key": …, "value": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateParameter {
    /// Always `string` for what wacast sends.
    #[serde(rename = "type")]
    pub kind: ParameterKind,
    /// The variable's name in the template.
    pub key: String,
    /// Its value.
    pub value: String,
}

impl TemplateParameter {
    /// A string variable.
    pub fn string(key: &str, value: &str) -> Self {
        TemplateParameter {
            kind: ParameterKind::String,
            key: key.to_string(),
            value: value.to_string(),
        }
    }
}

/// A template parameter's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParameterKind {
    /// `string`.
    String,
}

/// Bird's optional delivery parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendOptions {
    /// Our id for the message, echoed in Bird's status events: wacast sends `{campaign}.{row}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Send at this time (RFC 3339). Bird holds the message until then and refuses a time more
    /// than 35 days ahead; a time in the past or within 10 minutes may be sent at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_for: Option<DateTime<Utc>>,
    /// How many seconds the message stays valid (see [`validity_seconds`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity: Option<u32>,
    /// At most 10 tags; Bird lowercases them (see [`tag`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Apply the platform's frequency capping; needs `meta.extraInformation.useCase` to be
    /// `marketing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap_frequency: Option<bool>,
    /// Send at once even within the platform's quiet hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_quiet_hours: Option<bool>,
    /// Send as a reply to a received message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<ReplyTo>,
    /// Extra information about the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

/// `replyTo`: the received message this one answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyTo {
    /// The received message's id.
    pub id: String,
    /// Always `message`.
    #[serde(rename = "type")]
    pub kind: ReplyToKind,
}

impl ReplyTo {
    /// A reply to the received message `id`.
    pub fn message(id: &str) -> Self {
        ReplyTo {
            id: id.to_string(),
            kind: ReplyToKind::Message,
        }
    }
}

/// `replyTo.type`: Bird knows only `message`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplyToKind {
    /// `message`.
    Message,
}

/// `meta`: what wacast says about a message beyond its content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Meta {
    /// `extraInformation`.
    pub extra_information: ExtraInformation,
}

/// `meta.extraInformation`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExtraInformation {
    /// The message's use case, e.g. `marketing`; `capFrequency` needs `marketing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_case: Option<String>,
}

/// The use case `capFrequency` requires.
pub const USE_CASE_MARKETING: &str = "marketing";

impl Meta {
    /// `{"extraInformation": {"useCase": use_case}}`.
    pub fn use_case(use_case: &str) -> Self {
        Meta {
            extra_information: ExtraInformation {
                use_case: Some(use_case.to_string()),
            },
        }
    }
}

/// A campaign's validity in minutes (seven's `ttl`, wacast's unit) as Bird's `validity` in
/// seconds, saturating rather than wrapping for absurd values.
pub fn validity_seconds(ttl_minutes: u32) -> u32 {
    ttl_minutes.saturating_mul(60)
}

/// A label as a Bird tag: trimmed and lowercase, as Bird stores tags, so that wacast's records
/// show the tag as Bird's dashboard does.
pub fn tag(label: &str) -> String {
    label.trim().to_lowercase()
}
