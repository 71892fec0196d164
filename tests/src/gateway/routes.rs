//! seven's three WhatsApp endpoints behind fault injection, and the router that also mounts the
//! control endpoints of `control.rs`.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use rand::Rng;
use serde::Serialize;
use serde_json::{Value, json};

use crate::gateway::callbacks::payload::AcceptedMessage;
use crate::gateway::control;
use crate::gateway::journal::Provider;
use crate::gateway::state::{AppState, StoredMessage, unix_ms};
use crate::gateway::stats::{Accept, Endpoint};
use crate::gateway::validate::{
    CODE_BAD_REQUEST, CODE_NO_WINDOW, Rejection, validate_event, validate_message,
};

const CODE_AUTH_FAILED: &str = "900";
const CODE_NO_SCOPE: &str = "902";
const MESSAGE_AUTH_FAILED: &str =
    "Authentication has failed. Please check the API key used in Authentication.";
const MESSAGE_NO_SCOPE: &str =
    "The API key does not have access rights to this endpoint. Ensure the waba scope is enabled.";

pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/waba/messages", post(send_message))
        .route("/api/waba/messages/{id}", delete(delete_message))
        .route("/api/waba/events", post(send_event))
        .route("/api/balance", get(get_balance))
        .route(
            "/workspaces/{workspace}/channels/{channel}/messages",
            post(crate::gateway::bird::send_message),
        )
        .route(
            "/workspaces/{workspace}/channels/{channel}",
            get(crate::gateway::bird::get_channel),
        )
        .route("/stats", get(control::get_stats))
        .route("/stats/reset", post(control::reset_stats))
        .route("/messages", get(control::list_messages))
        .route("/windows", post(control::set_windows))
        .route(
            "/faults",
            get(control::get_faults).post(control::set_faults),
        )
        .fallback(not_found)
        .with_state(state)
}

/// Each endpoint answers errors in its own shape, as the seed shows them.
#[derive(Clone, Copy)]
enum Shape {
    /// `{"success": "<code>", "error_message": …, "messages": []}`.
    Messages,
    /// `{"error_code": <code>, "error_message": …}`.
    Delete,
    /// `{"success": false, "error_code": <code>, "error_message": …}`.
    Events,
}

#[derive(Serialize)]
struct MessagesError<'a> {
    success: &'a str,
    error_message: &'a str,
    messages: [(); 0],
}

#[derive(Serialize)]
struct DeleteError<'a> {
    error_code: Value,
    error_message: &'a str,
}

#[derive(Serialize)]
struct EventsError<'a> {
    success: bool,
    error_code: Value,
    error_message: &'a str,
}

fn error_response(shape: Shape, code: &str, message: &str) -> Response {
    // Codes are numbers in the delete and events shapes; an injected non-numeric code stays text.
    let code_number = || {
        code.parse::<u64>()
            .map_or_else(|_| Value::from(code), Value::from)
    };
    match shape {
        Shape::Messages => Json(MessagesError {
            success: code,
            error_message: message,
            messages: [],
        })
        .into_response(),
        Shape::Delete => Json(DeleteError {
            error_code: code_number(),
            error_message: message,
        })
        .into_response(),
        Shape::Events => Json(EventsError {
            success: false,
            error_code: code_number(),
            error_message: message,
        })
        .into_response(),
    }
}

#[derive(Serialize)]
struct NotFound {
    code: u16,
    message: &'static str,
    errors: [(); 0],
}

