//! The providers' callbacks recorded against a real redis-server: delivery reports in any
//! order and any number of times, late failures that act (131049 re-queues, 131050 opts out),
//! replies and STOP, the opt-out and open-window checks at the claim, the unmatched list and
//! the nonces. The counters equal the message hashes after every step.

use std::time::Duration;

use chrono::Utc;
use redis::AsyncCommands;
use serde_json::{Value, json};
use wacast_shared::campaign::{Campaign, CampaignId, CampaignState, ProviderKind};
use wacast_shared::delivery::{
    Callback, DeliveryPolicy, DeliveryStatus, Inbound, MessageMatch, Recorded, StatusReport,
};
use wacast_shared::message::{Row, RowOverrides};
use wacast_shared::phone::PhoneNumber;
use wacast_shared::queue::{MessageStatus, NewMessage, Queue, Terminal};
use wacast_shared::testing::{self, TestRedis, counters_match_messages};

use crate::queue::fields;

/// The time now, in unix milliseconds. The test's Redis runs on this host, so its clock (which
/// the queue decides by) is this host's.
fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

const LEASE: Duration = Duration::from_secs(30);
const HOUR_MS: i64 = 3_600_000;
/// Our sender, as `testing::campaign` sets it.
const SENDER: &str = "4915112345678";

/// A seven campaign `id` sending now, with a ttl of `ttl_minutes`.
fn campaign(id: &str, ttl_minutes: u32) -> Campaign {
    Campaign {
        ttl_minutes,
        ..testing::campaign(
            id,
            json!({"type": "text", "text": "Hello {{name}}"}),
            &["name"],
            Utc::now(),
        )
    }
}

fn phone(n: u64) -> PhoneNumber {
    PhoneNumber::from_stored(&format!("49170{n:08}")).unwrap()
}

/// Creates `spec` with one row per number, due at `due_ms`, its ingest finished.
async fn enqueue(queue: &Queue, spec: &Campaign, numbers: &[u64], due_ms: i64) {
    queue.create_campaign(spec).await.unwrap();
    let rows: Vec<NewMessage> = numbers
        .iter()
        .enumerate()
        .map(|(i, n)| NewMessage {
            row: i as Row + 1,
            to: phone(*n),
            values: vec![format!("Name {n}")],
            overrides: RowOverrides::default(),
            due_ms,
        })
        .collect();
    queue.enqueue_chunk(&spec.id, &rows).await.unwrap();
    queue.finish_ingest(&spec.id, 0).await.unwrap();
}

/// Claims what is due at `at_ms` and records each as sent, provider id `{campaign}-{row}` at
/// 0.05 each, as the worker does. Returns the rows sent.
async fn send_due(queue: &Queue, at_ms: i64) -> Vec<(CampaignId, Row)> {
    let batch = queue.claim("w1", 100, LEASE, at_ms).await.unwrap();
    let mut sent = Vec::new();
    for claimed in batch.claimed {
        let lease = claimed.lease;
        queue.mark_sending(&lease, LEASE).await.unwrap();
        let (id, row) = (lease.reference().campaign.clone(), lease.reference().row);
        let outcome = Terminal::Sent {
            provider_id: format!("{id}-{row}"),
            price: Some(0.05),
        };
        queue.ack(&lease, &outcome).await.unwrap();
        sent.push((id, row));
    }
    sent
}

/// A seven status report about row `row` of `id`, by reference and provider id.
fn report(id: &CampaignId, row: Row, status: DeliveryStatus) -> StatusReport {
    StatusReport {
        provider: ProviderKind::Seven,
        message: MessageMatch {
            reference: Some((id.clone(), row)),
            provider_id: Some(format!("{id}-{row}")),
        },
        status,
        at: Utc::now(),
        error_code: None,
        error: None,
        price: None,
    }
}

fn failed(id: &CampaignId, row: Row, code: &str) -> StatusReport {
    StatusReport {
        error_code: Some(code.into()),
        error: Some(format!("WhatsApp says {code}")),
        ..report(id, row, DeliveryStatus::Failed)
    }
}

