//! The seven client against real HTTP: every seed example on the wire, every class of answer,
//! every validation refusal, and the API key kept secret.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};
use wacast_shared::provider::outcome::{Outcome, Sent};
use wacast_shared::provider::seven::message::{
    ButtonMessage, ButtonParameter, Components, Contact, ContactName, ContactPhone, Contacts,
    Conversation, Delay, Document, Event, Link, ListMessage, ListRow, ListSection, Location, Media,
    MessageBody, PhoneKind, Reaction, ReplyButton, SendOptions, SevenMessage, Template,
    TemplateButton, TemplateButtonKind, Text,
};
use wacast_shared::provider::seven::{Deletion, SevenClient, SevenConfig};
use wacast_shared::provider::validate::{Valid, Validate, ValidationError};
use wacast_shared::provider::{ClientError, http_client};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::classify::{
    Endpoint, Setup, Want, answer, case, check_every_answer, http_date, transport_cases,
};

const KEY: &str = "sk-test-7f3a9c2e5b1d";
const FROM: &str = "4915112345678";
const TO: &str = "4917612345678";

fn config(base_url: &str, timeout: Duration, connect_timeout: Duration) -> SevenConfig {
    SevenConfig {
        base_url: base_url.parse().unwrap(),
        api_key: SecretString::from(KEY.to_string()),
        timeout,
        connect_timeout,
    }
}

fn client(base_url: &str) -> SevenClient {
    SevenClient::new(&config(
        base_url,
        Duration::from_secs(5),
        Duration::from_secs(1),
    ))
    .unwrap()
}

fn message(body: MessageBody) -> SevenMessage {
    SevenMessage {
        from: FROM.into(),
        to: TO.into(),
        body,
        options: SendOptions::default(),
    }
}

/// `message` through wacast's checks, as every message is before it is sent.
fn valid<T: Validate>(message: T) -> Valid<T> {
    Valid::new(message).expect("the message passes wacast's checks")
}

/// seven's answer to the seed's template example.
fn accepted() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "success": "100",
        "total_price": 0.0735,
        "balance": 123.45,
        "debug": "false",
        "sms_type": "WA",
        "messages": [{
            "id": "12345678",
            "sender": FROM,
            "recipient": TO,
            "text": "{\"type\":\"template\",\"template\":\"hello_world\",\"language\":\"de\",\"rendered\":{\"body\":\"Hallo Welt!\"}}",
            "encoding": "gsm",
            "label": null,
            "parts": 1,
            "udh": null,
            "is_binary": false,
            "price": 0.0735,
            "channel": "WA",
            "success": true,
            "error": null,
            "error_text": null
        }]
    }))
}

/// Sends `message` to a mock that accepts it once, and checks that the body on the wire is
/// exactly the seed's `example`, with the key and content type, and that the example reads
/// back into the same typed message and serialises back unchanged.
async fn check_sends(message: SevenMessage, example: Value) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/waba/messages"))
        .and(header("x-api-key", KEY))
        .and(header("content-type", "application/json"))
        .respond_with(accepted())
        .expect(1)
        .mount(&server)
        .await;

    let outcome = client(&server.uri()).send(&valid(message.clone())).await;

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "one request, got {requests:?}");
    let sent: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(
        sent, example,
        "the body on the wire differs from seven's example"
    );
    assert_eq!(
        outcome,
        Outcome::Done(Sent {
            provider_id: "12345678".into(),
            price: Some(0.0735)
        })
    );
    let parsed: SevenMessage = serde_json::from_value(example.clone()).unwrap();
    assert_eq!(
        parsed, message,
        "the example reads back into another message"
    );
    assert_eq!(serde_json::to_value(&parsed).unwrap(), example);
}

#[tokio::test]
async fn sends_the_template_example() {
    let body = MessageBody::Template(Template {
        template: "hello_world".into(),
        language: "de".into(),
        components: None,
    });
    check_sends(
        message(body),
        json!({
          "from": "4915112345678",
          "to": "4917612345678",
          "type": "template",
          "template": "hello_world",
          "language": "de"
        }),
    )
    .await;
}

#[tokio::test]
async fn sends_the_template_with_parameters_example() {
    let body = MessageBody::Template(Template {
        template: "order_confirmation".into(),
        language: "de".into(),
        components: Some(Components {
            header: None,
            body: Some(vec!["Max Mustermann".into(), "ORD-12345".into()]),
            buttons: Some(vec![TemplateButton::url("ORD-12345")]),
        }),
    });
    check_sends(
        message(body),
        json!({
          "from": "4915112345678",
          "to": "4917612345678",
          "type": "template",
          "template": "order_confirmation",
          "language": "de",
          "components": {
            "body": ["Max Mustermann", "ORD-12345"],
            "buttons": [
              {
                "type": "button",
                "sub_type": "url",
                "parameters": [{"type": "text", "text": "ORD-12345"}]
              }
            ]
          }
        }),
    )
    .await;
}

