//! seven's webhook payloads → [`Callback`]s. seven documents an envelope, `{"webhook_event",
//! "webhook_timestamp", "data": {…}}`, and warns that the exact shape may vary, so both the
//! enveloped and a flat shape (`event`, fields at the top) are read: status reports
//! (`whatsapp_status`, and the SMS `dlr` event: `msg_id` or `id`, our `foreign_id` wherever it
//! is, `status` in any case including the SMS words, `timestamp`, `error_code`, `error`,
//! `price`) and inbound messages (`wa_mo`: `from`, `to`, `timestamp`, `message.type`,
//! `message.text`). Other events are no delivery news of ours and give nothing. Pure.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::campaign::ProviderKind;
use crate::delivery::{Callback, Inbound, MessageMatch, StatusReport, parse_reference};
use crate::provider::callback::{
    CallbackError, address, child, first_text, number, object, status_word, text, time,
};

/// Events that report a sent message's status.
const STATUS_EVENTS: [&str; 4] = ["whatsapp_status", "wa_status", "whatsapp_dlr", "dlr"];
/// Events that carry a message a recipient wrote.
const INBOUND_EVENTS: [&str; 3] = ["wa_mo", "whatsapp_mo", "whatsapp_inbound"];

/// Reads one seven webhook body. A status that is no delivery news (`sent`, `accepted`, …) and
/// events other than status reports and inbound messages give an empty list.
pub fn parse(body: &[u8], received_at: DateTime<Utc>) -> Result<Vec<Callback>, CallbackError> {
    let root = object(body)?;
    let event = first_text(&root, &["webhook_event", "event"]).map(|e| e.to_ascii_lowercase());
    let data = match root.get("data") {
        Some(Value::Object(data)) => data,
        Some(_) => return Err(CallbackError::NotObject("data")),
        None => &root,
    };
    // When the event has no time of its own, the envelope's is the next best.
    let sent_at = time(&root, "webhook_timestamp").unwrap_or(received_at);
    let callback = match event.as_deref() {
        Some(event) if STATUS_EVENTS.contains(&event) => status(&root, data, sent_at)?,
        Some(event) if INBOUND_EVENTS.contains(&event) => Some(inbound(data, sent_at)?),
        Some(_) => None,
        None if data.contains_key("status") => status(&root, data, sent_at)?,
        None if data.contains_key("message") => Some(inbound(data, sent_at)?),
        None => return Err(CallbackError::Missing("webhook_event")),
    };
    Ok(callback.into_iter().collect())
}

fn status(
    root: &Map<String, Value>,
    data: &Map<String, Value>,
    sent_at: DateTime<Utc>,
) -> Result<Option<Callback>, CallbackError> {
    let word = text(data, "status").ok_or(CallbackError::Missing("status"))?;
    let Some(status) = status_word(&word)? else {
        return Ok(None);
    };
    let reference = text(data, "foreign_id")
        .or_else(|| text(root, "foreign_id"))
        .and_then(|id| parse_reference(&id));
    let provider_id = first_text(data, &["msg_id", "id"]);
    if reference.is_none() && provider_id.is_none() {
        return Err(CallbackError::Missing("msg_id"));
    }
    let (error_code, error) = failure(data);
    Ok(Some(Callback::Status(StatusReport {
        provider: ProviderKind::Seven,
        message: MessageMatch {
            reference,
            provider_id,
        },
        status,
        at: time(data, "timestamp").unwrap_or(sent_at),
        error_code,
        error,
        price: number(data, "price"),
    })))
}

/// WhatsApp's error code and text: `error_code` and `error` as documented, an `error` object,
/// or Meta's own `errors` list passed through.
fn failure(data: &Map<String, Value>) -> (Option<String>, Option<String>) {
    let nested = child(data, "error").or_else(|| {
        data.get("errors")
            .and_then(Value::as_array)
            .and_then(|errors| errors.first())
            .and_then(Value::as_object)
    });
    let code = text(data, "error_code").or_else(|| nested.and_then(|e| text(e, "code")));
    let description = first_text(data, &["error", "error_message", "error_description"])
        .or_else(|| nested.and_then(|e| first_text(e, &["message", "title", "description"])));
    (code, description)
}

