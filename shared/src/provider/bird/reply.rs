//! Bird's answers to a send, classified once into an [`Outcome`].
//!
//! A send is answered `202 Accepted` with the created message (`id`, `status` `accepted` or
//! `scheduled`, …; the seed: "Message was accepted for processing"). Errors carry
//! `{"code", "message", "details"}` (Bird's Channels API; newer Bird APIs nest the same under
//! `error`, which is read too). The classifier is a pure function of status, `Retry-After` and
//! body, so that every rule is in one place:
//!
//! | answer | outcome |
//! |---|---|
//! | 2xx with an `id` | `Sent` (a failure `status` such as `sending_failed` is `Failed`) |
//! | 2xx with an error and no `id` | `Failed`: a success status whose body says an error is an error |
//! | 2xx that cannot be read, or without `id` | `Unknown`: Bird may have accepted it |
//! | 401, 403, 3xx | `Halt` of this worker: the key, its permissions or the base URL is wrong, and every message it sends would fail alike |
//! | 404 | `Halt` of the campaign: its workspace or channel is unknown |
//! | 408, 5xx | `Retry`, honouring `Retry-After` |
//! | 429 | `RateLimited`, honouring `Retry-After` (Bird documents 429 as not processed) |
//! | other 4xx (400, 409, 422, …) | `Failed` with Bird's code, message and details |
//! | an error status whose body shows an accepted message | `Unknown` |

use std::fmt::Write as _;

use reqwest::StatusCode;
use serde_json::{Map, Value};

use crate::provider::bird::sent::{BirdSent, BirdStatus};
use crate::provider::exchange::{Answer, excerpt};
use crate::provider::outcome::{HaltScope, Outcome, WorkerFault};

/// The longest rendering of an error's details kept in a reason.
const MAX_DETAILS: usize = 400;

/// Bird's statuses that say the message will not be sent.
const FAILED_STATUSES: [&str; 4] = ["sending_failed", "delivery_failed", "skipped", "rejected"];

/// The answer's body as a JSON object, if it is one.
fn parse(body: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice(body).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// A non-empty string or a number, as text.
fn scalar(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The error an answer states: `{"code", "message", "details"}` at the top or under `error`.
struct BirdError {
    code: Option<String>,
    message: Option<String>,
    details: Option<String>,
}

impl BirdError {
    fn read(reply: &Map<String, Value>) -> Option<BirdError> {
        let source = match reply.get("error") {
            Some(Value::Object(nested)) => nested,
            _ => reply,
        };
        let error = BirdError {
            code: scalar(source.get("code")),
            message: scalar(source.get("message")),
            details: source.get("details").and_then(details),
        };
        (error.code.is_some() || error.message.is_some()).then_some(error)
    }

    /// The reason of a refused message: `body: must be set (Bird refused the message: HTTP
    /// 422, InvalidPayload: The request did not pass validation)`. The details come first: they
    /// name the field to fix, and a message hash shows only a reason's beginning (the whole is
    /// in its campaign's reasons table, see `queue::MAX_REASON_LEN`).
    fn refusal(&self, status: StatusCode) -> String {
        let mut said = format!("HTTP {}", status.as_u16());
        if let Some(code) = &self.code {
            let _ = write!(said, ", {code}");
        }
        if let Some(message) = &self.message {
            let _ = write!(said, ": {message}");
        }
        match &self.details {
            Some(details) => format!("{details} (Bird refused the message: {said})"),
            None => format!("Bird refused the message ({said})"),
        }
    }
}

/// Details as one line: `{"field": ["why"]}` → `field: why`, `[{"param", "message"}]` →
/// `param: message`, anything else as compact JSON; cut to a readable length.
fn details(value: &Value) -> Option<String> {
    let text_of = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    };
    let parts: Vec<String> = match value {
        Value::Null => return None,
        Value::Object(map) if map.is_empty() => return None,
        Value::Array(items) if items.is_empty() => return None,
        Value::Object(map) => map
            .iter()
            .map(|(field, why)| format!("{field}: {}", text_of(why)))
            .collect(),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::Object(entry) => match (
                    scalar(entry.get("param").or(entry.get("field"))),
                    scalar(entry.get("message")),
                ) {
                    (Some(param), Some(message)) => format!("{param}: {message}"),
                    (None, Some(message)) => message,
                    _ => item.to_string(),
                },
                other => text_of(other),
            })
            .collect(),
        other => vec![text_of(other)],
    };
    let mut out = parts.join("; ");
    if out.chars().count() > MAX_DETAILS {
        out = out.chars().take(MAX_DETAILS).collect();
        out.push('…');
    }
    Some(out)
}