#[tokio::test]
async fn sends_the_header_body_buttons_components_example() {
    let body = MessageBody::Template(Template {
        template: "appointment_reminder".into(),
        language: "de".into(),
        components: Some(Components {
            header: Some(vec!["Appointment confirmation".into()]),
            body: Some(vec![
                "Max Mustermann".into(),
                "2026-02-15".into(),
                "2:00 PM".into(),
                "Dr. Smith".into(),
            ]),
            buttons: Some(vec![TemplateButton {
                kind: TemplateButtonKind::Button,
                sub_type: "url".into(),
                parameters: vec![ButtonParameter::Text {
                    text: "abc123".into(),
                }],
            }]),
        }),
    });
    check_sends(
        message(body),
        json!({
            "from": "4915112345678",
            "to": "4917612345678",
            "type": "template",
            "template": "appointment_reminder",
            "language": "de",
            "components": {
                "header": ["Appointment confirmation"],
                "body": ["Max Mustermann", "2026-02-15", "2:00 PM", "Dr. Smith"],
                "buttons": [
                    {
                        "type": "button",
                        "sub_type": "url",
                        "parameters": [{"type": "text", "text": "abc123"}]
                    }
                ]
            }
        }),
    )
    .await;
}

#[tokio::test]
async fn sends_the_image_header_body_components_example() {
    let body = MessageBody::Template(Template {
        template: "product_available".into(),
        language: "de".into(),
        components: Some(Components {
            header: Some(vec!["https://example.com/product.jpg".into()]),
            body: Some(vec!["Premium Widget".into()]),
            buttons: None,
        }),
    });
    check_sends(
        message(body),
        json!({
            "from": "4915112345678",
            "to": "4917612345678",
            "type": "template",
            "template": "product_available",
            "language": "de",
            "components": {
                "header": ["https://example.com/product.jpg"],
                "body": ["Premium Widget"]
            }
        }),
    )
    .await;
}

#[tokio::test]
async fn sends_the_freetext_example_without_a_type() {
    let body = MessageBody::Text(Text {
        text: "Thanks for your message, we will take care of it!".into(),
    });
    check_sends(
        message(body),
        json!({
          "from": "4915112345678",
          "to": "4917612345678",
          "text": "Thanks for your message, we will take care of it!"
        }),
    )
    .await;
}

#[tokio::test]
async fn sends_the_image_example() {
    let body = MessageBody::Image(Media {
        url: "https://example.com/photo.jpg".into(),
        caption: Some("Check out this image!".into()),
    });
    check_sends(
        message(body),
        json!({
          "from": "4915112345678",
          "to": "4917612345678",
          "type": "image",
          "url": "https://example.com/photo.jpg",
          "caption": "Check out this image!"
        }),
    )
    .await;
}

#[tokio::test]
async fn sends_the_video_example() {
    let body = MessageBody::Video(Media {
        url: "https://example.com/video.mp4".into(),
        caption: Some("Watch this video".into()),
    });
    check_sends(
        message(body),
        json!({
          "from": "4915112345678",
          "to": "4917612345678",
          "type": "video",
          "url": "https://example.com/video.mp4",
          "caption": "Watch this video"
        }),
    )
    .await;
}

#[tokio::test]
async fn sends_the_audio_example() {
    let body = MessageBody::Audio(Link {
        url: "https://example.com/audio.mp3".into(),
    });
    check_sends(
        message(body),
        json!({
          "from": "4915112345678",
          "to": "4917612345678",
          "type": "audio",
          "url": "https://example.com/audio.mp3"
        }),
    )
    .await;
}

#[tokio::test]
async fn sends_the_document_example() {
    let body = MessageBody::Document(Document {
        url: "https://example.com/invoice.pdf".into(),
        filename: "invoice.pdf".into(),
        caption: Some("Your invoice".into()),
    });
    check_sends(
        message(body),
        json!({
          "from": "4915112345678",
          "to": "4917612345678",
          "type": "document",
          "url": "https://example.com/invoice.pdf",
          "filename": "invoice.pdf",
          "caption": "Your invoice"
        }),
    )
    .await;
}

#[tokio::test]
async fn sends_the_sticker_example() {
    let body = MessageBody::Sticker(Link {
        url: "https://example.com/sticker.webp".into(),
    });
    check_sends(
        message(body),
        json!({
          "from": "4915112345678",
          "to": "4917612345678",
          "type": "sticker",
          "url": "https://example.com/sticker.webp"
        }),
    )
    .await;
}

