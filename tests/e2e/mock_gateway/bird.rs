//! Bird's endpoint of `mock-gateway`: every example the seed names (as raw JSON and through
//! wacast's typed Bird client), every validation rule with Bird's 422 shape, the access key,
//! workspaces and channels, template files, each injected fault, and the per-reference counts
//! of `/stats`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};
use wacast_shared::provider::bird::message::BirdMessage;
use wacast_shared::provider::bird::{BirdClient, BirdConfig, BirdSent, BirdStatus};
use wacast_shared::provider::outcome::Outcome;
use wacast_shared::provider::validate::Valid;
use wacast_tests::MockGatewayProcess;
use wacast_tests::gateway::bird::templates::{
    BUILTIN_BUTTON_VARIABLE, BUILTIN_IMAGE_BUTTON, BUILTIN_TEXT,
};
use wacast_tests::gateway::bird::{DEFAULT_ACCESS_KEY, DEFAULT_CHANNEL, DEFAULT_WORKSPACE};

use crate::mock_gateway::{Gateway, align_to_second, start};

const TO: &str = "+4917612345678";
const IMAGE_URL: &str = "https://example.com/photo.jpg";

fn messages_path(workspace: &str, channel: &str) -> String {
    format!("/workspaces/{workspace}/channels/{channel}/messages")
}

impl Gateway {
    /// Posts `body` to Bird's endpoint of `workspace` and `channel`, with `key` as the access
    /// key if given.
    async fn bird_at(
        &self,
        workspace: &str,
        channel: &str,
        key: Option<&str>,
        body: &Value,
    ) -> reqwest::Response {
        let url = format!("{}{}", self.url, messages_path(workspace, channel));
        let mut request = self.http.post(url).json(body);
        if let Some(key) = key {
            request = request.header("Authorization", format!("AccessKey {key}"));
        }
        request.send().await.expect("the request is answered")
    }

    async fn bird(&self, body: &Value) -> reqwest::Response {
        self.bird_at(
            DEFAULT_WORKSPACE,
            DEFAULT_CHANNEL,
            Some(DEFAULT_ACCESS_KEY),
            body,
        )
        .await
    }

    /// Sends a message that must be accepted; returns Bird's answer.
    pub(super) async fn bird_accepted(&self, body: &Value) -> Value {
        let response = self.bird(body).await;
        let status = response.status();
        let answer: Value = response.json().await.expect("a JSON answer");
        assert_eq!(status, StatusCode::ACCEPTED, "{body} was refused: {answer}");
        answer
    }

    /// Sends a message that must be refused with 422; returns the one `details` entry.
    async fn bird_refused(&self, body: &Value) -> (String, String) {
        let response = self.bird(body).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        let answer: Value = response.json().await.expect("a JSON answer");
        assert_eq!(answer["code"], "InvalidPayload", "{answer}");
        assert_eq!(
            answer["message"], "The request did not pass validation",
            "{answer}"
        );
        let details = answer["details"].as_object().expect("details");
        assert_eq!(details.len(), 1, "{answer}");
        let (path, why) = details.iter().next().expect("one entry");
        let why = why.as_array().expect("a list of reasons")[0]
            .as_str()
            .expect("a reason");
        (path.clone(), why.to_owned())
    }
}

fn receiver() -> Value {
    json!({"contacts": [{"identifierKey": "phonenumber", "identifierValue": TO}]})
}

fn with_body(body: Value) -> Value {
    json!({"receiver": receiver(), "body": body})
}

fn text(text: &str) -> Value {
    with_body(json!({"type": "text", "text": {"text": text}}))
}

fn template(ids: (&str, &str, &str), parameters: &[(&str, &str)]) -> Value {
    let parameters: Vec<Value> = parameters
        .iter()
        .map(|(key, value)| json!({"type": "string", "key": key, "value": value}))
        .collect();
    json!({"receiver": receiver(), "template": {
        "projectId": ids.0, "version": ids.1, "locale": ids.2, "parameters": parameters,
    }})
}

fn reply(text: &str) -> Value {
    json!({"type": "reply", "reply": {"text": text}})
}

fn postback(text: &str, payload: &str) -> Value {
    json!({"type": "postback", "postback": {"text": text, "payload": payload}})
}