/// The created message's id and status, if the body shows one.
fn created(reply: &Map<String, Value>) -> Option<(String, Option<String>)> {
    let id = scalar(reply.get("id"))?;
    Some((id, scalar(reply.get("status"))))
}

fn is_failed_status(status: &str) -> bool {
    FAILED_STATUSES.contains(&status)
}

/// The classes decided by the HTTP status of a non-2xx answer.
fn status_trouble<T>(answer: &Answer, reply: Option<&Map<String, Value>>) -> Outcome<T> {
    let status = answer.status;
    let error = reply.and_then(BirdError::read);
    let said = |plain: String| match error.as_ref().and_then(|e| e.message.as_deref()) {
        Some(message) => format!("{plain} (Bird: {message})"),
        None => plain,
    };
    // An error status whose body shows the created message contradicts itself; retrying
    // could send twice, so it is left to an operator.
    if let Some((_, state)) = reply.and_then(created)
        && !state.as_deref().is_some_and(is_failed_status)
    {
        return Outcome::Unknown {
            reason: format!(
                "Bird answered HTTP {} with a body that shows a created message; it may have accepted the request",
                status.as_u16()
            ),
        };
    }
    match status.as_u16() {
        401 => Outcome::Halt {
            scope: HaltScope::Worker(WorkerFault::KeyRefused),
            reason: said(
                "Bird refused the access key (HTTP 401): check the access key (BIRD_ACCESS_KEY)"
                    .into(),
            ),
        },
        403 => Outcome::Halt {
            scope: HaltScope::Worker(WorkerFault::KeyRefused),
            reason: said(
                "the access key may not send on this channel (HTTP 403): give it an access policy that allows sending messages on this workspace's channel, or use a key that has one"
                    .into(),
            ),
        },
        // The workspace and channel are the campaign's: every worker would meet this.
        404 => Outcome::Halt {
            scope: HaltScope::Campaign,
            reason: said(
                "Bird knows no such workspace or channel (HTTP 404): check the campaign's --workspace and --channel, and --bird-base-url"
                    .into(),
            ),
        },
        429 => Outcome::RateLimited {
            after: answer.retry_after,
            reason: "Bird is rate limiting this access key (HTTP 429); it did not process the request".into(),
        },
        408 => Outcome::Retry {
            after: answer.retry_after,
            reason: "Bird timed out reading the request (HTTP 408)".into(),
        },
        500..=599 => Outcome::Retry {
            after: answer.retry_after,
            reason: format!(
                "Bird failed (HTTP {}): {}",
                status.as_u16(),
                body_excerpt(answer)
            ),
        },
        300..=399 => Outcome::Halt {
            scope: HaltScope::Worker(WorkerFault::Unreachable),
            reason: format!(
                "Bird answered with a redirect (HTTP {}): check the base URL",
                status.as_u16()
            ),
        },
        _ => match error {
            Some(error) => Outcome::Failed {
                code: error
                    .code
                    .clone()
                    .unwrap_or_else(|| status.as_str().to_string()),
                reason: error.refusal(status),
            },
            None => Outcome::Failed {
                code: status.as_str().to_string(),
                reason: format!(
                    "Bird refused the message (HTTP {}): {}",
                    status.as_u16(),
                    body_excerpt(answer)
                ),
            },
        },
    }
}

fn body_excerpt(answer: &Answer) -> String {
    answer
        .body
        .as_deref()
        .map_or_else(|e| e.to_string(), excerpt)
}

/// A 2xx answer whose body cannot be read or understood: Bird answered, so it may well have
/// created the message, and we cannot tell.
fn unreadable_success<T>(answer: &Answer) -> Outcome<T> {
    let what = match &answer.body {
        Ok(body) => format!("a body that shows no message id: {}", excerpt(body)),
        Err(e) => format!("a body that could not be read: {e}"),
    };
    Outcome::Unknown {
        reason: format!(
            "Bird answered HTTP {} with {what}; it may have accepted the request",
            answer.status.as_u16()
        ),
    }
}

/// Classifies the answer to `GET /workspaces/{workspaceId}/channels/{channelId}`, a key probe:
/// `Done` when Bird showed the channel (a JSON object), so it accepted the key; the refusals
/// as for a send (401 and 403 the key's, 404 the workspace's or channel's).
pub(crate) fn classify_probe(answer: &Answer) -> Outcome<()> {
    let reply = answer.body.as_deref().ok().and_then(parse);
    if !answer.status.is_success() {
        return status_trouble(answer, reply.as_ref());
    }
    match reply {
        Some(_) => Outcome::Done(()),
        None => Outcome::Halt {
            scope: HaltScope::Worker(WorkerFault::Unreachable),
            reason: format!(
                "Bird answered the channel request (HTTP {}) with something that is not a channel: {}; check the base URL (WACAST_BIRD_BASE_URL)",
                answer.status.as_u16(),
                body_excerpt(answer)
            ),
        },
    }
}