fn inbound(from: u64, text: &str) -> Inbound {
    Inbound {
        provider: ProviderKind::Seven,
        sender: SENDER.into(),
        from: phone(from).digits().to_string(),
        text: Some(text.into()),
        at: Utc::now(),
    }
}

async fn record(queue: &Queue, report: StatusReport) -> Recorded {
    let callback = Callback::Status(report);
    let policy = DeliveryPolicy::default();
    queue
        .record_callback(&callback, &policy)
        .await
        .unwrap()
        .recorded
}

async fn receive(queue: &Queue, inbound: Inbound) -> Recorded {
    let callback = Callback::Inbound(inbound);
    let policy = DeliveryPolicy::default();
    queue
        .record_callback(&callback, &policy)
        .await
        .unwrap()
        .recorded
}

/// A campaign counter, absent = 0.
async fn counter(queue: &Queue, id: &CampaignId, name: &str) -> f64 {
    let value: Option<String> = queue
        .connection()
        .hget(queue.keys().campaign(id), name)
        .await
        .unwrap();
    value.map_or(0.0, |v| v.parse().unwrap())
}

/// The funnel counters `delivered`, `read`, `delivery_failed`, `replied`, `opted_out`.
async fn funnel(queue: &Queue, id: &CampaignId) -> [u64; 5] {
    let mut out = [0; 5];
    for (i, name) in [
        "delivered",
        "read",
        "delivery_failed",
        "replied",
        "opted_out",
    ]
    .iter()
    .enumerate()
    {
        out[i] = counter(queue, id, name).await as u64;
    }
    out
}

async fn assert_consistent(queue: &Queue, id: &CampaignId) {
    if let Err(problems) = counters_match_messages(queue, id).await {
        panic!("{problems}");
    }
}

async fn unmatched(queue: &Queue) -> Vec<Value> {
    let list: Vec<String> = queue
        .connection()
        .lrange(queue.keys().hooks_unmatched(), 0, -1)
        .await
        .unwrap();
    list.iter()
        .map(|j| serde_json::from_str(j).unwrap())
        .collect()
}

async fn optout_source(queue: &Queue, number: &PhoneNumber) -> Value {
    let json: String = queue
        .connection()
        .hget(queue.keys().optout_source(), number.digits())
        .await
        .unwrap();
    serde_json::from_str(&json).unwrap()
}

#[tokio::test]
async fn reports_count_once_in_any_order_and_read_implies_delivered() {
    let queue = TestRedis::shared().await.queue().await;
    let spec = campaign("funnel", 2880);
    let id = spec.id.clone();
    enqueue(&queue, &spec, &[1, 2, 3], now_ms()).await;
    assert_eq!(send_due(&queue, now_ms()).await.len(), 3);

    // Row 1: delivered, twice.
    let delivered = report(&id, 1, DeliveryStatus::Delivered);
    assert_eq!(record(&queue, delivered.clone()).await, Recorded::Recorded);
    assert_eq!(record(&queue, delivered).await, Recorded::Duplicate);
    assert_eq!(funnel(&queue, &id).await, [1, 0, 0, 0, 0]);
    assert_consistent(&queue, &id).await;

    // Row 2: read first, then the late delivered, which is old news.
    let read = report(&id, 2, DeliveryStatus::Read);
    assert_eq!(record(&queue, read.clone()).await, Recorded::Recorded);
    assert_eq!(funnel(&queue, &id).await, [2, 1, 0, 0, 0]);
    let late = report(&id, 2, DeliveryStatus::Delivered);
    assert_eq!(record(&queue, late).await, Recorded::Duplicate);
    assert_eq!(record(&queue, read).await, Recorded::Duplicate);
    let two = fields(&queue, &id, 2).await;
    assert_eq!(two["delivery"], "read");
    assert!(two.contains_key("delivered_at") && two.contains_key("read_at"));
    assert_consistent(&queue, &id).await;

    // Row 3: delivered then read; a failure after that changes nothing.
    record(&queue, report(&id, 3, DeliveryStatus::Delivered)).await;
    assert_eq!(
        record(&queue, report(&id, 3, DeliveryStatus::Read)).await,
        Recorded::Recorded
    );
    assert_eq!(
        record(&queue, failed(&id, 3, "131026")).await,
        Recorded::Duplicate
    );
    assert_eq!(funnel(&queue, &id).await, [3, 2, 0, 0, 0]);
    assert_eq!(fields(&queue, &id, 3).await["status"], "sent");
    assert_consistent(&queue, &id).await;
}

