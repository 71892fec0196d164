//! What the providers' callback parsers share: [`CallbackError`] (a body that does not parse,
//! which the endpoint answers with 400) and the lenient readers of the fields both providers
//! spell in more than one way (ids as strings or numbers, times as RFC 3339 or unix seconds,
//! phone numbers with or without `+`). Pure.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value};

use crate::delivery::DeliveryStatus;

/// Why a callback body could not be read; the endpoint answers 400 (the provider's request is
/// wrong, and retrying it would not help).
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// The body is not JSON.
    #[error("the body is not JSON")]
    Json(#[source] serde_json::Error),
    /// The body is JSON but not an object, or a part that must be one is not.
    #[error("{0} is not a JSON object")]
    NotObject(&'static str),
    /// A field the event needs is missing or empty.
    #[error("the {0} field is missing")]
    Missing(&'static str),
    /// A status word no mapping knows.
    #[error("unknown status {0:?}")]
    UnknownStatus(String),
}

/// A delivery status word of either provider, any case: `Some` for delivery news, `None` for
/// a word that only says the provider is still on it (`sent`, `accepted`, …), an error for a
/// word nobody knows. seven's SMS words (`DELIVERED`, `NOTDELIVERED`, `REJECTED`, `EXPIRED`,
/// `FAILED`) and Bird's (`delivery_failed`, `sending_failed`, `processing`, …) share the map,
/// since no word means one thing to one provider and another to the other.
pub(crate) fn status_word(word: &str) -> Result<Option<DeliveryStatus>, CallbackError> {
    let status = match word.trim().to_ascii_lowercase().as_str() {
        "delivered" => DeliveryStatus::Delivered,
        "read" | "seen" => DeliveryStatus::Read,
        "failed" | "notdelivered" | "not_delivered" | "undelivered" | "rejected" | "expired"
        | "delivery_failed" | "sending_failed" => DeliveryStatus::Failed,
        "sent" | "accepted" | "buffered" | "transmitted" | "queued" | "pending" | "submitted"
        | "scheduled" | "processing" | "sending" | "skipped" | "deleted" => return Ok(None),
        _ => return Err(CallbackError::UnknownStatus(word.to_string())),
    };
    Ok(Some(status))
}

/// The body as a JSON object.
pub(crate) fn object(body: &[u8]) -> Result<Map<String, Value>, CallbackError> {
    match serde_json::from_slice(body).map_err(CallbackError::Json)? {
        Value::Object(map) => Ok(map),
        _ => Err(CallbackError::NotObject("the body")),
    }
}

/// A field as text: a non-empty string (trimmed) or a number, as ids and codes come both ways.
pub(crate) fn text(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The first of `keys` that holds text.
pub(crate) fn first_text(map: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|key| text(map, key))
}

/// A field as a number: a JSON number or a numeric string (prices come both ways).
pub(crate) fn number(map: &Map<String, Value>, key: &str) -> Option<f64> {
    match map.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n: &f64| n.is_finite())
}

/// A field that must be an object, if present.
pub(crate) fn child<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Map<String, Value>> {
    map.get(key)?.as_object()
}

/// A time field: RFC 3339, unix seconds (or milliseconds) as a number or string, or
/// `YYYY-MM-DD HH:MM:SS` read as UTC. `None` when absent or unreadable: the caller falls back
/// to when the callback arrived, since a time is no reason to lose a callback.
pub(crate) fn time(map: &Map<String, Value>, key: &str) -> Option<DateTime<Utc>> {
    let text = text(map, key)?;
    if let Ok(at) = DateTime::parse_from_rfc3339(&text) {
        return Some(at.with_timezone(&Utc));
    }
    if let Ok(number) = text.parse::<i64>() {
        // Milliseconds have 13 digits in this century, seconds 10.
        return if number > 100_000_000_000 {
            DateTime::from_timestamp_millis(number)
        } else {
            DateTime::from_timestamp(number, 0)
        };
    }
    NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|at| at.and_utc())
}

/// A recipient as the reply index keys it: a phone number's digits without `+`, spaces or
/// dashes; anything else (a business-scoped user id) as it is.
pub(crate) fn address(text: &str) -> String {
    let text = text.trim();
    let phone_like = text
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')'));
    if phone_like {
        text.chars().filter(char::is_ascii_digit).collect()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn status_words_of_both_providers_in_any_case() {
        use DeliveryStatus::*;
        let check = |word: &str, expect: Option<DeliveryStatus>| {
            assert_eq!(status_word(word).unwrap(), expect, "{word:?}");
        };
        check("delivered", Some(Delivered));
        check("DELIVERED", Some(Delivered));
        check("Read", Some(Read));
        for failed in [
            "failed",
            "FAILED",
            "NOTDELIVERED",
            "REJECTED",
            "EXPIRED",
            "delivery_failed",
            "sending_failed",
        ] {
            check(failed, Some(Failed));
        }
        for news_of_nothing in ["sent", "accepted", "BUFFERED", "TRANSMITTED", "processing"] {
            check(news_of_nothing, None);
        }
        assert!(matches!(
            status_word("teleported"),
            Err(CallbackError::UnknownStatus(word)) if word == "teleported"
        ));
    }

    #[test]
    fn times_are_read_in_every_spelling() {
        let at = |value: Value| {
            let map = json!({ "t": value });
            time(map.as_object().unwrap(), "t").map(|t| t.to_rfc3339())
        };
        let expected = Some("2024-12-04T08:13:20+00:00".to_string());
        assert_eq!(at(json!("2024-12-04T08:13:20Z")), expected);
        assert_eq!(at(json!("2024-12-04T09:13:20+01:00")), expected);
        assert_eq!(at(json!("2024-12-04T08:13:20.000Z")), expected);
        assert_eq!(at(json!(1_733_300_000)), expected);
        assert_eq!(at(json!("1733300000")), expected);
        assert_eq!(at(json!(1_733_300_000_000_i64)), expected);
        assert_eq!(at(json!("2024-12-04 08:13:20")), expected);
        assert_eq!(at(json!("yesterday")), None);
        assert_eq!(at(json!(null)), None);
    }

    #[test]
    fn addresses_are_digits_unless_they_are_user_ids() {
        assert_eq!(address("+49 170 1234567"), "491701234567");
        assert_eq!(address("491701234567"), "491701234567");
        assert_eq!(
            address(" US.13491208655302741918 "),
            "US.13491208655302741918"
        );
    }

    #[test]
    fn ids_and_prices_come_as_strings_or_numbers() {
        let map = json!({"a": "x1", "b": 77, "c": "  ", "p": "0.0821", "q": 0.5, "r": "free"});
        let map = map.as_object().unwrap();
        assert_eq!(text(map, "a").as_deref(), Some("x1"));
        assert_eq!(text(map, "b").as_deref(), Some("77"));
        assert_eq!(text(map, "c"), None);
        assert_eq!(
            first_text(map, &["c", "missing", "b"]).as_deref(),
            Some("77")
        );
        assert_eq!(number(map, "p"), Some(0.0821));
        assert_eq!(number(map, "q"), Some(0.5));
        assert_eq!(number(map, "r"), None);
    }
}