#[tokio::test]
async fn sends_the_location_example() {
    let body = MessageBody::Location(Location {
        latitude: 48.8566,
        longitude: 2.3522,
        name: Some("Eiffel Tower".into()),
        address: Some("5 Avenue Anatole France, 75007 Paris".into()),
    });
    check_sends(
        message(body),
        json!({
          "from": "4915112345678",
          "to": "4917612345678",
          "type": "location",
          "latitude": 48.8566,
          "longitude": 2.3522,
          "name": "Eiffel Tower",
          "address": "5 Avenue Anatole France, 75007 Paris"
        }),
    )
    .await;
}

#[tokio::test]
async fn sends_the_contacts_example() {
    let body = MessageBody::Contacts(Contacts {
        contacts: vec![Contact {
            name: ContactName {
                first_name: "John".into(),
                last_name: Some("Doe".into()),
            },
            phones: vec![ContactPhone {
                phone: "+491234567890".into(),
                kind: Some(PhoneKind::Cell),
            }],
        }],
    });
    check_sends(
        message(body),
        json!({
          "from": "4915112345678",
          "to": "4917612345678",
          "type": "contacts",
          "contacts": [
            {
              "name": {"first_name": "John", "last_name": "Doe"},
              "phones": [{"phone": "+491234567890", "type": "cell"}]
            }
          ]
        }),
    )
    .await;
}

fn three_buttons() -> ButtonMessage {
    let button = |id: &str, title: &str| ReplyButton {
        id: id.into(),
        title: title.into(),
    };
    ButtonMessage {
        body: "How can we help you?".into(),
        header: Some("Support".into()),
        footer: Some("Tap a button to choose".into()),
        buttons: vec![
            button("btn_sales", "Sales"),
            button("btn_support", "Support"),
            button("btn_other", "Other"),
        ],
    }
}

#[tokio::test]
async fn sends_the_interactive_button_example() {
    check_sends(
        message(MessageBody::Buttons(three_buttons())),
        json!({
          "from": "4915112345678",
          "to": "4917612345678",
          "type": "interactive",
          "interactive_type": "button",
          "body": "How can we help you?",
          "header": "Support",
          "footer": "Tap a button to choose",
          "buttons": [
            {"id": "btn_sales", "title": "Sales"},
            {"id": "btn_support", "title": "Support"},
            {"id": "btn_other", "title": "Other"}
          ]
        }),
    )
    .await;
}

fn product_list() -> ListMessage {
    ListMessage {
        header: Some("Our Products".into()),
        body: "Browse our product categories:".into(),
        footer: Some("Select an option".into()),
        button_text: "View Options".into(),
        sections: vec![ListSection {
            title: "Electronics".into(),
            rows: vec![
                ListRow {
                    id: "phone_1".into(),
                    title: "Smartphones".into(),
                    description: Some("Latest models".into()),
                },
                ListRow {
                    id: "laptop_1".into(),
                    title: "Laptops".into(),
                    description: Some("Business & Gaming".into()),
                },
            ],
        }],
    }
}

#[tokio::test]
async fn sends_the_interactive_list_example() {
    check_sends(
        message(MessageBody::List(product_list())),
        json!({
          "from": "4915112345678",
          "to": "4917612345678",
          "type": "interactive",
          "interactive_type": "list",
          "header": "Our Products",
          "body": "Browse our product categories:",
          "footer": "Select an option",
          "button_text": "View Options",
          "sections": [
            {
              "title": "Electronics",
              "rows": [
                {"id": "phone_1", "title": "Smartphones", "description": "Latest models"},
                {"id": "laptop_1", "title": "Laptops", "description": "Business & Gaming"}
              ]
            }
          ]
        }),
    )
    .await;
}

#[tokio::test]
async fn sends_delivery_options_in_seven_s_types() {
    let mut msg = message(MessageBody::Text(Text { text: "Hi".into() }));
    msg.options = SendOptions {
        delay: Some(Delay::Unix(1_771_000_000)),
        ttl: Some(60),
        label: Some("spring-sale".into()),
        performance_tracking: Some(true),
        foreign_id: Some("spring-sale.17".into()),
    };
    check_sends(
        msg,
        json!({
            "from": FROM, "to": TO, "text": "Hi",
            "delay": "1771000000", "ttl": 60, "label": "spring-sale",
            "performance_tracking": true, "foreign_id": "spring-sale.17"
        }),
    )
    .await;
    let mut msg = message(MessageBody::Text(Text { text: "Hi".into() }));
    msg.options.delay = Some(Delay::At(
        chrono::NaiveDate::from_ymd_opt(2026, 2, 15)
            .unwrap()
            .and_hms_opt(14, 0, 0)
            .unwrap(),
    ));
    check_sends(
        msg,
        json!({"from": FROM, "to": TO, "text": "Hi", "delay": "2026-02-15 14:00:00"}),
    )
    .await;
}

