//! The checks of single content flags that seven's and Bird's builders share: column
//! placeholders, reply buttons, required and refused flags, coordinates, JSON files.

use std::path::Path;

use anyhow::{Context, bail, ensure};
use serde_json::Value;
use wacast_shared::render;

/// WhatsApp's limit on a reply button's title.
const MAX_BUTTON_TITLE: usize = 20;

/// `{{column}}` for a column named in a flag.
pub(super) fn placeholder(column: &str) -> anyhow::Result<Value> {
    let name = render::normalise_column(column);
    ensure!(
        !name.is_empty(),
        "an empty column name in a --header, --body, --button or --param list"
    );
    Ok(Value::String(format!("{{{{{name}}}}}")))
}

/// `--reply-button ID:TITLE` → its id and title, trimmed, the title within WhatsApp's limit.
pub(super) fn reply_button(spec: &str) -> anyhow::Result<(&str, &str)> {
    let (id, title) = spec
        .split_once(':')
        .map(|(i, t)| (i.trim(), t.trim()))
        .filter(|(i, t)| !i.is_empty() && !t.is_empty())
        .with_context(|| {
            format!("--reply-button {spec:?} must be ID:TITLE, e.g. yes:Yes please")
        })?;
    ensure!(
        title.contains("{{") || title.chars().count() <= MAX_BUTTON_TITLE,
        "--reply-button title {title:?} is longer than {MAX_BUTTON_TITLE} characters"
    );
    Ok((id, title))
}

pub(super) fn require<'a>(
    value: &'a Option<String>,
    flag: &str,
    kind: &str,
) -> anyhow::Result<&'a str> {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => bail!("--kind {kind} needs {flag}"),
    }
}

pub(super) fn refuse(value: &Option<String>, flag: &str, kind: &str) -> anyhow::Result<()> {
    ensure!(value.is_none(), "--kind {kind} takes no {flag}");
    Ok(())
}

/// A coordinate: a literal number within ±`limit`, or a placeholder whose row value is checked
/// when the row is read.
pub(super) fn coordinate(text: &str, flag: &str, limit: f64) -> anyhow::Result<Value> {
    let text = text.trim();
    if text.contains("{{") {
        return Ok(Value::String(text.to_string()));
    }
    let number: f64 = text
        .parse()
        .ok()
        .filter(|n: &f64| n.abs() <= limit)
        .with_context(|| format!("{flag} {text:?} is not a number from -{limit} to {limit}"))?;
    serde_json::Number::from_f64(number)
        .map(Value::Number)
        .with_context(|| format!("{flag} {text:?} is not a number"))
}

pub(super) fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}
