//! The approved Bird templates the mock knows: which named variables each one takes, keyed by
//! project, version and locale as Bird identifies a template to send.
//!
//! The built-in set holds one template per template example the seed names (text template
//! with a variable, image template with a button and variables, image with a variable in a
//! button); their ids are made up, and `BUILTIN_*` names them for tests. `--bird-templates
//! FILE` adds to it (or overrides a built-in with the same project, version and locale); the
//! file is JSON (`[{...}]` or `{"templates": [{...}]}`) or TOML (`[[templates]]` tables),
//! chosen by its extension:
//!
//! ```toml
//! [[templates]]
//! project_id = "3f2e1d0c-9b8a-4776-a5b4-c3d2e1f0a9b8"
//! version = "8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d"
//! locale = "en"
//! name = "shipping_update"          # optional, shown in answers
//! parameters = ["name", "trackingUrl"]
//! ```

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::gateway::bird::validate::is_uuid;

/// The built-in "text template with variable": project, version, locale.
pub const BUILTIN_TEXT: (&str, &str, &str) = (
    "0b9c3f7e-1a2b-4c5d-8e9f-0a1b2c3d4e5f",
    "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
    "en",
);
/// The built-in "image template with button and variables".
pub const BUILTIN_IMAGE_BUTTON: (&str, &str, &str) = (
    "4a5b6c7d-8e9f-4a0b-8c1d-2e3f4a5b6c7d",
    "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e",
    "de-DE",
);
/// The built-in "image with a variable in a button".
pub const BUILTIN_BUTTON_VARIABLE: (&str, &str, &str) = (
    "6d7e8f9a-0b1c-4d2e-9f3a-4b5c6d7e8f9a",
    "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f",
    "en",
);

/// The version that names a project's newest approved version, as Bird's examples send it.
pub const LATEST: &str = "latest";

/// One approved template version in one locale.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BirdTemplateSpec {
    /// The template project's id.
    pub project_id: String,
    /// The approved version's id.
    pub version: String,
    /// The locale, e.g. `en` or `de-DE`.
    pub locale: String,
    /// A name for answers and logs.
    #[serde(default)]
    pub name: Option<String>,
    /// The variables it takes; each must be given exactly once.
    #[serde(default)]
    pub parameters: Vec<String>,
}

impl BirdTemplateSpec {
    fn builtin(ids: (&str, &str, &str), name: &str, parameters: &[&str]) -> BirdTemplateSpec {
        BirdTemplateSpec {
            project_id: ids.0.to_owned(),
            version: ids.1.to_owned(),
            locale: ids.2.to_owned(),
            name: Some(name.to_owned()),
            parameters: parameters.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    /// The variables as a set, for checking what a request gives.
    pub fn parameter_set(&self) -> HashSet<&str> {
        self.parameters.iter().map(String::as_str).collect()
    }
}

/// The approved templates, looked up by project, version and locale.
#[derive(Debug, Clone)]
pub struct BirdTemplates {
    by_key: HashMap<(String, String, String), BirdTemplateSpec>,
    /// Version `latest` of a project in a locale: the template inserted last with them (the
    /// file's entries come after the built-ins, in file order).
    latest: HashMap<(String, String), (String, String, String)>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum TemplateFile {
    List(Vec<BirdTemplateSpec>),
    Table { templates: Vec<BirdTemplateSpec> },
}

/// Ids compare case-insensitively (a UUID is the same in either case) and locales with `-` or
/// `_` alike.
fn key(project_id: &str, version: &str, locale: &str) -> (String, String, String) {
    (
        project_id.to_ascii_lowercase(),
        version.to_ascii_lowercase(),
        locale.to_ascii_lowercase().replace('_', "-"),
    )
}

impl BirdTemplates {
    /// One template per template example the seed names.
    pub fn builtin() -> BirdTemplates {
        let mut templates = BirdTemplates {
            by_key: HashMap::new(),
            latest: HashMap::new(),
        };
        for spec in [
            BirdTemplateSpec::builtin(BUILTIN_TEXT, "text_with_variable", &["name"]),
            BirdTemplateSpec::builtin(
                BUILTIN_IMAGE_BUTTON,
                "image_with_button",
                &["imageUrl", "name", "orderId"],
            ),
            BirdTemplateSpec::builtin(
                BUILTIN_BUTTON_VARIABLE,
                "button_variable",
                &["imageUrl", "trackingCode"],
            ),
        ] {
            templates.insert(spec);
        }
        templates
    }

    /// The built-in templates plus (overridden by) those in `path`.
    pub fn builtin_and_file(path: &Path) -> anyhow::Result<BirdTemplates> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read Bird template file {}", path.display()))?;
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
        let mut templates = BirdTemplates::builtin();
        for spec in specs {
            for (what, id) in [("project_id", &spec.project_id), ("version", &spec.version)] {
                if !is_uuid(id) {
                    bail!(
                        "{}: template {what} {id:?} is not a UUID, as Bird writes it",
                        path.display()
                    );
                }
            }
            if spec.locale.trim().is_empty() {
                bail!("{}: a template needs a locale", path.display());
            }
            let mut seen = HashSet::new();
            if let Some(repeated) = spec.parameters.iter().find(|p| !seen.insert(p.as_str())) {
                bail!(
                    "{}: template {} lists the parameter {repeated:?} twice",
                    path.display(),
                    spec.project_id
                );
            }
            templates.insert(spec);
        }
        Ok(templates)
    }

    fn insert(&mut self, spec: BirdTemplateSpec) {
        let key = key(&spec.project_id, &spec.version, &spec.locale);
        self.latest
            .insert((key.0.clone(), key.2.clone()), key.clone());
        self.by_key.insert(key, spec);
    }

    /// The template with this project, version (or `latest`) and locale, if approved.
    pub fn get(&self, project_id: &str, version: &str, locale: &str) -> Option<&BirdTemplateSpec> {
        let key = key(project_id, version, locale);
        if key.1 == LATEST {
            let latest = self.latest.get(&(key.0, key.2))?;
            return self.by_key.get(latest);
        }
        self.by_key.get(&key)
    }
}
