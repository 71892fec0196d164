//! Freetext, media, location, contacts and interactive messages: required fields, value
//! ranges and WhatsApp's length limits.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::gateway::validate::{
    Rejection, as_object, bad, field, is_http_url, opt_str, opt_str_max, req_array, req_str,
};

pub(super) fn check_content(
    obj: &Map<String, Value>,
    kind: &str,
    interactive_type: Option<&str>,
) -> Result<(), Rejection> {
    match kind {
        "text" => {
            req_str(obj, "text", "", 4096)?;
        }
        "image" | "video" | "audio" | "document" | "sticker" => {
            let url = req_str(obj, "url", "", 2048)?;
            if !is_http_url(url) {
                return Err(bad(format!("url {url:?} must be a public http(s) URL")));
            }
            opt_str_max(obj, "caption", "", 1024)?;
            if kind == "document" {
                req_str(obj, "filename", "", 240)?;
            }
        }
        "location" => {
            check_coordinate(obj, "latitude", 90.0)?;
            check_coordinate(obj, "longitude", 180.0)?;
            opt_str_max(obj, "name", "", 1000)?;
            opt_str_max(obj, "address", "", 1000)?;
        }
        "contacts" => {
            for (idx, contact) in req_array(obj, "contacts", "")?.iter().enumerate() {
                check_contact(contact, &format!("contacts[{idx}]"))?;
            }
        }
        "interactive" => check_interactive(obj, interactive_type)?,
        _ => {}
    }
    Ok(())
}

fn check_coordinate(obj: &Map<String, Value>, key: &str, limit: f64) -> Result<(), Rejection> {
    match field(obj, key).and_then(Value::as_f64) {
        Some(degrees) if (-limit..=limit).contains(&degrees) => Ok(()),
        Some(_) => Err(bad(format!("{key} must be between -{limit} and {limit}"))),
        None => Err(bad(format!("{key} is required and must be a number"))),
    }
}

fn check_contact(contact: &Value, at: &str) -> Result<(), Rejection> {
    let contact = as_object(contact, at)?;
    let at = format!("{at}.");
    let name = as_object(
        field(contact, "name").ok_or_else(|| bad(format!("{at}name is required")))?,
        &format!("{at}name"),
    )?;
    req_str(name, "first_name", &format!("{at}name."), 256)?;
    opt_str_max(name, "last_name", &format!("{at}name."), 256)?;
    for (idx, phone) in req_array(contact, "phones", &at)?.iter().enumerate() {
        let phone_at = format!("{at}phones[{idx}]");
        let phone = as_object(phone, &phone_at)?;
        let phone_at = format!("{phone_at}.");
        req_str(phone, "phone", &phone_at, 32)?;
        if let Some(kind) = opt_str(phone, "type", &phone_at)?
            && !matches!(kind, "cell" | "main" | "iphone" | "home" | "work")
        {
            return Err(bad(format!(
                "{phone_at}type {kind:?} is unknown; use cell, main, iphone, home or work"
            )));
        }
    }
    Ok(())
}

fn check_interactive(
    obj: &Map<String, Value>,
    interactive_type: Option<&str>,
) -> Result<(), Rejection> {
    req_str(obj, "body", "", 1024)?;
    opt_str_max(obj, "header", "", 60)?;
    opt_str_max(obj, "footer", "", 60)?;
    match interactive_type {
        Some("button") => {
            let buttons = req_array(obj, "buttons", "")?;
            if !(2..=3).contains(&buttons.len()) {
                return Err(bad(format!(
                    "buttons has {} entries; interactive button messages need 2 or 3",
                    buttons.len()
                )));
            }
            let mut ids = HashSet::new();
            for (idx, button) in buttons.iter().enumerate() {
                let at = format!("buttons[{idx}]");
                let button = as_object(button, &at)?;
                let at = format!("{at}.");
                let id = req_str(button, "id", &at, 256)?;
                if !ids.insert(id) {
                    return Err(bad(format!("{at}id {id:?} is used by another button")));
                }
                req_str(button, "title", &at, 20)?;
            }
        }
        Some("list") => {
            req_str(obj, "button_text", "", 20)?;
            let sections = req_array(obj, "sections", "")?;
            if sections.len() > 10 {
                return Err(bad("sections has more than 10 entries"));
            }
            let mut n_rows = 0;
            let mut ids = HashSet::new();
            for (idx, section) in sections.iter().enumerate() {
                let at = format!("sections[{idx}]");
                let section = as_object(section, &at)?;
                let at = format!("{at}.");
                if sections.len() > 1 {
                    req_str(section, "title", &at, 24)?;
                } else {
                    opt_str_max(section, "title", &at, 24)?;
                }
                for (row_idx, row) in req_array(section, "rows", &at)?.iter().enumerate() {
                    let row_at = format!("{at}rows[{row_idx}]");
                    let row = as_object(row, &row_at)?;
                    let row_at = format!("{row_at}.");
                    let id = req_str(row, "id", &row_at, 200)?;
                    if !ids.insert(id) {
                        return Err(bad(format!("{row_at}id {id:?} is used by another row")));
                    }
                    req_str(row, "title", &row_at, 24)?;
                    opt_str_max(row, "description", &row_at, 72)?;
                    n_rows += 1;
                }
            }
            if n_rows > 10 {
                return Err(bad(format!(
                    "sections hold {n_rows} rows; at most 10 are allowed"
                )));
            }
        }
        Some(other) => {
            return Err(bad(format!(
                "interactive_type {other:?} is unknown; use button or list"
            )));
        }
        None => return Err(bad("interactive_type is required: button or list")),
    }
    Ok(())
}