#[tokio::test]
async fn a_late_failure_is_recorded_and_a_later_delivery_replaces_it() {
    let queue = TestRedis::shared().await.queue().await;
    let spec = campaign("late", 2880);
    let id = spec.id.clone();
    enqueue(&queue, &spec, &[1, 2], now_ms()).await;
    send_due(&queue, now_ms()).await;

    assert_eq!(
        record(&queue, failed(&id, 1, "131026")).await,
        Recorded::Recorded
    );
    assert_eq!(
        record(&queue, failed(&id, 1, "131026")).await,
        Recorded::Duplicate
    );
    let one = fields(&queue, &id, 1).await;
    assert_eq!(one["status"], "sent", "the provider did accept it");
    assert_eq!(one["delivery"], "failed");
    assert_eq!(one["delivery_error_code"], "131026");
    assert_eq!(one["delivery_error"], "WhatsApp says 131026");
    assert_eq!(funnel(&queue, &id).await, [0, 0, 1, 0, 0]);
    assert_consistent(&queue, &id).await;

    // A whole explanation is kept, up to 500 bytes.
    let long = StatusReport {
        error: Some("x".repeat(700)),
        ..failed(&id, 2, "130472")
    };
    record(&queue, long).await;
    assert_eq!(fields(&queue, &id, 2).await["delivery_error"].len(), 500);

    // The message arrived after all: delivered replaces the failure.
    assert_eq!(
        record(&queue, report(&id, 1, DeliveryStatus::Delivered)).await,
        Recorded::Recorded
    );
    let one = fields(&queue, &id, 1).await;
    assert_eq!(one["delivery"], "delivered");
    assert!(!one.contains_key("delivery_error_code"));
    assert_eq!(funnel(&queue, &id).await, [1, 0, 1, 0, 0]);
    assert_consistent(&queue, &id).await;
}

#[tokio::test]
async fn a_report_finds_its_message_by_provider_id_and_unmatched_ones_are_kept() {
    let queue = TestRedis::shared().await.queue().await;
    let spec = campaign("by-id", 2880);
    let id = spec.id.clone();
    enqueue(&queue, &spec, &[1], now_ms()).await;
    send_due(&queue, now_ms()).await;
    let indexed: String = queue
        .connection()
        .get(queue.keys().provider_id(ProviderKind::Seven, "by-id-1"))
        .await
        .unwrap();
    assert_eq!(indexed, "by-id:1");

    let by_id = StatusReport {
        message: MessageMatch {
            reference: None,
            provider_id: Some("by-id-1".into()),
        },
        ..report(&id, 1, DeliveryStatus::Delivered)
    };
    assert_eq!(record(&queue, by_id).await, Recorded::Recorded);
    assert_eq!(funnel(&queue, &id).await, [1, 0, 0, 0, 0]);

    // Another system's message, and a reference to a campaign that is gone.
    let stranger = StatusReport {
        message: MessageMatch {
            reference: None,
            provider_id: Some("elsewhere".into()),
        },
        ..report(&id, 1, DeliveryStatus::Read)
    };
    assert_eq!(record(&queue, stranger).await, Recorded::Unmatched);
    let gone = CampaignId::parse("purged").unwrap();
    assert_eq!(
        record(&queue, report(&gone, 4, DeliveryStatus::Delivered)).await,
        Recorded::Unmatched
    );
    let list = unmatched(&queue).await;
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["reference"], "purged.4", "newest first");
    assert_eq!(list[0]["kind"], "status");
    assert_eq!(list[0]["status"], "delivered");
    assert_eq!(list[1]["reference"], Value::Null);
    assert_eq!(list[1]["provider_id"], "elsewhere");
    assert_eq!(list[1]["provider"], "seven");
    assert_eq!(funnel(&queue, &id).await, [1, 0, 0, 0, 0]);
    assert_consistent(&queue, &id).await;
}

