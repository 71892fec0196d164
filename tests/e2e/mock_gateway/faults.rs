//! Injected faults: 5xx, rate limits with Retry-After, latency, hangs and error bodies.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::mock_gateway::{KEY, SENDER, align_to_second, start, template};

#[tokio::test]
async fn fail_5xx_answers_server_errors_reproducibly_with_a_seed() {
    let gateway = start(&["--fail-5xx", "1.0"]);
    for _ in 0..10 {
        let status = gateway
            .post_raw("/api/waba/messages", Some(KEY), &template("hello_world"))
            .await
            .status();
        assert!(
            [500, 502, 503].contains(&status.as_u16()),
            "status {status}"
        );
    }
    let stats = gateway.stats().await;
    assert_eq!(stats["injected_5xx"], 10);
    assert_eq!(stats["accepted"], 0);

    let mut runs = Vec::new();
    for _ in 0..2 {
        let gateway = start(&["--fail-5xx", "0.5", "--seed", "42"]);
        let mut statuses = Vec::new();
        for _ in 0..30 {
            let response = gateway
                .post_raw("/api/waba/messages", Some(KEY), &template("hello_world"))
                .await;
            statuses.push(response.status().as_u16());
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1], "the same seed gives the same faults");
    assert!(
        runs[0].contains(&200) && runs[0].iter().any(|status| *status >= 500),
        "{:?}",
        runs[0]
    );
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let gateway = start(&["--rate-limit", "5"]);
    align_to_second().await;
    let (mut n_ok, mut n_limited) = (0, 0);
    for _ in 0..20 {
        let response = gateway
            .post_raw("/api/waba/messages", Some(KEY), &template("hello_world"))
            .await;
        match response.status() {
            StatusCode::OK => n_ok += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert_eq!(response.headers()["retry-after"], "1");
                n_limited += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    // All 20 fall in one or (on a slow machine) two calendar seconds.
    assert!((5..=10).contains(&n_ok), "{n_ok} accepted");
    assert_eq!(n_ok + n_limited, 20);
    assert_eq!(gateway.stats().await["rate_limited"], n_limited);

    let other = "4915100000002";
    let sender_list = format!("{SENDER},{other}");
    let gateway = start(&["--rate-limit-per-sender", "3", "--senders", &sender_list]);
    align_to_second().await;
    for _ in 0..8 {
        for from in [SENDER, other] {
            let mut body = template("hello_world");
            body["from"] = json!(from);
            gateway
                .post_raw("/api/waba/messages", Some(KEY), &body)
                .await;
        }
    }
    let stats = gateway.stats().await;
    for from in [SENDER, other] {
        let accepted = stats["senders"][from]["accepted"].as_u64().expect("count");
        assert!((3..=6).contains(&accepted), "{from}: {accepted} accepted");
    }
    assert_eq!(
        stats["rate_limited"].as_u64().expect("count") + stats["accepted"].as_u64().expect("count"),
        16
    );
}

#[tokio::test]
async fn latency_delays_every_answer() {
    let fixed = start(&["--latency", "150"]);
    let ranged = start(&["--latency", "50-100"]);
    for (gateway, at_least) in [(&fixed, 150), (&ranged, 50)] {
        let started = Instant::now();
        gateway.accepted(&template("hello_world")).await;
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(at_least), "{elapsed:?}");
        assert!(
            elapsed < Duration::from_millis(at_least + 900),
            "{elapsed:?}"
        );
    }
    // Control endpoints answer at once.
    let started = Instant::now();
    fixed.stats().await;
    assert!(started.elapsed() < Duration::from_millis(150));
}

#[tokio::test]
async fn hang_never_answers_but_stats_do() {
    let gateway = start(&["--hang", "1.0"]);
    let result = gateway
        .http
        .post(format!("{}/api/waba/messages", gateway.url))
        .header("X-Api-Key", KEY)
        .json(&template("hello_world"))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    let err = result.expect_err("a hung request times out");
    assert!(err.is_timeout(), "{err}");
    let stats = gateway.stats().await;
    assert_eq!(stats["hung"], 1);
    assert_eq!(stats["accepted"], 0);
}

#[tokio::test]
async fn error_body_mode_answers_200_with_an_error_code() {
    let gateway = start(&["--error-body", "1.0", "--error-body-code", "7002001"]);
    let message = gateway.refused(&template("hello_world"), "7002001").await;
    assert!(message.contains("injected"), "{message}");
    let stats = gateway.stats().await;
    assert_eq!(stats["error_bodies"], 1);
    assert_eq!(stats["accepted"], 0);
}
