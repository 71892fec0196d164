//! The approved-templates file (`--templates`): a template mapping is checked against it before
//! anything is read or enqueued, so a wrong parameter count fails once, up front, instead of
//! once per message at the provider.
//!
//! TOML (`[[templates]]` tables) or JSON (a list, or `{"templates": [...]}`), chosen by the
//! file's extension; each entry names a template, its language and its parameter counts:
//!
//! ```toml
//! [[templates]]
//! name = "order_confirmation"
//! language = "de"
//! header = 0
//! body = 2
//! buttons = 1
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::Value;

/// One approved template in one language, with its parameter counts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Approved {
    pub(crate) name: String,
    pub(crate) language: String,
    /// Header parameters (0 or 1 in WhatsApp's rules; a media header counts as 1).
    #[serde(default)]
    pub(crate) header: usize,
    /// Body parameters `{{1}}`…`{{n}}`.
    #[serde(default)]
    pub(crate) body: usize,
    /// Buttons with a dynamic parameter.
    #[serde(default)]
    pub(crate) buttons: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlFile {
    #[serde(default)]
    templates: Vec<Approved>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonFile {
    List(Vec<Approved>),
    Object { templates: Vec<Approved> },
}

/// The approved templates of one file.
#[derive(Debug)]
pub(crate) struct Templates {
    path: PathBuf,
    approved: Vec<Approved>,
}

/// A template mapping: what a template body's components fill.
struct Mapping<'a> {
    name: &'a str,
    language: &'a str,
    header: Vec<String>,
    body: Vec<String>,
    buttons: Vec<String>,
}

impl Templates {
    /// Reads a templates file.
    pub(crate) fn load(path: &Path) -> anyhow::Result<Templates> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the templates file {}", path.display()))?;
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let approved = if is_json {
            match serde_json::from_str(&text)
                .with_context(|| format!("{} is not a valid templates file", path.display()))?
            {
                JsonFile::List(list) | JsonFile::Object { templates: list } => list,
            }
        } else {
            toml::from_str::<TomlFile>(&text)
                .with_context(|| format!("{} is not a valid templates file", path.display()))?
                .templates
        };
        if approved.is_empty() {
            bail!(
                "{} lists no templates: add [[templates]] entries with name, language, header, body and buttons",
                path.display()
            );
        }
        Ok(Templates {
            path: path.to_path_buf(),
            approved,
        })
    }

    /// The approved templates, in the file's order (the console offers them).
    pub(crate) fn approved(&self) -> &[Approved] {
        &self.approved
    }

    /// Checks a template content against the approved list; other kinds pass. `from_flags` says
    /// whether the mapping came from --header/--body/--button (the error names them) or from
    /// --content-json.
    pub(crate) fn check(&self, content: &Value, from_flags: bool) -> anyhow::Result<()> {
        let Some(mapping) = Mapping::of(content) else {
            return Ok(());
        };
        let file = self.file_name();
        let Some(approved) = self
            .approved
            .iter()
            .find(|a| a.name == mapping.name && a.language == mapping.language)
        else {
            let languages = self.languages_of(mapping.name);
            if languages.is_empty() {
                let known: Vec<String> = self
                    .approved
                    .iter()
                    .map(|a| format!("{} ({})", a.name, a.language))
                    .collect();
                bail!(
                    "template {} is not in {file}: it lists {}",
                    mapping.name,
                    known.join(", ")
                );
            }
            bail!(
                "template {} has no {} version in {file}: it is approved in {}",
                mapping.name,
                mapping.language,
                languages.join(", ")
            );
        };
        for (component, flag, expected, got) in [
            ("header", "--header", approved.header, &mapping.header),
            ("body", "--body", approved.body, &mapping.body),
            ("button", "--button", approved.buttons, &mapping.buttons),
        ] {
            if expected != got.len() {
                let what = if from_flags {
                    format!("{flag} maps {} columns", got.len())
                } else {
                    format!("the content's {component} has {} parameters", got.len())
                };
                let list = if got.is_empty() {
                    String::new()
                } else {
                    format!(": {}", got.join(","))
                };
                bail!(
                    "template {} ({}) has {expected} {component} parameters, {what}{list}",
                    mapping.name,
                    mapping.language,
                );
            }
        }
        Ok(())
    }

    /// The languages a row may switch a template to: those approved with the same parameter
    /// counts as the campaign's mapping. `None` when the content is no template.
    pub(crate) fn languages_like(&self, content: &Value) -> Option<Vec<String>> {
        let mapping = Mapping::of(content)?;
        Some(
            self.approved
                .iter()
                .filter(|a| {
                    a.name == mapping.name
                        && a.header == mapping.header.len()
                        && a.body == mapping.body.len()
                        && a.buttons == mapping.buttons.len()
                })
                .map(|a| a.language.clone())
                .collect(),
        )
    }

    fn languages_of(&self, name: &str) -> Vec<&str> {
        self.approved
            .iter()
            .filter(|a| a.name == name)
            .map(|a| a.language.as_str())
            .collect()
    }

    fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.path.display().to_string())
    }
}

