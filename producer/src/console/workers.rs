//! The workers page: the live workers registry (each worker's heartbeat), as `wacast workers`
//! lists it: host, id, each provider's health and since when, messages in flight, last seen.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use maud::{Markup, html};

use crate::console::auth::Login;
use crate::console::layout::{Nav, PageError, page};
use crate::console::server::Console;

pub(crate) fn routes() -> Router<Console> {
    Router::new().route("/workers", get(list))
}

async fn list(State(console): State<Console>, login: Login) -> Result<Markup, PageError> {
    let workers = console.queue().live_workers().await?;
    let body = html! {
        @if workers.is_empty() {
            p.flash.error { "No live worker: none has written a heartbeat in the last 15 s. Nothing is sent." }
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Host" } th scope="col" { "Worker" } th scope="col" { "Version" }
                    th scope="col" { "Providers" } th.num scope="col" { "In flight" }
                    th scope="col" { "Started" } th scope="col" { "Last seen" }
                } }
                tbody {
                    @for w in &workers {
                        tr {
                            td { (w.host) } td { (w.id) " " span.muted { "pid " (w.pid) } } td { (w.version) }
                            td {
                                @for p in &w.providers {
                                    span title=(p.since.as_deref().map(|s| format!("since {s}")).unwrap_or_default()) {
                                        (p.provider) ": " strong { (p.health) }
                                    }
                                    " "
                                }
                            }
                            td.num { (w.in_flight) }
                            td { (w.started_at) } td { (w.last_seen) }
                        }
                    }
                }
            }
        }
    };
    Ok(page("Workers", &login, Nav::Workers, body))
}
