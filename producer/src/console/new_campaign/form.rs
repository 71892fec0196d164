//! The new campaign form's fields as the operator filled them in ([`Options`]), and their
//! conversion into the [`IngestRequest`] that `wacast enqueue` builds from its flags: the same
//! checks then run, with the same messages (the form's labels name the flags they stand for).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use wacast_shared::campaign::ProviderKind;

use crate::console::new_campaign::mapping::{self, Mapping, comma_list};
use crate::ingest::options::{check_label, parse_ttl};
use crate::ingest::templates::Approved;
use crate::ingest::{
    BirdOptions, ContentRequest, DeliveryOptions, IngestRequest, InputOptions, Kind,
};

/// The ttl the form starts with, as `wacast enqueue --ttl` defaults: 48 hours.
const DEFAULT_TTL: &str = "2880";
/// The Bird template version the form starts with, as `--template-version` defaults.
const DEFAULT_TEMPLATE_VERSION: &str = "latest";

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

/// The form's fields, kept as filled in so that the form shows them again beside the dry run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Options {
    pub(crate) from: String,
    pub(crate) provider: ProviderKind,
    /// Bird: `--workspace`, `--channel`, and `--tag` as a comma list.
    pub(crate) workspace: String,
    pub(crate) channel: String,
    pub(crate) tags: String,
    pub(crate) kind: MessageKind,
    /// seven: `name|language`, one of the templates file's entries, or typed.
    pub(crate) template: String,
    /// seven: the columns of the template's parameters.
    pub(crate) mapping: Mapping,
    /// Bird: `--template-project`, `--template-version`, `--locale`, and `--param KEY=COLUMN`
    /// as a comma list.
    pub(crate) template_project: String,
    pub(crate) template_version: String,
    pub(crate) locale: String,
    pub(crate) params: String,
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
            provider: ProviderKind::Seven,
            workspace: String::new(),
            channel: String::new(),
            tags: String::new(),
            kind: MessageKind::Template,
            template: String::new(),
            mapping: Mapping::default(),
            template_project: String::new(),
            template_version: DEFAULT_TEMPLATE_VERSION.into(),
            locale: String::new(),
            params: String::new(),
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
        set(&mut options.workspace, "workspace");
        set(&mut options.channel, "channel");
        set(&mut options.tags, "tags");
        set(&mut options.template, "template");
        set(&mut options.template_project, "template_project");
        set(&mut options.template_version, "template_version");
        set(&mut options.locale, "locale");
        set(&mut options.params, "params");
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
        options.provider = match field("provider").as_deref() {
            Some("bird") => ProviderKind::Bird,
            _ => ProviderKind::Seven,
        };
        options.kind = match field("kind").as_deref() {
            Some("text") => MessageKind::Text,
            Some("image") => MessageKind::Image,
            _ => MessageKind::Template,
        };
        options.mapping = Mapping::from_fields(fields, &options.template);
        options
    }

    /// Whether these options send a template of the templates file whose parameters have no
    /// columns yet (just uploaded, or another template chosen): its dry run waits until the
    /// operator has chosen them.
    pub(crate) fn awaits_mapping(&self, templates: &[Approved]) -> bool {
        self.kind == MessageKind::Template
            && self.provider == ProviderKind::Seven
            && self.mapping.is_empty()
            && mapping::approved(&self.template, templates)
                .is_some_and(|approved| mapping::n_parameters(approved) > 0)
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
        let mut content = ContentRequest::default();
        match (self.kind, self.provider) {
            (MessageKind::Template, ProviderKind::Seven) => {
                let (name, language) = self.template.split_once('|').ok_or_else(|| {
                    "pick a template (or choose a freetext or image message)".to_string()
                })?;
                if let Some(parameter) = self.mapping.unmapped() {
                    return Err(format!("choose the file's column for {parameter}"));
                }
                content.template = Some(name.to_string());
                content.language = Some(language.to_string());
                content.header = self.mapping.header.clone();
                content.body = self.mapping.body.clone();
                content.button = self.mapping.button.clone();
            }
            (MessageKind::Template, ProviderKind::Bird) => {
                let project = non_empty(&self.template_project).ok_or_else(|| {
                    "give the Bird template's project (--template-project), or choose a \
                     freetext or image message"
                        .to_string()
                })?;
                content.template_project = Some(project);
                content.template_version = non_empty(&self.template_version)
                    .unwrap_or_else(|| DEFAULT_TEMPLATE_VERSION.into());
                content.locale = non_empty(&self.locale);
                content.param = comma_list(&self.params);
            }
            (MessageKind::Text, _) => content.text = Some(self.text.clone()),
            (MessageKind::Image, _) => {
                content.kind = Some(Kind::Image);
                content.url = Some(self.url.clone());
                content.caption = non_empty(&self.caption);
            }
        }
        // The templates file lists seven's templates: Bird checks its own.
        if self.provider == ProviderKind::Seven {
            content.templates = templates.map(Path::to_path_buf);
        }
        // Bird's fields stay in the form when seven is chosen, as the other kinds' fields do,
        // and are not used.
        let bird = match self.provider {
            ProviderKind::Seven => BirdOptions::default(),
            ProviderKind::Bird => {
                let tags = comma_list(&self.tags);
                for tag in &tags {
                    check_label(tag)?;
                }
                BirdOptions {
                    workspace: non_empty(&self.workspace),
                    channel: non_empty(&self.channel),
                    tags,
                }
            }
        };
        Ok(IngestRequest {
            from: self.from.clone(),
            provider: self.provider,
            content,
            bird,
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
    fn a_template_of_the_templates_file_waits_for_its_columns() {
        let templates = [Approved {
            name: "order_confirmation".into(),
            language: "de".into(),
            header: 0,
            body: 2,
            buttons: 1,
        }];
        let template = [("kind", "template"), ("template", "order_confirmation|de")];
        // Just uploaded: no columns yet.
        assert!(Options::from_fields(&fields(&template)).awaits_mapping(&templates));
        // Chosen in the selects shown for it: they fill the flags' lists.
        let chosen = [
            &template[..],
            &[
                ("mapped_for", "order_confirmation|de"),
                ("body_1", "name"),
                ("body_2", "order_id"),
                ("button_1", "order_id"),
            ],
        ]
        .concat();
        let options = Options::from_fields(&fields(&chosen));
        assert!(!options.awaits_mapping(&templates));
        let request = options.request(None, PathBuf::from("r.csv")).unwrap();
        assert_eq!(request.content.body, vec!["name", "order_id"]);
        assert_eq!(request.content.button, vec!["order_id"]);
        // A select left without a column is named.
        let left = [
            &template[..],
            &[("mapped_for", "order_confirmation|de"), ("body_1", "name")],
            &[("body_2", ""), ("button_1", "order_id")],
        ]
        .concat();
        let err = Options::from_fields(&fields(&left))
            .request(None, PathBuf::from("r.csv"))
            .unwrap_err();
        assert_eq!(err, "choose the file's column for Body {{2}}");
        // Freetext, or a template typed by hand, never waits.
        let text = [("kind", "text"), ("template", "order_confirmation|de")];
        assert!(!Options::from_fields(&fields(&text)).awaits_mapping(&templates));
        let typed = [("kind", "template"), ("template", "welcome|en")];
        assert!(!Options::from_fields(&fields(&typed)).awaits_mapping(&templates));
    }

    #[test]
    fn a_bird_form_becomes_the_bird_flags_request() {
        let options = Options::from_fields(&fields(&[
            ("provider", "bird"),
            ("from", "4915112345678"),
            ("workspace", "0b9c3f7e-1a2b-4c5d-8e9f-0a1b2c3d4e5f"),
            ("channel", "1b9c3f7e-1a2b-4c5d-8e9f-0a1b2c3d4e5f"),
            ("tags", "vip, spring"),
            ("kind", "template"),
            // seven's template select still posts its value: not used for Bird.
            ("template", "order_confirmation|de"),
            ("template_project", "2b9c3f7e-1a2b-4c5d-8e9f-0a1b2c3d4e5f"),
            ("template_version", ""),
            ("locale", "de"),
            ("params", "name=name, order=order_id"),
        ]));
        let request = options
            .request(Some(Path::new("templates.toml")), PathBuf::from("r.csv"))
            .unwrap();
        assert_eq!(request.provider, ProviderKind::Bird);
        assert_eq!(
            request.bird.workspace.as_deref(),
            Some("0b9c3f7e-1a2b-4c5d-8e9f-0a1b2c3d4e5f")
        );
        assert_eq!(
            request.bird.channel.as_deref(),
            Some("1b9c3f7e-1a2b-4c5d-8e9f-0a1b2c3d4e5f")
        );
        assert_eq!(request.bird.tags, vec!["vip", "spring"]);
        assert_eq!(
            request.content.template_project.as_deref(),
            Some("2b9c3f7e-1a2b-4c5d-8e9f-0a1b2c3d4e5f")
        );
        assert_eq!(request.content.template_version, "latest");
        assert_eq!(request.content.locale.as_deref(), Some("de"));
        assert_eq!(request.content.param, vec!["name=name", "order=order_id"]);
        assert_eq!(request.content.template, None);
        assert_eq!(request.content.templates, None, "seven's templates file");
        // seven ignores Bird's fields left in the form.
        let seven = Options {
            provider: ProviderKind::Seven,
            kind: MessageKind::Text,
            ..options
        };
        let request = seven.request(None, PathBuf::from("r.csv")).unwrap();
        assert_eq!(request.provider, ProviderKind::Seven);
        assert!(request.bird.workspace.is_none() && request.bird.tags.is_empty());
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
        check(
            &[("provider", "bird"), ("kind", "template")],
            "--template-project",
        );
        check(
            &[("provider", "bird"), ("kind", "text"), ("tags", "a b")],
            "use only letters",
        );
    }
}
