//! The mock's own control endpoints, for tests and benchmarks: `GET /stats`,
//! `POST /stats/reset`, `GET /messages`, `POST /windows` and `GET`/`POST /faults` (the faults
//! and accepted keys, changed while running). They never fault and need no key.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::gateway::state::{AppState, unix_ms};

#[derive(Deserialize)]
pub(crate) struct StatsQuery {
    /// `true` leaves out the per-recipient, per-foreign-id and per-second maps.
    #[serde(default)]
    summary: bool,
}

pub(crate) async fn get_stats(
    State(state): State<Arc<AppState>>,
    Query(query): Query<StatsQuery>,
) -> Response {
    let inner = state.lock();
    let mut stats = inner.stats.to_json(!query.summary);
    stats["windows_open"] = Value::from(inner.windows.len());
    drop(inner);
    if let Some(callbacks) = &state.callbacks {
        stats["callbacks"] = callbacks.stats_json();
    }
    Json(stats).into_response()
}

pub(crate) async fn reset_stats(State(state): State<Arc<AppState>>) -> Response {
    state.lock().reset();
    if let Some(callbacks) = &state.callbacks {
        callbacks.reset();
    }
    Json(json!({"success": true})).into_response()
}

#[derive(Deserialize)]
pub(crate) struct MessagesQuery {
    foreign_id: Option<String>,
    to: Option<String>,
    from: Option<String>,
    label: Option<String>,
}

pub(crate) async fn list_messages(
    State(state): State<Arc<AppState>>,
    Query(query): Query<MessagesQuery>,
) -> Response {
    let matches = |wanted: &Option<String>, have: Option<&str>| {
        wanted.as_deref().is_none_or(|wanted| have == Some(wanted))
    };
    let now_ms = unix_ms();
    let inner = state.lock();
    let messages: Vec<Value> = inner
        .stored
        .iter()
        .filter(|stored| {
            matches(&query.foreign_id, stored.foreign_id.as_deref())
                && matches(&query.to, Some(&stored.to))
                && matches(&query.from, Some(&stored.from))
                && matches(&query.label, stored.label.as_deref())
        })
        .map(|stored| {
            let status = if inner.deleted.contains(&stored.id) {
                "deleted"
            } else if stored.send_at_ms.is_some_and(|at| at > now_ms) {
                "scheduled"
            } else {
                "sent"
            };
            json!({
                "id": stored.id.to_string(),
                "from": &*stored.from,
                "to": &*stored.to,
                "foreign_id": stored.foreign_id.as_deref(),
                "label": stored.label.as_deref(),
                "status": status,
                "text": &*stored.text,
                "request": serde_json::from_str::<Value>(&stored.request).unwrap_or(Value::Null),
                "accepted_at_ms": stored.accepted_at_ms,
                "send_at_ms": stored.send_at_ms,
            })
        })
        .collect();
    let kept_all = inner.stored.len() < state.config.keep_messages;
    drop(inner);
    Json(json!({"messages": messages, "complete": kept_all})).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowsChange {
    #[serde(default)]
    open: Vec<String>,
    #[serde(default)]
    close: Vec<String>,
}

/// Opens or closes 24-hour windows while running: `{"open": [...], "close": [...]}`.
pub(crate) async fn set_windows(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let change: WindowsChange = match serde_json::from_slice(&body) {
        Ok(change) => change,
        Err(err) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error_message": format!("expected {{\"open\": [...], \"close\": [...]}}: {err}")})),
            )
                .into_response();
        }
    };
    let mut inner = state.lock();
    for number in change.close {
        inner.windows.remove(number.trim_start_matches('+'));
    }
    for number in change.open {
        inner
            .windows
            .insert(number.trim_start_matches('+').to_owned());
    }
    Json(json!({"success": true, "windows_open": inner.windows.len()})).into_response()
}

/// A runtime change of the faults, as `POST /faults` takes it: every field optional, absent
/// ones unchanged. A rate limit of 0 removes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultsChange {
    hang: Option<f64>,
    fail_5xx: Option<f64>,
    lose_answer: Option<f64>,
    error_body: Option<f64>,
    rate_limit: Option<u32>,
    rate_limit_per_sender: Option<u32>,
    /// The seven API key accepted from now on (the one workers hold is then refused with 900).
    api_key: Option<String>,
    /// The Bird access key accepted from now on.
    bird_access_key: Option<String>,
}

fn faults_json(inner: &crate::gateway::state::Inner) -> Value {
    let faults = &inner.faults;
    json!({
        "hang": faults.hang,
        "fail_5xx": faults.fail_5xx,
        "lose_answer": faults.lose_answer,
        "error_body": faults.error_body,
        "rate_limit": faults.rate_limit,
        "rate_limit_per_sender": faults.rate_limit_per_sender,
        "api_key": &*inner.api_key,
        "bird_access_key": &*inner.bird_access_key,
    })
}

/// `GET /faults`: the faults in force.
pub(crate) async fn get_faults(State(state): State<Arc<AppState>>) -> Response {
    Json(faults_json(&state.lock())).into_response()
}

/// `POST /faults`: changes the faults while running (hang, 5xx, lost answers, error bodies,
/// rate limits, the accepted keys); answers the faults now in force.
pub(crate) async fn set_faults(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let bad = |message: String| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error_message": message })),
        )
            .into_response()
    };
    let change: FaultsChange = match serde_json::from_slice(&body) {
        Ok(change) => change,
        Err(err) => return bad(format!("expected a JSON object of faults: {err}")),
    };
    for (name, fraction) in [
        ("hang", change.hang),
        ("fail_5xx", change.fail_5xx),
        ("lose_answer", change.lose_answer),
        ("error_body", change.error_body),
    ] {
        if fraction.is_some_and(|f| !(0.0..=1.0).contains(&f)) {
            return bad(format!("{name} must be a fraction between 0 and 1"));
        }
    }
    let mut inner = state.lock();
    let mut faults = (*inner.faults).clone();
    faults.hang = change.hang.unwrap_or(faults.hang);
    faults.fail_5xx = change.fail_5xx.unwrap_or(faults.fail_5xx);
    faults.lose_answer = change.lose_answer.unwrap_or(faults.lose_answer);
    faults.error_body = change.error_body.unwrap_or(faults.error_body);
    if let Some(limit) = change.rate_limit {
        faults.rate_limit = (limit > 0).then_some(limit);
    }
    if let Some(limit) = change.rate_limit_per_sender {
        faults.rate_limit_per_sender = (limit > 0).then_some(limit);
    }
    inner.faults = Arc::new(faults);
    if let Some(key) = change.api_key {
        inner.api_key = key.into();
    }
    if let Some(key) = change.bird_access_key {
        inner.bird_access_key = key.into();
    }
    Json(faults_json(&inner)).into_response()
}
