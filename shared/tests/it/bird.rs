//! The Bird client against real HTTP: every example the seed names on the wire, every class of
//! answer, every validation refusal, and the access key kept secret.
//!
//! The seed names the examples without their JSON; the bodies below follow Bird's public
//! documentation (see `shared/src/provider/bird/message.rs` for which shapes come from where).

use std::time::Duration;

use chrono::{SecondsFormat, Timelike, Utc};
use secrecy::SecretString;
use serde_json::{Value, json};
use wacast_shared::phone::PhoneNumber;
use wacast_shared::provider::ClientError;
use wacast_shared::provider::bird::message::{
    Action, BirdMessage, Body, Contact, Content, Coordinates, File, Files, Image, Images, List,
    ListButton, ListItem, ListMetadata, Location, LocationRequest, Meta, Place, Receiver, ReplyTo,
    SendOptions, Template, TemplateParameter, Text, tag, validity_seconds,
};
use wacast_shared::provider::bird::{
    BirdClient, BirdClients, BirdConfig, BirdConfigError, BirdCredentials, BirdSent, BirdStatus,
};
use wacast_shared::provider::outcome::{Outcome, Sent};
use wacast_shared::provider::validate::{Valid, Validate, ValidationError};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::classify::{
    Endpoint, Setup, Want, answer, case, check_every_answer, http_date, transport_cases,
};

const KEY: &str = "bird-ak-3f9c2e5b1d7a";
const WORKSPACE: &str = "2e0b1f3c-4d5e-4f60-8a71-9b2c3d4e5f60";
const CHANNEL: &str = "7c1d2e3f-4a5b-4c6d-9e7f-8a9b0c1d2e3f";
const TO: &str = "+4917612345678";
const MESSAGE_ID: &str = "5c8b1f7e-0d2a-4c3b-9e1f-2a3b4c5d6e7f";
const PROJECT: &str = "0b9c3f7e-1a2b-4c5d-8e9f-0a1b2c3d4e5f";
const VERSION: &str = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a";
const IMAGE_URL: &str = "https://example.com/photo.jpg";

fn messages_path() -> String {
    format!("/workspaces/{WORKSPACE}/channels/{CHANNEL}/messages")
}

fn config(base_url: &str, timeout: Duration, connect_timeout: Duration) -> BirdConfig {
    BirdConfig {
        base_url: base_url.parse().unwrap(),
        workspace_id: WORKSPACE.into(),
        channel_id: CHANNEL.into(),
        access_key: SecretString::from(KEY.to_string()),
        timeout,
        connect_timeout,
    }
}

fn client(base_url: &str) -> BirdClient {
    BirdClient::new(&config(
        base_url,
        Duration::from_secs(5),
        Duration::from_secs(1),
    ))
    .unwrap()
}

fn to() -> PhoneNumber {
    PhoneNumber::parse(TO, None).unwrap()
}

fn message(content: Content) -> BirdMessage {
    BirdMessage::new(&to(), content)
}

fn body(body: Body) -> BirdMessage {
    message(Content::Body(body))
}

/// The request the seed's "Body" frame shows, with `body` filled in.
fn with_body(body: Value) -> Value {
    json!({
        "receiver": {"contacts": [{"identifierKey": "phonenumber", "identifierValue": TO}]},
        "body": body,
    })
}

/// `message` through wacast's checks, as every message is before it is sent.
fn valid<T: Validate>(message: T) -> Valid<T> {
    Valid::new(message).expect("the message passes wacast's checks")
}

/// Bird's 202 answer: the created message.
fn accepted(status: &str) -> ResponseTemplate {
    ResponseTemplate::new(202).set_body_json(json!({
        "id": MESSAGE_ID,
        "channelId": CHANNEL,
        "sender": {"connector": {"id": "1d2c3b4a-5f6e-4d7c-8b9a-0f1e2d3c4b5a", "identifierValue": "+4915112345678"}},
        "receiver": {"contacts": [{
            "id": "3a4b5c6d-7e8f-4a0b-9c1d-2e3f4a5b6c7d",
            "identifierKey": "phonenumber",
            "identifierValue": TO,
        }]},
        "body": {"type": "text", "text": {"text": "Single text message"}},
        "reference": "",
        "status": status,
        "reason": "",
        "direction": "outgoing",
        "lastStatusAt": "2026-02-15T09:00:00.123Z",
        "createdAt": "2026-02-15T09:00:00.123Z",
        "updatedAt": "2026-02-15T09:00:00.123Z",
    }))
}

/// Sends `message` to a mock that accepts it once, and checks that the body on the wire is
/// exactly `example`, with the access key and content type, and that the example reads back
/// into the same typed message and serialises back unchanged.
async fn check_sends(message: BirdMessage, example: Value) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .and(header("authorization", format!("AccessKey {KEY}").as_str()))
        .and(header("content-type", "application/json"))
        .and(header("accept", "application/json"))
        .respond_with(accepted("accepted"))
        .expect(1)
        .mount(&server)
        .await;

    let outcome = client(&server.uri()).send(&valid(message.clone())).await;

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "one request, got {requests:?}");
    let sent: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(
        sent, example,
        "the body on the wire differs from the example"
    );
    assert_eq!(
        outcome,
        Outcome::Done(BirdSent {
            provider_id: MESSAGE_ID.into(),
            status: BirdStatus::Accepted
        })
    );
    let parsed: BirdMessage = serde_json::from_value(example.clone()).unwrap();
    assert_eq!(
        parsed, message,
        "the example reads back into another message"
    );
    assert_eq!(serde_json::to_value(&parsed).unwrap(), example);
}

fn reply(text: &str) -> Action {
    Action::reply(text)
}

fn postback(text: &str, payload: &str) -> Action {
    Action::postback(text, payload)
}

fn image(url: &str, label: Option<&str>) -> Image {
    Image {
        media_url: url.into(),
        alt_text: label.map(Into::into),
    }
}

