//! The opt-outs page: how many numbers are on the list, a number searched (on the list or
//! not, and how it got there), a page of the list with each number's source, and adding,
//! removing and importing numbers (operators only), as `wacast optout` does.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{Markup, html};
use serde::Deserialize;
use wacast_shared::phone::PhoneNumber;
use wacast_shared::queue::{Optout, OptoutSource};

use crate::console::auth::{Login, Operator};
use crate::console::layout::{Nav, PageError, csrf_field, page};
use crate::console::server::Console;

/// Numbers shown per page of the list.
const PAGE_SIZE: usize = 100;
/// Numbers one import may hold: a form post stays small (1 MiB holds far more).
const IMPORT_MAX: usize = 50_000;

pub(crate) fn routes() -> Router<Console> {
    Router::new()
        .route("/optouts", get(list))
        .route("/optouts/add", post(add))
        .route("/optouts/remove", post(remove))
        .route("/optouts/import", post(import))
}

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    q: Option<String>,
    cursor: Option<u64>,
    done: Option<String>,
    n: Option<u64>,
}

async fn list(
    State(console): State<Console>,
    login: Login,
    Query(query): Query<ListQuery>,
) -> Result<Markup, PageError> {
    let queue = console.queue();
    let total = queue.optout_count().await?;
    let searched = match query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        None => None,
        Some(text) => Some(match PhoneNumber::parse(text, None) {
            Ok(number) => Ok((number.clone(), queue.is_opted_out(&number).await?)),
            Err(e) => Err(format!(
                "{text:?}: {e}; give the number in international form"
            )),
        }),
    };
    let page_of = queue
        .scan_optouts(query.cursor.unwrap_or(0), PAGE_SIZE)
        .await?;
    let body = html! {
        @if let Some(done) = &query.done {
            p.flash.ok role="status" { (query.n.unwrap_or(0)) " numbers " (done) "." }
        }
        p { (total) " numbers on the opt-out list: no campaign messages them." }
        form.row method="get" action="/optouts" {
            label { "Search a number" input type="search" name="q" value=(query.q.as_deref().unwrap_or("")) placeholder="+4915112345678"; }
            button type="submit" { "Search" }
        }
        @match &searched {
            Some(Ok((number, true))) => p.flash { (number) " is on the opt-out list." },
            Some(Ok((number, false))) => p.flash { (number) " is not on the opt-out list." },
            Some(Err(e)) => p.flash.error { (e) },
            None => {},
        }
        @if login.may_act() {
            h2 { "Add or remove" }
            form.row method="post" action="/optouts/add" {
                (csrf_field(&login))
                label { "Number" input type="text" name="number" required placeholder="+4915112345678"; }
                button type="submit" { "Add" }
                button.secondary type="submit" formaction="/optouts/remove" { "Remove" }
            }
            h2 { "Import" }
            form method="post" action="/optouts/import" {
                (csrf_field(&login))
                label for="numbers" { "Numbers, one a line (international form)" }
                br;
                textarea #numbers name="numbers" rows="6" cols="40" {}
                br;
                button type="submit" { "Import" }
            }
        }
        h2 { "The list" }
        (table(&page_of.optouts))
        @if page_of.cursor != 0 {
            p { a href={"/optouts?cursor=" (page_of.cursor)} { "More →" } }
        }
    };
    Ok(page("Opt-outs", &login, Nav::Optouts, body))
}

fn table(optouts: &[Optout]) -> Markup {
    html! {
        table {
            thead { tr {
                th scope="col" { "Number" } th scope="col" { "Source" } th scope="col" { "At (UTC)" }
                th scope="col" { "Campaign" } th.num scope="col" { "Row" }
            } }
            tbody {
                @for o in optouts {
                    tr {
                        td { "+" (o.number) }
                        td { (o.source.as_deref().unwrap_or("-")) }
                        td { (o.at.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_else(|| "-".into())) }
                        td {
                            @if let Some(c) = &o.campaign { a href={"/campaigns/" (c)} { (c) } } @else { "-" }
                        }
                        td.num { (o.row.map(|r| r.to_string()).unwrap_or_else(|| "-".into())) }
                    }
                }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
struct NumberForm {
    number: String,
}

fn parse_number(text: &str) -> Result<PhoneNumber, PageError> {
    PhoneNumber::parse(text, None).map_err(|e| {
        PageError::new(
            StatusCode::BAD_REQUEST,
            format!("{text:?}: {e}; give the number in international form, e.g. +4915112345678"),
        )
    })
}

fn done(what: &str, n: u64) -> Response {
    Redirect::to(&format!("/optouts?done={what}&n={n}")).into_response()
}

async fn add(
    State(console): State<Console>,
    Operator(_login): Operator,
    Form(form): Form<NumberForm>,
) -> Result<Response, PageError> {
    let number = parse_number(&form.number)?;
    let added = console
        .queue()
        .add_optouts(&[number], OptoutSource::Manual)
        .await?;
    Ok(done("added", added))
}

async fn remove(
    State(console): State<Console>,
    Operator(_login): Operator,
    Form(form): Form<NumberForm>,
) -> Result<Response, PageError> {
    let number = parse_number(&form.number)?;
    let removed = console.queue().remove_optouts(&[number]).await?;
    Ok(done("removed", removed))
}

#[derive(Debug, Deserialize)]
struct ImportForm {
    numbers: String,
}

async fn import(
    State(console): State<Console>,
    Operator(_login): Operator,
    Form(form): Form<ImportForm>,
) -> Result<Response, PageError> {
    let mut numbers = Vec::new();
    for (i, line) in form.numbers.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let number = PhoneNumber::parse(line, None).map_err(|e| {
            PageError::new(
                StatusCode::BAD_REQUEST,
                format!("line {}: {line:?}: {e}; nothing was imported", i + 1),
            )
        })?;
        numbers.push(number);
    }
    if numbers.len() > IMPORT_MAX {
        return Err(PageError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "{} numbers: import at most {IMPORT_MAX} at once, or use `wacast optout import`",
                numbers.len()
            ),
        ));
    }
    let added = console
        .queue()
        .add_optouts(&numbers, OptoutSource::Import)
        .await?;
    Ok(done("imported", added))
}