#[tokio::test]
async fn reading_content_accepts_an_explicit_text_type_and_refuses_unknown_fields() {
    let explicit: SevenMessage =
        serde_json::from_value(json!({"from": FROM, "to": TO, "type": "text", "text": "Hi"}))
            .unwrap();
    assert_eq!(
        explicit,
        message(MessageBody::Text(Text { text: "Hi".into() }))
    );

    let check_refused = |content: Value, says: &str| {
        let err = serde_json::from_value::<SevenMessage>(content.clone()).unwrap_err();
        assert!(err.to_string().contains(says), "{content}: {err}");
    };
    check_refused(
        json!({"from": FROM, "to": TO, "type": "image", "url": "https://x.io/a.jpg", "captoin": "x"}),
        "unknown field `captoin`",
    );
    check_refused(
        json!({"from": FROM, "to": TO, "type": "imag", "url": "https://x.io/a.jpg"}),
        "unknown variant `imag`",
    );
    check_refused(
        json!({"from": FROM, "to": TO, "template": "hello_world", "language": "de"}),
        "no type and no text",
    );
    check_refused(
        json!({"from": FROM, "to": TO, "type": "interactive", "interactive_type": "carousel", "body": "x"}),
        "unknown variant `carousel`",
    );
    check_refused(
        json!({"from": FROM, "to": TO, "text": "Hi", "delay": "tomorrow"}),
        "YYYY-MM-DD hh:mm:ss",
    );
    check_refused(
        json!({"from": FROM, "to": TO, "type": "contacts", "contacts": [
            {"name": {"first_name": "A"}, "phones": [{"phone": "1", "type": "mobile"}]}]}),
        "unknown variant `mobile`",
    );
}

async fn check_event(event: Event, example: Value) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/waba/events"))
        .and(header("x-api-key", KEY))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"success": true})))
        .expect(1)
        .mount(&server)
        .await;

    let outcome = client(&server.uri())
        .send_event(&valid(event.clone()))
        .await;

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let sent: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(sent, example);
    assert_eq!(outcome, Outcome::Done(()));
    let parsed: Event = serde_json::from_value(example).unwrap();
    assert_eq!(parsed, event);
}

#[tokio::test]
async fn sends_the_read_receipt_example() {
    let event = Event::Read(Conversation {
        from: FROM.into(),
        to: Some(TO.into()),
        msg_id: None,
    });
    check_event(
        event,
        json!({"from": "4915112345678", "to": "4917612345678", "event": "read"}),
    )
    .await;
}

#[tokio::test]
async fn sends_the_typing_indicator_example() {
    let event = Event::IsTyping(Conversation {
        from: FROM.into(),
        to: Some(TO.into()),
        msg_id: None,
    });
    check_event(
        event,
        json!({"from": "4915112345678", "to": "4917612345678", "event": "is_typing"}),
    )
    .await;
}

#[tokio::test]
async fn sends_the_reaction_example() {
    let event = Event::Reaction(Reaction {
        msg_id: "123456789".into(),
        emoji: "👍".into(),
    });
    check_event(
        event,
        json!({"event": "reaction", "msg_id": "123456789", "emoji": "👍"}),
    )
    .await;
}

#[tokio::test]
async fn an_event_error_body_is_a_failure() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/waba/events"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "success": false, "error_code": 400, "error_message": "Invalid WhatsApp sender number"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let event = Event::Reaction(Reaction {
        msg_id: "123456789".into(),
        emoji: String::new(),
    });
    let outcome = client(&server.uri())
        .send_event(&valid(event.clone()))
        .await;
    let Outcome::Failed { code, reason } = outcome else {
        panic!("expected a failure, got {outcome:?}");
    };
    assert_eq!(code, "400");
    assert!(
        reason.contains("Invalid WhatsApp sender number"),
        "{reason}"
    );
}

#[tokio::test]
async fn deletes_a_scheduled_message_and_reads_each_of_seven_s_answers() {
    let server = MockServer::start().await;
    let answers = [
        ("11", ResponseTemplate::new(200).set_body_json(json!({"success": true}))),
        (
            "12",
            ResponseTemplate::new(400).set_body_json(json!({
                "error_code": 400,
                "error_message": "Message already sent. WhatsApp does not support message revocation."
            })),
        ),
        (
            "13",
            ResponseTemplate::new(404)
                .set_body_json(json!({"code": 404, "message": "Page not found", "errors": []})),
        ),
        ("14", ResponseTemplate::new(503)),
        ("15", ResponseTemplate::new(401)),
    ];
    for (id, answer) in answers {
        Mock::given(method("DELETE"))
            .and(path(format!("/api/waba/messages/{id}")))
            .and(header("x-api-key", KEY))
            .respond_with(answer)
            .expect(1)
            .mount(&server)
            .await;
    }
    let client = client(&server.uri());

    assert_eq!(client.delete("11").await, Outcome::Done(Deletion::Deleted));
    assert_eq!(
        client.delete("12").await,
        Outcome::Done(Deletion::AlreadySent {
            reason: "Message already sent. WhatsApp does not support message revocation.".into()
        })
    );
    assert_eq!(client.delete("13").await, Outcome::Done(Deletion::NotFound));
    assert!(matches!(client.delete("14").await, Outcome::Retry { .. }));
    assert!(matches!(client.delete("15").await, Outcome::Halt { .. }));
    assert!(matches!(
        client.delete(" ").await,
        Outcome::Failed { ref code, .. } if code == "invalid"
    ));
}

