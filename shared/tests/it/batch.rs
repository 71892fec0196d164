//! The batched lifecycle calls against a real redis-server: a batch does exactly what the same
//! single calls in the same order do, message by message, fences included.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use redis::AsyncCommands;
use serde_json::json;
use wacast_shared::campaign::{Campaign, CampaignId};
use wacast_shared::message::{Row, RowOverrides};
use wacast_shared::phone::PhoneNumber;
use wacast_shared::queue::mark_sync::MarkSync;
use wacast_shared::queue::{
    Lease, MAX_BATCH, MessageStatus, NewMessage, Queue, RetryEntry, RetryKind, SendPermit, Terminal,
};
use wacast_shared::streak::StreakRule;
use wacast_shared::testing::{self, TestRedis, counters_match_messages};

const LEASE: Duration = Duration::from_secs(30);
/// A fixed "now" for claims: 2030-01-01T00:00:00Z.
const T0: i64 = 1_893_456_000_000;

fn campaign() -> Campaign {
    testing::campaign(
        "batch",
        json!({"type": "template", "template": "order", "language": "de",
            "components": {"body": ["{{name}}"]}}),
        &["name"],
        Utc.timestamp_millis_opt(T0).unwrap(),
    )
}

/// A queue holding the campaign with `rows` messages due at T0, its ingest finished.
async fn setup(rows: Row) -> (Queue, CampaignId) {
    let queue = TestRedis::shared().await.queue().await;
    let spec = campaign();
    queue.create_campaign(&spec).await.unwrap();
    let messages: Vec<NewMessage> = (1..=rows)
        .map(|row| NewMessage {
            row,
            to: PhoneNumber::from_stored(&format!("49151{row:08}")).unwrap(),
            values: vec![format!("Name {row}")],
            overrides: RowOverrides::default(),
            due_ms: T0,
        })
        .collect();
    queue.enqueue_chunk(&spec.id, &messages).await.unwrap();
    queue.finish_ingest(&spec.id, 0).await.unwrap();
    (queue, spec.id)
}

/// A provider's explanation longer than a message hash keeps (its reasons table holds it).
const LONG_REASON: &str = "seven refused the request (code 400: invalid sender, recipient or parameters) (seven: (#132001) template order does not exist in language de)";

fn outcome(n: u8) -> Terminal {
    match n % 8 {
        5 => Terminal::Refused {
            code: "132001".into(),
            reason: LONG_REASON.into(),
            streak: StreakRule::for_code("132001", 20),
        },
        6 => Terminal::Refused {
            code: "400".into(),
            reason: format!("bad number {}", n % 2),
            streak: StreakRule {
                pause_after: 2,
                template: false,
            },
        },
        7 => Terminal::Failed {
            code: "400".into(),
            reason: format!("{LONG_REASON} {}", n % 3),
        },
        0 => Terminal::Sent {
            provider_id: format!("p{n}"),
            price: Some(0.07),
        },
        1 => Terminal::Failed {
            code: "400".into(),
            reason: "bad number".into(),
        },
        2 => Terminal::Expired,
        3 => Terminal::Unknown {
            reason: "read timeout".into(),
        },
        _ => Terminal::Cancelled,
    }
}

/// Everything the scripts write for the campaign, except the times they take from the clock
/// (`*_at` fields other than `next_attempt_at`, lease expiries, and entries set aside "now").
async fn snapshot(queue: &Queue, id: &CampaignId, rows: Row) -> BTreeMap<String, String> {
    let keys = queue.keys();
    let mut conn = queue.connection();
    let mut out = BTreeMap::new();
    let clock = |field: &str| field.ends_with("_at") && field != "next_attempt_at";
    let mut hashes = vec![("campaign".to_string(), keys.campaign(id))];
    hashes.extend((1..=rows).map(|row| (format!("msg {row}"), keys.message(id, row))));
    for (name, key) in hashes {
        let fields: HashMap<String, String> = conn.hgetall(key).await.unwrap();
        for (field, value) in fields.into_iter().filter(|(f, _)| !clock(f)) {
            // A batch adds its campaign's prices as one sum: the same cost, rounded
            // differently in a double's last digits.
            let value = match field.as_str() {
                "cost" => format!("{:.9}", value.parse::<f64>().unwrap()),
                _ => value,
            };
            out.insert(format!("{name} {field}"), value);
        }
    }
    out.insert("due".into(), scored(queue, keys.due()).await);
    out.insert("paused".into(), scored(queue, keys.paused(id)).await);
    // Lease expiries come from the clock, and so does their order: compare the members.
    let mut leases: Vec<String> = conn.zrange(keys.leases(), 0, -1).await.unwrap();
    leases.sort();
    out.insert("leases".into(), format!("{leases:?}"));
    let reasons: BTreeMap<String, String> = conn.hgetall(keys.reasons(id)).await.unwrap();
    out.insert("reasons".into(), format!("{reasons:?}"));
    let mut failed: Vec<String> = conn.smembers(keys.failed(id)).await.unwrap();
    failed.sort();
    out.insert("failed".into(), format!("{failed:?}"));
    // The delivery indexes a message recorded `sent` gets (their ttl aside).
    for index in ["pid", "last"] {
        let names: Vec<String> = conn
            .keys(format!("{}:{index}:*", keys.prefix()))
            .await
            .unwrap();
        for name in names {
            let value: String = conn.get(&name).await.unwrap();
            // Each queue has a prefix of its own: compare the rest of the name.
            out.insert(name[keys.prefix().len()..].to_string(), value);
        }
    }
    out
}

