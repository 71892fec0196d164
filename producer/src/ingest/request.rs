//! An upload as plain data: what to send, to whom (the file comes separately, as a
//! [`Source`](crate::ingest::source::Source)), through which provider, and when.
//!
//! The fields mirror `wacast enqueue`'s flags, which the enqueue command converts into an
//! [`IngestRequest`]; the error messages of the checks name those flags. Nothing here depends
//! on the command line, so that other front ends (the browser console) fill it in too.

use std::path::PathBuf;

use chrono_tz::Tz;
use wacast_shared::campaign::ProviderKind;

/// One upload: the campaign's options and where its rejected rows go.
#[derive(Debug, Clone)]
pub struct IngestRequest {
    /// The sender's number, international (`4915112345678`); for Bird, the number behind the
    /// channel.
    pub from: String,
    /// Which provider sends the campaign.
    pub provider: ProviderKind,
    /// What to send.
    pub content: ContentRequest,
    /// Where a Bird campaign goes; empty for seven.
    pub bird: BirdOptions,
    /// How to read the file.
    pub input: InputOptions,
    /// When and how messages are delivered.
    pub delivery: DeliveryOptions,
    /// Where to write the rejected rows (created or truncated by every run).
    pub rejects_file: PathBuf,
}

/// What to send: exactly one of `template`, `template_project`, `text`, `kind` or
/// `content_json`, with the fields that kind of message takes.
#[derive(Debug, Clone, Default)]
pub struct ContentRequest {
    /// seven: the approved template's name (needs `language`).
    pub template: Option<String>,
    /// seven: the template's language code (de, en, en_US, …).
    pub language: Option<String>,
    /// seven: the columns filling the template header's parameters, in order.
    pub header: Vec<String>,
    /// seven: the columns filling the template body's parameters, in order.
    pub body: Vec<String>,
    /// seven: the columns filling the dynamic part of the template's URL buttons, in order.
    pub button: Vec<String>,
    /// Bird: the approved template's project (its UUID; needs `locale`).
    pub template_project: Option<String>,
    /// Bird: the template version, a UUID or `latest`.
    pub template_version: String,
    /// Bird: the template's locale (en, de, pt-BR, …).
    pub locale: Option<String>,
    /// Bird: template variables as `KEY=COLUMN`.
    pub param: Vec<String>,
    /// A freetext message, with `{{column}}` placeholders.
    pub text: Option<String>,
    /// A media, location, contacts, interactive, file or list message.
    pub kind: Option<Kind>,
    /// The media URL: `https://…` or `{{column}}`.
    pub url: Option<String>,
    /// The media caption.
    pub caption: Option<String>,
    /// The file name shown for a document (seven) or file (Bird).
    pub filename: Option<String>,
    /// Bird: the file's MIME type.
    pub content_type: Option<String>,
    /// The location's latitude: a number or `{{column}}`.
    pub latitude: Option<String>,
    /// The location's longitude: a number or `{{column}}`.
    pub longitude: Option<String>,
    /// The location's name.
    pub name: Option<String>,
    /// The location's address.
    pub address: Option<String>,
    /// seven: the shared contact's first name.
    pub contact_first_name: Option<String>,
    /// seven: the shared contact's last name.
    pub contact_last_name: Option<String>,
    /// seven: the shared contact's phone number.
    pub contact_phone: Option<String>,
    /// seven: the shared contact's phone type.
    pub contact_phone_type: ContactPhoneType,
    /// seven: reply buttons or a list.
    pub interactive_type: Option<InteractiveType>,
    /// The interactive message's body text (Bird: the list's text).
    pub body_text: Option<String>,
    /// The interactive message's header text (Bird: the list's title).
    pub header_text: Option<String>,
    /// seven: the interactive message's footer text.
    pub footer_text: Option<String>,
    /// Reply buttons as `ID:TITLE`.
    pub reply_button: Vec<String>,
    /// The text of the button that opens a list.
    pub button_text: Option<String>,
    /// A JSON file with a list's sections.
    pub sections_json: Option<PathBuf>,
    /// A JSON file holding the whole message body.
    pub content_json: Option<PathBuf>,
    /// seven: a file of the approved templates, which the template is checked against.
    pub templates: Option<PathBuf>,
}

