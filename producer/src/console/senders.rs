//! The senders page: each sender's rate, burst, rate left after the provider's 429s, tier cap
//! and its use in the last 24 hours, as `wacast rate list` shows them; and setting or
//! removing a rate (operators only), which every worker applies from its next claim.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{Markup, html};
use serde::Deserialize;
use wacast_shared::campaign::ProviderKind;
use wacast_shared::phone::PhoneNumber;
use wacast_shared::queue::limits::Rate;

use crate::console::auth::{Login, Operator};
use crate::console::layout::{Nav, PageError, csrf_field, page};
use crate::console::server::Console;

pub(crate) fn routes() -> Router<Console> {
    Router::new()
        .route("/senders", get(list))
        .route("/senders/rate", post(set_rate))
        .route("/senders/rate/unset", post(unset_rate))
}

async fn list(State(console): State<Console>, login: Login) -> Result<Markup, PageError> {
    let senders = console.queue().list_settings().await?;
    let body = html! {
        p.muted {
            "Rates set here are stored in Redis and apply to every worker from its next claim; "
            "senders without one send at the workers' " code { "--rate" } " (or " code { "--default-rate" } "). "
            "The pair interval (one message per recipient per interval) is the workers' " code { "--pair-interval" } "."
        }
        @if senders.is_empty() {
            p { "No sender has a rate or tier set." }
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Provider" } th scope="col" { "Sender" } th scope="col" { "Rate" }
                    th scope="col" { "Now" } th.num scope="col" { "Tier used / cap (24 h)" } th scope="col" { "Updated" }
                    @if login.may_act() { th scope="col" { "Action" } }
                } }
                tbody {
                    @for s in &senders {
                        tr {
                            td { (s.provider) } td { "+" (s.sender) }
                            td { (s.rate.as_deref().unwrap_or("(workers' flags)")) }
                            td {
                                @match (s.max_per_second, s.rate_factor < 1.0) {
                                    (Some(max), true) => { (format!("{:.1}/s after the provider's 429s", f64::from(max) * s.rate_factor)) }
                                    _ => { "full rate" }
                                }
                            }
                            td.num { (s.tier_used) " / " (s.tier.map_or_else(|| "-".to_string(), |t| t.to_string())) }
                            td { (s.updated_at.as_deref().unwrap_or("-")) }
                            @if login.may_act() {
                                td {
                                    @if s.rate.is_some() {
                                        form.inline method="post" action="/senders/rate/unset" {
                                            (csrf_field(&login))
                                            input type="hidden" name="provider" value=(s.provider);
                                            input type="hidden" name="sender" value=(s.sender);
                                            button.secondary type="submit" { "Remove rate" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if login.may_act() {
            h2 { "Set a rate" }
            form.row method="post" action="/senders/rate" {
                (csrf_field(&login))
                label { "Provider"
                    select name="provider" {
                        @for kind in ProviderKind::ALL { option value=(kind.as_str()) { (kind.display_name()) } }
                    }
                }
                label { "Sender number" input type="text" name="sender" required placeholder="+4915112345678"; }
                label { "Rate (messages/s, MPS:BURST or unlimited)" input type="text" name="rate" required placeholder="20"; }
                button type="submit" { "Set rate" }
            }
        }
    };
    Ok(page("Senders", &login, Nav::Senders, body))
}

#[derive(Debug, Deserialize)]
struct RateForm {
    provider: String,
    sender: String,
    rate: Option<String>,
}

impl RateForm {
    fn parsed(&self) -> Result<(ProviderKind, PhoneNumber), PageError> {
        let bad = |text: String| PageError::new(StatusCode::BAD_REQUEST, text);
        let provider = self
            .provider
            .parse::<ProviderKind>()
            .map_err(|_| bad(format!("unknown provider {:?}", self.provider)))?;
        let sender = PhoneNumber::parse(&self.sender, None).map_err(|e| {
            bad(format!(
                "sender {:?}: {e}; give the number in international form, e.g. +4915112345678",
                self.sender
            ))
        })?;
        Ok((provider, sender))
    }
}

async fn set_rate(
    State(console): State<Console>,
    Operator(_login): Operator,
    Form(form): Form<RateForm>,
) -> Result<Response, PageError> {
    let (provider, sender) = form.parsed()?;
    let text = form.rate.as_deref().unwrap_or("").trim();
    let rate: Rate = text
        .parse()
        .map_err(|e| PageError::new(StatusCode::BAD_REQUEST, format!("rate {text:?}: {e}")))?;
    console.queue().set_rate(provider, &sender, rate).await?;
    tracing::info!(sender = %sender.masked(), %rate, "Sender rate set in the console.");
    Ok(Redirect::to("/senders").into_response())
}

async fn unset_rate(
    State(console): State<Console>,
    Operator(_login): Operator,
    Form(form): Form<RateForm>,
) -> Result<Response, PageError> {
    let (provider, sender) = form.parsed()?;
    console.queue().unset_rate(provider, &sender).await?;
    Ok(Redirect::to("/senders").into_response())
}
