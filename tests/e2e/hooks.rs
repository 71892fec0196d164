//! The callbacks endpoint of a real `wacast-worker` process (`--hooks-addr`): signed callbacks
//! are answered 200 once recorded, bad signatures, stale timestamps, replayed nonces and
//! providers without a key 401, unparsable bodies 400, large ones 413, floods of failures 429,
//! and everything 503 while Redis is down. The recording itself is the queue's; these tests
//! check the answers and the metrics, signing as the providers do (the URL they sign is the
//! public one, not the loopback address the test posts to, as behind a proxy).

use std::net::TcpListener;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use secrecy::SecretString;
use serde_json::{Value, json};
use wacast_shared::provider::{bird, seven};
use wacast_shared::testing::TestRedis;
use wacast_tests::ChildGuard;

use crate::support::{Keys, worker_command};

/// The URL the providers are told to call, behind the operator's TLS proxy.
const PUBLIC_URL: &str = "https://wacast.example.com";
const SEVEN_KEY: &str = "seven-webhook-secret";
const BIRD_KEY: &str = "bird-webhook-secret";
/// No campaign is sent in these tests: the worker's provider endpoints are never called.
const NO_GATEWAY: &str = "http://127.0.0.1:9";

/// A worker with its callbacks and metrics listeners.
struct HooksWorker {
    worker: ChildGuard,
    hooks: String,
    metrics: String,
    client: reqwest::Client,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Starts a worker serving callbacks with these signing keys (set through their environment
/// variables) and `extra` flags, and waits until its callbacks listener answers.
async fn start(
    redis: &TestRedis,
    seven_key: Option<&str>,
    bird_key: Option<&str>,
    extra: &[&str],
) -> HooksWorker {
    let hooks_addr = format!("127.0.0.1:{}", free_port());
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let mut command: Command = worker_command(&redis.url, &redis.prefix, NO_GATEWAY, Keys::BOTH);
    command
        .args([
            "--hooks-addr",
            &hooks_addr,
            "--hooks-public-url",
            PUBLIC_URL,
        ])
        .args(["--metrics-addr", &metrics_addr])
        .args(extra)
        .env("RUST_LOG", "info");
    for (var, key) in [
        ("WACAST_SEVEN_SIGNING_KEY", seven_key),
        ("WACAST_BIRD_SIGNING_KEY", bird_key),
    ] {
        if let Some(key) = key {
            command.env(var, key);
        }
    }
    let mut worker = ChildGuard::spawn_daemon(command).expect("wacast-worker starts");
    let hooks = format!("http://{hooks_addr}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    // A GET is refused with 405 once the routes are served.
    while client
        .get(format!("{hooks}/hooks/seven"))
        .send()
        .await
        .map(|answer| answer.status().as_u16())
        .ok()
        != Some(405)
    {
        if let Ok(Some(status)) = worker.try_wait() {
            panic!("the worker exited ({status}):\n{}", worker.stderr());
        }
        assert!(
            Instant::now() < deadline,
            "the callbacks listener did not come up:\n{}",
            worker.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    HooksWorker {
        worker,
        hooks,
        metrics: format!("http://{metrics_addr}/metrics"),
        client,
    }
}

/// A fresh seven nonce: 32 alphanumerics.
fn nonce() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("n{:031}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn now() -> i64 {
    Utc::now().timestamp()
}

/// A signed seven request: the body, signed at `timestamp` with `nonce` and `key`.
struct SevenRequest {
    body: Vec<u8>,
    timestamp: i64,
    nonce: String,
    signature: String,
}

impl SevenRequest {
    fn new(key: &str, body: &Value) -> SevenRequest {
        SevenRequest::signed_at(key, body.to_string().into_bytes(), now(), nonce())
    }

    fn signed_at(key: &str, body: Vec<u8>, timestamp: i64, nonce: String) -> SevenRequest {
        let url = format!("{PUBLIC_URL}/hooks/seven");
        let signature =
            seven::signature::sign(&SecretString::from(key), timestamp, &nonce, &url, &body);
        SevenRequest {
            body,
            timestamp,
            nonce,
            signature,
        }
    }
}

impl HooksWorker {
    async fn post(&self, path: &str, headers: &[(&str, String)], body: Vec<u8>) -> u16 {
        let mut request = self
            .client
            .post(format!("{}{path}", self.hooks))
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        match request.send().await {
            Ok(answer) => answer.status().as_u16(),
            Err(error) => panic!("POST {path} failed: {error}\n{}", self.worker.stderr()),
        }
    }

    async fn seven(&self, request: &SevenRequest) -> u16 {
        let headers = [
            (
                seven::signature::SIGNATURE_HEADER,
                request.signature.clone(),
            ),
            (
                seven::signature::TIMESTAMP_HEADER,
                request.timestamp.to_string(),
            ),
            (seven::signature::NONCE_HEADER, request.nonce.clone()),
        ];
        self.post("/hooks/seven", &headers, request.body.clone())
            .await
    }

    /// A Bird request signed with `key` at `timestamp`.
    async fn bird_at(&self, key: &str, body: Vec<u8>, timestamp: i64) -> u16 {
        let url = format!("{PUBLIC_URL}/hooks/bird");
        let signature = bird::signature::sign(&SecretString::from(key), timestamp, &url, &body);
        let headers = [
            (bird::signature::SIGNATURE_HEADER, signature),
            (bird::signature::TIMESTAMP_HEADER, timestamp.to_string()),
        ];
        self.post("/hooks/bird", &headers, body).await
    }

    async fn bird(&self, key: &str, body: &Value) -> u16 {
        self.bird_at(key, body.to_string().into_bytes(), now())
            .await
    }

    /// `wacast_callbacks_total` of one provider, event and result (0 when never counted).
    async fn callbacks(&self, provider: &str, event: &str, result: &str) -> u64 {
        let text = reqwest::get(&self.metrics)
            .await
            .expect("the worker serves /metrics")
            .text()
            .await
            .expect("/metrics is text");
        let labels = [
            format!("provider=\"{provider}\""),
            format!("event=\"{event}\""),
            format!("result=\"{result}\""),
        ];
        text.lines()
            .filter(|line| line.starts_with("wacast_callbacks_total{"))
            .filter(|line| labels.iter().all(|label| line.contains(label.as_str())))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }
}

fn seven_status(reference: &str, status: &str) -> Value {
    json!({"webhook_event": "whatsapp_status", "webhook_timestamp": now(),
           "data": {"msg_id": "77001", "foreign_id": reference, "status": status,
                    "timestamp": "2026-12-04T10:00:00Z"}})
}

fn seven_inbound(text: &str) -> Value {
    json!({"webhook_event": "wa_mo", "webhook_timestamp": now(),
           "data": {"id": "m1", "from": "491701234567", "to": "4915112345678",
                    "timestamp": "2026-12-04T10:00:00Z",
                    "message": {"type": "text", "text": text}}})
}

fn bird_status(reference: &str, status: &str) -> Value {
    json!({"service": "channels", "event": "whatsapp.outbound",
           "payload": {"id": "0f5a1f0e-1b7c-4d2e-9a53-5c1d2b7e8f90",
                       "channelId": "8e1c4c3b-5f0e-4c65-9b5e-1f2a3b4c5d6e",
                       "status": status, "reference": reference,
                       "lastStatusAt": "2026-12-04T10:00:00.000Z"}})
}

fn bird_inbound(text: &str) -> Value {
    json!({"service": "channels", "event": "whatsapp.inbound",
           "payload": {"id": "i1", "channelId": "8e1c4c3b-5f0e-4c65-9b5e-1f2a3b4c5d6e",
                       "sender": {"contact": {"identifierKey": "phonenumber",
                                              "identifierValue": "+491701234567"}},
                       "body": {"type": "text", "text": {"text": text}},
                       "createdAt": "2026-12-04T10:00:00.000Z"}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_callbacks_are_answered_and_bad_ones_refused() {
    let redis = TestRedis::shared().await;
    let hooks = start(&redis, Some(SEVEN_KEY), Some(BIRD_KEY), &[]).await;

    // Correctly signed: recorded (no campaign "gone" exists, so its statuses match nothing).
    let delivered = SevenRequest::new(SEVEN_KEY, &seven_status("gone.1", "delivered"));
    assert_eq!(hooks.seven(&delivered).await, 200);
    let reply = SevenRequest::new(SEVEN_KEY, &seven_inbound("hello"));
    assert_eq!(hooks.seven(&reply).await, 200);
    assert_eq!(
        hooks.bird(BIRD_KEY, &bird_status("gone.2", "read")).await,
        200
    );
    assert_eq!(hooks.bird(BIRD_KEY, &bird_inbound("hello")).await, 200);
    // No delivery news: answered, nothing to record.
    let sent = SevenRequest::new(SEVEN_KEY, &seven_status("gone.1", "sent"));
    assert_eq!(hooks.seven(&sent).await, 200);

    // The same request again: its nonce was used.
    assert_eq!(hooks.seven(&delivered).await, 401, "a replayed nonce");
    // Another key.
    let forged = SevenRequest::new("not-the-key", &seven_status("gone.1", "read"));
    assert_eq!(hooks.seven(&forged).await, 401, "a wrong seven signature");
    assert_eq!(
        hooks
            .bird("not-the-key", &bird_status("gone.2", "delivered"))
            .await,
        401,
        "a wrong Bird signature"
    );
    // Signed correctly, but ten minutes ago (or ahead).
    let stale = SevenRequest::signed_at(
        SEVEN_KEY,
        seven_status("gone.1", "read").to_string().into_bytes(),
        now() - 600,
        nonce(),
    );
    assert_eq!(hooks.seven(&stale).await, 401, "a stale seven timestamp");
    let body = bird_status("gone.2", "delivered").to_string().into_bytes();
    assert_eq!(
        hooks.bird_at(BIRD_KEY, body.clone(), now() - 600).await,
        401,
        "a stale Bird timestamp"
    );
    assert_eq!(
        hooks.bird_at(BIRD_KEY, body.clone(), now() + 600).await,
        401,
        "a Bird timestamp from the future"
    );
    // No signature at all.
    assert_eq!(hooks.post("/hooks/bird", &[], body).await, 401);

    // Signed, but not a callback.
    let garbage = SevenRequest::signed_at(SEVEN_KEY, b"{not json".to_vec(), now(), nonce());
    assert_eq!(hooks.seven(&garbage).await, 400, "unparsable seven body");
    assert_eq!(
        hooks.bird_at(BIRD_KEY, b"[]".to_vec(), now()).await,
        400,
        "unparsable Bird body"
    );
    // 70 KiB: refused before anything else is read.
    let mut large = bird_status("gone.2", "delivered");
    large["payload"]["padding"] = json!("x".repeat(70 * 1024));
    assert_eq!(hooks.bird(BIRD_KEY, &large).await, 413);

    // What the operator sees on /metrics.
    let matched = |results: [u64; 3]| results.iter().sum::<u64>();
    assert_eq!(hooks.callbacks("seven", "status", "unmatched").await, 1);
    assert_eq!(hooks.callbacks("bird", "status", "unmatched").await, 1);
    for provider in ["seven", "bird"] {
        let mut results = [0; 3];
        for (i, result) in ["recorded", "duplicate", "unmatched"].iter().enumerate() {
            results[i] = hooks.callbacks(provider, "inbound", result).await;
        }
        assert_eq!(
            matched(results),
            1,
            "{provider}'s inbound message: {results:?}"
        );
    }
    assert_eq!(hooks.callbacks("seven", "other", "ignored").await, 1);
    assert_eq!(hooks.callbacks("seven", "other", "bad_signature").await, 3);
    assert_eq!(hooks.callbacks("bird", "other", "bad_signature").await, 4);
    assert_eq!(hooks.callbacks("seven", "other", "unparsable").await, 1);
    assert_eq!(hooks.callbacks("bird", "other", "unparsable").await, 1);
    assert_eq!(hooks.callbacks("bird", "other", "refused").await, 1);
    assert!(
        hooks
            .worker
            .stderr()
            .contains("Receiving callbacks on /hooks/seven and /hooks/bird."),
        "{}",
        hooks.worker.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_without_a_signing_key_is_refused_unless_unsigned_is_allowed() {
    let redis = TestRedis::shared().await;
    // Only Bird's key: seven's endpoint refuses everything, whatever it is signed with.
    let hooks = start(&redis, None, Some(BIRD_KEY), &[]).await;
    let request = SevenRequest::new(SEVEN_KEY, &seven_status("gone.1", "delivered"));
    assert_eq!(hooks.seven(&request).await, 401);
    let unsigned = seven_status("gone.1", "delivered").to_string().into_bytes();
    assert_eq!(hooks.post("/hooks/seven", &[], unsigned.clone()).await, 401);
    assert_eq!(hooks.callbacks("seven", "other", "refused").await, 2);
    assert_eq!(
        hooks.bird(BIRD_KEY, &bird_status("gone.2", "read")).await,
        200
    );
    drop(hooks);

    // Allowed unsigned: seven's endpoint takes anything that parses, with one warning at
    // start; Bird's, which has a key, still checks it.
    let hooks = start(&redis, None, Some(BIRD_KEY), &["--hooks-allow-unsigned"]).await;
    assert_eq!(hooks.post("/hooks/seven", &[], unsigned).await, 200);
    let bird_unsigned = bird_status("gone.2", "read").to_string().into_bytes();
    assert_eq!(hooks.post("/hooks/bird", &[], bird_unsigned).await, 401);
    let stderr = hooks.worker.stderr();
    assert_eq!(
        stderr.matches("Accepting unsigned callbacks").count(),
        1,
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_bad_requests_is_turned_away_with_429() {
    let redis = TestRedis::shared().await;
    let hooks = start(&redis, Some(SEVEN_KEY), Some(BIRD_KEY), &[]).await;
    let started = Instant::now();
    let (mut refused, mut limited) = (0u64, 0u64);
    for _ in 0..300 {
        let forged = SevenRequest::new("not-the-key", &seven_status("gone.1", "read"));
        match hooks.seven(&forged).await {
            401 => refused += 1,
            429 => limited += 1,
            other => panic!("a forged request got {other}"),
        }
    }
    let allowed = 50 + 20 * started.elapsed().as_secs() + 20;
    assert!(limited > 0, "no 429 among 300 forged requests");
    assert!(
        refused <= allowed,
        "{refused} forged requests were verified, at most {allowed} should be"
    );
    // A good request from the flooding address waits its turn too, then goes through.
    let good = SevenRequest::new(SEVEN_KEY, &seven_status("gone.1", "delivered"));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match hooks.seven(&good).await {
            200 => break,
            429 if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => panic!("the good request got {other}"),
        }
    }
    assert!(hooks.callbacks("seven", "other", "refused").await >= limited);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_get_503_while_redis_is_down_and_their_retry_is_recorded() {
    let mut server = TestRedis::dedicated().await;
    let redis = server.test_redis();
    let hooks = start(&redis, Some(SEVEN_KEY), None, &[]).await;
    let first = SevenRequest::new(SEVEN_KEY, &seven_status("gone.1", "delivered"));
    assert_eq!(hooks.seven(&first).await, 200);

    server.kill();
    let during = SevenRequest::new(SEVEN_KEY, &seven_status("gone.2", "delivered"));
    assert_eq!(hooks.seven(&during).await, 503, "Redis is down");
    assert_eq!(hooks.callbacks("seven", "status", "unavailable").await, 1);

    // The provider retries the same request: once Redis is back it is recorded.
    server.restart().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match hooks.seven(&during).await {
            200 => break,
            503 if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => panic!(
                "the retried callback got {other}:\n{}",
                hooks.worker.stderr()
            ),
        }
    }
    assert_eq!(hooks.callbacks("seven", "status", "unmatched").await, 2);
    let stderr = hooks.worker.stderr();
    assert!(
        stderr.contains("answering 503 until Redis is back"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_validates_the_callback_flags() {
    let redis = TestRedis::shared().await;
    let dir = tempfile::TempDir::new().unwrap();
    let key_file = dir.path().join("seven-signing-key");
    std::fs::write(&key_file, format!("{SEVEN_KEY}\n")).unwrap();
    let key_file = key_file.to_str().unwrap().to_string();
    let check = |flags: &[&str], bird_key: Option<&str>| {
        let mut command = worker_command(&redis.url, &redis.prefix, NO_GATEWAY, Keys::BOTH);
        command
            .arg("check-config")
            .args(flags)
            .env("RUST_LOG", "info");
        if let Some(key) = bird_key {
            command.env("WACAST_BIRD_SIGNING_KEY", key);
        }
        let output = command.output().expect("wacast-worker runs");
        (output.status.code(), without_colours(&output.stderr))
    };
    let hooks = ["--hooks-addr", "127.0.0.1:8470"];
    let public = ["--hooks-public-url", "https://wacast.example.com/"];
    let seven_key = ["--seven-signing-key-file", key_file.as_str()];

    let (code, stderr) = check(&[&hooks[..], &public, &seven_key].concat(), Some(BIRD_KEY));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "hooks=127.0.0.1:8470 signed=seven,bird allow_unsigned=false \
             public_url=https://wacast.example.com"
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains(SEVEN_KEY) && !stderr.contains(BIRD_KEY),
        "keys are never printed: {stderr}"
    );
    let (code, stderr) = check(&[], None);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("hooks=off"), "{stderr}");

    for (flags, bird_key, expect) in [
        (
            &[&hooks[..], &seven_key].concat(),
            None,
            "--hooks-public-url is needed",
        ),
        (
            &hooks[..].to_vec(),
            None,
            "without a signing key would refuse every callback",
        ),
        (
            &[&hooks[..], &["--hooks-public-url", "wacast.example.com"]].concat(),
            Some(BIRD_KEY),
            "must start with https://",
        ),
        (
            &[
                &hooks[..],
                &["--hooks-public-url", "https://w.example.com/hooks/bird"],
            ]
            .concat(),
            Some(BIRD_KEY),
            "without the /hooks/... path",
        ),
        (
            &[
                &hooks[..],
                &public,
                &["--seven-signing-key-file", "/nonexistent/key"],
            ]
            .concat(),
            None,
            "failed to read the seven signing key",
        ),
        (
            &[&hooks[..], &public, &["--reply-window", "soon"]].concat(),
            Some(BIRD_KEY),
            "is not a duration",
        ),
    ] {
        let (code, stderr) = check(flags, bird_key);
        assert_eq!(code, Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains(expect), "{flags:?}: {stderr}");
    }
}

/// The text of a log without its terminal colour codes (`ESC [ … m`).
fn without_colours(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
