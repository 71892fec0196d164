//! `mock-gateway` as a process: every seed example (here), every validation rule and error code
//! (`validation`), every injected fault (`faults`), deletes and the counters of `/stats`
//! (`counters`), the journal of requests (`journal`), the delivery callbacks (`callbacks`). The
//! helpers here are shared by the submodules.

mod bird;
mod callbacks;
mod counters;
mod faults;
mod journal;
mod validation;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use serde_json::{Value, json};
use wacast_tests::{ChildGuard, MockGatewayProcess};

const KEY: &str = "test-key";
const SENDER: &str = "4915112345678";
const RECIPIENT: &str = "4917612345678";

fn start(args: &[&str]) -> Gateway {
    let process = MockGatewayProcess::spawn(env!("CARGO_BIN_EXE_mock-gateway"), args)
        .expect("mock-gateway starts");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("the HTTP client builds");
    Gateway {
        url: process.url(),
        _process: process,
        http,
    }
}

struct Gateway {
    url: String,
    http: reqwest::Client,
    _process: MockGatewayProcess,
}

impl Gateway {
    async fn post_raw(&self, path: &str, key: Option<&str>, body: &Value) -> reqwest::Response {
        let mut request = self.http.post(format!("{}{path}", self.url)).json(body);
        if let Some(key) = key {
            request = request.header("X-Api-Key", key);
        }
        request.send().await.expect("the request is answered")
    }

    /// Sends a message with the right key and returns the body of the (HTTP 200) answer.
    async fn send(&self, body: &Value) -> Value {
        let response = self.post_raw("/api/waba/messages", Some(KEY), body).await;
        assert_eq!(response.status(), StatusCode::OK, "sending {body}");
        response.json().await.expect("a JSON answer")
    }

    /// Sends a message that must be accepted; returns its `messages[0]`.
    async fn accepted(&self, body: &Value) -> Value {
        let answer = self.send(body).await;
        assert_eq!(answer["success"], "100", "{body} was refused: {answer}");
        answer["messages"][0].clone()
    }

    /// Sends a message that must be refused with `code`; returns its error message.
    async fn refused(&self, body: &Value, code: &str) -> String {
        let answer = self.send(body).await;
        assert_eq!(answer["success"], code, "{body} answered {answer}");
        assert_eq!(answer["messages"], json!([]), "{answer}");
        answer["error_message"]
            .as_str()
            .expect("an error_message")
            .to_owned()
    }

    async fn event(&self, body: &Value) -> Value {
        let response = self.post_raw("/api/waba/events", Some(KEY), body).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("a JSON answer")
    }

    async fn delete(&self, id: &str, key: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .delete(format!("{}/api/waba/messages/{id}", self.url))
            .header("X-Api-Key", key)
            .send()
            .await
            .expect("the delete is answered");
        let status = response.status();
        (status, response.json().await.expect("a JSON answer"))
    }

    async fn get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("the control endpoint answers");
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("a JSON answer")
    }

    async fn stats(&self) -> Value {
        self.get("/stats").await
    }
}

fn template(name: &str) -> Value {
    json!({"from": SENDER, "to": RECIPIENT, "type": "template", "template": name, "language": "de"})
}

fn order_confirmation(name: &str, order: &str) -> Value {
    let mut body = template("order_confirmation");
    body["components"] = json!({
        "body": [name, order],
        "buttons": [{"type": "button", "sub_type": "url", "parameters": [{"type": "text", "text": order}]}],
    });
    body
}

fn text(to: &str, text: &str) -> Value {
    json!({"from": SENDER, "to": to, "text": text})
}