#[tokio::test]
async fn a_report_about_an_unknown_message_proves_it_was_sent() {
    let queue = TestRedis::shared().await.queue().await;
    let spec = campaign("unknown", 2880);
    let id = spec.id.clone();
    enqueue(&queue, &spec, &[1], now_ms()).await;
    let lease = queue
        .claim("w1", 10, LEASE, now_ms())
        .await
        .unwrap()
        .claimed
        .remove(0)
        .lease;
    queue.mark_sending(&lease, LEASE).await.unwrap();
    let outcome = Terminal::Unknown {
        reason: "read timeout".into(),
    };
    queue.ack(&lease, &outcome).await.unwrap();
    assert_consistent(&queue, &id).await;

    assert_eq!(
        record(&queue, report(&id, 1, DeliveryStatus::Delivered)).await,
        Recorded::Recorded
    );
    let one = fields(&queue, &id, 1).await;
    assert_eq!(one["status"], "sent");
    assert_eq!(one["delivery"], "delivered");
    assert!(!one.contains_key("error"));
    let record_ = queue.load_campaign(&id).await.unwrap();
    assert_eq!(record_.counters.of(MessageStatus::Unknown), 0);
    assert_eq!(record_.counters.of(MessageStatus::Sent), 1);
    let failed_rows: Vec<String> = queue
        .connection()
        .smembers(queue.keys().failed(&id))
        .await
        .unwrap();
    assert!(failed_rows.is_empty());
    assert_consistent(&queue, &id).await;
}

#[tokio::test]
async fn a_marketing_limit_requeues_the_row_while_its_ttl_allows() {
    let queue = TestRedis::shared().await.queue().await;
    // Two days of validity: a day's wait fits. One hour: it does not.
    let long = campaign("long", 2880);
    let short = campaign("short", 60);
    enqueue(&queue, &long, &[1, 2], now_ms()).await;
    enqueue(&queue, &short, &[3], now_ms()).await;
    send_due(&queue, now_ms()).await;
    assert_eq!(counter(&queue, &long.id, "cost").await, 0.1);

    // The final price of row 2 replaces the provisional one.
    let priced = StatusReport {
        price: Some(0.08),
        ..report(&long.id, 2, DeliveryStatus::Delivered)
    };
    record(&queue, priced).await;
    assert_eq!(fields(&queue, &long.id, 2).await["price"], "0.08");
    assert!((counter(&queue, &long.id, "cost").await - 0.13).abs() < 1e-9);

    let before = now_ms();
    assert_eq!(
        record(&queue, failed(&long.id, 1, "131049")).await,
        Recorded::Recorded
    );
    let one = fields(&queue, &long.id, 1).await;
    assert_eq!(one["status"], "queued");
    assert_eq!(one["deferred"], "1");
    assert!(!one.contains_key("delivery") && !one.contains_key("price"));
    let due: Option<f64> = queue
        .connection()
        .zscore(queue.keys().due(), "long:1")
        .await
        .unwrap();
    let due = due.expect("row 1 is due again") as i64;
    assert!(due >= before + 24 * HOUR_MS && due <= now_ms() + 24 * HOUR_MS);
    assert!((counter(&queue, &long.id, "cost").await - 0.08).abs() < 1e-9);
    assert_eq!(counter(&queue, &long.id, "deferred").await, 1.0);
    assert_eq!(funnel(&queue, &long.id).await, [1, 0, 0, 0, 0]);
    let record_ = queue.load_campaign(&long.id).await.unwrap();
    assert_eq!(record_.counters.of(MessageStatus::Queued), 1);
    assert_eq!(record_.counters.of(MessageStatus::Sent), 1);
    assert!(record_.finished_at.is_none(), "a row is queued again");
    assert_consistent(&queue, &long.id).await;

    // The old send's reports are old news now.
    assert_eq!(
        record(&queue, failed(&long.id, 1, "131049")).await,
        Recorded::Duplicate
    );
    // The resend a day later is a new message with its own reports.
    let resent = send_due(&queue, due).await;
    assert_eq!(resent, [(long.id.clone(), 1)]);
    assert!((counter(&queue, &long.id, "cost").await - 0.13).abs() < 1e-9);
    assert_eq!(
        record(&queue, report(&long.id, 1, DeliveryStatus::Delivered)).await,
        Recorded::Recorded
    );
    assert_eq!(funnel(&queue, &long.id).await, [2, 0, 0, 0, 0]);
    assert_consistent(&queue, &long.id).await;

    // Beyond the ttl the row stays failed.
    assert_eq!(
        record(&queue, failed(&short.id, 1, "131049")).await,
        Recorded::Recorded
    );
    let three = fields(&queue, &short.id, 1).await;
    assert_eq!(three["status"], "sent");
    assert_eq!(three["delivery"], "failed");
    assert_eq!(three["delivery_error_code"], "131049");
    assert_eq!(counter(&queue, &short.id, "deferred").await, 0.0);
    assert_eq!(funnel(&queue, &short.id).await, [0, 0, 1, 0, 0]);
    assert_consistent(&queue, &short.id).await;
}