#[tokio::test]
async fn sends_the_text_message_example() {
    let message = body(Body::Text(Text {
        text: "Single text message".into(),
        actions: vec![],
    }));
    check_sends(
        message,
        json!({
            "receiver": {"contacts": [{"identifierKey": "phonenumber", "identifierValue": "+4917612345678"}]},
            "body": {"type": "text", "text": {"text": "Single text message"}}
        }),
    )
    .await;
}

#[tokio::test]
async fn sends_the_text_with_reply_buttons_example() {
    let message = body(Body::Text(Text {
        text: "Single text message with reply actions".into(),
        actions: vec![reply("Reply action 1"), reply("Reply action 2")],
    }));
    check_sends(
        message,
        with_body(json!({
            "type": "text",
            "text": {
                "text": "Single text message with reply actions",
                "actions": [
                    {"type": "reply", "reply": {"text": "Reply action 1"}},
                    {"type": "reply", "reply": {"text": "Reply action 2"}}
                ]
            }
        })),
    )
    .await;
}

#[tokio::test]
async fn sends_the_text_with_postback_reply_and_location_request_examples() {
    let postbacks = body(Body::Text(Text {
        text: "Single text message with postback actions".into(),
        actions: vec![
            postback("Postback action 1", "postback-action-payload-1"),
            postback("Postback action 2", "postback-action-payload-2"),
        ],
    }));
    check_sends(
        postbacks,
        with_body(json!({
            "type": "text",
            "text": {
                "text": "Single text message with postback actions",
                "actions": [
                    {"type": "postback", "postback": {"text": "Postback action 1", "payload": "postback-action-payload-1"}},
                    {"type": "postback", "postback": {"text": "Postback action 2", "payload": "postback-action-payload-2"}}
                ]
            }
        })),
    )
    .await;

    let mixed = body(Body::Text(Text {
        text: "Single text message with reply and postback actions".into(),
        actions: vec![
            reply("Reply action"),
            postback("Postback action", "postback-action-payload"),
        ],
    }));
    check_sends(
        mixed,
        with_body(json!({
            "type": "text",
            "text": {
                "text": "Single text message with reply and postback actions",
                "actions": [
                    {"type": "reply", "reply": {"text": "Reply action"}},
                    {"type": "postback", "postback": {"text": "Postback action", "payload": "postback-action-payload"}}
                ]
            }
        })),
    )
    .await;

    let location_request = body(Body::Text(Text {
        text: "Where should we deliver?".into(),
        actions: vec![Action::LocationRequest(LocationRequest {
            text: "Send location".into(),
        })],
    }));
    check_sends(
        location_request,
        with_body(json!({
            "type": "text",
            "text": {
                "text": "Where should we deliver?",
                "actions": [{"type": "locationRequest", "locationRequest": {"text": "Send location"}}]
            }
        })),
    )
    .await;
}

#[tokio::test]
async fn sends_the_image_examples() {
    let cases = vec![
        (
            Images {
                images: vec![image(IMAGE_URL, Some("Label of first image"))],
                text: None,
                actions: vec![],
            },
            json!({"images": [{"mediaUrl": IMAGE_URL, "altText": "Label of first image"}]}),
        ),
        (
            Images {
                images: vec![image(IMAGE_URL, None)],
                text: Some("Single image message".into()),
                actions: vec![],
            },
            json!({"images": [{"mediaUrl": IMAGE_URL}], "text": "Single image message"}),
        ),
        (
            Images {
                images: vec![
                    image(IMAGE_URL, None),
                    image("https://example.com/photo2.jpg", None),
                ],
                text: None,
                actions: vec![],
            },
            json!({"images": [{"mediaUrl": IMAGE_URL}, {"mediaUrl": "https://example.com/photo2.jpg"}]}),
        ),
        (
            Images {
                images: vec![image(IMAGE_URL, None)],
                text: Some("Single image message with postback actions".into()),
                actions: vec![postback("Buy now", "buy-1"), postback("Later", "later-1")],
            },
            json!({
                "images": [{"mediaUrl": IMAGE_URL}],
                "text": "Single image message with postback actions",
                "actions": [
                    {"type": "postback", "postback": {"text": "Buy now", "payload": "buy-1"}},
                    {"type": "postback", "postback": {"text": "Later", "payload": "later-1"}}
                ]
            }),
        ),
        (
            Images {
                images: vec![image(IMAGE_URL, Some("Red shirt"))],
                text: None,
                actions: vec![reply("Yes"), reply("No")],
            },
            json!({
                "images": [{"mediaUrl": IMAGE_URL, "altText": "Red shirt"}],
                "actions": [
                    {"type": "reply", "reply": {"text": "Yes"}},
                    {"type": "reply", "reply": {"text": "No"}}
                ]
            }),
        ),
        (
            Images {
                images: vec![
                    image(IMAGE_URL, Some("Red shirt")),
                    image("https://example.com/photo2.jpg", Some("Blue shirt")),
                ],
                text: Some("Which one?".into()),
                actions: vec![postback("Red", "red"), reply("Neither")],
            },
            json!({
                "images": [
                    {"mediaUrl": IMAGE_URL, "altText": "Red shirt"},
                    {"mediaUrl": "https://example.com/photo2.jpg", "altText": "Blue shirt"}
                ],
                "text": "Which one?",
                "actions": [
                    {"type": "postback", "postback": {"text": "Red", "payload": "red"}},
                    {"type": "reply", "reply": {"text": "Neither"}}
                ]
            }),
        ),
    ];
    for (images, expect) in cases {
        check_sends(
            body(Body::Image(images)),
            with_body(json!({"type": "image", "image": expect})),
        )
        .await;
    }
}

