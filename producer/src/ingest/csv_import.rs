//! The CSV's rows → checked messages or rejected rows, streaming, with line numbers.
//!
//! [`Layout`] maps the header once (phone column, the content's columns, the optional override
//! columns) and fails the whole run when something the message needs is missing. [`RowChecker`]
//! then turns each record into a [`NewMessage`] or a [`Rejected`] row. Nothing per row is kept
//! except the set of accepted numbers (`numbers::Numbers`), for duplicate detection.

use anyhow::{Context, bail};
use csv::ByteRecord;
use wacast_shared::campaign::{Campaign, ProviderKind};
use wacast_shared::message::{QueuedMessage, Row, RowOverrides};
use wacast_shared::phone::PhoneError;
use wacast_shared::provider::bird::validate::is_locale;
use wacast_shared::provider::request::{Renderer, RequestError};
use wacast_shared::provider::validate::ValidationError;
use wacast_shared::queue::NewMessage;
use wacast_shared::render;
use wacast_shared::schedule::Schedule;
use wacast_shared::window::{SendWindow, ZoneCache};

use crate::ingest::normalise::Normaliser;
use crate::ingest::numbers::Numbers;
use crate::ingest::options::{self, Clock};
use crate::ingest::source;

/// Headers taken as the phone column when --phone-column is not given (normalised).
pub(crate) const PHONE_HEADERS: [&str; 11] = [
    "phone",
    "mobile",
    "number",
    "to",
    "msisdn",
    "telefon",
    "handy",
    "phone_number",
    "mobile_number",
    "telefonnummer",
    "handynummer",
];

/// Why a row was rejected. The codes are stable: they are the keys of the JSON summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// The phone number is missing, invalid, or national without a region.
    InvalidPhone,
    /// The row has fewer fields than a column the message needs.
    ShortRow,
    /// The row has more fields than the header (an unquoted delimiter).
    ExtraFields,
    /// A column the message needs is empty.
    EmptyValue,
    /// A template parameter WhatsApp would refuse.
    InvalidParameter,
    /// A coordinate or URL that is not one.
    InvalidValue,
    /// A `delay`, `ttl`, `label` or `language` cell that cannot be read.
    InvalidOverride,
    /// The number is on an earlier row too.
    Duplicate,
    /// The number is on the opt-out list.
    OptedOut,
    /// The send window never opens for the recipient.
    OutsideWindow,
    /// A value holds a control character (NUL, escape, …).
    ControlCharacter,
    /// A text or template parameter is longer than WhatsApp allows.
    TooLong,
    /// The row holds more bytes than a row may.
    RowTooLarge,
}

impl Reason {
    pub(crate) const ALL: [Reason; 13] = [
        Reason::InvalidPhone,
        Reason::ShortRow,
        Reason::ExtraFields,
        Reason::EmptyValue,
        Reason::InvalidParameter,
        Reason::InvalidValue,
        Reason::InvalidOverride,
        Reason::Duplicate,
        Reason::OptedOut,
        Reason::OutsideWindow,
        Reason::ControlCharacter,
        Reason::TooLong,
        Reason::RowTooLarge,
    ];