#[tokio::test]
async fn stopped_marketing_and_a_stop_reply_opt_out_and_later_claims_cancel() {
    let queue = TestRedis::shared().await.queue().await;
    let first = campaign("first", 2880);
    let second = campaign("second", 2880);
    let now = now_ms();
    enqueue(&queue, &first, &[1, 2, 3], now).await;
    // The second campaign comes later, to the same numbers, enqueued before they opted out.
    enqueue(&queue, &second, &[1, 2, 3], now + HOUR_MS).await;
    send_due(&queue, now).await;

    // 131050 for number 1.
    assert_eq!(
        record(&queue, failed(&first.id, 1, "131050")).await,
        Recorded::Recorded
    );
    assert!(queue.is_opted_out(&phone(1)).await.unwrap());
    let source = optout_source(&queue, &phone(1)).await;
    assert_eq!(source["source"], "131050");
    assert_eq!(source["campaign"], "first");
    assert_eq!(source["row"], 1);
    assert!(
        fields(&queue, &first.id, 1)
            .await
            .contains_key("opted_out_at")
    );
    assert_eq!(funnel(&queue, &first.id).await, [0, 0, 1, 0, 1]);
    assert_consistent(&queue, &first.id).await;

    // A reply from number 2, then STOP: a reply once, an opt-out once.
    assert_eq!(
        receive(&queue, inbound(2, "Thanks!")).await,
        Recorded::Recorded
    );
    assert_eq!(funnel(&queue, &first.id).await, [0, 0, 1, 1, 1]);
    assert!(!queue.is_opted_out(&phone(2)).await.unwrap());
    assert_eq!(
        receive(&queue, inbound(2, " stop ")).await,
        Recorded::Recorded
    );
    assert_eq!(
        receive(&queue, inbound(2, "STOP")).await,
        Recorded::Duplicate
    );
    assert!(queue.is_opted_out(&phone(2)).await.unwrap());
    let source = optout_source(&queue, &phone(2)).await;
    assert_eq!(source["source"], "reply");
    assert_eq!(source["campaign"], "first");
    assert_eq!(source["row"], 2);
    let two = fields(&queue, &first.id, 2).await;
    assert!(two.contains_key("replied_at") && two.contains_key("opted_out_at"));
    assert_eq!(funnel(&queue, &first.id).await, [0, 0, 1, 1, 2]);
    assert_consistent(&queue, &first.id).await;

    // A STOP from a number we never wrote to: unmatched, and opted out all the same.
    assert_eq!(
        receive(&queue, inbound(9, "Abmelden")).await,
        Recorded::Unmatched
    );
    assert!(queue.is_opted_out(&phone(9)).await.unwrap());
    let source = optout_source(&queue, &phone(9)).await;
    assert_eq!(source["source"], "reply");
    assert!(source.get("campaign").is_none());
    let list = unmatched(&queue).await;
    assert_eq!(list[0]["kind"], "inbound");
    assert_eq!(list[0]["from"], phone(9).digits());

    // The second campaign: numbers 1 and 2 end cancelled (opted_out), 3 goes out.
    let sent = send_due(&queue, now + HOUR_MS).await;
    assert_eq!(sent, [(second.id.clone(), 3)]);
    for row in [1, 2] {
        let message = fields(&queue, &second.id, row).await;
        assert_eq!(message["status"], "cancelled", "row {row}");
        assert_eq!(message["error_code"], "opted_out", "row {row}");
    }
    let record_ = queue.load_campaign(&second.id).await.unwrap();
    assert_eq!(record_.counters.of(MessageStatus::Cancelled), 2);
    assert_eq!(record_.counters.of(MessageStatus::Sent), 1);
    assert!(record_.finished_at.is_some());
    assert_consistent(&queue, &second.id).await;
    assert_consistent(&queue, &first.id).await;
}