/// Message kinds other than templates and freetext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An image.
    Image,
    /// seven: a video.
    Video,
    /// seven: an audio file.
    Audio,
    /// seven: a document.
    Document,
    /// seven: a sticker.
    Sticker,
    /// A location.
    Location,
    /// seven: a contact card.
    Contacts,
    /// seven: reply buttons or a list.
    Interactive,
    /// Bird: a document, audio or video file.
    File,
    /// Bird: an interactive list.
    List,
}

impl Kind {
    /// The kind as the flag and seven's `type` name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Video => "video",
            Kind::Audio => "audio",
            Kind::Document => "document",
            Kind::Sticker => "sticker",
            Kind::Location => "location",
            Kind::Contacts => "contacts",
            Kind::Interactive => "interactive",
            Kind::File => "file",
            Kind::List => "list",
        }
    }
}

/// Contact phone types, as seven names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContactPhoneType {
    /// A mobile phone.
    #[default]
    Cell,
    /// The main number.
    Main,
    /// An iPhone.
    Iphone,
    /// At home.
    Home,
    /// At work.
    Work,
}

impl ContactPhoneType {
    /// The type as seven names it.
    pub fn as_str(self) -> &'static str {
        match self {
            ContactPhoneType::Cell => "cell",
            ContactPhoneType::Main => "main",
            ContactPhoneType::Iphone => "iphone",
            ContactPhoneType::Home => "home",
            ContactPhoneType::Work => "work",
        }
    }
}

/// seven's interactive message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InteractiveType {
    /// Two or three reply buttons.
    Button,
    /// A list of choices.
    List,
}

/// Where a Bird campaign goes.
#[derive(Debug, Clone, Default)]
pub struct BirdOptions {
    /// The workspace's id (a UUID).
    pub workspace: Option<String>,
    /// The WhatsApp channel's id (a UUID).
    pub channel: Option<String>,
    /// Tags every message carries.
    pub tags: Vec<String>,
}

/// How to read the file.
#[derive(Debug, Clone, Default)]
pub struct InputOptions {
    /// The column holding the recipient's number; `None` finds it by its header.
    pub phone_column: Option<String>,
    /// The default country of national numbers (ISO code: DE, AT, US, …).
    pub region: Option<String>,
    /// The field delimiter; `None` detects it from the header line.
    pub delimiter: Option<u8>,
    /// The file's encoding when it is not UTF-8 (a WHATWG label: latin1, utf-16le, …).
    pub encoding: Option<String>,
}

/// When and how messages are delivered.
#[derive(Debug, Clone)]
pub struct DeliveryOptions {
    /// When sending starts, as `--delay` reads it; `None` is now.
    pub delay: Option<String>,
    /// The zone of times written without an offset.
    pub tz: Tz,
    /// How long a message may still be sent after its send time, in minutes.
    pub ttl: u32,
    /// seven's statistics label (Bird: one more tag).
    pub label: Option<String>,
    /// seven: track clicks on links.
    pub performance_tracking: bool,
    /// Hand messages to the provider up to this many minutes before their send time.
    pub handoff_ahead: u32,
    /// Send only between these hours (`HH:MM-HH:MM`).
    pub window: Option<String>,
    /// The clock `window` is read on: an IANA zone or `recipient`; `None` is `tz`.
    pub window_tz: Option<String>,
    /// Send only to recipients whose 24-hour window is open (`--only-open-window`).
    pub only_open_window: bool,
    /// The campaign id; `None` derives it from the file and the options.
    pub id: Option<String>,
}