fn not_found_body() -> Response {
    let body = NotFound {
        code: 404,
        message: "Page not found",
        errors: [],
    };
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

async fn not_found() -> Response {
    not_found_body()
}

/// What every seven endpoint does before its own work: count, inject latency, hangs and 5xx,
/// check the API key and the global rate limit. `Some` is the answer to give instead.
async fn admit(
    state: &AppState,
    endpoint: Endpoint,
    shape: Shape,
    headers: &HeaderMap,
) -> Option<Response> {
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
    if let Some(status) = fail_status {
        let reason = status.canonical_reason().unwrap_or("Server Error");
        return Some((status, [(header::CONTENT_TYPE, "text/plain")], reason).into_response());
    }

    let key = headers.get("x-api-key").map(HeaderValue::as_bytes);
    let api_key = state.api_key();
    let auth_error = match key {
        Some(key) if key == api_key.as_bytes() => None,
        Some(key)
            if state
                .config
                .no_waba_scope_key
                .as_ref()
                .is_some_and(|no_scope| key == no_scope.as_bytes()) =>
        {
            Some((CODE_NO_SCOPE, MESSAGE_NO_SCOPE))
        }
        _ => Some((CODE_AUTH_FAILED, MESSAGE_AUTH_FAILED)),
    };
    if let Some((code, message)) = auth_error {
        state.lock().stats.rejected(code);
        return Some(error_response(shape, code, message));
    }

    if let Some(limit) = faults.rate_limit {
        let second = unix_ms().div_euclid(1000);
        let mut inner = state.lock();
        if !inner.rate.admit_global(second, limit) {
            inner.stats.rate_limited();
            return Some(too_many_requests());
        }
    }
    None
}

/// `GET /api/balance`: the account's balance, what `wacast-worker check-config --probe` reads
/// to prove a key; the same faults and key checks as the send endpoints (a refused key is
/// answered in the delete endpoint's shape, `{"error_code": 900, …}`).
async fn get_balance(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(response) = admit(&state, Endpoint::Probe, Shape::Delete, &headers).await {
        return response;
    }
    let balance = state.lock().balance;
    Json(json!({"amount": round_price(balance), "currency": "EUR"})).into_response()
}

fn too_many_requests() -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, "1")],
        Json(
            json!({"error_code": 429, "error_message": "Too Many Requests: retry after 1 second"}),
        ),
    )
        .into_response()
}

/// Parses a JSON request body; seven's API is JSON here, so other content types are refused.
fn parse_json(headers: &HeaderMap, body: &[u8]) -> Result<Value, Rejection> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim_start().starts_with("application/json"));
    if !is_json {
        return Err(Rejection {
            code: CODE_BAD_REQUEST,
            message: "Content-Type must be application/json".to_owned(),
        });
    }
    serde_json::from_slice(body).map_err(|err| Rejection {
        code: CODE_BAD_REQUEST,
        message: format!("the request body is not valid JSON: {err}"),
    })
}

#[derive(Serialize)]
struct SendResponse<'a> {
    success: &'a str,
    total_price: f64,
    balance: f64,
    debug: &'a str,
    sms_type: &'a str,
    messages: [SentMessage<'a>; 1],
}

#[derive(Serialize)]
struct SentMessage<'a> {
    id: String,
    sender: &'a str,
    recipient: &'a str,
    text: &'a str,
    encoding: &'a str,
    label: Option<&'a str>,
    parts: u32,
    udh: Option<&'a str>,
    is_binary: bool,
    price: f64,
    channel: &'a str,
    success: bool,
    error: Option<&'a str>,
    error_text: Option<&'a str>,
}

/// Rounds euros to 1/10000, as seven's prices are given.
fn round_price(euros: f64) -> f64 {
    (euros * 10_000.0).round() / 10_000.0
}

fn reject_message(state: &AppState, rejection: &Rejection) -> Response {
    state.lock().stats.rejected(rejection.code);
    error_response(Shape::Messages, rejection.code, &rejection.message)
}