#[tokio::test]
async fn a_reply_counts_for_the_campaign_that_wrote_last_within_the_reply_window() {
    let queue = TestRedis::shared().await.queue().await;
    let older = campaign("older", 2880);
    let newer = campaign("newer", 2880);
    let now = now_ms();
    enqueue(&queue, &older, &[1], now).await;
    enqueue(&queue, &newer, &[1], now + HOUR_MS).await;
    send_due(&queue, now).await;
    send_due(&queue, now + HOUR_MS).await;

    assert_eq!(receive(&queue, inbound(1, "Hi")).await, Recorded::Recorded);
    assert_eq!(funnel(&queue, &newer.id).await, [0, 0, 0, 1, 0]);
    assert_eq!(funnel(&queue, &older.id).await, [0, 0, 0, 0, 0]);

    // With a reply window shorter than the time since the send, it is no reply.
    let strict = DeliveryPolicy {
        reply_window: Duration::ZERO,
        ..DeliveryPolicy::default()
    };
    tokio::time::sleep(Duration::from_millis(5)).await;
    let answer = queue
        .record_callback(&Callback::Inbound(inbound(1, "Hi")), &strict)
        .await
        .unwrap()
        .recorded;
    assert_eq!(answer, Recorded::Unmatched);
    assert_consistent(&queue, &newer.id).await;
    assert_consistent(&queue, &older.id).await;
}

#[tokio::test]
async fn only_open_window_fails_rows_without_a_window_and_sends_after_an_inbound() {
    let queue = TestRedis::shared().await.queue().await;
    let spec = Campaign {
        only_open_window: true,
        ..campaign("window", 2880)
    };
    let id = spec.id.clone();
    let now = now_ms();
    enqueue(&queue, &spec, &[1, 2], now).await;
    // Number 1 wrote to us; number 2 did not.
    assert_eq!(
        receive(&queue, inbound(1, "Hello")).await,
        Recorded::Unmatched
    );
    let window: bool = queue
        .connection()
        .exists(
            queue
                .keys()
                .window(ProviderKind::Seven, SENDER, phone(1).digits()),
        )
        .await
        .unwrap();
    assert!(window);

    let sent = send_due(&queue, now).await;
    assert_eq!(sent, [(id.clone(), 1)]);
    let two = fields(&queue, &id, 2).await;
    assert_eq!(two["status"], "failed");
    assert_eq!(two["error_code"], "no_window");
    let record_ = queue.load_campaign(&id).await.unwrap();
    assert_eq!(record_.counters.of(MessageStatus::Failed), 1);
    assert_consistent(&queue, &id).await;

    // A campaign without the option sends to both.
    let plain = campaign("plain", 2880);
    enqueue(&queue, &plain, &[1, 2], now).await;
    assert_eq!(send_due(&queue, now).await.len(), 2);
    assert_consistent(&queue, &plain.id).await;
}

#[tokio::test]
async fn a_nonce_is_taken_once() {
    let queue = TestRedis::shared().await.queue().await;
    let ttl = Duration::from_secs(600);
    assert!(queue.claim_nonce("seven", "abc123", ttl).await.unwrap());
    assert!(!queue.claim_nonce("seven", "abc123", ttl).await.unwrap());
    assert!(queue.claim_nonce("bird", "abc123", ttl).await.unwrap());
    let left: i64 = queue
        .connection()
        .ttl(queue.keys().hooks_nonce("seven", "abc123"))
        .await
        .unwrap();
    assert!(left > 590 && left <= 600, "{left}");
}

