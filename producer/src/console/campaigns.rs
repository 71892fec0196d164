//! The campaigns page: every campaign, newest first, with its progress, counts, send rate,
//! estimated completion and cost; filtered by state and label, fifty a page, its table
//! refreshed every two seconds (a fragment the script polls; without script, a reload).

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use chrono::Utc;
use maud::{Markup, html};
use serde::Deserialize;
use wacast_shared::campaign::CampaignState;
use wacast_shared::queue::{CampaignFilter, CampaignPage, CampaignRecord};

use crate::console::auth::Login;
use crate::console::layout::{Nav, PageError, page};
use crate::console::server::Console;
use crate::console::view::{self, Pace};

/// Campaigns per page: a page's read stays a few milliseconds however many there are.
const PAGE_SIZE: usize = 50;

const STATES: [CampaignState; 5] = [
    CampaignState::Scheduled,
    CampaignState::Running,
    CampaignState::Paused,
    CampaignState::Cancelled,
    CampaignState::Completed,
];

pub(crate) fn routes() -> Router<Console> {
    Router::new()
        .route("/", get(list))
        .route("/fragments/campaigns", get(table_fragment))
}

/// The filters and page, as the form and the links write them.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    state: Option<String>,
    label: Option<String>,
    page: Option<usize>,
}

impl ListQuery {
    fn filter(&self) -> Result<CampaignFilter, PageError> {
        let state = match self.state.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(text) => Some(text.parse::<CampaignState>().map_err(|_| {
                PageError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    format!(
                        "unknown state {text:?}: scheduled, running, paused, cancelled or completed"
                    ),
                )
            })?),
        };
        let label = self
            .label
            .as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string);
        Ok(CampaignFilter { state, label })
    }

    fn page(&self) -> usize {
        self.page.unwrap_or(1).max(1)
    }

    /// The query string of this filter on page `page`.
    fn href(&self, base: &str, page: usize) -> String {
        let pairs = [
            ("state", self.state.clone().unwrap_or_default()),
            ("label", self.label.clone().unwrap_or_default()),
            ("page", page.to_string()),
        ];
        let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
        format!("{base}?{query}")
    }
}

async fn list(
    State(console): State<Console>,
    login: Login,
    Query(query): Query<ListQuery>,
) -> Result<Markup, PageError> {
    let table = table(&console, &query).await?;
    let selected = query.state.as_deref().unwrap_or("");
    let body = html! {
        form.filters method="get" action="/" {
            label { "State"
                select name="state" {
                    option value="" selected[selected.is_empty()] { "any" }
                    @for state in STATES {
                        option value=(state.as_str()) selected[selected == state.as_str()] { (state.as_str()) }
                    }
                }
            }
            label { "Label contains"
                input type="search" name="label" value=(query.label.as_deref().unwrap_or(""));
            }
            button type="submit" { "Filter" }
        }
        div #campaigns data-refresh=(query.href("/fragments/campaigns", query.page())) {
            (table)
        }
    };
    Ok(page("Campaigns", &login, Nav::Campaigns, body))
}

async fn table_fragment(
    State(console): State<Console>,
    _login: Login,
    Query(query): Query<ListQuery>,
) -> Result<Markup, PageError> {
    table(&console, &query).await
}

/// The table of one page of campaigns, and the links to the others.
async fn table(console: &Console, query: &ListQuery) -> Result<Markup, PageError> {
    let filter = query.filter()?;
    let page_no = query.page();
    let queue = console.queue();
    let CampaignPage {
        campaigns,
        matching,
    } = queue
        .campaign_page(&filter, (page_no - 1) * PAGE_SIZE, PAGE_SIZE)
        .await?;
    let now = Utc::now();
    let mut rows = Vec::with_capacity(campaigns.len());
    let mut unreadable = Vec::new();
    for record in campaigns {
        match record {
            Ok(record) => {
                let pace = Pace::read(queue, &record, now).await?;
                rows.push((record, pace));
            }
            // One campaign changed by hand should not hide the others.
            Err(err) => unreadable.push(err.to_string()),
        }
    }
    let pages = usize::try_from(matching)
        .unwrap_or(usize::MAX)
        .div_ceil(PAGE_SIZE)
        .max(1);
    Ok(html! {
        @for err in &unreadable {
            p.flash.error { (err) }
        }
        @if rows.is_empty() {
            p { "No campaign matches." }
        } @else {
            table {
                caption.muted { (matching) " campaigns" }
                thead { tr {
                    th scope="col" { "Campaign" } th scope="col" { "Label" } th scope="col" { "State" }
                    th scope="col" { "Provider / sender" } th scope="col" { "Created / send at" }
                    th scope="col" { "Progress" } th.num scope="col" { "Sent" }
                    th.num scope="col" { "Delivered" } th.num scope="col" { "Read" }
                    th.num scope="col" { "Failed" } th.num scope="col" { "Rate" }
                    th scope="col" { "ETA" } th.num scope="col" { "Cost" }
                } }
                tbody {
                    @for (record, pace) in &rows {
                        (row(record, pace, now))
                    }
                }
            }
        }
        nav.pager aria-label="Pages" {
            @if page_no > 1 {
                a href=(query.href("/", page_no - 1)) rel="prev" { "← newer" }
            }
            span { "page " (page_no) " of " (pages) }
            @if page_no < pages {
                a href=(query.href("/", page_no + 1)) rel="next" { "older →" }
            }
        }
    })
}

fn row(record: &CampaignRecord, pace: &Pace, now: chrono::DateTime<Utc>) -> Markup {
    let campaign = &record.campaign;
    let zone = view::zone_of(campaign);
    let c = &record.counters;
    html! {
        tr {
            td { a href={"/campaigns/" (campaign.id)} { (campaign.id) } }
            td { (campaign.label.as_deref().unwrap_or("")) }
            td { (view::state(record)) }
            td { (campaign.provider.as_str()) " " span.muted { (campaign.from.digits()) } }
            td { (view::time(Some(campaign.created_at), zone)) br; (view::time(Some(campaign.send_at), zone)) }
            td { (view::progress(record)) }
            td.num { (c.sent) } td.num { (c.delivered) } td.num { (c.read) }
            td.num { (c.failed + c.unknown) }
            td.num { (pace.rate_text()) }
            td { (pace.eta(now, zone)) }
            td.num { (view::cost(c.cost)) }
        }
    }
}