/// Every request example of the seed, by name.
fn seed_examples() -> Vec<(&'static str, Value)> {
    let with = |fields: Value| {
        let mut body = json!({"from": SENDER, "to": RECIPIENT});
        for (key, value) in fields.as_object().expect("fields are an object") {
            body[key] = value.clone();
        }
        body
    };
    let mut appointment = template("appointment_reminder");
    appointment["components"] = json!({
        "header": ["Appointment confirmation"],
        "body": ["Max Mustermann", "2026-02-15", "2:00 PM", "Dr. Smith"],
        "buttons": [{"type": "button", "sub_type": "url", "parameters": [{"type": "text", "text": "abc123"}]}],
    });
    let mut product = template("product_available");
    product["components"] =
        json!({"header": ["https://example.com/product.jpg"], "body": ["Premium Widget"]});
    vec![
        ("template", template("hello_world")),
        (
            "template with parameters",
            order_confirmation("Max Mustermann", "ORD-12345"),
        ),
        ("header + body + buttons", appointment),
        ("image header + body", product),
        (
            "freetext",
            text(
                RECIPIENT,
                "Thanks for your message, we will take care of it!",
            ),
        ),
        (
            "image",
            with(
                json!({"type": "image", "url": "https://example.com/photo.jpg", "caption": "Check out this image!"}),
            ),
        ),
        (
            "video",
            with(
                json!({"type": "video", "url": "https://example.com/video.mp4", "caption": "Watch this video"}),
            ),
        ),
        (
            "audio",
            with(json!({"type": "audio", "url": "https://example.com/audio.mp3"})),
        ),
        (
            "document",
            with(
                json!({"type": "document", "url": "https://example.com/invoice.pdf", "filename": "invoice.pdf", "caption": "Your invoice"}),
            ),
        ),
        (
            "sticker",
            with(json!({"type": "sticker", "url": "https://example.com/sticker.webp"})),
        ),
        (
            "location",
            with(
                json!({"type": "location", "latitude": 48.8566, "longitude": 2.3522, "name": "Eiffel Tower", "address": "5 Avenue Anatole France, 75007 Paris"}),
            ),
        ),
        (
            "contacts",
            with(json!({"type": "contacts", "contacts": [{
                "name": {"first_name": "John", "last_name": "Doe"},
                "phones": [{"phone": "+491234567890", "type": "cell"}],
            }]})),
        ),
        (
            "interactive buttons",
            with(json!({
                "type": "interactive", "interactive_type": "button",
                "body": "How can we help you?", "header": "Support", "footer": "Tap a button to choose",
                "buttons": [
                    {"id": "btn_sales", "title": "Sales"},
                    {"id": "btn_support", "title": "Support"},
                    {"id": "btn_other", "title": "Other"},
                ],
            })),
        ),
        (
            "interactive list",
            with(json!({
                "type": "interactive", "interactive_type": "list",
                "header": "Our Products", "body": "Browse our product categories:",
                "footer": "Select an option", "button_text": "View Options",
                "sections": [{"title": "Electronics", "rows": [
                    {"id": "phone_1", "title": "Smartphones", "description": "Latest models"},
                    {"id": "laptop_1", "title": "Laptops", "description": "Business & Gaming"},
                ]}],
            })),
        ),
    ]
}

/// Sleeps until just after the start of the next calendar second, so that a short burst of
/// requests falls into one second of the gateway's fixed windows.
async fn align_to_second() {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    let into_second = Duration::from_nanos(u64::from(since_epoch.subsec_nanos()));
    tokio::time::sleep(Duration::from_secs(1) - into_second + Duration::from_millis(5)).await;
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

#[tokio::test]
async fn every_seed_example_is_accepted_with_the_seed_response_shape() {
    let gateway = start(&["--all-windows-open"]);

    let answer = gateway.send(&template("hello_world")).await;
    let seed_answer = json!({
        "success": "100",
        "total_price": 0.0735,
        "balance": 999.9265,
        "debug": "false",
        "sms_type": "WA",
        "messages": [{
            "id": answer["messages"][0]["id"],
            "sender": SENDER,
            "recipient": RECIPIENT,
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
            "error_text": null,
        }],
    });
    assert_eq!(answer, seed_answer);

    let mut last_id: u64 = answer["messages"][0]["id"]
        .as_str()
        .expect("ids are strings")
        .parse()
        .expect("ids are numbers");
    for (name, body) in seed_examples() {
        let message = gateway.accepted(&body).await;
        let id: u64 = message["id"].as_str().expect("id").parse().expect("id");
        assert!(id > last_id, "{name}: id {id} after {last_id}");
        last_id = id;
        assert_eq!(message["recipient"], RECIPIENT, "{name}");
        assert_eq!(message["price"], 0.0735, "{name}");
        let content: Value =
            serde_json::from_str(message["text"].as_str().expect("text")).expect("text is JSON");
        let kind = body["type"].as_str().unwrap_or("text");
        assert_eq!(content["type"], kind, "{name}: {content}");
    }

    let mut labelled = order_confirmation("Max Mustermann", "ORD-12345");
    labelled["label"] = json!("spring.sale-2026_@x");
    let message = gateway.accepted(&labelled).await;
    assert_eq!(message["label"], "spring.sale-2026_@x");
    assert_eq!(
        serde_json::from_str::<Value>(message["text"].as_str().expect("text")).expect("JSON")["rendered"]
            ["body"],
        "Hallo Max Mustermann, deine Bestellung ORD-12345 ist bestätigt."
    );
    assert_eq!(message["encoding"], "ucs2");

    let stats = gateway.stats().await;
    assert_eq!(stats["accepted"], 16);
    assert_eq!(stats["requests"]["messages"], 16);
    assert_eq!(stats["rejections"], json!({}));
}

#[tokio::test]
async fn child_guard_kills_its_process_when_dropped() {
    let guard = ChildGuard::spawn(
        env!("CARGO_BIN_EXE_mock-gateway"),
        &["--port", "0"],
        &[("MOCK_API_KEY", "from-env")],
    )
    .expect("starts");
    let addr = guard
        .first_line()
        .strip_prefix("listening on ")
        .expect("the first line names the address")
        .to_owned();
    // The environment fallback is honoured.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let answer: Value = http
        .post(format!("http://{addr}/api/waba/messages"))
        .header("X-Api-Key", "from-env")
        .json(&template("hello_world"))
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("JSON");
    assert_eq!(answer["success"], "100");

    let pid = guard.id();
    drop(guard);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "process {pid} is gone"
    );
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "nothing listens on {addr} any more"
    );
}