/// A sorted set's entries and scores, sorted by entry. Marking a message of a paused campaign
/// sets it aside due "now" by the clock (and resume brings it back with that score); every
/// other score here derives from T0, which is later than any clock reading of these tests.
async fn scored(queue: &Queue, key: String) -> String {
    let entries: Vec<(String, i64)> = queue
        .connection()
        .zrange_withscores(key, 0, -1)
        .await
        .unwrap();
    let mut entries: Vec<(String, String)> = entries
        .into_iter()
        .map(|(entry, score)| {
            let score = if score < T0 {
                "now".to_string()
            } else {
                score.to_string()
            };
            (entry, score)
        })
        .collect();
    entries.sort();
    format!("{entries:?}")
}

#[tokio::test]
async fn each_message_of_a_batch_is_fenced_on_its_own() {
    let (queue, id) = setup(3).await;
    let claimed = queue.claim("w1", 3, LEASE, T0).await.unwrap().claimed;
    let leases: Vec<&Lease> = claimed.iter().map(|c| &c.lease).collect();
    // Row 2's lease is reaped and the row claimed again: its old lease must not send.
    queue.reap_ahead(2 * LEASE, 10).await.unwrap();
    let again = queue
        .claim("w2", 3, LEASE, T0 + 60_000)
        .await
        .unwrap()
        .claimed;
    assert_eq!(again.len(), 3);
    let current: Vec<&Lease> = vec![&again[0].lease, leases[1], &again[2].lease];
    let permits = queue.mark_sending_many(&current, LEASE).await.unwrap();
    assert_eq!(
        permits,
        [SendPermit::Send, SendPermit::LeaseLost, SendPermit::Send]
    );
    let sent = outcome(0);
    let recorded = queue
        .ack_many(&[
            (&again[0].lease, &sent),
            (leases[1], &sent),
            (&again[2].lease, &sent),
        ])
        .await
        .unwrap();
    assert_eq!(
        recorded,
        [Some(MessageStatus::Sent), None, Some(MessageStatus::Sent)]
    );
    let record = queue.load_campaign(&id).await.unwrap();
    assert_eq!(record.counters.of(MessageStatus::Sent), 2);
    assert_eq!(record.counters.of(MessageStatus::Claimed), 1);
    counters_match_messages(&queue, &id).await.unwrap();
}

#[tokio::test]
async fn batches_larger_than_one_call_send_and_record_every_message() {
    let rows = (MAX_BATCH * 2 + 17) as Row;
    let (queue, id) = setup(rows).await;
    let mut claimed = Vec::new();
    while claimed.len() < rows as usize {
        claimed.extend(queue.claim("w1", 100, LEASE, T0).await.unwrap().claimed);
    }
    let leases: Vec<&Lease> = claimed.iter().map(|c| &c.lease).collect();
    let permits = queue.mark_sending_many(&leases, LEASE).await.unwrap();
    assert!(permits.iter().all(|p| *p == SendPermit::Send));
    let (sent, transient) = (outcome(0), RetryKind::AfterAttempt);
    let (acked, retried) = leases.split_at(leases.len() - 5);
    let acks: Vec<(&Lease, &Terminal)> = acked.iter().map(|lease| (*lease, &sent)).collect();
    let recorded = queue.ack_many(&acks).await.unwrap();
    assert_eq!(recorded.len(), acked.len());
    assert!(recorded.iter().all(|s| *s == Some(MessageStatus::Sent)));
    let retries: Vec<RetryEntry> = retried
        .iter()
        .map(|lease| RetryEntry {
            lease,
            due_ms: T0 + 1000,
            reason: "503",
            kind: transient,
        })
        .collect();
    let requeued = queue.retry_many(&retries).await.unwrap();
    assert_eq!(requeued, vec![Some(MessageStatus::Queued); 5]);
    let record = queue.load_campaign(&id).await.unwrap();
    assert_eq!(record.counters.of(MessageStatus::Sent), rows - 5);
    assert_eq!(record.counters.of(MessageStatus::Queued), 5);
    assert_eq!(record.counters.retries, 5);
    counters_match_messages(&queue, &id).await.unwrap();
}

