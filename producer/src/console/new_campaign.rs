//! The new campaign page: upload a CSV, map the template's parameters, dry run, enqueue.
//! A placeholder until its page is built.

use axum::Router;
use axum::routing::get;
use maud::{Markup, html};

use crate::console::layout::{Nav, page};
use crate::console::sessions::Login;
use crate::console::state::Console;

/// The routes of the new campaign page, merged into the console's router.
pub(crate) fn routes() -> Router<Console> {
    Router::new().route("/campaigns/new", get(new_campaign))
}

async fn new_campaign(login: Login) -> Markup {
    page(
        "New campaign",
        &login,
        Nav::NewCampaign,
        html! { p { "Uploading a campaign from the browser comes soon; use `wacast enqueue`." } },
    )
}
