//! Bird's Channels API send endpoint (`seeds/002_…`):
//! `POST /workspaces/{workspaceId}/channels/{channelId}/messages`, behind the same fault
//! injection as seven's endpoints.
//!
//! # Answers
//!
//! - `202` with the created message, as Bird answers: `{"id": "<uuid>", "channelId", "receiver",
//!   "body" | "template", "reference", "tags", "status": "accepted" | "scheduled", "reason": "",
//!   "direction": "outgoing", "createdAt", …}`. A `scheduledFor` in the future makes it
//!   `scheduled`. Ids are UUIDs built from the mock's one id counter, so they never repeat.
//! - `401 {"code": "Unauthorized", …}` without `Authorization: AccessKey <--bird-access-key>`.
//! - `404 {"code": "NotFound", …}` for a workspace or channel not given with `--bird-workspace`
//!   or `--bird-channel`.
//! - `429 {"code": "TooManyRequests", …}` with `Retry-After: 1` under `--rate-limit` (global)
//!   or `--rate-limit-per-sender` (per channel: the channel is Bird's sender).
//! - `400 {"code": "BadRequest", …}` for a body that is not JSON.
//! - `422 {"code": "InvalidPayload", "message": "The request did not pass validation",
//!   "details": {"<path>": ["<why>"]}}` for a body that breaks a rule (see `validate.rs`'s
//!   docs), including a template unknown by project, version and locale (see [`templates`]).
//!
//! `--latency`, `--hang` and `--fail-5xx` apply as to seven's endpoints, in the same order
//! (latency, hang, 5xx, authentication, rate limit, validation). `--error-body` does not: it
//! injects seven's HTTP-200 error convention, which Bird does not have. Bird accepts freetext
//! outside the 24-hour window with a 202 and fails it later, so the mock's windows do not apply
//! either.
//!
//! `--journal` records Bird's requests and accepted messages with the channel as the sender and
//! the `reference` as the id.
//!
//! Refusals count in `/stats` `rejections` as `bird_<status>` (`bird_401`, `bird_422`, …).
//! `GET /messages` lists seven's messages only.
//!
//! `/stats` counts Bird's accepted messages with seven's (per recipient, per channel as the
//! sender, duplicate contents) and by `reference`: `bird.accepted`,
//! `bird.duplicate_references` and (with detail) `references`, beside seven's per-`foreign_id`
//! counts.

pub mod templates;
pub(crate) mod validate;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::bail;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{SecondsFormat, Utc};
use rand::Rng;
use serde_json::{Map, Value, json};

use crate::gateway::bird::templates::BirdTemplates;
use crate::gateway::bird::validate::{ValidBird, is_uuid};
use crate::gateway::callbacks::payload::AcceptedMessage;
use crate::gateway::journal::Provider;
use crate::gateway::state::{AppState, unix_ms};
use crate::gateway::stats::{Accept, Endpoint};

/// The workspace the mock knows unless told otherwise.
pub const DEFAULT_WORKSPACE: &str = "3f7a1c2e-8b4d-4e6f-9a0b-1c2d3e4f5a6b";
/// The WhatsApp channel the mock knows unless told otherwise.
pub const DEFAULT_CHANNEL: &str = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b";
/// The access key the mock accepts unless told otherwise.
pub const DEFAULT_ACCESS_KEY: &str = "test-bird-key";

/// Bird's part of the mock's configuration, validated.
#[derive(Debug, Clone)]
pub struct BirdSettings {
    /// The accepted access key.
    pub access_key: String,
    /// Known workspace ids, lowercase.
    pub workspaces: HashSet<String>,
    /// Known channel ids, lowercase.
    pub channels: HashSet<String>,
    /// Approved templates.
    pub templates: BirdTemplates,
}

impl BirdSettings {
    /// Checks the ids and loads the template file, if any.
    pub fn new(
        access_key: String,
        workspaces: &[String],
        channels: &[String],
        templates: Option<&Path>,
    ) -> anyhow::Result<BirdSettings> {
        if access_key.is_empty() || access_key.contains(char::is_whitespace) {
            bail!("--bird-access-key must be non-empty without blanks");
        }
        let ids = |flag: &str, given: &[String]| -> anyhow::Result<HashSet<String>> {
            let mut ids = HashSet::new();
            for id in given {
                let id = id.trim();
                if !is_uuid(id) {
                    bail!("{flag}: {id:?} is not a UUID, as Bird writes ids");
                }
                ids.insert(id.to_ascii_lowercase());
            }
            Ok(ids)
        };
        Ok(BirdSettings {
            access_key,
            workspaces: ids("--bird-workspace", workspaces)?,
            channels: ids("--bird-channel", channels)?,
            templates: match templates {
                Some(path) => BirdTemplates::builtin_and_file(path)?,
                None => BirdTemplates::builtin(),
            },
        })
    }
}