#[derive(Debug, Clone)]
enum Op {
    Claim { worker: u8, n: usize },
    Mark(Vec<usize>),
    Ack(Vec<(usize, u8)>),
    Retry(Vec<(usize, i64, bool)>),
    Reap,
    Pause,
    Resume,
    Cancel,
}

fn op() -> impl Strategy<Value = Op> {
    let lease = || any::<usize>();
    prop_oneof![
        3 => (0u8..2, 1usize..5).prop_map(|(worker, n)| Op::Claim { worker, n }),
        4 => proptest::collection::vec(lease(), 1..6).prop_map(Op::Mark),
        4 => proptest::collection::vec((lease(), any::<u8>()), 1..6).prop_map(Op::Ack),
        2 => proptest::collection::vec((lease(), 0i64..5000, any::<bool>()), 1..6)
            .prop_map(Op::Retry),
        1 => Just(Op::Reap),
        1 => Just(Op::Pause),
        1 => Just(Op::Resume),
        1 => Just(Op::Cancel),
    ]
}

const ROWS: Row = 8;

/// Runs `ops` on two queues with the same campaign: on `single` one call per message, on
/// `batched` one batch call per op. Answers and everything stored (counters included) must
/// agree after every op; the queue's own property test checks the invariants of the calls.
async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let (single, id) = setup(ROWS).await;
    let (batched, _) = setup(ROWS).await;
    // One time for both queues and every call: what the calls set aside at "now" (a message
    // marked while its campaign is paused) then keeps the same order on both.
    let now = single.now_ms();
    single.clock().stop_at(now);
    batched.clock().stop_at(now);
    let mut leases: Vec<Lease> = Vec::new();
    let pick = |leases: &[Lease], i: usize| leases[i % leases.len()].clone();
    for op in ops {
        match op.clone() {
            Op::Claim { worker, n } => {
                let worker = format!("w{worker}");
                let a = single.claim(&worker, n, LEASE, T0).await.unwrap().claimed;
                let b = batched.claim(&worker, n, LEASE, T0).await.unwrap().claimed;
                let a: Vec<Lease> = a.into_iter().map(|c| c.lease).collect();
                let b: Vec<Lease> = b.into_iter().map(|c| c.lease).collect();
                prop_assert_eq!(&a, &b);
                leases.extend(a);
            }
            Op::Mark(picks) if !leases.is_empty() => {
                let chosen: Vec<Lease> = picks.iter().map(|i| pick(&leases, *i)).collect();
                let mut one_by_one = Vec::new();
                for lease in &chosen {
                    one_by_one.push(single.mark_sending(lease, LEASE).await.unwrap());
                }
                let refs: Vec<&Lease> = chosen.iter().collect();
                let at_once = batched.mark_sending_many(&refs, LEASE).await.unwrap();
                prop_assert_eq!(one_by_one, at_once);
            }
            Op::Ack(picks) if !leases.is_empty() => {
                let chosen: Vec<(Lease, Terminal)> = picks
                    .iter()
                    .map(|(i, n)| (pick(&leases, *i), outcome(*n)))
                    .collect();
                let mut one_by_one = Vec::new();
                for (lease, outcome) in &chosen {
                    one_by_one.push(single.ack(lease, outcome).await.unwrap());
                }
                let refs: Vec<(&Lease, &Terminal)> = chosen.iter().map(|(l, o)| (l, o)).collect();
                let at_once = batched.ack_many(&refs).await.unwrap();
                prop_assert_eq!(one_by_one, at_once);
            }
            Op::Retry(picks) if !leases.is_empty() => {
                let chosen: Vec<(Lease, i64, RetryKind)> = picks
                    .iter()
                    .map(|(i, delay, attempted)| {
                        let kind = if *attempted {
                            RetryKind::AfterAttempt
                        } else {
                            RetryKind::Deferred
                        };
                        (pick(&leases, *i), T0 + delay, kind)
                    })
                    .collect();
                // Some reasons are longer than a message hash keeps.
                let reason = |due: i64| if due % 2 == 0 { "503" } else { LONG_REASON };
                let mut one_by_one = Vec::new();
                for (lease, due, kind) in &chosen {
                    one_by_one.push(
                        single
                            .retry(lease, *due, reason(*due), *kind)
                            .await
                            .unwrap(),
                    );
                }
                let entries: Vec<RetryEntry> = chosen
                    .iter()
                    .map(|(lease, due_ms, kind)| RetryEntry {
                        lease,
                        due_ms: *due_ms,
                        reason: reason(*due_ms),
                        kind: *kind,
                    })
                    .collect();
                let at_once = batched.retry_many(&entries).await.unwrap();
                prop_assert_eq!(one_by_one, at_once);
            }
            Op::Mark(_) | Op::Ack(_) | Op::Retry(_) => {}
            Op::Reap => {
                // Far past every lease, so that both queues reap the same ones.
                let later = Duration::from_secs(86_400);
                let a = single.reap_ahead(later, 100).await.unwrap();
                let b = batched.reap_ahead(later, 100).await.unwrap();
                prop_assert_eq!(a, b);
            }
            Op::Pause => {
                let a = single.pause(&id, None).await.map_err(|e| e.to_string());
                let b = batched.pause(&id, None).await.map_err(|e| e.to_string());
                prop_assert_eq!(a.is_ok(), b.is_ok());
            }
            Op::Resume => {
                let a = single.resume(&id).await.map_err(|e| e.to_string());
                let b = batched.resume(&id).await.map_err(|e| e.to_string());
                prop_assert_eq!(a.is_ok(), b.is_ok());
            }
            Op::Cancel => {
                let a = single.cancel(&id).await.map_err(|e| e.to_string());
                let b = batched.cancel(&id).await.map_err(|e| e.to_string());
                prop_assert_eq!(a.is_ok(), b.is_ok());
            }
        }
        prop_assert_eq!(
            snapshot(&single, &id, ROWS).await,
            snapshot(&batched, &id, ROWS).await,
            "after {:?}",
            op
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn a_batch_does_what_the_same_calls_one_by_one_do(ops in proptest::collection::vec(op(), 1..30)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run(ops))?;
    }
}