#[tokio::test]
async fn every_answer_is_classified_once_into_the_right_outcome() {
    let sent_but_refused = json!({"success": "100", "total_price": 0, "messages": [{
        "id": null, "success": false, "error": "202", "error_text": "Invalid recipient number"}]});
    let mut cases = vec![
        case(
            "100 and message success",
            Setup::Respond(accepted()),
            Want::Done(Sent {
                provider_id: "12345678".into(),
                price: Some(0.0735),
            }),
            &[],
        ),
        case(
            "100 but message refused",
            answer(200, sent_but_refused),
            Want::Failed("202"),
            &["Invalid recipient number"],
        ),
        case(
            "100 but message outside the window",
            answer(
                200,
                json!({"success": "100", "messages": [{"id": "1", "success": false, "error": 7002001, "error_text": "Not in conversation"}]}),
            ),
            Want::Failed("7002001"),
            &["no 24-hour conversation window is open", "template message"],
        ),
        case(
            "7002001 in a 200",
            answer(
                200,
                json!({"success": "7002001", "total_price": null, "messages": []}),
            ),
            Want::Failed("7002001"),
            &[
                "no 24-hour conversation window is open",
                "send a template message to start",
            ],
        ),
        case(
            "400 error body in a 200",
            answer(
                200,
                json!({"success": false, "error_code": 400, "error_message": "Invalid WhatsApp sender number"}),
            ),
            Want::Failed("400"),
            &["Invalid WhatsApp sender number"],
        ),
        case(
            "404 in a 200",
            answer(200, json!({"success": "404"})),
            Want::Failed("404"),
            &[],
        ),
        case(
            "900 in a 200",
            answer(200, json!({"success": "900"})),
            Want::Halt,
            &["authentication failed", "check the API key"],
        ),
        case(
            "902 in a 200",
            answer(200, json!({"success": 902})),
            Want::Halt,
            &["waba scope"],
        ),
        case(
            "900 as an error body",
            answer(
                200,
                json!({"error_code": 900, "error_message": "Authentication failed"}),
            ),
            Want::Halt,
            &["check the API key"],
        ),
        case(
            "HTTP 401",
            Setup::Respond(ResponseTemplate::new(401)),
            Want::Halt,
            &["HTTP 401", "API key"],
        ),
        case(
            "HTTP 403 with 902",
            answer(
                403,
                json!({"success": false, "error_code": 902, "error_message": "Missing scope"}),
            ),
            Want::Halt,
            &["waba scope", "Missing scope"],
        ),
        case(
            "HTTP 429 with Retry-After seconds",
            Setup::Respond(ResponseTemplate::new(429).insert_header("Retry-After", "7")),
            Want::Retry(Some((7, 7))),
            &["429"],
        ),
        case(
            "HTTP 429 with Retry-After date",
            Setup::Respond(
                ResponseTemplate::new(429).insert_header("Retry-After", http_date(30).as_str()),
            ),
            Want::Retry(Some((27, 30))),
            &["429"],
        ),
        case(
            "HTTP 429 without Retry-After",
            Setup::Respond(ResponseTemplate::new(429)),
            Want::Retry(None),
            &["429"],
        ),
        case(
            "HTTP 500",
            Setup::Respond(ResponseTemplate::new(500).set_body_string("boom")),
            Want::Retry(None),
            &["HTTP 500", "boom"],
        ),
        case(
            "HTTP 503 with Retry-After",
            Setup::Respond(ResponseTemplate::new(503).insert_header("Retry-After", "2")),
            Want::Retry(Some((2, 2))),
            &["HTTP 503"],
        ),
        case(
            "HTTP 408",
            Setup::Respond(ResponseTemplate::new(408)),
            Want::Retry(None),
            &["408"],
        ),
        case(
            "HTTP 400 with an error body",
            answer(
                400,
                json!({"error_code": 400, "error_message": "Invalid recipient"}),
            ),
            Want::Failed("400"),
            &["Invalid recipient"],
        ),
        case(
            "HTTP 404 page not found",
            answer(
                404,
                json!({"code": 404, "message": "Page not found", "errors": []}),
            ),
            Want::Failed("404"),
            &["Page not found"],
        ),
        case(
            "HTTP 422 plain text",
            Setup::Respond(ResponseTemplate::new(422).set_body_string("unprocessable")),
            Want::Failed("422"),
            &["HTTP 422", "unprocessable"],
        ),
        case(
            "HTTP 301 redirect",
            Setup::Respond(
                ResponseTemplate::new(301).insert_header("Location", "https://elsewhere.example/"),
            ),
            Want::Halt,
            &["redirect", "base URL"],
        ),
        case(
            "200 with HTML",
            Setup::Respond(ResponseTemplate::new(200).set_body_raw("<html>ok</html>", "text/html")),
            Want::Unknown,
            &["not seven's JSON", "<html>ok</html>"],
        ),
        case(
            "200 with an empty body",
            Setup::Respond(ResponseTemplate::new(200)),
            Want::Unknown,
            &["(empty)"],
        ),
        case(
            "200 with neither result nor error",
            answer(200, json!({"balance": 1.5})),
            Want::Unknown,
            &["may have accepted"],
        ),
    ];
    cases.extend(transport_cases(accepted()));
    let endpoint = Endpoint {
        path: "/api/waba/messages",
        key_header: ("x-api-key", KEY),
        key: KEY,
        body_ends: r#""text":"Hi"}"#,
    };
    check_every_answer(
        &endpoint,
        cases,
        |base_url, timeout, connect_timeout| {
            SevenClient::new(&config(base_url, timeout, connect_timeout)).unwrap()
        },
        async |client: &SevenClient| {
            client
                .send(&valid(message(MessageBody::Text(Text {
                    text: "Hi".into(),
                }))))
                .await
        },
    )
    .await;
}

