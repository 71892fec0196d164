//! seven's answers, read leniently, and their one classification per endpoint.
//!
//! seven writes the same facts in several shapes: `success` as `"100"`, `100` or `true`; error
//! codes as numbers or strings; errors as `{"success":false,"error_code":…,"error_message":…}`,
//! `{"error_code":…,"error_message":…}` or `{"code":404,"message":…}`. [`Reply`] accepts them
//! all, and the classifiers here are pure functions of status, `Retry-After` and body, so that
//! every rule is in one place.

use std::fmt;

use reqwest::StatusCode;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::provider::exchange::{Answer, excerpt};
use crate::provider::outcome::{HaltScope, Outcome, Sent, WorkerFault};
use crate::provider::seven::deletion::Deletion;

/// A scalar as seven may write it.
#[derive(Debug)]
enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

// Written by hand rather than `#[serde(untagged)]`: an untagged enum buffers the value and tries
// the variants in turn, and every miss formats an error message, which made reading seven's
// ordinary answer (codes and ids as strings, prices as numbers) a tenth of the worker's CPU.
// This reads each JSON scalar straight into its variant; arrays, objects and null are refused,
// as before.
impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl Visitor<'_> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boolean, a number or a string")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                // Beyond i64, as the untagged form did: a float.
                Ok(i64::try_from(v).map_or(Scalar::Float(v as f64), Scalar::Int))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Text(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar::Text(v))
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

