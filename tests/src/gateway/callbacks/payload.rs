//! The callback bodies, in each provider's shape (BRIEF14's, from seven's and Bird's webhook
//! documentation):
//!
//! - seven, status: `{"webhook_event": "whatsapp_status", "webhook_timestamp", "data": {"msg_id",
//!   "foreign_id", "status", "timestamp", "error_code"?, "error"?, "price"?}}`; inbound:
//!   `{"webhook_event": "wa_mo", …, "data": {"id", "from", "to", "timestamp", "message": {"type":
//!   "text", "text"}}}`.
//! - Bird, status: `{"service": "channels", "event": "whatsapp.outbound", "payload": {"id",
//!   "channelId", "status", "reference", "lastStatusAt", "failure"?, "price"?}}`; a read as an
//!   interaction (`"event": "whatsapp.interaction"`, `payload.messageId`, `type: "read"`: no
//!   reference, so it is matched by Bird's message id); inbound: `whatsapp.inbound` with
//!   `payload.sender.contact.identifierValue` and `body.text.text`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::gateway::journal::Provider;

/// What a reply that is not an opt-out says.
pub const REPLY_TEXT: &str = "Danke, klingt gut!";
/// What an opt-out reply says.
pub const STOP_TEXT: &str = "STOP";

/// A message the mock accepted, as its callbacks name it.
#[derive(Debug, Clone)]
pub struct AcceptedMessage {
    /// Which endpoint accepted it.
    pub provider: Provider,
    /// The provider's id of it (seven's number, Bird's UUID).
    pub id: String,
    /// Our side: seven's `from` digits, Bird's channel id.
    pub sender: String,
    /// The recipient's digits.
    pub to: String,
    /// seven's `foreign_id` or Bird's `reference`.
    pub reference: Option<String>,
}

/// One thing a callback reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The message reached the phone.
    Delivered,
    /// The recipient read it.
    Read,
    /// It failed late with this WhatsApp code.
    Failed(String),
    /// The recipient wrote back; `true` when the text is `STOP`.
    Reply {
        /// The reply is an opt-out.
        stop: bool,
    },
}

impl Event {
    /// The name `/stats` counts it under.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Delivered => "delivered",
            Event::Read => "read",
            Event::Failed(_) => "failed",
            Event::Reply { stop: false } => "reply",
            Event::Reply { stop: true } => "stop",
        }
    }
}

/// WhatsApp's description of a late failure code.
pub fn failure_text(code: &str) -> &'static str {
    match code {
        "131049" => "This message was not delivered to maintain healthy ecosystem engagement.",
        "131050" => {
            "Unable to deliver the message. This recipient has chosen to stop receiving \
             marketing messages on WhatsApp from your business."
        }
        "131026" => "Message undeliverable.",
        "130472" => "User's number is part of an experiment.",
        _ => "Message failed to send.",
    }
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A UUID for the mock's event number `n`, distinct from its message UUIDs.
fn event_uuid(n: u64) -> String {
    format!("00000000-0000-4000-9000-{n:012x}")
}

/// The body of one callback about `message`; `event_id` numbers the callback (inbound message
/// and interaction ids), `price` is the final price of a `delivered`.
pub fn body(
    message: &AcceptedMessage,
    event: &Event,
    at: DateTime<Utc>,
    event_id: u64,
    price: Option<f64>,
) -> Vec<u8> {
    let value = match message.provider {
        Provider::Seven => seven(message, event, at, event_id, price),
        Provider::Bird => bird(message, event, at, event_id, price),
    };
    serde_json::to_vec(&value).expect("a JSON value serialises")
}

fn reply_text(stop: bool) -> &'static str {
    if stop { STOP_TEXT } else { REPLY_TEXT }
}

fn seven(
    message: &AcceptedMessage,
    event: &Event,
    at: DateTime<Utc>,
    event_id: u64,
    price: Option<f64>,
) -> Value {
    let (name, mut data) = match event {
        Event::Reply { stop } => (
            "wa_mo",
            json!({
                "id": format!("mo-{event_id}"),
                "from": message.to,
                "to": message.sender,
                "timestamp": rfc3339(at),
                "message": {"type": "text", "text": reply_text(*stop)},
            }),
        ),
        status => {
            let mut data = json!({
                "msg_id": message.id,
                "status": status.kind(),
                "timestamp": rfc3339(at),
            });
            if let Some(reference) = &message.reference {
                data["foreign_id"] = json!(reference);
            }
            ("whatsapp_status", data)
        }
    };
    match event {
        Event::Failed(code) => {
            data["error_code"] = json!(code);
            data["error"] = json!(failure_text(code));
        }
        Event::Delivered => {
            if let Some(price) = price {
                data["price"] = json!(price);
            }
        }
        _ => {}
    }
    json!({"webhook_event": name, "webhook_timestamp": at.timestamp(), "data": data})
}

fn bird(
    message: &AcceptedMessage,
    event: &Event,
    at: DateTime<Utc>,
    event_id: u64,
    price: Option<f64>,
) -> Value {
    let (name, payload) = match event {
        Event::Read => (
            "whatsapp.interaction",
            json!({
                "id": event_uuid(event_id),
                "messageId": message.id,
                "channelId": message.sender,
                "type": "read",
                "createdAt": rfc3339(at),
            }),
        ),
        Event::Reply { stop } => (
            "whatsapp.inbound",
            json!({
                "id": event_uuid(event_id),
                "channelId": message.sender,
                "sender": {"contact": {
                    "identifierKey": "phonenumber",
                    "identifierValue": format!("+{}", message.to),
                }},
                "body": {"type": "text", "text": {"text": reply_text(*stop)}},
                "createdAt": rfc3339(at),
            }),
        ),
        status => {
            let mut payload = json!({
                "id": message.id,
                "channelId": message.sender,
                "status": status.kind(),
                "reference": message.reference.as_deref().unwrap_or_default(),
                "lastStatusAt": rfc3339(at),
            });
            if let Event::Failed(code) = status {
                payload["failure"] = json!({
                    "code": code.parse::<u64>().map_or_else(|_| json!(code), Value::from),
                    "description": failure_text(code),
                });
            }
            if let (Event::Delivered, Some(price)) = (status, price) {
                payload["price"] = json!({"amount": price, "currencyCode": "EUR"});
            }
            ("whatsapp.outbound", payload)
        }
    };
    json!({"service": "channels", "event": name, "payload": payload})
}