#[tokio::test]
async fn messages_that_would_be_refused_make_no_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(accepted())
        .expect(0)
        .mount(&server)
        .await;
    let client = client(&server.uri());

    let text = |t: &str| message(MessageBody::Text(Text { text: t.into() }));
    let with = |f: &dyn Fn(&mut SevenMessage)| {
        let mut msg = text("Hi");
        f(&mut msg);
        msg
    };
    let template = |language: &str, name: &str, body: &[&str]| {
        message(MessageBody::Template(Template {
            template: name.into(),
            language: language.into(),
            components: Some(Components {
                header: None,
                body: Some(body.iter().map(|s| s.to_string()).collect()),
                buttons: None,
            }),
        }))
    };
    let buttons = |f: &dyn Fn(&mut ButtonMessage)| {
        let mut b = three_buttons();
        f(&mut b);
        message(MessageBody::Buttons(b))
    };
    let list = |f: &dyn Fn(&mut ListMessage)| {
        let mut l = product_list();
        f(&mut l);
        message(MessageBody::List(l))
    };
    let location = |latitude: f64, longitude: f64| {
        message(MessageBody::Location(Location {
            latitude,
            longitude,
            name: None,
            address: None,
        }))
    };
    let contact = |phones: Vec<ContactPhone>| {
        message(MessageBody::Contacts(Contacts {
            contacts: vec![Contact {
                name: ContactName {
                    first_name: "John".into(),
                    last_name: None,
                },
                phones,
            }],
        }))
    };
    let row = |id: &str, title: &str| ListRow {
        id: id.into(),
        title: title.into(),
        description: None,
    };

    let cases: Vec<(SevenMessage, &str)> = vec![
        (
            with(&|m| m.from = "+4915112345678".into()),
            "from must be 8 to 15 digits",
        ),
        (
            with(&|m| m.to = "7654321".into()),
            "to must be 8 to 15 digits",
        ),
        (
            with(&|m| m.to = "9876543210987654".into()),
            "to must be 8 to 15 digits",
        ),
        (with(&|m| m.options.ttl = Some(0)), "ttl is 0"),
        (
            with(&|m| m.options.delay = Some(Delay::Unix(0))),
            "delay 0 is not a send time",
        ),
        (
            with(&|m| m.options.label = Some("spring sale".into())),
            "label may contain only",
        ),
        (
            with(&|m| m.options.label = Some("a".repeat(101))),
            "label has 101 characters, more than the 100",
        ),
        (
            with(&|m| m.options.foreign_id = Some("x".repeat(65))),
            "foreign_id has 65 characters",
        ),
        (
            with(&|m| m.options.foreign_id = Some("a/b".into())),
            "foreign_id may contain only",
        ),
        (
            with(&|m| m.options.foreign_id = Some(String::new())),
            "foreign_id is empty",
        ),
        (text(""), "text is empty"),
        (text("   "), "text is empty"),
        (text(&"x".repeat(4097)), "text has 4097 characters"),
        (
            message(MessageBody::Image(Media {
                url: "ftp://example.com/a.jpg".into(),
                caption: None,
            })),
            "url is not a public http(s) URL",
        ),
        (
            message(MessageBody::Image(Media {
                url: "https://example.com/a.jpg".into(),
                caption: Some(String::new()),
            })),
            "caption is empty",
        ),
        (
            message(MessageBody::Sticker(Link {
                url: "sticker.webp".into(),
            })),
            "url is not a public http(s) URL",
        ),
        (
            message(MessageBody::Document(Document {
                url: "https://example.com/a.pdf".into(),
                filename: "".into(),
                caption: None,
            })),
            "filename is empty",
        ),
        (location(90.5, 0.0), "latitude is 90.5, outside -90 to 90"),
        (
            location(0.0, -180.5),
            "longitude is -180.5, outside -180 to 180",
        ),
        (location(f64::NAN, 0.0), "latitude is NaN"),
        (
            message(MessageBody::Contacts(Contacts { contacts: vec![] })),
            "contacts has no entries",
        ),
        (contact(vec![]), "contacts[0].phones has no entries"),
        (
            contact(vec![ContactPhone {
                phone: "call me".into(),
                kind: None,
            }]),
            "contacts[0].phones[0].phone is not a phone number",
        ),
        (
            template("de", "Hello World", &["x"]),
            "template \"Hello World\" is not a template name",
        ),
        (
            template("german", "hello_world", &["x"]),
            "language \"german\" is not a language code",
        ),
        (
            template("de", "hello_world", &["Max", ""]),
            "components.body[1] is empty",
        ),
        (
            template("de", "hello_world", &["line\nbreak"]),
            "components.body[0] contains a newline",
        ),
        (
            template("de", "hello_world", &["tab\there"]),
            "components.body[0] contains a newline, a tab",
        ),
        (
            template("de", "hello_world", &["five     spaces"]),
            "more than four spaces in a row",
        ),
        (
            buttons(&|b| b.buttons.truncate(1)),
            "buttons has 1 entries: an interactive button message needs 2 or 3",
        ),
        (
            buttons(&|b| {
                b.buttons.push(ReplyButton {
                    id: "b4".into(),
                    title: "Four".into(),
                })
            }),
            "buttons has 4 entries",
        ),
        (
            buttons(&|b| b.buttons[1].title = "x".repeat(21)),
            "buttons[1].title has 21 characters, more than the 20",
        ),
        (
            buttons(&|b| b.buttons[2].id = "btn_sales".into()),
            "buttons[2].id repeats the id \"btn_sales\"",
        ),
        (
            buttons(&|b| b.buttons[0].title = String::new()),
            "buttons[0].title is empty",
        ),
        (buttons(&|b| b.body = String::new()), "body is empty"),
        (
            buttons(&|b| b.header = Some("h".repeat(61))),
            "header has 61 characters",
        ),
        (
            list(&|l| l.sections[0].rows[1].title = "y".repeat(25)),
            "sections[0].rows[1].title has 25 characters, more than the 24",
        ),
        (
            list(&|l| l.sections[0].rows[1].id = "phone_1".into()),
            "sections[0].rows[1].id repeats the id",
        ),
        (
            list(&|l| l.sections[0].rows = (0..11).map(|i| row(&format!("r{i}"), "Row")).collect()),
            "has 11 entries, more than the 10",
        ),
        (
            list(&|l| l.sections[0].rows.clear()),
            "sections[0].rows has no entries",
        ),
        (list(&|l| l.sections.clear()), "sections has no entries"),
        (
            list(&|l| l.button_text = "z".repeat(21)),
            "button_text has 21 characters",
        ),
    ];

    for (msg, says) in cases {
        let outcome = match Valid::new(msg.clone()) {
            Ok(msg) => client.send(&msg).await,
            Err(refused) => Outcome::from(refused),
        };
        let Outcome::Failed { code, reason } = &outcome else {
            panic!("{says}: expected a refusal, got {outcome:?}");
        };
        assert_eq!(code, "invalid", "{says}");
        assert!(reason.contains(says), "{reason:?} should say {says:?}");
        assert!(
            reason.starts_with(|c: char| !c.is_uppercase()),
            "{reason:?} is not lowercase"
        );
        assert!(!reason.contains(&msg.to), "{reason:?} leaks the recipient");
    }
    // The valid originals pass, so each refusal above is due to its one change.
    for ok in [
        text("Hi"),
        template("en_US", "hello_world", &["four    spaces"]),
        message(MessageBody::Buttons(three_buttons())),
        message(MessageBody::List(product_list())),
        location(-90.0, 180.0),
    ] {
        assert_eq!(ok.validate(), Ok(()), "{ok:?}");
    }
    server.verify().await;
}

