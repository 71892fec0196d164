//! Bird's webhook payloads → [`Callback`]s: `{"service": "channels", "event": …, "payload":
//! {…}}` with the events `whatsapp.outbound` (a sent message's status: `id`, `reference`,
//! `status`, `lastStatusAt`, a `failure` with WhatsApp's code and description, a `price`),
//! `whatsapp.interaction` (`messageId`, `type`: `delivered` or `read`) and `whatsapp.inbound`
//! (the `channelId` written to, the `sender`'s contact, a text `body`). Other events, statuses
//! that are no delivery news and other interactions (clicks, reactions) give nothing. Pure.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::campaign::ProviderKind;
use crate::delivery::{
    Callback, DeliveryStatus, Inbound, MessageMatch, StatusReport, parse_reference,
};
use crate::provider::callback::{
    CallbackError, address, child, first_text, number, object, status_word, text, time,
};

/// Reads one Bird webhook body.
pub fn parse(body: &[u8], received_at: DateTime<Utc>) -> Result<Vec<Callback>, CallbackError> {
    let root = object(body)?;
    let event = text(&root, "event")
        .ok_or(CallbackError::Missing("event"))?
        .to_ascii_lowercase();
    let payload = match root.get("payload") {
        Some(Value::Object(payload)) => payload,
        Some(_) => return Err(CallbackError::NotObject("payload")),
        None => return Err(CallbackError::Missing("payload")),
    };
    let callback = if event.ends_with(".outbound") {
        outbound(payload, received_at)?
    } else if event.ends_with(".interaction") {
        interaction(payload, received_at)?
    } else if event.ends_with(".inbound") {
        Some(inbound(payload, received_at)?)
    } else {
        None
    };
    Ok(callback.into_iter().collect())
}

fn outbound(
    payload: &Map<String, Value>,
    received_at: DateTime<Utc>,
) -> Result<Option<Callback>, CallbackError> {
    let word = text(payload, "status").ok_or(CallbackError::Missing("status"))?;
    let Some(status) = status_word(&word)? else {
        return Ok(None);
    };
    let reference = text(payload, "reference").and_then(|r| parse_reference(&r));
    let provider_id = text(payload, "id");
    if reference.is_none() && provider_id.is_none() {
        return Err(CallbackError::Missing("id"));
    }
    let failure = child(payload, "failure");
    // WhatsApp's code is the failure's own, or its source's when Bird wraps it in its own.
    let error_code = failure
        .and_then(|f| text(f, "code").or_else(|| child(f, "source").and_then(|s| text(s, "code"))));
    let error = failure.and_then(|f| first_text(f, &["description", "message"]));
    let at = ["lastStatusAt", "updatedAt", "createdAt"]
        .iter()
        .find_map(|key| time(payload, key))
        .unwrap_or(received_at);
    Ok(Some(Callback::Status(StatusReport {
        provider: ProviderKind::Bird,
        message: MessageMatch {
            reference,
            provider_id,
        },
        status,
        at,
        error_code,
        error,
        price: child(payload, "price").and_then(price),
    })))
}

/// A price's amount, scaled by its `exponent` when Bird gives one (an amount in micros).
fn price(price: &Map<String, Value>) -> Option<f64> {
    let amount = number(price, "amount")?;
    let exponent = number(price, "exponent").unwrap_or(0.0);
    Some(amount / 10f64.powf(exponent))
}

fn interaction(
    payload: &Map<String, Value>,
    received_at: DateTime<Utc>,
) -> Result<Option<Callback>, CallbackError> {
    let provider_id = text(payload, "messageId").ok_or(CallbackError::Missing("messageId"))?;
    let word = text(payload, "type").ok_or(CallbackError::Missing("type"))?;
    // Only a delivery or a read is delivery news; clicks and reactions are not ours to record.
    let status = match status_word(&word) {
        Ok(Some(status @ (DeliveryStatus::Delivered | DeliveryStatus::Read))) => status,
        _ => return Ok(None),
    };
    Ok(Some(Callback::Status(StatusReport {
        provider: ProviderKind::Bird,
        message: MessageMatch {
            reference: None,
            provider_id: Some(provider_id),
        },
        status,
        at: time(payload, "createdAt").unwrap_or(received_at),
        error_code: None,
        error: None,
        price: None,
    })))
}