#[tokio::test]
async fn sends_the_file_examples() {
    let pdf = |name: Option<&str>| File {
        media_url: "https://example.com/invoice.pdf".into(),
        content_type: "application/pdf".into(),
        filename: name.map(Into::into),
        alt_text: None,
    };
    let cases = vec![
        (
            Files {
                files: vec![pdf(None)],
                text: None,
                actions: vec![],
            },
            json!({"files": [{"mediaUrl": "https://example.com/invoice.pdf", "contentType": "application/pdf"}]}),
        ),
        (
            Files {
                files: vec![pdf(None)],
                text: Some("Your invoice".into()),
                actions: vec![postback("Pay now", "pay-1"), reply("Question")],
            },
            json!({
                "files": [{"mediaUrl": "https://example.com/invoice.pdf", "contentType": "application/pdf"}],
                "text": "Your invoice",
                "actions": [
                    {"type": "postback", "postback": {"text": "Pay now", "payload": "pay-1"}},
                    {"type": "reply", "reply": {"text": "Question"}}
                ]
            }),
        ),
        (
            Files {
                files: vec![
                    pdf(Some("invoice.pdf")),
                    File {
                        media_url: "https://example.com/terms.pdf".into(),
                        content_type: "application/pdf".into(),
                        filename: Some("terms.pdf".into()),
                        alt_text: Some("Terms".into()),
                    },
                ],
                text: None,
                actions: vec![
                    postback("Pay", "pay"),
                    postback("Dispute", "dispute"),
                    reply("Thanks"),
                ],
            },
            json!({
                "files": [
                    {"mediaUrl": "https://example.com/invoice.pdf", "contentType": "application/pdf", "filename": "invoice.pdf"},
                    {"mediaUrl": "https://example.com/terms.pdf", "contentType": "application/pdf", "filename": "terms.pdf", "altText": "Terms"}
                ],
                "actions": [
                    {"type": "postback", "postback": {"text": "Pay", "payload": "pay"}},
                    {"type": "postback", "postback": {"text": "Dispute", "payload": "dispute"}},
                    {"type": "reply", "reply": {"text": "Thanks"}}
                ]
            }),
        ),
    ];
    for (files, expect) in cases {
        check_sends(
            body(Body::File(files)),
            with_body(json!({"type": "file", "file": expect})),
        )
        .await;
    }
}

#[tokio::test]
async fn sends_the_location_example() {
    let message = body(Body::Location(Location {
        coordinates: Coordinates {
            latitude: 52.3676,
            longitude: 4.9041,
        },
        location: Some(Place {
            label: Some("Bird HQ".into()),
            address: Some("Trompenburgstraat 2C, 1079 TX Amsterdam".into()),
        }),
    }));
    check_sends(
        message,
        with_body(json!({
            "type": "location",
            "location": {
                "coordinates": {"latitude": 52.3676, "longitude": 4.9041},
                "location": {"label": "Bird HQ", "address": "Trompenburgstraat 2C, 1079 TX Amsterdam"}
            }
        })),
    )
    .await;
}

fn two_sections() -> Vec<ListItem> {
    vec![
        ListItem {
            title: Some("Section 1".into()),
            actions: vec![
                postback("Postback action 1", "postback-action-payload-1"),
                postback("Postback action 2", "postback-action-payload-2"),
            ],
        },
        ListItem {
            title: Some("Section 2".into()),
            actions: vec![
                postback("Postback action 3", "postback-action-payload-3"),
                postback("Postback action 4", "postback-action-payload-4"),
            ],
        },
    ]
}

fn two_sections_json() -> Value {
    json!([
        {"title": "Section 1", "actions": [
            {"type": "postback", "postback": {"text": "Postback action 1", "payload": "postback-action-payload-1"}},
            {"type": "postback", "postback": {"text": "Postback action 2", "payload": "postback-action-payload-2"}}
        ]},
        {"title": "Section 2", "actions": [
            {"type": "postback", "postback": {"text": "Postback action 3", "payload": "postback-action-payload-3"}},
            {"type": "postback", "postback": {"text": "Postback action 4", "payload": "postback-action-payload-4"}}
        ]}
    ])
}

#[tokio::test]
async fn sends_the_list_examples() {
    let without_sections = List {
        title: Some("List title".into()),
        text: "List text".into(),
        alt_text: Some("List alt text".into()),
        items: vec![ListItem {
            title: None,
            actions: vec![
                postback("Postback action 1", "postback-action-payload-1"),
                postback("Postback action 2", "postback-action-payload-2"),
            ],
        }],
        metadata: None,
    };
    check_sends(
        body(Body::List(without_sections)),
        with_body(json!({
            "type": "list",
            "list": {
                "title": "List title",
                "text": "List text",
                "altText": "List alt text",
                "items": [{"actions": [
                    {"type": "postback", "postback": {"text": "Postback action 1", "payload": "postback-action-payload-1"}},
                    {"type": "postback", "postback": {"text": "Postback action 2", "payload": "postback-action-payload-2"}}
                ]}]
            }
        })),
    )
    .await;

    let with_sections = List {
        title: Some("List title".into()),
        text: "List text".into(),
        alt_text: None,
        items: two_sections(),
        metadata: None,
    };
    check_sends(
        body(Body::List(with_sections)),
        with_body(json!({
            "type": "list",
            "list": {"title": "List title", "text": "List text", "items": two_sections_json()}
        })),
    )
    .await;

    let with_label = List {
        title: None,
        text: "List text".into(),
        alt_text: None,
        items: two_sections(),
        metadata: Some(ListMetadata {
            button: Some(ListButton {
                label: "Choose".into(),
            }),
        }),
    };
    check_sends(
        body(Body::List(with_label)),
        with_body(json!({
            "type": "list",
            "list": {
                "text": "List text",
                "items": two_sections_json(),
                "metadata": {"button": {"label": "Choose"}}
            }
        })),
    )
    .await;
}

