//! A campaign's page: the live part (its state with the reason, the actions the state allows,
//! the counts, funnel, sends and deliveries per minute, pace), failures grouped by code, the
//! rows the upload rejected by reason, a sample row's rendered message, the report downloads
//! and the message lookup; and its actions (pause, resume, cancel, retry), each confirmed on a
//! page that names how many messages it touches.
//!
//! Everything here is counters and bounded samples, never a walk of the campaign's rows: the
//! failure reasons from at most [`FAILURE_SAMPLES`] rows of the failed set, the per-minute
//! counts from at most two hourly hashes, the upload's first rejected rows of each reason, the
//! sample message from one row.

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{Duration, Utc};
use maud::{Markup, html};
use serde::Deserialize;
use wacast_shared::campaign::{CampaignId, CampaignState, ProviderKind};
use wacast_shared::message::Row;
use wacast_shared::provider::request::Renderer;
use wacast_shared::queue::{
    CampaignRecord, FailureReasons, MessageStatus, MinuteCount, Queue, RejectSample, RetryFilter,
    WALK_CHUNK,
};

use crate::cli::Format;
use crate::cmd::campaign_view;
use crate::cmd::refusal::refusal;
use crate::cmd::report::{self, Output};
use crate::console::auth::Operator;
use crate::console::charts;
use crate::console::layout::{Nav, PageError, csrf_field, page};
use crate::console::sessions::Login;
use crate::console::state::Console;
use crate::console::view::{self, Pace};

/// Rows of the failed set sampled for the failure reasons, as `wacast status` samples them.
const FAILURE_SAMPLES: usize = 1000;
/// Minutes the chart shows.
const CHART_MINUTES: i64 = 60;
/// Rows tried, from the first, for a sample message to render.
const SAMPLE_ROWS: Row = 20;

pub(crate) fn routes() -> Router<Console> {
    Router::new()
        .route("/campaigns/{id}", get(show))
        .route("/campaigns/{id}/live", get(live_fragment))
        .route("/campaigns/{id}/confirm", get(confirm))
        .route("/campaigns/{id}/pause", post(pause))
        .route("/campaigns/{id}/resume", post(resume))
        .route("/campaigns/{id}/cancel", post(cancel))
        .route("/campaigns/{id}/retry", post(retry))
        .route("/campaigns/{id}/report.csv", get(report_csv))
        .route("/campaigns/{id}/report.jsonl", get(report_jsonl))
}

fn parse_id(text: &str) -> Result<CampaignId, PageError> {
    CampaignId::parse(text).map_err(|e| PageError::new(StatusCode::NOT_FOUND, e.to_string()))
}

#[derive(Debug, Default, Deserialize)]
struct ShowQuery {
    /// What an action just did, as the action's redirect says it.
    done: Option<String>,
    n: Option<u64>,
}