fn inbound(
    payload: &Map<String, Value>,
    received_at: DateTime<Utc>,
) -> Result<Callback, CallbackError> {
    let channel = text(payload, "channelId").ok_or(CallbackError::Missing("channelId"))?;
    let contact = child(payload, "sender").and_then(|sender| child(sender, "contact"));
    let from = contact
        .and_then(|contact| first_text(contact, &["identifierValue", "platformAddress"]))
        .ok_or(CallbackError::Missing("sender.contact.identifierValue"))?;
    let body_text = child(payload, "body").and_then(|body| {
        child(body, "text")
            .and_then(|t| text(t, "text"))
            .or_else(|| text(body, "text"))
    });
    Ok(Callback::Inbound(Inbound {
        provider: ProviderKind::Bird,
        sender: channel,
        from: address(&from),
        text: body_text,
        at: time(payload, "createdAt").unwrap_or(received_at),
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::campaign::CampaignId;

    const MESSAGE: &str = "0f5a1f0e-1b7c-4d2e-9a53-5c1d2b7e8f90";
    const CHANNEL: &str = "8e1c4c3b-5f0e-4c65-9b5e-1f2a3b4c5d6e";

    fn received() -> DateTime<Utc> {
        "2026-12-04T12:00:00Z".parse().unwrap()
    }

    fn at() -> DateTime<Utc> {
        "2026-12-04T10:00:00Z".parse().unwrap()
    }

    fn check(body: Value, expect: Vec<Callback>) {
        let parsed = parse(body.to_string().as_bytes(), received())
            .unwrap_or_else(|e| panic!("{body}: {e}"));
        assert_eq!(parsed, expect, "{body}");
    }

    fn report(reference: Option<u64>, status: DeliveryStatus, at: DateTime<Utc>) -> StatusReport {
        StatusReport {
            provider: ProviderKind::Bird,
            message: MessageMatch {
                reference: reference.map(|row| (CampaignId::parse("spring").unwrap(), row)),
                provider_id: Some(MESSAGE.into()),
            },
            status,
            at,
            error_code: None,
            error: None,
            price: None,
        }
    }

    fn outbound(payload: Value) -> Value {
        json!({"service": "channels", "event": "whatsapp.outbound", "payload": payload})
    }

    #[test]
    fn outbound_statuses() {
        use DeliveryStatus::*;
        check(
            outbound(
                json!({"id": MESSAGE, "channelId": CHANNEL, "status": "delivered",
                            "reference": "spring.42", "lastStatusAt": "2026-12-04T10:00:00.000Z"}),
            ),
            vec![Callback::Status(report(Some(42), Delivered, at()))],
        );
        check(
            outbound(json!({"id": MESSAGE, "status": "READ", "reference": "not ours"})),
            vec![Callback::Status(report(None, Read, received()))],
        );
        let mut failed = report(Some(7), Failed, at());
        failed.error_code = Some("131050".into());
        failed.error = Some("User stopped marketing messages".into());
        failed.price = Some(0.0821);
        check(
            outbound(
                json!({"id": MESSAGE, "status": "failed", "reference": "spring.7",
                            "lastStatusAt": "2026-12-04T10:00:00.000Z",
                            "failure": {"code": 131050, "description": "User stopped marketing messages"},
                            "price": {"amount": 0.0821, "currencyCode": "EUR"}}),
            ),
            vec![Callback::Status(failed.clone())],
        );
        // Bird's own failure wrapping WhatsApp's code, a price in micros.
        check(
            outbound(
                json!({"id": MESSAGE, "status": "delivery_failed", "reference": "spring.7",
                            "lastStatusAt": "2026-12-04T10:00:00.000Z",
                            "failure": {"description": "User stopped marketing messages",
                                        "source": {"code": "131050"}},
                            "price": {"amount": 82100, "exponent": 6, "currencyCode": "EUR"}}),
            ),
            vec![Callback::Status(failed)],
        );
    }

    #[test]
    fn interactions_report_deliveries_and_reads() {
        let interaction = |kind: &str| {
            json!({"service": "channels", "event": "whatsapp.interaction",
                   "payload": {"id": "i1", "messageId": MESSAGE, "channelId": CHANNEL,
                               "type": kind, "createdAt": "2026-12-04T10:00:00.000Z"}})
        };
        check(
            interaction("read"),
            vec![Callback::Status(report(None, DeliveryStatus::Read, at()))],
        );
        check(
            interaction("delivered"),
            vec![Callback::Status(report(
                None,
                DeliveryStatus::Delivered,
                at(),
            ))],
        );
        check(interaction("clicked"), vec![]);
    }

    #[test]
    fn inbound_messages_name_the_channel_and_the_writer() {
        let inbound = |body: Value| {
            json!({"service": "channels", "event": "whatsapp.inbound",
                   "payload": {"id": "i2", "channelId": CHANNEL,
                               "sender": {"contact": {"identifierKey": "phonenumber",
                                                      "identifierValue": "+491701234567"}},
                               "body": body, "createdAt": "2026-12-04T10:00:00.000Z"}})
        };
        let expect = |text: Option<&str>| {
            vec![Callback::Inbound(Inbound {
                provider: ProviderKind::Bird,
                sender: CHANNEL.into(),
                from: "491701234567".into(),
                text: text.map(str::to_string),
                at: at(),
            })]
        };
        check(
            inbound(json!({"type": "text", "text": {"text": "STOP"}})),
            expect(Some("STOP")),
        );
        check(
            inbound(json!({"type": "image", "image": {"images": []}})),
            expect(None),
        );
    }

    #[test]
    fn news_of_nothing_and_other_events_give_nothing() {
        for body in [
            outbound(json!({"id": MESSAGE, "status": "accepted"})),
            outbound(json!({"id": MESSAGE, "status": "sent"})),
            json!({"service": "channels", "event": "conversation.created", "payload": {}}),
        ] {
            check(body, vec![]);
        }
    }

    #[test]
    fn what_does_not_parse_is_an_error() {
        let check_error = |body: Value, expect: &str| {
            let error = parse(body.to_string().as_bytes(), received())
                .unwrap_err()
                .to_string();
            assert_eq!(error, expect, "{body}");
        };
        check_error(json!({"payload": {}}), "the event field is missing");
        check_error(
            json!({"event": "whatsapp.outbound"}),
            "the payload field is missing",
        );
        check_error(
            json!({"event": "whatsapp.outbound", "payload": []}),
            "payload is not a JSON object",
        );
        check_error(
            outbound(json!({"status": "delivered"})),
            "the id field is missing",
        );
        check_error(
            outbound(json!({"id": MESSAGE, "status": "lost"})),
            "unknown status \"lost\"",
        );
        check_error(
            json!({"event": "whatsapp.interaction", "payload": {"type": "read"}}),
            "the messageId field is missing",
        );
        check_error(
            json!({"event": "whatsapp.inbound", "payload": {"channelId": CHANNEL}}),
            "the sender.contact.identifierValue field is missing",
        );
        assert!(parse(b"{", received()).is_err());
    }
}