#[tokio::test]
async fn sends_the_reply_to_examples() {
    let received = "f0e1d2c3-b4a5-4968-8776-655443322110";
    let cases = vec![
        (
            Body::Text(Text {
                text: "Thanks, noted!".into(),
                actions: vec![],
            }),
            json!({"type": "text", "text": {"text": "Thanks, noted!"}}),
        ),
        (
            Body::Image(Images {
                images: vec![image(IMAGE_URL, None)],
                text: None,
                actions: vec![],
            }),
            json!({"type": "image", "image": {"images": [{"mediaUrl": IMAGE_URL}]}}),
        ),
        (
            Body::Text(Text {
                text: "Shall we call you?".into(),
                actions: vec![postback("Yes", "call-yes"), postback("No", "call-no")],
            }),
            json!({"type": "text", "text": {"text": "Shall we call you?", "actions": [
                {"type": "postback", "postback": {"text": "Yes", "payload": "call-yes"}},
                {"type": "postback", "postback": {"text": "No", "payload": "call-no"}}
            ]}}),
        ),
    ];
    for (content, expect) in cases {
        let mut message = body(content);
        message.options.reply_to = Some(ReplyTo::message(received));
        let mut example = with_body(expect);
        example["replyTo"] = json!({"id": received, "type": "message"});
        check_sends(message, example).await;
    }
}

#[tokio::test]
async fn sends_the_text_template_with_variable_example() {
    let message = message(Content::Template(Template {
        project_id: PROJECT.into(),
        version: VERSION.into(),
        locale: "en".into(),
        parameters: vec![TemplateParameter::string("name", "Robert")],
    }));
    check_sends(
        message,
        json!({
            "receiver": {"contacts": [{"identifierKey": "phonenumber", "identifierValue": TO}]},
            "template": {
                "projectId": PROJECT,
                "version": VERSION,
                "locale": "en",
                "parameters": [{"type": "string", "key": "name", "value": "Robert"}]
            }
        }),
    )
    .await;
}

#[tokio::test]
async fn sends_a_template_s_latest_version_as_bird_s_examples_do() {
    let message = message(Content::Template(Template {
        project_id: PROJECT.into(),
        version: "latest".into(),
        locale: "en".into(),
        parameters: vec![TemplateParameter::string("name", "Robert")],
    }));
    check_sends(
        message,
        json!({
            "receiver": {"contacts": [{"identifierKey": "phonenumber", "identifierValue": TO}]},
            "template": {
                "projectId": PROJECT,
                "version": "latest",
                "locale": "en",
                "parameters": [{"type": "string", "key": "name", "value": "Robert"}]
            }
        }),
    )
    .await;
}

#[tokio::test]
async fn one_set_of_credentials_sends_on_every_workspace_and_channel() {
    let server = MockServer::start().await;
    let other_channel = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
    for channel in [CHANNEL, other_channel] {
        Mock::given(method("POST"))
            .and(path(format!(
                "/workspaces/{WORKSPACE}/channels/{channel}/messages"
            )))
            .and(header("authorization", format!("AccessKey {KEY}").as_str()))
            .respond_with(accepted("accepted"))
            .expect(2)
            .mount(&server)
            .await;
    }
    let clients = BirdClients::new(&BirdCredentials {
        base_url: server.uri().parse().unwrap(),
        access_key: SecretString::from(KEY.to_string()),
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(1),
    })
    .unwrap();
    let text = valid(text_message("Hi", vec![]));
    for channel in [CHANNEL, other_channel, CHANNEL, other_channel] {
        let outcome = clients.send(WORKSPACE, channel, &text).await;
        assert!(matches!(outcome, Outcome::Done(_)), "{outcome:?}");
    }
    // An id that is not a UUID is the campaign's fault, the same for every message: a halt,
    // with no request.
    let outcome = clients.send(WORKSPACE, "my-channel", &text).await;
    assert!(
        matches!(&outcome, Outcome::Halt { reason, scope: wacast_shared::provider::outcome::HaltScope::Campaign } if reason.contains("my-channel")),
        "{outcome:?}"
    );
    let refused = BirdClients::new(&BirdCredentials::new(SecretString::from(String::new())));
    assert!(matches!(refused, Err(BirdConfigError::EmptyAccessKey)));
    assert!(!format!("{clients:?}").contains(KEY));
}

#[tokio::test]
async fn sends_the_image_template_with_button_and_variables_examples() {
    let with_button = message(Content::Template(Template {
        project_id: PROJECT.into(),
        version: VERSION.into(),
        locale: "de-DE".into(),
        parameters: vec![
            TemplateParameter::string("imageUrl", IMAGE_URL),
            TemplateParameter::string("name", "Max Mustermann"),
            TemplateParameter::string("orderId", "ORD-12345"),
        ],
    }));
    check_sends(
        with_button,
        json!({
            "receiver": {"contacts": [{"identifierKey": "phonenumber", "identifierValue": TO}]},
            "template": {
                "projectId": PROJECT,
                "version": VERSION,
                "locale": "de-DE",
                "parameters": [
                    {"type": "string", "key": "imageUrl", "value": IMAGE_URL},
                    {"type": "string", "key": "name", "value": "Max Mustermann"},
                    {"type": "string", "key": "orderId", "value": "ORD-12345"}
                ]
            }
        }),
    )
    .await;

    let button_variable = message(Content::Template(Template {
        project_id: PROJECT.into(),
        version: VERSION.into(),
        locale: "en".into(),
        parameters: vec![
            TemplateParameter::string("imageUrl", IMAGE_URL),
            TemplateParameter::string("trackingCode", "abc123"),
        ],
    }));
    check_sends(
        button_variable,
        json!({
            "receiver": {"contacts": [{"identifierKey": "phonenumber", "identifierValue": TO}]},
            "template": {
                "projectId": PROJECT,
                "version": VERSION,
                "locale": "en",
                "parameters": [
                    {"type": "string", "key": "imageUrl", "value": IMAGE_URL},
                    {"type": "string", "key": "trackingCode", "value": "abc123"}
                ]
            }
        }),
    )
    .await;
}

