//! Deleting scheduled messages, and what `/stats` and `/messages` count.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::mock_gateway::{
    KEY, SENDER, align_to_second, order_confirmation, start, template, unix_now,
};

#[tokio::test]
async fn delete_removes_scheduled_messages_and_refuses_sent_ones() {
    let gateway = start(&[]);
    let scheduled = |delay: Value| {
        let mut body = template("hello_world");
        body["delay"] = delay;
        body
    };
    let id_of = |message: &Value| message["id"].as_str().expect("id").to_owned();
    let not_found = json!({"code": 404, "message": "Page not found", "errors": []});
    let already_sent = json!({
        "error_code": 400,
        "error_message": "Message already sent. WhatsApp does not support message revocation.",
    });

    let later = id_of(
        &gateway
            .accepted(&scheduled(json!((unix_now() + 3600).to_string())))
            .await,
    );
    let in_a_year = id_of(
        &gateway
            .accepted(&scheduled(json!("2099-01-01 08:00:00")))
            .await,
    );
    let soon = id_of(
        &gateway
            .accepted(&scheduled(json!((unix_now() + 2).to_string())))
            .await,
    );
    let now = id_of(&gateway.accepted(&template("hello_world")).await);
    let past = id_of(
        &gateway
            .accepted(&scheduled(json!("2020-01-01 08:00:00")))
            .await,
    );

    assert_eq!(
        gateway.delete(&later, KEY).await,
        (StatusCode::OK, json!({"success": true}))
    );
    assert_eq!(
        gateway.delete(&later, KEY).await,
        (StatusCode::NOT_FOUND, not_found.clone())
    );
    assert_eq!(
        gateway.delete(&in_a_year, KEY).await,
        (StatusCode::OK, json!({"success": true}))
    );
    assert_eq!(
        gateway.delete(&now, KEY).await,
        (StatusCode::OK, already_sent.clone())
    );
    assert_eq!(
        gateway.delete(&past, KEY).await,
        (StatusCode::OK, already_sent.clone())
    );
    assert_eq!(
        gateway.delete("999", KEY).await,
        (StatusCode::NOT_FOUND, not_found.clone())
    );
    assert_eq!(
        gateway.delete("100000999", KEY).await,
        (StatusCode::NOT_FOUND, not_found.clone())
    );
    assert_eq!(
        gateway.delete("abc", KEY).await,
        (StatusCode::NOT_FOUND, not_found)
    );

    let listed = gateway.get("/messages").await;
    let statuses: Vec<&str> = listed["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|message| message["status"].as_str().expect("status"))
        .collect();
    assert_eq!(
        statuses,
        ["deleted", "deleted", "scheduled", "sent", "sent"]
    );

    // Once its send time has passed, a scheduled message counts as sent.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    assert_eq!(
        gateway.delete(&soon, KEY).await,
        (StatusCode::OK, already_sent)
    );

    let stats = gateway.stats().await;
    assert_eq!(stats["scheduled"], 3);
    assert_eq!(
        stats["deletes"],
        json!({"deleted": 2, "already_sent": 3, "not_found": 4})
    );
}

#[tokio::test]
async fn stats_count_duplicates_and_the_densest_second_per_sender() {
    let gateway = start(&[]);
    let with_id = |mut body: Value, to: &str, foreign_id: &str| {
        body["to"] = json!(to);
        body["foreign_id"] = json!(foreign_id);
        body
    };
    align_to_second().await;
    for body in [
        with_id(template("hello_world"), "4917600000001", "f1"),
        // The same message again: a duplicate foreign_id and a duplicate content.
        with_id(template("hello_world"), "4917600000001", "f1"),
        with_id(template("hello_world"), "4917600000002", "f2"),
        // Same template, other parameters: no duplicate content.
        with_id(order_confirmation("Max", "ORD-1"), "4917600000003", "f3"),
        with_id(order_confirmation("Max", "ORD-2"), "4917600000003", "f4"),
    ] {
        gateway.accepted(&body).await;
    }
    let stats = gateway.stats().await;
    assert_eq!(stats["accepted"], 5);
    assert_eq!(
        stats["duplicates"],
        json!({"foreign_ids": 1, "recipient_content": 1})
    );
    assert_eq!(
        stats["recipients"],
        json!({"4917600000001": 2, "4917600000002": 1, "4917600000003": 2})
    );
    assert_eq!(
        stats["foreign_ids"],
        json!({"f1": 2, "f2": 1, "f3": 1, "f4": 1})
    );
    let sender = &stats["senders"][SENDER];
    assert_eq!(sender["accepted"], 5);
    assert_eq!(sender["max_per_second_sliding"], 5);
    let bucket = sender["max_per_second_bucket"].as_u64().expect("count");
    assert!((3..=5).contains(&bucket), "bucket {bucket}");
    let per_second_total: u64 = sender["per_second"]
        .as_array()
        .expect("per_second")
        .iter()
        .map(|entry| entry[1].as_u64().expect("count"))
        .sum();
    assert_eq!(per_second_total, 5);
    assert_eq!(stats["max_per_second"]["sliding"], 5);
    assert!(stats["first_accept_at_ms"].as_i64() <= stats["last_accept_at_ms"].as_i64());

    let listed = gateway.get("/messages?foreign_id=f1").await;
    let listed = listed["messages"].as_array().expect("messages");
    assert_eq!(listed.len(), 2);
    assert_eq!(
        listed[0]["request"],
        with_id(template("hello_world"), "4917600000001", "f1")
    );

    let summary = gateway.get("/stats?summary=true").await;
    assert!(summary.get("recipients").is_none());
    assert_eq!(summary["accepted"], 5);

    gateway.post_raw("/stats/reset", None, &json!({})).await;
    let stats = gateway.stats().await;
    assert_eq!(stats["accepted"], 0);
    assert_eq!(stats["recipients"], json!({}));
    assert_eq!(stats["senders"], json!({}));
    // Ids keep counting after a reset, so none is ever handed out twice.
    let message = gateway.accepted(&template("hello_world")).await;
    assert_eq!(message["id"], "100000006");
}