/// Every example the seed names, as Bird's documentation writes them.
fn bird_examples() -> Vec<(&'static str, Value)> {
    let image = |extra: Value| {
        let mut image =
            json!({"images": [{"mediaUrl": IMAGE_URL, "altText": "Label of first image"}]});
        for (key, value) in extra.as_object().expect("an object") {
            image[key] = value.clone();
        }
        with_body(json!({"type": "image", "image": image}))
    };
    let file = |extra: Value| {
        let mut file = json!({"files": [{"mediaUrl": "https://example.com/invoice.pdf", "contentType": "application/pdf"}]});
        for (key, value) in extra.as_object().expect("an object") {
            file[key] = value.clone();
        }
        with_body(json!({"type": "file", "file": file}))
    };
    let list = |extra: Value| {
        let mut list =
            json!({"title": "List title", "text": "List text", "altText": "List alt text"});
        for (key, value) in extra.as_object().expect("an object") {
            list[key] = value.clone();
        }
        with_body(json!({"type": "list", "list": list}))
    };
    let sections = json!([
        {"title": "Section 1", "actions": [postback("Postback action 1", "p1"), postback("Postback action 2", "p2")]},
        {"title": "Section 2", "actions": [postback("Postback action 3", "p3"), postback("Postback action 4", "p4")]},
    ]);
    let mut reply_to_text = text("Thanks, noted!");
    reply_to_text["replyTo"] =
        json!({"id": "f0e1d2c3-b4a5-4968-8776-655443322110", "type": "message"});
    let mut reply_to_image = image(json!({}));
    reply_to_image["replyTo"] =
        json!({"id": "f0e1d2c3-b4a5-4968-8776-655443322110", "type": "message"});
    let mut reply_to_postback = with_body(
        json!({"type": "text", "text": {"text": "Shall we call you?", "actions": [postback("Yes", "call-yes"), postback("No", "call-no")]}}),
    );
    reply_to_postback["replyTo"] =
        json!({"id": "f0e1d2c3-b4a5-4968-8776-655443322110", "type": "message"});
    vec![
        ("text", text("Single text message")),
        (
            "text with reply buttons",
            with_body(
                json!({"type": "text", "text": {"text": "Single text message with reply actions", "actions": [reply("Reply action 1"), reply("Reply action 2")]}}),
            ),
        ),
        (
            "text with postback actions",
            with_body(
                json!({"type": "text", "text": {"text": "With postback actions", "actions": [postback("Postback action 1", "p1"), postback("Postback action 2", "p2")]}}),
            ),
        ),
        (
            "text with reply and postback actions",
            with_body(
                json!({"type": "text", "text": {"text": "Reply and postback", "actions": [reply("Reply action"), postback("Postback action", "p")]}}),
            ),
        ),
        (
            "text with location request",
            with_body(
                json!({"type": "text", "text": {"text": "Where should we deliver?", "actions": [{"type": "locationRequest", "locationRequest": {"text": "Send location"}}]}}),
            ),
        ),
        ("single image", image(json!({}))),
        (
            "single image with text",
            image(json!({"text": "Single image message"})),
        ),
        (
            "multiple images",
            image(
                json!({"images": [{"mediaUrl": IMAGE_URL}, {"mediaUrl": "https://example.com/photo2.jpg"}]}),
            ),
        ),
        (
            "single image with postback actions",
            image(json!({"actions": [postback("Buy now", "buy"), postback("Later", "later")]})),
        ),
        (
            "single image with label and reply actions",
            image(json!({"actions": [reply("Yes"), reply("No")]})),
        ),
        (
            "single image with label, postback and reply actions",
            image(json!({"actions": [postback("Buy", "buy"), reply("Not now")]})),
        ),
        (
            "multiple images with labels, postback and reply actions",
            image(json!({
                "images": [{"mediaUrl": IMAGE_URL, "altText": "Red"}, {"mediaUrl": "https://example.com/photo2.jpg", "altText": "Blue"}],
                "actions": [postback("Red", "red"), postback("Blue", "blue"), reply("Neither")],
            })),
        ),
        ("single file", file(json!({}))),
        (
            "single file with postback and reply actions",
            file(
                json!({"text": "Your invoice", "actions": [postback("Pay now", "pay"), reply("Question")]}),
            ),
        ),
        (
            "multiple files with filename",
            file(json!({"files": [
                {"mediaUrl": "https://example.com/invoice.pdf", "contentType": "application/pdf", "filename": "invoice.pdf"},
                {"mediaUrl": "https://example.com/terms.pdf", "contentType": "application/pdf", "filename": "terms.pdf"},
            ]})),
        ),
        (
            "location",
            with_body(json!({"type": "location", "location": {
                "coordinates": {"latitude": 52.3676, "longitude": 4.9041},
                "location": {"label": "Bird HQ", "address": "Trompenburgstraat 2C, 1079 TX Amsterdam"},
            }})),
        ),
        (
            "list without sections",
            list(
                json!({"items": [{"actions": [postback("Postback action 1", "p1"), postback("Postback action 2", "p2")]}]}),
            ),
        ),
        ("list with sections", list(json!({"items": sections}))),
        (
            "list with sections and custom button label",
            list(json!({"items": sections, "metadata": {"button": {"label": "Choose"}}})),
        ),
        ("replyTo with a text message", reply_to_text),
        ("replyTo with an image message", reply_to_image),
        (
            "replyTo with a text message with postback actions",
            reply_to_postback,
        ),
        (
            "text template with variable",
            template(BUILTIN_TEXT, &[("name", "Robert")]),
        ),
        (
            "image template with button and variables",
            template(
                BUILTIN_IMAGE_BUTTON,
                &[
                    ("imageUrl", IMAGE_URL),
                    ("name", "Max Mustermann"),
                    ("orderId", "ORD-12345"),
                ],
            ),
        ),
        (
            "image with a variable in a button",
            template(
                BUILTIN_BUTTON_VARIABLE,
                &[("imageUrl", IMAGE_URL), ("trackingCode", "abc123")],
            ),
        ),
    ]
}

fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[tokio::test]
async fn every_bird_example_is_accepted_with_bird_s_answer_shape() {
    let gateway = start(&[]);
    let mut ids = HashSet::new();
    let examples = bird_examples();
    for (name, body) in &examples {
        let answer = gateway.bird_accepted(body).await;
        let id = answer["id"].as_str().expect("an id");
        assert!(is_uuid(id), "{name}: id {id}");
        assert!(ids.insert(id.to_owned()), "{name}: id {id} repeats");
        assert_eq!(answer["status"], "accepted", "{name}");
        assert_eq!(answer["channelId"], DEFAULT_CHANNEL, "{name}");
        assert_eq!(answer["direction"], "outgoing", "{name}");
        assert_eq!(answer["receiver"], body["receiver"], "{name}");
        for key in ["body", "template", "replyTo"] {
            assert_eq!(answer.get(key), body.get(key), "{name}: {key}");
        }
        assert!(
            chrono::DateTime::parse_from_rfc3339(answer["createdAt"].as_str().expect("createdAt"))
                .is_ok(),
            "{name}: {answer}"
        );
    }

    // Options: a reference, tags (lowercased, as Bird stores them), a send time (scheduled),
    // a validity and the marketing use case with frequency capping.
    let at = (Utc::now() + chrono::Duration::days(2)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut scheduled = text("Spring sale starts now");
    scheduled["reference"] = json!("spring-sale.1");
    scheduled["tags"] = json!(["Spring-Sale", "wacast"]);
    scheduled["scheduledFor"] = json!(at);
    scheduled["validity"] = json!(172_800);
    scheduled["capFrequency"] = json!(true);
    scheduled["ignoreQuietHours"] = json!(false);
    scheduled["meta"] = json!({"extraInformation": {"useCase": "marketing"}});
    let answer = gateway.bird_accepted(&scheduled).await;
    assert_eq!(answer["status"], "scheduled");
    assert_eq!(answer["reference"], "spring-sale.1");
    assert_eq!(answer["tags"], json!(["spring-sale", "wacast"]));
    assert_eq!(answer["scheduledFor"], json!(at));
    assert_eq!(answer["validity"], 172_800);

    // A time in the past is sent at once, as Bird does.
    let mut past = text("Late");
    past["reference"] = json!("spring-sale.2");
    past["scheduledFor"] = json!("2020-01-01T08:00:00Z");
    assert_eq!(gateway.bird_accepted(&past).await["status"], "accepted");
    // The same reference again: Bird accepts it, the mock counts the duplicate.
    gateway.bird_accepted(&past).await;

    let stats = gateway.stats().await;
    let n = examples.len() + 3;
    assert_eq!(stats["accepted"], n);
    assert_eq!(stats["requests"]["bird"], n);
    assert_eq!(stats["requests"]["messages"], 0);
    assert_eq!(stats["bird"]["accepted"], n);
    assert_eq!(stats["bird"]["duplicate_references"], 1);
    assert_eq!(
        stats["references"],
        json!({"spring-sale.1": 1, "spring-sale.2": 2})
    );
    assert_eq!(stats["scheduled"], 1);
    assert_eq!(stats["rejections"], json!({}));
    assert_eq!(stats["distinct_recipients"], 1);
    assert_eq!(stats["recipients"]["4917612345678"], n);
    // The channel is Bird's sender. Duplicate contents: the repeated message, and the image
    // sent again as a reply (a reply to another message is still the same content).
    assert_eq!(stats["senders"][DEFAULT_CHANNEL]["accepted"], n);
    assert_eq!(stats["duplicates"]["recipient_content"], 2);
    assert_eq!(stats["duplicates"]["foreign_ids"], 0);
}

/// `body` read into wacast's typed message and through its checks, as the worker sends it.
fn typed(body: Value) -> Result<Valid<BirdMessage>, String> {
    let message: BirdMessage = serde_json::from_value(body).map_err(|e| e.to_string())?;
    Valid::new(message).map_err(|e| e.to_string())
}

fn typed_client(gateway: &Gateway, key: &str) -> BirdClient {
    let mut config = BirdConfig::new(
        DEFAULT_WORKSPACE,
        DEFAULT_CHANNEL,
        SecretString::from(key.to_owned()),
    );
    config.base_url = gateway.url.parse().expect("the gateway's URL");
    config.timeout = Duration::from_millis(800);
    config.connect_timeout = Duration::from_millis(300);
    BirdClient::new(&config).expect("the client builds")
}

#[tokio::test]
async fn wacast_s_typed_client_and_the_mock_agree_on_every_example() {
    let gateway = start(&[]);
    let client = typed_client(&gateway, DEFAULT_ACCESS_KEY);
    for (name, body) in bird_examples() {
        let message: Valid<BirdMessage> = typed(body.clone())
            .unwrap_or_else(|err| panic!("{name}: the typed client cannot read it: {err}"));
        match client.send(&message).await {
            Outcome::Done(BirdSent {
                provider_id,
                status: BirdStatus::Accepted,
            }) => assert!(is_uuid(&provider_id), "{name}: {provider_id}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    // What the mock refuses, the client classifies as Bird's refusal.
    let wrong_key = typed_client(&gateway, "not-the-key");
    let message: Valid<BirdMessage> = typed(text("Hi")).expect("the typed client reads it");
    assert!(
        matches!(wrong_key.send(&message).await, Outcome::Halt { ref reason, .. } if reason.contains("HTTP 401")),
    );
    let unknown = template(
        ("11111111-2222-4333-8444-555555555555", BUILTIN_TEXT.1, "en"),
        &[("name", "Max")],
    );
    let message: Valid<BirdMessage> = typed(unknown).expect("the typed client reads it");
    match client.send(&message).await {
        Outcome::Failed { code, reason } => {
            assert_eq!(code, "InvalidPayload");
            assert!(reason.contains("no approved template"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn invalid_bird_requests_are_refused_with_422_naming_the_field() {
    let gateway = start(&[]);
    let change = |mut body: Value, pointer: &str, value: Value| {
        *body.pointer_mut(pointer).expect("the pointer exists") = value;
        body
    };
    let set = |mut body: Value, key: &str, value: Value| {
        body[key] = value;
        body
    };
    let buttons = |n: usize| -> Value {
        (0..n)
            .map(|i| postback(&format!("B{i}"), &format!("b{i}")))
            .collect()
    };
    let hi = || text("Hi");
    let far = (Utc::now() + chrono::Duration::days(36)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "no receiver",
            json!({"body": {"type": "text", "text": {"text": "Hi"}}}),
            "receiver",
            "is required",
        ),
        (
            "no contacts",
            set(hi(), "receiver", json!({"contacts": []})),
            "receiver.contacts",
            "must not be empty",
        ),
        (
            "two contacts",
            set(
                hi(),
                "receiver",
                json!({"contacts": [{"identifierValue": TO}, {"identifierValue": "+4917612345679"}]}),
            ),
            "receiver.contacts",
            "exactly one contact",
        ),
        (
            "a missing identifier",
            set(
                hi(),
                "receiver",
                json!({"contacts": [{"identifierKey": "phonenumber"}]}),
            ),
            "receiver.contacts[0].identifierValue",
            "is required",
        ),
        (
            "a number without +",
            change(
                hi(),
                "/receiver/contacts/0/identifierValue",
                json!("4917612345678"),
            ),
            "receiver.contacts[0].identifierValue",
            "E.164",
        ),
        (
            "an e-mail identifier key",
            change(
                hi(),
                "/receiver/contacts/0/identifierKey",
                json!("emailaddress"),
            ),
            "receiver.contacts[0].identifierKey",
            "phonenumber",
        ),
        (
            "neither body nor template",
            json!({"receiver": receiver()}),
            "body",
            "is required unless template",
        ),
        (
            "body and template",
            set(
                hi(),
                "template",
                json!({"projectId": BUILTIN_TEXT.0, "version": BUILTIN_TEXT.1, "locale": "en"}),
            ),
            "template",
            "together with body",
        ),
        (
            "an unknown top-level field",
            set(hi(), "sheduledFor", json!("2026-01-01T00:00:00Z")),
            "sheduledFor",
            "not a known field",
        ),
        (
            "an unknown body type",
            with_body(json!({"type": "video", "video": {}})),
            "body.type",
            "not a message type",
        ),
        (
            "empty text",
            text(" "),
            "body.text.text",
            "must not be empty",
        ),
        (
            "text too long",
            text(&"a".repeat(4097)),
            "body.text.text",
            "at most 4096",
        ),
        (
            "a misspelt field in the body",
            with_body(json!({"type": "image", "image": {"images": [{"mediaURL": IMAGE_URL}]}})),
            "body.image.images[0].mediaURL",
            "not a known field",
        ),
        (
            "four buttons",
            with_body(json!({"type": "text", "text": {"text": "Hi", "actions": buttons(4)}})),
            "body.text.actions",
            "at most 3",
        ),
        (
            "a button title too long",
            with_body(
                json!({"type": "text", "text": {"text": "Hi", "actions": [reply(&"b".repeat(21))]}}),
            ),
            "body.text.actions[0].reply.text",
            "at most 20",
        ),
        (
            "a repeated payload",
            with_body(
                json!({"type": "text", "text": {"text": "Hi", "actions": [postback("A", "p"), postback("B", "p")]}}),
            ),
            "body.text.actions[1].postback.payload",
            "repeats",
        ),
        (
            "a location request on an image",
            with_body(
                json!({"type": "image", "image": {"images": [{"mediaUrl": IMAGE_URL}], "actions": [{"type": "locationRequest", "locationRequest": {"text": "Where?"}}]}}),
            ),
            "body.image.actions[0].type",
            "only allowed on text",
        ),
        (
            "an image URL that is not http",
            with_body(
                json!({"type": "image", "image": {"images": [{"mediaUrl": "ftp://example.com/a.jpg"}]}}),
            ),
            "body.image.images[0].mediaUrl",
            "http(s) URL",
        ),
        (
            "a file without a MIME type",
            with_body(
                json!({"type": "file", "file": {"files": [{"mediaUrl": "https://example.com/a.pdf", "contentType": "pdf"}]}}),
            ),
            "body.file.files[0].contentType",
            "MIME type",
        ),
        (
            "a latitude beyond the pole",
            with_body(
                json!({"type": "location", "location": {"coordinates": {"latitude": 91, "longitude": 0}}}),
            ),
            "body.location.coordinates.latitude",
            "between -90 and 90",
        ),
        (
            "a list of 11 rows",
            with_body(
                json!({"type": "list", "list": {"text": "Pick", "items": [{"actions": buttons(11)}]}}),
            ),
            "body.list.items",
            "11 rows",
        ),
        (
            "a reply action in a list",
            with_body(
                json!({"type": "list", "list": {"text": "Pick", "items": [{"actions": [reply("One")]}]}}),
            ),
            "body.list.items[0].actions[0].type",
            "must be postback",
        ),
        (
            "a list section without a title among several",
            with_body(json!({"type": "list", "list": {"text": "Pick", "items": [
                {"title": "A", "actions": [postback("One", "1")]},
                {"actions": [postback("Two", "2")]},
            ]}})),
            "body.list.items[1].title",
            "several sections",
        ),
        (
            "a template project that is not a UUID",
            template(("spring_sale", BUILTIN_TEXT.1, "en"), &[("name", "Max")]),
            "template.projectId",
            "UUID",
        ),
        (
            "an unknown template",
            template((BUILTIN_TEXT.0, BUILTIN_TEXT.1, "fr"), &[("name", "Max")]),
            "template",
            "no approved template",
        ),
        (
            "a template variable missing",
            template(
                BUILTIN_IMAGE_BUTTON,
                &[("imageUrl", IMAGE_URL), ("name", "Max")],
            ),
            "template.parameters",
            "\"orderId\" has no value",
        ),
        (
            "a template variable the template lacks",
            template(BUILTIN_TEXT, &[("name", "Max"), ("city", "Berlin")]),
            "template.parameters[1].key",
            "no variable \"city\"",
        ),
        (
            "a template variable given twice",
            template(BUILTIN_TEXT, &[("name", "Max"), ("name", "Moritz")]),
            "template.parameters[1].key",
            "given twice",
        ),
        (
            "a template parameter with a newline",
            template(BUILTIN_TEXT, &[("name", "Max\nMustermann")]),
            "template.parameters[0].value",
            "(#132018)",
        ),
        (
            "eleven tags",
            set(
                hi(),
                "tags",
                json!(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"]),
            ),
            "tags",
            "at most 10",
        ),
        (
            "an empty tag",
            set(hi(), "tags", json!(["sale", ""])),
            "tags[1]",
            "must not be empty",
        ),
        (
            "scheduled 36 days ahead",
            set(hi(), "scheduledFor", json!(far)),
            "scheduledFor",
            "35 days",
        ),
        (
            "a send time that is not RFC 3339",
            set(hi(), "scheduledFor", json!("2026-03-01 09:00:00")),
            "scheduledFor",
            "RFC 3339",
        ),
        (
            "a validity of 0",
            set(hi(), "validity", json!(0)),
            "validity",
            "above 0",
        ),
        (
            "capFrequency without the marketing use case",
            set(hi(), "capFrequency", json!(true)),
            "capFrequency",
            "marketing",
        ),
        (
            "a reply to something other than a message",
            set(hi(), "replyTo", json!({"id": "x", "type": "conversation"})),
            "replyTo.type",
            "must be message",
        ),
    ];
    let n_cases = cases.len();
    for (name, body, path, why) in cases {
        let (got_path, got_why) = gateway.bird_refused(&body).await;
        assert_eq!(got_path, path, "{name}: {got_why}");
        assert!(got_why.contains(why), "{name}: {got_why:?} lacks {why:?}");
    }
    let stats = gateway.stats().await;
    assert_eq!(stats["accepted"], 0);
    assert_eq!(stats["rejections"], json!({"bird_422": n_cases}));
}

#[tokio::test]
async fn the_access_key_workspace_and_channel_are_checked() {
    let other_channel = "0f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f";
    let channels = format!("{DEFAULT_CHANNEL},{other_channel}");
    let gateway = start(&["--bird-access-key", "k-123", "--bird-channel", &channels]);
    let body = text("Hi");
    let status_and_code = |response: reqwest::Response| async move {
        let status = response.status();
        let answer: Value = response.json().await.expect("a JSON answer");
        (
            status,
            answer["code"].as_str().unwrap_or_default().to_owned(),
        )
    };

    for key in [None, Some(DEFAULT_ACCESS_KEY), Some("k-1234")] {
        let response = gateway
            .bird_at(DEFAULT_WORKSPACE, DEFAULT_CHANNEL, key, &body)
            .await;
        assert_eq!(
            status_and_code(response).await,
            (StatusCode::UNAUTHORIZED, "Unauthorized".to_owned()),
            "{key:?}"
        );
    }
    let bearer = gateway
        .http
        .post(format!(
            "{}{}",
            gateway.url,
            messages_path(DEFAULT_WORKSPACE, DEFAULT_CHANNEL)
        ))
        .header("Authorization", "Bearer k-123")
        .json(&body)
        .send()
        .await
        .expect("answered");
    assert_eq!(bearer.status(), StatusCode::UNAUTHORIZED);

    for (workspace, channel) in [
        ("11111111-2222-4333-8444-555555555555", DEFAULT_CHANNEL),
        (DEFAULT_WORKSPACE, "11111111-2222-4333-8444-555555555555"),
        (DEFAULT_WORKSPACE, "not-a-uuid"),
    ] {
        let response = gateway
            .bird_at(workspace, channel, Some("k-123"), &body)
            .await;
        assert_eq!(
            status_and_code(response).await,
            (StatusCode::NOT_FOUND, "NotFound".to_owned()),
            "{workspace} {channel}"
        );
    }
    for channel in [DEFAULT_CHANNEL, other_channel] {
        let response = gateway
            .bird_at(DEFAULT_WORKSPACE, channel, Some("k-123"), &body)
            .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "{channel}");
    }
    // Ids compare in either case, as UUIDs do.
    let response = gateway
        .bird_at(
            &DEFAULT_WORKSPACE.to_uppercase(),
            &DEFAULT_CHANNEL.to_uppercase(),
            Some("k-123"),
            &body,
        )
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);

    let url = format!(
        "{}{}",
        gateway.url,
        messages_path(DEFAULT_WORKSPACE, DEFAULT_CHANNEL)
    );
    let not_json = gateway
        .http
        .post(&url)
        .header("Authorization", "AccessKey k-123")
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("answered");
    assert_eq!(
        status_and_code(not_json).await,
        (StatusCode::BAD_REQUEST, "BadRequest".to_owned())
    );
    let form = gateway
        .http
        .post(&url)
        .header("Authorization", "AccessKey k-123")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("text=hi")
        .send()
        .await
        .expect("answered");
    assert_eq!(form.status(), StatusCode::BAD_REQUEST);

    let stats = gateway.stats().await;
    assert_eq!(stats["accepted"], 3);
    assert_eq!(
        stats["rejections"],
        json!({"bird_401": 4, "bird_404": 3, "bird_400": 2})
    );
    assert_eq!(stats["senders"][DEFAULT_CHANNEL]["accepted"], 2);
    assert_eq!(stats["senders"][other_channel]["accepted"], 1);

    let err = MockGatewayProcess::spawn(
        env!("CARGO_BIN_EXE_mock-gateway"),
        &["--bird-workspace", "my-workspace"],
    )
    .expect_err("a workspace that is not a UUID stops the gateway");
    assert!(format!("{err:#}").contains("my-workspace"), "{err:#}");
}

#[tokio::test]
async fn bird_template_files_add_approved_templates() {
    let dir = tempfile::tempdir().expect("temp dir");
    let project = "3f2e1d0c-9b8a-4776-a5b4-c3d2e1f0a9b8";
    let version = "8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d";
    let toml_path = dir.path().join("bird.toml");
    std::fs::write(
        &toml_path,
        format!(
            r#"
[[templates]]
project_id = "{project}"
version = "{version}"
locale = "en"
name = "shipping_update"
parameters = ["name", "trackingUrl"]
"#
        ),
    )
    .expect("written");
    let json_path = dir.path().join("bird.json");
    std::fs::write(
        &json_path,
        format!(
            r#"{{"templates": [{{"project_id": "{project}", "version": "{version}", "locale": "en", "parameters": ["name", "trackingUrl"]}}]}}"#
        ),
    )
    .expect("written");

    for path in [&toml_path, &json_path] {
        let gateway = start(&["--bird-templates", path.to_str().expect("UTF-8")]);
        // The built-in templates stay.
        gateway
            .bird_accepted(&template(BUILTIN_TEXT, &[("name", "Max")]))
            .await;
        let shipping = template(
            (project, version, "en"),
            &[
                ("name", "Ann"),
                ("trackingUrl", "https://example.com/t/P-7"),
            ],
        );
        gateway.bird_accepted(&shipping).await;
        // Locales compare with - or _ alike and in either case; ids in either case.
        let mut upper = shipping.clone();
        upper["template"]["projectId"] = json!(project.to_uppercase());
        upper["template"]["locale"] = json!("EN");
        gateway.bird_accepted(&upper).await;
        let (path, why) = gateway
            .bird_refused(&template((project, version, "en"), &[("name", "Ann")]))
            .await;
        assert_eq!(path, "template.parameters");
        assert!(why.contains("\"trackingUrl\" has no value"), "{why}");
    }

    let broken = dir.path().join("broken.json");
    std::fs::write(
        &broken,
        r#"[{"project_id": "x", "version": "y", "locale": "en"}]"#,
    )
    .expect("written");
    let err = MockGatewayProcess::spawn(
        env!("CARGO_BIN_EXE_mock-gateway"),
        &["--bird-templates", broken.to_str().expect("UTF-8")],
    )
    .expect_err("a broken template file stops the gateway");
    assert!(format!("{err:#}").contains("broken.json"), "{err:#}");
}

#[tokio::test]
async fn bird_answers_5xx_reproducibly_with_a_seed_and_the_client_retries() {
    let gateway = start(&["--fail-5xx", "1.0"]);
    for _ in 0..5 {
        let status = gateway.bird(&text("Hi")).await.status();
        assert!(
            [500, 502, 503].contains(&status.as_u16()),
            "status {status}"
        );
    }
    let message: Valid<BirdMessage> = typed(text("Hi")).expect("reads");
    let outcome = typed_client(&gateway, DEFAULT_ACCESS_KEY)
        .send(&message)
        .await;
    assert!(
        matches!(outcome, Outcome::Retry { after: None, .. }),
        "{outcome:?}"
    );
    let stats = gateway.stats().await;
    assert_eq!(stats["injected_5xx"], 6);
    assert_eq!(stats["accepted"], 0);

    let mut runs = Vec::new();
    for _ in 0..2 {
        let gateway = start(&["--fail-5xx", "0.5", "--seed", "7"]);
        let mut statuses = Vec::new();
        for _ in 0..20 {
            statuses.push(gateway.bird(&text("Hi")).await.status().as_u16());
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1], "the same seed gives the same faults");
    assert!(
        runs[0].contains(&202) && runs[0].iter().any(|status| *status >= 500),
        "{:?}",
        runs[0]
    );
}

#[tokio::test]
async fn bird_rate_limits_answer_429_with_retry_after_globally_and_per_channel() {
    let gateway = start(&["--rate-limit", "5"]);
    align_to_second().await;
    let (mut n_ok, mut n_limited) = (0, 0);
    for _ in 0..20 {
        let response = gateway.bird(&text("Hi")).await;
        match response.status() {
            StatusCode::ACCEPTED => n_ok += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert_eq!(response.headers()["retry-after"], "1");
                let answer: Value = response.json().await.expect("a JSON answer");
                assert_eq!(answer["code"], "TooManyRequests");
                n_limited += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    // All 20 fall in one or (on a slow machine) two calendar seconds.
    assert!((5..=10).contains(&n_ok), "{n_ok} accepted");
    assert_eq!(gateway.stats().await["rate_limited"], n_limited);
    // The typed client reads the 429 as "rate limited: retry in 1 s".
    let message: Valid<BirdMessage> = typed(text("Hi")).expect("reads");
    let client = typed_client(&gateway, DEFAULT_ACCESS_KEY);
    let mut saw_retry = false;
    for _ in 0..10 {
        if let Outcome::RateLimited { after, .. } = client.send(&message).await {
            assert_eq!(after, Some(Duration::from_secs(1)));
            saw_retry = true;
            break;
        }
    }
    assert!(saw_retry, "ten sends in a row within a 5/s limit");

    let other_channel = "0f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f";
    let channels = format!("{DEFAULT_CHANNEL},{other_channel}");
    let gateway = start(&["--rate-limit-per-sender", "3", "--bird-channel", &channels]);
    align_to_second().await;
    for _ in 0..8 {
        for channel in [DEFAULT_CHANNEL, other_channel] {
            gateway
                .bird_at(
                    DEFAULT_WORKSPACE,
                    channel,
                    Some(DEFAULT_ACCESS_KEY),
                    &text("Hi"),
                )
                .await;
        }
    }
    let stats = gateway.stats().await;
    for channel in [DEFAULT_CHANNEL, other_channel] {
        let accepted = stats["senders"][channel]["accepted"]
            .as_u64()
            .expect("count");
        assert!(
            (3..=6).contains(&accepted),
            "{channel}: {accepted} accepted"
        );
    }
    assert_eq!(
        stats["rate_limited"].as_u64().expect("count") + stats["accepted"].as_u64().expect("count"),
        16
    );
}

#[tokio::test]
async fn bird_latency_delays_answers_and_a_hang_is_unknown_to_the_client() {
    let gateway = start(&["--latency", "150"]);
    let started = Instant::now();
    gateway.bird_accepted(&text("Hi")).await;
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(150), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1050), "{elapsed:?}");

    let gateway = start(&["--hang", "1.0"]);
    let message: Valid<BirdMessage> = typed(text("Hi")).expect("reads");
    let outcome = typed_client(&gateway, DEFAULT_ACCESS_KEY)
        .send(&message)
        .await;
    assert!(
        matches!(outcome, Outcome::Unknown { ref reason } if reason.contains("no answer in time")),
        "{outcome:?}"
    );
    let stats = gateway.stats().await;
    assert_eq!(stats["hung"], 1);
    assert_eq!(stats["accepted"], 0);
}