#[tokio::test]
async fn events_that_would_be_refused_make_no_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"success": true})))
        .expect(0)
        .mount(&server)
        .await;
    let client = client(&server.uri());
    let conversation = |from: &str, to: Option<&str>, msg_id: Option<&str>| Conversation {
        from: from.into(),
        to: to.map(Into::into),
        msg_id: msg_id.map(Into::into),
    };
    let cases = [
        (
            Event::Read(conversation(FROM, None, None)),
            ValidationError::NoTarget,
        ),
        (
            Event::IsTyping(conversation("49151", Some(TO), None)),
            ValidationError::Phone {
                field: "from".into(),
            },
        ),
        (
            Event::Read(conversation(FROM, None, Some(""))),
            ValidationError::Empty {
                field: "msg_id".into(),
            },
        ),
        (
            Event::Reaction(Reaction {
                msg_id: "1".into(),
                emoji: "thumbs up".into(),
            }),
            ValidationError::Emoji("thumbs up".into()),
        ),
        (
            Event::Reaction(Reaction {
                msg_id: String::new(),
                emoji: "👍".into(),
            }),
            ValidationError::Empty {
                field: "msg_id".into(),
            },
        ),
    ];
    for (event, want) in cases {
        assert_eq!(event.validate(), Err(want.clone()), "{event:?}");
        let outcome = match Valid::new(event.clone()) {
            Ok(event) => client.send_event(&event).await,
            Err(refused) => Outcome::from(refused),
        };
        assert_eq!(
            outcome,
            Outcome::Failed {
                code: "invalid".into(),
                reason: want.to_string()
            }
        );
    }
    for ok in [
        Event::Read(conversation(FROM, None, Some("wamid.1"))),
        Event::Reaction(Reaction {
            msg_id: "1".into(),
            emoji: String::new(),
        }),
        Event::Reaction(Reaction {
            msg_id: "1".into(),
            emoji: "1️⃣".into(),
        }),
    ] {
        assert_eq!(ok.validate(), Ok(()), "{ok:?}");
    }
    server.verify().await;
}