/// A Bird error answer: `{"code", "message"}` and, for validation, `details`.
fn error(status: StatusCode, code: &str, message: &str, details: Option<Value>) -> Response {
    let mut body = json!({"code": code, "message": message});
    if let Some(details) = details {
        body["details"] = details;
    }
    (status, Json(body)).into_response()
}

fn reject(
    state: &AppState,
    status: StatusCode,
    code: &str,
    message: &str,
    details: Option<Value>,
) -> Response {
    state
        .lock()
        .stats
        .rejected(&format!("bird_{}", status.as_u16()));
    error(status, code, message, details)
}

fn too_many_requests() -> Response {
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequests",
        "Too many requests: retry after 1 second",
        None,
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    response
}

/// Latency, hang and 5xx, as for seven's endpoints; counts the request. `Some` is the answer
/// to give instead.
async fn inject_faults(state: &AppState, endpoint: Endpoint) -> Option<Response> {
    let faults = state.faults();
    let (latency, hang, fail_status) = {
        let mut inner = state.lock();
        inner.stats.request(endpoint);
        let latency = faults.latency.map(|latency| {
            if latency.min == latency.max {
                latency.min
            } else {
                inner.rng.random_range(latency.min..=latency.max)
            }
        });
        let hang = inner.roll(faults.hang);
        let fail_status = if !hang && inner.roll(faults.fail_5xx) {
            let status = [
                StatusCode::INTERNAL_SERVER_ERROR,
                StatusCode::BAD_GATEWAY,
                StatusCode::SERVICE_UNAVAILABLE,
            ][inner.rng.random_range(0..3)];
            inner.stats.injected_5xx();
            Some(status)
        } else {
            None
        };
        if hang {
            inner.stats.hung();
        }
        (latency, hang, fail_status)
    };
    if let Some(latency) = latency.filter(|latency| !latency.is_zero()) {
        tokio::time::sleep(latency).await;
    }
    if hang {
        // Never answer; the connection stays open until the client gives up.
        std::future::pending::<()>().await;
    }
    fail_status.map(|status| {
        let reason = status.canonical_reason().unwrap_or("Server Error");
        (status, [(header::CONTENT_TYPE, "text/plain")], reason).into_response()
    })
}

/// Whether the request carries `Authorization: AccessKey <key>` (the scheme in any case).
fn authorised(headers: &HeaderMap, key: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .is_some_and(|(scheme, given)| scheme.eq_ignore_ascii_case("AccessKey") && given == key)
}

