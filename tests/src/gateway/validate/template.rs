//! Template messages: the template must be approved in that language, take exactly as many
//! header, body and button parameters as given, and no parameter may hold what WhatsApp
//! refuses (error 132018).

use serde_json::{Map, Value, json};

use crate::gateway::config::Config;
use crate::gateway::templates::{HeaderFormat, TemplateSpec};
use crate::gateway::validate::{
    Rejection, as_object, bad, field, is_http_url, opt_str, req_array, req_str,
};

/// WhatsApp's own wording for error 132018.
const PARAM_FORMAT_ERROR: &str =
    "(#132018) Param text cannot have new-line/tab characters or more than 4 consecutive spaces";

/// A template parameter: a non-empty string without what WhatsApp refuses (error 132018).
fn check_param<'a>(value: &'a Value, at: &str) -> Result<&'a str, Rejection> {
    let text = value
        .as_str()
        .ok_or_else(|| bad(format!("{at} must be a string")))?;
    if text.trim().is_empty() {
        return Err(bad(format!("{at} must not be empty")));
    }
    if text.contains(['\n', '\r', '\t']) || text.contains("     ") {
        return Err(bad(format!("{at}: {PARAM_FORMAT_ERROR}")));
    }
    Ok(text)
}

fn param_list<'a>(
    components: Option<&'a Map<String, Value>>,
    key: &str,
) -> Result<&'a [Value], Rejection> {
    match components.and_then(|c| field(c, key)) {
        None => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(bad(format!("components.{key} must be an array"))),
    }
}

fn check_count(
    spec: &TemplateSpec,
    part: &str,
    expected: usize,
    got: usize,
) -> Result<(), Rejection> {
    if expected == got {
        return Ok(());
    }
    Err(bad(format!(
        "(#132000) template {} ({}) expects {expected} {part} parameters, got {got}",
        spec.name, spec.language
    )))
}

/// Returns the response `text` and the content to compare for duplicates (the parameters
/// themselves, since `text` shows them only where the template's text is known).
pub(super) fn check_template(
    obj: &Map<String, Value>,
    config: &Config,
) -> Result<(String, Option<String>), Rejection> {
    let name = req_str(obj, "template", "", 512)?;
    let language = req_str(obj, "language", "", 16)?;
    let Some(spec) = config.templates.get(name, language) else {
        return Err(bad(if config.templates.has_name(name) {
            format!("(#132001) template {name} does not exist in language {language}")
        } else {
            format!("(#132001) template {name} does not exist or is not approved")
        }));
    };
    let components = match field(obj, "components") {
        None => None,
        Some(value) => {
            let components = as_object(value, "components")?;
            if let Some(key) = components
                .keys()
                .find(|key| !matches!(key.as_str(), "header" | "body" | "buttons"))
            {
                return Err(bad(format!(
                    "components.{key} is unknown; use header, body and buttons"
                )));
            }
            Some(components)
        }
    };

    let header = param_list(components, "header")?;
    check_count(spec, "header", spec.header, header.len())?;
    let mut header_params = Vec::with_capacity(header.len());
    for (idx, value) in header.iter().enumerate() {
        let at = format!("components.header[{idx}]");
        let param = check_param(value, &at)?;
        if spec.header_format != HeaderFormat::Text && !is_http_url(param) {
            return Err(bad(format!(
                "{at} must be the http(s) URL of the {:?} header",
                spec.header_format
            )));
        }
        header_params.push(param);
    }

    let body = param_list(components, "body")?;
    check_count(spec, "body", spec.body, body.len())?;
    let body_params = body
        .iter()
        .enumerate()
        .map(|(idx, value)| check_param(value, &format!("components.body[{idx}]")))
        .collect::<Result<Vec<_>, _>>()?;

    let buttons = param_list(components, "buttons")?;
    check_count(spec, "button", spec.buttons, buttons.len())?;
    for (idx, button) in buttons.iter().enumerate() {
        check_template_button(button, &format!("components.buttons[{idx}]"))?;
    }

    let mut rendered = Map::new();
    if let Some(header_text) = &spec.header_text {
        rendered.insert(
            "header".to_owned(),
            Value::String(fill(header_text, &header_params)),
        );
    } else if let Some(url) = header_params.first() {
        rendered.insert("header".to_owned(), Value::String((*url).to_owned()));
    }
    let body_text = match &spec.body_text {
        Some(body_text) => fill(body_text, &body_params),
        None => body_params.join(" "),
    };
    rendered.insert("body".to_owned(), Value::String(body_text));
    // Built by hand to keep the seed's key order (serde_json's maps sort their keys).
    let text = format!(
        r#"{{"type":"template","template":{},"language":{},"rendered":{}}}"#,
        Value::from(name),
        Value::from(language),
        Value::Object(rendered)
    );
    let content = json!([name, language, components]).to_string();
    Ok((text, Some(content)))
}

fn check_template_button(button: &Value, at: &str) -> Result<(), Rejection> {
    let button = as_object(button, at)?;
    let at = format!("{at}.");
    if opt_str(button, "type", &at)? != Some("button") {
        return Err(bad(format!("{at}type must be \"button\"")));
    }
    let sub_type = req_str(button, "sub_type", &at, 32)?;
    if !matches!(sub_type, "url" | "quick_reply" | "copy_code" | "flow") {
        return Err(bad(format!(
            "{at}sub_type {sub_type:?} is unknown; use url, quick_reply, copy_code or flow"
        )));
    }
    for (idx, param) in req_array(button, "parameters", &at)?.iter().enumerate() {
        let at = format!("{at}parameters[{idx}]");
        let param = as_object(param, &at)?;
        let at = format!("{at}.");
        match opt_str(param, "type", &at)? {
            Some("text") => {
                check_param(
                    field(param, "text").unwrap_or(&Value::Null),
                    &format!("{at}text"),
                )?;
            }
            Some("payload") => {
                req_str(param, "payload", &at, 1000)?;
            }
            Some("coupon_code") => {
                req_str(param, "coupon_code", &at, 15)?;
            }
            _ => {
                return Err(bad(format!(
                    "{at}type must be text, payload or coupon_code"
                )));
            }
        }
    }
    Ok(())
}

/// Replaces `{{n}}` with the n-th parameter (1-based).
fn fill(template: &str, params: &[&str]) -> String {
    let mut out = template.to_owned();
    for (idx, param) in params.iter().enumerate().rev() {
        out = out.replace(&format!("{{{{{}}}}}", idx + 1), param);
    }
    out
}
