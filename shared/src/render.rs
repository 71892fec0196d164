//! Campaign content + one row's values → the provider's message body. Pure, no I/O.
//!
//! A campaign's content is the provider's message body with `{{column}}` placeholders inside its
//! string values: `{"type":"template","template":"order","components":{"body":["{{name}}"]}}` or
//! `{"text":"Hello {{name}}"}`. Rendering replaces each placeholder by the row's value of that
//! column. Column names are compared after [`normalise_column`], as CSV headers are.
//!
//! One special case, because seven types them as numbers: a `latitude` or `longitude` string
//! that renders to a number is sent as a JSON number.

use serde_json::Value;

use crate::message::RowOverrides;

/// Why content cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// A placeholder names a column the campaign does not store.
    #[error("placeholder {{{{{0}}}}} names no column of this campaign")]
    UnknownColumn(String),
    /// A `{{` without its `}}`.
    #[error("unclosed placeholder in {0:?}: write {{{{column}}}}")]
    Unclosed(String),
    /// A numeric field whose rendered value is not a number.
    #[error("{field} must be a number, got {value:?}")]
    NotANumber {
        /// The field, e.g. `latitude`.
        field: String,
        /// What the row gave.
        value: String,
    },
}

/// A column name as headers and placeholders are compared: trimmed, lowercase, inner runs of
/// blanks as one `_`. `Order ID`, ` order_id ` and `ORDER  ID` are the same column.
pub fn normalise_column(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending_sep = false;
    for c in name.trim().chars() {
        if c.is_whitespace() || c == '_' {
            pending_sep = !out.is_empty();
        } else {
            if pending_sep {
                out.push('_');
                pending_sep = false;
            }
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// The columns the content's placeholders name, normalised, in order of first appearance.
pub fn placeholders(content: &Value) -> Result<Vec<String>, RenderError> {
    let mut found = Vec::new();
    visit_strings(content, &mut |text| {
        for_each_placeholder(text, |name| {
            let name = normalise_column(name);
            if !found.contains(&name) {
                found.push(name);
            }
        })
    })?;
    Ok(found)
}

/// Renders content for one row: `columns` are the campaign's normalised columns and `values`
/// the row's values in the same order. A `language` override replaces the template language.
pub fn render(
    content: &Value,
    columns: &[String],
    values: &[String],
    overrides: &RowOverrides,
) -> Result<Value, RenderError> {
    let mut out = render_value(content, None, columns, values)?;
    if let (Some(language), Some(obj)) = (&overrides.language, out.as_object_mut())
        && obj.contains_key("language")
    {
        obj.insert("language".into(), Value::String(language.clone()));
    }
    Ok(out)
}

/// Replaces the placeholders of one text.
pub fn render_text(
    text: &str,
    columns: &[String],
    values: &[String],
) -> Result<String, RenderError> {
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| RenderError::Unclosed(text.to_string()))?;
        let name = normalise_column(&after[..end]);
        let idx = columns
            .iter()
            .position(|c| *c == name)
            .ok_or_else(|| RenderError::UnknownColumn(name.clone()))?;
        out.push_str(values.get(idx).map(String::as_str).unwrap_or(""));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

const NUMERIC_FIELDS: [&str; 2] = ["latitude", "longitude"];

fn render_value(
    value: &Value,
    field: Option<&str>,
    columns: &[String],
    values: &[String],
) -> Result<Value, RenderError> {
    Ok(match value {
        Value::String(text) if text.contains("{{") => {
            let rendered = render_text(text, columns, values)?;
            match field {
                Some(f) if NUMERIC_FIELDS.contains(&f) => {
                    let number: f64 =
                        rendered
                            .trim()
                            .parse()
                            .map_err(|_| RenderError::NotANumber {
                                field: f.to_string(),
                                value: rendered.clone(),
                            })?;
                    serde_json::Number::from_f64(number)
                        .map(Value::Number)
                        .ok_or(RenderError::NotANumber {
                            field: f.to_string(),
                            value: rendered,
                        })?
                }
                _ => Value::String(rendered),
            }
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| render_value(v, None, columns, values))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), render_value(v, Some(k), columns, values)?)))
                .collect::<Result<_, RenderError>>()?,
        ),
        other => other.clone(),
    })
}

fn visit_strings(
    value: &Value,
    f: &mut impl FnMut(&str) -> Result<(), RenderError>,
) -> Result<(), RenderError> {
    match value {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter().try_for_each(|v| visit_strings(v, f)),
        Value::Object(map) => map.values().try_for_each(|v| visit_strings(v, f)),
        _ => Ok(()),
    }
}

fn for_each_placeholder(text: &str, mut f: impl FnMut(&str)) -> Result<(), RenderError> {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| RenderError::Unclosed(text.to_string()))?;
        f(&after[..end]);
        rest = &after[end + 2..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn column_names_compare_case_and_space_insensitively() {
        for (raw, expect) in [
            ("Order ID", "order_id"),
            (" order_id ", "order_id"),
            ("ORDER  ID", "order_id"),
            ("Name", "name"),
        ] {
            assert_eq!(normalise_column(raw), expect, "{raw:?}");
        }
    }

    #[test]
    fn placeholders_are_listed_once_in_order() {
        let content = json!({"type": "template", "components": {
            "body": ["{{Name}}", "{{order id}}"],
            "buttons": [{"type": "button", "sub_type": "url",
                          "parameters": [{"type": "text", "text": "{{order_id}}"}]}]}});
        assert_eq!(placeholders(&content).unwrap(), cols(&["name", "order_id"]));
        assert_eq!(
            placeholders(&json!({"text": "Hi {{name"})),
            Err(RenderError::Unclosed("Hi {{name".into()))
        );
    }

    #[test]
    fn renders_a_template_row_and_applies_the_language_override() {
        let content = json!({"type": "template", "template": "order", "language": "de",
                             "components": {"body": ["{{name}}", "{{order_id}}"]}});
        let overrides = RowOverrides {
            language: Some("en".into()),
            ..RowOverrides::default()
        };
        let out = render(
            &content,
            &cols(&["name", "order_id"]),
            &cols(&["Max", "ORD-1"]),
            &overrides,
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"type": "template", "template": "order", "language": "en",
                   "components": {"body": ["Max", "ORD-1"]}})
        );
    }

    #[test]
    fn renders_numbers_into_numeric_fields() {
        let content = json!({"type": "location", "latitude": "{{lat}}", "longitude": 2.35,
                             "name": "Shop {{lat}}"});
        let out = render(
            &content,
            &cols(&["lat"]),
            &cols(&["48.85"]),
            &RowOverrides::default(),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"type": "location", "latitude": 48.85, "longitude": 2.35, "name": "Shop 48.85"})
        );
        let bad = render(
            &content,
            &cols(&["lat"]),
            &cols(&["north"]),
            &RowOverrides::default(),
        );
        assert!(matches!(bad, Err(RenderError::NotANumber { .. })));
    }

    #[test]
    fn unknown_columns_are_named() {
        let err = render_text("Hi {{nick}}", &cols(&["name"]), &cols(&["Max"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "placeholder {{nick}} names no column of this campaign"
        );
    }
}