/// The campaign of [`setup`] on `queue`.
async fn setup_on(queue: &Queue, rows: Row) -> CampaignId {
    let spec = campaign();
    queue.create_campaign(&spec).await.unwrap();
    let messages: Vec<NewMessage> = (1..=rows)
        .map(|row| NewMessage {
            row,
            to: PhoneNumber::from_stored(&format!("49151{row:08}")).unwrap(),
            values: vec![format!("Name {row}")],
            overrides: RowOverrides::default(),
            due_ms: T0,
        })
        .collect();
    queue.enqueue_chunk(&spec.id, &messages).await.unwrap();
    queue.finish_ingest(&spec.id, 0).await.unwrap();
    spec.id
}

/// `--replicas 1`: a mark no replica acknowledged could be lost in a failover, so its message
/// is not sent but goes back to the queue unsent; with a replica, the same marks send (after
/// Redis forgot the scripts, too).
#[tokio::test]
async fn marks_no_replica_acknowledged_send_nothing() {
    let sync = MarkSync {
        wait_aof: false,
        replicas: 1,
        // Long enough for a replica's acknowledgement on a loaded test machine.
        timeout: Duration::from_secs(1),
    };
    let server = TestRedis::dedicated().await;
    let queue = server.test_redis().queue().await;
    let id = setup_on(&queue, 2).await;
    let waiting = queue.clone().with_mark_sync(sync).await.unwrap();
    let claimed = waiting.claim("w1", 2, LEASE, T0).await.unwrap().claimed;
    let leases: Vec<&Lease> = claimed.iter().map(|c| &c.lease).collect();
    let permits = waiting.mark_sending_many(&leases, LEASE).await.unwrap();
    assert_eq!(permits, [SendPermit::LeaseLost, SendPermit::LeaseLost]);
    let counters = queue.load_campaign(&id).await.unwrap().counters;
    assert_eq!((counters.queued, counters.sending), (2, 0), "{counters:?}");
    assert_eq!(counters.retries, 0, "no attempt counted: {counters:?}");
    if let Err(problems) = counters_match_messages(&queue, &id).await {
        panic!("{problems}");
    }

    let _replica = server.replica().await;
    // And after a Redis that forgot its scripts (a restart), the round loads it and goes again.
    let mut raw = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut raw)
        .await
        .unwrap();
    let claimed = waiting
        .claim("w1", 2, LEASE, T0 + 60_000)
        .await
        .unwrap()
        .claimed;
    assert_eq!(claimed.len(), 2);
    let leases: Vec<&Lease> = claimed.iter().map(|c| &c.lease).collect();
    let permits = waiting.mark_sending_many(&leases, LEASE).await.unwrap();
    assert_eq!(permits, [SendPermit::Send, SendPermit::Send]);
}