#[tokio::test]
async fn the_first_report_of_a_delivery_tells_how_long_it_took() {
    let queue = TestRedis::shared().await.queue().await;
    let spec = campaign("latency", 2880);
    let id = spec.id.clone();
    enqueue(&queue, &spec, &[1, 2], now_ms()).await;
    assert_eq!(send_due(&queue, now_ms()).await.len(), 2);
    let policy = DeliveryPolicy::default();
    let later = |mut report: StatusReport| {
        report.at = Utc::now() + chrono::Duration::seconds(90);
        Callback::Status(report)
    };

    // Row 1: delivered 90 s after its send; the duplicate tells nothing more.
    let delivered = later(report(&id, 1, DeliveryStatus::Delivered));
    let first = queue.record_callback(&delivered, &policy).await.unwrap();
    let after = first
        .delivered_after
        .expect("the first delivery has a latency");
    assert!((89..=91).contains(&after.as_secs()), "{after:?}");
    let again = queue.record_callback(&delivered, &policy).await.unwrap();
    assert_eq!(
        (again.recorded, again.delivered_after),
        (Recorded::Duplicate, None)
    );

    // Row 2: a read that comes first is the delivery's news too; the late delivered is not.
    let read = later(report(&id, 2, DeliveryStatus::Read));
    assert!(
        queue
            .record_callback(&read, &policy)
            .await
            .unwrap()
            .delivered_after
            .is_some()
    );
    let late = later(report(&id, 2, DeliveryStatus::Delivered));
    assert_eq!(
        queue
            .record_callback(&late, &policy)
            .await
            .unwrap()
            .delivered_after,
        None
    );
    assert_consistent(&queue, &id).await;
}

#[tokio::test]
async fn late_template_failures_in_a_row_pause_the_campaign_and_a_delivery_ends_the_streak() {
    let queue = TestRedis::shared().await.queue().await;
    let spec = campaign("late-template", 60);
    let now = Utc::now().timestamp_millis();
    enqueue(&queue, &spec, &[1, 2, 3, 4, 5, 6, 7, 8], now).await;
    // Seven sent; one still to send, so the campaign is running.
    let batch = queue.claim("w1", 7, LEASE, now).await.unwrap();
    for claimed in batch.claimed {
        let row = claimed.lease.reference().row;
        let outcome = Terminal::Sent {
            provider_id: format!("{}-{row}", spec.id),
            price: None,
        };
        queue.ack(&claimed.lease, &outcome).await.unwrap();
    }
    let state = |queue: &Queue| {
        let queue = queue.clone();
        let id = spec.id.clone();
        async move { queue.load_campaign(&id).await.unwrap() }
    };
    // Bird and seven report WhatsApp's code in a failed status callback.
    let template = |row: Row| StatusReport {
        error: Some("(#132015) template spring_sale is paused: its quality is low".into()),
        ..failed(&spec.id, row, "132015")
    };
    record(&queue, template(1)).await;
    record(&queue, template(2)).await;
    record(&queue, report(&spec.id, 3, DeliveryStatus::Delivered)).await;
    record(&queue, template(4)).await;
    record(&queue, template(5)).await;
    assert_eq!(state(&queue).await.state, CampaignState::Running);
    // A late failure of another kind belongs to its recipient: no streak.
    record(&queue, failed(&spec.id, 6, "131026")).await;
    record(&queue, template(7)).await;
    let record = state(&queue).await;
    assert_eq!(record.state, CampaignState::Paused);
    let why = record.pause_reason.unwrap();
    assert!(
        why.contains("3 sent messages in a row were reported failed with code 132015")
            && why.contains("template spring_sale is paused: its quality is low")
            && why.contains("fix or re-approve the template"),
        "{why}"
    );
    assert_consistent(&queue, &spec.id).await;
}