impl Scalar {
    /// A code as text: `100`, `"100"` → `100`.
    fn code(&self) -> Option<String> {
        match self {
            Scalar::Int(n) => Some(n.to_string()),
            Scalar::Text(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            _ => None,
        }
    }

    fn price(&self) -> Option<f64> {
        match self {
            Scalar::Int(n) => Some(*n as f64),
            Scalar::Float(x) => Some(*x),
            Scalar::Text(s) => s.trim().parse().ok(),
            Scalar::Bool(_) => None,
        }
    }

    /// `100`, `"100"` or `true`: seven's ways of saying "accepted".
    fn is_accepted(&self) -> bool {
        match self {
            Scalar::Bool(b) => *b,
            other => other.code().as_deref() == Some("100"),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct Reply {
    #[serde(default)]
    success: Option<Scalar>,
    #[serde(default)]
    total_price: Option<Scalar>,
    #[serde(default)]
    messages: Option<Vec<ReplyMessage>>,
    #[serde(default)]
    error_code: Option<Scalar>,
    #[serde(default)]
    error_message: Option<String>,
    #[serde(default)]
    code: Option<Scalar>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ReplyMessage {
    #[serde(default)]
    id: Option<Scalar>,
    #[serde(default)]
    price: Option<Scalar>,
    #[serde(default)]
    success: Option<Scalar>,
    #[serde(default)]
    error: Option<Scalar>,
    #[serde(default)]
    error_text: Option<String>,
}

impl Reply {
    /// A JSON object read as a reply; anything else is not one of seven's answers (serde
    /// would read a JSON array into the struct field by field).
    fn parse(body: &[u8]) -> Option<Reply> {
        let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
        if body[start] != b'{' {
            return None;
        }
        serde_json::from_slice(body).ok()
    }

    /// The error this reply states, if it states one: `error_code`, a 404-style `code`, or a
    /// `success` code other than 100.
    fn error(&self) -> Option<(String, Option<&str>)> {
        let message = self.error_message.as_deref().or(self.message.as_deref());
        if let Some(code) = self.error_code.as_ref().and_then(Scalar::code) {
            return Some((code, message));
        }
        if let Some(code) = self.code.as_ref().and_then(Scalar::code) {
            return Some((code, message));
        }
        match &self.success {
            Some(s) if !s.is_accepted() => {
                Some((s.code().unwrap_or_else(|| "rejected".into()), message))
            }
            _ => None,
        }
    }
}

/// seven's refusals of the key (900, 902, 9xx, HTTP 401/403) are this worker's: another
/// worker's key may be accepted, and the campaign pauses only when no live worker has one.
const KEY_REFUSED: HaltScope = HaltScope::Worker(WorkerFault::KeyRefused);

/// seven's codes, as the seed lists them, turned into what to do.
fn code_trouble<T>(code: &str, message: Option<&str>) -> Outcome<T> {
    let said = |plain: &str| match message {
        Some(m) if !m.trim().is_empty() => format!("{plain} (seven: {})", m.trim()),
        _ => plain.to_string(),
    };
    match code {
        "7002001" => Outcome::Failed {
            code: code.into(),
            reason:
                "no 24-hour conversation window is open with this recipient (seven code 7002001): \
                     freetext and media can only be sent within 24 hours of the recipient's last \
                     message, so send a template message to start a conversation"
                    .into(),
        },
        "900" => Outcome::Halt {
            scope: KEY_REFUSED,
            reason: said(
                "seven refused the API key (code 900, authentication failed): check the API key (SEVEN_API_KEY)",
            ),
        },
        "902" => Outcome::Halt {
            scope: KEY_REFUSED,
            reason: said(
                "the API key has no access to WhatsApp (code 902): enable the waba scope for this key in seven's dashboard or use a key that has it",
            ),
        },
        // The seed lists 900 and 902; seven's other 9xx codes are account-level access
        // problems of the same family, which would refuse every message alike.
        c if c.len() == 3 && c.starts_with('9') => Outcome::Halt {
            scope: KEY_REFUSED,
            reason: said(&format!(
                "seven refused access (code {c}): check the API key and the account's settings"
            )),
        },
        "400" => Outcome::Failed {
            code: code.into(),
            reason: said(
                "seven refused the request (code 400: invalid sender, recipient or parameters)",
            ),
        },
        "404" => Outcome::Failed {
            code: code.into(),
            reason: said(
                "seven answered not found (code 404): no such message, or a wrong endpoint",
            ),
        },
        other => Outcome::Failed {
            code: other.into(),
            reason: said(&format!("seven refused the message (code {other})")),
        },
    }
}

/// The classes decided by the HTTP status of a non-2xx answer, with the body's code where it
/// says more.
fn status_trouble<T>(answer: &Answer, reply: Option<&Reply>) -> Outcome<T> {
    let status = answer.status;
    let body_excerpt = || {
        answer
            .body
            .as_deref()
            .map_or_else(|e| e.to_string(), excerpt)
    };
    // An error status with a body that says "accepted" contradicts itself; retrying could
    // send twice, so it is left to an operator.
    if let Some(Reply {
        success: Some(s), ..
    }) = reply
        && s.is_accepted()
    {
        return Outcome::Unknown {
            reason: format!(
                "seven answered HTTP {} with a body that says accepted; it may have accepted the request",
                status.as_u16()
            ),
        };
    }
    match status.as_u16() {
        401 | 403 => {
            // A 9xx in the body says precisely which access problem it is.
            if let Some((code, message)) = reply.and_then(Reply::error)
                && let trouble @ Outcome::Halt { .. } = code_trouble(&code, message)
            {
                return trouble;
            }
            Outcome::Halt {
                scope: KEY_REFUSED,
                reason: format!(
                    "seven refused the API key (HTTP {}): check the API key (SEVEN_API_KEY) and that it has the waba scope",
                    status.as_u16()
                ),
            }
        }
        429 => Outcome::RateLimited {
            after: answer.retry_after,
            reason: "seven is rate limiting this account (HTTP 429)".into(),
        },
        408 => Outcome::Retry {
            after: answer.retry_after,
            reason: "seven timed out reading the request (HTTP 408)".into(),
        },
        500..=599 => Outcome::Retry {
            after: answer.retry_after,
            reason: format!(
                "seven failed (HTTP {}): {}",
                status.as_u16(),
                body_excerpt()
            ),
        },
        300..=399 => Outcome::Halt {
            scope: HaltScope::Worker(WorkerFault::Unreachable),
            reason: format!(
                "seven answered with a redirect (HTTP {}): check the base URL",
                status.as_u16()
            ),
        },
        _ => match reply.and_then(Reply::error) {
            Some((code, message)) => code_trouble(&code, message),
            None => Outcome::Failed {
                code: status.as_str().to_string(),
                reason: format!(
                    "seven refused the request (HTTP {}): {}",
                    status.as_u16(),
                    body_excerpt()
                ),
            },
        },
    }
}

/// A 2xx answer whose body cannot be read or understood: the provider answered, so it may
/// well have done what was asked, and we cannot tell.
fn unreadable_success<T>(answer: &Answer) -> Outcome<T> {
    let what = match &answer.body {
        Ok(body) => format!("a body that is not seven's JSON: {}", excerpt(body)),
        Err(e) => format!("a body that could not be read: {e}"),
    };
    Outcome::Unknown {
        reason: format!(
            "seven answered HTTP {} with {what}; it may have accepted the request",
            answer.status.as_u16()
        ),
    }
}

/// Classifies the answer to `POST /api/waba/messages`.
pub(crate) fn classify_send(answer: &Answer) -> Outcome<Sent> {
    let reply = answer.body.as_deref().ok().and_then(Reply::parse);
    if !answer.status.is_success() {
        return status_trouble(answer, reply.as_ref());
    }
    let Some(reply) = reply else {
        return unreadable_success(answer);
    };
    match &reply.success {
        Some(success) if success.is_accepted() => {}
        // A 200 whose body says an error is an error.
        _ => {
            return match reply.error() {
                Some((code, message)) => code_trouble(&code, message),
                None => unreadable_success(answer),
            };
        }
    }
    let first = reply.messages.as_deref().and_then(<[ReplyMessage]>::first);
    let total_price = reply.total_price.as_ref().and_then(Scalar::price);
    let Some(message) = first else {
        // Code 100 means accepted; without a message entry there is no id, but resending
        // would send it twice.
        return Outcome::Done(Sent {
            provider_id: String::new(),
            price: total_price,
        });
    };
    if matches!(&message.success, Some(s) if !s.is_accepted()) {
        let code = message
            .error
            .as_ref()
            .and_then(Scalar::code)
            .unwrap_or_else(|| "rejected".into());
        return code_trouble(&code, message.error_text.as_deref());
    }
    Outcome::Done(Sent {
        provider_id: message
            .id
            .as_ref()
            .and_then(Scalar::code)
            .unwrap_or_default(),
        price: message
            .price
            .as_ref()
            .and_then(Scalar::price)
            .or(total_price),
    })
}

/// Classifies the answer to `DELETE /api/waba/messages/{id}`.
pub(crate) fn classify_delete(answer: &Answer) -> Outcome<Deletion> {
    if answer.status == StatusCode::NOT_FOUND {
        return Outcome::Done(Deletion::NotFound);
    }
    let reply = answer.body.as_deref().ok().and_then(Reply::parse);
    if let Some((code, message)) = reply.as_ref().and_then(Reply::error) {
        if code == "404" {
            return Outcome::Done(Deletion::NotFound);
        }
        // seven answers 400 "Message already sent…" for a message it already handed on;
        // WhatsApp cannot revoke it.
        if code == "400"
            && let Some(text) = message
            && text.to_ascii_lowercase().contains("already sent")
        {
            return Outcome::Done(Deletion::AlreadySent {
                reason: text.to_string(),
            });
        }
    }
    if !answer.status.is_success() {
        return status_trouble(answer, reply.as_ref());
    }
    match reply {
        Some(Reply {
            success: Some(ref s),
            ..
        }) if s.is_accepted() => Outcome::Done(Deletion::Deleted),
        Some(ref r) => match r.error() {
            Some((code, message)) => code_trouble(&code, message),
            None => unreadable_success(answer),
        },
        None => unreadable_success(answer),
    }
}

/// Classifies the answer to `GET /api/balance`, a key probe: `Done` when seven read the
/// balance, so it accepted the key. seven states a refused key as a code (900, 902) in the body,
/// whatever the HTTP status, as it does for every request; a bare code body is read too.
pub(crate) fn classify_probe(answer: &Answer) -> Outcome<()> {
    let body = answer.body.as_deref().ok();
    let reply = body.and_then(Reply::parse);
    if !answer.status.is_success() {
        return status_trouble(answer, reply.as_ref());
    }
    if let Some((code, message)) = reply.as_ref().and_then(Reply::error) {
        return code_trouble(&code, message);
    }
    let text = body.map(|b| String::from_utf8_lossy(b).trim().to_string());
    if let Some(code) = text
        .as_deref()
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
    {
        return code_trouble(code, None);
    }
    let amount = body
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
        .is_some_and(|v| v.get("amount").is_some_and(serde_json::Value::is_number));
    if amount {
        Outcome::Done(())
    } else {
        Outcome::Halt {
            scope: HaltScope::Worker(WorkerFault::Unreachable),
            reason: format!(
                "seven answered the balance request (HTTP {}) with something that is not a balance: {}; check the base URL (WACAST_SEVEN_BASE_URL)",
                answer.status.as_u16(),
                text.as_deref()
                    .map_or_else(String::new, |t| excerpt(t.as_bytes()))
            ),
        }
    }
}

/// Classifies the answer to `POST /api/waba/events`.
pub(crate) fn classify_event(answer: &Answer) -> Outcome<()> {
    let reply = answer.body.as_deref().ok().and_then(Reply::parse);
    if !answer.status.is_success() {
        return status_trouble(answer, reply.as_ref());
    }
    match reply {
        Some(Reply {
            success: Some(ref s),
            ..
        }) if s.is_accepted() => Outcome::Done(()),
        Some(ref r) => match r.error() {
            Some((code, message)) => code_trouble(&code, message),
            None => unreadable_success(answer),
        },
        None => unreadable_success(answer),
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
    fn a_probe_is_done_only_when_seven_reads_the_balance() {
        assert!(matches!(
            classify_probe(&answer(200, r#"{"amount": 12.5, "currency": "EUR"}"#)),
            Outcome::Done(())
        ));
        for (status, body) in [
            (200, "900"),
            (200, r#"{"error_code": 900, "error_message": "auth"}"#),
            (401, "Unauthorized"),
        ] {
            assert!(
                matches!(
                    classify_probe(&answer(status, body)),
                    Outcome::Halt {
                        scope: KEY_REFUSED,
                        ..
                    }
                ),
                "{status} {body}"
            );
        }
        assert!(matches!(
            classify_probe(&answer(200, "<html>")),
            Outcome::Halt {
                scope: HaltScope::Worker(WorkerFault::Unreachable),
                ..
            }
        ));
    }

    #[test]
    fn codes_and_prices_are_read_in_every_shape_seven_writes() {
        let out = classify_send(&answer(
            200,
            r#"{"success":100,"total_price":"0.07","messages":[{"id":12345678,"success":true}]}"#,
        ));
        assert_eq!(
            out,
            Outcome::Done(Sent {
                provider_id: "12345678".into(),
                price: Some(0.07)
            })
        );
        let out = classify_send(&answer(200, r#"{"success":"7002001"}"#));
        assert!(
            matches!(out, Outcome::Failed { ref code, .. } if code == "7002001"),
            "{out:?}"
        );
    }

    #[test]
    fn scalars_are_read_whatever_their_json_type() {
        // seven's full answer: nulls, string ids, numeric prices, booleans side by side.
        let out = classify_send(&answer(
            200,
            r#"{"success":"100","total_price":0.07,"balance":3.5,"debug":"false",
                "messages":[{"id":"77812349","sender":"4915112345678","price":0.0712,
                "success":true,"error":null,"error_text":null,"udh":null}]}"#,
        ));
        assert_eq!(
            out,
            Outcome::Done(Sent {
                provider_id: "77812349".into(),
                price: Some(0.0712)
            })
        );
        // An id beyond i64 is not a code (as before), and a price may be a whole number.
        let out = classify_send(&answer(
            200,
            r#"{"success":true,"messages":[{"id":18446744073709551615,"price":1}]}"#,
        ));
        assert_eq!(
            out,
            Outcome::Done(Sent {
                provider_id: String::new(),
                price: Some(1.0)
            })
        );
        // A code written as an object is not one of seven's answers.
        let out = classify_send(&answer(200, r#"{"success":{"code":100}}"#));
        assert!(matches!(out, Outcome::Unknown { .. }), "{out:?}");
    }

    #[test]
    fn accepted_without_a_message_entry_is_sent_not_resent() {
        let out = classify_send(&answer(200, r#"{"success":"100","total_price":0.07}"#));
        assert_eq!(
            out,
            Outcome::Done(Sent {
                provider_id: String::new(),
                price: Some(0.07)
            })
        );
    }

    #[test]
    fn a_2xx_without_result_or_error_is_unknown() {
        for body in [r#"{}"#, r#"{"balance":1}"#, "[1,2]", r#"{"messages":{}}"#] {
            let out = classify_send(&answer(200, body));
            assert!(matches!(out, Outcome::Unknown { .. }), "{body}: {out:?}");
        }
    }

    #[test]
    fn an_error_status_whose_body_says_accepted_is_unknown() {
        let out = classify_send(&answer(
            500,
            r#"{"success":"100","messages":[{"id":"1","success":true}]}"#,
        ));
        assert!(matches!(out, Outcome::Unknown { .. }), "{out:?}");
    }

    #[test]
    fn a_body_read_error_on_a_5xx_still_retries() {
        let broken = Answer {
            status: StatusCode::BAD_GATEWAY,
            retry_after: None,
            body: Err("connection reset".into()),
        };
        assert!(matches!(classify_send(&broken), Outcome::Retry { .. }));
        let broken = Answer {
            status: StatusCode::OK,
            ..broken
        };
        assert!(matches!(classify_send(&broken), Outcome::Unknown { .. }));
    }
}
