//! The new campaign form's fields as the operator typed them ([`Options`]), and their
//! conversion into the [`IngestRequest`] that `wacast enqueue` builds from its flags: the same
//! checks then run, with the same messages (the form's labels name the flags they stand for).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use wacast_shared::campaign::ProviderKind;

use crate::ingest::options::{check_label, parse_ttl};
use crate::ingest::{
    BirdOptions, ContentRequest, DeliveryOptions, IngestRequest, InputOptions, Kind,
};

/// The ttl the form starts with, as `wacast enqueue --ttl` defaults: 48 hours.
const DEFAULT_TTL: &str = "2880";

/// What to send, as the form's radio buttons offer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum MessageKind {
    /// An approved template with columns mapped to its parameters.
    #[default]
    Template,
    /// A freetext message with `{{column}}` placeholders.
    Text,
    /// An image with an optional caption.
    Image,
}

impl MessageKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MessageKind::Template => "template",
            MessageKind::Text => "text",
            MessageKind::Image => "image",
        }
    }
}

/// The form's fields, kept as typed so that the form shows them again beside the dry run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Options {
    pub(crate) from: String,
    pub(crate) kind: MessageKind,
    /// `name|language`, one of the templates file's entries, or typed.
    pub(crate) template: String,
    pub(crate) header: String,
    pub(crate) body: String,
    pub(crate) button: String,
    pub(crate) text: String,
    pub(crate) url: String,
    pub(crate) caption: String,
    pub(crate) send_at: String,
    pub(crate) tz: String,
    pub(crate) window: String,
    pub(crate) window_tz: String,
    pub(crate) ttl: String,
    pub(crate) label: String,
    pub(crate) region: String,
    pub(crate) phone_column: String,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            from: String::new(),
            kind: MessageKind::Template,
            template: String::new(),
            header: String::new(),
            body: String::new(),
            button: String::new(),
            text: String::new(),
            url: String::new(),
            caption: String::new(),
            send_at: String::new(),
            tz: "UTC".into(),
            window: String::new(),
            window_tz: String::new(),
            ttl: DEFAULT_TTL.into(),
            label: String::new(),
            region: String::new(),
            phone_column: String::new(),
        }
    }
}

impl Options {
    /// Reads the form's fields by name; a field left out keeps its default.
    pub(crate) fn from_fields(fields: &HashMap<String, String>) -> Options {
        let mut options = Options::default();
        let field = |name: &str| fields.get(name).map(|v| v.trim().to_string());
        let set = |target: &mut String, name: &str| {
            if let Some(value) = field(name) {
                *target = value;
            }
        };
        set(&mut options.from, "from");
        set(&mut options.template, "template");
        set(&mut options.header, "header");
        set(&mut options.body, "body");
        set(&mut options.button, "button");
        set(&mut options.text, "text");
        set(&mut options.url, "url");
        set(&mut options.caption, "caption");
        set(&mut options.send_at, "send_at");
        set(&mut options.tz, "tz");
        set(&mut options.window, "window");
        set(&mut options.window_tz, "window_tz");
        set(&mut options.ttl, "ttl");
        set(&mut options.label, "label");
        set(&mut options.region, "region");
        set(&mut options.phone_column, "phone_column");
        options.kind = match field("kind").as_deref() {
            Some("text") => MessageKind::Text,
            Some("image") => MessageKind::Image,
            _ => MessageKind::Template,
        };
        options
    }

    /// The upload request these options make, as `wacast enqueue` would make it from the
    /// flags the form's labels name; `Err` names the field and what to write.
    pub(crate) fn request(
        &self,
        templates: Option<&Path>,
        rejects_file: PathBuf,
    ) -> Result<IngestRequest, String> {
        let tz: Tz = self.tz.parse().map_err(|_| {
            format!(
                "time zone {:?} is not an IANA time zone such as Europe/Berlin or UTC",
                self.tz
            )
        })?;
        let ttl = parse_ttl(&self.ttl)?;
        let label = non_empty(&self.label);
        if let Some(label) = &label {
            check_label(label)?;
        }
        let mut content = ContentRequest {
            templates: templates.map(Path::to_path_buf),
            ..ContentRequest::default()
        };
        match self.kind {
            MessageKind::Template => {
                let (name, language) = self.template.split_once('|').ok_or_else(|| {
                    "pick a template (or choose a freetext or image message)".to_string()
                })?;
                content.template = Some(name.to_string());
                content.language = Some(language.to_string());
                content.header = columns(&self.header);
                content.body = columns(&self.body);
                content.button = columns(&self.button);
            }
            MessageKind::Text => content.text = Some(self.text.clone()),
            MessageKind::Image => {
                content.kind = Some(Kind::Image);
                content.url = Some(self.url.clone());
                content.caption = non_empty(&self.caption);
            }
        }
        Ok(IngestRequest {
            from: self.from.clone(),
            provider: ProviderKind::Seven,
            content,
            bird: BirdOptions::default(),
            input: InputOptions {
                phone_column: non_empty(&self.phone_column),
                region: non_empty(&self.region),
                delimiter: None,
                encoding: None,
            },
            delivery: DeliveryOptions {
                delay: non_empty(&self.send_at),
                tz,
                ttl,
                label,
                performance_tracking: false,
                handoff_ahead: 0,
                window: non_empty(&self.window),
                window_tz: non_empty(&self.window_tz),
                only_open_window: false,
                id: None,
            },
            rejects_file,
        })
    }
}

/// `name, order_id` → `["name", "order_id"]`, as the flags' comma lists read.
fn columns(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_template_form_becomes_the_flags_request() {
        let options = Options::from_fields(&fields(&[
            ("from", "4915112345678"),
            ("kind", "template"),
            ("template", "order_confirmation|de"),
            ("body", "name, order_id"),
            ("button", "order_id"),
            ("tz", "Europe/Berlin"),
            ("send_at", "2027-05-01T09:00"),
            ("label", "spring"),
        ]));
        let request = options.request(None, PathBuf::from("r.csv")).unwrap();
        assert_eq!(
            request.content.template.as_deref(),
            Some("order_confirmation")
        );
        assert_eq!(request.content.language.as_deref(), Some("de"));
        assert_eq!(request.content.body, vec!["name", "order_id"]);
        assert_eq!(request.content.button, vec!["order_id"]);
        assert_eq!(request.delivery.delay.as_deref(), Some("2027-05-01T09:00"));
        assert_eq!(request.delivery.tz, chrono_tz::Europe::Berlin);
        assert_eq!(request.delivery.ttl, 2880);
    }

    #[test]
    fn bad_fields_name_what_to_write() {
        let check = |pairs: &[(&str, &str)], expect: &str| {
            let err = Options::from_fields(&fields(pairs))
                .request(None, PathBuf::from("r.csv"))
                .unwrap_err();
            assert!(err.contains(expect), "{err}");
        };
        check(&[("kind", "template")], "pick a template");
        check(&[("kind", "text"), ("tz", "Mars/Base")], "IANA time zone");
        check(&[("kind", "text"), ("ttl", "0")], "number of minutes");
        check(&[("kind", "text"), ("label", "a b")], "use only letters");
    }
}