    /// The reason whose [`Reason::code`] is `code`.
    pub(crate) fn of_code(code: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|reason| reason.code() == code)
    }

    /// The stable code: `invalid_phone`, `duplicate`, ….
    pub fn code(self) -> &'static str {
        match self {
            Reason::InvalidPhone => "invalid_phone",
            Reason::ShortRow => "short_row",
            Reason::ExtraFields => "extra_fields",
            Reason::EmptyValue => "empty_value",
            Reason::InvalidParameter => "invalid_parameter",
            Reason::InvalidValue => "invalid_value",
            Reason::InvalidOverride => "invalid_override",
            Reason::Duplicate => "duplicate",
            Reason::OptedOut => "opted_out",
            Reason::OutsideWindow => "outside_window",
            Reason::ControlCharacter => "control_character",
            Reason::TooLong => "too_long",
            Reason::RowTooLarge => "row_too_large",
        }
    }

    /// What to do about rows rejected for this reason.
    pub(crate) fn hint(self) -> &'static str {
        match self {
            Reason::InvalidPhone => {
                "write numbers with their country code (+49 151 …), or give --region for \
                 national numbers (0151 …)"
            }
            Reason::ShortRow => {
                "these lines have fewer fields than the header: look for a missing delimiter, \
                 or a line break inside a value that is not in double quotes"
            }
            Reason::ExtraFields => {
                "these lines have more fields than the header: put values that contain the \
                 delimiter in double quotes"
            }
            Reason::EmptyValue => "every column the message uses needs a value in every row",
            Reason::InvalidParameter => {
                "WhatsApp refuses template parameters with line breaks, tabs or more than four \
                 spaces in a row (error 132018): clean those values"
            }
            Reason::InvalidValue => "fix the values named in the rejects file",
            Reason::InvalidOverride => {
                "the delay, ttl, label and language columns take the same values as the flags \
                 (see wacast enqueue --help)"
            }
            Reason::Duplicate => {
                "each number gets the campaign's message once; later rows are skipped"
            }
            Reason::OptedOut => "these recipients asked not to be messaged (the opt-out list)",
            Reason::OutsideWindow => {
                "the send window never opens for these recipients: widen --window, or give \
                 --window-tz with one zone"
            }
            Reason::ControlCharacter => {
                "remove the control characters (NUL, escape and the like) from the named \
                 column: they are no text, and usually mean the file is damaged or not CSV"
            }
            Reason::TooLong => {
                "WhatsApp refuses texts and template parameters over its limits: shorten the \
                 named value to the limit given"
            }
            Reason::RowTooLarge => {
                "a row may hold at most 64 KiB: look for a value pasted many times over, or a \
                 column of data the message does not need"
            }
        }
    }
}

/// What to do about a header without a phone column: a name holding a likely delimiter means
/// the file was split on another one (`Telefon;Name` read as one column).
fn no_phone_hint(names: &[String]) -> String {
    let found = [b';', b',', b'\t', b'|']
        .into_iter()
        .find(|&d| names.iter().any(|n| n.as_bytes().contains(&d)));
    match found {
        Some(d) => {
            let shown = source::show_delimiter(d);
            let flag = match d {
                b'\t' => "tab".to_string(),
                d => format!("'{}'", d as char),
            };
            format!(
                "a column name holds {shown}: if the file is separated by {shown}, run again \
                 with --delimiter {flag}"
            )
        }
        None => "name the column with --phone-column, or call it phone (the file needs a \
                 header line)"
            .to_string(),
    }
}

/// A rejected row: where, why, and its fields as read.
#[derive(Debug, Clone)]
pub(crate) struct Rejected {
    pub(crate) line: u64,
    pub(crate) reason: Reason,
    pub(crate) message: String,
    pub(crate) fields: ByteRecord,
}

/// Per-row override columns.
#[derive(Debug, Clone, Default)]
struct OverrideColumns {
    delay: Option<usize>,
    ttl: Option<usize>,
    label: Option<usize>,
    language: Option<usize>,
}

/// Where the header puts what the message needs.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// The header's names as written.
    pub(crate) names: Vec<String>,
    phone: usize,
    /// The field of each campaign column.
    columns: Vec<usize>,
    overrides: OverrideColumns,
}