/// Classifies the answer to `POST /workspaces/{workspaceId}/channels/{channelId}/messages`.
pub(crate) fn classify_send(answer: &Answer) -> Outcome<BirdSent> {
    let reply = answer.body.as_deref().ok().and_then(parse);
    if !answer.status.is_success() {
        return status_trouble(answer, reply.as_ref());
    }
    let Some(reply) = reply else {
        return unreadable_success(answer);
    };
    match created(&reply) {
        Some((_, Some(state))) if is_failed_status(&state) => {
            let why = scalar(reply.get("reason"))
                .map_or_else(String::new, |reason| format!(": {reason}"));
            Outcome::Failed {
                reason: format!("Bird did not send the message (status {state}){why}"),
                code: state,
            }
        }
        Some((id, state)) => Outcome::Done(BirdSent {
            provider_id: id,
            // A 202 is "accepted for processing" even when the body leaves the status out.
            status: state.map_or(BirdStatus::Accepted, |s| BirdStatus::from_wire(&s)),
        }),
        // A success status whose body says an error is an error.
        None => match BirdError::read(&reply) {
            Some(error) => Outcome::Failed {
                code: error
                    .code
                    .clone()
                    .unwrap_or_else(|| answer.status.as_str().to_string()),
                reason: error.refusal(answer.status),
            },
            None => unreadable_success(answer),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            retry_after: None,
            body: Ok(body.as_bytes().to_vec()),
        }
    }

    #[test]
    fn details_are_read_in_each_shape_bird_writes() {
        let out = classify_send(&answer(
            422,
            r#"{"code":"InvalidPayload","message":"The request did not pass validation","details":{"receiver.contacts":["is required"],"body":["must be set","or template"]}}"#,
        ));
        assert_eq!(
            out,
            Outcome::Failed {
                code: "InvalidPayload".into(),
                reason: "body: must be set, or template; receiver.contacts: is required (Bird refused the message: HTTP 422, InvalidPayload: The request did not pass validation)".into(),
            }
        );
        let out = classify_send(&answer(
            400,
            r#"{"error":{"type":"validation_error","code":"E01001","message":"Request validation failed.","details":[{"param":"to","message":"must contain at least one recipient"}]}}"#,
        ));
        assert!(
            matches!(&out, Outcome::Failed { code, reason }
                if code == "E01001" && reason.contains("to: must contain at least one recipient")),
            "{out:?}"
        );
    }

    #[test]
    fn a_2xx_error_body_is_a_failure_and_a_2xx_without_id_is_unknown() {
        let out = classify_send(&answer(
            200,
            r#"{"code":"ChannelInactive","message":"channel is not active"}"#,
        ));
        assert!(
            matches!(&out, Outcome::Failed { code, .. } if code == "ChannelInactive"),
            "{out:?}"
        );
        for body in ["{}", r#"{"status":"accepted"}"#, "[1]", r#"{"id":""}"#] {
            let out = classify_send(&answer(202, body));
            assert!(matches!(out, Outcome::Unknown { .. }), "{body}: {out:?}");
        }
    }

    #[test]
    fn a_created_message_that_failed_at_once_is_failed() {
        let out = classify_send(&answer(
            202,
            r#"{"id":"6b1c0f0e-2b7e-4a0e-9d7e-3f1d2c3b4a59","status":"sending_failed","reason":"recipient is not a WhatsApp user"}"#,
        ));
        assert_eq!(
            out,
            Outcome::Failed {
                code: "sending_failed".into(),
                reason: "Bird did not send the message (status sending_failed): recipient is not a WhatsApp user".into(),
            }
        );
    }

    #[test]
    fn an_error_status_whose_body_shows_a_created_message_is_unknown() {
        let out = classify_send(&answer(
            500,
            r#"{"id":"6b1c0f0e-2b7e-4a0e-9d7e-3f1d2c3b4a59","status":"accepted"}"#,
        ));
        assert!(matches!(out, Outcome::Unknown { .. }), "{out:?}");
        let broken = Answer {
            status: StatusCode::BAD_GATEWAY,
            retry_after: None,
            body: Err("connection reset".into()),
        };
        assert!(matches!(classify_send(&broken), Outcome::Retry { .. }));
    }
}
