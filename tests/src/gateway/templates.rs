//! The approved WhatsApp templates the mock knows: how many header, body and button parameters
//! each one takes, and optionally its text so that the response can show the rendered message.
//!
//! The built-in set holds the seed's examples (`hello_world`, `order_confirmation`,
//! `appointment_reminder`, `product_available`, all in `de`). `--templates FILE` adds to it (or
//! overrides a built-in with the same name and language); the file is JSON (`[{...}]` or
//! `{"templates": [{...}]}`) or TOML (`[[templates]]` tables), chosen by its extension:
//!
//! ```toml
//! [[templates]]
//! name = "shipping_update"
//! language = "en"
//! body = 2                 # number of {{n}} body parameters
//! buttons = 1              # number of button objects with parameters
//! header = 1               # 0 or 1 header parameter
//! header_format = "image"  # text (default), image, video or document
//! body_text = "Hi {{1}}, parcel {{2}} is on its way."
//! ```

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;

/// What kind of value a template's header parameter is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum HeaderFormat {
    /// A text header: its parameter is a string.
    #[default]
    Text,
    /// An image header: its parameter is the image's URL.
    Image,
    /// A video header: its parameter is the video's URL.
    Video,
    /// A document header: its parameter is the document's URL.
    Document,
}

/// One approved template, as WhatsApp would have it on file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    /// Template name, e.g. `hello_world`.
    pub name: String,
    /// Language code, e.g. `de`.
    pub language: String,
    /// Number of header parameters (WhatsApp allows at most one).
    #[serde(default)]
    pub header: usize,
    /// Number of body parameters (`{{1}}` … `{{n}}`).
    #[serde(default)]
    pub body: usize,
    /// Number of button objects that carry parameters.
    #[serde(default)]
    pub buttons: usize,
    /// What the header parameter is.
    #[serde(default)]
    pub header_format: HeaderFormat,
    /// The header text with `{{1}}`, for the rendered message in responses.
    #[serde(default)]
    pub header_text: Option<String>,
    /// The body text with `{{n}}` placeholders, for the rendered message in responses.
    #[serde(default)]
    pub body_text: Option<String>,
}

impl TemplateSpec {
    fn new(name: &str, header: usize, body: usize, buttons: usize) -> TemplateSpec {
        TemplateSpec {
            name: name.to_owned(),
            language: "de".to_owned(),
            header,
            body,
            buttons,
            header_format: HeaderFormat::Text,
            header_text: None,
            body_text: None,
        }
    }
}

/// The set of approved templates, looked up by name and language.
#[derive(Debug, Clone)]
pub struct Templates {
    by_name: HashMap<String, HashMap<String, TemplateSpec>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum TemplateFile {
    List(Vec<TemplateSpec>),
    Table { templates: Vec<TemplateSpec> },
}

impl Templates {
    /// The seed's example templates.
    pub fn builtin() -> Templates {
        let mut hello = TemplateSpec::new("hello_world", 0, 0, 0);
        hello.body_text = Some("Hallo Welt!".to_owned());
        let mut order = TemplateSpec::new("order_confirmation", 0, 2, 1);
        order.body_text = Some("Hallo {{1}}, deine Bestellung {{2}} ist bestätigt.".to_owned());
        let mut appointment = TemplateSpec::new("appointment_reminder", 1, 4, 1);
        appointment.header_text = Some("{{1}}".to_owned());
        appointment.body_text =
            Some("Hallo {{1}}, dein Termin am {{2}} um {{3}} bei {{4}} steht.".to_owned());
        let mut product = TemplateSpec::new("product_available", 1, 1, 0);
        product.header_format = HeaderFormat::Image;
        product.body_text = Some("{{1}} ist wieder verfügbar.".to_owned());

        let mut templates = Templates {
            by_name: HashMap::new(),
        };
        for spec in [hello, order, appointment, product] {
            templates.insert(spec);
        }
        templates
    }

    /// The built-in templates plus (overridden by) those in `path`.
    pub fn builtin_and_file(path: &Path) -> anyhow::Result<Templates> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read template file {}", path.display()))?;
        let is_toml = path.extension().is_some_and(|ext| ext == "toml");
        let file: TemplateFile = if is_toml {
            toml::from_str(&text)
                .with_context(|| format!("failed to parse {} as TOML", path.display()))?
        } else {
            serde_json::from_str(&text)
                .with_context(|| format!("failed to parse {} as JSON", path.display()))?
        };
        let specs = match file {
            TemplateFile::List(specs) | TemplateFile::Table { templates: specs } => specs,
        };
        let mut templates = Templates::builtin();
        for spec in specs {
            if spec.name.is_empty() || spec.language.is_empty() {
                bail!("{}: a template needs a name and a language", path.display());
            }
            if spec.header > 1 {
                bail!(
                    "{}: template {} has {} header parameters; WhatsApp allows at most 1",
                    path.display(),
                    spec.name,
                    spec.header
                );
            }
            templates.insert(spec);
        }
        Ok(templates)
    }

    fn insert(&mut self, spec: TemplateSpec) {
        self.by_name
            .entry(spec.name.clone())
            .or_default()
            .insert(spec.language.clone(), spec);
    }

    /// The template with this name and language, if approved.
    pub fn get(&self, name: &str, language: &str) -> Option<&TemplateSpec> {
        self.by_name.get(name)?.get(language)
    }

    /// Whether a template of this name exists in some language.
    pub fn has_name(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }
}