#[tokio::test]
async fn sends_delivery_options_in_bird_s_types_and_reads_a_scheduled_answer() {
    let at = Utc::now().with_nanosecond(0).unwrap() + chrono::Duration::days(3);
    let mut message = body(Body::Text(Text {
        text: "Spring sale starts now".into(),
        actions: vec![],
    }));
    message.options = SendOptions {
        reference: Some("spring-sale.42".into()),
        scheduled_for: Some(at),
        validity: Some(validity_seconds(2880)),
        tags: vec![tag(" Spring-Sale ")],
        cap_frequency: Some(true),
        ignore_quiet_hours: Some(false),
        reply_to: None,
        meta: Some(Meta::use_case("marketing")),
    };
    let example = json!({
        "receiver": {"contacts": [{"identifierKey": "phonenumber", "identifierValue": TO}]},
        "body": {"type": "text", "text": {"text": "Spring sale starts now"}},
        "reference": "spring-sale.42",
        "scheduledFor": at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "validity": 172800,
        "tags": ["spring-sale"],
        "capFrequency": true,
        "ignoreQuietHours": false,
        "meta": {"extraInformation": {"useCase": "marketing"}}
    });

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(accepted("scheduled"))
        .expect(1)
        .mount(&server)
        .await;
    let outcome = client(&server.uri()).send(&valid(message.clone())).await;
    assert_eq!(
        outcome,
        Outcome::Done(BirdSent {
            provider_id: MESSAGE_ID.into(),
            status: BirdStatus::Scheduled
        })
    );
    let requests = server.received_requests().await.unwrap();
    let sent: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(sent, example);
    let parsed: BirdMessage = serde_json::from_value(example).unwrap();
    assert_eq!(parsed, message);

    // The provider-agnostic view keeps the id; Bird states no price.
    assert_eq!(
        outcome.map(Sent::from),
        Outcome::Done(Sent {
            provider_id: MESSAGE_ID.into(),
            price: None
        })
    );
}

#[test]
fn campaign_content_reads_as_body_or_template_and_refuses_anything_else() {
    let text: Content =
        serde_json::from_value(json!({"body": {"type": "text", "text": {"text": "Hi {{name}}"}}}))
            .unwrap();
    assert_eq!(text.kind(), "text");
    assert_eq!(
        serde_json::to_value(&text).unwrap(),
        json!({"body": {"type": "text", "text": {"text": "Hi {{name}}"}}})
    );
    let template: Content = serde_json::from_value(json!({"template": {
        "projectId": PROJECT, "version": VERSION, "locale": "en",
        "parameters": [{"type": "string", "key": "name", "value": "{{name}}"}]}}))
    .unwrap();
    assert_eq!(template.kind(), "template");

    let refused = [
        (json!({}), "needs body or template"),
        (
            json!({"body": {"type": "text", "text": {"text": "x"}}, "template": {"projectId": PROJECT, "version": VERSION, "locale": "en"}}),
            "has both body and template",
        ),
        (
            json!({"body": {"type": "image", "image": {"images": [{"mediaURL": IMAGE_URL}]}}}),
            "mediaURL",
        ),
        (
            json!({"body": {"type": "video", "video": {}}}),
            "unknown variant `video`",
        ),
        (
            json!({"body": {"type": "text", "text": {"text": "x", "actions": [{"type": "link", "link": {}}]}}}),
            "unknown variant `link`",
        ),
        (
            json!({"body": {"type": "text", "text": {"text": "x"}, "image": {}}}),
            "unknown field `image`",
        ),
        (
            json!({"template": {"projectId": PROJECT, "version": VERSION, "locale": "en", "parameters": [{"type": "number", "key": "n", "value": "1"}]}}),
            "unknown variant `number`",
        ),
    ];
    for (content, expect) in refused {
        let err = serde_json::from_value::<Content>(content.clone()).unwrap_err();
        assert!(
            err.to_string().contains(expect),
            "{content}: {err} lacks {expect:?}"
        );
    }

    let message = with_body(json!({"type": "text", "text": {"text": "x"}}));
    let mut typo = message.clone();
    typo["sheduledFor"] = json!("2026-01-01T00:00:00Z");
    let err = serde_json::from_value::<BirdMessage>(typo).unwrap_err();
    assert!(err.to_string().contains("sheduledFor"), "{err}");
    let mut no_content = message;
    no_content.as_object_mut().unwrap().remove("body");
    let err = serde_json::from_value::<BirdMessage>(no_content).unwrap_err();
    assert!(err.to_string().contains("needs body or template"), "{err}");
}

