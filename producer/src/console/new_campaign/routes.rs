//! The new campaign page's routes, operator only: the form (GET `/campaigns/new`), the upload
//! and its dry run (POST), the dry run's page and a check with changed options, the enqueue
//! and its progress (a page that refreshes itself, a JSON document its script polls).

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Json, Router};
use maud::Markup;
use serde_json::json;
use std::collections::HashMap;

use crate::console::auth::Operator;
use crate::console::layout::{Nav, PageError, page};
use crate::console::new_campaign::form::Options;
use crate::console::new_campaign::job::{self, Job, JobState};
use crate::console::new_campaign::uploads::{Stage, Upload, Uploads};
use crate::console::new_campaign::view::{
    PROGRESS_SCRIPT, PROGRESS_SCRIPT_PATH, dry_run_page, percent, progress_page, upload_form,
};
use crate::console::state::Console;
use crate::ingest::templates::{Approved, Templates};

/// Room for the form's other fields beside the file in a multipart body.
const FORM_OVERHEAD: u64 = 1024 * 1024;

/// The routes of the new campaign page; uploads larger than `max_upload` bytes are refused.
pub(crate) fn routes(max_upload: u64) -> Router<Console> {
    let uploads = Arc::new(Uploads::new(max_upload));
    let body_limit =
        usize::try_from(max_upload.saturating_add(FORM_OVERHEAD)).unwrap_or(usize::MAX);
    Router::new()
        .route(
            "/campaigns/new",
            get(form)
                .post(upload)
                .layer(DefaultBodyLimit::max(body_limit)),
        )
        .route(PROGRESS_SCRIPT_PATH, get(script))
        .route("/campaigns/new/{upload}", get(checked))
        .route("/campaigns/new/{upload}/check", post(check))
        .route("/campaigns/new/{upload}/enqueue", post(enqueue))
        .route("/campaigns/new/{upload}/progress", get(progress))
        .route("/campaigns/new/{upload}/progress.json", get(progress_json))
        .layer(Extension(uploads))
}

async fn form(
    State(console): State<Console>,
    Extension(uploads): Extension<Arc<Uploads>>,
    Operator(login): Operator,
) -> Result<Markup, PageError> {
    let templates = approved(&console)?;
    Ok(page(
        "New campaign",
        &login,
        Nav::NewCampaign,
        upload_form(&login, &templates, uploads.max_bytes(), None),
    ))
}

async fn upload(
    State(console): State<Console>,
    Extension(uploads): Extension<Arc<Uploads>>,
    Operator(login): Operator,
    multipart: Multipart,
) -> Result<Response, PageError> {
    let (upload, fields) = match uploads.receive(multipart).await {
        Ok(received) => received,
        Err(refused) => {
            let templates = approved(&console)?;
            let body = upload_form(
                &login,
                &templates,
                uploads.max_bytes(),
                Some(&refused.message),
            );
            return Ok((
                refused.status,
                page("New campaign", &login, Nav::NewCampaign, body),
            )
                .into_response());
        }
    };
    tracing::info!(upload = %upload.id, bytes = upload.size, "CSV uploaded to the console.");
    run_check(&console, &upload, Options::from_fields(&fields)).await?;
    Ok(Redirect::to(&format!("/campaigns/new/{}", upload.id)).into_response())
}

async fn check(
    State(console): State<Console>,
    Extension(uploads): Extension<Arc<Uploads>>,
    Operator(_): Operator,
    Path(id): Path<String>,
    Form(fields): Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let upload = find(&uploads, &id)?;
    if let Stage::Enqueueing(_) = &*lock(&upload) {
        return Ok(Redirect::to(&format!("/campaigns/new/{id}/progress")).into_response());
    }
    run_check(&console, &upload, Options::from_fields(&fields)).await?;
    Ok(Redirect::to(&format!("/campaigns/new/{id}")).into_response())
}

/// Dry-runs the upload with `options` and keeps both for its page and its enqueue; a template
/// whose columns are still to be chosen waits for them instead.
async fn run_check(console: &Console, upload: &Upload, options: Options) -> Result<(), PageError> {
    let dry_run = if options.awaits_mapping(&approved(console)?) {
        None
    } else {
        Some(
            match options.request(console.templates(), upload.rejects()) {
                Ok(request) => job::dry_run(request, upload.csv()).await,
                Err(error) => Err(error),
            },
        )
    };
    *lock(upload) = Stage::Checked {
        options: Box::new(options),
        dry_run,
    };
    Ok(())
}

