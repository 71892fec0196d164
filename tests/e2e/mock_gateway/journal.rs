//! `--journal`: a line per message request on arrival (before any fault) and per accepted
//! message, for seven's and Bird's endpoints; what the chaos soak reads.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;
use wacast_tests::gateway::bird::{DEFAULT_ACCESS_KEY, DEFAULT_CHANNEL, DEFAULT_WORKSPACE};
use wacast_tests::gateway::journal::{Entry, Event, Provider};

use crate::mock_gateway::{KEY, SENDER, start, template};

fn read(path: &std::path::Path) -> Vec<Entry> {
    std::fs::read_to_string(path)
        .expect("the journal exists")
        .lines()
        .map(|line| serde_json::from_str(line).expect("every line is an entry"))
        .collect()
}

fn unix_ms() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    i64::try_from(since_epoch.as_millis()).expect("milliseconds fit")
}

#[tokio::test]
async fn journal_records_requests_on_arrival_and_accepted_messages() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("journal.jsonl");
    let path_arg = path.to_str().expect("a UTF-8 path");
    // Every answer waits 300 ms: a request's line must carry its arrival, not its answer.
    let gateway = start(&["--journal", path_arg, "--latency", "300"]);

    let mut accepted = template("hello_world");
    accepted["foreign_id"] = json!("camp.1");
    let before_ms = unix_ms();
    gateway
        .post_raw("/api/waba/messages", Some(KEY), &accepted)
        .await;
    let mut refused = template("hello_world");
    refused["foreign_id"] = json!("camp.2");
    gateway
        .post_raw("/api/waba/messages", Some("wrong-key"), &refused)
        .await;
    let bird = json!({
        "receiver": {"contacts": [{"identifierKey": "phonenumber", "identifierValue": "+4917612345678"}]},
        "body": {"type": "text", "text": {"text": "Hi"}},
        "reference": "camp.3",
    });
    let status = gateway
        .http
        .post(format!(
            "{}/workspaces/{DEFAULT_WORKSPACE}/channels/{DEFAULT_CHANNEL}/messages",
            gateway.url
        ))
        .header("Authorization", format!("AccessKey {DEFAULT_ACCESS_KEY}"))
        .json(&bird)
        .send()
        .await
        .expect("answered")
        .status();
    assert_eq!(status, 202);

    let entries = read(&path);
    let summary: Vec<_> = entries
        .iter()
        .map(|e| (e.event, e.provider, e.sender.as_deref(), e.id.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            (
                Event::Request,
                Provider::Seven,
                Some(SENDER),
                Some("camp.1")
            ),
            (
                Event::Accepted,
                Provider::Seven,
                Some(SENDER),
                Some("camp.1")
            ),
            (
                Event::Request,
                Provider::Seven,
                Some(SENDER),
                Some("camp.2")
            ),
            (
                Event::Request,
                Provider::Bird,
                Some(DEFAULT_CHANNEL),
                Some("camp.3")
            ),
            (
                Event::Accepted,
                Provider::Bird,
                Some(DEFAULT_CHANNEL),
                Some("camp.3")
            ),
        ]
    );
    let (arrived, answered) = (entries[0].at_ms, entries[1].at_ms);
    assert!(
        arrived - before_ms < 250,
        "the request line is written on arrival: {arrived} vs sent at {before_ms}"
    );
    assert!(
        answered - arrived >= 300,
        "accepted after the latency: {answered} - {arrived}"
    );
}

#[tokio::test]
async fn journal_records_requests_that_are_never_answered() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("journal.jsonl");
    let gateway = start(&[
        "--journal",
        path.to_str().expect("a UTF-8 path"),
        "--hang",
        "1.0",
    ]);
    let mut body = template("hello_world");
    body["foreign_id"] = json!("camp.9");
    let started = Instant::now();
    let answer = gateway
        .http
        .post(format!("{}/api/waba/messages", gateway.url))
        .header("X-Api-Key", KEY)
        .timeout(Duration::from_millis(300))
        .json(&body)
        .send()
        .await;
    assert!(answer.is_err(), "a hung request gets no answer");
    assert!(started.elapsed() >= Duration::from_millis(300));

    let entries = read(&path);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].event, Event::Request);
    assert_eq!(entries[0].id.as_deref(), Some("camp.9"));
    assert_eq!(gateway.stats().await["hung"], 1);
}
