//! The mock's own control endpoints, for tests and benchmarks: `GET /stats`,
//! `POST /stats/reset`, `GET /messages` and `POST /windows`. They never fault and need no key.

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
