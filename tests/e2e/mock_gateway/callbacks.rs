//! The mock's delivery callbacks, received by a small axum server in the test that records
//! every request: each provider's payload shapes, signatures recomputed here from the
//! providers' rules (not with the mock's code), delays, duplicates, reordering, drops, forged
//! signatures, and retries after a 503 or a refused connection.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use md5::Md5;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wacast_tests::gateway::bird::DEFAULT_CHANNEL;

use crate::mock_gateway::{Gateway, RECIPIENT, SENDER, start, template};

const SEVEN_KEY: &str = "seven-signing-secret";
const BIRD_KEY: &str = "bird-signing-secret";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
    at: Instant,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a callback body is JSON")
    }
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    /// Requests still to answer 503.
    fail_next: AtomicUsize,
}

/// The test's stand-in for wacast's hooks listener.
struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

async fn hook(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    shared
        .received
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Received {
            path: uri.path().to_owned(),
            headers,
            body,
            at: Instant::now(),
        });
    let failing = shared
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

impl Receiver {
    async fn start(fail_first: usize) -> Receiver {
        let shared = Arc::new(Shared::default());
        shared.fail_next.store(fail_first, Ordering::SeqCst);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the receiver binds");
        let addr = listener.local_addr().expect("an address");
        let app = Router::new()
            .route("/hooks/seven", post(hook))
            .route("/hooks/bird", post(hook))
            .with_state(Arc::clone(&shared));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { addr, shared }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn received(&self) -> Vec<Received> {
        self.shared
            .received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Starts the mock sending callbacks to `receiver`, signed with both keys, plus `args`.
fn mock(receiver: &Receiver, args: &[&str]) -> Gateway {
    let url = receiver.url();
    let mut all = vec![
        "--callback-url",
        &url,
        "--seven-signing-key",
        SEVEN_KEY,
        "--bird-signing-key",
        BIRD_KEY,
        "--callback-delay",
        "100ms",
    ];
    all.extend_from_slice(args);
    start(&all)
}

impl Gateway {
    /// Sends a seven template message with `foreign_id`; returns the mock's message id.
    async fn seven_sent(&self, foreign_id: &str) -> String {
        let mut body = template("hello_world");
        body["foreign_id"] = json!(foreign_id);
        let answer = self.accepted(&body).await;
        answer["id"].as_str().expect("an id").to_owned()
    }

    /// Sends a Bird text message with `reference`; returns Bird's message id.
    async fn bird_sent(&self, reference: &str) -> String {
        let body = json!({
            "receiver": {"contacts": [{"identifierKey": "phonenumber", "identifierValue": format!("+{RECIPIENT}")}]},
            "body": {"type": "text", "text": {"text": "Hallo"}},
            "reference": reference,
        });
        let answer = self.bird_accepted(&body).await;
        answer["id"].as_str().expect("an id").to_owned()
    }

    /// Waits until no callback is pending; returns `/stats` `callbacks`.
    async fn callbacks_done(&self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let callbacks = self.stats().await["callbacks"].clone();
            if callbacks["pending"] == 0 {
                return callbacks;
            }
            assert!(
                Instant::now() < deadline,
                "callbacks still pending: {callbacks}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn header<'a>(received: &'a Received, name: &str) -> &'a str {
    received
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("{} lacks {name}", received.path))
        .to_str()
        .expect("an ASCII header")
}

fn mac(key: &str) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length")
}

/// Whether a callback carries a valid signature, recomputed from the providers' rules.
fn verifies(received: &Received, base_url: &str) -> bool {
    let url = format!("{base_url}{}", received.path);
    let now = chrono::Utc::now().timestamp();
    if received.path == "/hooks/bird" {
        let timestamp = header(received, "messagebird-request-timestamp");
        assert!((now - timestamp.parse::<i64>().expect("seconds")).abs() < 60);
        let mut mac = mac(BIRD_KEY);
        mac.update(format!("{timestamp}\n{url}\n").as_bytes());
        mac.update(&Sha256::digest(&received.body));
        let signature = BASE64
            .decode(header(received, "messagebird-signature"))
            .expect("base64");
        mac.verify_slice(&signature).is_ok()
    } else {
        let timestamp = header(received, "x-timestamp");
        assert!((now - timestamp.parse::<i64>().expect("seconds")).abs() < 60);
        let nonce = header(received, "x-nonce");
        assert!(nonce.len() == 32 && nonce.bytes().all(|b| b.is_ascii_alphanumeric()));
        let body_md5 = hex::encode(Md5::digest(&received.body));
        let mut mac = mac(SEVEN_KEY);
        mac.update(format!("{timestamp}\n{nonce}\nPOST\n{url}\n{body_md5}").as_bytes());
        hex::encode(mac.finalize().into_bytes()) == header(received, "x-signature")
    }
}

#[tokio::test]
async fn callbacks_have_each_providers_shape_and_signature_and_come_after_the_delay() {
    let receiver = Receiver::start(0).await;
    let gateway = mock(
        &receiver,
        &[
            "--read-share",
            "1",
            "--reply-share",
            "1",
            "--stop-share",
            "1",
            "--callback-price",
            "0.0821",
        ],
    );
    let sent_at = Instant::now();
    let seven_id = gateway.seven_sent("camp.1").await;
    let bird_id = gateway.bird_sent("camp.2").await;
    let stats = gateway.callbacks_done().await;
    assert_eq!(
        stats["acknowledged"],
        json!({"delivered": 2, "read": 2, "stop": 2}),
        "{stats}"
    );

    let received = receiver.received();
    assert_eq!(received.len(), 6, "{received:?}");
    for callback in &received {
        assert!(verifies(callback, &receiver.url()), "{callback:?}");
        assert!(
            callback.at - sent_at >= Duration::from_millis(50),
            "{callback:?}"
        );
    }
    let bodies = |path: &str| -> Vec<Value> {
        received
            .iter()
            .filter(|r| r.path == path)
            .map(Received::json)
            .collect()
    };

    let seven = bodies("/hooks/seven");
    let status = |body: &Value| body["data"]["status"].as_str().map(str::to_owned);
    assert_eq!(seven[0]["webhook_event"], "whatsapp_status");
    assert!(seven[0]["webhook_timestamp"].is_i64());
    assert_eq!(seven[0]["data"]["msg_id"], seven_id.as_str());
    assert_eq!(seven[0]["data"]["foreign_id"], "camp.1");
    assert_eq!(status(&seven[0]).as_deref(), Some("delivered"));
    assert_eq!(seven[0]["data"]["price"], 0.0821);
    assert!(
        seven[0]["data"]["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(status(&seven[1]).as_deref(), Some("read"));
    assert_eq!(seven[1]["data"]["msg_id"], seven_id.as_str());
    assert_eq!(seven[2]["webhook_event"], "wa_mo");
    assert_eq!(seven[2]["data"]["from"], RECIPIENT);
    assert_eq!(seven[2]["data"]["to"], SENDER);
    assert_eq!(
        seven[2]["data"]["message"],
        json!({"type": "text", "text": "STOP"})
    );

    let bird = bodies("/hooks/bird");
    assert_eq!(bird[0]["service"], "channels");
    assert_eq!(bird[0]["event"], "whatsapp.outbound");
    let payload = &bird[0]["payload"];
    assert_eq!(payload["id"], bird_id.as_str());
    assert_eq!(payload["channelId"], DEFAULT_CHANNEL);
    assert_eq!(payload["status"], "delivered");
    assert_eq!(payload["reference"], "camp.2");
    assert_eq!(
        payload["price"],
        json!({"amount": 0.0821, "currencyCode": "EUR"})
    );
    assert!(
        payload["lastStatusAt"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(bird[1]["event"], "whatsapp.interaction");
    assert_eq!(bird[1]["payload"]["messageId"], bird_id.as_str());
    assert_eq!(bird[1]["payload"]["type"], "read");
    assert_eq!(bird[2]["event"], "whatsapp.inbound");
    assert_eq!(bird[2]["payload"]["channelId"], DEFAULT_CHANNEL);
    assert_eq!(
        bird[2]["payload"]["sender"]["contact"]["identifierValue"],
        format!("+{RECIPIENT}")
    );
    assert_eq!(bird[2]["payload"]["body"]["text"]["text"], "STOP");
}

#[tokio::test]
async fn late_failures_carry_the_code_and_whatsapps_reason() {
    let receiver = Receiver::start(0).await;
    let gateway = mock(
        &receiver,
        &[
            "--late-failure-share",
            "1",
            "--late-failure-codes",
            "131050",
            "--read-share",
            "1",
        ],
    );
    gateway.seven_sent("camp.3").await;
    gateway.bird_sent("camp.4").await;
    let stats = gateway.callbacks_done().await;
    assert_eq!(stats["acknowledged"], json!({"failed": 2}), "{stats}");
    assert_eq!(stats["failed_codes"], json!({"131050": 2}));
    let received = receiver.received();
    let seven = received
        .iter()
        .find(|r| r.path == "/hooks/seven")
        .expect("seven's")
        .json();
    assert_eq!(seven["data"]["status"], "failed");
    assert_eq!(seven["data"]["error_code"], "131050");
    assert!(
        seven["data"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("stop receiving marketing"))
    );
    let bird = received
        .iter()
        .find(|r| r.path == "/hooks/bird")
        .expect("Bird's")
        .json();
    assert_eq!(bird["payload"]["status"], "failed");
    assert_eq!(bird["payload"]["failure"]["code"], 131_050);
}

#[tokio::test]
async fn duplicates_reordering_forgeries_and_drops_are_injected_and_counted() {
    let receiver = Receiver::start(0).await;
    let gateway = mock(
        &receiver,
        &[
            "--read-share",
            "1",
            "--callback-reorder",
            "1",
            "--callback-duplicate-share",
            "1",
            "--bad-signature-share",
            "1",
        ],
    );
    gateway.seven_sent("camp.5").await;
    let stats = gateway.callbacks_done().await;
    let received = receiver.received();
    // Per event: a forged copy, the callback, its duplicate.
    let summary: Vec<(String, bool)> = received
        .iter()
        .map(|r| {
            (
                r.json()["data"]["status"]
                    .as_str()
                    .expect("a status")
                    .to_owned(),
                verifies(r, &receiver.url()),
            )
        })
        .collect();
    let expected = [
        ("read", false),
        ("read", true),
        ("read", true),
        ("delivered", false),
        ("delivered", true),
        ("delivered", true),
    ];
    assert_eq!(
        summary,
        expected.map(|(status, valid)| (status.to_owned(), valid)),
        "the read overtakes the delivery; each comes forged first, then twice"
    );
    assert_eq!(
        received[1].body, received[2].body,
        "a duplicate is the same body"
    );
    assert_eq!(stats["duplicates"], 2);
    assert_eq!(stats["forged"], 2);
    assert_eq!(stats["requests"], 6);
    assert_eq!(stats["acknowledged"], json!({"delivered": 1, "read": 1}));

    let dropping = Receiver::start(0).await;
    let gateway = mock(&dropping, &["--callback-drop-share", "1"]);
    gateway.seven_sent("camp.6").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stats = gateway.callbacks_done().await;
    assert!(dropping.received().is_empty());
    assert_eq!(stats["planned"], json!({"delivered": 1}));
    assert_eq!(stats["dropped"], json!({"delivered": 1}));
    assert_eq!(stats["requests"], 0);
}

#[tokio::test]
async fn a_503_is_retried_until_answered_and_a_dead_receiver_is_given_up_on() {
    let receiver = Receiver::start(2).await;
    let gateway = mock(&receiver, &[]);
    gateway.seven_sent("camp.7").await;
    let stats = gateway.callbacks_done().await;
    let received = receiver.received();
    assert_eq!(received.len(), 3);
    assert!(received.iter().all(|r| r.body == received[0].body));
    assert!(received[2].at - received[1].at >= received[1].at - received[0].at);
    let nonces: Vec<&str> = received.iter().map(|r| header(r, "x-nonce")).collect();
    assert!(
        nonces[0] != nonces[1] && nonces[1] != nonces[2],
        "a fresh nonce per attempt"
    );
    assert_eq!(stats["answers"], json!({"200": 1, "503": 2}));
    assert_eq!(stats["retried"], 2);
    assert_eq!(stats["acknowledged"], json!({"delivered": 1}));

    // Nothing listens on a port just freed: connections are refused until the retry time ends.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("binds")
        .local_addr()
        .expect("addr");
    let url = format!("http://{free}");
    let gateway = start(&[
        "--callback-url",
        &url,
        "--callback-delay",
        "10ms",
        "--callback-retry-for",
        "1s",
    ]);
    gateway.seven_sent("camp.8").await;
    let stats = gateway.callbacks_done().await;
    assert_eq!(stats["gave_up"], json!({"delivered": 1}), "{stats}");
    assert!(
        stats["answers"]["error"].as_u64().is_some_and(|n| n >= 2),
        "{stats}"
    );
}
