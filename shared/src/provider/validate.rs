//! What both providers' checks share: [`Valid`], the proof that a request passed them (the only
//! kind a client sends), the one [`ValidationError`] a request can fail with, WhatsApp's limits
//! (both providers render to WhatsApp, so its limits are theirs), and the field checks every
//! message type is made of.
//!
//! Each provider's `validate.rs` walks its own message types with these pieces and adds the
//! rules only it has (seven's `label` charset, Bird's UUIDs and 35-day schedule). Lengths are
//! counted in characters (Unicode scalar values), as WhatsApp counts them; field names in
//! errors are the wire paths (`buttons[1].title`, `body.text.actions[1].reply.text`).

use std::ops::Deref;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

/// WhatsApp: a text message has at most 4096 characters.
pub(crate) const MAX_TEXT: usize = 4096;
/// WhatsApp: a media caption has at most 1024 characters.
pub(crate) const MAX_CAPTION: usize = 1024;
/// WhatsApp: the body of a message with buttons or a list has at most 1024 characters.
pub(crate) const MAX_INTERACTIVE_BODY: usize = 1024;
/// WhatsApp: an interactive message's header and footer texts have at most 60 characters.
pub(crate) const MAX_HEADER_FOOTER: usize = 60;
/// WhatsApp: a reply button's title has at most 20 characters (seven's seed says so too).
pub(crate) const MAX_BUTTON_TITLE: usize = 20;
/// WhatsApp: a reply button's id (Bird's postback payload) has at most 256 characters.
pub(crate) const MAX_BUTTON_ID: usize = 256;
/// WhatsApp: a list's button text has at most 20 characters.
pub(crate) const MAX_LIST_BUTTON: usize = 20;
/// WhatsApp: a list has at most 10 sections.
pub(crate) const MAX_SECTIONS: usize = 10;
/// WhatsApp: a list has at most 10 rows, counted over all sections.
pub(crate) const MAX_ROWS: usize = 10;
/// WhatsApp: a section title has at most 24 characters.
pub(crate) const MAX_SECTION_TITLE: usize = 24;
/// WhatsApp: a list row's title has at most 24 characters.
pub(crate) const MAX_ROW_TITLE: usize = 24;
/// WhatsApp: a list row's id (Bird's postback payload) has at most 200 characters.
pub(crate) const MAX_ROW_ID: usize = 200;