#[tokio::test]
async fn every_answer_is_classified_once_into_the_right_outcome() {
    let invalid = json!({
        "code": "InvalidPayload",
        "message": "The request did not pass validation",
        "details": {"receiver.contacts[0].identifierValue": ["is not a valid phone number"]}
    });
    let mut cases = vec![
        case(
            "202 accepted",
            Setup::Respond(accepted("accepted")),
            Want::Done(BirdSent {
                provider_id: MESSAGE_ID.into(),
                status: BirdStatus::Accepted,
            }),
            &[],
        ),
        case(
            "202 scheduled",
            Setup::Respond(accepted("scheduled")),
            Want::Done(BirdSent {
                provider_id: MESSAGE_ID.into(),
                status: BirdStatus::Scheduled,
            }),
            &[],
        ),
        case(
            "202 without a status",
            answer(202, json!({"id": MESSAGE_ID})),
            Want::Done(BirdSent {
                provider_id: MESSAGE_ID.into(),
                status: BirdStatus::Accepted,
            }),
            &[],
        ),
        case(
            "202 sending_failed",
            answer(
                202,
                json!({"id": MESSAGE_ID, "status": "sending_failed", "reason": "not a WhatsApp user"}),
            ),
            Want::Failed("sending_failed"),
            &["not a WhatsApp user"],
        ),
        case(
            "HTTP 422 with details",
            answer(422, invalid.clone()),
            Want::Failed("InvalidPayload"),
            &[
                "HTTP 422",
                "did not pass validation",
                "receiver.contacts[0].identifierValue: is not a valid phone number",
            ],
        ),
        case(
            "HTTP 422 plain text",
            Setup::Respond(ResponseTemplate::new(422).set_body_string("unprocessable")),
            Want::Failed("422"),
            &["HTTP 422", "unprocessable"],
        ),
        case(
            "HTTP 400 with an error body",
            answer(
                400,
                json!({"code": "BadRequest", "message": "invalid JSON"}),
            ),
            Want::Failed("BadRequest"),
            &["invalid JSON"],
        ),
        case(
            "HTTP 429 with Retry-After seconds",
            Setup::Respond(ResponseTemplate::new(429).insert_header("Retry-After", "7")),
            Want::Retry(Some((7, 7))),
            &["429", "did not process"],
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
            Setup::Respond(ResponseTemplate::new(429).set_body_json(
                json!({"code": "TooManyRequests", "message": "rate limit exceeded"}),
            )),
            Want::Retry(None),
            &["429"],
        ),
        case(
            "HTTP 401",
            answer(
                401,
                json!({"code": "Unauthorized", "message": "invalid access key"}),
            ),
            Want::Halt,
            &["HTTP 401", "BIRD_ACCESS_KEY", "invalid access key"],
        ),
        case(
            "HTTP 403",
            answer(
                403,
                json!({"code": "Forbidden", "message": "access denied"}),
            ),
            Want::Halt,
            &["HTTP 403", "access policy", "access denied"],
        ),
        case(
            "HTTP 404 unknown channel",
            answer(
                404,
                json!({"code": "NotFound", "message": "channel not found"}),
            ),
            Want::Halt,
            &["HTTP 404", "--channel", "channel not found"],
        ),
        case(
            "HTTP 500",
            Setup::Respond(ResponseTemplate::new(500).set_body_string("boom")),
            Want::Retry(None),
            &["HTTP 500", "boom"],
        ),
        case(
            "HTTP 502",
            Setup::Respond(ResponseTemplate::new(502)),
            Want::Retry(None),
            &["HTTP 502"],
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
            "HTTP 301 redirect",
            Setup::Respond(
                ResponseTemplate::new(301).insert_header("Location", "https://elsewhere.example/"),
            ),
            Want::Halt,
            &["redirect", "base URL"],
        ),
        case(
            "HTTP 500 whose body shows an accepted message",
            answer(500, json!({"id": MESSAGE_ID, "status": "accepted"})),
            Want::Unknown,
            &["may have accepted"],
        ),
        case(
            "202 with HTML",
            Setup::Respond(ResponseTemplate::new(202).set_body_raw("<html>ok</html>", "text/html")),
            Want::Unknown,
            &["no message id", "<html>ok</html>"],
        ),
        case(
            "202 with an empty body",
            Setup::Respond(ResponseTemplate::new(202)),
            Want::Unknown,
            &["(empty)"],
        ),
        case(
            "202 without an id",
            answer(202, json!({"status": "accepted"})),
            Want::Unknown,
            &["may have accepted"],
        ),
        case(
            "200 with an error body",
            answer(
                200,
                json!({"code": "ChannelInactive", "message": "channel is not active"}),
            ),
            Want::Failed("ChannelInactive"),
            &["channel is not active"],
        ),
    ];
    cases.extend(transport_cases(accepted("accepted")));
    let messages_path = messages_path();
    let authorization = format!("AccessKey {KEY}");
    let endpoint = Endpoint {
        path: &messages_path,
        key_header: ("authorization", &authorization),
        key: KEY,
        body_ends: r#""text":"Hi"}}}"#,
    };
    check_every_answer(
        &endpoint,
        cases,
        |base_url, timeout, connect_timeout| {
            BirdClient::new(&config(base_url, timeout, connect_timeout)).unwrap()
        },
        async |client: &BirdClient| {
            client
                .send(&valid(body(Body::Text(Text {
                    text: "Hi".into(),
                    actions: vec![],
                }))))
                .await
        },
    )
    .await;
}

fn text_message(text: &str, actions: Vec<Action>) -> BirdMessage {
    body(Body::Text(Text {
        text: text.into(),
        actions,
    }))
}

fn template_message(project: &str, version: &str, locale: &str) -> BirdMessage {
    message(Content::Template(Template {
        project_id: project.into(),
        version: version.into(),
        locale: locale.into(),
        parameters: vec![TemplateParameter::string("name", "Max")],
    }))
}

fn list_message(items: Vec<ListItem>) -> BirdMessage {
    body(Body::List(List {
        title: None,
        text: "Pick one".into(),
        alt_text: None,
        items,
        metadata: None,
    }))
}