async fn show(
    State(console): State<Console>,
    login: Login,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Result<Markup, PageError> {
    let id = parse_id(&id)?;
    let queue = console.queue();
    let record = queue.load_campaign(&id).await?;
    let failures = queue.failure_reasons(&id, FAILURE_SAMPLES).await?;
    let rejects = queue.upload_rejects(&id).await?;
    let sample = sample_message(queue, &record).await;
    let live = live(queue, &record, login.may_act()).await?;
    let title = format!("Campaign {id}");
    let body = html! {
        @if let Some(done) = query.done.as_deref() {
            p.flash.ok role="status" { (done_text(done, query.n.unwrap_or(0), &id)) }
        }
        div #live data-refresh={"/campaigns/" (id) "/live"} { (live) }
        h2 { "Failures by code" }
        (failure_table(&record, &failures, login.may_act()))
        h2 { "Rejected at upload" }
        (rejects_section(&record, &rejects))
        h2 { "A sample message" }
        (sample)
        h2 { "Report" }
        p {
            a href={"/campaigns/" (id) "/report.csv"} download { "Download CSV" }
            " · "
            a href={"/campaigns/" (id) "/report.jsonl"} download { "Download JSON lines" }
            span.muted { " (one line per message, as " code { "wacast report" } " writes it)" }
        }
        h2 { "Find a message" }
        form.row method="get" action={"/campaigns/" (id) "/message"} {
            label { "Row" input type="number" name="row" min="1"; }
            label { "or phone number" input type="text" name="phone" inputmode="tel"; }
            button type="submit" { "Show" }
        }
    };
    Ok(page(&title, &login, Nav::None, body))
}

/// What an action's redirect reports.
fn done_text(done: &str, n: u64, id: &CampaignId) -> String {
    match done {
        "paused" => format!(
            "Paused: none of its messages is sent until you resume it ({n} due entries set aside)."
        ),
        "resumed" => format!("Resumed ({n} due entries back in the queue)."),
        "cancelled" => format!("Cancelled: {n} messages will not be sent."),
        "retried" => format!("{n} messages queued again."),
        "cancelled_held" => format!(
            "Cancelled: {n} messages will not be sent. Messages already handed to seven ahead of \
             their send time are still held there: `wacast cancel {id}` deletes them."
        ),
        _ => "Done.".to_string(),
    }
}

/// Why the campaign is in its state: paused why, waiting for what.
fn state_reason(record: &CampaignRecord) -> Markup {
    let waiting = campaign_view::waiting_now(record, Utc::now());
    html! {
        @if let (CampaignState::Paused, Some(reason)) = (record.state, &record.pause_reason) {
            ": " (reason)
        }
        @if let Some(w) = waiting {
            " — waiting: " (w.describe()) " until " (view::time(Some(w.until), view::zone_of(&record.campaign)))
        }
        @if record.ingest == wacast_shared::queue::Ingest::Running {
            " — its upload is unfinished"
        }
    }
}

fn what(record: &CampaignRecord) -> String {
    let campaign = &record.campaign;
    let text = |name: &str| {
        campaign
            .content
            .get(name)
            .and_then(serde_json::Value::as_str)
            .unwrap_or("-")
            .to_string()
    };
    match campaign.kind() {
        "template" => format!("template {} ({})", text("template"), text("language")),
        kind => kind.to_string(),
    }
}

/// The live part: the campaign's facts with its state and the reason, the actions the state
/// allows (`may_act`: for an operator), counts, pace, funnel and chart. The script refreshes it
/// every two seconds, so that what the page says of the state is never older than its numbers.
async fn live(queue: &Queue, record: &CampaignRecord, may_act: bool) -> Result<Markup, PageError> {
    let now = Utc::now();
    let minutes = queue
        .per_minute(
            &record.campaign.id,
            now - Duration::minutes(CHART_MINUTES - 1),
            now,
        )
        .await?;
    let pace = if Pace::applies(record) {
        Pace::from_minutes(&minutes, now, record.counters.open())
    } else {
        Pace::default()
    };
    Ok(live_markup(record, &minutes, &pace, now, may_act))
}

fn live_markup(
    record: &CampaignRecord,
    minutes: &[MinuteCount],
    pace: &Pace,
    now: chrono::DateTime<Utc>,
    may_act: bool,
) -> Markup {
    let c = &record.counters;
    let campaign = &record.campaign;
    let zone = view::zone_of(campaign);
    let cards = [
        ("Queued", c.queued),
        ("In flight", c.claimed + c.sending),
        ("Sent", c.sent),
        ("Delivered", c.delivered),
        ("Read", c.read),
        ("Replied", c.replied),
        ("Failed", c.failed),
        ("Unknown", c.unknown),
        ("Expired", c.expired),
        ("Cancelled", c.cancelled),
        ("Opted out", c.opted_out),
    ];
    html! {
        dl.fields {
            dt { "Label" } dd { (campaign.label.as_deref().unwrap_or("-")) }
            dt { "State" } dd #state { (view::state(record)) (state_reason(record)) }
            dt { "Message" } dd { (what(record)) ", from " (campaign.from.digits()) " via " (campaign.provider.as_str()) }
            @if let Some(window) = &campaign.window { dt { "Window" } dd { (window) } }
            dt { "Created" } dd { (view::time(Some(campaign.created_at), zone)) }
            dt { "Send at" } dd { (view::time(Some(campaign.send_at), zone)) }
            dt { "Started" } dd { (view::time(record.started_at, zone)) }
            dt { "Finished" } dd { (view::time(record.finished_at, zone)) }
        }
        @if may_act { (actions(record)) }
        p { "Progress: " (view::progress(record)) " of " (c.total) " messages" }
        div.cards {
            @for (name, n) in cards {
                div.card { div.muted { (name) } div.value { (n) } }
            }
            div.card { div.muted { "Send rate" } div.value { (pace.rate_text()) } }
            div.card { div.muted { "Cost" } div.value { (view::cost(c.cost)) } }
        }
        p { "Estimated completion: " (pace.eta(now, zone)) }
        h2 { "Funnel" }
        (charts::funnel(c))
        h2 { "Sent and delivered per minute" }
        (charts::per_minute(minutes))
    }
}

async fn live_fragment(
    State(console): State<Console>,
    login: Login,
    Path(id): Path<String>,
) -> Result<Markup, PageError> {
    let id = parse_id(&id)?;
    let record = console.queue().load_campaign(&id).await?;
    live(console.queue(), &record, login.may_act()).await
}

/// The actions the campaign's state allows, each leading to its confirmation.
fn actions(record: &CampaignRecord) -> Markup {
    let id = &record.campaign.id;
    let c = &record.counters;
    let state = record.state;
    let can_pause = matches!(state, CampaignState::Scheduled | CampaignState::Running);
    let can_resume = state == CampaignState::Paused;
    let can_cancel = !matches!(state, CampaignState::Cancelled | CampaignState::Completed);
    let can_retry = !matches!(state, CampaignState::Running | CampaignState::Cancelled);
    html! {
        div.actions {
            @if can_pause { a href={"/campaigns/" (id) "/confirm?action=pause"} { "Pause…" } }
            @if can_resume { a href={"/campaigns/" (id) "/confirm?action=resume"} { "Resume…" } }
            @if can_cancel { a href={"/campaigns/" (id) "/confirm?action=cancel"} { "Cancel…" } }
            @if can_retry && c.failed > 0 {
                a href={"/campaigns/" (id) "/confirm?action=retry&status=failed"} { "Retry failed (" (c.failed) ")…" }
            }
            @if can_retry && c.unknown > 0 {
                a href={"/campaigns/" (id) "/confirm?action=retry&status=unknown"} { "Retry unknown (" (c.unknown) ")…" }
            }
        }
    }
}

fn failure_table(record: &CampaignRecord, failures: &FailureReasons, may_act: bool) -> Markup {
    let id = &record.campaign.id;
    let can_retry = !matches!(
        record.state,
        CampaignState::Running | CampaignState::Cancelled
    );
    html! {
        @if failures.in_set == 0 {
            p { "No failed or unknown message." }
        } @else {
            p.muted {
                (failures.in_set) " failed or unknown messages; "
                @if failures.exact() { "all examined." } @else { "a random sample of " (failures.examined) " examined." }
            }
            table {
                thead { tr {
                    th.num scope="col" { "Messages" } th scope="col" { "Status" }
                    th scope="col" { "Code" } th scope="col" { "Reason" }
                    @if may_act && can_retry { th scope="col" { "Action" } }
                } }
                tbody {
                    @for reason in &failures.reasons {
                        tr {
                            td.num { (reason.count) }
                            td { (reason.status.as_str()) }
                            td { (reason.code.as_deref().unwrap_or("-")) }
                            td { (reason.error.as_deref().unwrap_or("-")) }
                            @if may_act && can_retry {
                                td {
                                    @if let Some(code) = &reason.code {
                                        a href=(format!("/campaigns/{id}/confirm?{}", serde_urlencoded::to_string([
                                            ("action", "retry"), ("status", reason.status.as_str()), ("code", code.as_str()),
                                        ]).unwrap_or_default())) { "Retry these…" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The rows the upload rejected, as the campaign keeps them (`view::rejects`).
fn rejects_section(record: &CampaignRecord, rejects: &[RejectSample]) -> Markup {
    let rejected = record.counters.rejected;
    html! {
        @if rejected == 0 && rejects.is_empty() {
            p { "No row of the file was rejected." }
        } @else if rejects.is_empty() {
            // Enqueued by a wacast that kept no rows in Redis: the rejects file has them.
            p { (rejected) " of the file's rows; the rejects file written beside it lists them." }
        } @else {
            section #rejects {
                p.muted { (rejected) " of the file's rows; the first of each reason (the rejects file written beside it lists them all):" }
                (view::rejects(rejects))
            }
        }
    }
}

/// The first message of the first rows that renders, as the worker would send it now.
async fn sample_message(queue: &Queue, record: &CampaignRecord) -> Markup {
    let campaign = &record.campaign;
    let renderer = Renderer::new(campaign);
    for row in 1..=record.rows.min(SAMPLE_ROWS) {
        let message = match queue.queued_message(&campaign.id, row).await {
            Ok(Some(message)) => message,
            Ok(None) => continue,
            Err(err) => return html! { p.flash.error { (err.to_string()) } },
        };
        return match renderer.render(campaign, &message, Utc::now()) {
            Ok(rendered) => {
                let body = serde_json::to_string_pretty(&rendered).unwrap_or_default();
                html! {
                    p.muted { "Row " (row) ", to " (message.to.masked()) ", as the provider would receive it:" }
                    pre { (body) }
                }
            }
            Err(err) => html! {
                p.flash.error { "Row " (row) " would be refused: " (format!("{err:#}")) }
            },
        };
    }
    html! { p { "No message to show yet." } }
}

#[derive(Debug, Deserialize)]
struct ActionQuery {
    action: String,
    status: Option<String>,
    code: Option<String>,
}

/// What retry touches: the statuses and code asked for.
fn retry_statuses(status: Option<&str>) -> Result<Vec<MessageStatus>, PageError> {
    match status.unwrap_or("failed") {
        "failed" => Ok(vec![MessageStatus::Failed]),
        "unknown" => Ok(vec![MessageStatus::Unknown]),
        "both" => Ok(vec![MessageStatus::Failed, MessageStatus::Unknown]),
        other => Err(PageError::new(
            StatusCode::BAD_REQUEST,
            format!("retry takes status failed, unknown or both, not {other:?}"),
        )),
    }
}

/// The confirmation of an action, naming how many messages it touches.
async fn confirm(
    State(console): State<Console>,
    Operator(login): Operator,
    Path(id): Path<String>,
    Query(query): Query<ActionQuery>,
) -> Result<Markup, PageError> {
    let id = parse_id(&id)?;
    let queue = console.queue();
    let record = queue.load_campaign(&id).await?;
    let c = &record.counters;
    let in_flight = c.claimed + c.sending;
    let (question, button, danger) = match query.action.as_str() {
        "pause" => (
            format!(
                "Pause campaign {id}? Its {} queued messages wait until you resume it; {in_flight} \
                 already in flight finish.",
                c.queued
            ),
            "Pause",
            false,
        ),
        "resume" => (
            format!(
                "Resume campaign {id}? Its {} queued messages are sent again.",
                c.queued
            ),
            "Resume",
            false,
        ),
        "cancel" => (
            format!(
                "Cancel campaign {id}? Its {} queued messages are never sent; {in_flight} in \
                 flight finish. This cannot be undone.",
                c.queued + c.claimed
            ),
            "Cancel the campaign",
            true,
        ),
        "retry" => {
            let statuses = retry_statuses(query.status.as_deref())?;
            let which = statuses
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" and ");
            let count = match query.code.as_deref() {
                None => statuses.iter().map(|s| c.of(*s)).sum::<u64>().to_string(),
                Some(code) => {
                    let failures = queue.failure_reasons(&id, FAILURE_SAMPLES).await?;
                    let n: u64 = failures
                        .reasons
                        .iter()
                        .filter(|r| statuses.contains(&r.status) && r.code.as_deref() == Some(code))
                        .map(|r| r.count)
                        .sum();
                    if failures.exact() {
                        n.to_string()
                    } else {
                        format!("about {}", n * failures.in_set / failures.examined.max(1))
                    }
                }
            };
            let code = query
                .code
                .as_deref()
                .map(|c| format!(" with error code {c}"))
                .unwrap_or_default();
            let unknown_note = if statuses.contains(&MessageStatus::Unknown) {
                " Unknown messages may have reached their recipients already: they are sent again."
            } else {
                ""
            };
            (
                format!(
                    "Queue again the {count} {which} messages{code} of campaign {id}?{unknown_note}"
                ),
                "Retry",
                false,
            )
        }
        other => {
            return Err(PageError::new(
                StatusCode::BAD_REQUEST,
                format!("no action {other:?}: pause, resume, cancel or retry"),
            ));
        }
    };
    let action = format!("/campaigns/{id}/{}", query.action);
    let body = html! {
        p { (question) }
        form method="post" action=(action) {
            (csrf_field(&login))
            @if let Some(status) = &query.status { input type="hidden" name="status" value=(status); }
            @if let Some(code) = &query.code { input type="hidden" name="code" value=(code); }
            div.actions {
                @if danger { button.danger type="submit" { (button) } } @else { button type="submit" { (button) } }
                a href={"/campaigns/" (id)} { "Back" }
            }
        }
    };
    Ok(page("Confirm", &login, Nav::None, body))
}

fn done(id: &CampaignId, what: &str, n: u64) -> Response {
    Redirect::to(&format!("/campaigns/{id}?done={what}&n={n}")).into_response()
}

/// A refusal of the queue (a state that does not allow the action) as 409 with its hint.
fn refused(err: wacast_shared::queue::QueueError) -> PageError {
    match err {
        wacast_shared::queue::QueueError::InvalidState { .. } => {
            PageError::new(StatusCode::CONFLICT, format!("{:#}", refusal(err)))
        }
        other => other.into(),
    }
}

async fn pause(
    State(console): State<Console>,
    Operator(_login): Operator,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let id = parse_id(&id)?;
    let moved = console
        .queue()
        .pause(&id, Some("paused in the console"))
        .await
        .map_err(refused)?;
    tracing::info!(campaign = %id, moved, "Campaign paused in the console.");
    Ok(done(&id, "paused", moved))
}

async fn resume(
    State(console): State<Console>,
    Operator(_login): Operator,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let id = parse_id(&id)?;
    let record = console.queue().load_campaign(&id).await?;
    if matches!(
        record.state,
        CampaignState::Scheduled | CampaignState::Running
    ) {
        return Err(PageError::new(
            StatusCode::CONFLICT,
            format!(
                "campaign {id} is {}, not paused: there is nothing to resume",
                record.state
            ),
        ));
    }
    let moved = console.queue().resume(&id).await.map_err(refused)?;
    tracing::info!(campaign = %id, moved, "Campaign resumed in the console.");
    Ok(done(&id, "resumed", moved))
}

async fn cancel(
    State(console): State<Console>,
    Operator(_login): Operator,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let id = parse_id(&id)?;
    let record = console.queue().load_campaign(&id).await?;
    let report = console.queue().cancel(&id).await.map_err(refused)?;
    tracing::info!(campaign = %id, cancelled = report.cancelled, "Campaign cancelled in the console.");
    // Only seven holds messages handed over ahead of their send time; deleting them there
    // needs the API key, which `wacast cancel` reads and the console does not hold.
    let held = record.campaign.provider == ProviderKind::Seven
        && record.campaign.handoff_ahead_minutes > 0;
    let what = if held { "cancelled_held" } else { "cancelled" };
    Ok(done(&id, what, report.cancelled))
}

#[derive(Debug, Deserialize)]
struct RetryForm {
    status: Option<String>,
    code: Option<String>,
}

async fn retry(
    State(console): State<Console>,
    Operator(_login): Operator,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<RetryForm>,
) -> Result<Response, PageError> {
    let id = parse_id(&id)?;
    let statuses = retry_statuses(form.status.as_deref())?;
    let code = form.code.as_deref().filter(|c| !c.is_empty());
    let report = console
        .queue()
        .requeue_failed(
            &id,
            RetryFilter {
                statuses: &statuses,
                error_code: code,
            },
        )
        .await
        .map_err(refused)?;
    tracing::info!(campaign = %id, requeued = report.requeued, "Messages retried in the console.");
    Ok(done(&id, "retried", report.requeued))
}

async fn report_csv(
    State(console): State<Console>,
    login: Login,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    download(console, login, id, Format::Text).await
}

async fn report_jsonl(
    State(console): State<Console>,
    login: Login,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    download(console, login, id, Format::Json).await
}

/// The report streamed as `wacast report` writes it, a batch of rows per chunk: memory holds
/// one batch whatever the campaign's size.
async fn download(
    console: Console,
    _login: Login,
    id: String,
    format: Format,
) -> Result<Response, PageError> {
    let id = parse_id(&id)?;
    let record = console.queue().load_campaign(&id).await?;
    let header_only = Output::new(Vec::new(), format)?.into_bytes()?;
    let state = (console, record, 1 as Row, Some(header_only));
    let stream =
        futures::stream::try_unfold(state, move |(console, record, from, header)| async move {
            if let Some(header) = header {
                return Ok(Some((header, (console, record, from, None))));
            }
            if from > record.rows {
                return Ok(None);
            }
            let to = record.rows.min(from + WALK_CHUNK - 1);
            let chunk = report_chunk(console.queue(), &record, from, to, format)
                .await
                .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
            Ok::<_, std::io::Error>(Some((chunk, (console, record, to + 1, None))))
        });
    let (content_type, extension) = match format {
        Format::Text => ("text/csv; charset=utf-8", "csv"),
        Format::Json => ("application/x-ndjson", "jsonl"),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{id}-report.{extension}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

async fn report_chunk(
    queue: &Queue,
    record: &CampaignRecord,
    from: Row,
    to: Row,
    format: Format,
) -> anyhow::Result<Vec<u8>> {
    let mut out = Output::continued(format);
    let hashes: Vec<(Row, HashMap<String, String>)> =
        queue.message_hashes(&record.campaign.id, from, to).await?;
    for (row, fields) in hashes {
        out.write(&report::line(&record.campaign, row, &fields))?;
    }
    out.into_bytes()
}