/// Why a message, or a seven event, would be refused by its provider. Each message names the
/// field and the fix. The first variants apply to both providers; the rest name the provider
/// whose rule they are.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValidationError {
    /// A required field, or an optional one that is present, is empty or blank.
    #[error("{field} is empty: give a value, or leave the field out if it is optional")]
    Empty {
        /// The field, e.g. `buttons[1].title` or `body.text.text`.
        field: String,
    },
    /// A list that needs entries has none.
    #[error("{field} has no entries: give at least one")]
    NoEntries {
        /// The field.
        field: String,
    },
    /// A text is too long.
    #[error("{field} has {len} characters, more than the {max} allowed: shorten it")]
    TooLong {
        /// The field.
        field: String,
        /// Its length in characters.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A list has too many entries.
    #[error("{field} has {count} entries, more than the {max} allowed: remove some")]
    TooMany {
        /// The field.
        field: String,
        /// How many it has.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A coordinate outside its range.
    #[error("{field} is {value}, outside {min} to {max}: give the position in decimal degrees")]
    OutOfRange {
        /// The latitude or longitude field.
        field: String,
        /// The value given.
        value: f64,
        /// The lowest allowed.
        min: f64,
        /// The highest allowed.
        max: f64,
    },
    /// A media URL that is not an absolute http(s) URL.
    #[error("{field} is not a public http(s) URL: give one such as https://example.com/photo.jpg")]
    Url {
        /// The field.
        field: String,
    },
    /// A template parameter WhatsApp refuses (its error 132018).
    #[error(
        "{field} contains a newline, a tab or more than four spaces in a row, which WhatsApp refuses in template parameters: remove them"
    )]
    TemplateParameter {
        /// The field.
        field: String,
    },

    /// seven: `from` or `to` is not 8 to 15 digits. The value is left out: it is a phone number.
    #[error(
        "{field} must be 8 to 15 digits with the country code and no '+' (for example 4930123456789)"
    )]
    Phone {
        /// The field.
        field: String,
    },
    /// seven: `label` or `foreign_id` has characters outside seven's charset.
    #[error("{field} may contain only a-z, A-Z, 0-9 and . - _ @: remove the other characters")]
    Charset {
        /// The field.
        field: String,
    },
    /// seven: an interactive button message without 2 or 3 buttons.
    #[error("buttons has {count} entries: an interactive button message needs 2 or 3")]
    ButtonCount {
        /// How many it has.
        count: usize,
    },
    /// seven: two buttons or two list rows share an id.
    #[error("{field} repeats the id {id:?}: give every button or row a unique id")]
    DuplicateId {
        /// The field that repeats it.
        field: String,
        /// The repeated id.
        id: String,
    },
    /// seven: `ttl` is 0.
    #[error("ttl is 0: give the validity in minutes, at least 1 (seven's default is 2880)")]
    ZeroTtl,
    /// seven: `delay` is a unix timestamp at or before 1970.
    #[error("delay {0} is not a send time: give a unix timestamp in seconds after 1970")]
    Delay(i64),
    /// seven: a template name that cannot be an approved one.
    #[error(
        "template {0:?} is not a template name: give the approved name, lowercase letters, digits and _ (for example hello_world)"
    )]
    TemplateName(String),
    /// seven: a language that is not a WhatsApp language code.
    #[error("language {0:?} is not a language code: give one such as de or en_US")]
    Language(String),
    /// seven: a contact's phone with characters no phone number has.
    #[error("{field} is not a phone number: use digits, spaces and + - ( ) . only")]
    ContactPhone {
        /// The field.
        field: String,
    },
    /// seven: a read or typing event names no conversation.
    #[error("a read or typing event needs to or msg_id: give at least one")]
    NoTarget,
    /// seven: a reaction that is not an emoji.
    #[error("emoji {0:?} is not an emoji: give one emoji, or an empty text to remove the reaction")]
    Emoji(String),

    /// Bird: not exactly one contact; wacast sends each message to one recipient.
    #[error("receiver.contacts has {count} entries: give exactly one recipient per message")]
    Receivers {
        /// How many contacts there are.
        count: usize,
    },
    /// Bird: a contact identified by something other than a phone number.
    #[error("{field} is {key:?}: WhatsApp contacts are identified by \"phonenumber\"")]
    IdentifierKey {
        /// The field.
        field: String,
        /// The key given.
        key: String,
    },
    /// Bird: a recipient that is not `+` and 8 to 15 digits. The value is left out: it is a
    /// phone number.
    #[error(
        "{field} must be '+' and 8 to 15 digits with the country code (for example +4930123456789)"
    )]
    Recipient {
        /// The field.
        field: String,
    },
    /// Bird: a file's `contentType` that is not a MIME type.
    #[error("{field} {value:?} is not a MIME type: give one such as application/pdf")]
    ContentType {
        /// The field.
        field: String,
        /// The value given.
        value: String,
    },
    /// Bird: an action where WhatsApp cannot show it.
    #[error("{field} is a {kind} action, which is not allowed here: use {allowed}")]
    ActionKind {
        /// The field.
        field: String,
        /// The action's type.
        kind: String,
        /// What may be used instead.
        allowed: &'static str,
    },
    /// Bird: a location request together with other actions.
    #[error(
        "{field} has a location request among other actions: a location request must be the only action of a text message"
    )]
    LocationRequestAlone {
        /// The field.
        field: String,
    },
    /// Bird: two postback actions share a payload, so their answers could not be told apart.
    #[error("{field} repeats the payload {payload:?}: give every postback a unique payload")]
    DuplicatePayload {
        /// The field that repeats it.
        field: String,
        /// The repeated payload.
        payload: String,
    },
    /// Bird: two template parameters share a key.
    #[error("{field} repeats the key {key:?}: give each template variable once")]
    DuplicateKey {
        /// The field that repeats it.
        field: String,
        /// The repeated key.
        key: String,
    },
    /// Bird: an id Bird writes as a UUID is not one.
    #[error(
        "{field} {value:?} is not a UUID: copy it from Bird's dashboard (it looks like 0b9c3f7e-1a2b-4c5d-8e9f-0a1b2c3d4e5f)"
    )]
    Uuid {
        /// The field.
        field: String,
        /// The value given.
        value: String,
    },
    /// Bird: a locale that is not a language code.
    #[error("template.locale {0:?} is not a locale: give one such as en, de or pt-BR")]
    Locale(String),
    /// Bird: `scheduledFor` more than 35 days ahead.
    #[error(
        "scheduledFor {scheduled_for} is more than {max_days} days ahead, which Bird refuses: schedule it later, closer to the send time"
    )]
    ScheduledTooFar {
        /// The time asked for.
        scheduled_for: DateTime<Utc>,
        /// The limit in days.
        max_days: i64,
    },
    /// Bird: `validity` is 0.
    #[error("validity is 0: give the validity in seconds, at least 1")]
    ZeroValidity,
    /// Bird: `capFrequency` without the marketing use case.
    #[error(
        "capFrequency is true but meta.extraInformation.useCase is not \"marketing\": Bird caps frequency only for marketing messages, so set the use case or drop capFrequency"
    )]
    CapFrequencyUseCase,
}