fn inbound(data: &Map<String, Value>, sent_at: DateTime<Utc>) -> Result<Callback, CallbackError> {
    let from = text(data, "from").ok_or(CallbackError::Missing("from"))?;
    let to = text(data, "to").ok_or(CallbackError::Missing("to"))?;
    let message_text = match data.get("message") {
        Some(Value::Object(message)) => text(message, "text")
            .or_else(|| child(message, "text").and_then(|t| text(t, "body")))
            .or_else(|| text(message, "body")),
        Some(Value::String(message)) => Some(message.clone()),
        _ => None,
    }
    .or_else(|| text(data, "text"));
    Ok(Callback::Inbound(Inbound {
        provider: ProviderKind::Seven,
        sender: address(&to),
        from: address(&from),
        text: message_text,
        at: time(data, "timestamp").unwrap_or(sent_at),
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::campaign::CampaignId;
    use crate::delivery::DeliveryStatus;

    fn received() -> DateTime<Utc> {
        "2026-12-04T12:00:00Z".parse().unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn check(body: Value, expect: Vec<Callback>) {
        let parsed = parse(body.to_string().as_bytes(), received())
            .unwrap_or_else(|e| panic!("{body}: {e}"));
        assert_eq!(parsed, expect, "{body}");
    }

    fn report(
        reference: Option<(&str, u64)>,
        provider_id: Option<&str>,
        status: DeliveryStatus,
        at: DateTime<Utc>,
    ) -> StatusReport {
        StatusReport {
            provider: ProviderKind::Seven,
            message: MessageMatch {
                reference: reference.map(|(c, row)| (CampaignId::parse(c).unwrap(), row)),
                provider_id: provider_id.map(str::to_string),
            },
            status,
            at,
            error_code: None,
            error: None,
            price: None,
        }
    }

    #[test]
    fn status_reports_in_every_shape() {
        use DeliveryStatus::*;
        let time = at("2026-12-04T10:00:00Z");
        check(
            json!({"webhook_event": "whatsapp_status", "webhook_timestamp": 1_733_300_000,
                   "data": {"msg_id": "77", "foreign_id": "spring.42", "status": "delivered",
                            "timestamp": "2026-12-04T10:00:00Z"}}),
            vec![Callback::Status(report(
                Some(("spring", 42)),
                Some("77"),
                Delivered,
                time,
            ))],
        );
        // Flat, `id` instead of `msg_id`, a number, the status in capitals.
        check(
            json!({"event": "whatsapp_status", "id": 77, "status": "READ",
                   "timestamp": "2026-12-04T10:00:00Z"}),
            vec![Callback::Status(report(None, Some("77"), Read, time))],
        );
        // The SMS `dlr` event and its words; the envelope's time when the data has none.
        check(
            json!({"webhook_event": "dlr", "webhook_timestamp": 1_733_300_000,
                   "data": {"msg_id": "78", "status": "NOTDELIVERED"}}),
            vec![Callback::Status(report(
                None,
                Some("78"),
                Failed,
                at("2024-12-04T08:13:20Z"),
            ))],
        );
        // No event at all, the foreign id at the top; no time anywhere: when it arrived.
        check(
            json!({"foreign_id": "spring.3", "data": {"status": "expired"}}),
            vec![Callback::Status(report(
                Some(("spring", 3)),
                None,
                Failed,
                received(),
            ))],
        );
        // Another system's foreign id is no reference, but the message id still matches.
        check(
            json!({"webhook_event": "whatsapp_status",
                   "data": {"msg_id": "79", "foreign_id": "order 12", "status": "delivered"}}),
            vec![Callback::Status(report(
                None,
                Some("79"),
                Delivered,
                received(),
            ))],
        );
    }

    #[test]
    fn a_late_failure_carries_its_code_reason_and_price() {
        let mut expect = report(
            Some(("spring", 9)),
            Some("80"),
            DeliveryStatus::Failed,
            at("2026-12-04T10:00:00Z"),
        );
        expect.error_code = Some("131049".into());
        expect.error =
            Some("This message was not delivered to maintain healthy ecosystem engagement.".into());
        expect.price = Some(0.0821);
        check(
            json!({"webhook_event": "whatsapp_status", "data": {"msg_id": "80",
                   "foreign_id": "spring.9", "status": "failed",
                   "timestamp": "2026-12-04T10:00:00Z", "error_code": "131049",
                   "error": "This message was not delivered to maintain healthy ecosystem engagement.",
                   "price": 0.0821}}),
            vec![Callback::Status(expect.clone())],
        );
        // Meta's own error list, the code a number.
        expect.price = None;
        check(
            json!({"webhook_event": "whatsapp_status", "data": {"msg_id": "80",
                   "foreign_id": "spring.9", "status": "failed",
                   "timestamp": "2026-12-04T10:00:00Z",
                   "errors": [{"code": 131049, "title": "This message was not delivered to maintain healthy ecosystem engagement."}]}}),
            vec![Callback::Status(expect)],
        );
    }

    #[test]
    fn inbound_messages_name_our_number_and_theirs() {
        let inbound = |text: Option<&str>| {
            Callback::Inbound(Inbound {
                provider: ProviderKind::Seven,
                sender: "4915112345678".into(),
                from: "491701234567".into(),
                text: text.map(str::to_string),
                at: at("2026-12-04T10:00:00Z"),
            })
        };
        check(
            json!({"webhook_event": "wa_mo", "webhook_timestamp": 1_733_300_000,
                   "data": {"id": "m1", "from": "491701234567", "to": "+4915112345678",
                            "timestamp": "2026-12-04T10:00:00Z",
                            "message": {"type": "text", "text": "STOP"}}}),
            vec![inbound(Some("STOP"))],
        );
        check(
            json!({"event": "wa_mo", "from": "+49 170 1234567", "to": "4915112345678",
                   "timestamp": 1_796_378_400, "message": {"type": "image"}}),
            vec![inbound(None)],
        );
    }

    #[test]
    fn news_of_nothing_and_other_events_give_nothing() {
        for body in [
            json!({"webhook_event": "whatsapp_status", "data": {"msg_id": "1", "status": "sent"}}),
            json!({"webhook_event": "dlr", "data": {"msg_id": "1", "status": "BUFFERED"}}),
            json!({"webhook_event": "dlr", "data": {"msg_id": "1", "status": "transmitted"}}),
            json!({"webhook_event": "voice_status", "data": {"id": "1"}}),
        ] {
            check(body, vec![]);
        }
    }

    #[test]
    fn what_does_not_parse_is_an_error() {
        let check_error = |body: &[u8], expect: &str| {
            let error = parse(body, received()).unwrap_err().to_string();
            assert_eq!(error, expect, "{}", String::from_utf8_lossy(body));
        };
        check_error(b"not json", "the body is not JSON");
        check_error(b"[1]", "the body is not a JSON object");
        check_error(
            br#"{"webhook_event":"dlr","data":7}"#,
            "data is not a JSON object",
        );
        check_error(
            br#"{"webhook_event":"dlr","data":{"msg_id":"1"}}"#,
            "the status field is missing",
        );
        check_error(
            br#"{"webhook_event":"dlr","data":{"status":"delivered"}}"#,
            "the msg_id field is missing",
        );
        check_error(
            br#"{"webhook_event":"dlr","data":{"msg_id":"1","status":"lost"}}"#,
            "unknown status \"lost\"",
        );
        check_error(
            br#"{"webhook_event":"wa_mo","data":{"to":"49151"}}"#,
            "the from field is missing",
        );
        check_error(
            br#"{"hello":"world"}"#,
            "the webhook_event field is missing",
        );
    }
}