#[tokio::test]
async fn the_api_key_never_prints_and_is_sent_only_as_a_header() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("x-api-key", KEY))
        .respond_with(accepted())
        .expect(1)
        .mount(&server)
        .await;
    let config = config(
        &server.uri(),
        Duration::from_secs(5),
        Duration::from_secs(1),
    );
    let client = SevenClient::new(&config).unwrap();
    for debug in [
        format!("{config:?}"),
        format!("{config:#?}"),
        format!("{client:?}"),
    ] {
        assert!(!debug.contains(KEY), "{debug}");
        assert!(debug.contains("[redacted]"), "{debug}");
    }

    let msg = message(MessageBody::Text(Text { text: "Hi".into() }));
    client.send(&valid(msg.clone())).await;
    let request = &server.received_requests().await.unwrap()[0];
    assert!(!request.url.as_str().contains(KEY));
    assert!(!String::from_utf8_lossy(&request.body).contains(KEY));
    let agent = request.headers.get("user-agent").unwrap().to_str().unwrap();
    assert!(agent.starts_with("wacast/"), "{agent}");

    // Recipients are masked in Debug output too, since it ends up in logs.
    let debug = format!("{msg:?}");
    assert!(
        !debug.contains(TO) && debug.contains("*********5678"),
        "{debug}"
    );
}

#[tokio::test]
async fn a_client_is_refused_for_configuration_it_cannot_work_with() {
    let with_key = |key: &str| SevenConfig {
        api_key: SecretString::from(key.to_string()),
        ..config(
            "https://gateway.seven.io",
            Duration::from_secs(5),
            Duration::from_secs(1),
        )
    };
    assert!(matches!(
        SevenClient::new(&with_key("")),
        Err(ClientError::EmptyApiKey)
    ));
    let err = SevenClient::new(&with_key("sk-secret\n")).unwrap_err();
    assert!(matches!(err, ClientError::ApiKeyChars));
    assert!(!err.to_string().contains("sk-secret"));

    let mut ftp = with_key(KEY);
    ftp.base_url = "ftp://gateway.seven.io".parse().unwrap();
    assert!(matches!(
        SevenClient::new(&ftp),
        Err(ClientError::BaseUrl(_))
    ));

    // A connect timeout not shorter than the total one could not tell "not sent" from
    // "maybe sent".
    for (timeout, connect) in [(5, 5), (5, 6), (5, 0)] {
        let result = http_client(Duration::from_secs(timeout), Duration::from_secs(connect));
        assert!(
            matches!(result, Err(ClientError::Timeouts { .. })),
            "{timeout} {connect}"
        );
    }
    assert!(http_client(Duration::from_secs(5), Duration::from_secs(1)).is_ok());
}