#[tokio::test]
async fn messages_that_would_be_refused_make_no_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(accepted("accepted"))
        .expect(0)
        .mount(&server)
        .await;
    let client = client(&server.uri());

    let with_options = |change: &dyn Fn(&mut SendOptions)| {
        let mut message = text_message("Hi", vec![]);
        change(&mut message.options);
        message
    };
    let with_receiver = |contacts: Vec<Contact>| {
        let mut message = text_message("Hi", vec![]);
        message.receiver = Receiver { contacts };
        message
    };
    let contact = |key: &str, value: &str| Contact {
        identifier_key: key.into(),
        identifier_value: value.into(),
    };
    let long = |n: usize| "a".repeat(n);
    let buttons = |n: usize| -> Vec<Action> {
        (0..n)
            .map(|i| postback(&format!("B{i}"), &format!("b{i}")))
            .collect()
    };
    let files = |file: File| {
        body(Body::File(Files {
            files: vec![file],
            text: None,
            actions: vec![],
        }))
    };
    let pdf = || File {
        media_url: "https://example.com/a.pdf".into(),
        content_type: "application/pdf".into(),
        filename: None,
        alt_text: None,
    };
    let location = |latitude: f64, longitude: f64| {
        body(Body::Location(Location {
            coordinates: Coordinates {
                latitude,
                longitude,
            },
            location: None,
        }))
    };
    let far = Utc::now() + chrono::Duration::days(36);
    let section = |title: Option<&str>, actions: Vec<Action>| ListItem {
        title: title.map(Into::into),
        actions,
    };

    let cases: Vec<(&str, BirdMessage, ValidationError)> = vec![
        (
            "no recipient",
            with_receiver(vec![]),
            ValidationError::Receivers { count: 0 },
        ),
        (
            "two recipients",
            with_receiver(vec![
                contact("phonenumber", TO),
                contact("phonenumber", "+4917612345679"),
            ]),
            ValidationError::Receivers { count: 2 },
        ),
        (
            "an e-mail identifier",
            with_receiver(vec![contact("emailaddress", "max@example.com")]),
            ValidationError::IdentifierKey {
                field: "receiver.contacts[0].identifierKey".into(),
                key: "emailaddress".into(),
            },
        ),
        (
            "a number without +",
            with_receiver(vec![contact("phonenumber", "4917612345678")]),
            ValidationError::Recipient {
                field: "receiver.contacts[0].identifierValue".into(),
            },
        ),
        (
            "a missing identifier",
            with_receiver(vec![contact("phonenumber", "")]),
            ValidationError::Recipient {
                field: "receiver.contacts[0].identifierValue".into(),
            },
        ),
        (
            "empty text",
            text_message("  ", vec![]),
            ValidationError::Empty {
                field: "body.text.text".into(),
            },
        ),
        (
            "text too long",
            text_message(&long(4097), vec![]),
            ValidationError::TooLong {
                field: "body.text.text".into(),
                len: 4097,
                max: 4096,
            },
        ),
        (
            "text with buttons too long",
            text_message(&long(1025), vec![reply("OK")]),
            ValidationError::TooLong {
                field: "body.text.text".into(),
                len: 1025,
                max: 1024,
            },
        ),
        (
            "four buttons",
            text_message("Hi", buttons(4)),
            ValidationError::TooMany {
                field: "body.text.actions".into(),
                count: 4,
                max: 3,
            },
        ),
        (
            "a button title too long",
            text_message("Hi", vec![reply(&long(21))]),
            ValidationError::TooLong {
                field: "body.text.actions[0].reply.text".into(),
                len: 21,
                max: 20,
            },
        ),
        (
            "an empty payload",
            text_message("Hi", vec![postback("Yes", "")]),
            ValidationError::Empty {
                field: "body.text.actions[0].postback.payload".into(),
            },
        ),
        (
            "a repeated payload",
            text_message("Hi", vec![postback("Yes", "p"), postback("Sure", "p")]),
            ValidationError::DuplicatePayload {
                field: "body.text.actions[1].postback.payload".into(),
                payload: "p".into(),
            },
        ),
        (
            "a location request with other actions",
            text_message(
                "Hi",
                vec![
                    Action::LocationRequest(LocationRequest {
                        text: "Send location".into(),
                    }),
                    reply("No"),
                ],
            ),
            ValidationError::LocationRequestAlone {
                field: "body.text.actions".into(),
            },
        ),
        (
            "a location request on an image",
            body(Body::Image(Images {
                images: vec![image(IMAGE_URL, None)],
                text: None,
                actions: vec![Action::LocationRequest(LocationRequest {
                    text: "Send location".into(),
                })],
            })),
            ValidationError::ActionKind {
                field: "body.image.actions[0]".into(),
                kind: "locationRequest".into(),
                allowed: "reply or postback actions (a location request goes on a text message)",
            },
        ),
        (
            "no image",
            body(Body::Image(Images {
                images: vec![],
                text: None,
                actions: vec![],
            })),
            ValidationError::NoEntries {
                field: "body.image.images".into(),
            },
        ),
        (
            "an image URL that is not http",
            body(Body::Image(Images {
                images: vec![image("ftp://example.com/a.jpg", None)],
                text: None,
                actions: vec![],
            })),
            ValidationError::Url {
                field: "body.image.images[0].mediaUrl".into(),
            },
        ),
        (
            "a file without a MIME type",
            files(File {
                content_type: "pdf".into(),
                ..pdf()
            }),
            ValidationError::ContentType {
                field: "body.file.files[0].contentType".into(),
                value: "pdf".into(),
            },
        ),
        (
            "a file with an empty filename",
            files(File {
                filename: Some(String::new()),
                ..pdf()
            }),
            ValidationError::Empty {
                field: "body.file.files[0].filename".into(),
            },
        ),
        (
            "a latitude beyond the pole",
            location(91.0, 0.0),
            ValidationError::OutOfRange {
                field: "body.location.coordinates.latitude".into(),
                value: 91.0,
                min: -90.0,
                max: 90.0,
            },
        ),
        (
            "a list without items",
            list_message(vec![]),
            ValidationError::NoEntries {
                field: "body.list.items".into(),
            },
        ),
        (
            "a list section without a title among several",
            list_message(vec![
                section(Some("A"), vec![postback("One", "1")]),
                section(None, vec![postback("Two", "2")]),
            ]),
            ValidationError::Empty {
                field: "body.list.items[1].title".into(),
            },
        ),
        (
            "a list of 11 rows",
            list_message(vec![section(None, buttons(11))]),
            ValidationError::TooMany {
                field: "body.list.items[].actions".into(),
                count: 11,
                max: 10,
            },
        ),
        (
            "a reply action in a list",
            list_message(vec![section(None, vec![reply("One")])]),
            ValidationError::ActionKind {
                field: "body.list.items[0].actions[0]".into(),
                kind: "reply".into(),
                allowed: "postback actions, whose payload says which row was chosen",
            },
        ),
        (
            "a template project that is not a UUID",
            template_message("spring_sale", VERSION, "en"),
            ValidationError::Uuid {
                field: "template.projectId".into(),
                value: "spring_sale".into(),
            },
        ),
        (
            "a template version that is not a UUID",
            template_message(PROJECT, "1", "en"),
            ValidationError::Uuid {
                field: "template.version".into(),
                value: "1".into(),
            },
        ),
        (
            "a locale that is not one",
            template_message(PROJECT, VERSION, "english"),
            ValidationError::Locale("english".into()),
        ),
        (
            "a template parameter with a newline",
            message(Content::Template(Template {
                parameters: vec![TemplateParameter::string("name", "Max\nMustermann")],
                ..template(PROJECT)
            })),
            ValidationError::TemplateParameter {
                field: "template.parameters[0].value".into(),
            },
        ),
        (
            "a template parameter given twice",
            message(Content::Template(Template {
                parameters: vec![
                    TemplateParameter::string("name", "Max"),
                    TemplateParameter::string("name", "Moritz"),
                ],
                ..template(PROJECT)
            })),
            ValidationError::DuplicateKey {
                field: "template.parameters[1].key".into(),
                key: "name".into(),
            },
        ),
        (
            "eleven tags",
            with_options(&|o| o.tags = (0..11).map(|i| format!("t{i}")).collect()),
            ValidationError::TooMany {
                field: "tags".into(),
                count: 11,
                max: 10,
            },
        ),
        (
            "an empty tag",
            with_options(&|o| o.tags = vec!["sale".into(), " ".into()]),
            ValidationError::Empty {
                field: "tags[1]".into(),
            },
        ),
        (
            "scheduled 36 days ahead",
            with_options(&|o| o.scheduled_for = Some(far)),
            ValidationError::ScheduledTooFar {
                scheduled_for: far,
                max_days: 35,
            },
        ),
        (
            "a validity of 0",
            with_options(&|o| o.validity = Some(0)),
            ValidationError::ZeroValidity,
        ),
        (
            "capFrequency without the marketing use case",
            with_options(&|o| {
                o.cap_frequency = Some(true);
                o.meta = Some(Meta::use_case("transactional"));
            }),
            ValidationError::CapFrequencyUseCase,
        ),
        (
            "an empty reference",
            with_options(&|o| o.reference = Some(String::new())),
            ValidationError::Empty {
                field: "reference".into(),
            },
        ),
        (
            "a reply to no message",
            with_options(&|o| o.reply_to = Some(ReplyTo::message(""))),
            ValidationError::Empty {
                field: "replyTo.id".into(),
            },
        ),
    ];

    for (name, message, expect) in cases {
        assert_eq!(message.validate(), Err(expect.clone()), "{name}");
        assert_eq!(
            match Valid::new(message) {
                Ok(message) => client.send(&message).await,
                Err(refused) => Outcome::from(refused),
            },
            Outcome::Failed {
                code: "invalid".into(),
                reason: expect.to_string()
            },
            "{name}"
        );
    }
    // Scheduled 34 days ahead is fine: only beyond 35 is refused.
    let mut near = text_message("Hi", vec![]);
    near.options.scheduled_for = Some(Utc::now() + chrono::Duration::days(34));
    assert_eq!(near.validate(), Ok(()));
    server.verify().await;

    let reason = ValidationError::Recipient {
        field: "receiver.contacts[0].identifierValue".into(),
    }
    .to_string();
    assert!(!reason.contains("4917612345678"), "{reason}");
}