impl Layout {
    /// Maps the header. Fails when the phone column or a column of `columns` is missing or
    /// ambiguous: every row would be rejected.
    pub(crate) fn new(
        header: &ByteRecord,
        phone_column: Option<&str>,
        columns: &[String],
        is_template: bool,
    ) -> anyhow::Result<Layout> {
        let names: Vec<String> = header
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        let normalised: Vec<String> = names.iter().map(|n| render::normalise_column(n)).collect();
        let listing = || names.join(", ");
        let find = |name: &str| -> anyhow::Result<Option<usize>> {
            let found: Vec<usize> = (0..normalised.len())
                .filter(|&i| normalised[i] == name)
                .collect();
            match found.as_slice() {
                [] => Ok(None),
                [one] => Ok(Some(*one)),
                [a, b, ..] => bail!(
                    "the header has two columns named {name} (columns {} and {}): rename one",
                    a + 1,
                    b + 1
                ),
            }
        };
        let phone = match phone_column {
            Some(given) => {
                let name = render::normalise_column(given);
                find(&name)?.with_context(|| {
                    format!(
                        "the header has no column {given:?} (--phone-column); it has: {}",
                        listing()
                    )
                })?
            }
            None => {
                let found: Vec<usize> = (0..normalised.len())
                    .filter(|&i| PHONE_HEADERS.contains(&normalised[i].as_str()))
                    .collect();
                match found.as_slice() {
                    [one] => *one,
                    [] => bail!(
                        "the header has no phone column; it has: {}\n\n\
                         hint: {}",
                        listing(),
                        no_phone_hint(&names)
                    ),
                    several => bail!(
                        "the header has several phone columns ({}): choose one with --phone-column",
                        several
                            .iter()
                            .map(|&i| names[i].as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }
            }
        };
        let columns = columns
            .iter()
            .map(|c| {
                find(c)?.with_context(|| {
                    format!(
                        "the header has no column {c} (the message uses {{{{{c}}}}}); it has: {}",
                        listing()
                    )
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let overrides = OverrideColumns {
            delay: find("delay")?,
            ttl: find("ttl")?,
            label: find("label")?,
            // Only a template has a language to switch; elsewhere it is just data.
            language: if is_template { find("language")? } else { None },
        };
        Ok(Layout {
            names,
            phone,
            columns,
            overrides,
        })
    }

    /// The fields every row must have: the phone and the content's columns.
    fn required(&self) -> impl Iterator<Item = usize> + '_ {
        std::iter::once(self.phone).chain(self.columns.iter().copied())
    }
}

/// A per-row check of a rendered field: numbers for coordinates, URLs for media.
#[derive(Debug, Clone)]
pub(crate) struct FieldCheck {
    field: String,
    text: String,
    rule: FieldRule,
}

#[derive(Debug, Clone, Copy)]
enum FieldRule {
    Number { limit: f64 },
    Url,
}

impl FieldCheck {
    /// The fields of `content` whose rendered value must be checked per row: at the top of
    /// seven's bodies, nested in Bird's (`body.image.images[0].mediaUrl`,
    /// `body.location.coordinates.latitude`).
    pub(crate) fn of(content: &serde_json::Value) -> Vec<FieldCheck> {
        let mut checks = Vec::new();
        collect_checks(content, &mut checks);
        checks
    }
}

fn collect_checks(value: &serde_json::Value, checks: &mut Vec<FieldCheck>) {
    match value {
        serde_json::Value::Object(map) => {
            for (field, value) in map {
                if let Some(text) = value.as_str().filter(|t| t.contains("{{")) {
                    let rule = match field.as_str() {
                        "latitude" => FieldRule::Number { limit: 90.0 },
                        "longitude" => FieldRule::Number { limit: 180.0 },
                        "url" | "mediaUrl" => FieldRule::Url,
                        _ => continue,
                    };
                    checks.push(FieldCheck {
                        field: field.clone(),
                        text: text.to_string(),
                        rule,
                    });
                } else {
                    collect_checks(value, checks);
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                collect_checks(item, checks);
            }
        }
        _ => {}
    }
}

/// Campaign settings the checker applies to each row.
#[derive(Debug, Clone)]
pub(crate) struct RowRules {
    pub(crate) columns: Vec<String>,
    pub(crate) is_template: bool,
    pub(crate) field_checks: Vec<FieldCheck>,
    /// Reads relative and zone-less `delay` values; `now` is the campaign's creation.
    pub(crate) clock: Clock,
    /// The campaign's send time, ttl and hand-off lead (`--handoff-ahead`), which a row's
    /// overrides change.
    pub(crate) schedule: Schedule,
    pub(crate) label: Option<String>,
    /// The provider: a row's `language` is one of its template languages (seven's `en_US`,
    /// Bird's `en-US`).
    pub(crate) provider: ProviderKind,
    pub(crate) language: Option<String>,
    /// Languages a row may switch the template to (from --templates); `None`: any.
    pub(crate) languages: Option<Vec<String>>,
    /// The region for messages, e.g. `DE`, when national numbers are read.
    pub(crate) region_name: Option<String>,
    /// The campaign's send window: a row is due at its next opening.
    pub(crate) window: Option<SendWindow>,
    /// The campaign and its renderer: each row is rendered and validated as the worker will,
    /// so that a message over one of WhatsApp's limits is rejected here, naming the limit,
    /// rather than failed at send time.
    pub(crate) campaign: Campaign,
    pub(crate) renderer: Renderer,
    /// Template parameters' limits, per column used in one.
    pub(crate) parameter_limits: Vec<ParameterLimit>,
}

/// Checks rows one by one; remembers the accepted numbers to reject duplicates.
pub(crate) struct RowChecker {
    layout: Layout,
    rules: RowRules,
    normaliser: Normaliser,
    seen: Numbers,
    zones: ZoneCache,
}

type Verdict = Result<NewMessage, (Reason, String)>;

impl RowChecker {
    pub(crate) fn new(layout: Layout, rules: RowRules, normaliser: Normaliser) -> Self {
        RowChecker {
            layout,
            rules,
            normaliser,
            seen: Numbers::default(),
            zones: ZoneCache::default(),
        }
    }

    /// Checks one record; `row` is its 1-based data record number.
    pub(crate) fn check(&mut self, row: Row, record: &ByteRecord) -> Verdict {
        let layout = &self.layout;
        let n_header = layout.names.len();
        if let Some(missing) = layout.required().find(|&i| i >= record.len()) {
            return Err((
                Reason::ShortRow,
                format!(
                    "the row has {} fields, the header has {n_header}: column {} is missing",
                    record.len(),
                    layout.names[missing]
                ),
            ));
        }
        if record.len() > n_header
            && record
                .iter()
                .skip(n_header)
                .any(|f| !f.trim_ascii().is_empty())
        {
            return Err((
                Reason::ExtraFields,
                format!(
                    "the row has {} fields, the header has {n_header}: a value contains the \
                     delimiter without quotes",
                    record.len()
                ),
            ));
        }
        if let Some((i, problem)) = control_character(record) {
            let column = layout
                .names
                .get(i)
                .map_or("(beyond the header)", String::as_str);
            return Err((
                Reason::ControlCharacter,
                format!("column {column} {problem}"),
            ));
        }
        let raw_phone = text(record, layout.phone);
        let to = self.normaliser.parse(raw_phone).map_err(|e| {
            (
                Reason::InvalidPhone,
                phone_message(&e, self.rules.region_name.as_deref()),
            )
        })?;

        let mut values = Vec::with_capacity(layout.columns.len());
        for &i in &layout.columns {
            let value = text(record, i).trim();
            if value.is_empty() {
                return Err((
                    Reason::EmptyValue,
                    format!("column {} is empty", layout.names[i]),
                ));
            }
            if self.rules.is_template
                && let Err(problem) = check_parameter(value)
            {
                return Err((
                    Reason::InvalidParameter,
                    format!("column {} {problem}", layout.names[i]),
                ));
            }
            values.push(value.to_string());
        }
        for limit in &self.rules.parameter_limits {
            let value = &values[limit.value];
            let len = value.chars().count();
            let is_url = value.starts_with("https://") || value.starts_with("http://");
            if len > limit.max && !(limit.url_exempt && is_url) {
                return Err((
                    Reason::TooLong,
                    format!(
                        "column {} has {len} characters, more than the {} WhatsApp allows in {}",
                        layout.names[layout.columns[limit.value]], limit.max, limit.place
                    ),
                ));
            }
        }
        for check in &self.rules.field_checks {
            check_field(check, &self.rules.columns, &values)
                .map_err(|m| (Reason::InvalidValue, m))?;
        }
        let overrides = self
            .overrides(record)
            .map_err(|m| (Reason::InvalidOverride, m))?;
        let schedule = self.rules.schedule.with(&overrides);

        // Last, so that a row rejected for another reason does not hide a later good one.
        // E.164 has at most 15 digits, so a valid number fits a u64; anything longer is no
        // number WhatsApp can reach.
        let key: u64 = to.digits().parse().map_err(|_| {
            (
                Reason::InvalidPhone,
                format!("phone {raw_phone:?} has too many digits"),
            )
        })?;
        let due = match &self.rules.window {
            Some(window) => self
                .zones
                .zones(window, &to)
                .and_then(|zones| window.next_opening(schedule.send_at, &zones))
                .map_err(|e| (Reason::OutsideWindow, e.to_string()))?,
            None => schedule.due_at(),
        };
        // Rendered as the worker will render it at its due time: every limit of its message
        // type (text 4,096, caption 1,024, header 60, button 20, …) applies to the filled-in
        // text, which only a render knows.
        let message = QueuedMessage {
            campaign: self.rules.campaign.id.clone(),
            row,
            to,
            values,
            overrides,
            attempts: 0,
        };
        if let Err(e) = self
            .rules
            .renderer
            .render(&self.rules.campaign, &message, due)
        {
            let reason = match e {
                RequestError::Invalid(ValidationError::TooLong { .. }) => Reason::TooLong,
                _ => Reason::InvalidValue,
            };
            return Err((reason, format!("WhatsApp would refuse the message: {e}")));
        }
        let QueuedMessage {
            to,
            values,
            overrides,
            ..
        } = message;
        if !self.seen.insert(key) {
            return Err((
                Reason::Duplicate,
                format!("number {to} is on an earlier row too"),
            ));
        }
        Ok(NewMessage {
            row,
            to,
            values,
            overrides,
            due_ms: due.timestamp_millis(),
        })
    }

    /// The row's override columns; empty cells and values equal to the campaign's are no
    /// override.
    fn overrides(&self, record: &ByteRecord) -> Result<RowOverrides, String> {
        let cols = &self.layout.overrides;
        let rules = &self.rules;
        let cell = |i: Option<usize>| i.map(|i| text(record, i).trim()).filter(|v| !v.is_empty());
        let mut overrides = RowOverrides::default();
        if let Some(value) = cell(cols.delay) {
            let at = options::parse_delay(value, rules.clock)?;
            // A time in the past means now, as for --delay.
            let at = at.max(rules.clock.now);
            overrides.send_at = (at != rules.schedule.send_at).then_some(at);
        }
        if let Some(value) = cell(cols.ttl) {
            let ttl = options::parse_ttl(value)?;
            overrides.ttl_minutes = (ttl != rules.schedule.ttl_minutes).then_some(ttl);
        }
        if let Some(value) = cell(cols.label) {
            options::check_label(value)?;
            overrides.label = (Some(value) != rules.label.as_deref()).then(|| value.to_string());
        }
        if let Some(value) = cell(cols.language) {
            match rules.provider {
                ProviderKind::Seven => options::check_language(value)?,
                ProviderKind::Bird if !is_locale(value) => {
                    return Err(format!(
                        "language {value:?} is not a Bird locale such as en, de or pt-BR"
                    ));
                }
                ProviderKind::Bird => {}
            }
            if let Some(allowed) = &rules.languages
                && !allowed.iter().any(|l| l == value)
            {
                return Err(format!(
                    "language {value}: the template is not approved in {value} with the same \
                     parameters (approved: {})",
                    allowed.join(", ")
                ));
            }
            overrides.language =
                (Some(value) != rules.language.as_deref()).then(|| value.to_string());
        }
        Ok(overrides)
    }
}

/// A field as text. The file was checked (or decoded) as UTF-8 before it was parsed, so a
/// field that is not UTF-8 cannot occur; should it anyway, it reads as empty and is rejected
/// as such rather than sent garbled.
fn text(record: &ByteRecord, i: usize) -> &str {
    record
        .get(i)
        .and_then(|f| std::str::from_utf8(f).ok())
        .unwrap_or("")
}

/// The first field holding a control character, and what it holds. Refused: C0 controls
/// (NUL included) but tab, line feed and carriage return; DEL; and C1 controls (U+0080 to
/// U+009F). Tab and line breaks are kept because a quoted text cell may hold a multi-line
/// message (WhatsApp shows it as written); template parameters refuse them on their own rule
/// (132018). Every other control is no text a recipient could read: NUL ends strings in
/// systems downstream, escape sequences rewrite terminals, and C1 codes are mostly mojibake of
/// a file read in the wrong encoding.
fn control_character(record: &ByteRecord) -> Option<(usize, String)> {
    for (i, field) in record.iter().enumerate() {
        let mut previous = 0u8;
        for &b in field {
            let bad = match b {
                b'\t' | b'\n' | b'\r' => None,
                0x00..=0x1F | 0x7F => Some(u32::from(b)),
                // C1 controls are U+0080..=U+009F: 0xC2 0x80..=0x9F in UTF-8.
                0x80..=0x9F if previous == 0xC2 => Some(u32::from(b)),
                _ => None,
            };
            if let Some(code) = bad {
                let name = if code == 0 {
                    "NUL".to_string()
                } else {
                    format!("U+{code:04X}")
                };
                return Some((
                    i,
                    format!(
                        "holds the control character {name}: remove it (only tab and line breaks may be in a value)"
                    ),
                ));
            }
            previous = b;
        }
    }
    None
}

/// Where a column fills a template parameter, and WhatsApp's limit there.
#[derive(Debug, Clone)]
pub(crate) struct ParameterLimit {
    /// The index of the column in the campaign's columns (and the row's values).
    value: usize,
    max: usize,
    /// Where, for the message: `the template's header`.
    place: &'static str,
    /// Whether an http(s) URL is exempt: a media header's parameter is its URL.
    url_exempt: bool,
}

/// WhatsApp's limits on a template's parameters, which the message's validation cannot check
/// (it does not know the approved template's text): a header's text holds at most 60
/// characters and a body's at most 1,024 (Meta's template components; Bird's "Text templates"
/// page states both), so no parameter of either can be longer; a button's parameter is the
/// variable end of a URL, and a button's URL holds at most 2,000 characters (Meta's template
/// components). seven's seed (`/work/shared/seeds/001_…`) states only the 20-character button
/// title, which the render checks. A header's parameter that is an http(s) URL is a media
/// header's (an image, a document), which has no such limit. Bird's template variables are keyed, not placed, so they
/// get the body's limit, the largest a parameter can have. A value's own column is named
/// when it is the whole parameter; a parameter mixing text and columns is left to the render.
pub(crate) fn parameter_limits(
    content: &serde_json::Value,
    columns: &[String],
) -> Vec<ParameterLimit> {
    const HEADER: usize = 60;
    const BODY: usize = 1024;
    const BUTTON: usize = 2000;
    let mut limits: Vec<ParameterLimit> = Vec::new();
    let mut add = |text: Option<&str>, max: usize, place: &'static str| {
        let Some(name) = text
            .and_then(|t| t.trim().strip_prefix("{{"))
            .and_then(|t| t.strip_suffix("}}"))
        else {
            return;
        };
        let name = render::normalise_column(name);
        let Some(value) = columns.iter().position(|c| *c == name) else {
            return;
        };
        let limit = ParameterLimit {
            value,
            max,
            place,
            url_exempt: max == HEADER,
        };
        match limits.iter_mut().find(|l| l.value == value) {
            Some(known) if known.max <= max => {}
            Some(known) => *known = limit,
            None => limits.push(limit),
        }
    };
    fn strings(v: Option<&serde_json::Value>) -> &[serde_json::Value] {
        v.and_then(serde_json::Value::as_array)
            .map_or(&[], Vec::as_slice)
    }
    // seven: {"type": "template", "components": {"header": [..], "body": [..], "buttons":
    // [{"parameters": [{"text": ..}]}]}}.
    if let Some(components) = content.get("components") {
        for v in strings(components.get("header")) {
            add(v.as_str(), HEADER, "a template's header");
        }
        for v in strings(components.get("body")) {
            add(v.as_str(), BODY, "a template's body");
        }
        for button in strings(components.get("buttons")) {
            for p in strings(button.get("parameters")) {
                add(
                    p.get("text").and_then(serde_json::Value::as_str),
                    BUTTON,
                    "a template button's URL",
                );
            }
        }
    }
    // Bird: {"template": {"parameters": [{"key": .., "value": ..}]}}.
    if let Some(template) = content.get("template") {
        for p in strings(template.get("parameters")) {
            add(
                p.get("value").and_then(serde_json::Value::as_str),
                BODY,
                "a template's parameter",
            );
        }
    }
    limits
}

/// WhatsApp's rule for template parameters (error 132018): no newline, no tab, at most four
/// consecutive spaces.
pub(crate) fn check_parameter(value: &str) -> Result<(), &'static str> {
    // One pass over the bytes: this runs for every parameter of every row.
    let mut spaces = 0;
    for b in value.bytes() {
        match b {
            b'\n' | b'\r' => {
                return Err("has a line break (WhatsApp refuses it in template parameters)");
            }
            b'\t' => return Err("has a tab (WhatsApp refuses it in template parameters)"),
            b' ' => {
                spaces += 1;
                if spaces > 4 {
                    return Err(
                        "has more than four spaces in a row (WhatsApp refuses it in \
                                template parameters)",
                    );
                }
            }
            _ => spaces = 0,
        }
    }
    Ok(())
}

fn check_field(check: &FieldCheck, columns: &[String], values: &[String]) -> Result<(), String> {
    let rendered = render::render_text(&check.text, columns, values).map_err(|e| e.to_string())?;
    let ok = match check.rule {
        FieldRule::Number { limit } => rendered
            .trim()
            .parse::<f64>()
            .is_ok_and(|n| n.is_finite() && n.abs() <= limit),
        FieldRule::Url => rendered.starts_with("https://") || rendered.starts_with("http://"),
    };
    if ok {
        return Ok(());
    }
    Err(match check.rule {
        FieldRule::Number { limit } => format!(
            "{} {rendered:?} is not a number from -{limit} to {limit}",
            check.field
        ),
        FieldRule::Url => format!("{} {rendered:?} is not an http(s) URL", check.field),
    })
}

/// A phone error as the operator reads it in the rejects file.
fn phone_message(err: &PhoneError, region: Option<&str>) -> String {
    match (err, region) {
        (PhoneError::Empty, _) => "phone is empty".into(),
        (PhoneError::Invalid(raw), Some(region)) if !is_international(raw) => {
            format!("phone {raw:?} is not a valid number for {region}")
        }
        (PhoneError::Invalid(raw), _) => format!("phone {raw:?} is not a valid number"),
        (PhoneError::NoRegion(raw), _) => {
            format!("phone {raw:?} has no country code (give --region for national numbers)")
        }
        (other, _) => other.to_string(),
    }
}

fn is_international(raw: &str) -> bool {
    raw.starts_with('+') || raw.starts_with("00")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_rule_follows_whatsapp_132018() {
        fn check(value: &str, expect: bool) {
            assert_eq!(check_parameter(value).is_ok(), expect, "{value:?}");
        }
        check("Max Mustermann", true);
        check("a    b", true);
        check("a     b", false);
        check("line\nbreak", false);
        check("carriage\rreturn", false);
        check("tab\there", false);
        check("Jürgen ✓", true);
    }

    fn layout(header: &[&str], phone: Option<&str>, columns: &[&str]) -> anyhow::Result<Layout> {
        let columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        Layout::new(&ByteRecord::from(header.to_vec()), phone, &columns, true)
    }

    #[test]
    fn header_mapping_is_case_and_space_insensitive_and_names_what_is_missing() {
        let l = layout(
            &[" Phone ", "Order ID", "NAME"],
            None,
            &["name", "order_id"],
        )
        .unwrap();
        assert_eq!((l.phone, l.columns.clone()), (0, vec![2, 1]));
        let l = layout(&["Handy", "x"], None, &[]).unwrap();
        assert_eq!(l.phone, 0);
        let err = |r: anyhow::Result<Layout>| r.unwrap_err().to_string();
        assert!(
            err(layout(&["name", "x"], None, &[])).contains("no phone column; it has: name, x")
        );
        let one_column = err(layout(&["Telefon;Name;Order ID"], None, &[]));
        assert!(
            one_column.contains("it has: Telefon;Name;Order ID")
                && one_column.contains("--delimiter ';'"),
            "{one_column}"
        );
        assert!(!err(layout(&["name", "x"], None, &[])).contains("--delimiter"));
        assert!(
            err(layout(&["phone", "mobile"], None, &[]))
                .contains("several phone columns (phone, mobile)")
        );
        assert!(err(layout(&["phone", "name"], None, &["city"])).contains("no column city"));
        assert!(
            err(layout(&["phone", "Name", "name "], None, &["name"])).contains("columns 2 and 3")
        );
        assert!(err(layout(&["tel", "name"], Some("mobil"), &[])).contains("no column \"mobil\""));
        assert_eq!(layout(&["tel", "name"], Some("TEL"), &[]).unwrap().phone, 0);
    }
}