async fn checked(
    State(console): State<Console>,
    Extension(uploads): Extension<Arc<Uploads>>,
    Operator(login): Operator,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let upload = find(&uploads, &id)?;
    let templates = approved(&console)?;
    let stage = lock(&upload);
    let (title, body) = match &*stage {
        Stage::Enqueueing(_) => {
            return Ok(Redirect::to(&format!("/campaigns/new/{id}/progress")).into_response());
        }
        Stage::Checked { options, dry_run } => (
            // No dry run yet: the template's columns are still to be chosen.
            if dry_run.is_some() {
                "New campaign: dry run"
            } else {
                "New campaign: choose the columns"
            },
            dry_run_page(&login, &upload, options, dry_run, &templates),
        ),
    };
    Ok(page(title, &login, Nav::NewCampaign, body).into_response())
}

async fn enqueue(
    State(console): State<Console>,
    Extension(uploads): Extension<Arc<Uploads>>,
    Operator(_): Operator,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let upload = find(&uploads, &id)?;
    let mut stage = lock(&upload);
    let options = match &*stage {
        Stage::Enqueueing(_) => {
            return Ok(Redirect::to(&format!("/campaigns/new/{id}/progress")).into_response());
        }
        Stage::Checked {
            options,
            dry_run: Some(Ok(run)),
        } if run.accepted > 0 => (**options).clone(),
        Stage::Checked { .. } => {
            return Err(PageError::new(
                StatusCode::CONFLICT,
                "this upload has no dry run that would enqueue anything: check it again first",
            ));
        }
    };
    let request = options
        .request(console.templates(), upload.rejects())
        .map_err(|e| PageError::new(StatusCode::BAD_REQUEST, e))?;
    let dir = upload.dir.clone();
    let job = Job::start(
        console.queue().clone(),
        request,
        upload.csv(),
        upload.size,
        move || {
            // The upload is not kept once it is in the queue (or has failed to get there).
            let _ = std::fs::remove_dir_all(dir);
        },
    );
    *stage = Stage::Enqueueing(job);
    Ok(Redirect::to(&format!("/campaigns/new/{id}/progress")).into_response())
}

async fn progress(
    Extension(uploads): Extension<Arc<Uploads>>,
    Operator(login): Operator,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let upload = find(&uploads, &id)?;
    let state = job_of(&upload)?.state();
    if let JobState::Done { campaign, .. } = &state {
        return Ok(Redirect::to(&format!("/campaigns/{campaign}")).into_response());
    }
    let body = progress_page(&upload, &state);
    Ok(page("New campaign: enqueueing", &login, Nav::NewCampaign, body).into_response())
}

async fn progress_json(
    Extension(uploads): Extension<Arc<Uploads>>,
    Operator(_): Operator,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, PageError> {
    let upload = find(&uploads, &id)?;
    let state = job_of(&upload)?.state();
    let progress_page = format!("/campaigns/new/{id}/progress");
    Ok(Json(match state {
        JobState::Running(p) => json!({
            "state": "running",
            "rows": p.rows,
            "enqueued": p.enqueued + p.already_enqueued,
            "rejected": p.rejected,
            "percent": percent(p.bytes, p.total_bytes),
        }),
        JobState::Done {
            campaign,
            enqueued,
            rejected,
        } => json!({
            "state": "done",
            "campaign": campaign,
            "enqueued": enqueued,
            "rejected": rejected,
            "next": format!("/campaigns/{campaign}"),
        }),
        JobState::Failed(error) => {
            json!({"state": "failed", "error": error, "next": progress_page})
        }
    }))
}

async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        PROGRESS_SCRIPT,
    )
}

/// The templates file's approved templates, when the console has one.
fn approved(console: &Console) -> Result<Vec<Approved>, PageError> {
    match console.templates() {
        Some(path) => Ok(Templates::load(path)?.approved().to_vec()),
        None => Ok(Vec::new()),
    }
}

fn find(uploads: &Uploads, id: &str) -> Result<Arc<Upload>, PageError> {
    uploads.get(id).ok_or_else(|| {
        PageError::new(
            StatusCode::NOT_FOUND,
            "no such upload: it has expired or this console restarted; upload the file again",
        )
    })
}

fn job_of(upload: &Upload) -> Result<Arc<Job>, PageError> {
    match &*lock(upload) {
        Stage::Enqueueing(job) => Ok(job.clone()),
        Stage::Checked { .. } => Err(PageError::new(
            StatusCode::NOT_FOUND,
            "this upload is not being enqueued: enqueue it from its dry run",
        )),
    }
}

fn lock(upload: &Upload) -> std::sync::MutexGuard<'_, Stage> {
    upload.stage.lock().unwrap_or_else(|e| e.into_inner())
}