async fn send_message(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(journal) = &state.journal {
        journal.seven_request(&body);
    }
    if let Some(response) = admit(&state, Endpoint::Messages, Shape::Messages, &headers).await {
        return response;
    }
    let request = match parse_json(&headers, &body) {
        Ok(request) => request,
        Err(rejection) => return reject_message(&state, &rejection),
    };
    let faults = state.faults();
    if faults.rate_limit_per_sender.is_some() || faults.error_body > 0.0 {
        let mut inner = state.lock();
        if let (Some(limit), Some(from)) = (
            faults.rate_limit_per_sender,
            request.get("from").and_then(Value::as_str),
        ) && !inner
            .rate
            .admit_sender(from, unix_ms().div_euclid(1000), limit)
        {
            inner.stats.rate_limited();
            return too_many_requests();
        }
        if inner.roll(faults.error_body) {
            inner.stats.error_body();
            let code = faults.error_body_code.as_str();
            return error_response(Shape::Messages, code, "injected error (--error-body)");
        }
    }
    let message = match validate_message(&request, &state.config) {
        Ok(message) => message,
        Err(rejection) => return reject_message(&state, &rejection),
    };

    let now = Instant::now();
    let now_ms = unix_ms();
    let send_at_ms = message
        .send_at
        .map(|at| at.timestamp_millis())
        .filter(|at| *at > now_ms);
    let price = state.config.price;
    let (id, balance) = {
        let mut inner = state.lock();
        if message.needs_window
            && !state.config.all_windows_open
            && !inner.windows.contains(message.to)
        {
            drop(inner);
            return reject_message(
                &state,
                &Rejection {
                    code: CODE_NO_WINDOW,
                    message: "Not in conversation. Freetext messages can only be sent within an active 24-hour conversation window. Use a template message to initiate a conversation.".to_owned(),
                },
            );
        }
        let id = state.allocate_id();
        inner.balance -= price;
        inner.stats.accepted(&Accept {
            from: message.from,
            to: message.to,
            foreign_id: message.foreign_id,
            content_key: message.content_key,
            scheduled: send_at_ms.is_some(),
            price,
            now,
            now_unix_ms: now_ms,
        });
        if let Some(send_at_ms) = send_at_ms {
            inner.scheduled.insert(id, send_at_ms);
        }
        if inner.stored.len() < state.config.keep_messages {
            inner.stored.push(StoredMessage {
                id,
                from: message.from.into(),
                to: message.to.into(),
                foreign_id: message.foreign_id.map(Into::into),
                label: message.label.map(Into::into),
                text: message.text.as_str().into(),
                request: String::from_utf8_lossy(&body).into(),
                accepted_at_ms: now_ms,
                send_at_ms,
            });
        }
        (id, inner.balance)
    };
    if let Some(journal) = &state.journal {
        journal.accepted(Provider::Seven, message.from, message.foreign_id);
    }
    if let Some(callbacks) = &state.callbacks {
        callbacks.accepted(
            AcceptedMessage {
                provider: Provider::Seven,
                id: id.to_string(),
                sender: message.from.to_owned(),
                to: message.to.to_owned(),
                reference: message.foreign_id.map(str::to_owned),
            },
            message.send_at,
        );
    }
    let lose_answer = {
        let mut inner = state.lock();
        let lose_answer = inner.faults.lose_answer;
        let lose = inner.roll(lose_answer);
        if lose {
            inner.stats.lost_answer();
        }
        lose
    };
    if lose_answer {
        // Accepted, and the answer never comes: the client cannot tell whether it was.
        std::future::pending::<()>().await;
    }

    let encoding = if message.text.is_ascii() {
        "gsm"
    } else {
        "ucs2"
    };
    Json(SendResponse {
        success: "100",
        total_price: price,
        balance: round_price(balance),
        debug: "false",
        sms_type: "WA",
        messages: [SentMessage {
            id: id.to_string(),
            sender: message.from,
            recipient: message.to,
            text: &message.text,
            encoding,
            label: message.label,
            parts: 1,
            udh: None,
            is_binary: false,
            price,
            channel: "WA",
            success: true,
            error: None,
            error_text: None,
        }],
    })
    .into_response()
}

async fn delete_message(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(response) = admit(&state, Endpoint::Delete, Shape::Delete, &headers).await {
        return response;
    }
    let Some(id) = id.parse::<u64>().ok().filter(|id| state.was_issued(*id)) else {
        state.lock().stats.delete("not_found");
        return not_found_body();
    };
    let mut inner = state.lock();
    if inner.deleted.contains(&id) {
        inner.stats.delete("not_found");
        return not_found_body();
    }
    let still_scheduled = inner
        .scheduled
        .get(&id)
        .is_some_and(|send_at_ms| *send_at_ms > unix_ms());
    if still_scheduled {
        inner.scheduled.remove(&id);
        inner.deleted.insert(id);
        inner.stats.delete("deleted");
        return Json(json!({"success": true})).into_response();
    }
    inner.stats.delete("already_sent");
    drop(inner);
    error_response(
        Shape::Delete,
        CODE_BAD_REQUEST,
        "Message already sent. WhatsApp does not support message revocation.",
    )
}

async fn send_event(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(response) = admit(&state, Endpoint::Events, Shape::Events, &headers).await {
        return response;
    }
    let result =
        parse_json(&headers, &body).and_then(|event| validate_event(&event, &state.config));
    let mut inner = state.lock();
    match result {
        Ok(event) => {
            inner.stats.event(event.event);
            Json(json!({"success": true})).into_response()
        }
        Err(rejection) => {
            inner.stats.rejected(rejection.code);
            error_response(Shape::Events, rejection.code, &rejection.message)
        }
    }
}