impl<'a> Mapping<'a> {
    fn of(content: &'a Value) -> Option<Mapping<'a>> {
        if content.get("type").and_then(Value::as_str) != Some("template") {
            return None;
        }
        let components = content.get("components");
        let list = |name: &str| -> Vec<String> {
            components
                .and_then(|c| c.get(name))
                .and_then(Value::as_array)
                .map(|items| items.iter().map(describe).collect())
                .unwrap_or_default()
        };
        Some(Mapping {
            name: content
                .get("template")
                .and_then(Value::as_str)
                .unwrap_or(""),
            language: content
                .get("language")
                .and_then(Value::as_str)
                .unwrap_or(""),
            header: list("header"),
            body: list("body"),
            buttons: list("buttons"),
        })
    }
}

/// A parameter as the operator wrote it: the column of a `{{column}}`, else the text.
fn describe(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        // A button: its parameters' texts.
        Value::Object(_) => value
            .get("parameters")
            .and_then(Value::as_array)
            .map(|ps| {
                ps.iter()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default(),
        other => other.to_string(),
    };
    match text.strip_prefix("{{").and_then(|t| t.strip_suffix("}}")) {
        Some(column) if !column.contains("{{") => column.to_string(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn templates(toml: &str) -> Templates {
        Templates {
            path: PathBuf::from("templates.toml"),
            approved: toml::from_str::<TomlFile>(toml).unwrap().templates,
        }
    }

    const FILE: &str = r#"
        [[templates]]
        name = "order_confirmation"
        language = "de"
        body = 2
        buttons = 1
        [[templates]]
        name = "order_confirmation"
        language = "en"
        body = 2
        buttons = 1
        [[templates]]
        name = "order_confirmation"
        language = "fr"
        body = 1
        [[templates]]
        name = "hello_world"
        language = "en_US"
    "#;

    fn order(body: &[&str], buttons: &[&str], language: &str) -> Value {
        let buttons: Vec<Value> = buttons
            .iter()
            .map(|c| {
                json!({"type": "button", "sub_type": "url",
                            "parameters": [{"type": "text", "text": format!("{{{{{c}}}}}")}]})
            })
            .collect();
        let body: Vec<String> = body.iter().map(|c| format!("{{{{{c}}}}}")).collect();
        json!({"type": "template", "template": "order_confirmation", "language": language,
               "components": {"body": body, "buttons": buttons}})
    }

    fn check(content: Value, expect: Result<(), &str>) {
        let got = templates(FILE)
            .check(&content, true)
            .map_err(|e| e.to_string());
        assert_eq!(got, expect.map_err(str::to_string), "{content}");
    }

    #[test]
    fn mapping_must_match_the_approved_counts() {
        check(order(&["name", "order_id"], &["order_id"], "de"), Ok(()));
        check(
            order(&["name", "order_id", "city"], &["order_id"], "de"),
            Err(
                "template order_confirmation (de) has 2 body parameters, --body maps 3 columns: \
                 name,order_id,city",
            ),
        );
        check(
            order(&["name", "order_id"], &[], "de"),
            Err(
                "template order_confirmation (de) has 1 button parameters, --button maps 0 columns",
            ),
        );
        check(
            order(&["name"], &["x"], "it"),
            Err(
                "template order_confirmation has no it version in templates.toml: it is \
                 approved in de, en, fr",
            ),
        );
        let unknown = json!({"type": "template", "template": "promo", "language": "de"});
        check(
            unknown,
            Err(
                "template promo is not in templates.toml: it lists order_confirmation (de), \
                 order_confirmation (en), order_confirmation (fr), hello_world (en_US)",
            ),
        );
        check(json!({"text": "hi"}), Ok(()));
    }

    #[test]
    fn rows_may_switch_only_to_languages_with_the_same_counts() {
        let languages = templates(FILE).languages_like(&order(&["a", "b"], &["c"], "de"));
        assert_eq!(languages, Some(vec!["de".to_string(), "en".to_string()]));
    }

    #[test]
    fn json_files_are_read_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        std::fs::write(&path, r#"[{"name": "hello_world", "language": "en_US"}]"#).unwrap();
        let t = Templates::load(&path).unwrap();
        assert!(
            t.check(
                &json!({"type": "template", "template": "hello_world",
                                "language": "en_US"}),
                true
            )
            .is_ok()
        );
        std::fs::write(&path, r#"[{"name": "x", "lang": "en"}]"#).unwrap();
        assert!(Templates::load(&path).is_err());
    }
}