/// A UUID for the mock's id `n`: unique as long as the counter is, and recognisably the mock's.
fn message_uuid(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// The 401 of a missing or wrong access key, every endpoint's first check after the faults.
fn refused_key(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    (!authorised(headers, &state.bird_access_key())).then(|| {
        reject(
            state,
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "The access key is missing or invalid: send Authorization: AccessKey <key>",
            None,
        )
    })
}

/// The 404 of a workspace or channel (lowercase) the mock does not know.
fn unknown_channel(state: &AppState, workspace: &str, channel: &str) -> Option<Response> {
    let settings = &state.config.bird;
    let missing = if !settings.workspaces.contains(workspace) {
        "workspace not found"
    } else if !settings.channels.contains(channel) {
        "channel not found"
    } else {
        return None;
    };
    Some(reject(
        state,
        StatusCode::NOT_FOUND,
        "NotFound",
        missing,
        None,
    ))
}

/// `GET /workspaces/{workspaceId}/channels/{channelId}`: the channel, what `wacast-worker
/// check-config --probe` reads to prove an access key; the same faults and checks as sending.
pub(crate) async fn get_channel(
    State(state): State<Arc<AppState>>,
    UrlPath((workspace, channel)): UrlPath<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(response) = inject_faults(&state, Endpoint::Probe).await {
        return response;
    }
    if let Some(response) = refused_key(&state, &headers) {
        return response;
    }
    let (workspace, channel) = (workspace.to_ascii_lowercase(), channel.to_ascii_lowercase());
    if let Some(response) = unknown_channel(&state, &workspace, &channel) {
        return response;
    }
    Json(json!({
        "id": channel,
        "workspaceId": workspace,
        "platformId": "whatsapp",
        "status": "active",
    }))
    .into_response()
}

/// `POST /workspaces/{workspaceId}/channels/{channelId}/messages`.
pub(crate) async fn send_message(
    State(state): State<Arc<AppState>>,
    UrlPath((workspace, channel)): UrlPath<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(journal) = &state.journal {
        journal.bird_request(&channel, &body);
    }
    if let Some(response) = inject_faults(&state, Endpoint::Bird).await {
        return response;
    }
    let settings = &state.config.bird;
    if let Some(response) = refused_key(&state, &headers) {
        return response;
    }
    let faults = state.faults();
    if let Some(limit) = faults.rate_limit {
        let mut inner = state.lock();
        if !inner.rate.admit_global(unix_ms().div_euclid(1000), limit) {
            inner.stats.rate_limited();
            return too_many_requests();
        }
    }
    let workspace = workspace.to_ascii_lowercase();
    // Callbacks name the channel as the client wrote it, the way wacast stored it.
    let channel_as_sent = channel.clone();
    let channel = channel.to_ascii_lowercase();
    if let Some(response) = unknown_channel(&state, &workspace, &channel) {
        return response;
    }
    if let Some(limit) = faults.rate_limit_per_sender {
        let mut inner = state.lock();
        if !inner
            .rate
            .admit_sender(&channel, unix_ms().div_euclid(1000), limit)
        {
            inner.stats.rate_limited();
            return too_many_requests();
        }
    }

    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim_start().starts_with("application/json"));
    if !is_json {
        return reject(
            &state,
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Content-Type must be application/json",
            None,
        );
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => {
            return reject(
                &state,
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("the request body is not valid JSON: {err}"),
                None,
            );
        }
    };
    let message = match validate::validate(&request, &settings.templates) {
        Ok(message) => message,
        Err(invalid) => {
            let mut details = Map::new();
            details.insert(invalid.path, json!([invalid.message]));
            return reject(
                &state,
                StatusCode::UNPROCESSABLE_ENTITY,
                "InvalidPayload",
                "The request did not pass validation",
                Some(Value::Object(details)),
            );
        }
    };
    let (answer, id) = accept(&state, &channel, &request, &message);
    if let Some(callbacks) = &state.callbacks {
        callbacks.accepted(
            AcceptedMessage {
                provider: Provider::Bird,
                id,
                sender: channel_as_sent,
                to: message.to.clone(),
                reference: message.reference.map(str::to_owned),
            },
            message.scheduled_for,
        );
    }
    answer
}

/// Records an accepted message and answers like Bird; also hands back the message's id.
fn accept(
    state: &AppState,
    channel: &str,
    request: &Value,
    message: &ValidBird<'_>,
) -> (Response, String) {
    let now = Instant::now();
    let now_ms = unix_ms();
    let scheduled = message
        .scheduled_for
        .is_some_and(|at| at.timestamp_millis() > now_ms);
    let id = message_uuid(state.allocate_id());
    {
        let mut inner = state.lock();
        inner.stats.accepted(&Accept {
            from: channel,
            to: &message.to,
            foreign_id: None,
            content_key: message.content_key,
            scheduled,
            // Bird's answer states no price.
            price: 0.0,
            now,
            now_unix_ms: now_ms,
        });
        inner.stats.bird_accepted(message.reference);
    }
    if let Some(journal) = &state.journal {
        journal.accepted(Provider::Bird, channel, message.reference);
    }

    let at = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut answer = json!({
        "id": id,
        "channelId": channel,
        "receiver": request["receiver"],
        "reference": message.reference.unwrap_or_default(),
        "tags": message.tags,
        "status": if scheduled { "scheduled" } else { "accepted" },
        "reason": "",
        "direction": "outgoing",
        "lastStatusAt": at,
        "createdAt": at,
        "updatedAt": at,
    });
    for key in ["body", "template", "scheduledFor", "validity", "replyTo"] {
        if let Some(value) = request.get(key).filter(|value| !value.is_null()) {
            answer[key] = value.clone();
        }
    }
    ((StatusCode::ACCEPTED, Json(answer)).into_response(), id)
}
