//! A message's page, found by row or by phone number: every field of its hash (the row's
//! values under their column names, attempts, outcome, delivery, reply), in the campaign's
//! time zone where they are times. Numbers are shown whole only here; lists mask them.
//!
//! No index maps a number to its rows, so a search by number reads the rows' `to` field, a
//! thousand rows per round trip, at most [`PHONE_SEARCH_ROWS`] rows.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde::Deserialize;
use wacast_shared::campaign::CampaignId;
use wacast_shared::message::Row;
use wacast_shared::phone::PhoneNumber;
use wacast_shared::queue::{CampaignRecord, Queue, WALK_CHUNK};

use crate::console::auth::Login;
use crate::console::layout::{Nav, PageError, page};
use crate::console::server::Console;
use crate::console::view;

/// Rows a search by number reads at most.
const PHONE_SEARCH_ROWS: Row = 200_000;
/// Rows a search by number lists at most.
const PHONE_MATCHES: usize = 50;

pub(crate) fn routes() -> Router<Console> {
    Router::new().route("/campaigns/{id}/message", get(show))
}

#[derive(Debug, Default, Deserialize)]
struct MessageQuery {
    row: Option<String>,
    phone: Option<String>,
}

async fn show(
    State(console): State<Console>,
    login: Login,
    Path(id): Path<String>,
    Query(query): Query<MessageQuery>,
) -> Result<Markup, PageError> {
    let bad = |text: String| PageError::new(StatusCode::BAD_REQUEST, text);
    let id =
        CampaignId::parse(&id).map_err(|e| PageError::new(StatusCode::NOT_FOUND, e.to_string()))?;
    let queue = console.queue();
    let record = queue.load_campaign(&id).await?;
    let row_text = query
        .row
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    let phone_text = query
        .phone
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    let body = match (row_text, phone_text) {
        (Some(text), _) => {
            let row: Row = text
                .parse()
                .map_err(|_| bad(format!("row {text:?} is not a row number")))?;
            message(queue, &record, row).await?
        }
        (None, Some(text)) => {
            let number = PhoneNumber::parse(text, None).map_err(|e| {
                bad(format!(
                    "{text:?}: {e}; give the number in international form"
                ))
            })?;
            let (rows, examined) = rows_to(queue, &record, &number).await?;
            match rows.as_slice() {
                [row] => message(queue, &record, *row).await?,
                _ => html! {
                    @if rows.is_empty() {
                        p { "No message of this campaign goes to " (number.masked()) " (" (examined) " rows read)." }
                    } @else {
                        p { (rows.len()) " messages go to " (number.masked()) ":" }
                        ul { @for row in &rows { li { a href={"/campaigns/" (id) "/message?row=" (row)} { "row " (row) } } } }
                    }
                },
            }
        }
        (None, None) => return Err(bad("give a row or a phone number".into())),
    };
    let body = html! {
        p { a href={"/campaigns/" (id)} { "← campaign " (id) } }
        (body)
    };
    Ok(page(&format!("A message of {id}"), &login, Nav::None, body))
}

/// The rows whose message goes to `number`, read from the first row on.
async fn rows_to(
    queue: &Queue,
    record: &CampaignRecord,
    number: &PhoneNumber,
) -> Result<(Vec<Row>, Row), PageError> {
    let last = record.rows.min(PHONE_SEARCH_ROWS);
    let mut found = Vec::new();
    let mut from: Row = 1;
    while from <= last && found.len() < PHONE_MATCHES {
        let to = last.min(from + WALK_CHUNK - 1);
        let rows: Vec<Row> = (from..=to).collect();
        let values = queue
            .message_fields(&record.campaign.id, &rows, &["to"])
            .await?;
        for (row, mut fields) in rows.into_iter().zip(values) {
            if fields.pop().flatten().as_deref() == Some(number.digits()) {
                found.push(row);
            }
        }
        from = to + 1;
    }
    Ok((found, from - 1))
}

/// One message's fields.
async fn message(queue: &Queue, record: &CampaignRecord, row: Row) -> Result<Markup, PageError> {
    let id = &record.campaign.id;
    let Some((_, fields)) = queue.message_hashes(id, row, row).await?.pop() else {
        return Ok(
            html! { p { "Row " (row) " has no message (rejected at upload, or beyond the last row " (record.rows) ")." } },
        );
    };
    let zone = view::zone_of(&record.campaign);
    let mut names: Vec<&String> = fields.keys().collect();
    names.sort_by_key(|name| (order(name), name.as_str()));
    Ok(html! {
        h2 { "Row " (row) }
        dl.fields {
            @for name in names {
                dt { (label(name, &record.campaign.columns)) }
                dd { (value(name, &fields, zone)) }
            }
        }
    })
}

/// Fields in the order a person reads them: who, what happened, when, the rest.
fn order(name: &str) -> u8 {
    match name {
        "to" => 0,
        "status" => 1,
        "attempts" => 2,
        "error_code" | "error" => 3,
        "delivery" | "delivered_at" | "read_at" | "replied_at" => 4,
        "delivery_error_code" | "delivery_error" | "opted_out_at" => 5,
        "sent_at" | "updated_at" | "next_attempt_at" | "send_at" => 6,
        _ if name.starts_with('p') && name[1..].parse::<usize>().is_ok() => 7,
        _ => 8,
    }
}

/// A field's label: the row's values under their column's name.
fn label(name: &str, columns: &[String]) -> String {
    match name.strip_prefix('p').and_then(|n| n.parse::<usize>().ok()) {
        Some(n) if (1..=columns.len()).contains(&n) => format!("{} ({name})", columns[n - 1]),
        _ => name.to_string(),
    }
}

fn value(name: &str, fields: &HashMap<String, String>, zone: chrono_tz::Tz) -> Markup {
    let text = fields.get(name).map(String::as_str).unwrap_or("");
    if name.ends_with("_at")
        && let Ok(at) = DateTime::parse_from_rfc3339(text)
    {
        return view::time(Some(at.with_timezone(&Utc)), zone);
    }
    match name {
        "to" => html! { "+" (text) },
        _ => html! { (text) },
    }
}