fn template(project: &str) -> Template {
    Template {
        project_id: project.into(),
        version: VERSION.into(),
        locale: "en".into(),
        parameters: vec![],
    }
}

#[tokio::test]
async fn the_access_key_never_prints_and_is_sent_only_as_a_header() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(accepted("accepted"))
        .expect(1)
        .mount(&server)
        .await;
    let config = config(
        &server.uri(),
        Duration::from_secs(5),
        Duration::from_secs(1),
    );
    let client = BirdClient::new(&config).unwrap();
    for printed in [format!("{config:?}"), format!("{client:?}")] {
        assert!(!printed.contains(KEY), "{printed}");
        assert!(printed.contains("[redacted]"), "{printed}");
    }
    let message = text_message("Hi", vec![]);
    let printed = format!("{message:?}");
    assert!(!printed.contains("4917612345678"), "{printed}");
    assert!(printed.contains("5678"), "{printed}");

    client.send(&valid(message.clone())).await;
    let request = &server.received_requests().await.unwrap()[0];
    assert_eq!(
        request.headers.get("authorization").unwrap(),
        &format!("AccessKey {KEY}")
    );
    assert!(!String::from_utf8_lossy(&request.body).contains(KEY));
    assert!(!request.url.as_str().contains(KEY));
}

#[test]
fn a_client_is_refused_for_configuration_it_cannot_work_with() {
    let base = |url: &str| config(url, Duration::from_secs(5), Duration::from_secs(1));
    let ok = BirdClient::new(&base("http://127.0.0.1:9/bird/")).unwrap();
    assert_eq!(
        ok.messages_url().as_str(),
        format!("http://127.0.0.1:9/bird/workspaces/{WORKSPACE}/channels/{CHANNEL}/messages")
    );
    let default = BirdConfig::new(WORKSPACE, CHANNEL, SecretString::from(KEY.to_string()));
    assert_eq!(
        BirdClient::new(&default).unwrap().messages_url().as_str(),
        format!("https://api.bird.com/workspaces/{WORKSPACE}/channels/{CHANNEL}/messages")
    );

    let refused = |config: BirdConfig| BirdClient::new(&config).unwrap_err();
    let mut c = base("http://127.0.0.1:9");
    c.workspace_id = "my-workspace".into();
    assert!(matches!(refused(c), BirdConfigError::WorkspaceId(ref w) if w == "my-workspace"));
    let mut c = base("http://127.0.0.1:9");
    c.channel_id = format!("{CHANNEL}x");
    assert!(matches!(refused(c), BirdConfigError::ChannelId(_)));
    let mut c = base("http://127.0.0.1:9");
    c.access_key = SecretString::from(String::new());
    assert!(matches!(refused(c), BirdConfigError::EmptyAccessKey));
    let mut c = base("http://127.0.0.1:9");
    c.access_key = SecretString::from(format!("{KEY}\n"));
    let err = refused(c);
    assert!(matches!(err, BirdConfigError::AccessKeyChars));
    assert!(!err.to_string().contains(KEY));
    assert!(matches!(
        refused(base("ftp://127.0.0.1:9")),
        BirdConfigError::BaseUrl(_)
    ));
    let mut c = base("http://127.0.0.1:9");
    c.connect_timeout = c.timeout;
    assert!(matches!(
        refused(c),
        BirdConfigError::Client(ClientError::Timeouts { .. })
    ));
}