/// A request its provider's checks can be run on: seven's message and event, Bird's message.
pub trait Validate {
    /// Checks everything the provider and WhatsApp would refuse that can be known without
    /// asking them, as of `now` (Bird's `scheduledFor` is compared to it; seven's rules do not
    /// depend on the time).
    fn validate_at(&self, now: DateTime<Utc>) -> Check;

    /// [`Validate::validate_at`] as of the current time.
    fn validate(&self) -> Check {
        self.validate_at(Utc::now())
    }
}

/// A request that passed its provider's checks: the only kind a client sends. It is built only
/// by validating ([`Valid::new`], [`Valid::new_at`]) and cannot be changed afterwards, so
/// holding one proves the checks ran, once: [`crate::provider::request::Renderer`] validates
/// each row's request, and a request built by hand (a test, an event) goes through the same
/// constructor. It reads as the request it holds, and serialises as it.
#[derive(Debug, Clone, PartialEq)]
pub struct Valid<T>(T);

impl<T: Validate> Valid<T> {
    /// `request`, if it passes its provider's checks now.
    pub fn new(request: T) -> Result<Valid<T>, ValidationError> {
        Valid::new_at(request, Utc::now())
    }

    /// `request`, if it passes its provider's checks as of `now`.
    pub fn new_at(request: T, now: DateTime<Utc>) -> Result<Valid<T>, ValidationError> {
        request.validate_at(now)?;
        Ok(Valid(request))
    }
}

impl<T> Deref for Valid<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// The request's own form: a `Valid` request is the body on the wire.
impl<T: Serialize> Serialize for Valid<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// The result of one check.
pub(crate) type Check = Result<(), ValidationError>;

/// A required text: non-blank and at most `max` characters.
pub(crate) fn text(value: &str, field: &str, max: usize) -> Check {
    indexed_text(value, max, || field.to_string())
}

/// An optional text: when present, as [`text`].
pub(crate) fn optional_text(value: Option<&str>, field: &str, max: usize) -> Check {
    value.map_or(Ok(()), |v| text(v, field, max))
}

/// A required text whose field name is only built when it is wrong.
pub(crate) fn indexed_text(value: &str, max: usize, field: impl Fn() -> String) -> Check {
    non_empty(value, &field)?;
    // Bytes bound characters from above, so most texts skip the count.
    if value.len() > max {
        let len = value.chars().count();
        if len > max {
            return Err(ValidationError::TooLong {
                field: field(),
                len,
                max,
            });
        }
    }
    Ok(())
}

/// Empty or blank: both providers and WhatsApp refuse both.
pub(crate) fn non_empty(value: &str, field: impl Fn() -> String) -> Check {
    if value.trim().is_empty() {
        Err(ValidationError::Empty { field: field() })
    } else {
        Ok(())
    }
}

/// WhatsApp refuses empty template parameters, and ones with a newline, a tab or more than
/// four consecutive spaces (its error 132018).
pub(crate) fn template_parameter(value: &str, field: impl Fn() -> String) -> Check {
    non_empty(value, &field)?;
    if value.contains(['\n', '\r', '\t']) || value.contains("     ") {
        return Err(ValidationError::TemplateParameter { field: field() });
    }
    Ok(())
}

/// A latitude (`max` 90) or longitude (`max` 180) in decimal degrees.
pub(crate) fn coordinate(value: f64, field: &str, max: f64) -> Check {
    // `contains` is false for NaN, so a NaN is refused too.
    if (-max..=max).contains(&value) {
        Ok(())
    } else {
        Err(ValidationError::OutOfRange {
            field: field.into(),
            value,
            min: -max,
            max,
        })
    }
}

/// A media URL WhatsApp can fetch: absolute, http(s), with a host.
pub(crate) fn url(value: &str, field: impl Fn() -> String) -> Check {
    let ok = reqwest::Url::parse(value)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if ok {
        Ok(())
    } else {
        Err(ValidationError::Url { field: field() })
    }
}
