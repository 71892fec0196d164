//! The page shell every page is rendered in: the document head with the console's stylesheet
//! and script, the navigation (what the role may reach), the logout form; and the error page.
//! maud escapes every value put in a template, so a label holding `<script>` shows as text.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use crate::console::assets::{SCRIPT_PATH, STYLESHEET_PATH};
use crate::console::auth::{CSRF_FIELD, Login};

/// The navigation's entries; a page names its own so that it is marked current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    Campaigns,
    NewCampaign,
    Senders,
    Optouts,
    Workers,
    /// A page outside the navigation (a message, an error).
    None,
}

/// A whole page for a logged-in session: the shell, the navigation, `body` in `<main>`.
pub(crate) fn page(title: &str, login: &Login, current: Nav, body: Markup) -> Markup {
    let entries = [
        (Nav::Campaigns, "/", "Campaigns", true),
        (
            Nav::NewCampaign,
            "/campaigns/new",
            "New campaign",
            login.may_act(),
        ),
        (Nav::Senders, "/senders", "Senders", true),
        (Nav::Optouts, "/optouts", "Opt-outs", true),
        (Nav::Workers, "/workers", "Workers", true),
    ];
    shell(
        title,
        html! {
            header.top {
                a.brand href="/" { "wacast" }
                nav aria-label="Main" {
                    ul {
                        @for (nav, href, label, shown) in entries {
                            @if shown {
                                li {
                                    @if nav == current {
                                        a href=(href) aria-current="page" { (label) }
                                    } @else {
                                        a href=(href) { (label) }
                                    }
                                }
                            }
                        }
                    }
                }
                form.logout method="post" action="/logout" {
                    (csrf_field(login))
                    span.role { (login.role.as_str()) }
                    button type="submit" { "Log out" }
                }
            }
            main { h1 { (title) } (body) }
        },
    )
}

/// The hidden field carrying the session's CSRF token; every POST form holds one.
pub(crate) fn csrf_field(login: &Login) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(login.csrf); }
}

/// The document around `body`, for pages with or without a login.
pub(crate) fn shell(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · wacast" }
                link rel="stylesheet" href=(STYLESHEET_PATH);
                script src=(SCRIPT_PATH) defer {}
            }
            body { (body) }
        }
    }
}

/// An error answered as a small page with its status and what to do.
pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    let body = shell(
        title,
        html! {
            main {
                h1 { (status.as_u16()) " " (title) }
                p.flash.error role="alert" { (message) }
                p { a href="/" { "Back to the campaigns" } }
            }
        },
    );
    (status, body).into_response()
}

/// A page handler's error: its status and a sentence for the operator. Queue errors become
/// 503 (Redis trouble) or 404 (no such campaign).
#[derive(Debug)]
pub(crate) struct PageError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl PageError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> PageError {
        PageError {
            status,
            message: message.into(),
        }
    }
}

impl From<wacast_shared::queue::QueueError> for PageError {
    fn from(err: wacast_shared::queue::QueueError) -> PageError {
        let status = match err {
            wacast_shared::queue::QueueError::NotFound(_) => StatusCode::NOT_FOUND,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        };
        PageError::new(status, wacast_shared::error_chain::error_chain(&err))
    }
}

impl From<anyhow::Error> for PageError {
    fn from(err: anyhow::Error) -> PageError {
        PageError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("{err:#}"))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = self.status.as_u16(), error = %self.message, "Console request failed.");
        }
        error_page(self.status, &self.message)
    }
}
